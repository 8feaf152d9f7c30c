#!/bin/sh
#   top_screen: osmose-top in a real terminal (tmux) on a replayed mesh of
#   64 peers with known values: scrolling, every sort key in order, the
#   filter, the leases/tasks/log views with rows, details of a lease, and
#   colours that give way to plain attributes with -C or NO_COLOR.
. "$top_srcdir/tests/e2e/top_lib.inc"
need tmux

t_frames 64 5 >"$T_DIR/frames.jsonl"
t_tmux_start 160 50
t_keys "'$OSMOSE_TOP' --replay '$T_DIR/frames.jsonl' -d 0.5; echo \"top-rc=\$?\"" Enter
t_wait_screen '^osmose-top test - p00 \(0000000000000001\)' 10 || fail "no title"
t_wait_screen '64 shown  sort: proximity' 5 || fail "not 64 peers by proximity"
grep -q 'Peers: 56 alive, 4 suspect, 4 dead, 0 left' "$T_DIR/screen" || fail "summary counts"
grep -q '516/576 free' "$T_DIR/screen" || fail "summary CPUs"

#   The visible peer rows, as "name cpu_free" lines
rows () {
    t_screen
    sed -n 's/^ \(p[0-9][0-9]\)\** .*/\1/p' "$T_DIR/screen"
}
[ "$(rows | wc -l)" -eq 41 ] || fail "expected 41 rows on a 50-line screen, got $(rows | wc -l)"
[ "$(rows | head -1)" = p00 ] || fail "proximity does not start with this peer"

#   Name order, scrolling to the end and back
t_keys s
t_wait_screen 'sort: name' 5 || fail "s: not by name"
rows >"$T_DIR/order"
seq 0 40 | awk '{ printf "p%02d\n", $1 }' | cmp -s - "$T_DIR/order" || fail "name order"
t_keys End
t_wait_screen '^ p63 ' 5 || fail "End does not show the last peer"
rows | grep -qx p00 && fail "End still shows the first peer"
t_keys PPage PPage Home
t_wait_screen '^ p00\* ' 5 || fail "Home does not show the first peer"
#   The cursor stays on its peer (p00, now last); Home goes to the top
t_keys r
t_wait_screen 'sort: name \(reversed\)' 5 || fail "r: not reversed"
t_wait_screen '^ p00\* ' 5 || fail "the cursor did not follow p00"
t_keys Home
t_wait_screen '^ p63 ' 5 || fail "Home after reversing"
[ "$(rows | head -1)" = p63 ] || fail "reversed name order does not start with p63"
t_keys r

#   Every other key sorts the table as it says
t_keys s s s Home
t_wait_screen 'sort: rtt' 5 || fail "s s s: not by rtt"
rows | head -3 | tr '\n' ' ' | grep -qx 'p01 p02 p03 ' || fail "rtt: nearest first"
t_keys s Home
t_wait_screen 'sort: cpu' 5 || fail "not by cpu"
#   Column 6 is CPU free/total; free must not grow down the table
t_screen
awk '/^ p[0-9][0-9]/ { split($5, cpu, "/"); if (seen++ && cpu[1] + 0 > last) bad = 1; last = cpu[1] + 0 }
     END { exit bad }' "$T_DIR/screen" || fail "cpu: not most free first"
t_keys s
t_wait_screen 'sort: load' 5 || fail "not by load"
t_keys s Home
t_wait_screen 'sort: log' 5 || fail "not by log"
[ "$(rows | head -1)" = p63 ] || fail "log: biggest log first"
t_keys s
t_wait_screen 'sort: proximity' 5 || fail "s does not come round to proximity"

#   Filter as typed: p6 matches p60 to p63 only
t_keys / p 6 Enter
t_wait_screen '4 shown  sort: proximity  filter: p6' 5 || fail "filter p6 shows other than 4"
[ "$(rows | sort | tr '\n' ' ')" = "p60 p61 p62 p63 " ] || fail "filter p6: $(rows | tr '\n' ' ')"
t_keys Escape
t_wait_screen '64 shown' 5 || fail "Esc: not all peers again"

#   Views with data
t_keys Tab
t_wait_screen '^ lease2 ' 5 || fail "no leases"
grep -Eq '^ lease0 +p00 +p01 +active' "$T_DIR/screen" || fail "leases do not name client and provider"
t_keys Down Enter
t_wait_screen 'Lease lease1' 5 || fail "Enter: no details of lease1"
grep -Eq 'resources.cpus +2' "$T_DIR/screen" || fail "lease details lack resources"
t_keys x Tab
t_wait_screen '^ task[0-9]+ +demo.square' 5 || fail "no tasks"
t_keys Tab
t_wait_screen 'granted lease4' 5 || fail "no log tail"
t_keys 1
t_wait_screen '^ NAME ' 5 || fail "1: not back to peers"

#   Colour by default; -C and NO_COLOR keep to attributes only
tmux -S "$T_TMUX" capture-pane -e -p -t top >"$T_DIR/colour"
grep -q "$(printf '\033')\\[[0-9;]*3[0-7]m" "$T_DIR/colour" || fail "no colours on a colour terminal"
t_keys q
t_wait_screen '^top-rc=0' 5 || fail "q did not exit 0"
for way in "'$OSMOSE_TOP' -C" "NO_COLOR=1 '$OSMOSE_TOP'" "TERM=vt100 '$OSMOSE_TOP'"; do
    t_keys "clear; $way --replay '$T_DIR/frames.jsonl' -d 0.5; echo \"mono-rc=\$?\"" Enter
    t_wait_screen '64 shown' 5 || fail "$way: no screen"
    tmux -S "$T_TMUX" capture-pane -e -p -t top >"$T_DIR/mono"
    grep -q "$(printf '\033')\\[[0-9;]*3[0-7]m" "$T_DIR/mono" && fail "$way: still colours"
    grep -q "$(printf '\033')\\[[0-9;]*7m" "$T_DIR/mono" || fail "$way: no reverse video"
    t_keys q
    t_wait_screen '^mono-rc=0' 5 || fail "$way: q did not exit 0"
done
#   Ctrl-C ends it as q does: exit 0, terminal modes back
t_keys "clear; '$OSMOSE_TOP' --replay '$T_DIR/frames.jsonl' -d 0.5; echo \"int-rc=\$?\"" Enter
t_wait_screen '64 shown' 5 || fail "no screen before Ctrl-C"
t_keys C-c
t_wait_screen '^int-rc=0' 5 || fail "Ctrl-C did not exit 0"
t_keys "stty -a | grep -c -- ' icanon' && echo stty-done" Enter
t_wait_screen '^stty-done' 5 || fail "the shell does not answer after Ctrl-C"
grep -qx 1 "$T_DIR/screen" || fail "canonical mode not restored after Ctrl-C"
echo "top_screen: OK"
