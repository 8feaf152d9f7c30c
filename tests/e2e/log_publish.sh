#!/bin/sh
#   log_publish: a burst of entries that goes on is pushed to the mesh in
#   ever fewer pieces (log/publish_ms, then twice as long each time, up to
#   log/publish_max_ms), and every entry still arrives; after a quiet
#   spell a lone entry is pushed on its own again.
. "$top_srcdir/tests/lib/mesh.sh"
command -v jq >/dev/null || { echo "jq not installed"; exit 77; }
set -u
fail () { echo "FAIL: $*"; exit 1; }

mesh_init 2
mesh_start 1 -s log/publish_ms=100 -s log/publish_max_ms=800
mesh_wait_for 5 mesh_osmose 1 status || fail "peer 1 did not start"
mesh_start 2 -s mesh/seeds="$(mesh_seed 1)"
mesh_wait_for 5 mesh_osmose 2 status || fail "peer 2 did not start"
id1=$(mesh_id 1)
replica_size () {
    mesh_osmose 2 --json feeds | jq --arg id "$id1" '.[] | select(.id == $id) | .size'
}
own_size () { mesh_osmose 1 --json status | jq .log.own; }
pushes_in () { mesh_osmose 2 --json status | jq .log.messages_in; }
caught_up () { [ "$(replica_size)" = "$(own_size)" ]; }
mesh_wait_for 10 caught_up || fail "peer 2 never held peer 1's feed"
sleep 2         #   a quiet spell: the next entry is pushed at once

#   3 s of entries back to back (bounded in count too)
before=$(pushes_in)
start=$(date +%s.%N)
posted=0
while [ "$posted" -lt 600 ] \
   && [ "$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { print (e - s < 3) }')" = 1 ]; do
    mesh_osmose 1 event "burst entry $posted" >/dev/null || fail "event $posted refused"
    posted=$((posted + 1))
done
took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
mesh_wait_for 10 caught_up || fail "the burst did not all arrive: $(replica_size) of $(own_size)"
pushes=$(( $(pushes_in) - before ))
#   At 100 ms apart the burst would take one push per 100 ms; growing
#   100, 200, 400, 800, 800... it takes about 7 in 3 s. A little room for
#   the anti-entropy summaries that also come in.
slots=$(awk -v t="$took" 'BEGIN { printf "%d", t * 10 }')
echo "$posted entries in $took s reached peer 2 in $pushes gossip messages ($slots at one per 100 ms)"
[ "$posted" -ge 20 ] || fail "only $posted entries posted in $took s"
[ "$pushes" -le $((slots / 2)) ] || fail "$pushes messages for a $took s burst: not paced"

#   Quiet again: a lone entry goes out in one push, well before the 800 ms
#   a burst would wait
sleep 2
before=$(pushes_in)
mesh_osmose 1 event "a lone entry" >/dev/null || fail "lone event refused"
start=$(date +%s.%N)
mesh_wait_for 5 caught_up || fail "the lone entry did not arrive"
lone=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%d", (e - s) * 1000 }')
echo "a lone entry after a quiet spell: on peer 2 within $lone ms"
[ "$(( $(pushes_in) - before ))" -le 2 ] || fail "the lone entry took more than one push"
echo "log_publish: OK"
