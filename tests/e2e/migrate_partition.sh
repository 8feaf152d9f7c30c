#!/bin/sh
#   migrate_partition: hosts in network namespaces on a private switch
#   (made and removed by this test). The client on host 1 leases its
#   room neighbour, host 2, and runs 1000 tasks; host 2's link is cut
#   mid-run. The client's tasks time out on the dead connection and are
#   re-placed on host 3; every result arrives once and is right. When the
#   link heals, the mesh re-forms and every feed is identical everywhere:
#   the logs converge, with the lease's life (grant, migration) in them.
. "$top_srcdir/tests/lib/netns.sh"
netns_available || { echo "needs root and ip netns"; exit 77; }
. "$top_srcdir/tests/lib/mesh.sh"
. "$top_srcdir/tests/lib/lease.sh"
lease_init 3 sleep
trap 'mesh_cleanup; netns_cleanup' EXIT

netns_init || exit 1
for i in 1 2 3; do netns_add_host "$i" || exit 1; done
start_host () {
    i=$1; shift
    dir="$MESH_DIR/peer$i"
    netns_exec "$i" "$OSMOSED" -s node/state_dir="$dir/state" -s node/name="host$i" \
        -s api/endpoint="$(mesh_api "$i")" -s mesh/bind="tcp://$(netns_addr "$i"):7470" \
        -s exec/plugin_dir="$MESH_DIR/plugins" -s exec/workers=1 -s policy/lease_cpus=1 \
        -s lease/ttl_ms=2000 -s lease/heartbeat_ms=500 \
        -s discovery/avahi=false "$@" >>"$dir/log" 2>&1 &
    echo $! > "$dir/pid"
    MESH_PIDS="$MESH_PIDS $!"
}
seed="$(mesh_id 1)@tcp://$(netns_addr 1):7470"
start_host 1 -s node/location=hq/f1/lab -s policy/lease_cpus=0 \
    -s proximity/topology_weight_us=50000
mesh_wait_for 5 mesh_osmose 1 status || fail "host 1 did not start"
start_host 2 -s node/location=hq/f1/lab -s mesh/seeds="$seed"
start_host 3 -s node/location=hq/f1/office -s mesh/seeds="$seed"
alive_all () {
    for i in 1 2 3; do
        [ "$(mesh_osmose "$i" --json peers | jq '[.[] | select(.state == "alive" and .resources != null)] | length')" = 3 ] || return 1
    done
}
feeds_of () { mesh_osmose "$1" --json feeds | jq -S -c 'map({id, size, root}) | sort_by(.id)'; }
converged () {
    first=$(feeds_of 1) || return 1
    [ "$(echo "$first" | jq length)" = 3 ] || return 1
    for i in 2 3; do [ "$(feeds_of "$i")" = "$first" ] || return 1; done
}
mesh_wait_for 20 alive_all || fail "hosts did not form a mesh"

netns_exec 1 "$PROBE" "$(mesh_api 1)" spread 1000 1 sleep.ms 3 "slept 3 ms" >"$MESH_DIR/spread.out" 2>&1 &
client=$!
mesh_wait_for 10 grep -q "^lease 0 " "$MESH_DIR/spread.out" || fail "no lease: $(cat "$MESH_DIR/spread.out")"
[ "$(sed -n 's/^lease 0 from //p' "$MESH_DIR/spread.out")" = "$(mesh_id 2)" ] \
    || fail "the lease is not on host 2 ($(mesh_id 2)): $(cat "$MESH_DIR/spread.out")"
sleep 0.5
netns_cut 2
cut_at=$(date +%s)
wait "$client" || fail "the client failed: $(cat "$MESH_DIR/spread.out")"
grep -q "^ok 1000 $(mesh_id 3)" "$MESH_DIR/spread.out" || fail "not finished on host 3: $(cat "$MESH_DIR/spread.out")"
echo "cut host 2 mid-run: 1000/1000 results once each, finished on host 3 after $(( $(date +%s) - cut_at )) s"

netns_heal 2
mesh_wait_for 30 alive_all || fail "the mesh did not re-form after healing"
mesh_wait_for 30 converged || fail "feeds did not converge: $(for i in 1 2 3; do feeds_of $i; done)"
log=$("$OSMOSE" --json log -s "$MESH_DIR/peer1/state/log" show 2>/dev/null)
echo "$log" | grep MIGRATE | grep -q "$(mesh_id 2)" || fail "no migration from host 2 in host 1's log"
"$OSMOSE" --json log -s "$MESH_DIR/peer2/state/log" show 2>/dev/null | grep -q "LEASE_GRANT" \
    || fail "host 2's log has no grant"
echo "healed: mesh re-formed, every feed identical on the three hosts"
echo "migrate_partition: OK"
