#!/bin/sh
#   daemon_manpages: every man page renders without a groff warning, and
#   the pages keep up with the programs: osmose.conf(5) documents every
#   setting of --print-config, osmose(1) every command, osmosed(8) every
#   option, osmose(3) every exported function of osmose.h.
. "$top_srcdir/tests/lib/daemon.sh"
man="$top_srcdir/docs/man"
missing=""

#   Completeness first: it needs no tool
section=""
for setting in $("$OSMOSED" --print-config | while IFS= read -r line; do
        case $line in
            ''|'#'*|'    #'*) ;;
            '    '*) key=${line#    }; echo "$section/${key%% *}" ;;
            *) section=$line ;;
        esac
    done); do
    grep -q "^\.B $setting\$" "$man/osmose.conf.5" || missing="$missing osmose.conf.5:$setting"
done
#   Defaults written as "(default N)" must be the daemon's
"$OSMOSED" --print-config | awk '
    /^[a-z]/ { section = $1 }
    /^    [a-z_]+ = / { value = $3; gsub (/"/, "", value); print section "/" $1, value }' \
    >"$E2E_DIR/defaults"
awk '
    /^\.B [a-z_]+\/[a-z_]+$/ { setting = $2; text = ""; next }
    /^\.(TP|SH|SS)/ { if (setting != "" && match (text, /\(default [0-9]+\)/))
                         print setting, substr (text, RSTART + 9, RLENGTH - 10)
                     setting = "" }
    setting != "" { text = text " " $0 }' "$man/osmose.conf.5" >"$E2E_DIR/documented"
while read -r setting documented; do
    actual=$(awk -v s="$setting" '$1 == s { print $2 }' "$E2E_DIR/defaults")
    [ -z "$actual" ] || [ "$actual" = "$documented" ] \
        || missing="$missing osmose.conf.5:$setting(says default $documented, osmosed $actual)"
done <"$E2E_DIR/documented"
[ "$(wc -l <"$E2E_DIR/documented")" -gt 10 ] || fail "found too few documented defaults"
count=$("$OSMOSED" --print-config | grep -c '^    [a-z]')
[ "$count" -gt 10 ] || fail "--print-config lists only $count settings"

for command in $("$OSMOSE" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }'); do
    grep -Eq "^(\.BR? $command( |\$)|\\\\fB$command\\\\fR)" "$man/osmose.1" \
        || missing="$missing osmose.1:$command"
done
for option in $("$OSMOSED" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    escaped=$(echo "$option" | sed 's/-/\\\\-/g')
    grep -q -- "$escaped" "$man/osmosed.8" || missing="$missing osmosed.8:$option"
done
for option in $("$OSMOSE_TOP" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    escaped=$(echo "$option" | sed 's/-/\\\\-/g')
    grep -q -- "$escaped" "$man/osmose-top.1" || missing="$missing osmose-top.1:$option"
done
for function in $(sed -n 's/^ *\(osmose_[a-z_]*\) *(.*/\1/p' "$top_srcdir/include/osmose.h"); do
    grep -q "^\.BR\{0,1\}I\{0,1\} .*$function" "$man/osmose.3" || missing="$missing osmose.3:$function"
done
for function in $(sed -n 's/^ *\(osmose_[a-z_]*\) *(.*/\1/p' "$top_srcdir/include/osmose.h"); do
    [ -f "$man/$function.3" ] || missing="$missing $function.3(alias: .so man3/osmose.3)"
done
[ -z "$missing" ] || fail "man pages lack (add them):$missing"

#   Rendering
command -v groff >/dev/null 2>&1 || skip "groff not installed: rendering not checked"
for page in "$man"/*.[1-8]; do
    if head -n 1 "$page" | grep -q '^\.so '; then
        #   an alias: it must name a page that exists
        target=$(sed -n '1s/^\.so man[0-9]\///p' "$page")
        [ -f "$man/$target" ] || fail "$(basename "$page") points to missing $target"
        continue
    fi
    warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
    [ -z "$warnings" ] || fail "$(basename "$page"): $warnings"
    lines=$(groff -man -Tutf8 "$page" 2>/dev/null | wc -l)
    [ "$lines" -gt 20 ] || fail "$(basename "$page") renders to only $lines lines"
    echo "$(basename "$page"): $lines lines, no warnings"
done
if command -v man >/dev/null 2>&1; then
    MANWIDTH=80 man --warnings -l "$man/osmosed.8" >/dev/null 2>"$E2E_DIR/err" \
        || fail "man -l osmosed.8: $(cat "$E2E_DIR/err")"
    [ ! -s "$E2E_DIR/err" ] || fail "man -l osmosed.8: $(cat "$E2E_DIR/err")"
fi
echo "daemon_manpages: OK"
