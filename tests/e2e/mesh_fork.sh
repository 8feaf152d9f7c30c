#!/bin/sh
# A writer that signs two histories is caught and distrusted. Peer 1 and
# peer 2 form a mesh; peer 1 writes events. Then a second daemon with a copy
# of peer 1's keys but its own, different history ("the forger", started
# after peer 1 stops) meets peer 2: peer 2 proves the fork, keeps the proof
# in its own log, and removes the key from its trust store.
. "$top_srcdir/tests/lib/mesh.sh"
command -v jq >/dev/null || { echo "jq not installed"; exit 77; }
set -u

mesh_init 3
# The forger: peer 3's directory, holding peer 1's keys and trust
cp "$MESH_DIR/peer1/state/node.key" "$MESH_DIR/peer1/state/node.pub" "$MESH_DIR/peer3/state/"
cp "$MESH_DIR/peer1/id" "$MESH_DIR/peer3/id"
mesh_start 1
mesh_wait_for 5 mesh_osmose 1 status || exit 1
mesh_start 2 -s mesh/seeds="$(mesh_seed 1)"
both () { for i in 1 2; do [ "$(mesh_osmose "$i" --json status | jq .peers.alive)" = 2 ] || return 1; done; }
mesh_wait_for 10 both || { echo "no mesh"; exit 1; }
for k in 1 2 3 4 5; do mesh_osmose 1 event "honest $k" || exit 1; done
id1=$(mesh_id 1)
has () { [ "$(mesh_osmose 2 --json feeds | jq --arg id "$id1" '.[] | select(.id == $id) | .size')" -ge "$1" ]; }
mesh_wait_for 10 has 7 || { echo "peer 2 did not replicate peer 1"; mesh_osmose 2 feeds; exit 1; }
mesh_stop 1 KILL

# The forger writes another history under the same key and comes back
rm -rf "$MESH_DIR/peer3/state/log"
# (at peer 1's address: to the mesh it is peer 1 coming back)
mesh_start 3 -s mesh/seeds="$(mesh_seed 2)" -s mesh/bind="tcp://127.0.0.1:$(mesh_port 1)"
mesh_wait_for 5 mesh_osmose 3 status || { cat "$MESH_DIR/peer3/log"; exit 1; }
for k in 1 2 3 4 5 6 7 8; do mesh_osmose 3 event "forged $k" || exit 1; done
distrusted () { ! mesh_osmose 2 --json trust list | jq -e --arg id "$id1" 'any(.[]; .id == $id)' >/dev/null; }
if ! mesh_wait_for 20 distrusted; then
    echo "peer 2 still trusts the forked key"; tail -n 20 "$MESH_DIR/peer2/log" "$MESH_DIR/peer3/log"; mesh_osmose 2 feeds; mesh_osmose 3 feeds; mesh_osmose 2 peers; exit 1
fi
grep -q "forked its log" "$MESH_DIR/peer2/log" || { echo "no fork report in peer 2's log"; exit 1; }
"$OSMOSE" log -s "$MESH_DIR/peer2/state/log" --json show | grep -q FORK_PROOF \
    || { echo "no FORK_PROOF entry in peer 2's feed"; exit 1; }
echo "fork proven, kept in the log, and the key distrusted"
