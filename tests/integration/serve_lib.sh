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
