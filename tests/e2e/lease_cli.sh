#!/bin/sh
#   lease_cli: "osmose lease", "run", "leases" and "peers --near" against
#   three real osmosed processes on loopback: peer1 (the client) and peer2
#   in one room, peer3 on another floor, all running the build's echo and
#   matrix plugins.
#   - peers --near ranks peer2 (same room) before peer3 (another floor);
#   - run echo.echo prints its input unchanged (text, binary, stdin,
#     --count), on peer2, the nearest; an unknown function fails with exit
#     4 and a line that names it; a malformed name is a usage error;
#   - leases shows a lease while "lease --hold" holds it (held on the
#     client, granted on the provider), and no longer once SIGINT ended it;
#   - a lone peer falls back to itself under retry-local, and fails with
#     exit 6 under --failure fail;
#   - contrib/osmose-matmul multiplies on two leases and checks the result;
#   - when the provider of a held lease is killed, "lease" says so, bids
#     again and prints the new lease; SIGTERM then releases it;
#   - with no daemon, every verb says one line and exits 3.
. "$top_srcdir/tests/lib/mesh.sh"
command -v jq >/dev/null || { echo "jq not installed"; exit 77; }
command -v timeout >/dev/null || { echo "timeout not installed"; exit 77; }
[ -n "${OSMOSE_PLUGIN_BUILD_DIR:-}" ] && [ -f "$OSMOSE_PLUGIN_BUILD_DIR/echo.so" ] \
    || { echo "no OSMOSE_PLUGIN_BUILD_DIR with echo.so"; exit 77; }
[ -n "${OSMOSE_WORKER:-}" ] && [ -x "$OSMOSE_WORKER" ] || { echo "no OSMOSE_WORKER"; exit 77; }
export OSMOSE_WORKER
set -u

fail () { echo "FAIL: $*"; for i in 1 2 3 4; do [ -f "$MESH_DIR/peer$i/log" ] \
    && { echo "--- peer$i log (tail)"; tail -n 15 "$MESH_DIR/peer$i/log"; }; done; exit 1; }
#   The CLI against peer I, bounded so a hang fails the test instead of
#   stalling the suite
osm () { i=$1; shift; timeout 60 "$OSMOSE" -e "$(mesh_api "$i")" "$@"; }
out=$MESH_DIR/out; err=$MESH_DIR/err

#   --- the mesh: one plugin dir, trusted by every peer
mesh_init 4
mkdir "$MESH_DIR/plugins"
cp "$OSMOSE_PLUGIN_BUILD_DIR/echo.so" "$OSMOSE_PLUGIN_BUILD_DIR/matrix.so" "$MESH_DIR/plugins/"
for i in 1 2 3 4; do
    "$OSMOSE" plugin trust "$MESH_DIR/plugins/echo.so" "$MESH_DIR/plugins/matrix.so" \
        --state-dir "$MESH_DIR/peer$i/state" >/dev/null || fail "plugin trust peer$i"
done
#   Hops outweigh loopback RTT noise (a loaded machine's first probes can
#   take 8 ms), as on a LAN
MESH_EXTRA="-s exec/plugin_dir=$MESH_DIR/plugins -s exec/workers=1 -s proximity/topology_weight_us=50000"
mesh_start 1 -s node/location=hq/f1/r1
mesh_wait_for 10 osm 1 status || fail "peer1 did not start"
mesh_start 2 -s node/location=hq/f1/r1 -s mesh/seeds="$(mesh_seed 1)"
mesh_start 3 -s node/location=hq/f2/r7 -s mesh/seeds="$(mesh_seed 1)"
alive3 () {
    for i in 1 2 3; do
        [ "$(osm "$i" --json peers | jq '[.[] | select(.state == "alive")] | length')" = 3 ] \
            || return 1
    done
}
mesh_wait_for 15 alive3 || fail "the three peers do not all see each other"
id1=$(mesh_id 1); id2=$(mesh_id 2); id3=$(mesh_id 3)
echo "mesh of 3 up"

