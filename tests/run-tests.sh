#!/bin/sh
#   run-tests.sh: the test runner behind "make check".
#   Runs every class self-test (osmose_selftest -l) and every end-to-end
#   script in tests/e2e/*.sh, each isolated with a time limit, and ends with
#   one line "N passed, N failed, N skipped". Exit 0 only if none failed.
#   Environment: TESTS="name ..." runs only those; TEST_TIMEOUT (seconds);
#   TEST_REPEAT=N runs each test N times (name#1 ... name#N), each counted:
#   a flake shows as one failure among the runs.
#   An e2e script exits 0 to pass, 77 to skip, anything else to fail.
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
timeout_s=${TEST_TIMEOUT:-300}
repeat=${TEST_REPEAT:-1}
case $repeat in
    ''|*[!0-9]*|0) echo "run-tests.sh: TEST_REPEAT must be a count above 0, not '$repeat'" >&2; exit 2 ;;
esac
logdir="$top_builddir/tests/logs"
mkdir -p "$logdir"
export top_builddir top_srcdir
# Absolute paths, so tests may cd where they like
top_builddir=$(cd "$top_builddir" && pwd)
top_srcdir=$(cd "$top_srcdir" && pwd)
selftest="$top_builddir/tests/osmose_selftest"

passed=0; failed=0; skipped=0; failures=""
wanted () {
    [ -z "$TESTS" ] && return 0
    for t in $TESTS; do [ "$t" = "$1" ] && return 0; done
    return 1
}
run_one () {
    wanted "$1" || return 0
    if [ "$repeat" -gt 1 ]; then
        base=$1; shift
        for round in $(seq 1 "$repeat"); do run_once "$base#$round" "$@"; done
    else
        run_once "$@"
    fi
}
run_once () {
    name=$1; shift
    limit=$timeout_s
    #   A script may ask for more: a line "#   timeout: SECONDS" (the
    #   package build runs the whole suite inside one test)
    if [ -f "$2" ]; then
        own=$(sed -n 's/^#   timeout: \([0-9][0-9]*\)$/\1/p' "$2" | head -n 1)
        [ -n "$own" ] && [ "$own" -gt "$limit" ] && limit=$own
    fi
    start=$(date +%s.%N)
    timeout -k 10 "$limit" "$@" >"$logdir/$name.log" 2>&1
    rc=$?
    took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
    case $rc in
        0)  passed=$((passed + 1)); printf 'PASS  %-32s %6ss\n' "$name" "$took" ;;
        77) skipped=$((skipped + 1)); printf 'SKIP  %-32s (%s)\n' "$name" "$(tail -n 1 "$logdir/$name.log")" ;;
        *)  failed=$((failed + 1)); failures="$failures $name"
            [ $rc -eq 124 ] && echo "(killed after ${limit}s)" >>"$logdir/$name.log"
            printf 'FAIL  %-32s exit %d, log: %s\n' "$name" "$rc" "$logdir/$name.log"
            tail -n 20 "$logdir/$name.log" | sed 's/^/    | /' ;;
    esac
}
for name in $("$selftest" -l); do
    run_one "$name" "$selftest" -v -t "$name"
done
for script in "$top_srcdir"/tests/e2e/*.sh; do
    [ -f "$script" ] || continue
    name=$(basename "$script" .sh)
    run_one "$name" sh "$script"
done
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
