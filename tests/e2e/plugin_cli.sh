#!/bin/sh
#   plugin_cli: "osmose plugin hash|trust|list" on the build tree's plugins:
#   a plugin is untrusted until trusted, and then listed as trusted with
#   the same hash "hash" printed; a changed file is untrusted again.
[ -n "$OSMOSE" ] && [ -x "$OSMOSE" ] || { echo "no OSMOSE program"; exit 77; }
[ -n "$OSMOSE_PLUGIN_BUILD_DIR" ] && [ -f "$OSMOSE_PLUGIN_BUILD_DIR/echo.so" ] \
    || { echo "no OSMOSE_PLUGIN_BUILD_DIR with echo.so"; exit 77; }
work=$(mktemp -d /tmp/osmose-plugin-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
set -e
mkdir "$work/state" "$work/plugins"
cp "$OSMOSE_PLUGIN_BUILD_DIR/echo.so" "$OSMOSE_PLUGIN_BUILD_DIR/sleep.so" "$work/plugins/"
hash=$("$OSMOSE" plugin hash "$work/plugins/echo.so" | cut -d' ' -f1)
[ ${#hash} -eq 64 ] || { echo "bad hash '$hash'"; exit 1; }
if [ -n "$OSMOSE_WORKER" ] && [ -x "$OSMOSE_WORKER" ]; then
    [ "$("$OSMOSE_WORKER" --hash "$work/plugins/echo.so" | cut -d' ' -f1)" = "$hash" ] \
        || { echo "osmose-worker --hash disagrees"; exit 1; }
fi
"$OSMOSE" plugin list --state-dir "$work/state" --dir "$work/plugins" >"$work/before"
grep -q "^untrusted  *$hash .*echo.so" "$work/before" || { cat "$work/before"; exit 1; }
"$OSMOSE" plugin trust "$work/plugins/echo.so" --state-dir "$work/state"
"$OSMOSE" plugin trust "$work/plugins/echo.so" --state-dir "$work/state"
[ "$(grep -c "$hash" "$work/state/plugins.trust")" -eq 1 ] || { echo "trusted twice"; exit 1; }
"$OSMOSE" plugin list --state-dir "$work/state" --dir "$work/plugins" >"$work/after"
grep -q "^trusted  *$hash .*echo.so" "$work/after" || { cat "$work/after"; exit 1; }
grep -q "^untrusted .*sleep.so" "$work/after" || { cat "$work/after"; exit 1; }
"$OSMOSE" --json plugin list --state-dir "$work/state" --dir "$work/plugins" | grep -q '"trusted"'
printf 'x' >>"$work/plugins/echo.so"
"$OSMOSE" plugin list --state-dir "$work/state" --dir "$work/plugins" | grep -q "^untrusted .*echo.so"
rc=0; "$OSMOSE" plugin hash /nonexistent/x.so 2>/dev/null || rc=$?
[ $rc -eq 4 ] || { echo "missing file: exit $rc, want 4"; exit 1; }
rc=0; "$OSMOSE" plugin frobnicate 2>/dev/null || rc=$?
[ $rc -eq 2 ] || { echo "bad verb: exit $rc, want 2"; exit 1; }
echo "plugin_cli: OK"
