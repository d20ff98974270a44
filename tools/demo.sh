#!/usr/bin/env bash
# Builds banshi (release) and runs the demo. Usage: tools/demo.sh [demo options]
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
echo "== build (release) =="
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"

echo "== console (npm ci, build) =="
(cd console && npm ci --no-audit --no-fund && npm run build)

echo "== validate the shipped workflows =="
mapfile -t models < <(find workflows -name '*.bpmn' | sort)
build/release/tools/banshi validate "${models[@]}"

echo "== demo =="
exec build/release/tools/banshi demo "$@"
