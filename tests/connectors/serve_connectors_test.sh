#!/usr/bin/env bash
# The department connectors inside a real `banshi serve`, against `banshi
# simulate` over HTTP:
# - a model naming an operation no adapter implements is refused at deploy;
# - an outage: the jobs of the department that is down are retried, its
#   breaker opens and GET /api/v1/connectors/health gives one summary line for
#   the department (no incident per job); the department returns, the probe
#   closes the breaker and every job completes, with no incident;
# - the simulators keep their state across a restart (--data);
# - an https endpoint (a simulator with a self-signed certificate made here
#   with openssl) works with the CA bundle configured, and with the wrong CA
#   the calls fail cleanly: retries, then an incident naming the certificate.
# Usage: serve_connectors_test.sh path/to/banshi
set -uo pipefail
BANSHI=${1:?usage: serve_connectors_test.sh path/to/banshi}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok   $*"; }
die() { echo "FAIL: $*"; exit 1; }

# start_simulator NAME ARGS... → sets SIM_URL (the first line names the port)
start_simulator() {
  local name=$1; shift
  "$BANSHI" simulate --port 0 --today 2026-03-02 "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  SIM_PID=$!
  SIM_URL=""
  for _ in $(seq 1 100); do
    SIM_URL=$(grep -oE 'https?://127.0.0.1:[0-9]+' "$WORK/$name.log" 2>/dev/null | head -1 || true)
    [ -n "$SIM_URL" ] && return 0
    sleep 0.1
  done
  die "the simulator $name did not start: $(cat "$WORK/$name.log")"
}

# start_server NAME DATA ENV... → sets BASE and SERVER_PID, logs in as the tester
start_server() {
  local name=$1 data=$2; shift 2
  env "$@" "$BANSHI" serve --listen 127.0.0.1:0 --data "$data" >"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=($SERVER_PID)
  local port=""
  for _ in $(seq 1 150); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$WORK/$name.log" 2>/dev/null | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] || die "the server $name did not start: $(cat "$WORK/$name.log")"
  BASE="http://127.0.0.1:$port"
  JAR="$WORK/$name.jar"
  CSRF=""
  call POST /api/v1/auth/login -H 'Content-Type: application/json' -d "{\"username\":\"tester\",\"password\":\"$PASSWORD\"}"
  [ "$STATUS" = 200 ] || die "login on $name: $STATUS $BODY"
  CSRF=$(sed -n 's/.*"csrfToken":"\([0-9a-f]*\)".*/\1/p' <<<"$BODY")
}

stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null && pass "$1 stopped cleanly" || fail "$1 did not stop cleanly"
}

call() {
  local method=$1 path=$2; shift 2
  STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -X "$method" -b "$JAR" -c "$JAR" -H "X-CSRF-Token: $CSRF" "$@" "$BASE$path")
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}
sim() { curl -s -k "$@"; }

new_data() {  # a database with one user who deploys, starts and watches
  local data=$1
  "$BANSHI" init --data "$data" >/dev/null 2>&1 || die "init $data"
  local out
  out=$("$BANSHI" user add tester --role designer --role monitor --role supervisor --role staff --department dpf \
    --region 000000 --data "$data" 2>&1) || die "user add: $out"
  PASSWORD=$(sed -n 's/^password: //p' <<<"$out")
}

# One service task naming CONNECTOR, retried often enough to outlast an outage.
model() {
  cat <<BPMN
<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="$1" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="call"/>
    <serviceTask id="call" bs:connector="$2" bs:retries="$3" bs:retryBackoff="PT0.1S" bs:timeout="PT2S"/>
    <sequenceFlow id="f2" sourceRef="call" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>
BPMN
}

deploy() {  # deploy NAME XML
  call POST "/api/v1/definitions?resource=$1.bpmn" -H 'Content-Type: application/xml' --data-binary "$2"
}

start_cases() {  # start_cases PROCESS N → IDS
  IDS=()
  for i in $(seq 1 "$2"); do
    call POST /api/v1/instances -H 'Content-Type: application/json' \
      -d "{\"processId\":\"$1\",\"businessKey\":\"$1-$i\",\"variables\":{\"applicant\":{\"idNumber\":\"$ID_NUMBER\"}}}"
    [ "$STATUS" = 201 ] || { fail "start $1: $STATUS $BODY"; continue; }
    IDS+=("$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' <<<"$BODY" | head -1)")
  done
}

