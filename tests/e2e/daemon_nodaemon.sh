#!/bin/sh
#   daemon_nodaemon: with no daemon, every tool says one clear line on
#   stderr, prints nothing on stdout and exits 3.
. "$top_srcdir/tests/lib/daemon.sh"

endpoint="ipc://$E2E_DIR/nobody.sock"
check () {
    "$@" >"$E2E_DIR/out" 2>"$E2E_DIR/err"; rc=$?
    [ $rc -eq 3 ] || fail "'$*' exited $rc, expected 3"
    [ ! -s "$E2E_DIR/out" ] || fail "'$*' printed: $(cat "$E2E_DIR/out")"
    [ "$(wc -l <"$E2E_DIR/err")" -eq 1 ] || fail "'$*' said: $(cat "$E2E_DIR/err")"
    grep -q "not running at $endpoint" "$E2E_DIR/err" \
        || fail "'$*' does not name the endpoint: $(cat "$E2E_DIR/err")"
    echo "$(basename "$1"): $(cat "$E2E_DIR/err")"
}
check "$OSMOSE" -e "$endpoint" -t 300 status
check "$OSMOSE" -e "$endpoint" -t 300 --json peers
for verb in leases tasks "move hq/f1" "policy show" "run echo.echo" "lease --hold 0" \
            "peers --near" "trust list" feeds "event x"; do
    # shellcheck disable=SC2086
    check "$OSMOSE" -e "$endpoint" -t 300 $verb
done
check "$OSMOSE_TOP" -e "$endpoint" -b -n 1
OSMOSE_ENDPOINT=$endpoint check "$OSMOSE" -t 300 status
echo "daemon_nodaemon: OK"
