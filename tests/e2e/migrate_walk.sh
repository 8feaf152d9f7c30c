#!/bin/sh
#   migrate_walk: a user walks from room A to room B. The client's location
#   comes from a file its positioning script writes (node/location_source).
#   Its two leases start on room A's devices; after the move they are
#   re-placed on room B's, tasks in flight finish (each result once and
#   right), and the client's log shows the move and each migration.
. "$top_srcdir/tests/lib/mesh.sh"
PROBE="$top_builddir/tests/lease_probe"
[ -x "$PROBE" ] || { echo "tests/lease_probe is not built"; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "jq is missing"; exit 77; }
[ -f "$OSMOSE_PLUGIN_BUILD_DIR/sleep.so" ] || { echo "no plugins built"; exit 77; }
export OSMOSE_WORKER
fail () { echo "FAIL: $*"; for i in 1 2 3 4 5; do echo "--- peer$i"; tail -n 12 "$MESH_DIR/peer$i/log"; done; exit 1; }

mkdir -p "$MESH_DIR/plugins"
cp "$OSMOSE_PLUGIN_BUILD_DIR/sleep.so" "$MESH_DIR/plugins/"
mesh_init 5 || fail "cannot make keys"
for i in 1 2 3 4 5; do
    "$OSMOSE" plugin trust "$MESH_DIR/plugins/sleep.so" --state-dir "$MESH_DIR/peer$i/state" >/dev/null
done
echo "hq/f1/roomA" > "$MESH_DIR/where"
common="-s exec/plugin_dir=$MESH_DIR/plugins -s exec/workers=1 -s policy/lease_cpus=1"
seed=$(mesh_seed 1)
mesh_start 1 $common -s node/location=hq/f1/roomA -s policy/lease_cpus=0 \
    -s node/location_source="$MESH_DIR/where"
mesh_start 2 $common -s node/location=hq/f1/roomA -s mesh/seeds="$seed"
mesh_start 3 $common -s node/location=hq/f1/roomA -s mesh/seeds="$seed"
mesh_start 4 $common -s node/location=hq/f1/roomB -s mesh/seeds="$seed"
mesh_start 5 $common -s node/location=hq/f1/roomB -s mesh/seeds="$seed"
all_see_all () {
    for i in 1 2 3 4 5; do
        n=$(mesh_osmose "$i" --json peers 2>/dev/null | jq '[.[] | select(.state == "alive" and .resources != null)] | length')
        [ "$n" = 5 ] || return 1
    done
}
mesh_wait_for 20 all_see_all || fail "the mesh did not form"
location_of () { mesh_osmose 1 --json peers | jq -r --arg id "$1" '.[] | select(.id == $id) | .location'; }

"$PROBE" "$(mesh_api 1)" spread 2000 2 sleep.ms 2 "slept 2 ms" >"$MESH_DIR/spread.out" 2>&1 &
client=$!
mesh_wait_for 10 grep -q "^lease 1 " "$MESH_DIR/spread.out" || fail "no 2 leases: $(cat "$MESH_DIR/spread.out")"
for id in $(sed -n 's/^lease [01] from //p' "$MESH_DIR/spread.out"); do
    [ "$(location_of "$id")" = hq/f1/roomA ] || fail "a lease starts in $(location_of "$id")"
done
sleep 1.2
moved_at=$(date +%s%N)
echo "hq/f1/roomB" >> "$MESH_DIR/where"
wait "$client" || fail "the client failed: $(cat "$MESH_DIR/spread.out")"
grep -q "^ok 2000 " "$MESH_DIR/spread.out" || fail "$(cat "$MESH_DIR/spread.out")"
for id in $(tail -n 1 "$MESH_DIR/spread.out" | cut -d' ' -f3-); do
    [ "$(location_of "$id")" = hq/f1/roomB ] || fail "a lease ends in $(location_of "$id"), not room B"
done
mesh_osmose 1 --json status | jq -e '.location == "hq/f1/roomB"' >/dev/null || fail "status location"
log=$("$OSMOSE" --json log -s "$MESH_DIR/peer1/state/log" show 2>/dev/null)
echo "$log" | grep "MOVE" | grep -q "roomB" || fail "no MOVE entry in the log"
[ "$(echo "$log" | grep "MIGRATE" | grep -c "moved")" -ge 2 ] || fail "the log shows no two moves: $(echo "$log" | grep MIGRATE)"
echo "walked from room A to room B: 2000/2000 results once each, both leases now in room B"
echo "migrate_walk: OK"