completed_count() {
  local n=0
  for id in "${IDS[@]}"; do
    call GET "/api/v1/instances/$id"
    [[ "$BODY" == *'"status":"completed"'* ]] && n=$((n + 1))
  done
  echo "$n"
}

incident_count() {
  call GET /api/v1/incidents
  grep -o '"id":' <<<"$BODY" | wc -l
}

# A synthetic resident with a valid ID number: 南关区, born 1980-05-01.
ID_NUMBER=$(python3 -c '
w=[7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2]; d="10X98765432"
s="22010219800501001"; print(s + d[sum(int(c)*x for c,x in zip(s,w)) % 11])')

# --- deploy check, outage, breaker, recovery ------------------------------------
start_simulator sim1 --data "$WORK/sim"
new_data "$WORK/data1"
start_server serve1 "$WORK/data1" BANSHI_CONNECTORS_ENABLED=true BANSHI_CONNECTORS_BASE_URL="$SIM_URL" \
  BANSHI_CONNECTORS_BREAKER_FAILURES=3 BANSHI_CONNECTORS_BREAKER_OPEN_MS=400 BANSHI_CONNECTORS_RETRY_BACKOFF_MS=100

"$BANSHI" serve --print-config --data "$WORK/data1" 2>/dev/null | grep -q '^enabled = false' \
  && pass "--print-config shows the [connectors] keys" || fail "--print-config lacks connectors.enabled"
BANSHI_CONNECTORS_ENABLED=true BANSHI_CONNECTORS_DATA_SHARING_URL="$SIM_URL" "$BANSHI" serve --print-config \
  --data "$WORK/data1" >"$WORK/pc" 2>&1 && fail "endpoints missing were accepted" \
  || { grep -q 'connectors.dpf_url' "$WORK/pc" && pass "a department without an endpoint is a configuration error" \
       || fail "the configuration error does not name the key: $(cat "$WORK/pc")"; }

deploy unknown "$(model unknown dpf.print-certificate 3)"
[ "$STATUS" -ge 400 ] && [ "$STATUS" -lt 500 ] && [[ "$BODY" == *"dpf.print-certificate"* ]] && [[ "$BODY" == *":"*":"* ]] \
  && pass "an unknown operation is refused at deploy" || fail "unknown operation deploy: $STATUS $BODY"
deploy death "$(model death data-sharing.check-death 30)"
[ "$STATUS" = 201 ] && pass "a model naming a real operation deploys" || die "deploy: $STATUS $BODY"

call GET /api/v1/connectors/health
[ "$STATUS" = 200 ] && [[ "$BODY" == *'"enabled":true'* ]] && [[ "$BODY" == *'"allReachable":true'* ]] \
  && [ "$(grep -o '"department":' <<<"$BODY" | wc -l)" = 6 ] && pass "health: six departments, all reachable" \
  || fail "health at start: $STATUS $BODY"

sim -X POST -d '{"department":"data-sharing","down":true}' "$SIM_URL/_sim/faults" >/dev/null
start_cases death 8
down=""
for _ in $(seq 1 100); do
  call GET /api/v1/connectors/health
  [[ "$BODY" == *'"summary":"data-sharing unreachable since '* ]] && { down=1; break; }
  sleep 0.1
done
[ -n "$down" ] && pass "the outage opens the breaker: one summary for the department" || fail "no open breaker: $BODY"
[ "$(grep -o 'unreachable since' <<<"$BODY" | wc -l)" = 1 ] && [[ "$BODY" == *'"allReachable":false'* ]] \
  && pass "exactly one department is reported down" || fail "health during the outage: $BODY"
sleep 1.5   # several probe periods: the probes fail, the breaker reopens, the jobs wait
[ "$(completed_count)" = 0 ] && pass "no case completes while the department is down" || fail "cases completed during the outage"
[ "$(incident_count)" = 0 ] && pass "the waiting jobs raise no incident each" || fail "incidents during the outage: $BODY"
call GET /api/v1/connectors/health
grep -qE '"department":"data-sharing","state":"(open|half-open)","consecutiveFailures":[0-9]+,"timesOpened":[1-9]' <<<"$BODY" \
  && pass "the breaker stays open across failed probes" || fail "health: $BODY"

sim -X POST -d '{"department":"data-sharing","down":false}' "$SIM_URL/_sim/faults" >/dev/null
done_all=""
for _ in $(seq 1 150); do
  [ "$(completed_count)" = 8 ] && { done_all=1; break; }
  sleep 0.2
done
[ -n "$done_all" ] && pass "the department returns: every job completes" || fail "only $(completed_count) of 8 completed"
call GET /api/v1/connectors/health
[[ "$BODY" == *'"allReachable":true'* ]] && pass "the breaker closed" || fail "health after the outage: $BODY"
[ "$(incident_count)" = 0 ] && pass "no incident after the outage" || fail "incidents: $BODY"
applied=$(sim "$SIM_URL/_sim/stats")
stop_server serve1

# --- the simulators resume their state ------------------------------------------
issue="{\"idNumber\":\"$ID_NUMBER\",\"category\":4,\"level\":2}"
first=$(sim -X POST -H 'Idempotency-Key: job-1' -d "$issue" "$SIM_URL/dpf/certificates")
kill -TERM "$SIM_PID"; wait "$SIM_PID" 2>/dev/null
start_simulator sim2 --data "$WORK/sim"
again=$(sim -X POST -H 'Idempotency-Key: job-1' -d "$issue" "$SIM_URL/dpf/certificates")
[ "$first" = "$again" ] && pass "an idempotency key answered before the restart gets the same answer" \
  || fail "after the restart: $again (first: $first)"
sim "$SIM_URL/dpf/certificates/${ID_NUMBER}42" | grep -q '"status":"active"' && pass "the registry survived the restart" \
  || fail "the certificate is gone after the restart"
sim "$SIM_URL/_sim/stats" | grep -q '"dpf.register-certificate":1' && pass "the restart applied nothing twice" \
  || fail "stats after the restart: $(sim "$SIM_URL/_sim/stats") (before: $applied)"
kill -TERM "$SIM_PID"; wait "$SIM_PID" 2>/dev/null

# --- TLS: the right CA works, a wrong one fails cleanly ----------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$WORK/sim.key" -out "$WORK/sim.pem" >/dev/null 2>&1 || die "openssl could not make a certificate"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=someone else" \
  -keyout "$WORK/other.key" -out "$WORK/other.pem" >/dev/null 2>&1 || die "openssl could not make the other certificate"
start_simulator sim3 --tls-cert "$WORK/sim.pem" --tls-key "$WORK/sim.key"
[[ "$SIM_URL" == https://* ]] && pass "the simulator serves https" || fail "the simulator URL is $SIM_URL"

new_data "$WORK/data2"
start_server serve2 "$WORK/data2" BANSHI_CONNECTORS_ENABLED=true BANSHI_CONNECTORS_BASE_URL="$SIM_URL" \
  BANSHI_CONNECTORS_CA_FILE="$WORK/sim.pem"
deploy death "$(model death data-sharing.check-death 3)"
start_cases death 2
ok=""
for _ in $(seq 1 100); do [ "$(completed_count)" = 2 ] && { ok=1; break; }; sleep 0.1; done
[ -n "$ok" ] && pass "https with the configured CA bundle: jobs complete" || fail "https: $(completed_count) of 2 completed"
stop_server serve2

new_data "$WORK/data3"
start_server serve3 "$WORK/data3" BANSHI_CONNECTORS_ENABLED=true BANSHI_CONNECTORS_BASE_URL="$SIM_URL" \
  BANSHI_CONNECTORS_DATA_SHARING_CA_FILE="$WORK/other.pem" BANSHI_CONNECTORS_CA_FILE="$WORK/sim.pem" \
  BANSHI_CONNECTORS_BREAKER_FAILURES=100
deploy death "$(model death data-sharing.check-death 2)"
start_cases death 1
incident=""
for _ in $(seq 1 100); do
  call GET /api/v1/incidents
  [[ "$BODY" == *'"elementId":"call"'* ]] && { incident=1; break; }
  sleep 0.1
done
[ -n "$incident" ] && pass "a wrong CA: the retries run out into one incident" || fail "no incident with a wrong CA: $BODY"
grep -qiE 'certificate|handshake|verify' <<<"$BODY" && pass "the incident names the certificate failure" \
  || fail "the incident does not say why: $BODY"
[ "$(completed_count)" = 0 ] && pass "nothing completed over an unverified connection" || fail "a call went through with a wrong CA"
stop_server serve3

[ "$failures" = 0 ] && echo "serve connectors: ok" || { echo "serve connectors: $failures failed"; exit 1; }
