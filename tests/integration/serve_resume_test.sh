#!/usr/bin/env bash
# What survives and what resumes, against a real `banshi serve` that is
# stopped and started again on the same data:
# - an external task's failure with retryTimeoutMs: fetched again only after
#   the timeout, retries counted down, an incident when none are left;
# - a worker's lease on an external task outlives a restart: no other worker
#   gets the job, its own worker extends and completes it with its lock;
# - the events WebSocket resumes with ?since=<position>: the events after it
#   that the caller may see, then the live ones, with no gap and no
#   duplicate; a position no longer kept is refused with 410;
# - logins, logouts, password changes and user and token changes write their
#   audit row in the change's transaction: when the row cannot be written
#   (a trigger refuses it), the change is not made either; `banshi audit
#   verify` passes at the end.
# Usage: serve_resume_test.sh path/to/banshi path/to/banshi_ws_probe
set -uo pipefail
BANSHI=${1:?usage: serve_resume_test.sh path/to/banshi path/to/banshi_ws_probe}
PROBE=${2:?usage: serve_resume_test.sh path/to/banshi path/to/banshi_ws_probe}
source "$(dirname "$0")/serve_lib.sh"

INIT_OUT=$("$BANSHI" init --data "$WORK/data" 2>&1) || { echo "FAIL: banshi init: $INIT_OUT"; exit 1; }
ADMIN_PASSWORD=$(sed -n 's/^password: //p' <<<"$INIT_OUT")
ADD_OUT=$("$BANSHI" user add wang --role staff --role supervisor --role designer \
  --department dpf --region 000000 --data "$WORK/data" 2>&1) || { echo "FAIL: user add: $ADD_OUT"; exit 1; }
PASSWORD=$(sed -n 's/^password: //p' <<<"$ADD_OUT")
QIAN_OUT=$("$BANSHI" user add qian --role staff --department tax --region 220102 --data "$WORK/data" 2>&1) \
  || { echo "FAIL: user add qian: $QIAN_OUT"; exit 1; }
QIAN_PASSWORD=$(sed -n 's/^password: //p' <<<"$QIAN_OUT")

start_server() {
  "$BANSHI" serve --listen 127.0.0.1:0 --data "$WORK/data" >>"$WORK/serve.log" 2>&1 &
  SERVER_PID=$!
  wait_for_port "$WORK/serve.log"
}
stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID"
  local rc=$?
  SERVER_PID=""
  cat "$WORK/serve.log" >>"$WORK/serve.log.old"
  : >"$WORK/serve.log"
  [ $rc -eq 0 ] || fail "the server exited with $rc"
}

# login NAME PASSWORD JAR → prints the CSRF token
login() {
  curl -s -c "$3" "${JSON[@]}" -d "{\"username\":\"$1\",\"password\":\"$2\"}" "$BASE/api/v1/auth/login" \
    | sed -n 's/.*"csrfToken":"\([0-9a-f]*\)".*/\1/p'
}
# call METHOD PATH [curl args...] as wang → STATUS, BODY
call() {
  local method=$1 path=$2; shift 2
  STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -X "$method" -b "$WORK/jar" -H "X-CSRF-Token: $CSRF" "$@" "$BASE$path")
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}
# acall: the same as admin
acall() {
  local method=$1 path=$2; shift 2
  STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -X "$method" -b "$WORK/admin-jar" -H "X-CSRF-Token: $ADMIN_CSRF" \
    "$@" "$BASE$path")
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}
tcall() {  # with the worker's bearer token
  local method=$1 path=$2; shift 2
  STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $TOKEN" "${JSON[@]}" "$@" \
    "$BASE$path")
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}
first_job() { sed -n 's/.*"items":\[{"id":\([0-9]*\).*/\1/p' <<<"$BODY"; }
session_of() { awk '$6 == "banshi_session" {print $7}' "$1"; }

