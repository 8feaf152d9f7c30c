#!/bin/sh
# log_tail.sh: "osmose log tail -f" follows a writer in another process.
: "${OSMOSE:?OSMOSE must point at the osmose binary}"
dir=$(mktemp -d /tmp/osmose-log-tail-XXXXXX)
follower=""; writer=""
trap '[ -n "$follower" ] && kill "$follower" 2>/dev/null; [ -n "$writer" ] && kill "$writer" 2>/dev/null; wait; rm -rf "$dir"' EXIT
S="$dir/state/log"
fail () { echo "FAIL: $*"; exit 1; }
log () { "$OSMOSE" log -s "$S" "$@"; }
log init >/dev/null || fail init
log append EVENT before >/dev/null || fail append
log tail -f -n 1 > "$dir/out" 2>"$dir/err" &
follower=$!
i=0
until grep -qs '"before"' "$dir/out" || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
for i in 1 2 3; do log append EVENT "live $i" >/dev/null || fail "append $i"; done
i=0
until grep -qs '"live 3"' "$dir/out" || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
grep -q '"live 3"' "$dir/out" || fail "tail -f missed entries: $(cat "$dir/out" "$dir/err")"
[ "$(grep -c live "$dir/out")" -eq 3 ] || fail "tail -f printed entries twice or lost some"
[ "$(head -n 1 "$dir/out" | grep -c '"before"')" -eq 1 ] || fail "tail -n 1 did not start with the last entry"
kill "$follower"; wait "$follower" 2>/dev/null; follower=""

# Readers racing a writer never see damage: verify while appends go on
( for i in $(seq 1 30); do log append EVENT "race $i" --external >/dev/null || exit 1; done ) &
writer=$!
i=0
while kill -0 "$writer" 2>/dev/null && [ $i -lt 200 ]; do
    log verify >/dev/null 2>"$dir/err" || fail "verify during appends: $(cat "$dir/err")"
    i=$((i + 1))
done
wait "$writer" || fail "the writer failed"
writer=""
log verify >/dev/null || fail "verify after the race"
echo "log_tail: ok ($i verifications during appends)"
