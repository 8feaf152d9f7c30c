#!/bin/sh
#   top_completion: contrib/osmose.bash-completion completes the osmose
#   subcommands and their options, osmosed's options and -s settings, and
#   osmose-top's options and sort keys, from the built programs.
. "$top_srcdir/tests/e2e/top_lib.inc"
need bash

bindir=$T_DIR/bin
mkdir -p "$bindir"
ln -s "$OSMOSE" "$bindir/osmose"
ln -s "$OSMOSED" "$bindir/osmosed"
ln -s "$OSMOSE_TOP" "$bindir/osmose-top"
cat >"$T_DIR/complete.bash" <<EOS
source "$top_srcdir/contrib/osmose.bash-completion" || exit 1
PATH="$bindir:\$PATH"
#   complete FUNCTION WORD... : the completions of the last word
complete_words () {
    local fn=\$1; shift
    COMP_WORDS=("\$@"); COMP_CWORD=\$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=()
    \$fn
    printf '%s\n' "\${COMPREPLY[@]}" | sort | tr '\n' ' '
}
expect () {
    local want=\$1; shift
    local got
    got=\$(complete_words "\$@")
    [ "\$got" = "\$want" ] || { echo "FAIL: '\${*:2}' completes to '\$got', expected '\$want'"; exit 1; }
    echo "ok: '\${*:2}' -> \$got"
}
#   expect_has WORD FUNCTION WORD... : WORD is among the completions
expect_has () {
    local want=\$1; shift
    local got
    got=\$(complete_words "\$@")
    case " \$got" in
        *" \$want "*) echo "ok: '\${*:2}' -> ... \$want ..." ;;
        *) echo "FAIL: '\${*:2}' completes to '\$got', without '\$want'"; exit 1 ;;
    esac
}
#   Every command "osmose --help" lists is offered
commands=\$(osmose --help | sed -n '/^Commands:/,/^\$/ s/^  \([a-z][a-z0-9-]*\) .*/\1/p' | sort | tr '\n' ' ')
[ -n "\$commands" ] || { echo "FAIL: osmose --help lists no commands"; exit 1; }
expect "\$commands" _osmose osmose ""
expect "peers " _osmose osmose -e ipc:///x -t 300 pe
expect "--json " _osmose osmose --js
expect "--json " _osmose osmose peers --js
expect "--check-config " _osmosed osmosed --chec
expect_has node/location= _osmosed osmosed -s node/
expect_has mesh/bind= _osmosed osmosed -s mesh/
expect "node/location= node/location_source= " _osmosed osmosed --set node/lo
expect "load location log " _osmose_top osmose-top -s l
expect "--no-color " _osmose_top osmose-top --no-c
expect "--iterations " _osmose_top osmose-top -b --it
expect "ipc://$T_DIR/bin/osmose-top " _osmose_top osmose-top -e ipc://$T_DIR/bin/osmose-t
EOS
bash "$T_DIR/complete.bash" || fail "completion"
echo "top_completion: OK"
