#!/bin/sh
# bench_matmul.sh [N [TILE]]: (e) of the leasing benchmark: speed-up of the
# example program contrib/osmose-matmul on 1, 2 and 4 leased workers.
# C = A B (N x N float32, default 2048) is cut into TILE x TILE blocks
# (default 512); each block product is one matrix.multiply task on a lease
# of one CPU, and the program adds the products up. Each figure is the
# median of RUNS (3) runs of the whole program's multiplication (its
# "seconds": acquisition of the leases to the last result), and the
# speed-up is against 1 worker in the same run. Leases cannot go beyond
# the cores: on a 2-core machine 2x is the ceiling, and 4 workers share
# those 2 cores with the daemons and the program.
#
# Run from a build tree (after make):
#     sh ../bench/bench_matmul.sh            (starts 16 peers on loopback)
#     sh ../bench/bench_matmul.sh 2048 512
# bench/bench_lease.sh runs it on its own mesh, with BENCH_MATMUL_PEERS
# naming that mesh's peers file (the first line's endpoint is the local
# daemon). OSMOSE_MATMUL overrides the program, RUNS the number of runs.
top_srcdir=${top_srcdir:-$(dirname "$0")/..}
: "${OSMOSE_MATMUL:=contrib/osmose-matmul}"
n=${1:-${MATMUL_N:-2048}}
tile=${2:-${MATMUL_TILE:-512}}
runs=${RUNS:-3}
if [ -z "${BENCH_MATMUL_PEERS:-}" ]; then
    # No mesh yet: let bench_lease.sh start one and call us back
    BENCH_LEASE_MATMUL_ONLY=1 MATMUL_N=$n MATMUL_TILE=$tile exec sh "$top_srcdir/bench/bench_lease.sh" 16
fi
[ -x "$OSMOSE_MATMUL" ] || { echo "bench_matmul.sh: no $OSMOSE_MATMUL (run from a build tree, after make)" >&2; exit 2; }
endpoint=$(sed -n '1s/ .*//p' "$BENCH_MATMUL_PEERS")
cores=$(getconf _NPROCESSORS_ONLN)
tasks=$(( (n / tile) * (n / tile) * (n / tile) ))
echo "(e) $OSMOSE_MATMUL --size $n --tile $tile: $tasks matrix.multiply tasks, median of $runs runs;" \
     "$cores cores here, load average $(cut -d' ' -f1 /proc/loadavg)"
# The program's own CPU (user + system), where /usr/bin/time is there to say
timer=""
cpufile=${TMPDIR:-/tmp}/bench_matmul.$$
[ -x /usr/bin/time ] && timer="/usr/bin/time -o $cpufile -f %U+%S"
one=""
for workers in 1 2 4; do
    times=""
    cpus=""
    run=0
    while [ "$run" -lt "$runs" ]; do
        # Bounded: a run that takes over 120 s is a failure
        out=$(timeout 120 $timer "$OSMOSE_MATMUL" -e "$endpoint" --size "$n" --tile "$tile" \
                  --workers "$workers" --no-check --json) \
            || { echo "bench_matmul.sh: $OSMOSE_MATMUL --workers $workers failed: $out" >&2; exit 1; }
        [ -n "$timer" ] && cpus="$cpus $(tail -1 "$cpufile" | awk -F+ '{ print $1 + $2 }')"
        seconds=$(echo "$out" | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p')
        [ -n "$seconds" ] || { echo "bench_matmul.sh: no seconds in: $out" >&2; exit 1; }
        times="$times $seconds"
        run=$((run + 1))
    done
    # Leases held and their providers in the last run, for the reader
    held=$(echo "$out" | grep -o '"provider":"[0-9a-f]*"' | wc -l)
    providers=$(echo "$out" | grep -o '"provider":"[0-9a-f]*"' | sort -u | wc -l)
    median=$(echo "$times" | tr ' ' '\n' | sed '/^$/d' | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
    [ -n "$one" ] || one=$median
    awk -v w="$workers" -v h="$held" -v s="$median" -v one="$one" -v n="$n" -v c="$cores" -v p="$providers" \
        -v all="$times" -v cpus="$cpus" 'BEGIN {
        printf "    %d worker(s) (%d leases held, on %d providers): %.3f s, %.2f GFLOP/s," \
               " speed-up %.2fx over 1 worker (the %d cores allow at most %dx)   [runs:%s s]\n",
               w, h, p, s, 2 * n * n * n / s / 1e9, one / s, c, (w < c? w: c), all
        if (cpus != "")
            printf "        osmose-matmul itself used%s s of CPU in those runs\n", cpus }'
done
rm -f "$cpufile"
