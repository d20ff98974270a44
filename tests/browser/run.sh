#!/usr/bin/env bash
# Runs the console's browser tests: starts the department simulators
# (`banshi simulate`) and a real `banshi serve` with its connectors pointed at
# them, each on a free loopback port, with a temporary data folder and the
# built console; creates the users, runs tests/browser/console.test.mjs and
# reports.test.mjs in headless Chromium (playwright-core, /usr/bin/chromium)
# and stops both. The perf run (BANSHI_BROWSER_PERF=1) has no simulators: its
# 10,000 applications are verified through the external-task routes.
#
# Usage: tests/browser/run.sh [BANSHI_BINARY]
#   BANSHI_BINARY             default: build/console-dev/tools/banshi, else build/asan/tools/banshi
#   BANSHI_BROWSER_OUT        screenshots and the server log (default build/browser-tests)
#   BANSHI_BROWSER_ONLY       run only the tests whose name contains this
#   BANSHI_BROWSER_STRICT=1   a test skipped for a missing server route counts as failed
#   BANSHI_BROWSER_PERF=1     run the inbox load test with 10,000 open tasks instead (perf.test.mjs)
#   BANSHI_WORKFLOWS          the workflows the tests deploy and the calendars (default: workflows/)
# Needs console/dist (npm ci && npm run build in console/) and console/node_modules.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

banshi=${1:-}
if [ -z "$banshi" ]; then
  for b in build/console-dev/tools/banshi build/asan/tools/banshi build/release/tools/banshi build/debug/tools/banshi; do
    if [ -x "$b" ]; then banshi=$b; break; fi
  done
fi
[ -x "$banshi" ] || { echo "browser tests: no banshi binary (give its path)" >&2; exit 2; }
[ -f console/dist/index.html ] || { echo "browser tests: build the console first (cd console && npm ci && npm run build)" >&2; exit 2; }
[ -d console/node_modules/playwright-core ] || { echo "browser tests: run npm ci in console/ first" >&2; exit 2; }
workflows=${BANSHI_WORKFLOWS:-$root/workflows}
chromium=${BANSHI_CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "browser tests: $chromium is missing (tools/setup.sh installs it)" >&2; exit 2; }

node tests/browser/locales.check.mjs
node tests/browser/units.check.mjs

out=${BANSHI_BROWSER_OUT:-$root/build/browser-tests}
rm -rf "$out"
mkdir -p "$out"
data=$(mktemp -d)
server_pid=""
sim_pid=""
cleanup() {
  for pid in $server_pid $sim_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$data"
}
trap cleanup EXIT

# Users: the first admin, then one user per role the tests need.
users_file="$data/users.json"
password_of() { sed -n 's/^password: *//p' | head -n1; }
admin_pw=$("$banshi" init --data "$data" | password_of)
declare -A pw
add_user() { # name, then the options of banshi user add
  local name=$1; shift
  pw[$name]=$("$banshi" user add "$name" "$@" --data "$data" | password_of)
}
add_user nanguan   --role staff --department dpf --region 220102           # 南关区 DPF staff
add_user nanguan2  --role staff --department dpf --region 220102           # a colleague
add_user minzheng  --role staff --department civil-affairs --region 220102 # civil affairs, same district
add_user zhuguan   --role supervisor --department dpf --region 220100      # city DPF supervisor
add_user jiankong  --role monitor --region 220100                          # city monitor
add_user sheji     --role designer                                         # process designer
add_user gaimi     --role staff --department dpf --region 220102           # changes their password
{
  printf '{"admin": {"password": "%s"}' "$admin_pw"
  for n in "${!pw[@]}"; do printf ', "%s": {"password": "%s"}' "$n" "${pw[$n]}"; done
  printf '}\n'
} > "$users_file"

