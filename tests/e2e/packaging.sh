#!/bin/sh
#   packaging: "make deb" builds the Debian packages from the release
#   tarball, and each holds what it must (dpkg-deb -c / -I / -f).
#   Skips (77) without dpkg-buildpackage, and when OSMOSE_NO_DEB_TEST=1: the
#   package build runs "make check" itself (dh_auto_test), and distcheck
#   sets it too, so the packages are never built from inside a build.
#   timeout: 1200
. "$top_srcdir/tests/lib/daemon.sh"
[ "${OSMOSE_NO_DEB_TEST:-0}" = 1 ] && skip "OSMOSE_NO_DEB_TEST=1 (inside a package build or distcheck)"
need dpkg-buildpackage dpkg-deb dh make

version=$(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")
debian_version=$(sed -n '1s/^osmose (\([^)]*\)).*/\1/p' "$top_srcdir/packaging/debian/changelog")
[ "${debian_version%-*}" = "$version" ] \
    || fail "packaging/debian/changelog has $debian_version, configure.ac $version"

start=$(date +%s)
make -C "$top_builddir" deb >"$E2E_DIR/deb.log" 2>&1 \
    || { tail -n 40 "$E2E_DIR/deb.log"
         #   last, so the runner's short tail shows them: each failed inner
         #   test with the end of its log
         echo "--- failed in the package build:"
         grep -A 14 '^ *FAIL  ' "$E2E_DIR/deb.log" | head -n 60
         fail "make deb failed (log above)"; }
echo "make deb: $(( $(date +%s) - start )) s"
arch=$(dpkg --print-architecture)
debs="$top_builddir/debs"
#   The package build ran the test suite: it must have passed, in full
summary=$(grep -E '^[0-9]+ passed, 0 failed, [0-9]+ skipped$' "$E2E_DIR/deb.log") \
    || fail "no passing test summary in the package build"
echo "tests in the package build: $summary"
[ "${summary%% *}" -gt 5 ] || fail "the package build ran too few tests: $summary"

contents () {
    deb="$debs/${1}_${debian_version}_$arch.deb"
    [ -f "$deb" ] || fail "missing $deb"
    dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$E2E_DIR/$1.list"
}
has () {
    grep -Eq "^$2\$" "$E2E_DIR/$1.list" || fail "$1 lacks $2; it has: $(tr '\n' ' ' <"$E2E_DIR/$1.list")"
}
field () {
    dpkg-deb -f "$debs/${1}_${debian_version}_$arch.deb" "$2"
}

contents osmose
has osmose /usr/sbin/osmosed
has osmose /usr/bin/osmose
has osmose /usr/bin/osmose-top
has osmose /etc/osmose/osmose.conf
has osmose /lib/systemd/system/osmosed.service
has osmose '/usr/share/man/man8/osmosed.8.gz'
has osmose '/usr/share/man/man1/osmose.1.gz'
has osmose '/usr/share/man/man1/osmose-top.1.gz'
has osmose '/usr/share/man/man5/osmose.conf.5.gz'
has osmose '/usr/share/doc/osmose/copyright'
has osmose /usr/libexec/osmose/osmose-worker
has osmose "/usr/lib/[^/]+/osmose/plugins/echo\.so"
has osmose /usr/share/bash-completion/completions/osmose
has osmose /usr/share/bash-completion/completions/osmose-top
grep -q '\.la$' "$E2E_DIR/osmose.list" && fail "osmose ships a .la file"
field osmose Depends | grep -q adduser || fail "osmose does not depend on adduser"
#   the conffile, and the maintainer scripts that make the user and keys
dpkg-deb --ctrl-tarfile "$debs/osmose_${debian_version}_$arch.deb" | tar -t >"$E2E_DIR/control.list"
for script in conffiles postinst postrm prerm; do
    grep -q "^\./$script\$" "$E2E_DIR/control.list" || fail "osmose has no $script"
done
dpkg-deb -e "$debs/osmose_${debian_version}_$arch.deb" "$E2E_DIR/ctrl"
grep -qx /etc/osmose/osmose.conf "$E2E_DIR/ctrl/conffiles" || fail "osmose.conf is not a conffile"
grep -q 'adduser --system' "$E2E_DIR/ctrl/postinst" || fail "postinst makes no user"
grep -q 'osmosed --init' "$E2E_DIR/ctrl/postinst" || fail "postinst makes no keys"
grep -q 'deb-systemd-helper' "$E2E_DIR/ctrl/postinst" || fail "postinst does not enable the unit"
#   the packaged unit and conffile, checked by the programs themselves
dpkg-deb -x "$debs/osmose_${debian_version}_$arch.deb" "$E2E_DIR/x"
for setting in 'User=osmose' 'ProtectSystem=strict' 'StateDirectory=osmose' \
               'RuntimeDirectory=osmose' 'NoNewPrivileges=yes' 'PrivateTmp=yes' \
               'ProtectHome=yes' 'ExecStart=/usr/sbin/osmosed -c /etc/osmose/osmose.conf'; do
    grep -qx "$setting" "$E2E_DIR/x/lib/systemd/system/osmosed.service" \
        || fail "osmosed.service lacks $setting"
done
"$OSMOSED" -c "$E2E_DIR/x/etc/osmose/osmose.conf" --check-config >/dev/null \
    || fail "packaged osmose.conf does not validate"
grep -q '^    endpoint = "ipc:///run/osmose/osmosed.sock"$' "$E2E_DIR/x/etc/osmose/osmose.conf" \
    || fail "packaged osmose.conf does not use the /run/osmose endpoint"
"$E2E_DIR/x/usr/sbin/osmosed" --version | grep -q '(jemalloc in use)' \
    || fail "packaged osmosed does not run on jemalloc"

contents libosmose0
has libosmose0 "/usr/lib/[^/]+/libosmose\.so\.0"
has libosmose0 "/usr/lib/[^/]+/libosmose\.so\.0\.0\.0"
grep -q '\.la$' "$E2E_DIR/libosmose0.list" && fail "libosmose0 ships a .la file"

contents libosmose-dev
has libosmose-dev /usr/include/osmose.h
has libosmose-dev /usr/include/osmose_plugin.h
has libosmose-dev "/usr/lib/[^/]+/libosmose\.so"
has libosmose-dev "/usr/lib/[^/]+/libosmose\.a"
has libosmose-dev "/usr/lib/[^/]+/pkgconfig/osmose\.pc"
has libosmose-dev '/usr/share/man/man3/osmose.3.gz'
has libosmose-dev '/usr/share/man/man3/osmose_connect.3.gz'
field libosmose-dev Depends | grep -q "libosmose0 (= $debian_version)" \
    || fail "libosmose-dev does not depend on the same libosmose0"

for deb in "$debs"/*.deb; do
    echo "$(basename "$deb"): $(dpkg-deb -c "$deb" | wc -l) entries"
done
echo "packaging: OK"
