#!/usr/bin/env bash
# Installs every Debian package banshi needs to build, test and run the demo.
# Idempotent: when everything is present it changes nothing and asks no registry.
# There is only this one set-up script; later subsystems add their packages here.
set -euo pipefail

packages=(
  # toolchain
  build-essential g++ cmake ninja-build pkg-config ccache git
  # libraries
  libboost1.81-dev libboost-json1.81-dev libpugixml-dev libspdlog-dev libfmt-dev libcli11-dev
  libsqlite3-dev sqlite3 libssl-dev libtomlplusplus-dev libpq-dev
  # FEEL's regular expressions (matches, replace, split)
  libpcre2-dev
  # the reports' Excel export
  libxlsxwriter-dev
  # FEEL zone ids ("@Asia/Shanghai") through the system time-zone database
  libhowardhinnant-date-dev tzdata
  # tests
  libgtest-dev libgmock-dev googletest curl jq
  # the server benchmark (bench/server)
  wrk
  # the PostgreSQL store's tests, the cluster test and its benchmark run a throwaway server (tools/pg)
  postgresql postgresql-client
  # fuzzing (libFuzzer comes with clang)
  clang-14 libclang-rt-14-dev
  # the console's browser tests (headless; a CJK font for readable screenshots)
  chromium fonts-wqy-zenhei
  # packaging (cpack's .deb)
  dpkg-dev fakeroot
  # the docs test (python3-yaml: the OpenAPI file and the Prometheus examples)
  python3 python3-yaml
)

# The console is built with Node.js and npm (the base image has Node 20);
# without them, Debian's packages.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
