#!/usr/bin/env bash
# The server benchmark: a real `banshi serve` driven with wrk (Debian package
# `wrk`). Prints requests/s and latency percentiles for
#   1. the task list, a page of 50 from LIST (default 100,000) open tasks,
#      as fast as it goes;
#   2. the same list at a steady ~1,000 requests/s (p99 is the figure);
#   3. complete-task round trips (POST /api/v1/tasks/{id}/complete);
#   4. claim round trips (POST /api/v1/tasks/{id}/claim);
#   5. starting an instance that waits at a user task (POST /api/v1/instances);
#   6. the task list of a clerk who may see none of the open tasks (another
#      department's), which must not read every open task to say so.
# Targets: at least 10,000 list requests/s; p99 under 10 ms at
# 1,000 requests/s. Figures only; nothing here asserts. Build the release
# preset first; not run by CI. wrk is a Debian package: the script installs
# it with apt-get when it is missing and it runs as root.
# Usage: bench/server/run.sh [BUILD_DIR] [LIST] [COMPLETE] [SECONDS] [CLAIM]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$HERE/../../build/release}
LIST=${2:-100000}
COMPLETE=${3:-30000}
SECONDS_EACH=${4:-10}
CLAIM=${5:-$COMPLETE}
BANSHI=$BUILD/tools/banshi
SEED=$BUILD/bench/bench_server_seed
if ! command -v wrk >/dev/null && [ "$(id -u)" -eq 0 ]; then
  apt-get install -y wrk >/dev/null || true
fi
for tool in wrk curl; do
  command -v $tool >/dev/null || { echo "$tool is needed (apt-get install $tool)"; exit 1; }
done
[ -x "$BANSHI" ] && [ -x "$SEED" ] || { echo "build $BUILD first (banshi and bench_server_seed)"; exit 1; }

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BANSHI" init --data "$WORK/data" >/dev/null
PASSWORD=$("$BANSHI" user add bench --role staff --role supervisor --department dpf --region 000000 \
  --data "$WORK/data" | sed -n 's/^password: //p')
OTHER_PASSWORD=$("$BANSHI" user add clerk --role staff --department tax --region 220102 \
  --data "$WORK/data" | sed -n 's/^password: //p')
echo "seeding $LIST open tasks to list, $COMPLETE to complete and $CLAIM to claim ..."
start=$(date +%s)
RANGES=$("$SEED" "$WORK/data/banshi.db" "$LIST" "$COMPLETE" "$CLAIM")
read -r _ FIRST LAST <<<"$(grep '^complete-ids' <<<"$RANGES")"
read -r _ CLAIM_FIRST CLAIM_LAST <<<"$(grep '^claim-ids' <<<"$RANGES")"
echo "seeded in $(( $(date +%s) - start )) s; tasks to complete: $FIRST..$LAST; to claim: $CLAIM_FIRST..$CLAIM_LAST"

BANSHI_SERVER_THREADS=${THREADS:-$(nproc)} BANSHI_STORE_DURABLE=false \
  "$BANSHI" serve --listen 127.0.0.1:0 --data "$WORK/data" >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do
  PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$WORK/serve.log" | grep -o '[0-9]*$' || true)
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { cat "$WORK/serve.log"; exit 1; }
BASE="http://127.0.0.1:$PORT"
LOGIN=$(curl -s -c "$WORK/jar" -H 'Content-Type: application/json' \
  -d "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" "$BASE/api/v1/auth/login")
CSRF=$(sed -n 's/.*"csrfToken":"\([0-9a-f]*\)".*/\1/p' <<<"$LOGIN")
COOKIE="banshi_session=$(awk '$6 == "banshi_session" {print $7}' "$WORK/jar")"
LIST_URL="$BASE/api/v1/tasks?processId=bench-list&limit=50"
curl -s -H "Cookie: $COOKIE" "$LIST_URL" | grep -q '"items":\[{' || { echo "the task list is empty"; exit 1; }

echo
echo "== 1. task list, page of 50 of $LIST open tasks, as fast as it goes (${SECONDS_EACH}s)"
wrk -t2 -c64 -d"${SECONDS_EACH}s" --latency -H "Cookie: $COOKIE" "$LIST_URL" | sed -n '/Latency Distribution/,$p'
echo
echo "== 2. task list at about 1,000 requests/s (20 connections, 20 ms apart)"
PACE_MS=20 wrk -t2 -c20 -d"${SECONDS_EACH}s" --latency -s "$HERE/paced.lua" -H "Cookie: $COOKIE" "$LIST_URL" \
  | sed -n '/Latency Distribution/,$p'
echo
echo "== 3. complete-task round trips (${SECONDS_EACH}s)"
FIRST=$FIRST LAST=$LAST THREADS=2 COOKIE=$COOKIE CSRF=$CSRF \
  wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency -s "$HERE/round_trips.lua" "$BASE" | sed -n '/Latency Distribution/,$p'
echo
echo "== 4. claim round trips (${SECONDS_EACH}s)"
FIRST=$CLAIM_FIRST LAST=$CLAIM_LAST THREADS=2 COOKIE=$COOKIE CSRF=$CSRF ACTION=claim \
  wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency -s "$HERE/round_trips.lua" "$BASE" | sed -n '/Latency Distribution/,$p'
echo
echo "== 5. start an instance that waits at a user task (${SECONDS_EACH}s)"
ACTION=start COOKIE=$COOKIE CSRF=$CSRF \
  wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency -s "$HERE/round_trips.lua" "$BASE" | sed -n '/Latency Distribution/,$p'
echo
echo "== 6. task list of a clerk who may see none of the $LIST open tasks (${SECONDS_EACH}s)"
curl -s -c "$WORK/jar2" -H 'Content-Type: application/json' \
  -d "{\"username\":\"clerk\",\"password\":\"$OTHER_PASSWORD\"}" "$BASE/api/v1/auth/login" >/dev/null
OTHER_COOKIE="banshi_session=$(awk '$6 == "banshi_session" {print $7}' "$WORK/jar2")"
curl -s -H "Cookie: $OTHER_COOKIE" "$BASE/api/v1/tasks?limit=50" | grep -q '"items":\[\]' \
  || { echo "the clerk sees tasks it should not"; exit 1; }
wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency -H "Cookie: $OTHER_COOKIE" "$BASE/api/v1/tasks?limit=50" \
  | sed -n '/Latency Distribution/,$p'
