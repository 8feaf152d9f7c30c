# netns.sh: hosts in network namespaces on one private switch, for tests
# of what crosses a network: partitions (a link down) and healing.
# Source it from an e2e test (needs root and iproute2):
#   netns_init           make the switch namespace (a bridge, nothing else)
#   netns_add_host I     make host I with eth0 = 10.199.X.I/24 on the switch
#   netns_addr I         the address of host I
#   netns_exec I CMD...  run CMD inside host I
#   netns_cut I          take host I's link down (a partition)
#   netns_heal I         bring it back
# Every namespace is named after this shell's pid and is deleted by
# netns_cleanup, installed as an EXIT trap (call it from your own trap if
# you replace that). Only the test's own namespaces are touched: the
# machine's interfaces and routes are never changed.
NETNS_PREFIX="osm$$"
NETNS_SUBNET="10.199.$(($$ % 250))"
NETNS_HOSTS=""

netns_available () {
    [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null 2>&1 || return 1
    ip netns add "${NETNS_PREFIX}probe" 2>/dev/null || return 1
    #   Some sandboxes let a namespace be made but not entered
    ip netns exec "${NETNS_PREFIX}probe" true 2>/dev/null
    rc=$?
    ip netns del "${NETNS_PREFIX}probe"
    return $rc
}

netns_cleanup () {
    for i in $NETNS_HOSTS; do
        # Kill what the test left running inside, then the namespace
        for pid in $(ip netns pids "${NETNS_PREFIX}h$i" 2>/dev/null); do
            kill -9 "$pid" 2>/dev/null
        done
        ip netns del "${NETNS_PREFIX}h$i" 2>/dev/null
    done
    ip netns del "${NETNS_PREFIX}sw" 2>/dev/null
    NETNS_HOSTS=""
}

netns_init () {
    ip netns add "${NETNS_PREFIX}sw" || return 1
    ip -n "${NETNS_PREFIX}sw" link add br0 type bridge || return 1
    ip -n "${NETNS_PREFIX}sw" link set br0 up
    ip -n "${NETNS_PREFIX}sw" link set lo up
}

netns_add_host () {
    i=$1
    ns="${NETNS_PREFIX}h$i"
    ip netns add "$ns" || return 1
    NETNS_HOSTS="$NETNS_HOSTS $i"
    ip link add "p$i" netns "${NETNS_PREFIX}sw" type veth peer name eth0 netns "$ns" || return 1
    ip -n "${NETNS_PREFIX}sw" link set "p$i" master br0
    ip -n "${NETNS_PREFIX}sw" link set "p$i" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip -n "$ns" addr add "$NETNS_SUBNET.$i/24" dev eth0
}

netns_addr () { echo "$NETNS_SUBNET.$1"; }
netns_exec () { i=$1; shift; ip netns exec "${NETNS_PREFIX}h$i" "$@"; }
netns_cut () { ip -n "${NETNS_PREFIX}sw" link set "p$1" down; }
netns_heal () { ip -n "${NETNS_PREFIX}sw" link set "p$1" up; }
