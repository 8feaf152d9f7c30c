#!/bin/sh
# log_import.sh: replicate a feed into another store as gossip will; a
# feed whose writer signs another history is refused with a fork (exit 5).
: "${OSMOSE:?OSMOSE must point at the osmose binary}"
dir=$(mktemp -d /tmp/osmose-log-import-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail () { echo "FAIL: $*"; exit 1; }
A="$dir/a/log"; R="$dir/replica"; F="$dir/fork/log"
"$OSMOSE" log -s "$A" init >/dev/null || fail init
for i in 1 2 3 4 5; do "$OSMOSE" log -s "$A" append EVENT "a $i" >/dev/null || fail append; done
"$OSMOSE" log -s "$R" import "$A" | grep -q 'imported 6 entries' || fail "first import"
"$OSMOSE" log -s "$R" verify >/dev/null || fail "replica does not verify"
for i in 6 7; do "$OSMOSE" log -s "$A" append EVENT "a $i" >/dev/null || fail append; done
"$OSMOSE" log -s "$R" import "$A" | grep -q 'imported 2 entries; the replica has 8' || fail "second import"
[ "$("$OSMOSE" log -s "$R" prove 3 --json | jq -r .root)" = "$("$OSMOSE" log -s "$A" prove 3 --json | jq -r .root)" ] \
    || fail "replica and source roots differ"
# The same key writes another history elsewhere: a fork
mkdir -p "$dir/fork"
cp "$dir/a/node.key" "$dir/a/node.pub" "$dir/fork/"
"$OSMOSE" log -s "$F" init >/dev/null || fail "init fork"
for i in 1 2 3 4 5 6 7 8 9 10; do "$OSMOSE" log -s "$F" append EVENT "f $i" >/dev/null || fail append; done
"$OSMOSE" log -s "$R" import "$F" >/dev/null 2>"$dir/err"; rc=$?
[ $rc -eq 5 ] || fail "fork import exited $rc: $(cat "$dir/err")"
grep -q 'FORK.*fork proof verifies: yes' "$dir/err" || fail "no fork reported: $(cat "$dir/err")"
"$OSMOSE" log -s "$R" --json import "$F" 2>/dev/null | jq -e '.fork and .larger == 11 and .smaller == 8 and (.fork_proof | length) > 600' >/dev/null \
    || fail "no fork proof in --json"
[ "$("$OSMOSE" log -s "$R" stats --json | jq .entries)" -eq 8 ] || fail "the replica changed"
# A store of another feed is refused: the head is signed by another key
"$OSMOSE" log -s "$dir/b/log" init >/dev/null || fail "init b"
"$OSMOSE" log -s "$R" import "$dir/b/log" >/dev/null 2>"$dir/err"; rc=$?
[ $rc -eq 5 ] || fail "importing another feed exited $rc"
"$OSMOSE" log -s "$R" verify >/dev/null || fail "replica no longer verifies"
echo "log_import: ok"
