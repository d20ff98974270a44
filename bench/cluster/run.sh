#!/usr/bin/env bash
# Builds bench_cluster and runs it against a throwaway PostgreSQL server
# (tools/pg/start.sh), or against BANSHI_BENCH_PG_URL when set.
# Usage: bench/cluster/run.sh [BUILD_DIR] [seconds per run] [client threads per node]
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build/release}"
seconds="${2:-10}"
clients="${3:-16}"
cmake --build "$build" --target bench_cluster >/dev/null
url="${BANSHI_BENCH_PG_URL:-}"
if [ -z "$url" ]; then
  folder=$(mktemp -d "${TMPDIR:-/tmp}/banshi-pg.XXXXXX")
  trap 'tools/pg/stop.sh "$folder"' EXIT
  url=$(tools/pg/start.sh "$folder")
fi
"$build/bench/bench_cluster" "$url" "$seconds" "$clients"
