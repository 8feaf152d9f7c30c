#!/bin/sh
#   in-avahi-netns.sh: run COMMAND [ARGS...] in a private mDNS world: new
#   network (only lo), mount and pid namespaces, with dbus-daemon and
#   avahi-daemon running there (see avahi-env.sh). Exits 77 with one line
#   saying why when the machine cannot do that (not root, tools missing),
#   else with COMMAND's status. Everything it started is gone afterwards.
#   Example: tests/lib/in-avahi-netns.sh sh -c 'avahi-browse -a -t'
[ $# -gt 0 ] || { echo "usage: in-avahi-netns.sh COMMAND [ARGS...]"; exit 2; }
. "$(dirname "$0")/avahi-env.sh"
avahi_env_enter "$0" "$@"
avahi_env_start || { avahi_env_logs; exit 1; }
"$@"
