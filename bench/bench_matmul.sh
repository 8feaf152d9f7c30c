#!/bin/sh
# bench_matmul.sh [N [TILE]]: speed-up of a matrix product on 1, 2 and 4
# leased workers, (e) of the leasing benchmark. C = A B (N x N floats,
# default 1024) is cut into TILE x TILE blocks (default 256); each block
# product is one matrix.multiply task, and the client sums them. One lease
# (one CPU) per worker, each driven by its own thread; the figure is the
# wall time of the whole product, from the first task to the last result,
# the median of 3 runs, and the speed-up over 1 lease. Leases cannot
# exceed the cores: on a 2-core machine 2 is the most speed-up there is,
# and 4 leases share those 2 cores with the daemons and the client.
#
# Run from a build tree (after make):
#     sh ../bench/bench_matmul.sh            (starts 16 peers on loopback)
# bench/bench_lease.sh runs it on its own mesh, with BENCH_MATMUL_PEERS
# naming that mesh's peers file. BENCH_LEASE overrides the program.
top_srcdir=${top_srcdir:-$(dirname "$0")/..}
: "${BENCH_LEASE:=bench/bench_lease}"
n=${1:-${MATMUL_N:-1024}}
tile=${2:-${MATMUL_TILE:-256}}
if [ -z "${BENCH_MATMUL_PEERS:-}" ]; then
    # No mesh yet: let bench_lease.sh start one and call us back
    BENCH_LEASE_MATMUL_ONLY=1 MATMUL_N=$n MATMUL_TILE=$tile exec sh "$top_srcdir/bench/bench_lease.sh" 16
fi
exec "$BENCH_LEASE" --peers "$BENCH_MATMUL_PEERS" --matmul "$n" --tile "$tile"
