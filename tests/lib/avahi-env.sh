#   avahi-env.sh: a private mDNS world for tests, sourced by test scripts.
#
#   A test that needs real Avahi runs inside fresh network, mount and pid
#   namespaces: the network namespace holds only "lo", so avahi-daemon can
#   never reach the machine's real interfaces; the mount namespace puts a
#   tmpfs over /run, so the fixed paths of the dbus and avahi sockets and pid
#   files belong to this test alone; the pid namespace kills every daemon
#   the test started when the test ends, however it ends.
#
#   Usage, at the top of a test script:
#       . "$top_srcdir/tests/lib/avahi-env.sh"
#       avahi_env_enter "$0" "$@"      # skips (77) or re-runs the script inside
#       avahi_env_start                # dbus-daemon + avahi-daemon, ready
#       ... avahi_env_stop_avahi; avahi_env_start_avahi ...   # restart
#       ... avahi_env_stop_bus; avahi_env_start_bus ...       # bus too
#       (avahi_env_stop runs on exit)
#   Or run any command in such a world: tests/lib/in-avahi-netns.sh CMD...
#   Variables: AVAHI_ENV_DIR (configs and daemon logs, on the namespace's
#   own /run, so a test may keep its scratch files there too), AVAHI_ENV_PID,
#   DBUS_ENV_PID; DBUS_SYSTEM_BUS_ADDRESS is exported for child processes.

#   Print why the test cannot run and exit 77 (skip)
avahi_env_skip () {
    echo "$*"
    exit 77
}

#   Check what the environment needs, then re-run SCRIPT ARGS inside new
#   namespaces (unless already inside). Does not return outside.
avahi_env_enter () {
    if [ -n "$AVAHI_ENV_INSIDE" ]; then
        return 0
    fi
    [ "$(id -u)" -eq 0 ] || avahi_env_skip "needs root for network namespaces"
    for tool in unshare ip dbus-daemon avahi-daemon; do
        command -v "$tool" >/dev/null 2>&1 || avahi_env_skip "needs $tool"
    done
    unshare --net --mount --pid --fork --mount-proc true 2>/dev/null \
        || avahi_env_skip "cannot create namespaces (unshare failed)"
    script=$1; shift
    AVAHI_ENV_INSIDE=1
    export AVAHI_ENV_INSIDE
    #   --kill-child: when unshare dies, its child, the namespace's init,
    #   dies, and with it every process in the namespace. unshare ignores
    #   SIGTERM, so we turn a SIGTERM (a test timeout) into its SIGKILL.
    unshare --net --mount --pid --fork --mount-proc --kill-child \
        sh "$script" "$@" &
    avahi_env_unshare=$!
    trap 'kill -KILL $avahi_env_unshare 2>/dev/null; exit 1' INT TERM HUP
    wait $avahi_env_unshare
    exit $?
}

#   Inside the namespaces: loopback up, private /run, dbus and avahi started
avahi_env_start () {
    [ -n "$AVAHI_ENV_INSIDE" ] || { echo "avahi_env_start: not inside namespaces"; exit 1; }
    ip link set lo up || return 1
    ip link set lo multicast on || return 1
    mount -t tmpfs -o mode=0755 osmose-test-run /run || return 1
    #   Our files live on that tmpfs too: they vanish with the namespace
    AVAHI_ENV_DIR=/run/osmose-test
    mkdir -p /run/dbus /run/avahi-daemon "$AVAHI_ENV_DIR"
    trap avahi_env_stop EXIT
    trap 'exit 1' INT TERM HUP
    cat >"$AVAHI_ENV_DIR/system.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
CONF
    cat >"$AVAHI_ENV_DIR/avahi-daemon.conf" <<CONF
[server]
host-name=osmose-test
use-ipv4=yes
use-ipv6=yes
allow-interfaces=lo
enable-dbus=yes
disallow-other-stacks=no
ratelimit-interval-usec=0
ratelimit-burst=1000000

[wide-area]
enable-wide-area=no

[publish]
publish-addresses=yes
publish-hinfo=no
publish-workstation=no
publish-domain=no
publish-aaaa-on-ipv4=no
publish-a-on-ipv6=no

[reflector]
enable-reflector=no
CONF
    DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket
    export DBUS_SYSTEM_BUS_ADDRESS
    avahi_env_start_bus || return 1
    avahi_env_start_avahi
}

