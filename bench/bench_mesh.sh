#!/bin/sh
# bench_mesh.sh [PEERS] [ENTRIES]: start PEERS (default 32) real osmosed on
# loopback, joined through one seed, and run bench/bench_mesh on them.
# Usage from a build tree: top_srcdir=SRC OSMOSED=src/osmosed OSMOSE=src/osmose \
#     sh SRC/bench/bench_mesh.sh 32
# The peers' state lies under $TMPDIR (default /tmp). All peers share that
# one file system here, unlike devices in a building: on an ext4 /tmp that
# the test suite churns, creating the 31 replicas of a join burst costs
# each peer seconds of inode searching, so TMPDIR=/dev/shm measures the
# mesh rather than this machine's disk (the closing notes give both).
top_srcdir=${top_srcdir:-$(dirname "$0")/..}
: "${OSMOSED:=src/osmosed}" "${OSMOSE:=src/osmose}"
export OSMOSED OSMOSE
bench=${BENCH_MESH:-bench/bench_mesh}
. "$top_srcdir/tests/lib/mesh.sh"
n=${1:-32}
mesh_init "$n"
# API endpoint, id, pid, state directory and key (the replica directory
# of a peer's feed on the others is named by its key). All but the pids
# are written before the peers start: written after, their command
# substitutions took 0.4 s (seconds on a busy machine) of the CPU the
# peers join on, and the bench's first look at the mesh came that late
for i in $(seq 1 "$n"); do
    echo "$(mesh_api "$i") $(mesh_id "$i")" >&3
    echo "$MESH_DIR/peer$i/state $(sed -n 2p "$MESH_DIR/peer$i/state/node.pub")" >&4
done 3> "$MESH_DIR/names" 4> "$MESH_DIR/places"
mesh_start 1
pids=$!
mesh_wait_for 5 mesh_osmose 1 status || exit 1
for i in $(seq 2 "$n"); do
    mesh_start "$i" -s node/location="hq/f$((i % 4))/r$i" -s mesh/seeds="$(mesh_seed 1)"
    pids="$pids $!"
done
last=$(date +%s.%N)
printf '%s\n' $pids | paste -d ' ' "$MESH_DIR/names" - "$MESH_DIR/places" > "$MESH_DIR/peers"
#   The libraries' memory floor, measured beside the idle peers
floor=${BENCH_RSS_FLOOR:-$(dirname "$bench")/bench_rss_floor}
if [ -x "$floor" ]; then
    "$floor" 120 & BENCH_FLOOR_PID=$!
    export BENCH_FLOOR_PID
fi
"$bench" "$MESH_DIR/peers" "$last" "${2:-100}"
rc=$?
[ -n "${BENCH_FLOOR_PID:-}" ] && kill "$BENCH_FLOOR_PID" 2>/dev/null
exit $rc
