#!/bin/sh
# log_lock.sh: one writer per store. While another process holds the
# store's lock, writing commands fail clearly (OSMOSE_ELOCKED) and change
# nothing; readers keep working.
: "${OSMOSE:?OSMOSE must point at the osmose binary}"
command -v flock >/dev/null || { echo "flock(1) not installed"; exit 77; }
dir=$(mktemp -d /tmp/osmose-log-lock-XXXXXX)
holder=""
trap '[ -n "$holder" ] && kill "$(cat "$dir/holder" 2>/dev/null)" "$holder" 2>/dev/null; rm -rf "$dir"' EXIT
S="$dir/state/log"
fail () { echo "FAIL: $*"; exit 1; }
log () { "$OSMOSE" log -s "$S" "$@"; }

log init >/dev/null || fail init
log append EVENT "external-1" --external >/dev/null || fail append
# Another process takes the writer's lock (the same flock osmosed takes)
flock -x "$S/lock" sh -c "echo \$\$ > '$dir/holder'; exec sleep 30" &
holder=$!
i=0
until ! flock -n "$S/lock" true 2>/dev/null || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
log append EVENT second 2>"$dir/err" >/dev/null; rc=$?
[ $rc -ne 0 ] || fail "a second writer got in"
grep -q 'in use by another process.*OSMOSE_ELOCKED' "$dir/err" || fail "unclear error: $(cat "$dir/err")"
log erase 1 --reason x 2>"$dir/err" >/dev/null && fail "erase while locked"
grep -q OSMOSE_ELOCKED "$dir/err" || fail "erase: unclear error: $(cat "$dir/err")"
log verify >/dev/null || fail "readers need no lock"
[ "$(log stats --json | jq .entries)" -eq 2 ] || fail "the store changed"
kill "$(cat "$dir/holder")" "$holder" 2>/dev/null; wait "$holder" 2>/dev/null; holder=""
log append EVENT second >/dev/null || fail "append after the lock was released"
echo "log_lock: ok"
