#!/usr/bin/env bash
# Builds release and prints every benchmark's figures.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh >/dev/null
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target bench_model bench_feel bench_dmn bench_core
miwg="${BANSHI_CONFORMANCE_DIR:-../shared/conformance}/miwg"
echo "== model: parse + validate =="
if [ -d "$miwg" ]; then
  largest=$(ls -S "$miwg"/*.bpmn | head -1)
  build/release/bench/bench_model "$largest" workflows/*.bpmn
else
  build/release/bench/bench_model workflows/*.bpmn
fi
echo "== FEEL =="
build/release/bench/bench_feel
echo "== DMN: a 50-rule decision table =="
build/release/bench/bench_dmn
echo "== state machine (core::step alone) =="
build/release/bench/bench_core
