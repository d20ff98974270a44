#!/usr/bin/env bash
# The long chaos runs: the server under HTTP load killed with SIGKILL many
# times, and the engine's crash-safety worker likewise. Prints what survived.
# Usage: bench/chaos.sh [KILLS] (default 500); needs a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-500}
cmake --preset release >/dev/null
cmake --build --preset release --target banshi
python3 tests/chaos/serve_chaos.py build/release/tools/banshi --kills "$kills" --seed "$RANDOM"
