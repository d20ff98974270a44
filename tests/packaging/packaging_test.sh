#!/usr/bin/env bash
# Packaging: `cmake --install` lays out bin/, share/banshi/, etc/banshi/ and the
# systemd unit; the installed binary finds what it needs through the shipped
# configuration; `cpack -G DEB` builds a package for /usr with the service
# user's postinst and without /usr/etc.
# Usage: packaging_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "-- cmake --install"
cmake --install "$build" --prefix "$work/root" >/dev/null
for f in bin/banshi etc/banshi/banshi.toml share/banshi/banshi.toml lib/systemd/system/banshi.service \
         share/banshi/workflows/certificate-new-issue.bpmn share/banshi/workflows/calendars/2026.toml; do
  [ -e "$work/root/$f" ] || fail "the install lacks $f"
done
[ -x "$work/root/bin/banshi" ] || fail "bin/banshi is not executable"
# The built console goes to share/banshi/console when the tree has one.
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
console_built=0
if [ -f "$src/console/dist/index.html" ]; then
  console_built=1
  [ -f "$work/root/share/banshi/console/index.html" ] || fail "the install lacks share/banshi/console/index.html"
fi

echo "-- cmake --install into a DESTDIR"
DESTDIR="$work/dest" cmake --install "$build" --prefix /opt/banshi >/dev/null
for f in bin/banshi etc/banshi/banshi.toml share/banshi/workflows/certificate-new-issue.bpmn \
         share/banshi/workflows/calendars/2026.toml lib/systemd/system/banshi.service; do
  [ -e "$work/dest/opt/banshi/$f" ] || fail "the DESTDIR install lacks /opt/banshi/$f"
done

echo "-- the installed binary and configuration"
"$work/root/bin/banshi" --version >/dev/null
"$work/root/bin/banshi" validate "$work/root"/share/banshi/workflows/*.bpmn >/dev/null \
  || fail "the installed workflows do not validate"
config=$("$work/root/bin/banshi" serve --config "$work/root/etc/banshi/banshi.toml" --print-config) \
  || fail "the shipped configuration is refused"
grep -q "path = '/var/lib/banshi/banshi.db'" <<<"$config" || fail "the store is not under /var/lib/banshi: $config"
grep -q "dir = '/usr/share/banshi/workflows/calendars'" <<<"$config" || fail "the calendars are not configured"

echo "-- the installed server with the shipped configuration"
log="$work/serve.log"
BANSHI_STORE_PATH="$work/data/banshi.db" BANSHI_CALENDAR_DIR="$work/root/share/banshi/workflows/calendars" \
  BANSHI_CONSOLE_DIR="$work/root/share/banshi/console" BANSHI_SERVER_LISTEN=127.0.0.1:0 \
  "$work/root/bin/banshi" serve --config "$work/root/etc/banshi/banshi.toml" >"$log" 2>&1 &
pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(grep -oE 'listening on https?://[0-9.]+:[0-9]+' "$log" | grep -oE '[0-9]+$' | head -1 || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$log"; kill "$pid"; fail "the installed server did not start"; }
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
if [ "$console_built" = 1 ]; then
  page=$(curl -s "http://127.0.0.1:$port/")
  grep -q '<div id="app"' <<<"$page" || { kill "$pid"; fail "the installed server does not serve the installed console at /"; }
fi
kill -TERM "$pid"; wait "$pid" || fail "the server did not stop cleanly"
[ "$status" = 200 ] || fail "/readyz answered $status"

echo "-- the systemd unit"
grep -q '^ExecStart=/usr/bin/banshi serve --config /etc/banshi/banshi.toml$' "$work/root/lib/systemd/system/banshi.service" \
  || fail "the unit does not run banshi serve with /etc/banshi/banshi.toml"
grep -q '^User=banshi$' "$work/root/lib/systemd/system/banshi.service" || fail "the unit does not run as its own user"
if command -v systemd-analyze >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemd-analyze verify "$work/root/lib/systemd/system/banshi.service"
fi

echo "-- cpack -G DEB"
(cd "$build" && cpack -G DEB -B "$work/pkg" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack failed"; }
deb=$(ls "$work"/pkg/banshi_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no .deb was built"
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/banshi ./usr/share/banshi/banshi.toml ./usr/lib/systemd/system/banshi.service \
         ./usr/share/banshi/workflows/calendars/2026.toml; do
  grep -q " $f\$" <<<"$contents" || fail "the package lacks $f"
done
if grep -q '\./usr/etc' <<<"$contents"; then fail "the package installs under /usr/etc"; fi
control=$(dpkg-deb -f "$deb")
grep -q '^Package: banshi$' <<<"$control" || fail "wrong package name"
grep -qE '^Depends:.*adduser' <<<"$control" || fail "the package does not depend on adduser"
grep -qE '^Depends:.*libsqlite3' <<<"$control" || fail "the shared-library dependencies are missing"
dpkg-deb -e "$deb" "$work/control"
[ -x "$work/control/postinst" ] || fail "the package has no postinst"
grep -q 'adduser --system' "$work/control/postinst" || fail "postinst does not create the service user"
sh -n "$work/control/postinst" && sh -n "$work/control/postrm"
echo "packaging: ok ($(basename "$deb"))"
