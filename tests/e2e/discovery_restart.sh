#!/bin/sh
#   discovery_restart: avahi-daemon dies and comes back. Running discovery
#   objects say STATUS down, then up, publish again and find one another
#   again within seconds; one started while the daemon was away joins too.
#   Then the system bus restarts as well, with the same outcome.
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/lib/avahi-env.sh"
avahi_env_enter "$0" "$@"
[ -x "$top_builddir/tests/discovery_probe" ] || avahi_env_skip "tests/discovery_probe is not built"
. "$top_srcdir/tests/lib/discovery-probe.sh"
avahi_env_start || { avahi_env_logs; exit 1; }
PROBE_DIR=$AVAHI_ENV_DIR
fail () { echo "FAIL: $*"; probe_dump; exit 1; }
elapsed () { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }'; }

base=$((20000 + $$ % 20000))
probe_start a alpha $((base + 1)) hq/a || fail "alpha did not start"
probe_start b beta $((base + 2)) hq/b || fail "beta did not start"
probe_start c gamma $((base + 3)) hq/c || fail "gamma did not start"
re_a=$(probe_found_re "$a_id" $((base + 1)) hq/a alpha)
re_b=$(probe_found_re "$b_id" $((base + 2)) hq/b beta)
re_c=$(probe_found_re "$c_id" $((base + 3)) hq/c gamma)
#   check_all FROM...: each of a b c found the two others after its mark
check_all () {
    for me in a b c; do
        eval "log=\$${me}_log; mark=\$${me}_mark"
        for re in "$re_a" "$re_b" "$re_c"; do
            case $re in *"id=$(eval echo \$${me}_id) "*) continue ;; esac
            probe_wait "$log" "$re" 15 "$mark" || return 1
        done
    done
}
a_mark=0 b_mark=0 c_mark=0
check_all || fail "the probes did not find one another"
echo "three probes found one another"

#   The daemon goes away: everyone notices
a_mark=$(probe_lines "$a_log") b_mark=$(probe_lines "$b_log") c_mark=$(probe_lines "$c_log")
avahi_env_stop_avahi
for me in a b c; do
    eval "log=\$${me}_log; mark=\$${me}_mark"
    probe_wait "$log" '^STATUS down ' 5 "$mark" || fail "$me did not notice avahi-daemon go"
done
echo "all three said STATUS down"

#   A fourth starts while the daemon is away: it waits, no crash
probe_start d delta $((base + 4)) hq/d || fail "delta did not start without avahi-daemon"
probe_wait "$d_log" '^STATUS down ' 5 || fail "delta did not say STATUS down"
sleep 1
kill -0 "$d_pid" 2>/dev/null || fail "delta died without avahi-daemon"

#   The daemon is back: all publish again and find one another again
started=$(date +%s.%N)
avahi_env_start_avahi || fail "avahi-daemon did not restart"
check_all || fail "the probes did not find one another after the restart"
for me in a b c; do
    eval "log=\$${me}_log; mark=\$${me}_mark"
    probe_wait "$log" '^STATUS up ' 1 "$mark" || fail "$me did not say STATUS up"
    probe_wait "$log" "$(probe_found_re "$d_id" $((base + 4)) hq/d delta)" 10 "$mark" \
        || fail "$me did not find delta"
done
for re in "$re_a" "$re_b" "$re_c"; do
    probe_wait "$d_log" "$re" 10 || fail "delta did not find the others"
done
echo "after the restart all four found one another in $(elapsed "$started") s (daemon start included)"

#   The system bus goes too, then both come back: clients that cannot even
#   reach the bus retry, and all publish and find one another again
a_mark=$(probe_lines "$a_log") b_mark=$(probe_lines "$b_log") c_mark=$(probe_lines "$c_log")
avahi_env_stop_avahi
avahi_env_stop_bus
for me in a b c; do
    eval "log=\$${me}_log; mark=\$${me}_mark"
    probe_wait "$log" '^STATUS down ' 5 "$mark" || fail "$me did not notice the bus go"
done
sleep 1
started=$(date +%s.%N)
avahi_env_start_bus || fail "dbus-daemon did not restart"
avahi_env_start_avahi || fail "avahi-daemon did not restart"
check_all || fail "the probes did not find one another after the bus restart"
echo "after a bus restart all three found one another in $(elapsed "$started") s (daemons' start included)"
for me in a b c d; do
    probe_stop $me || fail "$me did not exit cleanly"
done
echo "discovery_restart: OK"