#   (Re)start the system bus (dbus-daemon) and wait for its socket
avahi_env_start_bus () {
    rm -f /run/dbus/system_bus_socket
    dbus-daemon --config-file="$AVAHI_ENV_DIR/system.conf" --nofork --nopidfile \
        >>"$AVAHI_ENV_DIR/dbus.log" 2>&1 &
    DBUS_ENV_PID=$!
    tries=0
    while [ ! -S /run/dbus/system_bus_socket ]; do
        tries=$((tries + 1))
        if [ $tries -gt 100 ]; then
            echo "avahi_env_start_bus: dbus-daemon did not start"; cat "$AVAHI_ENV_DIR/dbus.log"
            return 1
        fi
        sleep 0.05
    done
}

#   Stop the system bus (stop avahi-daemon first: it needs the bus)
avahi_env_stop_bus () {
    [ -n "$DBUS_ENV_PID" ] || return 0
    kill "$DBUS_ENV_PID" 2>/dev/null
    wait "$DBUS_ENV_PID" 2>/dev/null
    DBUS_ENV_PID=
    rm -f /run/dbus/system_bus_socket
}

#   (Re)start avahi-daemon and wait until it answers on the bus
avahi_env_start_avahi () {
    rm -f /run/avahi-daemon/pid
    AVAHI_ENV_STARTS=$((${AVAHI_ENV_STARTS:-0} + 1))
    AVAHI_ENV_LOG=$AVAHI_ENV_DIR/avahi.$AVAHI_ENV_STARTS.log
    avahi-daemon --no-drop-root --no-chroot --no-rlimits --no-proc-title \
        -f "$AVAHI_ENV_DIR/avahi-daemon.conf" >"$AVAHI_ENV_LOG" 2>&1 &
    AVAHI_ENV_PID=$!
    tries=0
    until avahi_env_avahi_ready; do
        tries=$((tries + 1))
        if [ $tries -gt 100 ] || ! kill -0 "$AVAHI_ENV_PID" 2>/dev/null; then
            echo "avahi_env_start_avahi: avahi-daemon did not start"
            cat "$AVAHI_ENV_LOG"
            return 1
        fi
        sleep 0.1
    done
}

#   True when the avahi-daemon last started has finished starting up
avahi_env_avahi_ready () {
    grep -q "Server startup complete" "$AVAHI_ENV_LOG" 2>/dev/null
}

#   Stop avahi-daemon (SIGTERM, then SIGKILL) and wait for it to be gone
avahi_env_stop_avahi () {
    [ -n "$AVAHI_ENV_PID" ] || return 0
    kill "$AVAHI_ENV_PID" 2>/dev/null
    tries=0
    while kill -0 "$AVAHI_ENV_PID" 2>/dev/null; do
        tries=$((tries + 1))
        [ $tries -eq 50 ] && kill -9 "$AVAHI_ENV_PID" 2>/dev/null
        [ $tries -gt 100 ] && break
        sleep 0.05
    done
    wait "$AVAHI_ENV_PID" 2>/dev/null
    AVAHI_ENV_PID=
}

#   Stop both daemons (the EXIT trap runs it; files go with the tmpfs)
avahi_env_stop () {
    avahi_env_stop_avahi
    avahi_env_stop_bus
}

#   Print the daemons' logs (for a failing test's log)
avahi_env_logs () {
    for log in "$AVAHI_ENV_DIR"/*.log; do
        [ -f "$log" ] || continue
        echo "--- $log"
        cat "$log"
    done
}
