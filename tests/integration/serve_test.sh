#!/usr/bin/env bash
# Starts `banshi serve` on a free loopback port with a temporary data folder
# and checks the API end to end: `banshi init` and `banshi user add`, login
# with a cookie jar and the CSRF header, deploy, start, list, claim,
# complete, a message, health, readiness and metrics; refusals without a
# credential, without the CSRF header and with a wrong password; then a
# catalogue of bad input, each answered with the right status and changing
# nothing; then logout, SIGTERM and a clean exit; `banshi audit verify` on
# the database and on copies changed with sqlite3.
# Live events over WebSocket (with the ws_probe client), external tasks with
# a scoped API token (lease expiry, re-delivery, long polling), task
# assignment and filters, instance variables and active elements; finally a
# second server with TLS (a self-signed certificate made here with openssl)
# and a request rate limit (429).
# Usage: serve_test.sh path/to/banshi path/to/banshi_ws_probe
set -uo pipefail
BANSHI=${1:?usage: serve_test.sh path/to/banshi path/to/banshi_ws_probe}
PROBE=${2:?usage: serve_test.sh path/to/banshi path/to/banshi_ws_probe}
source "$(dirname "$0")/serve_lib.sh"

# --- start the server ---------------------------------------------------------
mkdir -p "$WORK/console/assets"
echo '<!doctype html><title>console</title>' > "$WORK/console/index.html"
echo 'body{}' > "$WORK/console/assets/app.css"
echo 'secret' > "$WORK/outside.txt"
ln -s "$WORK/outside.txt" "$WORK/console/link.txt"

