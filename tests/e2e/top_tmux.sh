#!/bin/sh
#   top_tmux: osmose-top in a real terminal (tmux) against a live mesh of
#   three osmosed. The screen shows every peer the daemon reports (all
#   all three unless OSMOSE_TEST_MESH=0); s/r sort, / filters, Tab changes view,
#   Enter shows details, h help; a resize redraws cleanly; q exits 0 and
#   gives the terminal back (prompt, echo, no alternate screen).
. "$top_srcdir/tests/e2e/top_lib.inc"
need jq tmux

t_mesh
ep="ipc://$T_DIR/alpha.sock"
if [ "${OSMOSE_TEST_MESH:-1}" = 1 ]; then
    tries=0
    until [ "$("$OSMOSE" -e "$ep" --json peers | jq 'map(select(.state == "alive")) | length')" = 3 ]; do
        tries=$((tries + 1))
        [ $tries -lt 100 ] || fail "alpha did not see 3 alive peers within 20 s"
        sleep 0.2
    done
fi
"$OSMOSE" -e "$ep" --json peers >"$T_DIR/peers.json" || fail "osmose --json peers exited $?"
jq -r '.[].name' "$T_DIR/peers.json" >"$T_DIR/names"
[ -s "$T_DIR/names" ] || fail "the daemon reports no peers"
self_id=$(jq -r '.[] | select(.self) | .id' "$T_DIR/peers.json")

t_tmux_start 160 45
t_keys "stty -a | grep -o -- '-*icanon' > '$T_DIR/stty.before'; echo before-top" Enter
t_wait_screen '^before-top' 5 || fail "the shell does not answer"
t_keys "'$OSMOSE_TOP' -e '$ep' -d 0.3; echo \"top-rc=\$?\"" Enter
t_wait_screen '^osmose-top .* - alpha \(' 10 || fail "no osmose-top title for alpha"
grep -q '^before-top' "$T_DIR/screen" && fail "the shell's text shows under the screen"

#   Every peer the daemon reports is on the screen
while read -r name; do
    t_wait_screen "^ $name\\*? " 5 || fail "peer $name is not on the screen"
done <"$T_DIR/names"
if [ "${OSMOSE_TEST_MESH:-1}" = 1 ]; then
    for name in alpha beta gamma; do
        t_wait_screen "^ $name\\*? +hq/" 5 || fail "peer $name is not on the screen"
    done
    grep -q '3 alive' "$T_DIR/screen" || fail "the summary does not count 3 alive peers"
fi
t_wait_screen "^ alpha\\* +hq/floor1/lab +alive" 5 || fail "this peer is not marked alive with its location"

#   Sorting: by name, reversed, then back to proximity (this peer first)
rows () {
    t_screen
    sed -n 's/^ \([a-z][a-z0-9-]*\)\**  *hq\/.*/\1/p' "$T_DIR/screen"
}
t_keys s
t_wait_screen 'sort: name' 5 || fail "s did not sort by name"
#   (peers may still be joining: check the order of what is on screen,
#   and that it holds every peer reported before)
in_order () {
    rows >"$T_DIR/order"
    sort "$@" "$T_DIR/order" | cmp -s - "$T_DIR/order" || return 1
    while read -r name; do
        grep -qx "$name" "$T_DIR/order" || return 1
    done <"$T_DIR/names"
}
in_order || fail "not in name order: $(tr '\n' ' ' <"$T_DIR/order")"
t_keys r
t_wait_screen 'sort: name \(reversed\)' 5 || fail "r did not reverse"
in_order -r || fail "not reversed: $(tr '\n' ' ' <"$T_DIR/order")"
t_keys r '<'
t_wait_screen 'sort: proximity' 5 || fail "< did not go back to proximity"
[ "$(rows | head -1)" = alpha ] || fail "proximity order does not start with this peer"

#   Filtering: as typed, kept with Enter, cleared with Esc
t_keys / a l p h a Enter
t_wait_screen 'filter: alpha' 5 || fail "the filter is not shown"
grep -Eq '^ alpha\* ' "$T_DIR/screen" || fail "the filter hides the matching peer"
for name in $(grep -vx alpha "$T_DIR/names"); do
    grep -Eq "^ $name " "$T_DIR/screen" && fail "the filter 'alpha' shows $name"