start_server
CSRF=$(login wang "$PASSWORD" "$WORK/jar")
ADMIN_CSRF=$(login admin "$ADMIN_PASSWORD" "$WORK/admin-jar")
[ -n "$CSRF" ] && [ -n "$ADMIN_CSRF" ] && pass "wang and admin log in" || { fail "login"; exit 1; }

cat >"$WORK/flows.bpmn" <<'BPMN'
<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="scoring" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="score"/>
    <serviceTask id="score" bs:topic="credit-score" bs:retries="2"/>
    <sequenceFlow id="f2" sourceRef="score" targetRef="e"/><endEvent id="e"/>
  </process>
  <process id="review" isExecutable="true">
    <startEvent id="rs"/><sequenceFlow id="r1" sourceRef="rs" targetRef="check"/>
    <userTask id="check" name="Check" bs:candidateGroups="dpf-county"/>
    <sequenceFlow id="r2" sourceRef="check" targetRef="re"/><endEvent id="re"/>
  </process>
</definitions>
BPMN
call POST '/api/v1/definitions?resource=flows.bpmn' -H 'Content-Type: application/xml' --data-binary "@$WORK/flows.bpmn"
expect 201 '"processId":"scoring"' "deploy"
acall POST /api/v1/tokens "${JSON[@]}" -d '{"name":"bureau","topics":["credit-score"]}'
TOKEN=$(sed -n 's/.*"token":"\([0-9a-f]*\)".*/\1/p' <<<"$BODY")
[ ${#TOKEN} -eq 64 ] && pass "a token for the worker" || fail "token: $BODY"

# --- failure with retryTimeoutMs ------------------------------------------------------
call POST /api/v1/instances "${JSON[@]}" -d '{"processId":"scoring","variables":{"income":1}}'
RETRY_INSTANCE=$(json_field id)
tcall POST /api/v1/external-tasks/fetch-and-lock -d '{"workerId":"w1","topics":["credit-score"],"lockMs":60000}'
expect 200 '"retries":2' "fetch a job with two retries"
JOB=$(first_job)
tcall POST "/api/v1/external-tasks/$JOB/failure" -d '{"workerId":"w1","errorMessage":"bureau busy","retryTimeoutMs":-1}'
expect 400 '"field":"retryTimeoutMs"' "a negative retryTimeoutMs is refused"
tcall POST "/api/v1/external-tasks/$JOB/failure" -d '{"workerId":"w1","errorMessage":"bureau busy","retryTimeoutMs":"soon"}'
expect 400 '"field":"retryTimeoutMs"' "a retryTimeoutMs that is not a number is refused"
failed_at=$(date +%s%N)
tcall POST "/api/v1/external-tasks/$JOB/failure" -d '{"workerId":"w1","errorMessage":"bureau busy","retryTimeoutMs":2500}'
expect 204 "" "report a failure to retry in 2.5 s"
sleep 0.5
tcall POST /api/v1/external-tasks/fetch-and-lock -d '{"workerId":"w1","topics":["credit-score"]}'
expect 200 '"items":[]' "the failed job is not fetched before its retry timeout"
# Long-poll until it comes back: not before 2.5 s after the failure.
tcall POST /api/v1/external-tasks/fetch-and-lock \
  -d '{"workerId":"w1","topics":["credit-score"],"lockMs":60000,"asyncResponseTimeoutMs":10000}'
back_ms=$(( ($(date +%s%N) - failed_at) / 1000000 ))
if [ "$(first_job)" = "$JOB" ] && [ $back_ms -ge 2400 ] && [ $back_ms -lt 9000 ]; then
  pass "the job is fetchable again after the retry timeout (${back_ms} ms)"
else
  fail "retry timeout: back after $back_ms ms: $BODY"
fi
[[ "$BODY" == *'"retries":1'* ]] && pass "its retries went down by one" || fail "retries after a failure: $BODY"
tcall POST "/api/v1/external-tasks/$JOB/failure" -d '{"workerId":"w1","errorMessage":"bureau gone","retryTimeoutMs":0}'
expect 204 "" "report the last failure"
poll 'bureau gone' call GET "/api/v1/incidents?instanceId=$RETRY_INSTANCE"
expect 200 'bureau gone' "no retries left: an incident"
tcall POST /api/v1/external-tasks/fetch-and-lock -d '{"workerId":"w1","topics":["credit-score"]}'
expect 200 '"items":[]' "a job held by an incident is not fetched"

# --- leases across a restart -------------------------------------------------------------
call POST /api/v1/instances "${JSON[@]}" -d '{"processId":"scoring","variables":{"income":2}}'
KEPT_INSTANCE=$(json_field id)
call POST /api/v1/instances "${JSON[@]}" -d '{"processId":"scoring","variables":{"income":3}}'
SHORT_INSTANCE=$(json_field id)
tcall POST /api/v1/external-tasks/fetch-and-lock -d '{"workerId":"w1","topics":["credit-score"],"maxTasks":1,"lockMs":600000}'
expect 200 "\"instanceId\":$KEPT_INSTANCE" "w1 locks a job for ten minutes"
KEPT_JOB=$(first_job)
tcall POST /api/v1/external-tasks/fetch-and-lock -d '{"workerId":"w1","topics":["credit-score"],"maxTasks":1,"lockMs":1000}'
expect 200 "\"instanceId\":$SHORT_INSTANCE" "w1 locks another for one second"
SHORT_JOB=$(first_job)
stop_server
start_server
CSRF=$(login wang "$PASSWORD" "$WORK/jar")
ADMIN_CSRF=$(login admin "$ADMIN_PASSWORD" "$WORK/admin-jar")
sleep 1
tcall POST /api/v1/external-tasks/fetch-and-lock -d '{"workerId":"w2","topics":["credit-score"],"lockMs":60000}'
if [[ "$BODY" == *"\"id\":$SHORT_JOB"* ]] && [[ "$BODY" != *"\"id\":$KEPT_JOB"* ]]; then
  pass "after the restart another worker gets the expired job, not the leased one"
else
  fail "fetch after restart: $BODY"
fi
tcall POST "/api/v1/external-tasks/$KEPT_JOB/complete" -d '{"workerId":"w2","variables":{"score":1}}'
expect 409 'problems/conflict' "another worker cannot complete the leased job"
tcall POST "/api/v1/external-tasks/$KEPT_JOB/extend-lock" -d '{"workerId":"w1","newDurationMs":600000}'
expect 204 "" "its worker extends the lock after the restart"
tcall POST "/api/v1/external-tasks/$KEPT_JOB/complete" -d '{"workerId":"w1","variables":{"score":700}}'
expect 204 "" "its worker completes it after the restart"
poll '"status":"completed"' call GET "/api/v1/instances/$KEPT_INSTANCE"
expect 200 '"status":"completed"' "the instance went on"
tcall POST "/api/v1/external-tasks/$KEPT_JOB/complete" -d '{"workerId":"w1"}'
expect 404 'problems/not-found' "a completed job cannot be completed again"
tcall POST "/api/v1/external-tasks/$SHORT_JOB/complete" -d '{"workerId":"w1"}'
expect 409 'problems/conflict' "the worker whose lease expired lost the job"

# --- the events WebSocket resumes after a position ---------------------------------------
SESSION=$(session_of "$WORK/jar")
ADMIN_SESSION=$(session_of "$WORK/admin-jar")
ws() {  # ws OUT SESSION [probe args...]
  local out=$1 session=$2; shift 2
  "$PROBE" 127.0.0.1 "$PORT" --cookie "banshi_session=$session" "$@" >"$out" 2>&1
}
wait_open() { for _ in $(seq 1 50); do grep -q '^OPEN' "$1" && return 0; sleep 0.1; done; return 1; }
positions() { grep -o '"position":[0-9]*' "$1" | grep -o '[0-9]*$'; }

ws "$WORK/live" "$ADMIN_SESSION" --count 5 --timeout-ms 20000 &
LIVE=$!
wait_open "$WORK/live" || fail "the live probe did not open"
call POST /api/v1/instances "${JSON[@]}" -d '{"processId":"review","businessKey":"R-1"}'
R1=$(json_field id)
poll '"id":' call GET "/api/v1/tasks?instanceId=$R1"
TASK=$(json_field id)
call POST "/api/v1/tasks/$TASK/claim" "${JSON[@]}" -d '{}'; expect 204 "" "claim"
call POST "/api/v1/tasks/$TASK/complete" "${JSON[@]}" -d '{}'; expect 204 "" "complete"
wait "$LIVE" || fail "live probe: $(cat "$WORK/live")"
mapfile -t LIVE_POS < <(positions "$WORK/live")
if [ ${#LIVE_POS[@]} -eq 5 ] && [ $((LIVE_POS[4] - LIVE_POS[0])) -eq 4 ]; then
  pass "live events carry consecutive positions"
else
  fail "live positions: ${LIVE_POS[*]}: $(cat "$WORK/live")"
fi
SINCE=${LIVE_POS[1]}
# Resume after the second event: the three after it at once, then a live one.
ws "$WORK/resumed" "$ADMIN_SESSION" --since "$SINCE" --count 4 --timeout-ms 20000 &
RESUMED=$!
wait_open "$WORK/resumed" || fail "the resumed probe did not open"
for _ in $(seq 1 50); do [ "$(positions "$WORK/resumed" | wc -l)" -ge 3 ] && break; sleep 0.1; done
call POST /api/v1/instances "${JSON[@]}" -d '{"processId":"review","businessKey":"R-2"}'
wait "$RESUMED" || fail "resumed probe: $(cat "$WORK/resumed")"
mapfile -t RESUMED_POS < <(positions "$WORK/resumed")
want="$((SINCE + 1)) $((SINCE + 2)) $((SINCE + 3)) $((SINCE + 4))"
[ "${RESUMED_POS[*]}" = "$want" ] && pass "since: the kept events after it, then the live one" \
  || fail "resumed positions: ${RESUMED_POS[*]}, want $want"
types=$(grep -o '"type":"[a-z.]*"' "$WORK/resumed" | tr '\n' ' ')
[ "$types" = '"type":"task.claimed" "type":"task.completed" "type":"instance.ended" "type":"instance.started" ' ] \
  && pass "the replayed events are the ones that happened" || fail "resumed types: $types"

# The seam under load: events keep coming while a client resumes; it gets
# every position once, in order.
LAST=$(positions "$WORK/resumed" | tail -1)
( for i in $(seq 1 20); do
    curl -s -o /dev/null -b "$WORK/jar" -H "X-CSRF-Token: $CSRF" "${JSON[@]}" \
      -d "{\"processId\":\"review\",\"businessKey\":\"L-$i\"}" "$BASE/api/v1/instances"
  done ) &
LOAD=$!
sleep 0.2
ws "$WORK/seam" "$ADMIN_SESSION" --since "$LAST" --count 40 --timeout-ms 30000
seam_rc=$?
wait $LOAD
mapfile -t SEAM_POS < <(positions "$WORK/seam")
seam_ok=1
[ $seam_rc -eq 0 ] && [ ${#SEAM_POS[@]} -eq 40 ] || seam_ok=0
for i in "${!SEAM_POS[@]}"; do
  [ "${SEAM_POS[$i]}" -eq $((LAST + 1 + i)) ] || seam_ok=0
done
[ $seam_ok -eq 1 ] && pass "resuming while events arrive: no gap, no duplicate" \
  || fail "seam: rc=$seam_rc positions ${SEAM_POS[*]}"

# Same filtering as live events: a tax clerk sees none of the dpf events.
QIAN_CSRF=$(login qian "$QIAN_PASSWORD" "$WORK/qian-jar")
[ -n "$QIAN_CSRF" ] || fail "qian logs in"
ws "$WORK/qian" "$(session_of "$WORK/qian-jar")" --since "$SINCE" --count 1 --timeout-ms 1500
qian_rc=$?
[ $qian_rc -eq 1 ] && grep -q '^OPEN' "$WORK/qian" && ! grep -q '"position"' "$WORK/qian" \
  && pass "a replay holds only what the caller may see" || fail "qian's replay: rc=$qian_rc $(cat "$WORK/qian")"
ws "$WORK/wang" "$SESSION" --since "$SINCE" --count 3 --timeout-ms 5000 \
  && grep -q '"type":"task.claimed"' "$WORK/wang" && pass "a staff member's replay holds the tasks of their department" \
  || fail "wang's replay: $(cat "$WORK/wang")"

ws "$WORK/old" "$ADMIN_SESSION" --since 1 --timeout-ms 3000
grep -q '^REFUSED 410' "$WORK/old" && pass "a position no longer kept: 410" || fail "old since: $(cat "$WORK/old")"
ws "$WORK/future" "$ADMIN_SESSION" --since "$((LAST + 1000000))" --timeout-ms 3000
grep -q '^REFUSED 400' "$WORK/future" && pass "a position not reached yet: 400" || fail "future since: $(cat "$WORK/future")"
ws "$WORK/bad" "$ADMIN_SESSION" --since abc --timeout-ms 3000
grep -q '^REFUSED 400' "$WORK/bad" && pass "a since that is not a number: 400" || fail "bad since: $(cat "$WORK/bad")"
STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -b "$WORK/admin-jar" -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
  -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$BASE/api/v1/events?since=1")
BODY=$(cat "$WORK/body")
expect 410 'problems/gone' "the refusal at upgrade is problem+json"

# --- audit rows in the transaction of their change -----------------------------------
acall POST /api/v1/users "${JSON[@]}" -d '{"name":"zhao","roles":["staff"],"department":"dpf","regions":["220102"],"password":"zhao-password-1"}'
expect 201 '"name":"zhao"' "add a user"
acall PATCH /api/v1/users/zhao "${JSON[@]}" -d '{"roles":["staff","supervisor"]}'; expect 200 'supervisor' "change a user"
ZHAO_CSRF=$(login zhao zhao-password-1 "$WORK/zhao-jar")
STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -b "$WORK/zhao-jar" -H "X-CSRF-Token: $ZHAO_CSRF" "${JSON[@]}" \
  -d '{"oldPassword":"zhao-password-1","newPassword":"zhao-password-2"}' "$BASE/api/v1/me/password")
BODY=$(cat "$WORK/body"); expect 204 "" "change a password"
ZHAO_CSRF=$(login zhao zhao-password-2 "$WORK/zhao-jar")
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X POST -b "$WORK/zhao-jar" -H "X-CSRF-Token: $ZHAO_CSRF" \
  "$BASE/api/v1/auth/logout")
[ "$STATUS" = 204 ] && pass "log out" || fail "logout: $STATUS"
acall GET '/api/v1/audit?actor=zhao&limit=100'
for action in '"action":"login"' '"action":"password-change"' '"action":"logout"'; do
  [[ "$BODY" == *"$action"* ]] || fail "zhao's audit lacks $action: $BODY"
done
acall GET '/api/v1/audit?actor=admin&limit=100'
for action in '"action":"user-add"' '"action":"user-change"' '"action":"token-add"'; do
  [[ "$BODY" == *"$action"* ]] || fail "admin's audit lacks $action: $BODY"
done
pass "each change wrote its audit row"

# A trigger refuses every new audit row: no change may happen without its row.
# The running server may be writing when sqlite3 asks for the write lock, so
# sqlite3 waits for it (.timeout) rather than giving up at once.
AUDIT_ROWS=$(sqlite3 "$WORK/data/banshi.db" 'SELECT count(*) FROM audit')
sqlite3 -cmd '.timeout 10000' "$WORK/data/banshi.db" \
  "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'refused'); END" \
  || fail "cannot add the trigger"
acall POST /api/v1/users "${JSON[@]}" -d '{"name":"sun","roles":["monitor"]}'
expect 500 'problems/internal' "add a user when its row cannot be written"
acall PATCH /api/v1/users/zhao "${JSON[@]}" -d '{"disabled":true}'
expect 500 'problems/internal' "disable a user when its row cannot be written"
acall POST /api/v1/tokens "${JSON[@]}" -d '{"name":"other","topics":["credit-score"]}'
expect 500 'problems/internal' "add a token when its row cannot be written"
STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -c "$WORK/refused-jar" "${JSON[@]}" \
  -d '{"username":"zhao","password":"zhao-password-2"}' "$BASE/api/v1/auth/login")
BODY=$(cat "$WORK/body"); expect 500 'problems/internal' "log in when the row cannot be written"
[ -z "$(session_of "$WORK/refused-jar")" ] && pass "no session cookie without the login row" || fail "a cookie was set"
STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' "${JSON[@]}" -d '{"username":"zhao","password":"wrong-password-x"}' \
  "$BASE/api/v1/auth/login")
BODY=$(cat "$WORK/body"); expect 500 'problems/internal' "a failed login whose row cannot be written"
STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -X POST -b "$WORK/jar" -H "X-CSRF-Token: $CSRF" "$BASE/api/v1/auth/logout")
BODY=$(cat "$WORK/body"); expect 500 'problems/internal' "log out when the row cannot be written"
call GET /api/v1/me; expect 200 '"name":"wang"' "the session whose logout failed still works"
STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -b "$WORK/jar" -H "X-CSRF-Token: $CSRF" "${JSON[@]}" \
  -d "{\"oldPassword\":\"$PASSWORD\",\"newPassword\":\"another-password-1\"}" "$BASE/api/v1/me/password")
BODY=$(cat "$WORK/body"); expect 500 'problems/internal' "change a password when its row cannot be written"
sqlite3 -cmd '.timeout 10000' "$WORK/data/banshi.db" 'DROP TRIGGER refuse_audit' || fail "cannot drop the trigger"
[ "$(sqlite3 "$WORK/data/banshi.db" 'SELECT count(*) FROM audit')" = "$AUDIT_ROWS" ] \
  && pass "no audit row was written meanwhile" || fail "audit rows changed"
[ "$(sqlite3 "$WORK/data/banshi.db" "SELECT count(*) FROM users WHERE name = 'sun'")" = 0 ] \
  && pass "the user whose row failed does not exist" || fail "sun exists"
[ "$(sqlite3 "$WORK/data/banshi.db" "SELECT disabled FROM users WHERE name = 'zhao'")" = 0 ] \
  && pass "the user whose change failed is unchanged" || fail "zhao was disabled"
[ "$(sqlite3 "$WORK/data/banshi.db" "SELECT count(*) FROM api_tokens WHERE name = 'other'")" = 0 ] \
  && pass "the token whose row failed does not exist" || fail "token other exists"
[ "$(sqlite3 "$WORK/data/banshi.db" "SELECT count(*) FROM login_failures WHERE name = 'zhao'")" = 0 ] \
  && pass "the failed login whose row failed was not counted" || fail "a login failure was kept"
[ "$(login wang "$PASSWORD" "$WORK/check-jar")" != "" ] && pass "the old password still works" \
  || fail "the password changed without its row"
ZHAO_CSRF=$(login zhao zhao-password-2 "$WORK/zhao-jar")
[ -n "$ZHAO_CSRF" ] && pass "zhao logs in again once rows can be written" || fail "zhao cannot log in"

stop_server
VERIFY_OUT=$("$BANSHI" audit verify --data "$WORK/data" 2>&1); rc=$?
[ $rc -eq 0 ] && pass "audit verify: the chain holds ($VERIFY_OUT)" || fail "audit verify: $rc $VERIFY_OUT"

if [ $failures -ne 0 ]; then
  echo "$failures check(s) failed; server log:"
  cat "$WORK/serve.log.old" "$WORK/serve.log" 2>/dev/null | tail -40
  exit 1
fi
echo "all checks passed"
