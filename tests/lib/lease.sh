# lease.sh: what the leasing and migration tests share, on top of mesh.sh.
# Source it after mesh.sh:  . "$top_srcdir/tests/lib/lease.sh"
#   lease_init N PLUGIN...  skip (exit 77) without lease_probe, jq or the
#                           plugins; make N peers that all trust PLUGIN
#                           (copied to $MESH_DIR/plugins); sets PROBE and
#                           LEASE_COMMON (osmosed settings every peer uses:
#                           the plugins, one worker, one CPU to lend)
#   lease_all_see_all       every peer sees all N alive, with resources
#   market_figures          each running peer's market: counters, the
#                           providers of its held leases, its granted ones
#   fail MESSAGE            print it, each peer's last log lines and
#                           market, and it again, exit 1
PROBE="$top_builddir/tests/lease_probe"

market_figures () {
    i=1
    while [ "$i" -le "${MESH_SIZE:-0}" ]; do
        if [ -S "$MESH_DIR/peer$i/api.sock" ]; then
            echo "peer$i $(mesh_osmose "$i" -t 1000 --json leases 2>&1 | jq -c '{counters,
                held: [.held[]? | {provider, ttl_left_ms}],
                granted: [.granted[]? | {client, ttl_left_ms}], free}' 2>&1)"
        fi
        i=$((i + 1))
    done
}

fail () {
    echo "FAIL: $*"
    i=1
    while [ "$i" -le "${MESH_SIZE:-0}" ]; do
        echo "--- peer$i"; tail -n ${LEASE_LOG_LINES:-12} "$MESH_DIR/peer$i/log"; i=$((i + 1))
    done
    echo "--- markets"
    market_figures
    echo "--- the last lease entries in each peer's log"
    i=1
    while [ "$i" -le "${MESH_SIZE:-0}" ]; do
        "$OSMOSE" log -s "$MESH_DIR/peer$i/state/log" show 2>/dev/null \
            | grep -E "LEASE|MIGRATE" | tail -n 8 | sed "s/^/peer$i /"
        i=$((i + 1))
    done
    #   Again last: the runner shows only the tail of a failed test's log
    echo "FAIL: $*"
    exit 1
}

lease_init () {
    n=$1; shift
    [ -x "$PROBE" ] || { echo "tests/lease_probe is not built"; exit 77; }
    command -v jq >/dev/null 2>&1 || { echo "jq is missing"; exit 77; }
    mkdir -p "$MESH_DIR/plugins"
    for plugin in "$@"; do
        [ -f "$OSMOSE_PLUGIN_BUILD_DIR/$plugin.so" ] || { echo "no $plugin plugin built"; exit 77; }
        cp "$OSMOSE_PLUGIN_BUILD_DIR/$plugin.so" "$MESH_DIR/plugins/"
    done
    export OSMOSE_WORKER
    mesh_init "$n" || fail "cannot make keys"
    i=1
    while [ "$i" -le "$n" ]; do
        for plugin in "$@"; do
            "$OSMOSE" plugin trust "$MESH_DIR/plugins/$plugin.so" \
                --state-dir "$MESH_DIR/peer$i/state" >/dev/null || fail "cannot trust $plugin"
        done
        i=$((i + 1))
    done
    LEASE_COMMON="-s exec/plugin_dir=$MESH_DIR/plugins -s exec/workers=1 -s policy/lease_cpus=1"
}

lease_all_see_all () {
    i=1
    while [ "$i" -le "$MESH_SIZE" ]; do
        got=$(mesh_osmose "$i" --json peers 2>/dev/null \
              | jq '[.[] | select(.state == "alive" and .resources != null)] | length')
        [ "$got" = "$MESH_SIZE" ] || return 1
        i=$((i + 1))
    done
}
