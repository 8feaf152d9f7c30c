#!/bin/sh
# Regenerate the build system from configure.ac and Makefile.am.
set -e
cd "$(dirname "$0")"
for tool in autoreconf aclocal automake libtoolize pkg-config; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "autogen.sh: '$tool' not found; on Debian: apt-get install autoconf automake libtool pkg-config" >&2
        exit 1
    fi
done
mkdir -p config
autoreconf -fi