#   --- peers --near: same room before another floor
rank_of () { jq --arg id "$1" '[.[].id] | index($id)' "$out"; }
near_ranked () {
    osm 1 --json peers --near >"$out" || return 1
    r2=$(rank_of "$id2"); r3=$(rank_of "$id3")
    [ "$r2" != null ] && [ "$r3" != null ] && [ "$r2" -lt "$r3" ] \
        && jq -e --arg id "$id2" --arg id3 "$id3" 'any(.[]; .id == $id and .qualifies == true)
            and all(.[]; (.id != $id and .id != $id3) or (.rtt_us | type) == "number" and .rtt_us >= 0)' \
            "$out" >/dev/null
}
#   (once both round-trip times are measured: bidding ranks by them)
mesh_wait_for 15 near_ranked || { cat "$out"; fail "peers --near does not rank peer2 (hq/f1/r1) before peer3 (hq/f2/r7), qualifying, with measured RTTs"; }
jq -e --arg id "$id2" --arg id3 "$id3" \
    '(.[] | select(.id == $id) | .hops) < (.[] | select(.id == $id3) | .hops)' "$out" >/dev/null \
    || { cat "$out"; fail "peer2 is not fewer hops away than peer3"; }
osm 1 peers --near >"$out" || fail "peers --near (table) exited $?"
grep -q '^RANK' "$out" || { cat "$out"; fail "peers --near: no header"; }
line2=$(grep -n ' peer2 ' "$out" | cut -d: -f1); line3=$(grep -n ' peer3 ' "$out" | cut -d: -f1)
[ -n "$line2" ] && [ -n "$line3" ] && [ "$line2" -lt "$line3" ] \
    || { cat "$out"; fail "peers --near table: peer2 not above peer3"; }
grep -q 'peer1\*' "$out" || { cat "$out"; fail "peers --near table does not mark this peer"; }
osm 1 peers --near --cpus 9999 --json >"$out" || fail "peers --near --cpus 9999 exited $?"
jq -e --arg id "$id2" 'any(.[]; .id == $id and .qualifies == false and (.reason | length) > 0)' \
    "$out" >/dev/null || { cat "$out"; fail "a peer with too few CPUs qualifies, or gives no reason"; }
rc=0; osm 1 peers --cpus 2 2>"$err" || rc=$?
[ $rc -eq 2 ] || fail "peers --cpus without --near: exit $rc, want 2"
echo "peers --near: peer2 (same room) ranks before peer3 (another floor)"

#   --- run
got=$(osm 1 run echo.echo --data hello) || fail "run echo.echo --data hello exited $?"
[ "$got" = hello ] || fail "run echo.echo --data hello printed '$got'"
osm 1 --json run echo.echo --data hello >"$out" || fail "run --json exited $?"
jq -e '.succeeded == 1 and .failed == 0 and .results[0].output_base64 == "aGVsbG8="' "$out" \
    >/dev/null || { cat "$out"; fail "run --json"; }
provider=$(jq -r '.lease.provider' "$out")
[ "$provider" = "$id2" ] || { cat "$out"; fail "run leased $provider, not the nearest peer2 ($id2)"; }
head -c 100000 /dev/urandom >"$MESH_DIR/blob"
osm 1 run echo.echo --input "$MESH_DIR/blob" >"$out" || fail "run --input exited $?"
cmp -s "$MESH_DIR/blob" "$out" || fail "run --input: output differs from the input (binary)"
osm 1 run echo.echo --input - <"$MESH_DIR/blob" >"$out" || fail "run --input - exited $?"
cmp -s "$MESH_DIR/blob" "$out" || fail "run --input -: output differs from the input"
got=$(osm 1 run echo.echo --data ab --count 50) || fail "run --count 50 exited $?"
[ "$got" = "$(printf 'ab%.0s' $(seq 50))" ] || fail "run --count 50 printed '$got'"
echo "run echo.echo: text, binary, stdin and --count 50 on peer2"

