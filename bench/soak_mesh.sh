#!/bin/sh
# soak_mesh.sh [PEERS] [SECONDS]: false positives of the failure detector
# with the CPU loaded. Starts PEERS (default 32) real osmosed on loopback,
# joined through one seed, waits until all see all, then keeps both cores
# busy with two spinning processes for SECONDS (default 300) while nobody
# dies. Counts, from the peers' logs, how often a live peer was suspected
# and how often one was declared dead (a false positive: the target is
# none), and checks that all still see all at the end.
# Run from a build tree, on purpose (it takes the machine for SECONDS):
#     TMPDIR=/dev/shm sh ../bench/soak_mesh.sh 32 300
# Loopback only; the spinners are bounded by SECONDS (timeout), and every
# daemon is stopped at exit.
top_srcdir=${top_srcdir:-$(dirname "$0")/..}
: "${OSMOSED:=src/osmosed}" "${OSMOSE:=src/osmose}"
export OSMOSED OSMOSE
. "$top_srcdir/tests/lib/mesh.sh"
n=${1:-32}
soak_secs=${2:-300}
command -v timeout >/dev/null || { echo "soak_mesh.sh: needs timeout(1)" >&2; exit 2; }
mesh_init "$n" || exit 1
mesh_start 1
mesh_wait_for 5 mesh_osmose 1 status || exit 1
for i in $(seq 2 "$n"); do mesh_start "$i" -s node/location="hq/f$((i % 4))/r$i" -s mesh/seeds="$(mesh_seed 1)"; done
alive () { mesh_osmose "$1" -j status 2>/dev/null | sed -n 's/.*"alive": *\([0-9]*\).*/\1/p' | head -n 1; }
all_see_all () {
    for i in $(seq 1 "$n"); do [ "$(alive "$i")" = "$n" ] || return 1; done
}
mesh_wait_for 60 all_see_all || { echo "soak_mesh.sh: the mesh did not form" >&2; exit 1; }
echo "soak: $n peers see each other; loading both cores for $soak_secs s"
# What the logs said before the load, so only the soak counts
for i in $(seq 1 "$n"); do wc -l < "$MESH_DIR/peer$i/log" > "$MESH_DIR/peer$i/mark"; done
timeout "$soak_secs" sh -c 'while :; do :; done' &
spin1=$!
timeout "$soak_secs" sh -c 'while :; do :; done' &
spin2=$!
start=$(date +%s)
load_max=0
while kill -0 "$spin1" 2>/dev/null; do
    sleep 10
    load=$(cut -d' ' -f1 /proc/loadavg)
    load_max=$(echo "$load $load_max" | awk '{print ($1 > $2)? $1: $2}')
done
wait "$spin1" "$spin2" 2>/dev/null
suspected=0; dead=0
for i in $(seq 1 "$n"); do
    from=$(( $(cat "$MESH_DIR/peer$i/mark") + 1 ))
    s=$(tail -n +"$from" "$MESH_DIR/peer$i/log" | grep -c -- '-> suspect')
    d=$(tail -n +"$from" "$MESH_DIR/peer$i/log" | grep -c -- '-> dead')
    suspected=$((suspected + s)); dead=$((dead + d))
done
ok=yes
all_see_all || ok=no
echo "soak: $(( $(date +%s) - start )) s with both cores loaded (1-minute load up to $load_max)"
echo "soak: live peers suspected $suspected times, declared dead $dead times (false positives; target 0)"
echo "soak: all $n still see all at the end: $ok"
[ "$dead" -eq 0 ] && [ "$ok" = yes ]
