#!/bin/sh
#   contrib/deps.sh: install what it takes to build, test and package
#   osmose on Debian 12 (bookworm). Run as root, or as a user with sudo.
#   Usage: contrib/deps.sh [--minimal]
#       --minimal   only what building needs (no test or packaging tools)
set -e

build="build-essential autoconf automake libtool pkgconf
       libzmq3-dev libczmq-dev libsodium-dev libavahi-client-dev
       libncurses-dev libjansson-dev libjemalloc-dev"
#   jq: JSON checks in the tests; groff-base, man-db: man page checks;
#   iproute2: network-namespace tests; debhelper, dpkg-dev: .deb builds;
#   systemd: systemd-analyze verify of the unit; clang, libclang-rt-14-dev:
#   libFuzzer targets (fuzz/run.sh); avahi-daemon, avahi-utils, dbus: the
#   discovery tests (private bus and daemon in namespaces); tmux: the
#   osmose-top screen tests; git: clones
check="jq groff-base man-db iproute2 procps util-linux debhelper dpkg-dev
       systemd clang libclang-rt-14-dev avahi-daemon avahi-utils dbus tmux git"

packages="$build"
[ "$1" = "--minimal" ] || packages="$packages $check"

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "contrib/deps.sh: run me as root (or install sudo)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "contrib/deps.sh: apt-get not found; on other systems install the" \
         "equivalents of: $packages" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -q
# shellcheck disable=SC2086
$as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends $packages
echo "contrib/deps.sh: build dependencies installed"
