#!/bin/sh
# Real osmosed processes find each other through a real avahi-daemon, with
# no seeds at all, in a private network namespace that has only lo; then
# avahi-daemon restarts and a newly started peer is still found.
. "$top_srcdir/tests/lib/avahi-env.sh"
avahi_env_enter "$0" "$@"
avahi_env_start || { avahi_env_logs; exit 1; }
. "$top_srcdir/tests/lib/mesh.sh"
command -v jq >/dev/null || { echo "jq not installed"; exit 77; }
set -u

all_see () {
    want=$1; shift
    for i in "$@"; do
        [ "$(mesh_osmose "$i" --json status 2>/dev/null | jq '.peers.alive')" = "$want" ] || return 1
    done
}
mesh_init 4
for i in 1 2 3; do
    mesh_start "$i" -s discovery/avahi=true -s node/location="hq/f1/r$i"
done
if ! mesh_wait_for 15 all_see 3 1 2 3; then
    echo "peers did not find each other through avahi"
    for i in 1 2 3; do mesh_osmose "$i" peers; cat "$MESH_DIR/peer$i/log"; done
    exit 1
fi
echo "3 peers found each other through mDNS"

avahi_env_stop_avahi
avahi_env_start_avahi || { avahi_env_logs; exit 1; }
mesh_start 4 -s discovery/avahi=true -s node/location=hq/f2/r1
if ! mesh_wait_for 20 all_see 4 1 2 3 4; then
    echo "peer 4 not found after avahi-daemon restarted"
    for i in 1 2 3 4; do mesh_osmose "$i" peers; done
    exit 1
fi
echo "after an avahi-daemon restart, a new peer was found by all"
