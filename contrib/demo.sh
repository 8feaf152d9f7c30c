#!/bin/sh
#   contrib/demo.sh: start a small osmose mesh of local peers on loopback,
#   show what each peer sees, then stop them all cleanly.
#
#   Each peer is a real osmosed process with its own state directory (keys,
#   trust store), location, API endpoint (ipc://) and mesh port on
#   127.0.0.1. Every peer trusts the others' keys; mDNS is off so the demo
#   stays on this machine; peers 2..N join through peer 1 as their seed.
#   Usage: contrib/demo.sh [PEERS]   (default 4, at most 8)
#   Environment: OSMOSE_DEMO_PORT (first mesh port, default 17470),
#   OSMOSE_DEMO_SETTLE (at most this many seconds for the peers to see each other, 15),
#   OSMOSED/OSMOSE/OSMOSE_TOP (programs; default: the build tree, else PATH).
set -u

peers=${1:-4}
case $peers in [1-8]) ;; *) echo "usage: $0 [PEERS]  (1 to 8)" >&2; exit 2 ;; esac
port_base=${OSMOSE_DEMO_PORT:-17470}
settle=${OSMOSE_DEMO_SETTLE:-15}
here=$(cd "$(dirname "$0")/.." && pwd)

#   Find a program: $VAR, then ./src (build dir), the source tree, then PATH
find_program () {
    for candidate in "./src/$1" "$here/src/$1"; do
        [ -x "$candidate" ] && { echo "$candidate"; return; }
    done
    command -v "$1" 2>/dev/null || { echo "demo: $1 not found; build first (make)" >&2; exit 1; }
}
OSMOSED=${OSMOSED:-$(find_program osmosed)} || exit 1
OSMOSE=${OSMOSE:-$(find_program osmose)} || exit 1
OSMOSE_TOP=${OSMOSE_TOP:-$(find_program osmose-top)} || exit 1

dir=$(mktemp -d /tmp/osmose-demo-XXXXXX) || exit 1
pids=""
cleanup () {
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
    for pid in $pids; do
        tries=0
        while kill -0 "$pid" 2>/dev/null && [ $tries -lt 50 ]; do sleep 0.1; tries=$((tries + 1)); done
        kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

#   One place per peer: a small building
locations="hq/floor1/lab hq/floor1/kitchen hq/floor2/office hq/floor2/meeting
           hq/floor3/lab hq/floor3/hall annex/floor1/store annex/floor1/desk"

say () { printf '\n=== %s\n' "$*"; }

#   Every peer gets its keys first, then trusts every other peer's key:
#   peers accept only enrolled keys (osmose trust, see osmose(1))
say "creating $peers identities and enrolling them with each other"
index=1
for location in $locations; do
    [ $index -le "$peers" ] || break
    mkdir -p "$dir/peer$index"
    id=$("$OSMOSED" --init -s node/state_dir="$dir/peer$index") || exit 1
    echo "$id" >"$dir/peer$index.id"
    echo "peer$index: id $id"
    index=$((index + 1))
done
for trusting in $(seq 1 "$peers"); do
    for trusted in $(seq 1 "$peers"); do
        "$OSMOSE" trust add "$dir/peer$trusted/node.pub" --name "peer$trusted" \
            --state-dir "$dir/peer$trusting" >/dev/null || exit 1
    done
done

say "starting $peers osmose peers in $dir"
index=1
for location in $locations; do
    [ $index -le "$peers" ] || break
    name="peer$index"
    #   peers 2..N join through peer 1, named by its id
    seeds=""
    [ $index -gt 1 ] && seeds="$(cat "$dir/peer1.id")@tcp://127.0.0.1:$port_base"
    cat >"$dir/$name.conf" <<CONF
node
    name = "$name"
    location = "$location"
    state_dir = "$dir/$name"
api
    endpoint = "ipc://$dir/$name.sock"
mesh
    bind = "tcp://127.0.0.1:$((port_base + index - 1))"
    seeds = "$seeds"
discovery
    avahi = false
CONF
    "$OSMOSED" -c "$dir/$name.conf" --check-config >/dev/null || exit 1
    "$OSMOSED" -c "$dir/$name.conf" >"$dir/$name.log" 2>&1 &
    pids="$pids $!"
    echo "$name: pid $!, $location, api ipc://$dir/$name.sock, mesh tcp://127.0.0.1:$((port_base + index - 1))"
    index=$((index + 1))
done

#   Wait until every API answers (at most 10 s each)
index=1
for pid in $pids; do
    tries=0
    until "$OSMOSE" -e "ipc://$dir/peer$index.sock" -t 200 status >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null || [ $tries -ge 50 ]; then
            echo "demo: peer$index did not start; its log:" >&2
            cat "$dir/peer$index.log" >&2
            exit 1
        fi
        tries=$((tries + 1)); sleep 0.2
    done
    index=$((index + 1))
done

#   Give membership a few seconds to converge: stop early once every peer
#   sees all the others alive
count_peers () {
    "$OSMOSE" -e "ipc://$dir/$1.sock" --json peers 2>/dev/null \
        | grep -o '"state": *"alive"' | wc -l
}
tries=0
converged=no
while [ $tries -lt $((settle * 5)) ]; do
    converged=yes
    index=1
    while [ $index -le "$peers" ]; do
        [ "$(count_peers "peer$index")" -ge "$peers" ] || converged=no
        index=$((index + 1))
    done
    [ $converged = yes ] && break
    tries=$((tries + 1)); sleep 0.2
done

index=1
while [ $index -le "$peers" ]; do
    say "peer$index: osmose status"
    "$OSMOSE" -e "ipc://$dir/peer$index.sock" status || exit 1
    say "peer$index: osmose peers"
    "$OSMOSE" -e "ipc://$dir/peer$index.sock" peers || exit 1
    index=$((index + 1))
done

say "peer1: osmose-top -b -n 1"
"$OSMOSE_TOP" -e "ipc://$dir/peer1.sock" -b -n 1 || exit 1

say "summary"
index=1
while [ $index -le "$peers" ]; do
    seen=$(count_peers "peer$index")
    echo "peer$index sees $seen of $peers peers alive"
    index=$((index + 1))
done
if [ $converged = no ]; then
    echo "demo: after ${settle} s not every peer sees all the others alive" >&2
    exit 1
fi

say "stopping the peers with SIGTERM"
index=1
status=0
for pid in $pids; do
    kill -TERM "$pid"
    tries=0
    while kill -0 "$pid" 2>/dev/null && [ $tries -lt 300 ]; do sleep 0.1; tries=$((tries + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
        echo "peer$index did not stop within 30 s; the end of its log:" >&2
        tail -n 5 "$dir/peer$index.log" >&2
        status=1
    else
        wait "$pid"; rc=$?
        if [ -e "$dir/peer$index.sock" ]; then
            echo "peer$index left its socket behind" >&2; status=1
        fi
        echo "peer$index stopped, exit $rc ($(awk -v t=$tries 'BEGIN { printf "%.1f", t / 10 }') s)"
        [ $rc -eq 0 ] || status=1
    fi
    index=$((index + 1))
done
pids=""
[ $status -eq 0 ] && echo "demo: done, all peers stopped cleanly"
exit $status
