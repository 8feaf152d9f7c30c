#!/bin/sh
# log_tail.sh: "osmose log tail -f" follows a writer in another process.
: "${OSMOSE:?OSMOSE must point at the osmose binary}"
dir=$(mktemp -d /tmp/osmose-log-tail-XXXXXX)
follower=""
trap '[ -n "$follower" ] && kill "$follower" 2>/dev/null; rm -rf "$dir"' EXIT
S="$dir/state/log"
fail () { echo "FAIL: $*"; exit 1; }
log () { "$OSMOSE" log -s "$S" "$@"; }
log init >/dev/null || fail init
log append EVENT before >/dev/null || fail append
log tail -f -n 1 > "$dir/out" 2>"$dir/err" &
follower=$!
i=0
until grep -q '"before"' "$dir/out" || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
for i in 1 2 3; do log append EVENT "live $i" >/dev/null || fail "append $i"; done
i=0
until grep -q '"live 3"' "$dir/out" || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
grep -q '"live 3"' "$dir/out" || fail "tail -f missed entries: $(cat "$dir/out" "$dir/err")"
[ "$(grep -c live "$dir/out")" -eq 3 ] || fail "tail -f printed entries twice or lost some"
[ "$(head -n 1 "$dir/out" | grep -c '"before"')" -eq 1 ] || fail "tail -n 1 did not start with the last entry"
kill "$follower"; wait "$follower"; follower=""
echo "log_tail: ok"
