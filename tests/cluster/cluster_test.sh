#!/usr/bin/env bash
# The cluster test: three engine nodes on one PostgreSQL database run a mixed
# workload (service tasks against a department system shared by all nodes,
# user tasks, timers, message correlation); one node is killed with SIGKILL
# mid-run; the others take over its work once its leases end. Then the check
# holds the crash-safety invariants: nothing acknowledged is lost, no step and
# no department effect happens twice, every instance ends.
#
# Usage: cluster_test.sh WORKER_BINARY
# Environment: BANSHI_TEST_PG_URL (required; without it the test is skipped
#   with exit code 77), BANSHI_CLUSTER_SECONDS (how long nodes start
#   instances, default 12), BANSHI_CLUSTER_KEEP (keep the working folder).
set -euo pipefail

worker="${1:?usage: cluster_test.sh WORKER_BINARY}"
url="${BANSHI_TEST_PG_URL:-}"
if [ -z "$url" ]; then
  echo "cluster: BANSHI_TEST_PG_URL is not set; skipped (tools/test.sh starts a server with tools/pg/start.sh)"
  exit 77
fi
seconds="${BANSHI_CLUSTER_SECONDS:-12}"
schema="cluster_$$_$RANDOM"
dir=$(mktemp -d "${TMPDIR:-/tmp}/banshi-cluster.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  if [ -z "${BANSHI_CLUSTER_KEEP:-}" ]; then
    psql "$url" -qc "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    rm -rf "$dir"
  else
    echo "cluster: kept $dir and schema $schema"
  fi
}
trap cleanup EXIT

echo "cluster: 3 nodes on schema $schema, starting instances for ${seconds} s, files in $dir"
for n in 1 2 3; do
  "$worker" run --db "$url" --schema "$schema" --dir "$dir" --node "node-$n" --seed "$n$$" \
    --start-seconds "$seconds" --drain-timeout-s 120 >"$dir/node-$n.out" 2>&1 &
  pids+=($!)
done

# Kill node 2 in the middle of the run, with work in flight.
sleep $((seconds / 2))
status=0
if kill -KILL "${pids[1]}" 2>/dev/null; then
  echo "cluster: node-2 killed with SIGKILL after $((seconds / 2)) s"
else
  echo "cluster: node-2 ended before it could be killed:"
  cat "$dir/node-2.out"
  status=1
fi
wait "${pids[1]}" 2>/dev/null || true
for i in 0 2; do
  if ! wait "${pids[$i]}"; then
    echo "cluster: node-$((i + 1)) failed:"
    cat "$dir/node-$((i + 1)).out"
    status=1
  fi
done
pids=()
grep -h "every instance has ended\|still running" "$dir"/node-*.out || true
"$worker" check --db "$url" --schema "$schema" --dir "$dir" || status=1
if [ "$status" = 0 ]; then echo "cluster: passed"; else echo "cluster: FAILED"; fi
exit "$status"
