#!/bin/sh
# Many real osmosed processes on loopback (MESH_PEERS, default 32): all see
# all through one seed, and no peer keeps more outgoing peer links than
# its bound (active view + random view + a few short-lived probe links).
. "$top_srcdir/tests/lib/mesh.sh"
command -v jq >/dev/null || { echo "jq not installed"; exit 77; }
set -u
n=${MESH_PEERS:-32}
# Polling many peers costs CPU the peers need: poll gently
MESH_POLL=0.5
bound=$((6 + 2 + 4))

mesh_init "$n"
mesh_start 1
mesh_wait_for 5 mesh_osmose 1 status || exit 1
i=2
while [ "$i" -le "$n" ]; do
    mesh_start "$i" -s node/location="hq/f$((i % 4))/r$i" -s mesh/seeds="$(mesh_seed 1)"
    i=$((i + 1))
done
started=$(date +%s.%N)
all_see_all () {
    for j in $(seq 1 "$n"); do
        got=$(mesh_osmose "$j" --json status 2>/dev/null | jq '.peers.alive')
        [ "$got" = "$n" ] || return 1
    done
}
if ! mesh_wait_for 60 all_see_all; then
    for j in $(seq 1 "$n"); do printf 'peer %s sees %s\n' "$j" "$(mesh_osmose "$j" --json status | jq '.peers.alive')"; done
    exit 1
fi
echo "all $n peers see all after $(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }') s (polled)"

worst=0
for j in $(seq 1 "$n"); do
    links=$(mesh_osmose "$j" --json status | jq '.peers.links')
    [ "$links" -gt "$worst" ] && worst=$links
done
echo "most outgoing links on one peer: $worst (bound $bound)"
[ "$worst" -le "$bound" ] || exit 1
