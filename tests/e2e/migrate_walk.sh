#!/bin/sh
#   migrate_walk: a user walks from room A to room B. The client's location
#   comes from a file its positioning script writes (node/location_source).
#   Its two leases start on room A's devices; after the move they are
#   re-placed on room B's, tasks in flight finish (each result once and
#   right), and the client's log shows the move and each migration.
. "$top_srcdir/tests/lib/mesh.sh"
. "$top_srcdir/tests/lib/lease.sh"
lease_init 5 sleep

echo "hq/f1/roomA" > "$MESH_DIR/where"
seed=$(mesh_seed 1)
#   Hops outweigh loopback RTT noise (a loaded machine, ASan), as on a LAN
mesh_start 1 $LEASE_COMMON -s node/location=hq/f1/roomA -s policy/lease_cpus=0 \
    -s proximity/topology_weight_us=50000 \
    -s node/location_source="$MESH_DIR/where"
mesh_start 2 $LEASE_COMMON -s node/location=hq/f1/roomA -s mesh/seeds="$seed"
mesh_start 3 $LEASE_COMMON -s node/location=hq/f1/roomA -s mesh/seeds="$seed"
mesh_start 4 $LEASE_COMMON -s node/location=hq/f1/roomB -s mesh/seeds="$seed"
mesh_start 5 $LEASE_COMMON -s node/location=hq/f1/roomB -s mesh/seeds="$seed"
mesh_wait_for 20 lease_all_see_all || fail "the mesh did not form"
location_of () { mesh_osmose 1 --json peers | jq -r --arg id "$1" '.[] | select(.id == $id) | .location'; }

"$PROBE" "$(mesh_api 1)" spread 5000 2 sleep.ms 2 "slept 2 ms" >"$MESH_DIR/spread.out" 2>&1 &
client=$!
mesh_wait_for 10 grep -q "^lease 1 " "$MESH_DIR/spread.out" || fail "no 2 leases: $(cat "$MESH_DIR/spread.out")"
for id in $(sed -n 's/^lease [01] from //p' "$MESH_DIR/spread.out"); do
    [ "$(location_of "$id")" = hq/f1/roomA ] || fail "a lease starts in $(location_of "$id"): $(cat "$MESH_DIR/spread.out")"
done
sleep 1.2
echo "hq/f1/roomB" >> "$MESH_DIR/where"
#   While the tasks still run, every lease the client holds moves to room
#   B (one placed less than lease/move_hold_ms ago follows a moment later)
in_room_b () {
    held=$(mesh_osmose 1 --json leases | jq -r '.held[].provider')
    [ "$(echo "$held" | wc -w)" = 2 ] || return 1
    for id in $held; do [ "$(location_of "$id")" = hq/f1/roomB ] || return 1; done
}
mesh_wait_for 8 in_room_b || fail "the leases did not follow to room B: $(mesh_osmose 1 --json leases | jq -c .held)"
wait "$client" || fail "the client failed: $(cat "$MESH_DIR/spread.out")"
grep -q "^ok 5000 " "$MESH_DIR/spread.out" || fail "$(cat "$MESH_DIR/spread.out")"
for id in $(tail -n 1 "$MESH_DIR/spread.out" | cut -d' ' -f3-); do
    [ "$(location_of "$id")" = hq/f1/roomB ] || fail "a lease ends in $(location_of "$id"), not room B"
done
mesh_osmose 1 --json status | jq -e '.location == "hq/f1/roomB"' >/dev/null || fail "status location"
log=$("$OSMOSE" --json log -s "$MESH_DIR/peer1/state/log" show 2>/dev/null)
echo "$log" | grep "MOVE" | grep -q "roomB" || fail "no MOVE entry in the log"
[ "$(echo "$log" | grep "MIGRATE" | grep -c "moved")" -ge 2 ] || fail "the log shows no two moves: $(echo "$log" | grep MIGRATE)"
echo "walked from room A to room B: 5000/5000 results once each, both leases now in room B"
echo "migrate_walk: OK"
