#!/bin/sh
#   daemon_cli: every program answers --help and --version, and rejects a
#   bad command line with exit status 2 and a hint.
. "$top_srcdir/tests/lib/daemon.sh"

out=$("$OSMOSED" --help) || fail "osmosed --help exited $?"
for option in --config --check-config --print-config --set --init --version; do
    echo "$out" | grep -q -- "$option" || fail "osmosed --help does not mention $option"
done

version=$("$OSMOSED" --version) || fail "osmosed --version exited $?"
echo "$version" | head -n 1 | grep -Eq '^osmosed [0-9]+\.[0-9]+\.[0-9]+$' \
    || fail "osmosed --version first line: $(echo "$version" | head -n 1)"
echo "$version" | grep -Eq '^libzmq [0-9.]+, czmq [0-9.]+, libsodium [0-9.]+' \
    || fail "osmosed --version does not name the libraries"
#   The allocator line must agree with the build's configuration
alloc=$(echo "$version" | grep '^allocator: ') || fail "osmosed --version has no allocator line"
if grep -q '^#define OSMOSE_WITH_JEMALLOC 1' "$top_builddir/src/platform.h"; then
    echo "$alloc" | grep -q '(jemalloc in use)' || fail "built with jemalloc but: $alloc"
else
    echo "$alloc" | grep -q '(jemalloc not in use)' || fail "built without jemalloc but: $alloc"
fi
echo "$version"

"$OSMOSE" --help | grep -q '^Usage: osmose ' || fail "osmose --help"
"$OSMOSE" --help | grep -q 'status' || fail "osmose --help does not list status"
"$OSMOSE" --version | grep -Eq '^osmose [0-9]+\.[0-9]+\.[0-9]+$' || fail "osmose --version"
"$OSMOSE" status --help | grep -q '^Usage: osmose status' || fail "osmose status --help"
"$OSMOSE_TOP" --help | grep -q '^Usage: osmose-top' || fail "osmose-top --help"

#   Usage errors: exit 2 and a message on stderr, nothing on stdout
usage_error () {
    out=$("$@" 2>"$E2E_DIR/err"); rc=$?
    [ $rc -eq 2 ] || fail "'$*' exited $rc, expected 2"
    [ -z "$out" ] || fail "'$*' wrote to stdout: $out"
    [ -s "$E2E_DIR/err" ] || fail "'$*' said nothing on stderr"
}
usage_error "$OSMOSED" --no-such-option
usage_error "$OSMOSED" surplus-argument
usage_error "$OSMOSED" -s no-equals-sign --check-config
usage_error "$OSMOSED" -s node/no_such_setting=1 --check-config
usage_error "$OSMOSE" no-such-command
usage_error "$OSMOSE" --timeout 0 status
usage_error "$OSMOSE_TOP" --iterations 0
usage_error "$OSMOSE_TOP" --delay nonsense
echo "daemon_cli: OK"
