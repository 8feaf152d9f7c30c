#!/bin/sh
#   contrib/osmose-top-screenshot.sh: docs/osmose-top.txt, a capture of
#   osmose-top in tmux (120x30) watching a live mesh of three osmosed on
#   loopback (alpha, beta, gamma), taken after a few refreshes.
#   Usage: top_builddir=BUILD top_srcdir=SRC sh contrib/osmose-top-screenshot.sh >docs/osmose-top.txt
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/e2e/top_lib.inc"
t_mesh
sleep "${SETTLE_S:-3}"                  #   let the peers find each other
t_tmux_start 120 30
t_keys "clear; '$OSMOSE_TOP' -e 'ipc://$T_DIR/alpha.sock' -d 1" Enter
t_wait_screen 'sort: proximity' 10 || fail "no osmose-top screen"
sleep 3
t_screen
cat "$T_DIR/screen"
t_keys q
