#!/usr/bin/env bash
# Builds and runs every test: the sanitizer build (ASan+UBSan, warnings as
# errors) runs the unit, conformance and scenario suites under ctest; the
# libFuzzer targets are built with clang and each run briefly.
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

tools/setup.sh
jobs=$(nproc)

if [ "$fuzz" = 1 ]; then
  echo "== fuzz smoke (clang, libFuzzer) =="
  tools/fuzz.sh --seconds "${BANSHI_FUZZ_SECONDS:-20}"
fi

echo "== build (asan preset) =="
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"

echo "== tests =="
ctest --preset asan -j "$jobs"

echo "== console (npm ci, build) and browser tests =="
(cd console && npm ci --no-audit --no-fund && npm run build)
tests/browser/run.sh build/asan/tools/banshi
