#!/bin/sh
#   migrate_battery: a provider's battery drops below its threshold (driven
#   through the resource override, 'osmose policy set'): it hands its lease
#   back at once, refuses new bids, and the client's tasks move to another
#   provider, all results arriving once. Its log has the POLICY withdrawal.
. "$top_srcdir/tests/lib/mesh.sh"
PROBE="$top_builddir/tests/lease_probe"
[ -x "$PROBE" ] || { echo "tests/lease_probe is not built"; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "jq is missing"; exit 77; }
[ -f "$OSMOSE_PLUGIN_BUILD_DIR/sleep.so" ] || { echo "no plugins built"; exit 77; }
export OSMOSE_WORKER
fail () { echo "FAIL: $*"; for i in 1 2 3; do echo "--- peer$i"; tail -n 12 "$MESH_DIR/peer$i/log"; done; exit 1; }

mkdir -p "$MESH_DIR/plugins"
cp "$OSMOSE_PLUGIN_BUILD_DIR/sleep.so" "$MESH_DIR/plugins/"
mesh_init 3 || fail "cannot make keys"
for i in 1 2 3; do
    "$OSMOSE" plugin trust "$MESH_DIR/plugins/sleep.so" --state-dir "$MESH_DIR/peer$i/state" >/dev/null
done
common="-s exec/plugin_dir=$MESH_DIR/plugins -s exec/workers=1 -s policy/lease_cpus=1"
seed=$(mesh_seed 1)
mesh_start 1 $common -s node/location=hq/f1/lab -s policy/lease_cpus=0
#   peer2: a laptop in the same room, on battery at 80%; peer3 next door, on the wall
mesh_start 2 $common -s node/location=hq/f1/lab -s mesh/seeds="$seed" \
    -s resources/power=battery -s resources/battery_percent=80
mesh_start 3 $common -s node/location=hq/f1/office -s mesh/seeds="$seed" -s resources/power=wall
all_see_all () {
    for i in 1 2 3; do
        n=$(mesh_osmose "$i" --json peers 2>/dev/null | jq '[.[] | select(.state == "alive" and .resources != null)] | length')
        [ "$n" = 3 ] || return 1
    done
}
mesh_wait_for 20 all_see_all || fail "the mesh did not form"

"$PROBE" "$(mesh_api 1)" spread 1500 1 sleep.ms 2 "slept 2 ms" >"$MESH_DIR/spread.out" 2>&1 &
client=$!
mesh_wait_for 10 grep -q "^lease 0 " "$MESH_DIR/spread.out" || fail "no lease: $(cat "$MESH_DIR/spread.out")"
[ "$(sed -n 's/^lease 0 from //p' "$MESH_DIR/spread.out")" = "$(mesh_id 2)" ] || fail "the lease is not on peer2"
sleep 0.5
mesh_osmose 2 policy set resources/battery_percent=10 >/dev/null || fail "policy set failed"
[ "$(mesh_osmose 2 --json leases | jq '.granted | length')" = 0 ] || fail "peer2 still grants a lease"
wait "$client" || fail "the client failed: $(cat "$MESH_DIR/spread.out")"
grep -q "^ok 1500 $(mesh_id 3)" "$MESH_DIR/spread.out" || fail "not all on peer3: $(cat "$MESH_DIR/spread.out")"
"$OSMOSE" --json log -s "$MESH_DIR/peer2/state/log" show 2>/dev/null | grep POLICY | grep -q battery \
    || fail "no POLICY withdrawal in peer2's log"
#   Low on battery, it refuses new leases; back on the wall, it lends again
lease=$("$PROBE" "$(mesh_api 1)" acquire fail) || fail "no lease"
[ "$(echo "$lease" | jq -r .provider)" = "$(mesh_id 3)" ] || fail "a lease from the low-battery peer"
mesh_osmose 2 policy set resources/power=wall >/dev/null || fail "policy set wall"
back () { [ "$("$PROBE" "$(mesh_api 1)" acquire fail | jq -r .provider)" = "$(mesh_id 2)" ]; }
mesh_wait_for 10 back || fail "peer2 does not lend again on the wall"
rc=0; mesh_osmose 2 policy set mesh/bind=tcp://1.2.3.4:1 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "policy set of a non-policy key: exit $rc"
echo "battery below threshold: lease handed back, 1500/1500 results on peer3; back on the wall it lends again"
echo "migrate_battery: OK"
