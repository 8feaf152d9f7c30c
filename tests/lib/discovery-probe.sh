#   discovery-probe.sh: drive tests/discovery_probe from e2e scripts
#   (sourced after avahi-env.sh, inside the namespaces). Each probe runs one
#   osmose_discovery object and logs its events to $PROBE_DIR/NAME.log.

PROBE=${PROBE:-$top_builddir/tests/discovery_probe}

#   probe_start TAG NAME PORT LOCATION [NEW_LOCATION]: start a probe in the
#   background; sets TAG_pid and TAG_id (once it is ready), TAG_log
probe_start () {
    tag=$1 name=$2 port=$3 location=$4 moved=${5:-$4}
    log=$PROBE_DIR/$tag.log
    "$PROBE" -n "$name" -p "$port" -l "$location" -m "$moved" -t 60 >"$log" 2>&1 &
    eval "${tag}_pid=$!; ${tag}_log=$log"
    probe_wait "$log" '^ready id=' 5 || return 1
    eval "${tag}_id=$(sed -n 's/^ready id=//p' "$log")"
}

#   probe_wait FILE REGEX SECONDS [FROM_LINE]: wait until a line of FILE
#   after line FROM_LINE matches REGEX; false after SECONDS
probe_wait () {
    file=$1 regex=$2 limit=$(($3 * 10)) from=$((${4:-0} + 1)) tries=0
    until tail -n "+$from" "$file" 2>/dev/null | grep -Eq -- "$regex"; do
        tries=$((tries + 1))
        if [ $tries -gt $limit ]; then
            echo "FAIL: no line /$regex/ in $file after $3 s"
            return 1
        fi
        sleep 0.1
    done
}

#   probe_lines FILE: how many lines FILE has now (a mark for probe_wait)
probe_lines () {
    wc -l <"$1" | tr -d ' '
}

#   probe_stop TAG: SIGTERM (withdraws the service), wait for it to exit
probe_stop () {
    eval "pid=\$${1}_pid"
    kill "$pid" 2>/dev/null
    wait "$pid"
}

#   probe_found_re ID PORT LOCATION NAME: the FOUND line another probe must log
probe_found_re () {
    echo "^FOUND id=$1 addr=[0-9a-f.:%]+ port=$2 loc=$3 v=1 ep=tcp://127.0.0.1:$2 name=$4\$"
}

probe_dump () {
    for log in "$PROBE_DIR"/*.log; do
        echo "--- $log"
        cat "$log"
    done
    avahi_env_logs
}
