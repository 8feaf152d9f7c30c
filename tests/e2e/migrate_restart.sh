#!/bin/sh
#   migrate_restart: restart a client's daemon and then a provider, both
#   with their stores, while one program has 1500 tasks going. Nothing
#   acknowledged is lost: every result arrives once and right (the lease
#   moves through the restarted daemon), every log entry that was committed
#   before a restart is still there after it, and both logs verify.
. "$top_srcdir/tests/lib/mesh.sh"
. "$top_srcdir/tests/lib/lease.sh"
lease_init 3 sleep

common="$LEASE_COMMON -s lease/ttl_ms=1000 -s lease/heartbeat_ms=250"
seed=$(mesh_seed 1)
start () {
    case $1 in
        1) mesh_start 1 $common -s node/location=hq/f1/lab -s policy/lease_cpus=0 \
               -s proximity/topology_weight_us=50000 ;;
        2) mesh_start 2 $common -s node/location=hq/f1/lab -s mesh/seeds="$seed" ;;
        3) mesh_start 3 $common -s node/location=hq/f1/office -s mesh/seeds="$seed" ;;
    esac
}
size_of () { "$OSMOSE" --json log -s "$MESH_DIR/peer$1/state/log" stats 2>/dev/null | jq '.size // .entries'; }
start 1; start 2; start 3
mesh_wait_for 20 lease_all_see_all || fail "the mesh did not form"

"$PROBE" "$(mesh_api 1)" spread 1500 1 sleep.ms 3 "slept 3 ms" >"$MESH_DIR/spread.out" 2>&1 &
client=$!
mesh_wait_for 10 grep -q "^lease 0 " "$MESH_DIR/spread.out" || fail "no lease: $(cat "$MESH_DIR/spread.out")"
sleep 0.5
#   The client's daemon dies and comes back with its store
mesh_osmose 1 event "before the client restart" >/dev/null || fail "event"
sleep 1.2       #   the group commit makes it durable
before1=$(size_of 1)
mesh_stop 1 KILL
start 1
mesh_wait_for 10 mesh_osmose 1 status || fail "peer1 did not restart"
[ "$(size_of 1)" -ge "$before1" ] || fail "peer1 lost log entries: $before1 before, $(size_of 1) after"
sleep 1
#   Then the provider with the lease
victim_id=$(mesh_osmose 1 --json leases | jq -r '.held[0].provider // empty')
[ -n "$victim_id" ] || victim_id=$(sed -n 's/^lease 0 from //p' "$MESH_DIR/spread.out")
victim=2; [ "$victim_id" = "$(mesh_id 3)" ] && victim=3
before=$(size_of "$victim")
mesh_stop "$victim" KILL
start "$victim"
wait "$client" || fail "the client failed: $(cat "$MESH_DIR/spread.out")"
grep -q "^ok 1500 " "$MESH_DIR/spread.out" || fail "$(cat "$MESH_DIR/spread.out")"
[ "$(size_of "$victim")" -ge "$before" ] || fail "peer$victim lost log entries"
for i in 1 "$victim"; do
    mesh_stop "$i" TERM
    "$OSMOSE" log -s "$MESH_DIR/peer$i/state/log" verify >/dev/null 2>&1 || fail "peer$i's log does not verify"
done
"$OSMOSE" --json log -s "$MESH_DIR/peer1/state/log" show 2>/dev/null | grep -q "before the client restart" \
    || fail "the event before the restart is gone"
echo "client daemon and provider restarted mid-run: 1500/1500 results once each; logs kept and verify"
echo "migrate_restart: OK"
