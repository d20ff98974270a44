#!/usr/bin/env bash
# The concurrent parts under ThreadSanitizer: the engine service (group
# commit, timers, job workers), the store's readers and writer, the server
# (sessions, WebSocket fan-out) and the connector runtime, plus the
# integration and crash-safety tests. The test command runs the four unit
# suites of these parts under TSan; this runs the longer list.
# Usage: bench/tsan.sh [ctest -R regex] (default: the exec, store, api,
# integration, connector and crash-safety tests)
set -euo pipefail
cd "$(dirname "$0")/.."
regex=${1:-'Engine|Exec|Store|Sqlite|Api|Server|Serve|Http|Ws|WebSocket|Connector|Runtime|crash_safety|serve_chaos'}
tools/setup.sh
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j "$(nproc)"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --preset tsan -R "$regex" -j "$(nproc)"
