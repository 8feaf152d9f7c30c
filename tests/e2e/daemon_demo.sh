#!/bin/sh
#   daemon_demo: the README's demo (contrib/demo.sh) runs to the end: three
#   peers with their own keys join through a seed and all see each other
#   alive; it shows every peer's status and stops every peer cleanly,
#   leaving nothing behind.
. "$top_srcdir/tests/lib/daemon.sh"

export OSMOSED OSMOSE OSMOSE_TOP
OSMOSE_DEMO_PORT=$E2E_PORT_BASE OSMOSE_DEMO_SETTLE=20 \
    sh "$top_srcdir/contrib/demo.sh" 3 >"$E2E_DIR/demo.out" 2>&1
rc=$?
cat "$E2E_DIR/demo.out"
[ $rc -eq 0 ] || fail "demo.sh exited $rc"
for peer in peer1 peer2 peer3; do
    grep -q "^=== $peer: osmose status" "$E2E_DIR/demo.out" || fail "no status of $peer"
    grep -q "^$peer stopped, exit 0 " "$E2E_DIR/demo.out" || fail "$peer did not stop cleanly"
    grep -q "^$peer sees 3 of 3 peers alive" "$E2E_DIR/demo.out" || fail "$peer does not see the mesh"
done
[ "$(grep -c '^location ' "$E2E_DIR/demo.out")" -eq 3 ] || fail "expected 3 status blocks"
grep -q "^osmose-top - peer [0-9a-f]\{16\} (peer1)" "$E2E_DIR/demo.out" || fail "no osmose-top frame"
dir=$(sed -n 's/^=== starting 3 osmose peers in //p' "$E2E_DIR/demo.out")
[ -n "$dir" ] && [ ! -e "$dir" ] || fail "demo left $dir behind"
echo "daemon_demo: OK"
