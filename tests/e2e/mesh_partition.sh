#!/bin/sh
# Three hosts in network namespaces on a private switch (made and removed
# by this test). Host 3's link is cut mid-run: both sides keep writing to
# their logs and see the other side fail. When the link heals, the mesh
# re-forms and every feed converges: the same size and root on every peer.
. "$top_srcdir/tests/lib/netns.sh"
netns_available || { echo "needs root and ip netns"; exit 77; }
command -v jq >/dev/null || { echo "jq not installed"; exit 77; }
. "$top_srcdir/tests/lib/mesh.sh"
trap 'mesh_cleanup; netns_cleanup' EXIT
set -u
n=3

netns_init || exit 1
mesh_init $n
for i in 1 2 3; do netns_add_host "$i" || exit 1; done
start_host () {
    i=$1; shift
    dir="$MESH_DIR/peer$i"
    netns_exec "$i" "$OSMOSED" -s node/state_dir="$dir/state" -s node/name="host$i" \
        -s api/endpoint="$(mesh_api "$i")" -s mesh/bind="tcp://$(netns_addr "$i"):7470" \
        -s node/location="hq/f1/r$i" -s discovery/avahi=false "$@" >>"$dir/log" 2>&1 &
    echo $! > "$dir/pid"
    MESH_PIDS="$MESH_PIDS $!"
}
seed="$(mesh_id 1)@tcp://$(netns_addr 1):7470"
start_host 1
mesh_wait_for 5 mesh_osmose 1 status || { cat "$MESH_DIR/peer1/log"; exit 1; }
start_host 2 -s mesh/seeds="$seed"
start_host 3 -s mesh/seeds="$seed"

state_of () { mesh_osmose "$1" --json peers | jq -r --arg id "$(mesh_id "$2")" '.[] | select(.id == $id) | .state'; }
alive_all () { for i in 1 2 3; do [ "$(mesh_osmose "$i" --json status | jq .peers.alive)" = 3 ] || return 1; done; }
feeds_of () { mesh_osmose "$1" --json feeds | jq -S -c 'map({id, size, root}) | sort_by(.id)'; }
converged () {
    first=$(feeds_of 1) || return 1
    [ "$(echo "$first" | jq length)" = "$n" ] || return 1
    for i in 2 3; do [ "$(feeds_of "$i")" = "$first" ] || return 1; done
}
mesh_wait_for 15 alive_all || { echo "hosts did not form a mesh"; for i in 1 2 3; do mesh_osmose "$i" peers; done; exit 1; }
echo "3 hosts in namespaces form a mesh"

netns_cut 3
gone () { [ "$(state_of 1 3)" = dead ] && [ "$(state_of 3 1)" = dead ]; }
mesh_wait_for 15 gone || { echo "host 3 not detected as failed"; mesh_osmose 1 peers; exit 1; }
for k in 1 2 3; do
    mesh_osmose 1 event "host 1 during the partition $k" || exit 1
    mesh_osmose 3 event "host 3 during the partition $k" || exit 1
done
echo "partition seen: host 1 says host 3 is $(state_of 1 3)"

netns_heal 3
if ! mesh_wait_for 30 alive_all; then
    echo "mesh did not re-form after healing"; for i in 1 2 3; do mesh_osmose "$i" peers; done; exit 1
fi
if ! mesh_wait_for 20 converged; then
    echo "feeds did not converge after healing"; for i in 1 2 3; do mesh_osmose "$i" feeds; done; exit 1
fi
echo "healed: mesh re-formed and all feeds identical"