# The department systems: `banshi simulate` on any free loopback port, taking
# the server clock's first day as today. serve's connectors call it over HTTP
# for every service task (data-sharing verifies each applicant's identity);
# the tests switch a department off and on through its /_sim/faults route.
port_of() { sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | head -n1; }
wait_port() { # log, pid, what
  local p=""
  for _ in $(seq 1 100); do
    p=$(port_of "$1")
    [ -n "$p" ] && break
    kill -0 "$2" 2>/dev/null || { cat "$1" >&2; echo "browser tests: $3 did not start" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$p" ] || { cat "$1" >&2; echo "browser tests: $3 did not report its port" >&2; exit 1; }
  echo "$p"
}
sim_url=""
if [ "${BANSHI_BROWSER_PERF:-0}" != 1 ]; then
  sim_log="$out/simulate.log"
  "$banshi" simulate --port 0 --today 2026-03-02 >"$sim_log" 2>&1 &
  sim_pid=$!
  sim_url="http://127.0.0.1:$(wait_port "$sim_log" "$sim_pid" "banshi simulate")"
  echo "browser tests: banshi simulate on $sim_url (log $sim_log)"
fi

# The server: loopback, any free port, the engine clock 14400 times faster
# than real time (4 hours a second, so working-day deadlines pass in seconds)
# from a Monday morning early in a year the shipped calendars cover, so no
# deadline of a run falls beyond them.
# With the simulators: the connectors on, a short retry backoff, and a
# breaker that lets a probe through 2 s after it opened (30 s by default), so
# the jobs of a department that is down spend their retries and become
# incidents within seconds, and work again soon after it is back (the
# incidents test).
log="$out/server.log"
BANSHI_CONNECTORS_ENABLED=$([ -n "$sim_url" ] && echo true || echo false) \
BANSHI_CONNECTORS_BASE_URL=$sim_url BANSHI_CONNECTORS_RETRY_BACKOFF_MS=200 BANSHI_CONNECTORS_BREAKER_OPEN_MS=2000 \
BANSHI_CLOCK_MODE=accelerated BANSHI_CLOCK_FACTOR=${BANSHI_BROWSER_CLOCK_FACTOR:-14400} \
BANSHI_CLOCK_START=${BANSHI_BROWSER_CLOCK_START:-2026-03-02T09:00:00+08:00} \
BANSHI_CALENDAR_DIR="$workflows/calendars" \
  "$banshi" serve --data "$data" --listen 127.0.0.1:0 --console "$root/console/dist" >"$log" 2>&1 &
server_pid=$!
port=$(wait_port "$log" "$server_pid" "banshi serve")
echo "browser tests: banshi serve on 127.0.0.1:$port (log $log)"

BANSHI_URL="http://127.0.0.1:$port" BANSHI_USERS_FILE="$users_file" BANSHI_BROWSER_OUT="$out" \
BANSHI_CHROMIUM="$chromium" BANSHI_WORKFLOWS="$workflows" BANSHI_SIMULATORS_URL="$sim_url" \
  node "tests/browser/$([ "${BANSHI_BROWSER_PERF:-0}" = 1 ] && echo perf || echo console).test.mjs"

# Ratings and reports on the same server (reports.test.mjs).
if [ "${BANSHI_BROWSER_PERF:-0}" != 1 ]; then
  BANSHI_URL="http://127.0.0.1:$port" BANSHI_USERS_FILE="$users_file" BANSHI_BROWSER_OUT="$out" \
  BANSHI_CHROMIUM="$chromium" BANSHI_WORKFLOWS="$workflows" BANSHI_SIMULATORS_URL="$sim_url" \
    node tests/browser/reports.test.mjs
fi

# The front door and the applicant's channel run on a server of their own with
# the connectors and `banshi simulate` (frontdoor.test.mjs starts both).
if [ "${BANSHI_BROWSER_PERF:-0}" != 1 ]; then
  BANSHI_BINARY="$banshi" BANSHI_BROWSER_OUT="$out" BANSHI_CHROMIUM="$chromium" BANSHI_WORKFLOWS="$workflows" \
    node tests/browser/frontdoor.test.mjs
fi
