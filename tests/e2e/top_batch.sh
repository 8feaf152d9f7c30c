#!/bin/sh
#   top_batch: osmose-top -b and --json. On a replayed mesh of 64 peers with
#   known capacities, every frame shows every peer and the right totals,
#   in the asked order and filter. On a live mesh of three osmosed, the
#   frames agree with what the daemon reports through "osmose --json peers"
#   (peer count, ids, CPUs); all three must appear (OSMOSE_TEST_MESH=0 relaxes it).
. "$top_srcdir/tests/e2e/top_lib.inc"
need jq

#   ---- Replay: 64 peers, 3 frames
t_frames 64 3 >"$T_DIR/frames.jsonl"
jq -e 'length > 0' "$T_DIR/frames.jsonl" >/dev/null || fail "the test's own frames do not parse"
"$OSMOSE_TOP" --replay "$T_DIR/frames.jsonl" -b -n 3 -d 0 >"$T_DIR/batch.txt" \
    || fail "osmose-top -b --replay exited $?"
[ "$(grep -c '^osmose-top - peer 0000000000000001 (p00) at hq/f0/r0' "$T_DIR/batch.txt")" -eq 3 ] \
    || fail "expected 3 frames: $(head -5 "$T_DIR/batch.txt")"
[ "$(grep -Ec '^p[0-9][0-9]\*? +[0-9a-f]{16} ' "$T_DIR/batch.txt")" -eq 192 ] \
    || fail "expected 64 peer rows in each of 3 frames"
for i in $(seq 0 63); do
    name=$(printf 'p%02d' "$i")
    [ "$(grep -Ec "^$name\\*? " "$T_DIR/batch.txt")" -eq 3 ] || fail "peer $name not in every frame"
done
#   Expected totals, computed from the frames by jq, not by osmose-top
alive=$(jq -s '.[0].peers | map(select(.state == "alive")) | length' "$T_DIR/frames.jsonl")
cpus=$(jq -s '.[0].peers | map(select(.state == "alive" or .state == "suspect") | .resources.cpus) | add' "$T_DIR/frames.jsonl")
free=$(jq -s '.[0].peers | map(select(.state == "alive" or .state == "suspect") | .resources.cpus_free) | add' "$T_DIR/frames.jsonl")
gpus=$(jq -s '.[0].peers | map(select(.state == "alive" or .state == "suspect") | .resources.gpus) | add' "$T_DIR/frames.jsonl")
grep -q "^Peers: 64 total, $alive alive, 4 suspect, 4 dead, 0 left$" "$T_DIR/batch.txt" \
    || fail "peer counts: $(grep '^Peers' "$T_DIR/batch.txt" | head -1)"
grep -q "^CPUs: $free/$cpus free   GPUs: $gpus/$gpus free" "$T_DIR/batch.txt" \
    || fail "capacities, expected $free/$cpus CPUs: $(grep '^CPUs' "$T_DIR/batch.txt" | head -1)"
grep -q '^lease1 ' "$T_DIR/batch.txt" || fail "no lease table"
grep -q '^task0 *demo.square' "$T_DIR/batch.txt" || fail "no task table"
grep -q 'granted lease4$' "$T_DIR/batch.txt" || fail "no log tail"

"$OSMOSE_TOP" --replay "$T_DIR/frames.jsonl" --json -n 3 -d 0 >"$T_DIR/frames.out" \
    || fail "osmose-top --json --replay exited $?"
[ "$(wc -l <"$T_DIR/frames.out")" -eq 3 ] || fail "--json -n 3 did not print 3 lines"
jq -e . "$T_DIR/frames.out" >/dev/null || fail "--json printed something that is not JSON"
jq -e --argjson cpus "$cpus" --argjson free "$free" \
    '(.peers | length) == 64 and .summary.peers == 64 and .summary.cpus == $cpus
     and .summary.cpus_free == $free and .summary.suspect == 4 and .summary.dead == 4' \
    "$T_DIR/frames.out" >/dev/null || fail "--json summary: $(head -1 "$T_DIR/frames.out" | jq -c .summary)"

#   Order and filter, as a script would use them
"$OSMOSE_TOP" --replay "$T_DIR/frames.jsonl" -b -n 1 -s name >"$T_DIR/name.txt"
grep -Eo '^p[0-9][0-9]' "$T_DIR/name.txt" >"$T_DIR/order"
seq 0 63 | awk '{ printf "p%02d\n", $1 }' | cmp -s - "$T_DIR/order" || fail "-s name: wrong order"
"$OSMOSE_TOP" --replay "$T_DIR/frames.jsonl" -b -n 1 -s name -r | grep -Eo '^p[0-9][0-9]' | head -1 \
    | grep -qx p63 || fail "-s name -r does not start with p63"
"$OSMOSE_TOP" --replay "$T_DIR/frames.jsonl" -b -n 1 -s rtt | grep -Eo '^p[0-9][0-9]' | head -2 \
    | tr '\n' ' ' | grep -qx 'p01 p02 ' || fail "-s rtt: nearest first"
"$OSMOSE_TOP" --replay "$T_DIR/frames.jsonl" -b -n 1 -f hq/f1/ >"$T_DIR/filter.txt"
[ "$(grep -Ec '^p[0-9][0-9]' "$T_DIR/filter.txt")" -eq 16 ] || fail "-f hq/f1/: expected 16 peers"
grep -Eq '^p[0-9][0-9] .* hq/f[023]/' "$T_DIR/filter.txt" && fail "-f hq/f1/ shows other floors"