rc=0; osm 1 run echo.nope --data x >"$out" 2>"$err" || rc=$?
[ $rc -eq 4 ] || { cat "$err"; fail "run echo.nope: exit $rc, want 4"; }
grep -q 'echo.nope' "$err" || fail "run echo.nope does not name the function: $(cat "$err")"
[ ! -s "$out" ] || fail "run echo.nope printed on stdout: $(cat "$out")"
echo "unknown function: $(cat "$err")"
rc=0; osm 1 run echo.fail --data "it broke" 2>"$err" >/dev/null || rc=$?
[ $rc -eq 1 ] || fail "run echo.fail: exit $rc, want 1"
grep -q 'it broke' "$err" || fail "run echo.fail does not give the task's reason: $(cat "$err")"
rc=0; osm 1 run nodot 2>"$err" || rc=$?
[ $rc -eq 2 ] || fail "run nodot: exit $rc, want 2"
rc=0; osm 1 run echo.echo --data x --input "$MESH_DIR/blob" 2>"$err" || rc=$?
[ $rc -eq 2 ] || fail "run with --data and --input: exit $rc, want 2"
rc=0; osm 1 run echo.echo --hold 3 2>"$err" || rc=$?
[ $rc -eq 2 ] || fail "run --hold: exit $rc, want 2"
echo "run failures: exit codes 4, 1, 2"

#   --- lease --hold and leases
osm 1 leases >"$out" || fail "leases exited $?"
grep -q '^ROLE' "$out" || { cat "$out"; fail "leases: no header"; }
"$OSMOSE" -e "$(mesh_api 1)" --json lease --hold 60 >"$MESH_DIR/hold" 2>"$MESH_DIR/hold.err" &
hold_pid=$!
has_lease () { jq -e '.lease | length > 0' "$MESH_DIR/hold" >/dev/null 2>&1; }
mesh_wait_for 15 has_lease || { cat "$MESH_DIR/hold.err"; fail "lease --hold printed no lease"; }
lease=$(jq -r .lease "$MESH_DIR/hold" | head -n 1)
holder=$(jq -r .provider "$MESH_DIR/hold" | head -n 1)
case $holder in
    "$id2") p=2 ;; "$id3") p=3 ;; "$id1") p=1 ;; *) fail "lease names provider '$holder'" ;;
esac
osm 1 --json leases >"$out" || fail "leases --json exited $?"
jq -e --arg l "$lease" 'any(.held[]; .lease == $l)' "$out" >/dev/null \
    || { cat "$out"; fail "leases --json on the client does not show the held lease $lease"; }
granted () { osm "$p" --json leases | jq -e --arg l "$lease" 'any(.granted[]; .lease == $l)'; }
mesh_wait_for 5 granted || fail "leases --json on peer$p does not show lease $lease as granted"
osm 1 leases | grep -q "^held  *$(printf %.12s "$lease")" \
    || { osm 1 leases; fail "leases (table) does not list the held lease"; }
kill -INT "$hold_pid"
rc=0; wait "$hold_pid" || rc=$?
[ $rc -eq 0 ] || { cat "$MESH_DIR/hold.err"; fail "lease --hold ended by SIGINT exited $rc"; }
gone () {
    osm 1 --json leases | jq -e --arg l "$lease" 'all(.held[]; .lease != $l)' >/dev/null \
    && osm "$p" --json leases | jq -e --arg l "$lease" 'all(.granted[]; .lease != $l)' >/dev/null
}
mesh_wait_for 5 gone || fail "lease $lease still listed after its holder released it"
osm 1 lease --hold 0 >"$out" || fail "lease --hold 0 exited $?"
grep -q '^provider' "$out" && grep -q '^released' "$out" || { cat "$out"; fail "lease (table)"; }
echo "leases: lease $lease shown held and granted while held, gone after SIGINT"

