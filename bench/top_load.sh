#!/bin/sh
#   bench/top_load.sh: the load osmose-top puts on its daemon. Starts one
#   osmosed, and reads the daemon's CPU time (run time of every thread,
#   summed over its threads from /proc/PID/task/*/schedstat, in ns)
#   over SECONDS (default 20) each: with nobody watching (the baseline), with
#   osmose-top on its screen at the default interval (in tmux), and with
#   osmose-top -b (which asks every command) at the default interval and at
#   -d 0.1. Prints the daemon's CPU ms per second of each, and the ratio to
#   the baseline. Not part of make check.
#   Usage: top_builddir=BUILD top_srcdir=SRC sh bench/top_load.sh [SECONDS]
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/e2e/top_lib.inc"
seconds=${1:-20}

t_start bench 0 lab/bench
pid=$(echo $T_PIDS | awk '{ print $1 }')
ep="ipc://$T_DIR/bench.sock"
#   CPU ns of every thread of the daemon (threads that ended are lost:
#   the daemon's threads live as long as it does)
cpu_ns () {
    cat /proc/$pid/task/*/schedstat | awk '{ ns += $1 } END { printf "%.0f\n", ns }'
}
requests () {
    "$OSMOSE" -e "$ep" --json status | sed -n 's/.*"api_requests": *\([0-9]*\).*/\1/p'
}
measure () {
    label=$1
    before=$(cpu_ns); requests_before=$(requests)
    sleep "$seconds"
    after=$(cpu_ns); requests_after=$(requests)
    awk -v label="$label" -v ns=$((after - before)) -v s="$seconds" \
        -v base="${base:-0}" -v req=$((requests_after - requests_before - 1)) 'BEGIN {
        ms = ns / 1e6 / s
        printf "%-34s %7.2f ms CPU/s  %6.1f requests/s", label, ms, req / s
        if (base > 0) printf "  (%.2fx baseline)", ms / base
        printf "\n"
    }'
}
echo "osmosed CPU over ${seconds} s each (the baseline includes one osmose status a run):"
base_line=$(measure "idle (baseline)")
echo "$base_line"
base=$(echo "$base_line" | awk '{ print $3 }')

t_tmux_start 160 50
t_keys "'$OSMOSE_TOP' -e '$ep'" Enter
t_wait_screen 'sort: proximity' 10 || fail "no osmose-top screen"
measure "osmose-top screen, -d 1 (default)"
t_keys q

"$OSMOSE_TOP" -e "$ep" -b >/dev/null &
top_pid=$!
measure "osmose-top -b, -d 1"
kill "$top_pid"
wait "$top_pid" 2>/dev/null
"$OSMOSE_TOP" -e "$ep" -b -d 0.1 >/dev/null &
top_pid=$!
measure "osmose-top -b, -d 0.1"
kill "$top_pid"
wait "$top_pid" 2>/dev/null
