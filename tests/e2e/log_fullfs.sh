#!/bin/sh
# log_fullfs.sh: a full disk. On a 256 KiB tmpfs, appends eventually fail
# with a clear "no space" error; every entry committed before stays and the
# store verifies; after freeing space appends work again.
: "${OSMOSE:?OSMOSE must point at the osmose binary}"
[ "$(id -u)" -eq 0 ] || { echo "needs root to mount a tmpfs"; exit 77; }
dir=$(mktemp -d /tmp/osmose-log-fullfs-XXXXXX)
trap 'umount "$dir/mnt" 2>/dev/null; rm -rf "$dir"' EXIT
mkdir -p "$dir/mnt" "$dir/key"
mount -t tmpfs -o size=256k tmpfs "$dir/mnt" 2>/dev/null || { echo "cannot mount a tmpfs here"; exit 77; }
S="$dir/mnt/log"
fail () { echo "FAIL: $*"; exit 1; }
log () { "$OSMOSE" log -s "$S" -k "$dir/key" "$@"; }

log init >/dev/null || fail init
payload=$(head -c 3000 /dev/zero | tr '\0' 'x')
ok=1; i=0
while [ $i -lt 400 ]; do
    if ! log append EVENT "$i $payload" --external >/dev/null 2>"$dir/err"; then break; fi
    ok=$((ok + 1)); i=$((i + 1))
done
[ $i -lt 400 ] || fail "256 KiB never filled up"
grep -q 'no space left on device' "$dir/err" || fail "unclear error: $(cat "$dir/err")"
# Everything acknowledged is there and verifies (reading needs no space)
log verify >/dev/null 2>"$dir/err" || fail "verify after a full disk: $(cat "$dir/err")"
[ "$(log stats --json | jq .entries)" -eq "$ok" ] || fail "expected $ok entries, got $(log stats --json | jq .entries)"
# Free space (grow the filesystem) and go on
mount -o remount,size=1m "$dir/mnt" || fail "remount"
log append EVENT "after" >/dev/null || fail "append after freeing space"
log verify >/dev/null || fail "verify at the end"
echo "log_fullfs: ok ($ok entries before the disk was full)"
