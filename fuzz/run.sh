#!/bin/sh
# fuzz/run.sh: build the libFuzzer targets (the log's, the replication
# engine's and the leasing wire's) with clang and run each for a bounded
# time. Usage: fuzz/run.sh [BUILDDIR]   (a configured build tree,
# for src/platform.h; default: the current directory)
# Environment: FUZZ_SECONDS (default 20) per target; CC (default clang);
# FUZZ_OUT (default a temp dir) for binaries, corpora and crash files.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-.}" && pwd)
[ -f "$build/src/platform.h" ] || { echo "fuzz/run.sh: $build/src/platform.h missing: pass a configured build dir"; exit 2; }
cc=${CC:-clang}
seconds=${FUZZ_SECONDS:-20}
out=${FUZZ_OUT:-$(mktemp -d /tmp/osmose-fuzz-XXXXXX)}
mkdir -p "$out"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -std=gnu11
    -I$top/include -I$top/src -I$build/src $(pkg-config --cflags libczmq libsodium)"
libs="$(pkg-config --libs libczmq libsodium libzmq)"
core="$top/src/osmose_merkle.c $top/src/osmose_entry.c $top/src/osmose_sth.c $top/src/osmose_error.c
    $top/src/osmose_identity.c $top/src/osmose_store.c $top/src/osmose_feed.c $top/fuzz/stub_config.c"
status=0
#   The leasing wire: work-connection bodies, bidding messages, tokens
wire="$top/src/osmose_work_msg.c $top/src/osmose_market_msg.c $top/src/osmose_token.c
    $top/src/osmose_identity.c $top/src/osmose_error.c"
for target in fuzz_entry fuzz_proof fuzz_store fuzz_wire fuzz_gossip; do
    echo "== $target: build"
    sources=$core
    [ "$target" = fuzz_wire ] && sources=$wire
    [ "$target" = fuzz_gossip ] && sources="$core $top/src/osmose_gossip.c"
    # shellcheck disable=SC2086
    $cc $flags -o "$out/$target" "$top/fuzz/$target.c" $sources $libs
    mkdir -p "$out/$target.corpus"
    echo "== $target: run ${seconds}s"
    if ! (cd "$out" && "./$target" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
            -rss_limit_mb=2048 -print_final_stats=1 "$target.corpus" >"$target.log" 2>&1); then
        echo "== $target: FAILED, see $out/$target.log"; tail -n 30 "$out/$target.log"; status=1
    else
        grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units)' "$out/$target.log" | tail -n 1
    fi
done
rm -rf /tmp/osmose-fuzz-store-* /tmp/osmose-fuzz-gossip-*
[ -z "$FUZZ_OUT" ] && [ $status -eq 0 ] && rm -rf "$out"
exit $status
