#!/usr/bin/env bash
# Builds and runs every test: the sanitizer build (ASan+UBSan, warnings as
# errors) runs the unit, conformance and scenario suites under ctest; the
# concurrent parts run again under ThreadSanitizer (BANSHI_TSAN=0 skips
# that); the libFuzzer targets are built with clang and each run briefly.
# Usage: tools/test.sh [--no-fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."

fuzz=1
for arg in "$@"; do
  case "$arg" in
    --no-fuzz) fuzz=0 ;;
    *) echo "usage: tools/test.sh [--no-fuzz]" >&2; exit 2 ;;
  esac
done

# Each stage says when it starts and how long the run has taken so far.
started=$SECONDS
stage() { echo "== $1 [$(( (SECONDS - started) / 60 ))m$(( (SECONDS - started) % 60 ))s] =="; }

tools/setup.sh
jobs=$(nproc)

if [ "$fuzz" = 1 ]; then
  stage "fuzz smoke (clang, libFuzzer)"
  tools/fuzz.sh --seconds "${BANSHI_FUZZ_SECONDS:-20}"
fi

stage "build (asan preset)"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"

# A throwaway PostgreSQL server (tools/pg): the store and engine suites run
# on it as well as on SQLite, and the cluster test runs three nodes on it.
stage "PostgreSQL (throwaway)"
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/banshi-pg.XXXXXX")
trap 'tools/pg/stop.sh "$pg_dir" >/dev/null 2>&1 || true' EXIT
BANSHI_TEST_PG_URL=$(tools/pg/start.sh "$pg_dir")
export BANSHI_TEST_PG_URL

stage "tests"
status=0
ctest --preset asan -j "$jobs" || status=1

# The concurrent parts (the engine's processing thread and job workers, the
# store's writer and readers, the server's sessions and WebSocket fan-out,
# the connector runtime) again under ThreadSanitizer. bench/tsan.sh runs
# more of the suite this way.
if [ "${BANSHI_TSAN:-1}" = 1 ]; then
  stage "ThreadSanitizer (the concurrent parts)"
  tsan_targets="banshi_exec_tests banshi_store_tests banshi_api_tests banshi_connector_tests"
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan -j "$jobs" --target $tsan_targets
  tsan_log=build/tsan/tsan-tests.log
  : >"$tsan_log"
  for t in build/tsan/tests/unit/exec/banshi_exec_tests build/tsan/tests/unit/store/banshi_store_tests \
           build/tsan/tests/integration/banshi_api_tests build/tsan/tests/connectors/banshi_connector_tests; do
    echo "-- $t" >>"$tsan_log"
    if TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" "$t" --gtest_brief=1 >>"$tsan_log" 2>&1; then
      echo "tsan: $(basename "$t") passed"
    else
      echo "tsan: $(basename "$t") FAILED (see $tsan_log)" >&2
      tail -n 60 "$tsan_log" >&2
      status=1
    fi
  done
fi

stage "console (npm ci, build) and browser tests"
(cd console && npm ci --no-audit --no-fund && npm run build) || status=1
tests/browser/run.sh build/asan/tools/banshi || status=1

# What the reliability suites did, from their own output.
stage "summary"
log=build/asan/Testing/Temporary/LastTest.log
if [ -f "$log" ]; then
  grep -hE '^chaos: ' "$log" || true
  grep -hE '^  kills: ' "$log" | sed 's/^  /crash safety: /' || true
  grep -hE '^cluster: [0-9]+ instances' "$log" || true
  grep -hE '^hostile: ' "$log" || true
  faults=$(grep -hoE '^faults: [0-9]+' "$log" | grep -oE '[0-9]+$' | awk '{s += $1} END {print s + 0}' || true)
  echo "faults: ${faults:-0} store faults injected (disk full, write and sync errors), nothing half-written"
fi
if [ -f build/tsan/tsan-tests.log ] && [ "${BANSHI_TSAN:-1}" = 1 ]; then
  n=$(grep -hoE '^\[  PASSED  \] [0-9]+' build/tsan/tsan-tests.log | grep -oE '[0-9]+$' | awk '{s += $1} END {print s + 0}' || true)
  echo "tsan: ${n:-0} tests passed under ThreadSanitizer (engine, store, server, connectors)"
fi
if [ "$fuzz" = 1 ]; then
  execs=0
  for f in build/fuzz/findings/*/log.txt; do
    n=$(grep -oE '^#[0-9]+[[:space:]]+DONE' "$f" | grep -oE '[0-9]+' | head -1 || true)
    execs=$((execs + ${n:-0}))
  done
  echo "fuzz: $execs executions over $(ls -d build/fuzz/findings/*/ 2>/dev/null | wc -l) targets, no failing input"
fi
echo "time: $(( (SECONDS - started) / 60 ))m$(( (SECONDS - started) % 60 ))s in all"
if [ "$status" = 0 ]; then echo "all tests passed"; else echo "SOME TESTS FAILED" >&2; fi
exit "$status"