#   Replay from stdin, and a bad line named by file and line
head -1 "$T_DIR/frames.jsonl" | "$OSMOSE_TOP" --replay - -b | grep -q '^Peers: 64 total' \
    || fail "--replay - (stdin)"
{ head -1 "$T_DIR/frames.jsonl"; echo '{"peers": ['; } >"$T_DIR/bad.jsonl"
"$OSMOSE_TOP" --replay "$T_DIR/bad.jsonl" -b >/dev/null 2>"$T_DIR/err"; rc=$?
[ $rc -eq 2 ] || fail "a bad replay line: exit $rc, expected 2"
grep -q "bad.jsonl:2: not a JSON frame" "$T_DIR/err" || fail "bad line not named: $(cat "$T_DIR/err")"
"$OSMOSE_TOP" -b -s colour >/dev/null 2>&1 && fail "-s colour accepted"
"$OSMOSE_TOP" -b -d 0 >/dev/null 2>&1 && fail "-d 0 accepted against a daemon"

#   ---- Live: three osmosed
t_mesh
ep="ipc://$T_DIR/alpha.sock"
if [ "${OSMOSE_TEST_MESH:-1}" = 1 ]; then
    tries=0
    until [ "$("$OSMOSE" -e "$ep" --json peers | jq 'map(select(.state == "alive")) | length')" = 3 ]; do
        tries=$((tries + 1))
        [ $tries -lt 100 ] || fail "alpha did not see 3 alive peers within 20 s"
        sleep 0.2
    done
fi
"$OSMOSE" -e "$ep" --json peers >"$T_DIR/peers.json" || fail "osmose --json peers exited $?"
count=$(jq length "$T_DIR/peers.json")
[ "$count" -ge 1 ] || fail "the daemon reports no peers"
"$OSMOSE_TOP" -e "$ep" -b -n 2 -d 0.2 >"$T_DIR/live.txt" || fail "osmose-top -b exited $?"
[ "$(grep -c '^osmose-top - peer [0-9a-f]\{16\} (alpha) at hq/floor1/lab' "$T_DIR/live.txt")" -eq 2 ] \
    || fail "-b -n 2: expected two frames of alpha: $(head -3 "$T_DIR/live.txt")"
#   Only the peer tables: lease and log rows may name peers too
awk '/^NAME / { on = 1; next } /^$/ { on = 0 } on' "$T_DIR/live.txt" >"$T_DIR/live.peers"
for id in $(jq -r '.[].id' "$T_DIR/peers.json"); do
    [ "$(grep -Ec "^[^ ]+ +$id " "$T_DIR/live.peers")" -eq 2 ] || fail "peer $id missing from a frame"
done
#   Peers may still be joining: each frame holds at least those reported
#   before, and its count is that of its own rows
awk '/^osmose-top - peer/ { frame++ } /^NAME / { on = 1; next } /^$/ { on = 0 }
     /^Peers: / { total[frame] = $2 } on { rows[frame]++ }
     END { for (f = 1; f <= 2; f++) if (total[f] != rows[f]) exit 1 }' "$T_DIR/live.txt" \
    || fail "the peer count in a header is not the number of rows"
grep -Eq "^Peers: [0-9]+ total" "$T_DIR/live.txt" || fail "no peer count"

"$OSMOSE_TOP" -e "$ep" --json -n 2 -d 0.2 >"$T_DIR/live.json" || fail "osmose-top --json exited $?"
[ "$(wc -l <"$T_DIR/live.json")" -eq 2 ] || fail "--json -n 2 did not print 2 lines"
jq -e . "$T_DIR/live.json" >/dev/null || fail "--json output does not parse"
jq -e --argjson n "$count" '(.peers | length) >= $n and .summary.peers == (.peers | length)
    and .status.name == "alpha"' "$T_DIR/live.json" >/dev/null \
    || fail "--json frames do not hold the $count peers"
for id in $(jq -r '.[].id' "$T_DIR/peers.json"); do
    jq -e --arg id "$id" 'any(.peers[]; .id == $id)' "$T_DIR/live.json" >/dev/null \
        || fail "--json: peer $id missing"
done
#   Capacities: the summary adds up what the daemon reports for its peers
#   (computed here by jq, from the same frame)
jq -e '.summary.cpus == ([.peers[] | select(.state == "alive" or .state == "suspect")
    | .resources.cpus | numbers] | if length == 0 then null else add end)
    and .summary.memory_mb == ([.peers[] | select(.state == "alive" or .state == "suspect")
    | .resources.memory_mb | numbers] | if length == 0 then null else add end)' \
    "$T_DIR/live.json" >/dev/null \
    || fail "summary capacities do not add up: $(head -1 "$T_DIR/live.json" | jq -c .summary)"
if [ "${OSMOSE_TEST_MESH:-1}" = 1 ]; then
    jq -e '(.peers | map(.name) | sort) == ["alpha", "beta", "gamma"]' "$T_DIR/live.json" \
        >/dev/null || fail "the frames do not hold alpha, beta and gamma"
    for name in alpha beta gamma; do
        grep -Eq "^$name\\*? " "$T_DIR/live.txt" || fail "$name missing from the batch frames"
    done
fi
echo "top_batch: OK ($count live peer(s) seen by alpha)"
