#!/bin/sh
#   top_api: osmose-top through its real client path against a stand-in
#   daemon (tests/top_fake_daemon) that serves 64 peers: batch frames are
#   the same as those of the replayed file, JSON frames hold every peer and
#   the totals, a command the daemon does not know (ENOTSUP) is asked once
#   and then left alone, the screen asks only for what it shows, and the
#   CPU per frame stays in budget.
. "$top_srcdir/tests/e2e/top_lib.inc"
need jq
fake=$top_builddir/tests/top_fake_daemon
[ -x "$fake" ] || skip "tests/top_fake_daemon not built"
budget=${TOP_PERF_BUDGET_MS:-10}

#   fake_start NAME FRAMES: serve FRAMES at ipc://$T_DIR/NAME.sock
fake_start () {
    "$fake" "ipc://$T_DIR/$1.sock" "$2" >"$T_DIR/$1.counts" 2>"$T_DIR/$1.err" &
    fake_pid=$!
    T_PIDS="$T_PIDS $fake_pid"
    tries=0
    until [ -S "$T_DIR/$1.sock" ]; do
        tries=$((tries + 1))
        [ $tries -lt 50 ] || fail "the fake daemon did not start: $(cat "$T_DIR/$1.err")"
        sleep 0.1
    done
}
#   fake_stop: stop it; its counts are then in $T_DIR/NAME.counts
fake_stop () {
    kill -TERM "$fake_pid"
    wait "$fake_pid" || fail "the fake daemon exited $?: $(cat "$T_DIR/$1.err")"
}
asked () {
    sed -n "s/^$2 //p" "$T_DIR/$1.counts"
}

t_frames 64 5 >"$T_DIR/frames.jsonl"
fake_start full "$T_DIR/frames.jsonl"
ep="ipc://$T_DIR/full.sock"

#   The same five frames, from the daemon and from the file
"$OSMOSE_TOP" -e "$ep" -b -n 5 -d 0.1 >"$T_DIR/daemon.txt" || fail "osmose-top -b exited $?"
"$OSMOSE_TOP" --replay "$T_DIR/frames.jsonl" -b -n 5 -d 0 >"$T_DIR/replay.txt"
diff "$T_DIR/replay.txt" "$T_DIR/daemon.txt" >"$T_DIR/diff" \
    || fail "frames from the daemon differ from the file: $(head -20 "$T_DIR/diff")"
grep -q '^Peers: 64 total' "$T_DIR/daemon.txt" || fail "not 64 peers"

"$OSMOSE_TOP" -e "$ep" --json -n 3 -d 0.1 >"$T_DIR/daemon.json" || fail "--json exited $?"
cpus=$(jq -s '.[0].peers | map(select(.state == "alive" or .state == "suspect") | .resources.cpus) | add' "$T_DIR/frames.jsonl")
jq -e --argjson cpus "$cpus" '(.peers | length) == 64 and .summary.cpus == $cpus
    and (.leases | length) == 3 and (.log | length) == 5' "$T_DIR/daemon.json" >/dev/null \
    || fail "JSON frames from the daemon: $(head -1 "$T_DIR/daemon.json" | jq -c .summary)"

#   CPU per frame through the client, 64 peers
"$OSMOSE_TOP" -e "$ep" -b -n 30 -d 0.1 --cpu-report >/dev/null 2>"$T_DIR/cpu" || fail "--cpu-report"
ms=$(sed -n 's/^osmose-top: 30 frames, \([0-9.]*\) ms CPU per frame$/\1/p' "$T_DIR/cpu")
[ -n "$ms" ] || fail "no CPU report: $(cat "$T_DIR/cpu")"
awk -v ms="$ms" -v budget="$budget" 'BEGIN { exit !(ms <= budget) }' \
    || fail "$ms ms CPU per frame from the daemon, over $budget ms"
echo "batch from the daemon: $ms ms CPU per frame at 64 peers"

#   The screen asks for STATUS and PEERS only, while on the peers tab
if command -v tmux >/dev/null 2>&1; then
    fake_stop full
    fake_start screen "$T_DIR/frames.jsonl"
    t_tmux_start 160 50
    t_keys "'$OSMOSE_TOP' -e 'ipc://$T_DIR/screen.sock' -n 5 -d 0.1; echo \"top-rc=\$?\"" Enter
    t_wait_screen '^top-rc=0' 10 || fail "the screen did not end after 5 frames"
    fake_stop screen
    [ "$(asked screen STATUS)" -eq 5 ] || fail "screen: STATUS asked $(asked screen STATUS) times"
    [ "$(asked screen PEERS)" -eq 5 ] || fail "screen: PEERS asked $(asked screen PEERS) times"
    for command in LEASES TASKS LOG_TAIL; do
        [ "$(asked screen $command)" -eq 0 ] || fail "screen: $command asked on the peers tab"
    done
fi

#   An older daemon: no leases, tasks or log. Each is asked once, the
#   tables are left out of batch frames and are null in JSON
jq -c 'del(.leases, .tasks, .log)' "$T_DIR/frames.jsonl" >"$T_DIR/old.jsonl"
fake_start old "$T_DIR/old.jsonl"
"$OSMOSE_TOP" -e "ipc://$T_DIR/old.sock" -b -n 4 -d 0.1 >"$T_DIR/old.txt" || fail "-b on an old daemon"
grep -Eq '^(LEASE|TASK|FEED) ' "$T_DIR/old.txt" && fail "tables shown without data"
[ "$(grep -c '^osmose-top - peer' "$T_DIR/old.txt")" -eq 4 ] || fail "not 4 frames from an old daemon"
"$OSMOSE_TOP" -e "ipc://$T_DIR/old.sock" --json -n 1 | jq -e '.leases == null and .log == null
    and (.peers | length) == 64' >/dev/null || fail "JSON from an old daemon"
fake_stop old
for command in LEASES TASKS LOG_TAIL; do
    [ "$(asked old $command)" -eq 2 ] \
        || fail "$command asked $(asked old $command) times by two runs, expected once each"
done
echo "top_api: OK"
