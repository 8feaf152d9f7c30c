#!/bin/sh
# Every peer's signed log reaches every peer: events posted on each of five
# real osmosed processes spread until all hold the same five feeds (same
# size and root); a peer killed with -9 misses events, and after restarting
# with its state it catches up and the feeds converge again.
. "$top_srcdir/tests/lib/mesh.sh"
command -v jq >/dev/null || { echo "jq not installed"; exit 77; }
set -u
n=5

feeds_of () { mesh_osmose "$1" --json feeds | jq -S -c 'map({id, size, root}) | sort_by(.id)'; }
converged () {
    first=$(feeds_of "$1") || return 1
    [ "$(echo "$first" | jq length)" = "$n" ] || return 1
    shift
    for i in "$@"; do
        [ "$(feeds_of "$i")" = "$first" ] || return 1
    done
}

mesh_init $n
mesh_start 1
mesh_wait_for 5 mesh_osmose 1 status || exit 1
for i in $(seq 2 $n); do mesh_start "$i" -s mesh/seeds="$(mesh_seed 1)"; done
for i in $(seq 1 $n); do
    mesh_wait_for 5 mesh_osmose "$i" status || { echo "peer $i did not start"; exit 1; }
    for k in 1 2 3; do mesh_osmose "$i" event "peer $i says $k" || exit 1; done
done
start=$(date +%s.%N)
if ! mesh_wait_for 15 converged 1 2 3 4 5; then
    echo "feeds did not converge"; for i in $(seq 1 $n); do echo "peer $i:"; mesh_osmose "$i" feeds; done; exit 1
fi
echo "5 feeds identical on 5 peers after $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }') s"

# Peer 5 dies; the others keep writing
mesh_stop 5 KILL
for i in 1 2 3 4; do
    for k in 4 5 6 7 8 9; do mesh_osmose "$i" event "peer $i, while 5 is away, says $k" || exit 1; done
done
mesh_wait_for 10 converged 1 2 3 4 || { echo "survivors did not converge"; exit 1; }
id5=$(mesh_id 5)
others_of () { feeds_of "$1" | jq -c --arg id "$id5" 'map(select(.id != $id))'; }
behind=$(others_of 1)
mesh_start 5 -s mesh/seeds="$(mesh_seed 2)"
if ! mesh_wait_for 20 converged 1 2 3 4 5; then
    echo "restarted peer did not catch up"; for i in 1 5; do echo "peer $i:"; mesh_osmose "$i" feeds; done; exit 1
fi
# (its own feed grew on restart: it logged its resources again)
[ "$(others_of 5)" = "$behind" ] || { echo "peer 5 caught up to something else"; exit 1; }
echo "restarted peer caught up"

# Each replica verifies offline with the log tool
for dir in "$MESH_DIR"/peer5/state/feeds/*/; do
    "$OSMOSE" log -s "$dir" verify >/dev/null || { echo "replica $dir does not verify"; exit 1; }
done
echo "replicas verify"
