#!/bin/sh
# Four real osmosed processes on loopback, joined through one seed: all
# see all; a peer with an unknown key is refused and never listed; kill -9
# one and the others mark it dead; restart it with the same keys and it
# rejoins as alive.
. "$top_srcdir/tests/lib/mesh.sh"
command -v jq >/dev/null || { echo "jq not installed"; exit 77; }
set -u

alive_count () {
    mesh_osmose "$1" --json peers | jq '[.[] | select(.state == "alive")] | length'
}
all_see () {
    want=$1; shift
    for i in "$@"; do
        [ "$(alive_count "$i" 2>/dev/null)" = "$want" ] || return 1
    done
}

mesh_init 5
mesh_start 1 -s node/location=hq/f1/r1
mesh_wait_for 5 mesh_osmose 1 status || { echo "peer 1 did not start"; cat "$MESH_DIR/peer1/log"; exit 1; }
for i in 2 3 4; do
    mesh_start "$i" -s node/location=hq/f1/r$i -s mesh/seeds="$(mesh_seed 1)"
done
if ! mesh_wait_for 10 all_see 4 1 2 3 4; then
    echo "not all peers see all 4"; for i in 1 2 3 4; do mesh_osmose "$i" peers; done; exit 1
fi
echo "4 peers see each other"

# Peer 5 has a key nobody enrolled: it must stay outside
rm -f "$MESH_DIR/peer5/state/trust"
cp "$MESH_DIR/trust" "$MESH_DIR/peer5/state/trust"
for i in 1 2 3 4; do
    id5=$(mesh_id 5)
    mesh_osmose "$i" trust remove "$id5" >/dev/null || exit 1
done
mesh_start 5 -s mesh/seeds="$(mesh_seed 1)"
mesh_wait_for 15 grep -q refused "$MESH_DIR/peer1/log"
for i in 1 2 3 4; do
    if mesh_osmose "$i" --json peers | jq -e --arg id "$(mesh_id 5)" 'any(.[]; .id == $id)' >/dev/null; then
        echo "untrusted peer 5 got into peer $i's table"; exit 1
    fi
done
grep -q "refused" "$MESH_DIR/peer1/log" || { echo "peer 1 did not report the refusal"; cat "$MESH_DIR/peer1/log"; exit 1; }
echo "untrusted peer refused"

# Kill -9 peer 4: the others mark it dead
id4=$(mesh_id 4)
dead_everywhere () {
    for i in 1 2 3; do
        mesh_osmose "$i" --json peers | jq -e --arg id "$id4" \
            'any(.[]; .id == $id and .state == "dead")' >/dev/null || return 1
    done
}
mesh_stop 4 KILL
mesh_wait_for 10 dead_everywhere || { echo "peer 4 not marked dead"; for i in 1 2 3; do mesh_osmose "$i" peers; done; exit 1; }
echo "killed peer marked dead"

# Restart it with the same keys: it rejoins
mesh_start 4 -s node/location=hq/f1/r4 -s mesh/seeds="$(mesh_seed 2)"
mesh_wait_for 10 all_see 4 1 2 3 4 || { echo "peer 4 did not rejoin"; for i in 1 2 3 4; do mesh_osmose "$i" peers; done; exit 1; }
echo "restarted peer rejoined"

# Graceful stop is seen as left
id3=$(mesh_id 3)
left_everywhere () {
    for i in 1 2 4; do
        mesh_osmose "$i" --json peers | jq -e --arg id "$id3" \
            'any(.[]; .id == $id and .state == "left")' >/dev/null || return 1
    done
}
mesh_stop 3 TERM
mesh_wait_for 5 left_everywhere || { echo "peer 3 not seen as left"; exit 1; }
echo "graceful leave seen"
