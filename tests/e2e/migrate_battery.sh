#!/bin/sh
#   migrate_battery: a provider's battery drops below its threshold (driven
#   through the resource override, 'osmose policy set'): it hands its lease
#   back at once, refuses new bids, and the client's tasks move to another
#   provider, all results arriving once. Its log has the POLICY withdrawal,
#   and its advert says it refuses, so no lease is moved back to it.
. "$top_srcdir/tests/lib/mesh.sh"
. "$top_srcdir/tests/lib/lease.sh"
lease_init 3 sleep

seed=$(mesh_seed 1)
mesh_start 1 $LEASE_COMMON -s node/location=hq/f1/lab -s policy/lease_cpus=0 \
    -s proximity/topology_weight_us=50000
#   peer2: a laptop in the same room, on battery at 80%; peer3 next door, on the wall
mesh_start 2 $LEASE_COMMON -s node/location=hq/f1/lab -s mesh/seeds="$seed" \
    -s resources/power=battery -s resources/battery_percent=80
mesh_start 3 $LEASE_COMMON -s node/location=hq/f1/office -s mesh/seeds="$seed" -s resources/power=wall
mesh_wait_for 20 lease_all_see_all || fail "the mesh did not form"

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
#   Peer2 advertises that it refuses: no lease hopped back to it to be
#   refused again (one migration, the withdrawal's), and peers --near says why
migrations=$("$OSMOSE" log -s "$MESH_DIR/peer1/state/log" show 2>/dev/null | grep -c MIGRATE)
[ "$migrations" = 1 ] || fail "$migrations migrations, not 1: $("$OSMOSE" --json log -s "$MESH_DIR/peer1/state/log" show | grep MIGRATE)"
near_reason () { mesh_osmose 1 --json peers --near | jq -r --arg id "$(mesh_id 2)" '.[] | select(.id == $id) | .reason'; }
[ "$(near_reason)" = "refusing: battery low" ] || fail "peers --near gives peer2's reason as '$(near_reason)'"
mesh_osmose 1 --json peers | jq -e --arg id "$(mesh_id 2)" \
    '.[] | select(.id == $id) | .resources | .refusing == "battery" and .cpus_free == 0' >/dev/null \
    || fail "peers does not show peer2 refusing: $(mesh_osmose 1 --json peers)"
#   Low on battery, it refuses new leases; back on the wall, it lends again
lease=$("$PROBE" "$(mesh_api 1)" acquire fail) || fail "no lease"
[ "$(echo "$lease" | jq -r .provider)" = "$(mesh_id 3)" ] || fail "a lease from the low-battery peer"
mesh_osmose 2 policy set resources/power=wall >/dev/null || fail "policy set wall"
back () { [ "$("$PROBE" "$(mesh_api 1)" acquire fail | jq -r .provider)" = "$(mesh_id 2)" ]; }
mesh_wait_for 10 back || fail "peer2 does not lend again on the wall"
#   The owner cuts what peer2 lends below what is lent: the lease goes back.
#   (The last probe's release must have reached peer1 first: until then
#   peer1 counts peer2's one CPU as its own, and rightly asks peer3.)
held_none () { [ "$(mesh_osmose 1 --json leases | jq '.held | length')" = 0 ]; }
mesh_wait_for 5 held_none || fail "peer1 still holds the probe's lease"
mesh_osmose 1 --json peers --near >"$MESH_DIR/near.out" 2>&1
#   The first spread's output goes first: the job truncates it itself, but
#   maybe only after the poll below has read the old "lease 0" line
rm -f "$MESH_DIR/spread.out"
"$PROBE" "$(mesh_api 1)" spread 800 1 sleep.ms 2 "slept 2 ms" >"$MESH_DIR/spread.out" 2>&1 &
client=$!
mesh_wait_for 10 grep -q "^lease 0 " "$MESH_DIR/spread.out" || fail "no lease: $(cat "$MESH_DIR/spread.out")"
[ "$(sed -n 's/^lease 0 from //p' "$MESH_DIR/spread.out")" = "$(mesh_id 2)" ] \
    || fail "the lease is not on peer2: $(head -n 3 "$MESH_DIR/spread.out"); peer1 ranked $(jq -c . "$MESH_DIR/near.out")"
sleep 0.3
mesh_osmose 2 policy set policy/lease_cpus=0 >/dev/null || fail "policy set lease_cpus"
wait "$client" || fail "the client failed after the cap cut: $(cat "$MESH_DIR/spread.out")"
grep -q "^ok 800 $(mesh_id 3)" "$MESH_DIR/spread.out" || fail "not all on peer3: $(cat "$MESH_DIR/spread.out")"
echo "caps cut below what is lent: lease handed back, 800/800 results on peer3"
rc=0; mesh_osmose 2 policy set mesh/bind=tcp://1.2.3.4:1 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "policy set of a non-policy key: exit $rc"
echo "battery below threshold: lease handed back, 1500/1500 results on peer3; back on the wall it lends again"
echo "migrate_battery: OK"
