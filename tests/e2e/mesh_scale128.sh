#!/bin/sh
# 128 real osmosed on loopback: all see all, and no peer keeps more
# outgoing peer links than its bound (active view + random view + the few
# short-lived probe links). Started in staggered batches, each batch
# joining through one of the first 8 peers, so no single seed takes every
# JOIN.
#
# 128 daemons on this 2-core machine are 64 processes per core: a probe's
# round trip waits for six of them to be scheduled, and the default
# timings (1 s probes, 300 ms probe timeout, 500 ms suspicion), meant for
# devices that each have their own CPU, then suspect live peers faster
# than they can refute, and the traffic that brings keeps the load up.
# So the mesh runs with the timings a dense deployment would set
# (MESH_TIMINGS, below); with them it settles within seconds of the last
# start (8-11 s here). Not part of a plain "make check", since it takes
# about 90 s and all of the machine; .ci/run asks for it:
#     OSMOSE_SCALE128=1 make check TESTS=mesh_scale128
# Environment: MESH_PEERS (128), MESH_BATCH (16), MESH_GAP (seconds
# between batches, 5), MESH_SETTLE (seconds allowed after the last start,
# 150), MESH_TIMINGS (osmosed settings for every peer).
[ "${OSMOSE_SCALE128:-0}" = 1 ] || { echo "set OSMOSE_SCALE128=1 to run 128 daemons"; exit 77; }
MESH_EXTRA=${MESH_TIMINGS:-"-s mesh/probe_interval_ms=2000 -s mesh/probe_timeout_ms=1000
    -s mesh/suspect_timeout_ms=10000 -s mesh/gossip_interval_ms=200"}
. "$top_srcdir/tests/lib/mesh.sh"
command -v jq >/dev/null || { echo "jq not installed"; exit 77; }
set -u
n=${MESH_PEERS:-128}
batch=${MESH_BATCH:-16}
gap=${MESH_GAP:-5}
settle=${MESH_SETTLE:-150}
seeds=8
bound=$((6 + 2 + 8))

elapsed () { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }
alive_of () { mesh_osmose "$1" -t 5000 --json status 2>/dev/null | jq '.peers.alive' 2>/dev/null; }

mesh_init "$n" || exit 1
begin=$(date +%s.%N)
i=1
while [ "$i" -le "$n" ]; do
    end=$((i + batch - 1))
    [ "$end" -gt "$n" ] && end=$n
    while [ "$i" -le "$end" ]; do
        if [ "$i" -eq 1 ]; then
            mesh_start 1
            mesh_wait_for 10 mesh_osmose 1 status || exit 1
        elif [ "$i" -le "$seeds" ]; then
            mesh_start "$i" -s node/location="hq/f$((i % 4))/r$i" -s mesh/seeds="$(mesh_seed 1)"
        else
            mesh_start "$i" -s node/location="hq/f$((i % 4))/r$i" \
                -s mesh/seeds="$(mesh_seed $(( (i % seeds) + 1 )))"
        fi
        i=$((i + 1))
    done
    sleep "$gap"
    echo "$(elapsed "$begin") s: $((i - 1)) started, peer 1 sees $(alive_of 1), load $(cut -d' ' -f1 /proc/loadavg)"
done
started=$(date +%s.%N)

# Polling 128 peers costs the CPU they need: stop a round at the first
# peer that does not see all yet, and poll every few seconds
all_see_all () {
    for j in $(seq 1 "$n"); do
        [ "$(alive_of "$j")" = "$n" ] || { lagging=$j; return 1; }
        [ "$(date +%s)" -lt "$deadline" ] || { lagging=$j; return 1; }
    done
}
deadline=$(( $(date +%s) + settle ))
lagging=0
converged=false
while [ "$(date +%s)" -lt "$deadline" ]; do
    if all_see_all; then converged=true; break; fi
    echo "$(elapsed "$started") s after the last start: peer $lagging sees $(alive_of "$lagging") of $n, load $(cut -d' ' -f1 /proc/loadavg)"
    sleep 5
done
if ! $converged; then
    # A full scan would take minutes on a saturated machine: sample
    for j in 1 2 $((n / 4)) $((n / 2)) $((3 * n / 4)) "$n"; do
        echo "peer $j: $(mesh_osmose "$j" -t 5000 --json status 2>/dev/null |
            jq -c '.peers | {alive, suspect, dead, links, bytes_out}' 2>/dev/null)"
    done
    echo "FAIL: not all $n peers see all within ${settle} s of the last start"
    exit 1
fi
echo "all $n peers see all $(elapsed "$started") s after the last start (polled)"
worst=0
for j in $(seq 1 "$n"); do
    links=$(mesh_osmose "$j" -t 5000 --json status 2>/dev/null | jq '.peers.links // 0')
    [ "${links:-0}" -gt "$worst" ] && worst=$links
done
echo "most outgoing links on one peer: $worst (bound $bound)"
[ "$worst" -le "$bound" ] || exit 1
