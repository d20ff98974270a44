#!/usr/bin/env bash
# Two `banshi serve` nodes on one PostgreSQL database: each answers /readyz
# and /metrics with its node id, store and role; `banshi cluster status`
# lists both; after one is killed with SIGKILL it shows as silent, and a
# clean stop shows as stopped.
#
# Usage: serve_nodes_test.sh BANSHI_BINARY
# Environment: BANSHI_TEST_PG_URL (without it the test is skipped, exit 77).
set -euo pipefail

banshi="${1:?usage: serve_nodes_test.sh BANSHI_BINARY}"
url="${BANSHI_TEST_PG_URL:-}"
if [ -z "$url" ]; then
  echo "serve nodes: BANSHI_TEST_PG_URL is not set; skipped"
  exit 77
fi
export BANSHI_STORE_SCHEMA="serve_nodes_$$_$RANDOM"
dir=$(mktemp -d "${TMPDIR:-/tmp}/banshi-serve-nodes.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  psql "$url" -qc "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $BANSHI_STORE_SCHEMA CASCADE" \
    >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "serve nodes: FAIL: $*"; for f in "$dir"/*.log; do echo "--- $f"; cat "$f"; done; exit 1; }

"$banshi" init --database "$url" >"$dir/init.log" 2>&1 || fail "banshi init failed"
for n in 1 2; do
  BANSHI_ENGINE_NODE_ID="node-$n" "$banshi" serve --database "$url" --listen 127.0.0.1:0 >"$dir/node-$n.log" 2>&1 &
  pids+=($!)
done
port_of() {
  for _ in $(seq 1 100); do
    p=$(grep -oE 'listening on http://127\.0\.0\.1:[0-9]+' "$dir/node-$1.log" | grep -oE '[0-9]+$' | head -1 || true)
    if [ -n "$p" ]; then echo "$p"; return; fi
    sleep 0.1
  done
  fail "node-$1 did not start"
}
p1=$(port_of 1)
p2=$(port_of 2)

ready=$(curl -s "http://127.0.0.1:$p1/readyz")
for want in '"store":"postgresql"' '"node":"node-1"' '"role":"active"' '"leases":0'; do
  [[ "$ready" == *"$want"* ]] || fail "/readyz of node-1 lacks $want: $ready"
done
metrics=$(curl -s "http://127.0.0.1:$p2/metrics")
[[ "$metrics" == *'banshi_node_info{node="node-2",store="postgresql",role="active"} 1'* ]] ||
  fail "/metrics of node-2 does not name it"
[[ "$metrics" == *'banshi_cluster_nodes 2'* ]] || fail "/metrics of node-2 does not count 2 nodes"

status=$("$banshi" cluster status --database "$url")
echo "$status"
[[ "$status" == *"node-1"*"active"* && "$status" == *"node-2"*"active"* ]] || fail "cluster status lacks an active node"

# node-2 dies without a word; node-1 stops cleanly.
kill -KILL "${pids[1]}"
kill -TERM "${pids[0]}"
wait "${pids[0]}" || fail "node-1 did not stop cleanly"
pids=()
sleep 1.5
status=$("$banshi" cluster status --database "$url" --silent-after 1)
echo "$status"
grep -qE '^  node-1 +stopped' <<<"$status" || fail "node-1 is not shown as stopped"
grep -qE '^  node-2 +silent' <<<"$status" || fail "node-2 is not shown as silent"
grep -q '^active: 0' <<<"$status" || fail "an active node is counted"
echo "serve nodes: passed"
