#!/bin/sh
#   migrate_kill: a client with 1000 tasks in flight across 3 providers;
#   one provider is killed with -9 mid-run. Every result arrives exactly
#   once and is right (lease_probe checks each), the lease moves to the
#   spare provider, and the client's log records the migration. Then a
#   provider stopped with SIGTERM hands its lease back: the client's tasks
#   move on and still all arrive. Run ROUNDS times (default 3).
. "$top_srcdir/tests/lib/mesh.sh"
. "$top_srcdir/tests/lib/lease.sh"
lease_init 5 sleep

seed=$(mesh_seed 1)
start_all () {
    mesh_start 1 $LEASE_COMMON -s node/location=hq/f1/lab -s policy/lease_cpus=0 \
        -s proximity/topology_weight_us=50000
    for i in 2 3 4 5; do mesh_start "$i" $LEASE_COMMON -s node/location=hq/f1/room$i -s mesh/seeds="$seed"; done
}
name_of () { mesh_osmose 1 --json peers | jq -r --arg id "$1" '.[] | select(.id == $id) | .name'; }
migrations () {
    "$OSMOSE" log -s "$MESH_DIR/peer1/state/log" show 2>/dev/null | grep -c "MIGRATE"
}
start_all
mesh_wait_for 20 lease_all_see_all || fail "the mesh did not form"

rounds=${ROUNDS:-3}
round=1
while [ "$round" -le "$rounds" ]; do
    before=$(migrations)
    rm -f "$MESH_DIR/spread.out"     #   not left for the first poll to read
    "$PROBE" "$(mesh_api 1)" spread 1000 3 sleep.ms 3 "slept 3 ms" >"$MESH_DIR/spread.out" 2>&1 &
    client=$!
    mesh_wait_for 10 grep -q "^lease 2 " "$MESH_DIR/spread.out" || fail "no 3 leases: $(cat "$MESH_DIR/spread.out")"
    victim_id=$(sed -n 's/^lease 1 from //p' "$MESH_DIR/spread.out")
    victim=$(name_of "$victim_id" | sed 's/peer//')
    sleep 0.4
    mesh_stop "$victim" KILL
    wait "$client" || fail "round $round: the client failed: $(cat "$MESH_DIR/spread.out")"
    grep -q "^ok 1000 " "$MESH_DIR/spread.out" || fail "round $round: $(cat "$MESH_DIR/spread.out")"
    last=$(tail -n 1 "$MESH_DIR/spread.out")
    echo "$last" | grep -q "$victim_id" && fail "round $round: the dead provider still holds a lease: $last"
    [ "$(migrations)" -gt "$before" ] || fail "round $round: no MIGRATE entry in the client's log"
    echo "round $round: killed peer$victim; 1000/1000 results, once each; now on: $last"
    #   The victim comes back with its keys and store, and rejoins
    mesh_start "$victim" $LEASE_COMMON -s node/location=hq/f1/room$victim -s mesh/seeds="$seed"
    mesh_wait_for 20 lease_all_see_all || fail "peer$victim did not rejoin"
    round=$((round + 1))
done

#   SIGTERM: the provider hands its lease back, the tasks move on
rm -f "$MESH_DIR/spread.out"
"$PROBE" "$(mesh_api 1)" spread 600 2 sleep.ms 3 "slept 3 ms" >"$MESH_DIR/spread.out" 2>&1 &
client=$!
mesh_wait_for 10 grep -q "^lease 1 " "$MESH_DIR/spread.out" || fail "no 2 leases: $(cat "$MESH_DIR/spread.out")"
victim_id=$(sed -n 's/^lease 0 from //p' "$MESH_DIR/spread.out")
victim=$(name_of "$victim_id" | sed 's/peer//')
sleep 0.3
mesh_stop "$victim" TERM
wait "$client" || fail "SIGTERM: the client failed: $(cat "$MESH_DIR/spread.out")"
grep -q "^ok 600 " "$MESH_DIR/spread.out" || fail "SIGTERM: $(cat "$MESH_DIR/spread.out")"
#   (the last migration away from the stopped provider: a move between
#   the others, on a loaded machine, may come after it)
last=$("$OSMOSE" --json log -s "$MESH_DIR/peer1/state/log" show 2>/dev/null | grep "MIGRATE" \
       | grep "from_provider[^,]*$victim_id" | tail -n 1)
#   The provider says so on the work connection; if its socket closed
#   first, the client saw the connection drop: either way it moved
echo "$last" | grep -q "shutting down\|connection to the provider lost" \
    || fail "no migration reason in the log: $last"
echo "SIGTERM on peer$victim: its lease handed back, 600/600 results"
echo "migrate_kill: OK"
