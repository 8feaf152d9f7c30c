#!/bin/sh
#   daemon_pkgconfig: "make install DESTDIR=..." gives a tree a program can
#   build against with pkg-config alone; the C example of README.md is
#   compiled (warnings are errors) against it and run against a daemon.
. "$top_srcdir/tests/lib/daemon.sh"
need pkg-config cc make

root="$E2E_DIR/root"
make -s -C "$top_builddir" install DESTDIR="$root" >"$E2E_DIR/install.log" 2>&1 \
    || { cat "$E2E_DIR/install.log"; fail "make install DESTDIR=$root failed"; }
pc=$(find "$root" -name osmose.pc | head -n 1)
[ -n "$pc" ] || fail "no osmose.pc installed"
for file in osmose.h libosmose.a libosmose.so osmosed osmose osmose-top osmose.conf \
            osmosed.service osmose.3 osmose.conf.5 osmosed.8 osmose-worker; do
    [ -n "$(find "$root" -name "$file")" ] || fail "make install did not install $file"
done
echo "installed: $(cd "$root" && find . -type f | sort | tr '\n' ' ')"

#   The README's example, verbatim
#   (the first C block: later ones are fragments)
awk '/^```c$/ { inside = 1; next } inside && /^```$/ { exit } inside' \
    "$top_srcdir/README.md" >"$E2E_DIR/hello.c"
grep -q osmose_status_json "$E2E_DIR/hello.c" || fail "no C example in README.md"

export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$root"
pkg-config --exists osmose || fail "pkg-config does not find osmose: $(pkg-config --print-errors osmose 2>&1)"
version=$(pkg-config --modversion osmose)
"$OSMOSED" --version | grep -q "^osmosed $version\$" || fail "osmose.pc says version $version"
#   Sanitizer builds need the same flags in the program
cflags=$(sed -n 's/^CFLAGS = //p' "$top_builddir/Makefile")
# shellcheck disable=SC2046,SC2086
cc $cflags -std=c99 -Wall -Wextra -Werror $(pkg-config --cflags osmose) \
    -o "$E2E_DIR/hello" "$E2E_DIR/hello.c" $(pkg-config --libs osmose) \
    || fail "README example does not compile against the installed tree"
libdir=$(dirname "$(find "$root" -name 'libosmose.so' | head -n 1)")
export LD_LIBRARY_PATH="$libdir"
ldd "$E2E_DIR/hello" | grep -q "libosmose.so.0 => $libdir/" \
    || fail "example does not use the installed library: $(ldd "$E2E_DIR/hello" | grep osmose)"

#   No daemon: a clear message and exit 1
OSMOSE_ENDPOINT="ipc://$E2E_DIR/nobody.sock" "$E2E_DIR/hello" 2>"$E2E_DIR/err" \
    && fail "example succeeded without a daemon"
grep -q "cannot reach osmosed" "$E2E_DIR/err" || fail "example said: $(cat "$E2E_DIR/err")"

#   With a daemon: its status as JSON
e2e_config hello 0 hq/lab >/dev/null
e2e_start hello
OSMOSE_ENDPOINT="ipc://$E2E_DIR/hello.sock" "$E2E_DIR/hello" >"$E2E_DIR/out" \
    || fail "example failed against a running daemon"
cat "$E2E_DIR/out"
grep -q '"location": *"hq/lab"' "$E2E_DIR/out" || fail "unexpected status: $(cat "$E2E_DIR/out")"
e2e_stop "$E2E_PID" || fail "daemon did not stop cleanly"
echo "daemon_pkgconfig: OK"
