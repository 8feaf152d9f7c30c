#!/bin/sh
#   discovery_avahi: three osmose_discovery objects (three processes) on a
#   real avahi-daemon, in a private network namespace, find one another
#   with the right TXT (id, location, port), see a location change, see a
#   peer withdraw, never see themselves, and survive a name collision.
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
. "$top_srcdir/tests/lib/avahi-env.sh"
avahi_env_enter "$0" "$@"
[ -x "$top_builddir/tests/discovery_probe" ] || avahi_env_skip "tests/discovery_probe is not built"
. "$top_srcdir/tests/lib/discovery-probe.sh"
avahi_env_start || { avahi_env_logs; exit 1; }
PROBE_DIR=$AVAHI_ENV_DIR
fail () { echo "FAIL: $*"; probe_dump; exit 1; }

base=$((20000 + $$ % 20000))
#   Hostile neighbours publish malformed TXT records first: never FOUND
if command -v avahi-publish >/dev/null 2>&1; then
    avahi-publish -s evil-short _osmose._tcp 9 "id=0123" "key=00" "v=1" >/dev/null 2>&1 &
    avahi-publish -s evil-bare _osmose._tcp 9 >/dev/null 2>&1 &
    avahi-publish -s evil-forged _osmose._tcp 9 "id=0123456789abcdef" \
        "key=$(printf '%064d' 0)" "v=1" "loc=x y" >/dev/null 2>&1 &
    hostile=yes
fi
probe_start a alpha $((base + 1)) hq/f1/a hq/f9/moved || fail "alpha did not start"
probe_start b beta $((base + 2)) hq/f2/b || fail "beta did not start"
probe_start c gamma $((base + 3)) hq/f3/c || fail "gamma did not start"
echo "ids: alpha=$a_id beta=$b_id gamma=$c_id"
[ "$a_id" != "$b_id" ] && [ "$b_id" != "$c_id" ] || fail "ids are not distinct"

#   Each finds the two others, with their TXT, address and port
started=$(date +%s.%N)
for me in a b c; do
    eval "log=\$${me}_log"
    for other in a b c; do
        [ $me = $other ] && continue
        case $other in
            a) re=$(probe_found_re "$a_id" $((base + 1)) hq/f1/a alpha) ;;
            b) re=$(probe_found_re "$b_id" $((base + 2)) hq/f2/b beta) ;;
            c) re=$(probe_found_re "$c_id" $((base + 3)) hq/f3/c gamma) ;;
        esac
        probe_wait "$log" "$re" 10 || fail "$me did not find $other"
    done
    probe_wait "$log" '^STATUS up ' 1 || fail "$me never said STATUS up"
done
echo "all found one another in $(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }') s"

if [ -n "$hostile" ]; then
    for me in a b c; do
        eval "log=\$${me}_log"
        for evil in evil-short evil-bare evil-forged; do
            #   the probe logs (zsys_debug) each record it turns down
            probe_wait "$log" "ignoring '$evil': bad TXT" 10 || fail "$me never resolved $evil"
        done
        grep -q "name=evil" "$log" && fail "$me accepted a malformed TXT record"
    done
    echo "malformed TXT records ignored"
fi

#   alpha moves: the others see the new location, same id and port
kill -USR1 "$a_pid"
probe_wait "$a_log" '^MOVED hq/f9/moved rc=0$' 5 || fail "alpha did not move"
for me in b c; do
    eval "log=\$${me}_log"
    probe_wait "$log" "$(probe_found_re "$a_id" $((base + 1)) hq/f9/moved alpha)" 10 \
        || fail "$me did not see alpha's new location"
done
echo "location update seen by beta and gamma"

#   gamma withdraws: the others get LOST with its id, gamma exits cleanly
probe_stop c || fail "gamma did not exit cleanly"
grep -q '^bye$' "$c_log" || fail "gamma did not say bye"
for me in a b; do
    eval "log=\$${me}_log"
    probe_wait "$log" "^LOST id=$c_id name=gamma\$" 10 || fail "$me did not see gamma go"
done
echo "gamma's withdrawal seen by alpha and beta"

#   A second "beta" takes the next name, and is found under it
probe_start d beta $((base + 4)) hq/f4/d || fail "second beta did not start"
probe_wait "$d_log" '^INSTANCE beta #2$' 10 || fail "second beta was not renamed"
probe_wait "$a_log" "$(probe_found_re "$d_id" $((base + 4)) hq/f4/d 'beta #2')" 10 \
    || fail "alpha did not find the second beta"
probe_wait "$d_log" "$(probe_found_re "$b_id" $((base + 2)) hq/f2/b beta)" 10 \
    || fail "the second beta did not find the first"
echo "name collision resolved: 'beta #2' found"

#   Nobody ever found itself, nor got a LOST for a live peer
for me in a b d; do
    eval "log=\$${me}_log; id=\$${me}_id"
    grep -q "^FOUND id=$id " "$log" && fail "$me found itself"
    grep -Eq "^LOST id=($a_id|$b_id|$d_id) " "$log" && fail "$me lost a live peer"
done
for me in a b d; do
    probe_stop $me || fail "$me did not exit cleanly"
done
echo "discovery_avahi: OK"
