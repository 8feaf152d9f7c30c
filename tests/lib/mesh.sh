# mesh.sh: start and stop a mesh of real osmosed processes on loopback.
# Source it from an e2e test:  . "$top_srcdir/tests/lib/mesh.sh"
#   mesh_init N          make N peers (state dirs, keys, one shared trust file)
#   mesh_start I [ARGS]  start peer I (1-based) with extra osmosed ARGS
#   mesh_stop I [SIG]    stop peer I (default TERM) and wait for it
#   mesh_api I           the API endpoint of peer I
#   mesh_id I            the peer id of peer I
#   mesh_seed I          "ID@tcp://127.0.0.1:PORT" of peer I, for mesh/seeds
#   mesh_osmose I ARGS   run the osmose CLI against peer I
#   mesh_wait_for SECS CMD...  retry CMD until it succeeds or SECS pass
# Everything lives under $MESH_DIR and is removed by mesh_cleanup, which the
# library installs as an EXIT trap.
: "${OSMOSED:?OSMOSED must point at the osmosed binary}"
: "${OSMOSE:?OSMOSE must point at the osmose binary}"

MESH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/osmose-mesh-XXXXXX")
MESH_PIDS=""
# Ports from a range derived from our pid, so parallel tests do not collide,
# and below the kernel's ephemeral range (32768-60999), where outgoing
# connections would take them first
MESH_PORT_BASE=$((10000 + ($$ % 150) * 150))

mesh_cleanup () {
    for pid in $MESH_PIDS; do kill -9 "$pid" 2>/dev/null; done
    for pid in $MESH_PIDS; do wait "$pid" 2>/dev/null; done
    rm -rf "$MESH_DIR"
}
trap mesh_cleanup EXIT
trap 'exit 1' INT TERM

mesh_port () { echo $((MESH_PORT_BASE + $1)); }
mesh_api () { echo "ipc://$MESH_DIR/peer$1/api.sock"; }
mesh_id () { cat "$MESH_DIR/peer$1/id"; }
mesh_seed () { echo "$(mesh_id "$1")@tcp://127.0.0.1:$(mesh_port "$1")"; }
mesh_osmose () { i=$1; shift; "$OSMOSE" -e "$(mesh_api "$i")" "$@"; }

mesh_init () {
    MESH_SIZE=$1
    : > "$MESH_DIR/trust"
    i=1
    while [ "$i" -le "$MESH_SIZE" ]; do
        dir="$MESH_DIR/peer$i"
        mkdir -p "$dir"
        "$OSMOSED" --init -s node/state_dir="$dir/state" >"$dir/id" 2>/dev/null || return 1
        key=$(sed -n 2p "$dir/state/node.pub")
        echo "$key device peer$i" >> "$MESH_DIR/trust"
        i=$((i + 1))
    done
    i=1
    while [ "$i" -le "$MESH_SIZE" ]; do
        cp "$MESH_DIR/trust" "$MESH_DIR/peer$i/state/trust"
        i=$((i + 1))
    done
}

mesh_start () {
    i=$1; shift
    dir="$MESH_DIR/peer$i"
    "$OSMOSED" -s node/state_dir="$dir/state" -s node/name="peer$i" ${MESH_EXTRA:-} \
        -s api/endpoint="$(mesh_api "$i")" \
        -s mesh/bind="tcp://127.0.0.1:$(mesh_port "$i")" \
        -s discovery/avahi=false "$@" >>"$dir/log" 2>&1 &
    echo $! > "$dir/pid"
    MESH_PIDS="$MESH_PIDS $!"
}

mesh_stop () {
    pid=$(cat "$MESH_DIR/peer$1/pid")
    kill -"${2:-TERM}" "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

mesh_wait_for () {
    secs=$1; shift
    deadline=$(( $(date +%s) + secs ))
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep "${MESH_POLL:-0.05}"
    done
}
