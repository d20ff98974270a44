#!/usr/bin/env bash
# The live demo: it deploys the shipped workflows, creates the demo users with
# printed passwords, serves the API, submits applications on an accelerated
# clock and has simulated staff work them; the department systems are the
# simulators over HTTP (their registry kept in the data folder), and the
# service tasks complete through them with no incident; a second run resumes
# the same data, simulated date and registry; --reset starts over.
# Usage: live_demo_test.sh BANSHI WORKFLOWS_DIR
set -euo pipefail
banshi=$1
workflows=$2
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/out1" ] && tail -40 "$work/out1" >&2; exit 1; }

wait_for() {  # file pattern seconds
  for _ in $(seq 1 $(( $3 * 10 ))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

echo "-- first run"
"$banshi" demo --workflows "$workflows" --data "$work/data" --listen 127.0.0.1:0 --console "$work/none" \
  --speed 7200 --interval 0.5 --for 12 >"$work/out1" 2>&1 &
pid=$!
wait_for "$work/out1" "banshi demo is running" 60 || fail "the demo did not start"
url=$(grep -oE 'console: +http://[0-9.]+:[0-9]+' "$work/out1" | grep -oE 'http://.*')
password=$(awk '$1 == "monitor" { print $2 }' "$work/out1")
[ -n "$password" ] || fail "no password was printed for the monitor"
grep -qE '^  dpf\.nanguan +[A-Za-z0-9]{20} ' "$work/out1" || fail "no login for dpf.nanguan"
grep -qE '^  mz\.changchun +[A-Za-z0-9]{20} ' "$work/out1" || fail "no login for the civil-affairs supervisor"
sim=$(grep -oE 'department systems answer over HTTP at http://127\.0\.0\.1:[0-9]+' "$work/out1" | grep -oE 'http://.*')
[ -n "$sim" ] || fail "the demo does not say where the department systems answer"
if grep -q "in-process stand-ins" "$work/out1"; then fail "in-process stand-ins still answer"; fi

curl -s -c "$work/jar" -H 'Content-Type: application/json' \
  -d "{\"username\":\"monitor\",\"password\":\"$password\"}" "$url/api/v1/auth/login" >"$work/login"
grep -q '"monitor"' "$work/login" || fail "the printed monitor password does not log in: $(cat "$work/login")"
wait_for "$work/out1" " SQ20" 30 || fail "no application was submitted"
tasks=""
for _ in $(seq 1 100); do
  tasks=$(curl -s -b "$work/jar" "$url/api/v1/tasks?limit=50")
  grep -q '"processId"' <<<"$tasks" && break
  sleep 0.2
done
grep -q '"processId"' <<<"$tasks" || fail "the monitor sees no tasks: $tasks"
# The service tasks reach the simulators over HTTP and complete there.
answered=""
for _ in $(seq 1 100); do
  stats=$(curl -s "$sim/_sim/stats")
  answered=$(grep -oE '"data-sharing":[1-9][0-9]*' <<<"$stats" || true)
  [ -n "$answered" ] && break
  sleep 0.1
done
[ -n "$answered" ] || fail "no service task reached the simulated department systems: $stats"
health=$(curl -s -b "$work/jar" "$url/api/v1/connectors/health")
grep -q '"allReachable":true' <<<"$health" || fail "a department is reported down: $health"
incidents=$(curl -s -b "$work/jar" "$url/api/v1/incidents")
grep -q '"elementId"' <<<"$incidents" && fail "service tasks raised incidents: $incidents"
wait "$pid" || fail "the demo did not stop cleanly (exit $?)"
pid=""
grep -q "stopping at" "$work/out1" || fail "no stop message"
grep -qE "open tasks [0-9]+" "$work/out1" || fail "no status line"
first_date=$(cat "$work/data/simulated-date")
[ "$first_date" -gt 0 ] || fail "the simulated date was not kept"
[ -s "$work/data/simulators/simulators.db" ] || fail "the department systems kept no state in the data folder"
if grep -q "not started" "$work/out1"; then fail "an application was refused: $(grep "not started" "$work/out1")"; fi

# Personal data never appears in full in the demo's output.
if grep -qE '(^|[^0-9])[0-9]{17}[0-9X]([^0-9]|$)' "$work/out1"; then fail "an unmasked ID number was printed"; fi
if grep -qE '(^|[^0-9])1[3-9][0-9]{9}([^0-9]|$)' "$work/out1"; then fail "an unmasked phone number was printed"; fi

echo "-- second run resumes"
"$banshi" demo --workflows "$workflows" --data "$work/data" --listen 127.0.0.1:0 --console "$work/none" \
  --speed 7200 --interval 60 --for 3 >"$work/out2" 2>&1 || fail "the second run failed: $(cat "$work/out2")"
grep -q "resuming the earlier run's data" "$work/out2" || fail "the second run did not resume"
grep -q "users exist from an earlier run" "$work/out2" || fail "the second run created users again"
if grep -qE '^  monitor +[A-Za-z0-9]{20}' "$work/out2"; then fail "passwords were printed twice"; fi
grep -q "(unchanged)" "$work/out2" || fail "the workflows were deployed as new versions again"
grep -q "department systems answer over HTTP" "$work/out2" || fail "the second run has no department systems"
second_date=$(cat "$work/data/simulated-date")
[ "$second_date" -gt "$first_date" ] || fail "the simulated date did not continue ($first_date → $second_date)"

echo "-- --reset starts over"
"$banshi" demo --workflows "$workflows" --data "$work/data" --listen 127.0.0.1:0 --console "$work/none" \
  --speed 7200 --interval 60 --for 2 --reset >"$work/out3" 2>&1 || fail "the reset run failed"
grep -qE '^  monitor +[A-Za-z0-9]{20}' "$work/out3" || fail "--reset did not create the users again"
echo "live demo: ok"
