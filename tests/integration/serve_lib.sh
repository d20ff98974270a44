# Sourced by the serve tests (serve_test.sh, serve_resume_test.sh): a work
# folder removed on exit (with the server killed if it still runs), pass and
# fail counting, and checks of the last answer (STATUS and BODY).
WORK=$(mktemp -d)
SERVER_PID=""
failures=0
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok   $*"; }

expect() {  # expect STATUS [substring] -- label
  local want=$1 needle=$2 label=$3
  if [ "$STATUS" != "$want" ]; then fail "$label: status $STATUS, want $want: $BODY"; return; fi
  if [ -n "$needle" ] && [[ "$BODY" != *"$needle"* ]]; then fail "$label: body lacks '$needle': $BODY"; return; fi
  pass "$label"
}
json_field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$BODY" | head -1; }
JSON=(-H 'Content-Type: application/json')

# wait_for_port LOG: once the server started in the background ($SERVER_PID)
# logs its address in LOG, sets PORT and BASE; exits the test when it does not.
wait_for_port() {
  PORT=""
  for _ in $(seq 1 100); do
    PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$1" 2>/dev/null | grep -o '[0-9]*$' || true)
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$PORT" ]; then
    echo "FAIL: the server did not start"; cat "$1"; exit 1
  fi
  BASE="http://127.0.0.1:$PORT"
}

# poll NEEDLE COMMAND...: runs COMMAND (which sets BODY) up to 50 times, 0.1 s
# apart, until BODY holds NEEDLE.
poll() {
  local needle=$1; shift
  for _ in $(seq 1 50); do
    "$@"
    [[ "$BODY" == *"$needle"* ]] && return 0
    sleep 0.1
  done
  return 1
}
