#!/bin/sh
# bench_lease.sh [PEERS [BENCH_LEASE-OPTIONS...]]: the leasing benchmark, in one run.
# Starts PEERS (default 16) real osmosed on loopback (own state dirs and keys,
# one shared trust file, the echo and matrix plugins trusted, Avahi off,
# joined through peer 1), then runs on that one mesh:
#   bench/bench_lease    (a) raw CURVE baseline, (b) null-task round trip,
#                        (c) pipelined null tasks, (d) lease acquisition;
#                        peer 1 is the client's daemon
#   bench/bench_matmul.sh  (e) matrix product on 1, 2, 4 leases (MATMUL=0 skips)
# and stops every daemon. About a minute and a half on 2 cores.
# Run from a build tree (after make):
#     sh ../bench/bench_lease.sh
#     sh ../bench/bench_lease.sh 16 --rounds 5 --count 50000
# Programs default to the build tree's; override with OSMOSED, OSMOSE,
# OSMOSE_WORKER, BENCH_LEASE, OSMOSE_MATMUL. Daemon logs are printed if the
# benchmark fails.
top_srcdir=${top_srcdir:-$(dirname "$0")/..}
: "${OSMOSED:=src/osmosed}" "${OSMOSE:=src/osmose}" "${OSMOSE_WORKER:=$PWD/src/osmose-worker}"
: "${BENCH_LEASE:=bench/bench_lease}" "${PLUGINS:=plugins/.libs}"
export OSMOSED OSMOSE OSMOSE_WORKER
for program in "$OSMOSED" "$OSMOSE" "$OSMOSE_WORKER" "$BENCH_LEASE"; do
    [ -x "$program" ] || { echo "bench_lease.sh: no $program (run from a build tree, after make)" >&2; exit 2; }
done
for plugin in echo matrix; do
    [ -f "$PLUGINS/$plugin.so" ] || { echo "bench_lease.sh: no $PLUGINS/$plugin.so" >&2; exit 2; }
done
. "$top_srcdir/tests/lib/mesh.sh"
n=${1:-16}
[ $# -gt 0 ] && shift

# Plugins: a copy of the two the benchmark runs, trusted by every peer
mkdir "$MESH_DIR/plugins"
cp "$PLUGINS/echo.so" "$PLUGINS/matrix.so" "$MESH_DIR/plugins/"
mesh_init "$n" || { echo "bench_lease.sh: cannot initialise $n peers" >&2; exit 1; }
for plugin in echo matrix; do
    "$OSMOSE" plugin hash "$MESH_DIR/plugins/$plugin.so" | cut -d' ' -f1 | sed "s/\$/ $plugin/"
done > "$MESH_DIR/plugins.trust"
for i in $(seq 1 "$n"); do cp "$MESH_DIR/plugins.trust" "$MESH_DIR/peer$i/state/plugins.trust"; done
# Each peer lends one CPU and runs one worker, so that W leases are W
# workers on W peers: a provider runs a lease's tasks on all its workers,
# which would hide the scaling of (e). (Each daemon's work endpoint takes a
# free port on its mesh/bind host.) BENCH_DAEMON_ARGS: more osmosed options
# for every peer, e.g. "-s log/fsync=never"
MESH_EXTRA="-s exec/plugin_dir=$MESH_DIR/plugins -s resources/cpus=1 -s exec/workers=1"
MESH_EXTRA="$MESH_EXTRA ${BENCH_DAEMON_ARGS:-}"

mesh_start 1 -s node/location=hq/f1/r1
mesh_wait_for 5 mesh_osmose 1 status || { cat "$MESH_DIR/peer1/log"; exit 1; }
for i in $(seq 2 "$n"); do
    mesh_start "$i" -s node/location="hq/f$((i % 4))/r$i" -s mesh/seeds="$(mesh_seed 1)"
done
for i in $(seq 1 "$n"); do
    echo "$(mesh_api "$i") $(mesh_id "$i") $(cat "$MESH_DIR/peer$i/pid")"
done > "$MESH_DIR/peers"

show_logs () {
    for i in $(seq 1 "$n"); do echo "--- peer$i"; tail -20 "$MESH_DIR/peer$i/log"; done >&2
}
if [ "${BENCH_LEASE_MATMUL_ONLY:-0}" = 0 ]; then
    "$BENCH_LEASE" --peers "$MESH_DIR/peers" "$@" || { rc=$?; show_logs; exit $rc; }
fi
if [ "${MATMUL:-1}" != 0 ]; then
    BENCH_MATMUL_PEERS="$MESH_DIR/peers" sh "$top_srcdir/bench/bench_matmul.sh" \
        || { rc=$?; show_logs; exit $rc; }
fi
# A clean stop (the EXIT trap would kill -9): TERM to all, then wait
for i in $(seq 1 "$n"); do kill -TERM "$(cat "$MESH_DIR/peer$i/pid")" 2>/dev/null; done
for i in $(seq 1 "$n"); do wait "$(cat "$MESH_DIR/peer$i/pid")" 2>/dev/null; done
