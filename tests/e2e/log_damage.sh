#!/bin/sh
# log_damage.sh: damaged stores give clear errors and exit 5, never a
# silent acceptance; a torn (uncommitted) tail is dropped and reported;
# nothing committed is lost.
: "${OSMOSE:?OSMOSE must point at the osmose binary}"
dir=$(mktemp -d /tmp/osmose-log-damage-XXXXXX)
trap 'rm -rf "$dir"' EXIT
S="$dir/state/log"
fail () { echo "FAIL: $*"; exit 1; }
log () { "$OSMOSE" log -s "$S" "$@"; }
# Flip one byte at OFFSET of FILE
flip () {
    byte=$(dd if="$1" bs=1 skip="$2" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
    printf "$(printf '\\%03o' $((byte ^ 4)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
expect () {     # expect CODE PATTERN COMMAND...: exit code and stderr
    code=$1; pattern=$2; shift 2
    "$@" >/dev/null 2>"$dir/err"; rc=$?
    [ $rc -eq "$code" ] || fail "'$*' exited $rc, expected $code: $(cat "$dir/err")"
    grep -q "$pattern" "$dir/err" || fail "'$*': no '$pattern' in: $(cat "$dir/err")"
}

log init >/dev/null || fail init
for i in 1 2 3 4 5 6; do log append EVENT "event $i" >/dev/null || fail "append $i"; done
log verify >/dev/null || fail "fresh store does not verify"
cp -r "$S" "$dir/good"
restore () { rm -rf "$S"; cp -r "$dir/good" "$S"; }
# Record sizes: GENESIS 8+24+32+32 = 96; "event N" 8+24+7+32 = 71
rec1=96; rec2=$((96 + 71)); size=$(stat -c %s "$S/entries.log")

# Torn tail: half a record after the last committed one is dropped, reported
printf '\000\000\000\100\377\377\377\277\001\000partial' >> "$S/entries.log"
log show 2>"$dir/err" >/dev/null || fail "reader refused a torn tail"
grep -q 'ignoring an incomplete tail of 17 bytes' "$dir/err" || fail "torn tail not reported: $(cat "$dir/err")"
log append EVENT "after crash" 2>"$dir/err" >/dev/null || fail "writer refused a torn tail"
grep -q 'dropped an incomplete tail' "$dir/err" || fail "repair not reported"
log verify >/dev/null || fail "verify after repair"
[ "$(log stats --json | jq .entries)" -eq 8 ] || fail "entries lost in repair"
restore

# Truncated file: cutting into committed entries is damage
truncate -s $((size - 10)) "$S/entries.log"
expect 5 'head covers 7 entries but only 6' log verify
restore

# A flipped byte in an entry, in its stored hash, in its length field
flip "$S/entries.log" $((rec1 + 20))
expect 5 'entry 1 at offset 96: checksum' log verify
expect 5 'entry 1' log show
expect 5 'entry 1' log append EVENT x
restore
flip "$S/entries.log" $((rec2 - 3))
expect 5 'entry 1 at offset 96: checksum' log verify
restore
flip "$S/entries.log" $((rec1 + 2))
expect 5 'damaged length field' log verify
restore

# A huge length field (well formed) is refused, not trusted
printf '\177\377\377\377\200\000\000\000' >> "$S/entries.log"
expect 5 'over the limit' log verify
restore

# Entries out of order: swap the records of entries 1 and 2
dd if="$S/entries.log" of="$dir/r1" bs=1 skip=$rec1 count=71 2>/dev/null
dd if="$S/entries.log" of="$dir/r2" bs=1 skip=$rec2 count=71 2>/dev/null
dd if="$dir/r2" of="$S/entries.log" bs=1 seek=$rec1 conv=notrunc 2>/dev/null
dd if="$dir/r1" of="$S/entries.log" bs=1 seek=$rec2 conv=notrunc 2>/dev/null
expect 5 'out of order' log verify
restore

# A flipped byte in the signature of the head (checksum no longer matches)
flip "$S/heads.log" 150
expect 5 'heads.log' log verify
restore

# A head signed by another key (a well-formed record from another feed)
"$OSMOSE" log -s "$dir/other/log" init >/dev/null || fail "init other"
"$OSMOSE" log -s "$dir/other/log" append EVENT x >/dev/null || fail "append other"
cp "$dir/other/log/heads.log" "$S/heads.log"
expect 5 'another key' log verify
restore

# A damaged external payload is found by verify
log append EVENT "payload-abcdef" --external >/dev/null || fail "external"
off=$(grep -boa 'payload-abcdef' "$S/payloads.dat" | cut -d: -f1)
flip "$S/payloads.dat" "$off"
expect 5 'does not match its hash' log verify
restore

# Through all that, the committed entries are intact
log verify | grep -q '^ok: 7 entries' || fail "the good copy no longer verifies"
echo "log_damage: ok"
