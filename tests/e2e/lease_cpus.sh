#!/bin/sh
#   lease_cpus: a lease gets the CPUs it was granted on the provider, no
#   more. The provider lends 2 CPUs and runs 2 workers. Eight tasks of
#   100 ms sent at once on a lease of 1 CPU take turns on one worker (at
#   least 800 ms: a floor, which a loaded machine only makes longer); on a
#   lease of 2 CPUs they share both, and finish sooner. A second lease of
#   the same program from the same provider reuses the first's connection.
. "$top_srcdir/tests/lib/mesh.sh"
. "$top_srcdir/tests/lib/lease.sh"
lease_init 2 sleep
seed=$(mesh_seed 1)
mesh_start 1 -s exec/plugin_dir="$MESH_DIR/plugins" -s policy/lease_cpus=0
mesh_start 2 -s exec/plugin_dir="$MESH_DIR/plugins" -s exec/workers=2 -s policy/lease_cpus=2 \
    -s mesh/seeds="$seed"
mesh_wait_for 20 lease_all_see_all || fail "the mesh did not form"
now_ms () { echo $(( $(date +%s%N) / 1000000 )); }

#   Warm: the provider starts its workers on its first grant
"$PROBE" "$(mesh_api 1)" spread 2 1 sleep.ms 1 "slept 1 ms" cpus=2 fail >"$MESH_DIR/warm.out" 2>&1 \
    || fail "warm-up: $(cat "$MESH_DIR/warm.out")"

start=$(now_ms)
"$PROBE" "$(mesh_api 1)" spread 8 1 sleep.ms 100 "slept 100 ms" cpus=1 fail >"$MESH_DIR/one.out" 2>&1 \
    || fail "1 CPU: $(cat "$MESH_DIR/one.out")"
one=$(( $(now_ms) - start ))
grep -q "^ok 8 " "$MESH_DIR/one.out" || fail "1 CPU: $(cat "$MESH_DIR/one.out")"
[ "$one" -ge 800 ] || fail "8 tasks of 100 ms on a 1-CPU lease took $one ms: more than one worker ran them"
echo "8 x 100 ms on a lease of 1 CPU: $one ms (one worker at a time)"

start=$(now_ms)
"$PROBE" "$(mesh_api 1)" spread 8 1 sleep.ms 100 "slept 100 ms" cpus=2 fail >"$MESH_DIR/two.out" 2>&1 \
    || fail "2 CPUs: $(cat "$MESH_DIR/two.out")"
two=$(( $(now_ms) - start ))
grep -q "^ok 8 " "$MESH_DIR/two.out" || fail "2 CPUs: $(cat "$MESH_DIR/two.out")"
[ "$two" -lt "$((one - 150))" ] || fail "8 tasks of 100 ms on a 2-CPU lease took $two ms, on 1 CPU $one ms"
echo "8 x 100 ms on a lease of 2 CPUs: $two ms (both workers)"

#   A program's later leases from the same provider open on the work
#   connection its first one left, and work there, also after leases that
#   ran nothing left the answers to their OPENs unread on it
"$PROBE" "$(mesh_api 1)" again sleep.ms 1 cpus=1 fail >"$MESH_DIR/again.out" 2>&1 \
    || fail "two leases in a row: $(cat "$MESH_DIR/again.out")"
[ "$(sed -n 1p "$MESH_DIR/again.out" | jq -r .connection)" = new ] \
    || fail "the first lease did not open a new connection: $(cat "$MESH_DIR/again.out")"
[ "$(sed -n 2,5p "$MESH_DIR/again.out" | jq -r .connection | sort -u)" = kept ] \
    || fail "the later leases did not reuse the first one's connection: $(cat "$MESH_DIR/again.out")"
[ "$(sed -n 6,7p "$MESH_DIR/again.out")" = "$(printf 'slept 1 ms\nslept 1 ms')" ] \
    || fail "tasks on the kept connection: $(cat "$MESH_DIR/again.out")"
echo "second lease on the kept connection: ok"
echo "lease_cpus: OK"
