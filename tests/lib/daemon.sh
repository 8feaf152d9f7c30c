#   tests/lib/daemon.sh: helpers for end-to-end tests that drive real osmosed
#   processes. Source it from a tests/e2e/*.sh script:
#       . "$top_srcdir/tests/lib/daemon.sh"
#   It makes one private temp dir ($E2E_DIR), removed with every daemon it
#   started when the script exits, however it exits. Ports derive from $$ so
#   tests running side by side do not collide.

top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
OSMOSED=${OSMOSED:-$top_builddir/src/osmosed}
OSMOSE=${OSMOSE:-$top_builddir/src/osmose}
OSMOSE_TOP=${OSMOSE_TOP:-$top_builddir/src/osmose-top}

E2E_DIR=$(mktemp -d /tmp/osmose-e2e-XXXXXX) || exit 1
E2E_PIDS=""
#   Where the tests' mesh ports start: one block of 8 per test process,
#   below the kernel's ephemeral range (32768-60999), where outgoing
#   connections could take them first
E2E_PORT_BASE=$((10000 + ($$ % 2800) * 8))

e2e_cleanup () {
    for pid in $E2E_PIDS; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in $E2E_PIDS; do
        #   bounded: 5 s, then force
        tries=0
        while kill -0 "$pid" 2>/dev/null && [ $tries -lt 50 ]; do
            sleep 0.1; tries=$((tries + 1))
        done
        kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$E2E_DIR"
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

fail () {
    echo "FAIL: $*" >&2
    exit 1
}

skip () {
    echo "$*"
    exit 77
}

#   e2e_config NAME [INDEX [LOCATION]]: write $E2E_DIR/NAME.conf for one
#   peer with its own state dir, ipc API endpoint and loopback mesh port.
#   Prints the file name.
e2e_config () {
    name=$1; index=${2:-0}; location=${3:-lab/bench$index}
    cat >"$E2E_DIR/$name.conf" <<EOF
#   test peer $name
node
    name = "$name"
    location = "$location"
    state_dir = "$E2E_DIR/$name.state"
api
    endpoint = "ipc://$E2E_DIR/$name.sock"
mesh
    bind = "tcp://127.0.0.1:$((E2E_PORT_BASE + index))"
discovery
    avahi = false
EOF
    echo "$E2E_DIR/$name.conf"
}

#   e2e_start NAME: start osmosed on $E2E_DIR/NAME.conf, wait until its API
#   answers (at most 10 s). Sets E2E_PID; the log is $E2E_DIR/NAME.log.
e2e_start () {
    name=$1
    "$OSMOSED" -c "$E2E_DIR/$name.conf" >"$E2E_DIR/$name.log" 2>&1 &
    E2E_PID=$!
    E2E_PIDS="$E2E_PIDS $E2E_PID"
    tries=0
    until "$OSMOSE" -e "ipc://$E2E_DIR/$name.sock" -t 200 status >/dev/null 2>&1; do
        tries=$((tries + 1))
        if ! kill -0 "$E2E_PID" 2>/dev/null; then
            cat "$E2E_DIR/$name.log" >&2
            fail "osmosed $name exited during start-up"
        fi
        [ $tries -lt 50 ] || fail "osmosed $name did not answer within 10 s"
        sleep 0.2
    done
}

#   e2e_stop PID: SIGTERM, wait at most 10 s; returns the daemon's exit code
#   (or 124 if it had to be killed).
e2e_stop () {
    pid=$1
    kill -TERM "$pid" 2>/dev/null || return 125
    tries=0
    while kill -0 "$pid" 2>/dev/null && [ $tries -lt 100 ]; do
        sleep 0.1; tries=$((tries + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null
        return 124
    fi
    wait "$pid"
}

#   osm NAME ARGS...: run the osmose CLI against peer NAME
osm () {
    name=$1; shift
    "$OSMOSE" -e "ipc://$E2E_DIR/$name.sock" "$@"
}

need () {
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || skip "$tool not installed"
    done
}