#   --- contrib/osmose-matmul on two leases
matmul=$top_builddir/contrib/osmose-matmul
if [ -x "$matmul" ]; then
    timeout 120 "$matmul" -e "$(mesh_api 1)" --size 256 --tile 64 --workers 2 --check --json \
        >"$out" 2>"$err" || { cat "$err"; fail "osmose-matmul exited $?"; }
    jq -e '.tasks == 64 and .check.ok == true and ([.workers[].tasks] | add) == 64' "$out" \
        >/dev/null || { cat "$out"; fail "osmose-matmul: wrong result or tasks lost"; }
    echo "osmose-matmul: $(jq -c '{seconds, workers: [.workers[] | {provider, tasks}]}' "$out")"
fi

#   --- the provider of a held lease dies: lease says so and bids again
#   (the old output goes first: the job's own truncation may come after
#   the first poll has read it)
rm -f "$MESH_DIR/hold" "$MESH_DIR/hold.err"
"$OSMOSE" -e "$(mesh_api 1)" --json lease --hold 60 >"$MESH_DIR/hold" 2>"$MESH_DIR/hold.err" &
hold_pid=$!
mesh_wait_for 15 has_lease || { cat "$MESH_DIR/hold.err"; fail "lease --hold printed no lease"; }
first=$(jq -r .provider "$MESH_DIR/hold")
case $first in
    "$id2") victim=2 ;; "$id3") victim=3 ;; *) fail "lease --hold leased $first, not a peer" ;;
esac
mesh_stop "$victim" KILL
moved () { [ "$(jq -r .provider "$MESH_DIR/hold" | sort -u | wc -l)" -ge 2 ]; }
mesh_wait_for 20 moved || { cat "$MESH_DIR/hold" "$MESH_DIR/hold.err"; fail "lease --hold did not bid again when peer$victim died"; }
grep -q 'ended after .*bidding again' "$MESH_DIR/hold.err" \
    || fail "lease --hold did not say why it bid again: $(cat "$MESH_DIR/hold.err")"
kill -TERM "$hold_pid"
rc=0; wait "$hold_pid" || rc=$?
[ $rc -eq 0 ] || { cat "$MESH_DIR/hold.err"; fail "lease --hold ended by SIGTERM exited $rc"; }
echo "provider peer$victim killed: $(cat "$MESH_DIR/hold.err"); now on $(jq -r .name "$MESH_DIR/hold" | tail -n 1)"

#   --- a lone peer: retry-local falls back to itself, fail fails
mesh_start 4 -s node/location=annex/f1/r1
mesh_wait_for 10 osm 4 status || fail "peer4 did not start"
osm 4 --json run echo.echo --data alone >"$out" || fail "lone peer: run exited $?"
jq -e '.lease.local == true and .results[0].output_base64 == "YWxvbmU="' "$out" >/dev/null \
    || { cat "$out"; fail "lone peer: retry-local did not run on this device"; }
rc=0; osm 4 run echo.echo --data x --failure fail --timeout 2000 >/dev/null 2>"$err" || rc=$?
[ $rc -eq 6 ] || { cat "$err"; fail "lone peer with --failure fail: exit $rc, want 6"; }
echo "lone peer: local fallback; --failure fail exits 6: $(cat "$err")"

#   --- no daemon: one line, nothing on stdout, exit 3
nobody="ipc://$MESH_DIR/nobody.sock"
for verb in "lease --hold 0" "run echo.echo --data x" "leases" "peers --near"; do
    rc=0
    # shellcheck disable=SC2086
    "$OSMOSE" -e "$nobody" -t 300 $verb >"$out" 2>"$err" || rc=$?
    [ $rc -eq 3 ] || fail "'$verb' with no daemon: exit $rc, want 3"
    [ ! -s "$out" ] || fail "'$verb' with no daemon printed: $(cat "$out")"
    [ "$(wc -l <"$err")" -eq 1 ] && grep -q "not running at $nobody" "$err" \
        || fail "'$verb' with no daemon said: $(cat "$err")"
done
echo "no daemon: $(cat "$err")"

for i in 1 2 3 4; do mesh_stop "$i"; done
echo "lease_cli: OK"
