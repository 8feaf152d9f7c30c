#!/bin/sh
#   daemon_run: osmosed starts on a private state dir and ipc endpoint,
#   answers osmose status / peers / osmose-top, refuses a second daemon on
#   its endpoint, and stops on SIGTERM with exit 0, removing its socket.
. "$top_srcdir/tests/lib/daemon.sh"
need jq

e2e_config alpha 0 hq/floor1/lab >/dev/null
e2e_start alpha
pid=$E2E_PID
sock="$E2E_DIR/alpha.sock"
[ -S "$sock" ] || fail "no socket at $sock"
ls "$E2E_DIR/alpha.state" | grep -q . || fail "state dir is empty: no keys"

#   status, for people and for scripts
osm alpha status >"$E2E_DIR/status.txt" || fail "osmose status exited $?"
grep -q '^location *hq/floor1/lab$' "$E2E_DIR/status.txt" \
    || fail "status does not show the location: $(cat "$E2E_DIR/status.txt")"
osm alpha --json status >"$E2E_DIR/status.json" || fail "osmose --json status exited $?"
id=$(jq -er .id "$E2E_DIR/status.json") || fail "status has no id"
echo "$id" | grep -Eq '^[0-9a-f]{16}$' || fail "id is not 16 hex digits: $id"
[ "$(jq -r .name "$E2E_DIR/status.json")" = alpha ] || fail "wrong name"
[ "$(jq -r .location "$E2E_DIR/status.json")" = hq/floor1/lab ] || fail "wrong location"
jq -e '.uptime_ms >= 0' "$E2E_DIR/status.json" >/dev/null || fail "no uptime"
osm alpha status --json | jq -e --arg id "$id" '.id == $id' >/dev/null \
    || fail "status --json after the command disagrees"

#   peers: a JSON array that holds this peer, marked self
osm alpha peers --json >"$E2E_DIR/peers.json" || fail "osmose peers --json exited $?"
jq -e 'type == "array" and length >= 1' "$E2E_DIR/peers.json" >/dev/null \
    || fail "peers is not a non-empty array: $(cat "$E2E_DIR/peers.json")"
jq -e --arg id "$id" 'map(select(.id == $id and .self == true)) | length == 1' \
    "$E2E_DIR/peers.json" >/dev/null || fail "peers does not list self ($id)"
osm alpha peers | grep -q "^$id " || fail "osmose peers (text) does not list $id"

#   osmose-top in batch and JSON mode
"$OSMOSE_TOP" -e "ipc://$sock" -b -n 1 >"$E2E_DIR/top.txt" || fail "osmose-top -b exited $?"
grep -q "peer $id (alpha)" "$E2E_DIR/top.txt" || fail "osmose-top: $(cat "$E2E_DIR/top.txt")"
"$OSMOSE_TOP" -e "ipc://$sock" --json -n 2 -d 0.1 >"$E2E_DIR/top.json" || fail "osmose-top --json"
[ "$(wc -l <"$E2E_DIR/top.json")" -eq 2 ] || fail "osmose-top -n 2 did not print 2 frames"
jq -e --arg id "$id" '.status.id == $id' "$E2E_DIR/top.json" >/dev/null || fail "osmose-top --json"

#   OSMOSE_ENDPOINT reaches the daemon without -e
OSMOSE_ENDPOINT="ipc://$sock" "$OSMOSE" status >/dev/null || fail "OSMOSE_ENDPOINT ignored"

#   A second daemon on the same endpoint must be refused, and the first
#   must keep serving
e2e_config twin 1 >/dev/null
sed -i "s|$E2E_DIR/twin.sock|$sock|" "$E2E_DIR/twin.conf"
timeout 10 "$OSMOSED" -c "$E2E_DIR/twin.conf" >"$E2E_DIR/twin.log" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "second daemon on the same endpoint: exit $rc"
grep -q "another osmosed" "$E2E_DIR/twin.log" || fail "no clear refusal: $(cat "$E2E_DIR/twin.log")"
[ -S "$sock" ] || fail "the refused daemon removed the live socket"
osm alpha status >/dev/null || fail "first daemon stopped answering after the refusal"

#   SIGTERM: exit 0, socket removed
e2e_stop "$pid"; rc=$?
[ $rc -eq 0 ] || fail "osmosed exited $rc on SIGTERM"
[ ! -e "$sock" ] || fail "socket $sock left behind"
grep -q "stopping" "$E2E_DIR/alpha.log" || fail "no stop message in the log"

#   A restart keeps the identity
e2e_start alpha
[ "$(osm alpha --json status | jq -r .id)" = "$id" ] || fail "identity changed across restart"
e2e_stop "$E2E_PID" || fail "second stop"
echo "daemon_run: OK ($id)"
