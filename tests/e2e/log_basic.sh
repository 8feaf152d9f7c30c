#!/bin/sh
# log_basic.sh: osmose log on a real store: init, append, show (people and
# --json), verify, prove (inclusion and consistency), stats, erase (the
# bytes leave the disk, proofs and verification still pass), exit codes.
: "${OSMOSE:?OSMOSE must point at the osmose binary}"
dir=$(mktemp -d /tmp/osmose-log-basic-XXXXXX)
trap 'rm -rf "$dir"' EXIT
S="$dir/state/log"
fail () { echo "FAIL: $*"; exit 1; }
log () { "$OSMOSE" log -s "$S" "$@"; }

# A missing store is "not found" (4)
log show >/dev/null 2>&1; [ $? -eq 4 ] || fail "show of a missing store should exit 4"
log init >/dev/null || fail "init"
[ -f "$dir/state/node.key" ] || fail "init made no key"
for i in 1 2 3 4 5; do log append EVENT "event $i" >/dev/null || fail "append $i"; done
idx=$(log append TASK_SUBMIT "alice-personal-data-4711" --external) || fail "external append"
[ "$idx" = 6 ] || fail "external entry index is '$idx', expected 6"
log append LEASE_GRANT "lease 9" >/dev/null || fail "append lease"

# show: people's view and JSON
log show | grep -q 'EVENT *"event 3"' || fail "show lacks event 3"
[ "$(log show | wc -l)" -eq 8 ] || fail "show should list 8 entries"
log show 6 --json | jq -e '.type == "TASK_SUBMIT" and .external and .payload == "alice-personal-data-4711"' >/dev/null \
    || fail "show 6 --json"
[ "$(log --json show --from 2 -n 3 | wc -l)" -eq 3 ] || fail "show --from 2 -n 3"
log show 99 >/dev/null 2>&1; [ $? -eq 4 ] || fail "show of a missing entry should exit 4"
log show abc >/dev/null 2>&1; [ $? -eq 2 ] || fail "show abc should be a usage error"

# verify, prove, stats
log verify | grep -q '^ok: 8 entries' || fail "verify"
log verify --json | jq -e '.ok and .size == 8' >/dev/null || fail "verify --json"
log prove 3 --json | jq -e '.verified and .entry == 3 and .size == 8 and (.proof.path | length) == 3' >/dev/null \
    || fail "prove 3"
log prove --consistency 3 --json | jq -e '.verified and .old_size == 3' >/dev/null || fail "prove --consistency 3"
log prove 8 >/dev/null 2>&1; [ $? -eq 4 ] || fail "prove of a missing entry should exit 4"
root_before=$(log prove 3 --json | jq -r .root)
leaf_before=$(log prove 6 --json | jq -r .leaf)
log stats --json | jq -e '.entries == 8 and .payloads == 1 and .types.EVENT == 5' >/dev/null || fail "stats"

# erase: the payload is gone from the disk, the leaf stays, proofs still pass
grep -q alice-personal-data-4711 "$S/payloads.dat" || fail "payload not on disk before erase"
log erase 6 >/dev/null 2>&1; [ $? -eq 2 ] || fail "erase without --reason should be a usage error"
log erase 2 --reason test >/dev/null 2>&1; [ $? -eq 1 ] || fail "erasing an inline payload should fail"
log erase 6 --reason "GDPR request 12" | grep -q 'ERASE entry 8' || fail "erase 6"
grep -q alice-personal-data-4711 "$S"/* && fail "the erased bytes are still on disk"
log show 6 | grep -q 'erased by entry 8' || fail "show does not say who erased entry 6"
log show 8 --json | jq -e '.type == "ERASE" and .erases == 6 and .reason == "GDPR request 12"' >/dev/null \
    || fail "ERASE entry"
log show 6 --json | jq -e '.erased_by == 8' >/dev/null || fail "erased_by in json"
log erase 6 --reason again >/dev/null 2>&1; [ $? -eq 1 ] || fail "erasing twice should fail"
log verify >/dev/null || fail "verify after erase"
[ "$(log prove 6 --size 8 --json | jq -r .leaf)" = "$leaf_before" ] || fail "leaf of 6 changed"
[ "$(log prove 3 --size 8 --json | jq -r .root)" = "$root_before" ] || fail "root at size 8 changed"
log prove 6 --json | jq -e '.verified and .size == 9' >/dev/null || fail "prove 6 after erase"

# tail
[ "$(log tail -n 2 | wc -l)" -eq 2 ] || fail "tail -n 2"
log tail -n 1 | grep -q ERASE || fail "tail ends with the ERASE entry"
echo "log_basic: ok"
