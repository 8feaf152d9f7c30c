#!/bin/sh
#   top_perf: the CPU osmose-top spends per frame with 64 peers, measured
#   by the program itself (getrusage over 200 frames, --cpu-report) on the
#   screen in tmux and in batch and JSON mode. The budget is 10 ms a frame;
#   TOP_PERF_BUDGET_MS overrides it (e.g. for sanitizer builds).
. "$top_srcdir/tests/e2e/top_lib.inc"
need tmux

budget=${TOP_PERF_BUDGET_MS:-10}
t_frames 64 10 >"$T_DIR/frames.jsonl"

check () {
    what=$1; file=$2
    ms=$(sed -n 's/^osmose-top: \([0-9]*\) frames, \([0-9.]*\) ms CPU per frame$/\1 \2/p' "$file")
    [ -n "$ms" ] || fail "$what: no CPU report: $(cat "$file")"
    set -- $ms
    [ "$1" -eq 200 ] || fail "$what: $1 frames, expected 200"
    awk -v ms="$2" -v budget="$budget" 'BEGIN { exit !(ms <= budget) }' \
        || fail "$what: $2 ms CPU per frame, over the budget of $budget ms"
    echo "$what: $2 ms CPU per frame at 64 peers (budget $budget ms)"
}

#   The screen, 160x50, redrawn flat out: 200 full frames
t_tmux_start 160 50
t_keys "'$OSMOSE_TOP' --replay '$T_DIR/frames.jsonl' -d 0 -n 200 --cpu-report 2>'$T_DIR/screen.cpu'; echo \"top-rc=\$?\"" Enter
t_wait_screen '^top-rc=' 60 || fail "200 screen frames took over 60 s"
grep -q '^top-rc=0' "$T_DIR/screen" || fail "osmose-top failed: $(cat "$T_DIR/screen.cpu")"
check "screen" "$T_DIR/screen.cpu"

"$OSMOSE_TOP" --replay "$T_DIR/frames.jsonl" -b -d 0 -n 200 --cpu-report >/dev/null 2>"$T_DIR/batch.cpu" \
    || fail "osmose-top -b failed"
check "batch" "$T_DIR/batch.cpu"
"$OSMOSE_TOP" --replay "$T_DIR/frames.jsonl" --json -d 0 -n 200 --cpu-report >/dev/null 2>"$T_DIR/json.cpu" \
    || fail "osmose-top --json failed"
check "json" "$T_DIR/json.cpu"
echo "top_perf: OK"