done
t_keys / BSpace BSpace BSpace BSpace BSpace n o - s u c h Enter
t_wait_screen 'nothing matches the filter' 5 || fail "a filter matching nothing"
grep -Eq '^ alpha\* ' "$T_DIR/screen" && fail "filter no-such still shows alpha"
t_keys Escape
t_wait_gone 'filter: ' 5 || fail "Esc did not clear the filter"
t_wait_screen '^ alpha\* ' 5 || fail "alpha is not back after Esc"

#   Views: Tab goes through leases, tasks, log; each shows rows or no data
for view in Leases:LEASE Tasks:TASK Log:FEED; do
    t_keys Tab
    t_wait_screen "^ LEASE|^ TASK|^ FEED" 5 || fail "Tab: no table header"
    t_wait_screen "^ ${view#*:} " 5 || fail "Tab did not show ${view%%:*}"
done
t_keys Tab
t_wait_screen '^ NAME ' 5 || fail "Tab did not come back to the peers"

#   Details of this peer, and the help; any key closes them
t_keys Home Enter
t_wait_screen "Peer $self_id" 5 || fail "Enter did not show the details of $self_id"
grep -Eq 'name +alpha' "$T_DIR/screen" || fail "the details do not show the name"
t_keys x
t_wait_gone "Peer $self_id" 5 || fail "a key did not close the details"
t_keys h
t_wait_screen 'the osmose mesh at a glance' 5 || fail "h did not show the help"
t_keys x
t_wait_screen '^ NAME ' 5 || fail "a key did not close the help"

#   Resize: smaller and larger, the screen is drawn anew for the size
tmux -S "$T_TMUX" resize-window -t top -x 100 -y 24 || skip "tmux cannot resize"
sleep 0.5
t_wait_screen '^ alpha\*' 5 || fail "no peer after a resize"
[ "$(wc -l <"$T_DIR/screen")" -eq 24 ] || fail "pane is not 24 lines after the resize"
head -1 "$T_DIR/screen" | grep -q '^osmose-top ' || fail "title not on the first line after a resize"
tail -1 "$T_DIR/screen" | grep -q 'q Quit' || fail "keys not on the last line after a resize"
tmux -S "$T_TMUX" resize-window -t top -x 150 -y 40
sleep 0.5
t_wait_screen '^ alpha\*' 5 || fail "no peer after growing"
tail -1 "$T_DIR/screen" | grep -q 'q Quit' || fail "keys not on the last line after growing"
[ "$(grep -c 'osmose-top ' "$T_DIR/screen")" -eq 1 ] || fail "stale text after a resize"

#   The daemon goes away: the last frame stays up and the bottom line
#   says so; q still quits at once
alpha_pid=$(echo $T_PIDS | awk '{ print $1 }')
kill -TERM "$alpha_pid"
t_wait_screen "osmosed at $ep does not answer" 10 || fail "no word that the daemon is gone"
grep -q '^ alpha\*' "$T_DIR/screen" || fail "the last frame is gone with the daemon"

#   q: exit 0, the shell's screen back, the terminal in its old modes
t_keys q
t_wait_screen '^top-rc=0' 5 || fail "q did not exit with 0"
grep -q '^before-top' "$T_DIR/screen" || fail "the shell's screen was not restored"
grep -q 'sort: ' "$T_DIR/screen" && fail "osmose-top's screen is still up"
[ "$(tmux -S "$T_TMUX" display -p -t top '#{alternate_on}')" = 0 ] || fail "still on the alternate screen"
t_keys "stty -a | grep -o -- '-*icanon' > '$T_DIR/stty.after'; echo after-stty" Enter
t_wait_screen '^after-stty' 5 || fail "the shell does not answer after osmose-top"
cmp -s "$T_DIR/stty.before" "$T_DIR/stty.after" || fail "terminal modes changed: $(cat "$T_DIR/stty.after")"
echo "top_tmux: OK ($(wc -l <"$T_DIR/names") peer(s) on screen)"
