#!/bin/sh
#   daemon_config: --check-config accepts the documented configuration and
#   rejects each kind of bad setting with "FILE:LINE: reason" and exit 2.
. "$top_srcdir/tests/lib/daemon.sh"

#   The printed default configuration is complete and valid as it stands
"$OSMOSED" --print-config >"$E2E_DIR/default.conf" || fail "--print-config exited $?"
out=$("$OSMOSED" -c "$E2E_DIR/default.conf" --check-config) \
    || fail "--print-config output does not validate"
[ "$out" = "$E2E_DIR/default.conf: configuration is valid" ] || fail "unexpected: $out"

#   The same with a test peer's configuration and a valid override
conf=$(e2e_config alpha 0)
"$OSMOSED" -c "$conf" -s node/location=hq/floor2/room7 --check-config >/dev/null \
    || fail "valid configuration with override rejected"

#   bad LINE_NUMBER EXPECTED_REASON: the text on stdin must be rejected with
#   exactly "osmosed: FILE:LINE: ..." naming the reason, and exit 2
bad () {
    line=$1; reason=$2
    cat >"$E2E_DIR/bad.conf"
    "$OSMOSED" -c "$E2E_DIR/bad.conf" --check-config >"$E2E_DIR/out" 2>"$E2E_DIR/err"
    rc=$?
    [ $rc -eq 2 ] || fail "bad config (expect line $line: $reason) exited $rc"
    [ ! -s "$E2E_DIR/out" ] || fail "bad config printed on stdout: $(cat "$E2E_DIR/out")"
    [ "$(wc -l <"$E2E_DIR/err")" -eq 1 ] || fail "expected one line, got: $(cat "$E2E_DIR/err")"
    grep -q "^osmosed: $E2E_DIR/bad.conf:$line: .*$reason" "$E2E_DIR/err" \
        || fail "expected 'bad.conf:$line: ...$reason', got: $(cat "$E2E_DIR/err")"
    echo "rejected as expected: $(cat "$E2E_DIR/err")"
}
bad 5 'out of range' <<'CONF'
#   a comment
node
    name = "kitchen"
mesh
    active_view = 1000
CONF
bad 3 'not an integer' <<'CONF'
mesh
    bind = "tcp://127.0.0.1:7470"
    probe_interval_ms = soon
CONF
bad 2 'is not one of' <<'CONF'
log
    fsync = sometimes
CONF
bad 4 'not an endpoint' <<'CONF'
node
    name = "x"
api
    endpoint = "http://localhost/"
CONF
bad 2 'unknown setting' <<'CONF'
node
    colour = "blue"
CONF
bad 3 'not a location path' <<'CONF'
node
    name = "x"
    location = "hq//room"
CONF
bad 2 'absolute path' <<'CONF'
node
    state_dir = "relative/dir"
CONF
bad 2 'not a boolean' <<'CONF'
discovery
    avahi = perhaps
CONF
bad 3 'indentation' <<'CONF'
node
    name = "x"
   location = "hq"
CONF

#   A missing file names the file
"$OSMOSED" -c "$E2E_DIR/missing.conf" --check-config 2>"$E2E_DIR/err" && fail "missing file accepted"
grep -q "missing.conf" "$E2E_DIR/err" || fail "missing file not named: $(cat "$E2E_DIR/err")"

#   A bad override is refused too
"$OSMOSED" -c "$conf" -s mesh/active_view=0 --check-config 2>"$E2E_DIR/err" \
    && fail "out-of-range override accepted"
grep -q "mesh/active_view" "$E2E_DIR/err" || fail "bad override not named: $(cat "$E2E_DIR/err")"

#   The conffile that make install and the .deb ship is generated from
#   --print-config: it must be current (every setting) and valid
conffile="$top_builddir/packaging/osmose.conf"
if [ -f "$conffile" ]; then
    "$OSMOSED" -c "$conffile" --check-config >/dev/null || fail "$conffile does not validate"
    "$OSMOSED" --print-config | cmp -s - "$conffile" \
        || fail "$conffile is stale: it differs from osmosed --print-config"
fi
echo "daemon_config: OK"
