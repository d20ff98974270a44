#!/usr/bin/env bash
# One page of the task list in the store itself, on SQLite and on a
# throwaway PostgreSQL (tools/pg/start.sh), for callers who may see many, few
# or none of the open tasks (bench_task_list). Prints one JSON line per
# caller and store. Figures only; not run by CI.
# Usage: bench/store/run.sh [MANY] [FEW] [PAGES]     (default 100000 20 1000)
set -euo pipefail
cd "$(dirname "$0")/../.."
MANY=${1:-100000}
FEW=${2:-20}
PAGES=${3:-1000}
cmake --preset release >/dev/null
ninja -C build/release -j "${JOBS:-2}" bench_task_list >/dev/null
work=$(mktemp -d)
pg=$(mktemp -d)  # not inside $work: the server's user must reach it
cleanup() {
  tools/pg/stop.sh "$pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

build/release/bench/bench_task_list "$work/tasks.db" "$MANY" "$FEW" "$PAGES"

url=$(tools/pg/start.sh "$pg")
# Fill, then gather the planner's statistics as autovacuum would soon after
# a fill, then time the pages.
build/release/bench/bench_task_list "$url" "$MANY" "$FEW" 1 >/dev/null
psql "$url" -qc "ANALYZE" >/dev/null
build/release/bench/bench_task_list "$url" "$MANY" "$FEW" "$PAGES" again