# --- the database and its users -------------------------------------------------
INIT_OUT=$("$BANSHI" init --data "$WORK/data" 2>&1) || { echo "FAIL: banshi init: $INIT_OUT"; exit 1; }
ADMIN_PASSWORD=$(sed -n 's/^password: //p' <<<"$INIT_OUT")
[ ${#ADMIN_PASSWORD} -ge 16 ] && pass "init printed a generated admin password" || fail "init output: $INIT_OUT"
"$BANSHI" init --data "$WORK/data" >/dev/null 2>&1 && fail "a second init was accepted" || pass "a second init is refused"
ADD_OUT=$("$BANSHI" user add wang --role staff --role supervisor --role designer --role monitor \
  --department dpf --region 000000 --data "$WORK/data" 2>&1) || fail "user add: $ADD_OUT"
PASSWORD=$(sed -n 's/^password: //p' <<<"$ADD_OUT")
[ "$PASSWORD" != "$ADMIN_PASSWORD" ] && [ ${#PASSWORD} -ge 16 ] && pass "user add printed a password" || fail "user add: $ADD_OUT"
"$BANSHI" user add li --role king --data "$WORK/data" >/dev/null 2>&1 && fail "an unknown role was accepted" \
  || pass "user add refuses an unknown role"
"$BANSHI" user add li --role staff --department dpf --region 000000 --data "$WORK/data" >/dev/null 2>&1 \
  || fail "user add li"
"$BANSHI" user list --data "$WORK/data" | grep -q '^wang .*staff,supervisor,designer,monitor' && pass "user list" \
  || fail "user list lacks wang"
PASSWD_OUT=$("$BANSHI" user passwd wang --data "$WORK/data" 2>&1) || fail "user passwd: $PASSWD_OUT"
NEW_PASSWORD=$(sed -n "s/^new password for 'wang': //p" <<<"$PASSWD_OUT")
[ -n "$NEW_PASSWORD" ] && [ "$NEW_PASSWORD" != "$PASSWORD" ] && pass "user passwd" || fail "user passwd: $PASSWD_OUT"
PASSWORD=$NEW_PASSWORD

BANSHI_SERVER_READ_TIMEOUT_MS=1500 BANSHI_SERVER_MAX_BODY_BYTES=65536 \
  "$BANSHI" serve --listen 127.0.0.1:0 --data "$WORK/data" --console "$WORK/console" >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
wait_for_port "$WORK/serve.log"
echo "server on $BASE"

# call METHOD PATH [curl args...] → sets STATUS and BODY; sends the session
# cookie from the jar and the CSRF header once logged in.
JAR="$WORK/cookies"
CSRF=""
call() {
  local method=$1 path=$2; shift 2
  local out
  out=$(curl -s -o "$WORK/body" -w '%{http_code}' -X "$method" -b "$JAR" -c "$JAR" -H "X-CSRF-Token: $CSRF" "$@" "$BASE$path")
  STATUS=$out
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}

# --- the happy path -------------------------------------------------------------
cat >"$WORK/review.bpmn" <<'BPMN'
<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <message id="m" name="documents-arrived" bs:correlationKey="=applicationId"/>
  <process id="review" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="check"/>
    <userTask id="check" name="Check" bs:candidateGroups="dpf-county"/>
    <sequenceFlow id="f2" sourceRef="check" targetRef="e"/><endEvent id="e"/>
  </process>
  <process id="waiting" isExecutable="true">
    <startEvent id="ws"/><sequenceFlow id="w1" sourceRef="ws" targetRef="w"/>
    <receiveTask id="w" messageRef="m"/><sequenceFlow id="w2" sourceRef="w" targetRef="we"/><endEvent id="we"/>
  </process>
</definitions>
BPMN

call GET /healthz; expect 200 '"alive"' "healthz"
call GET /api/v1/tasks; expect 401 'problems/unauthorized' "no credential: 401"
call POST /api/v1/auth/login "${JSON[@]}" -d '{"username":"wang","password":"wrong"}'
expect 401 'problems/unauthorized' "wrong password"
call POST /api/v1/auth/login "${JSON[@]}" -d "{\"username\":\"wang\",\"password\":\"$PASSWORD\"}"
expect 200 '"csrfToken"' "login"
CSRF=$(sed -n 's/.*"csrfToken":"\([0-9a-f]*\)".*/\1/p' <<<"$BODY")
grep -q 'banshi_session' "$JAR" && pass "session cookie in the jar" || fail "no session cookie"
call GET /api/v1/me; expect 200 '"name":"wang"' "me"
out=$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR" -X POST "${JSON[@]}" -d '{"name":"x"}' "$BASE/api/v1/signals")
[ "$out" = 403 ] && pass "no CSRF header: 403" || fail "no CSRF header: $out"
call GET /readyz; expect 200 '"ready"' "readyz"
call POST '/api/v1/definitions?resource=review.bpmn' -H 'Content-Type: application/xml' --data-binary "@$WORK/review.bpmn"
expect 201 '"processId":"review"' "deploy"
call GET '/api/v1/definitions?processId=review'; expect 200 '"version":1' "list definition versions"
call GET /api/v1/definitions/review/1/xml; expect 200 '<userTask id="check"' "definition XML"

call POST /api/v1/instances "${JSON[@]}" -d '{"processId":"review","businessKey":"A-1","variables":{"applicationId":"A-1"}}'
expect 201 '"id":' "start instance"
INSTANCE=$(json_field id)
call GET "/api/v1/instances/$INSTANCE"; expect 200 '"status":"active"' "instance is active"
[[ "$BODY" != *'"state"'* ]] || fail "the instance carries its state blob"

TASK=""
for _ in $(seq 1 50); do
  call GET '/api/v1/tasks?candidateGroup=dpf-county&unassigned=true'
  TASK=$(json_field id)
  [ -n "$TASK" ] && break
  sleep 0.1
done
[ -n "$TASK" ] && pass "list tasks" || fail "no task listed: $BODY"
call GET "/api/v1/tasks/$TASK"; expect 200 '"elementId":"check"' "get task"
call POST "/api/v1/tasks/$TASK/claim" "${JSON[@]}" -d '{"user":"wang"}'; expect 204 "" "claim"
call POST "/api/v1/tasks/$TASK/claim" "${JSON[@]}" -d '{"user":"li"}'; expect 409 'problems/conflict' "claim twice is a conflict"
call POST "/api/v1/tasks/$TASK/complete" "${JSON[@]}" -d '{"user":"li"}'; expect 403 'problems/forbidden' "complete as another user"
call POST "/api/v1/tasks/$TASK/complete" "${JSON[@]}" -d '{"user":"wang","variables":{"approved":true}}'
expect 204 "" "complete"
STATE=""
for _ in $(seq 1 50); do
  call GET "/api/v1/instances/$INSTANCE"
  [[ "$BODY" == *'"status":"completed"'* ]] && STATE=completed && break
  sleep 0.1
done
[ "$STATE" = completed ] && pass "instance completed" || fail "instance not completed: $BODY"
call GET "/api/v1/instances/$INSTANCE/history"; expect 200 '"seq":1' "history"
call GET '/api/v1/instances?processId=review&status=completed'; expect 200 "\"id\":$INSTANCE" "list instances"

call POST /api/v1/instances "${JSON[@]}" -d '{"processId":"waiting","variables":{"applicationId":"B-7"}}'
expect 201 '"id":' "start waiting instance"
WAITING=$(json_field id)
call POST /api/v1/messages "${JSON[@]}" -d '{"name":"documents-arrived","correlationKey":"B-7","messageId":"msg-1"}'
expect 200 '"correlated":1' "publish message"
call POST /api/v1/messages "${JSON[@]}" -d '{"name":"documents-arrived","correlationKey":"B-7","messageId":"msg-1","timeToLiveMs":60000}'
[ "$STATUS" = 200 ] || [ "$STATUS" = 409 ] && pass "republish answered ($STATUS)" || fail "republish: $STATUS $BODY"
call GET "/api/v1/instances/$WAITING"; expect 200 '"status":"completed"' "message completed the instance"
call POST /api/v1/signals "${JSON[@]}" -d '{"name":"nobody-listens"}'; expect 200 '"triggered":0' "signal"
call GET /api/v1/incidents; expect 200 '"items":[]' "no incidents"
call GET /api/v1/openapi.yaml; expect 200 'openapi: 3.1' "openapi document"

# --- live events over WebSocket ----------------------------------------------------
SESSION=$(awk '$6 == "banshi_session" {print $7}' "$JAR")
"$PROBE" 127.0.0.1 "$PORT" --timeout-ms 3000 >"$WORK/ws_anon" 2>&1
grep -q '^REFUSED 401' "$WORK/ws_anon" && pass "events without a credential: 401" || fail "events anon: $(cat "$WORK/ws_anon")"
"$PROBE" 127.0.0.1 "$PORT" --cookie "banshi_session=$SESSION" --origin http://evil.example --timeout-ms 3000 \
  >"$WORK/ws_origin" 2>&1
grep -q '^REFUSED 403' "$WORK/ws_origin" && pass "events from a foreign origin: 403" || fail "events origin: $(cat "$WORK/ws_origin")"
"$PROBE" 127.0.0.1 "$PORT" --cookie "banshi_session=$SESSION" --count 5 --timeout-ms 20000 >"$WORK/ws_all" 2>&1 &
PROBE_ALL=$!
"$PROBE" 127.0.0.1 "$PORT" --cookie "banshi_session=$SESSION" --send '{"types":["instance.ended"]}' --count 1 \
  --timeout-ms 20000 >"$WORK/ws_ended" 2>&1 &
PROBE_ENDED=$!
for _ in $(seq 1 50); do
  grep -q '^OPEN' "$WORK/ws_all" && grep -q '^OPEN' "$WORK/ws_ended" && break
  sleep 0.1
done
sleep 0.3  # the filter frame reaches the server
call POST /api/v1/instances "${JSON[@]}" -d '{"processId":"review","businessKey":"WS-1","variables":{"applicationId":"WS-1"}}'
expect 201 '"id":' "start an instance for the events"
WS_INSTANCE=$(json_field id)
WS_TASK=""
for _ in $(seq 1 50); do
  call GET "/api/v1/tasks?instanceId=$WS_INSTANCE"
  WS_TASK=$(json_field id)
  [ -n "$WS_TASK" ] && break
  sleep 0.1
done
call POST "/api/v1/tasks/$WS_TASK/claim" "${JSON[@]}" -d '{}'; expect 204 "" "claim (events)"
call POST "/api/v1/tasks/$WS_TASK/complete" "${JSON[@]}" -d '{"variables":{"approved":true}}'; expect 204 "" "complete (events)"
wait "$PROBE_ALL"; rc_all=$?
wait "$PROBE_ENDED"; rc_ended=$?
if [ $rc_all -eq 0 ]; then
  types=$(grep -o '"type":"[a-z.]*"' "$WORK/ws_all" | tr '\n' ' ')
  want='"type":"instance.started" "type":"task.created" "type":"task.claimed" "type":"task.completed" "type":"instance.ended" '
  [ "$types" = "$want" ] && pass "events arrive live and in order" || fail "event types: $types"
  grep -q "\"type\":\"task.created\".*\"taskId\":$WS_TASK.*\"department\":\"dpf\"" "$WORK/ws_all" \
    && pass "task.created names the task and department" || fail "task.created: $(cat "$WORK/ws_all")"
  grep -q '"at":"20[0-9-]*T[0-9:.]*Z"' "$WORK/ws_all" && pass "events carry an ISO 8601 time" || fail "event time"
else
  fail "event probe: rc=$rc_all $(cat "$WORK/ws_all")"
fi
[ $rc_ended -eq 0 ] && grep -q '"type":"instance.ended"' "$WORK/ws_ended" && ! grep -q '"type":"task' "$WORK/ws_ended" \
  && pass "a client narrows its stream by type" || fail "filtered probe: rc=$rc_ended $(cat "$WORK/ws_ended")"

# --- instance variables and active elements ---------------------------------------------
call POST /api/v1/instances "${JSON[@]}" -d '{"processId":"review","businessKey":"V-1","variables":{"applicationId":"V-1","applicant":"Li Na"}}'
V_INSTANCE=$(json_field id)
call GET "/api/v1/instances/$V_INSTANCE/variables"; expect 200 '"applicant":"Li Na"' "instance variables"
call GET "/api/v1/audit?action=view-variables"; expect 200 "\"target\":\"instance $V_INSTANCE\"" "viewing variables is audited"
for _ in $(seq 1 30); do
  call GET "/api/v1/instances/$V_INSTANCE/active-elements"
  [[ "$BODY" == *'"elementId":"check"'* ]] && break
  sleep 0.1
done
expect 200 '"elementId":"check","count":1,"incident":false' "active elements"
call GET "/api/v1/instances/999999/active-elements"; expect 404 'problems/not-found' "active elements of no instance"
call GET "/api/v1/instances?processId=review&startedAfter=2000-01-01T00:00:00Z&startedBefore=2999-01-01T00:00:00Z"
expect 200 "\"id\":$V_INSTANCE" "instances by date range"
call GET "/api/v1/instances?processId=review&startedAfter=2999-01-01T00:00:00Z"; expect 200 '"items":[]' "instances after a future date"

# --- task filters, assign and delegate ----------------------------------------------------
ZHAO_OUT=$("$BANSHI" user add zhao --role staff --department dpf --region 000000 --data "$WORK/data" 2>&1) \
  || fail "user add zhao: $ZHAO_OUT"
"$BANSHI" user add qian --role staff --department tax --region 220102 --data "$WORK/data" >/dev/null 2>&1
V_TASK=""
for _ in $(seq 1 30); do
  call GET "/api/v1/tasks?instanceId=$V_INSTANCE"
  V_TASK=$(json_field id)
  [ -n "$V_TASK" ] && break
  sleep 0.1
done
call GET "/api/v1/tasks?myGroups=true&instanceId=$V_INSTANCE"; expect 200 "\"id\":$V_TASK" "my groups"
call GET "/api/v1/tasks?slaState=on_time&instanceId=$V_INSTANCE"; expect 200 "\"id\":$V_TASK" "slaState filter"
call GET "/api/v1/tasks?slaState=late"; expect 400 '"field":"slaState"' "unknown slaState"
call POST "/api/v1/tasks/$V_TASK/assign" "${JSON[@]}" -d '{"assignee":"qian"}'
expect 400 '"field":"assignee"' "assign to someone of another department"
call POST "/api/v1/tasks/$V_TASK/assign" "${JSON[@]}" -d '{"assignee":"nobody"}'; expect 400 '"field":"assignee"' "assign to no one"
call POST "/api/v1/tasks/$V_TASK/delegate" "${JSON[@]}" -d '{"assignee":"zhao"}'
expect 403 'problems/forbidden' "delegate a task one does not hold"
call POST "/api/v1/tasks/$V_TASK/assign" "${JSON[@]}" -d '{"assignee":"zhao"}'; expect 204 "" "assign"
call GET "/api/v1/tasks?assignee=zhao"; expect 200 "\"id\":$V_TASK" "the assignee's list"
call GET "/api/v1/tasks?mine=true&instanceId=$V_INSTANCE"; expect 200 '"items":[]' "not mine any more"
call GET "/api/v1/audit?action=assign"; expect 200 '"detail":"to zhao"' "assignment audited"

# --- external tasks ------------------------------------------------------------------------
cat >"$WORK/scoring.bpmn" <<'BPMN'
<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d2">
  <process id="scoring" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="score"/>
    <serviceTask id="score" bs:topic="credit-score" bs:retries="2"/>
    <sequenceFlow id="f2" sourceRef="score" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>
BPMN
call POST '/api/v1/definitions?resource=scoring.bpmn' -H 'Content-Type: application/xml' --data-binary "@$WORK/scoring.bpmn"
expect 201 '"processId":"scoring"' "deploy a process with an external task"
ADMIN_JAR="$WORK/admin-cookies"
ADMIN_CSRF=$(curl -s -c "$ADMIN_JAR" "${JSON[@]}" -d "{\"username\":\"admin\",\"password\":\"$ADMIN_PASSWORD\"}" \
  "$BASE/api/v1/auth/login" | sed -n 's/.*"csrfToken":"\([0-9a-f]*\)".*/\1/p')
BODY=$(curl -s -b "$ADMIN_JAR" -H "X-CSRF-Token: $ADMIN_CSRF" "${JSON[@]}" -d '{"name":"bureau","topics":["credit-score"]}' \
  "$BASE/api/v1/tokens")
TOKEN=$(sed -n 's/.*"token":"\([0-9a-f]*\)".*/\1/p' <<<"$BODY")
[ ${#TOKEN} -eq 64 ] && pass "an admin makes a token for a topic" || fail "token: $BODY"
BEARER=(-H "Authorization: Bearer $TOKEN")
tcall() {  # like call, with the bearer token and no cookie
  local method=$1 path=$2; shift 2
  STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -X "$method" "${BEARER[@]}" "${JSON[@]}" "$@" "$BASE$path")
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}
call POST /api/v1/instances "${JSON[@]}" -d '{"processId":"scoring","variables":{"income":5000}}'
SCORING=$(json_field id)
tcall POST /api/v1/external-tasks/fetch-and-lock -d '{"workerId":"w1","topics":["tax-check"]}'
expect 403 'problems/forbidden' "fetch a topic outside the token's scope"
call POST /api/v1/external-tasks/fetch-and-lock "${JSON[@]}" -d '{"workerId":"w1","topics":["credit-score"]}'
expect 403 'problems/forbidden' "a user session does not fetch external tasks"
tcall POST /api/v1/external-tasks/fetch-and-lock -d '{"workerId":"w1","topics":"credit-score"}'
expect 400 '"field":"topics"' "topics not a list"
tcall POST /api/v1/external-tasks/fetch-and-lock -d '{"workerId":"w1","topics":["credit-score"],"lockMs":1000}'
expect 200 '"income":5000' "fetch and lock"
JOB=$(sed -n 's/.*"items":\[{"id":\([0-9]*\).*/\1/p' <<<"$BODY")
tcall POST /api/v1/external-tasks/fetch-and-lock -d '{"workerId":"w2","topics":["credit-score"]}'
expect 200 '"items":[]' "a locked job is not fetched twice"
sleep 1.3
tcall POST /api/v1/external-tasks/fetch-and-lock -d '{"workerId":"w2","topics":["credit-score"],"lockMs":60000}'
expect 200 "\"id\":$JOB" "an expired lease makes the job available again"
tcall POST "/api/v1/external-tasks/$JOB/complete" -d '{"workerId":"w1","variables":{"score":1}}'
expect 409 'problems/conflict' "the first worker's lease is gone"
tcall POST "/api/v1/external-tasks/$JOB/extend-lock" -d '{"workerId":"w2","newDurationMs":120000}'; expect 204 "" "extend the lock"
tcall POST "/api/v1/external-tasks/$JOB/extend-lock" -d '{"workerId":"w2","newDurationMs":5}'; expect 400 '"field":"newDurationMs"' "too short a lock"
tcall POST "/api/v1/external-tasks/$JOB/complete" -d '{"workerId":"w2","variables":{"score":720}}'; expect 204 "" "complete an external task"
for _ in $(seq 1 50); do
  call GET "/api/v1/instances/$SCORING"
  [[ "$BODY" == *'"status":"completed"'* ]] && break
  sleep 0.1
done
expect 200 '"status":"completed"' "the instance went on after the external task"
# Long polling: the fetch waits until a job appears.
curl -s -o "$WORK/poll" -X POST "${BEARER[@]}" "${JSON[@]}" \
  -d '{"workerId":"w3","topics":["credit-score"],"asyncResponseTimeoutMs":8000}' "$BASE/api/v1/external-tasks/fetch-and-lock" &
POLL=$!
sleep 1
poll_start=$(date +%s%N)
call POST /api/v1/instances "${JSON[@]}" -d '{"processId":"scoring","variables":{"income":1}}'
SCORING2=$(json_field id)
wait $POLL
poll_ms=$(( ($(date +%s%N) - poll_start) / 1000000 ))
BODY=$(cat "$WORK/poll")
[[ "$BODY" == *"\"instanceId\":$SCORING2"* ]] && [ $poll_ms -lt 5000 ] && pass "a long poll returns when a job appears (${poll_ms} ms)" \
  || fail "long poll: $poll_ms ms, $BODY"
JOB2=$(sed -n 's/.*"items":\[{"id":\([0-9]*\).*/\1/p' <<<"$BODY")
tcall POST "/api/v1/external-tasks/$JOB2/failure" -d '{"workerId":"w3","errorMessage":"bureau down","retries":0}'
expect 204 "" "report a failure without retries"
for _ in $(seq 1 50); do
  call GET "/api/v1/incidents?instanceId=$SCORING2"
  [[ "$BODY" == *'bureau down'* ]] && break
  sleep 0.1
done
expect 200 'bureau down' "the failure raised an incident"
tcall POST "/api/v1/external-tasks/$JOB2/bpmn-error" -d '{"workerId":"w3"}'; expect 400 '"field":"errorCode"' "bpmn-error needs a code"
tcall POST /api/v1/external-tasks/424242/complete -d '{"workerId":"w3"}'; expect 404 'problems/not-found' "complete an unknown job"

# --- bad input: each refused, nothing changed ------------------------------------
call GET '/api/v1/instances?processId=review'; BEFORE=$BODY
call POST /api/v1/instances "${JSON[@]}" -d '{"processId":'; expect 400 'problems/bad-request' "malformed JSON"
call POST /api/v1/instances "${JSON[@]}" -d '{"processId":42}'; expect 400 '"field":"processId"' "wrong type"
call POST /api/v1/instances "${JSON[@]}" -d '{"businessKey":"x"}'; expect 400 '"field":"processId"' "missing field"
call POST /api/v1/instances "${JSON[@]}" -d '{"processId":"review","variables":[1]}'; expect 400 '"field":"variables"' "variables not an object"
call POST /api/v1/instances "${JSON[@]}" -d '{"processId":"review","bogus":1}'; expect 400 '"field":"bogus"' "unknown member"
call POST /api/v1/instances "${JSON[@]}" -d '[]'; expect 400 'problems/bad-request' "array body"
call POST /api/v1/instances "${JSON[@]}" -d '{"processId":"nope"}'; expect 404 'problems/not-found' "unknown process"
head -c 200000 /dev/zero | tr '\0' 'a' >"$WORK/huge"
call POST /api/v1/instances "${JSON[@]}" --data-binary "@$WORK/huge"; expect 413 'problems/payload-too-large' "huge body"
call POST /api/v1/instances -H 'Content-Type: text/plain' -d '{"processId":"review"}'; expect 415 'problems/unsupported-media-type' "wrong content type"
call POST '/api/v1/definitions?resource=x.bpmn' "${JSON[@]}" -d '{}'; expect 415 'problems/unsupported-media-type' "deploy needs XML"
call POST '/api/v1/definitions?resource=bad.bpmn' -H 'Content-Type: application/xml' -d '<definitions'; expect 400 'problems/invalid-model' "invalid BPMN"
call GET /api/v1/nowhere; expect 404 'problems/not-found' "unknown route"
call DELETE "/api/v1/instances/$INSTANCE"; expect 405 'problems/method-not-allowed' "wrong method"
call GET /api/v1/tasks/abc; expect 400 '"field":"id"' "non-numeric id"
call GET '/api/v1/tasks?limit=5000'; expect 400 '"field":"limit"' "limit over 1000"
call GET '/api/v1/tasks?sort=sideways'; expect 400 '"field":"sort"' "bad sort"
call POST /api/v1/tasks/999999/complete "${JSON[@]}" -d '{}'; expect 404 'problems/not-found' "complete unknown task"
call POST /api/v1/incidents/999999/resolve "${JSON[@]}" -d '{"retries":"3"}'; expect 400 '"field":"retries"' "retries as a string"
call GET '/api/v1/instances?processId=review'
[ "$BODY" = "$BEFORE" ] && pass "bad input changed nothing" || fail "instances changed: $BEFORE -> $BODY"

# --- static files -----------------------------------------------------------------
call GET /; expect 200 '<title>console</title>' "console index"
call GET /assets/app.css; expect 200 'body{}' "console asset"
CT=$(curl -s -o /dev/null -w '%{content_type}' "$BASE/assets/app.css")
[[ "$CT" == text/css* ]] && pass "css content type" || fail "css content type: $CT"
call GET /tasks/42; expect 200 '<title>console</title>' "index.html fallback"
# HEAD tells the length GET sends, with no body.
GET_LENGTH=$(curl -s "$BASE/assets/app.css" | wc -c)
HEAD_LENGTH=$(curl -s -I "$BASE/assets/app.css" | tr -d '\r' | awk -F': ' 'tolower($1) == "content-length" {print $2}')
[ -n "$HEAD_LENGTH" ] && [ "$HEAD_LENGTH" = "$GET_LENGTH" ] && pass "HEAD's content length is GET's" \
  || fail "HEAD content length '$HEAD_LENGTH', GET sends $GET_LENGTH bytes"
call GET /../outside.txt --path-as-is; expect 400 'problems/bad-request' "traversal with .."
call GET /%2e%2e/outside.txt --path-as-is; expect 400 'problems/bad-request' "traversal with %2e%2e"
call GET /assets/%2e%2e/%2e%2e/outside.txt --path-as-is; expect 400 'problems/bad-request' "nested encoded traversal"
call GET //etc/passwd --path-as-is; expect 400 'problems/bad-request' "absolute path"
call GET /link.txt; expect 404 'problems/not-found' "symlink out of the root"

# --- a slowloris request is closed after the read timeout ---------------------------
start=$(date +%s)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' >&3
REPLY=$(timeout 10 cat <&3)
rc=$?
exec 3<&- 3>&-
elapsed=$(( $(date +%s) - start ))
if [ $rc -eq 0 ] && [ -z "$REPLY" ] && [ $elapsed -le 6 ]; then pass "slowloris closed after ${elapsed}s"
else fail "slowloris: rc=$rc elapsed=${elapsed}s reply='$REPLY'"; fi

# --- metrics ----------------------------------------------------------------------------
call GET /metrics
expect 200 'banshi_instances_started_total ' "metrics: engine counters"
[[ "$BODY" == *'banshi_ws_events_sent_total '* ]] && pass "metrics: WebSocket events" || fail "metrics lack the WebSocket counters"
[[ "$BODY" == *'banshi_http_requests_total{route="/api/v1/tasks/{id}/claim",method="POST",status="409"} 1'* ]] \
  && pass "metrics: requests by route and status" || fail "metrics lack the claim conflict"
[[ "$BODY" == *'banshi_http_request_duration_seconds_bucket{le="+Inf"}'* ]] && pass "metrics: latency histogram" \
  || fail "metrics lack the latency histogram"

call GET '/api/v1/audit?action=claim'; expect 200 '"actor":"wang"' "audit trail records the claim"
call POST /api/v1/auth/logout; expect 204 "" "logout"
call GET /api/v1/me; expect 401 'problems/unauthorized' "after logout: 401"

# --- clean shutdown ------------------------------------------------------------------------
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
rc=$?
SERVER_PID=""
[ $rc -eq 0 ] && pass "SIGTERM: exit code 0" || fail "SIGTERM: exit code $rc"
grep -q 'stopped cleanly' "$WORK/serve.log" && pass "stopped cleanly" || fail "no clean stop in the log"

# --- the audit trail verifies, and a changed or removed row is found ----------------------
VERIFY_OUT=$("$BANSHI" audit verify --data "$WORK/data" 2>&1); rc=$?
HEAD=$(sed -n 's/^audit chain verified: [0-9]* rows; head //p' <<<"$VERIFY_OUT")
[ $rc -eq 0 ] && [ ${#HEAD} -eq 64 ] && pass "audit verify: the chain holds ($VERIFY_OUT)" || fail "audit verify: $rc $VERIFY_OUT"
ROWS=$(sqlite3 "$WORK/data/banshi.db" 'SELECT count(*) FROM audit')
[ "${ROWS:-0}" -ge 5 ] && pass "the audit trail has $ROWS rows" || fail "audit rows: $ROWS"
tamper() {  # tamper NAME SQL: a copy of the database changed with sqlite3, as an intruder would
  rm -rf "$WORK/$1"; cp -r "$WORK/data" "$WORK/$1"
  sqlite3 "$WORK/$1/banshi.db" "$2" || fail "sqlite3 could not tamper ($1)"
}
tamper changed "DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'mallory' WHERE id = 3;"
OUT=$("$BANSHI" audit verify --data "$WORK/changed" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q 'FAILED at row 3: row 3 was changed' <<<"$OUT" && pass "audit verify names a changed row" \
  || fail "a changed row: $rc $OUT"
tamper removed "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = 2;"
OUT=$("$BANSHI" audit verify --data "$WORK/removed" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q 'row 2 was removed' <<<"$OUT" && pass "audit verify names a removed row" \
  || fail "a removed row: $rc $OUT"
tamper cut "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = (SELECT max(id) FROM audit);"
"$BANSHI" audit verify --data "$WORK/cut" >/dev/null 2>&1 || fail "a chain cut at its end still links"
OUT=$("$BANSHI" audit verify --data "$WORK/cut" --head "$HEAD" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q 'does not pass through the recorded head' <<<"$OUT" \
  && pass "audit verify --head finds rows cut from the end" || fail "a cut chain: $rc $OUT"
"$BANSHI" audit verify --data "$WORK/data" --head "$HEAD" >/dev/null 2>&1 && pass "audit verify --head on the intact chain" \
  || fail "the intact chain fails with its own head"
"$BANSHI" audit verify --data "$WORK/nowhere" >/dev/null 2>&1; rc=$?
[ $rc -eq 1 ] && [ ! -e "$WORK/nowhere/banshi.db" ] && pass "audit verify: no database, exit 1, nothing created" \
  || fail "audit verify on a missing database: $rc"

# --- TLS and the request rate limit ---------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
  >/dev/null 2>&1 || fail "openssl could not make a certificate"
BANSHI_TLS_CERT_FILE="$WORK/cert.pem" BANSHI_TLS_KEY_FILE="$WORK/key.pem" \
  BANSHI_SERVER_RATE_LIMIT_PER_SECOND=0.2 BANSHI_SERVER_RATE_LIMIT_BURST=5 \
  "$BANSHI" serve --listen 127.0.0.1:0 --data "$WORK/data" >"$WORK/serve2.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do
  PORT=$(grep -o 'listening on https://127.0.0.1:[0-9]*' "$WORK/serve2.log" | grep -o '[0-9]*$' || true)
  [ -n "$PORT" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$PORT" ]; then
  fail "the TLS server did not start: $(cat "$WORK/serve2.log")"
else
  BASE="https://127.0.0.1:$PORT"
  out=$(curl -s -k -o "$WORK/body" -w '%{http_code}' "$BASE/healthz")
  [ "$out" = 200 ] && pass "TLS: healthz over https" || fail "TLS healthz: $out"
  out=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
  [ "$out" != 200 ] && pass "TLS: plain http is not served" || fail "plain http answered 200 on the TLS port"
  LOGIN=$(curl -s -k -D "$WORK/headers" -H 'Content-Type: application/json' \
    -d "{\"username\":\"wang\",\"password\":\"$PASSWORD\"}" "$BASE/api/v1/auth/login")
  grep -qi '^set-cookie: banshi_session=.*; Secure' "$WORK/headers" && pass "TLS: the session cookie is Secure" \
    || fail "TLS cookie: $(cat "$WORK/headers") $LOGIN"
  SESSION2=$(sed -n 's/^[Ss]et-[Cc]ookie: banshi_session=\([0-9a-f]*\);.*/\1/p' "$WORK/headers" | head -1)
  "$PROBE" 127.0.0.1 "$PORT" --tls --cookie "banshi_session=$SESSION2" --count 0 --timeout-ms 5000 >"$WORK/ws_tls" 2>&1
  grep -q '^OPEN' "$WORK/ws_tls" && pass "TLS: events over wss" || fail "wss: $(cat "$WORK/ws_tls")"
  # One token every 5 s: no refill between these requests, however slow the
  # machine. The first 429's own answer is the one checked.
  codes=""
  : >"$WORK/headers"
  for _ in $(seq 1 8); do
    code=$(curl -s -k -D "$WORK/h429" -o "$WORK/b429" -w '%{http_code}' "$BASE/api/v1/openapi.yaml")
    codes+="$code "
    if [ "$code" = 429 ] && [ ! -s "$WORK/headers" ]; then cp "$WORK/h429" "$WORK/headers"; cp "$WORK/b429" "$WORK/body"; fi
  done
  [[ "$codes" == *429* ]] && [[ "$codes" == 200* ]] && pass "429 once over the rate ($codes)" || fail "rate limit: $codes"
  grep -qi '^retry-after: [0-9]' "$WORK/headers" && grep -q 'problems/too-many-requests' "$WORK/body" \
    && pass "429 is problem+json with Retry-After" || fail "429 answer: $(cat "$WORK/headers")"
  out=$(curl -s -k -o /dev/null -w '%{http_code}' "$BASE/healthz")
  [ "$out" = 200 ] && pass "healthz is not rate limited" || fail "healthz under the limit: $out"
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; rc=$?; SERVER_PID=""
  [ $rc -eq 0 ] && pass "TLS server: clean stop" || fail "TLS server exit code $rc"
fi

if [ $failures -ne 0 ]; then
  echo "--- server log"; cat "$WORK/serve.log"; cat "$WORK/serve2.log" 2>/dev/null
  echo "$failures failure(s)"; exit 1
fi
echo "all passed"
