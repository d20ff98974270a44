#!/usr/bin/env bash
# Runs the shell blocks of docs/api/department-systems.md, in order and as
# written, against a real `banshi serve`, and checks what they print: the
# token, the cases started, the jobs pulled, each report, the outcomes and
# the refusals. So the API guide's curl examples cannot drift from the API.
# Usage: api_examples_test.sh path/to/banshi REPO_DIR
set -uo pipefail
BANSHI=${1:?usage: api_examples_test.sh path/to/banshi REPO_DIR}
REPO=${2:?usage: api_examples_test.sh path/to/banshi REPO_DIR}
DOC="$REPO/docs/api/department-systems.md"
TMP=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
command -v jq >/dev/null || { echo "FAIL: jq is missing (tools/setup.sh installs it)"; exit 1; }

ADMIN_PASSWORD=$("$BANSHI" init --data "$TMP/data" | sed -n 's/^password: //p')
DESIGNER_PASSWORD=$("$BANSHI" user add li --role designer --role staff --department civil-affairs --region 220102 \
  --data "$TMP/data" | sed -n 's/^password: //p')
[ -n "$ADMIN_PASSWORD" ] && [ -n "$DESIGNER_PASSWORD" ] || { echo "FAIL: no passwords from init and user add"; exit 1; }
"$BANSHI" serve --listen 127.0.0.1:0 --data "$TMP/data" >"$TMP/serve.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 300); do
  PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$TMP/serve.log" | grep -o '[0-9]*$' || true)
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { echo "FAIL: the server did not start"; cat "$TMP/serve.log"; exit 1; }

# The page's ```sh blocks, concatenated in order.
awk '/^```sh$/ {inside=1; next} /^```$/ {inside=0; next} inside {print}' "$DOC" >"$TMP/page.sh"
blocks=$(grep -c '^```sh$' "$DOC")
echo "running $blocks shell blocks of docs/api/department-systems.md against 127.0.0.1:$PORT"
OUT=$(cd "$REPO" && BASE="http://127.0.0.1:$PORT" ADMIN_PASSWORD="$ADMIN_PASSWORD" DESIGNER_PASSWORD="$DESIGNER_PASSWORD" \
  bash -euo pipefail "$TMP/page.sh" 2>&1)
rc=$?
echo "$OUT"
failures=0
[ $rc -eq 0 ] || { echo "FAIL: the page's commands exit $rc"; failures=$((failures + 1)); }
want() {
  if grep -qE "$1" <<<"$OUT"; then echo "ok   $2"; else echo "FAIL: $2 (no line matching '$1')"; failures=$((failures + 1)); fi
}
want '^token of 64 characters$' "the admin made a token"
want '"processId":"subsidy-decision-example","version":1' "the designer deployed the example"
want '^started MZ-2026-003 as instance [0-9]+$' "staff started three cases"
[ "$(grep -cE '^job [0-9]+ of instance [0-9]+: 低保, key .+$' <<<"$OUT")" = 3 ] && echo "ok   three jobs pulled" \
  || { echo "FAIL: three jobs were not pulled"; failures=$((failures + 1)); }
want '^job [0-9]+ granted$' "complete"
want '^job [0-9]+ not eligible$' "BPMN error"
want '^job [0-9]+ lease extended$' "extend the lease"
want '^job [0-9]+ failed with no retries left$' "failure"
want '^MZ-2026-001 completed$' "the granted case completed"
want '^MZ-2026-002 completed$' "the refused case completed"
want '^MZ-2026-003 active$' "the failed case waits"
want '^incident at decide: .*subsidy database unavailable$' "the failure raised an incident"
want '^other topic: 403$' "another topic is refused"
want '^task list: 403$' "a token cannot list tasks"
[ $failures -eq 0 ] && echo "api examples: ok" || echo "api examples: $failures problems"
exit $((failures > 0))
