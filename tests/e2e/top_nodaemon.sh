#!/bin/sh
#   top_nodaemon: with no daemon, osmose-top (screen, batch, JSON) and the
#   osmose CLI each say so in one line on stderr, print nothing on stdout,
#   exit 3, and leave the terminal alone.
. "$top_srcdir/tests/e2e/top_lib.inc"

endpoint="ipc://$T_DIR/nobody.sock"
check () {
    "$@" >"$T_DIR/out" 2>"$T_DIR/err" </dev/null; rc=$?
    [ $rc -eq 3 ] || fail "'$*' exited $rc, expected 3"
    [ ! -s "$T_DIR/out" ] || fail "'$*' printed on stdout: $(cat "$T_DIR/out")"
    [ "$(wc -l <"$T_DIR/err")" -eq 1 ] || fail "'$*' said more than one line: $(cat "$T_DIR/err")"
    grep -q "osmosed is not running at $endpoint" "$T_DIR/err" \
        || fail "'$*' does not say the daemon is not running there: $(cat "$T_DIR/err")"
    echo "$(basename "$1"): $(cat "$T_DIR/err")"
}
check "$OSMOSE_TOP" -e "$endpoint"
check "$OSMOSE_TOP" -e "$endpoint" -b -n 1
check "$OSMOSE_TOP" -e "$endpoint" --json -n 1
OSMOSE_ENDPOINT=$endpoint check "$OSMOSE_TOP" -b
check "$OSMOSE" -e "$endpoint" status
check "$OSMOSE" -e "$endpoint" --json peers

#   In a real terminal: the one line, the prompt back, no screen left over
if command -v tmux >/dev/null 2>&1; then
    t_tmux_start 100 20
    t_keys "'$OSMOSE_TOP' -e '$endpoint'; echo \"top-rc=\$?\"" Enter
    t_wait_screen 'top-rc=3' 5 || fail "osmose-top in a terminal did not exit 3"
    grep -q "osmosed is not running at $endpoint" "$T_DIR/screen" \
        || fail "no clear message in the terminal"
    grep -q 'Peers:' "$T_DIR/screen" && fail "osmose-top drew a screen without a daemon"
fi

#   A daemon that goes away under a batch run: one line, exit 3
t_start solo 0 lab/solo
"$OSMOSE_TOP" -e "ipc://$T_DIR/solo.sock" -b -d 0.2 >"$T_DIR/out" 2>"$T_DIR/err" &
top_pid=$!
tries=0
until grep -q "osmose-top - peer" "$T_DIR/out" || [ $tries -ge 50 ]; do
    sleep 0.1; tries=$((tries + 1))
done
for pid in $T_PIDS; do kill -TERM "$pid"; done
tries=0
while kill -0 "$top_pid" 2>/dev/null && [ $tries -lt 100 ]; do
    sleep 0.1; tries=$((tries + 1))
done
kill -0 "$top_pid" 2>/dev/null && { kill "$top_pid"; fail "osmose-top -b kept running without its daemon"; }
wait "$top_pid"; rc=$?
[ $rc -eq 3 ] || fail "osmose-top -b exited $rc when its daemon stopped, expected 3"
[ "$(wc -l <"$T_DIR/err")" -eq 1 ] || fail "more than one line: $(cat "$T_DIR/err")"
grep -q "lost osmosed at ipc://$T_DIR/solo.sock" "$T_DIR/err" || fail "unclear: $(cat "$T_DIR/err")"
echo "osmose-top -b: $(cat "$T_DIR/err")"
echo "top_nodaemon: OK"
