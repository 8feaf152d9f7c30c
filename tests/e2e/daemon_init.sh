#!/bin/sh
#   daemon_init: --init creates the state dir and keys once, prints the id,
#   and gives the same id on every later run (the postinst relies on it).
. "$top_srcdir/tests/lib/daemon.sh"

conf=$(e2e_config node 0)
id=$("$OSMOSED" -c "$conf" --init) || fail "--init exited $?"
echo "$id" | grep -Eq '^[0-9a-f]{16}$' || fail "--init printed '$id', not an id"
[ -d "$E2E_DIR/node.state" ] || fail "--init made no state dir"
files=$(ls "$E2E_DIR/node.state")
[ -n "$files" ] || fail "--init made no key files"
#   Secrets (everything but public keys) must not be readable by others
for file in "$E2E_DIR"/node.state/*; do
    case $file in *.pub) continue ;; esac
    mode=$(stat -c %a "$file")
    case $mode in *[1-7]) fail "$file is world-accessible ($mode)" ;; esac
done
again=$("$OSMOSED" -c "$conf" --init) || fail "second --init exited $?"
[ "$again" = "$id" ] || fail "second --init changed the id: $id -> $again"
#   The daemon uses the same identity
e2e_start node
[ "$(osm node --json status | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')" = "$id" ] \
    || fail "daemon's id differs from --init's"
e2e_stop "$E2E_PID" || fail "stop"
#   An unusable state dir is a clear error, not a crash
"$OSMOSED" -c "$conf" -s node/state_dir=/proc/osmose-no --init 2>"$E2E_DIR/err" \
    && fail "--init on /proc succeeded"
grep -q "/proc/osmose-no" "$E2E_DIR/err" || fail "error does not name the dir: $(cat "$E2E_DIR/err")"
echo "daemon_init: OK ($id)"
