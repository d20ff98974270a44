#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a while.
# Usage: tools/fuzz.sh [--seconds N] [target...]   (default: every target, 60 s each)
# Crashing inputs are written to build/fuzz/findings/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    -h|--help) sed -n 2,4p "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_bpmn fuzz_feel fuzz_dmn fuzz_scenario fuzz_http fuzz_multipart)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" --target "${targets[@]}"

# One target: fuzz it, then say what it did and whether it left a failing input.
fuzz_one() {
  local t=$1
  local corpus="build/fuzz/corpus/$t" findings="build/fuzz/findings/$t"
  mkdir -p "$corpus" "$findings"
  local dirs=("$corpus")
  local seeds="tests/fuzz/seeds/${t#fuzz_}"
  [ -d "$seeds" ] && dirs+=("$seeds")
  # The conformance models make good seeds when they are beside the project.
  local conformance="${BANSHI_CONFORMANCE_DIR:-../shared/conformance}"
  case "$t" in
    fuzz_bpmn) [ -d "$conformance/miwg" ] && dirs+=("$conformance/miwg") ;;
    fuzz_dmn) [ -d "$conformance/dmn-tck" ] && dirs+=("$conformance/dmn-tck") ;;
  esac
  "build/fuzz/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$findings/" "${dirs[@]}" >"$findings/log.txt" 2>&1 || true
  # One block of output per target, however the runs interleave.
  {
    echo "fuzz: $t for ${seconds}s"
    grep -E '^(#[0-9]+[[:space:]]+DONE|==[0-9]+==ERROR|SUMMARY)' "$findings/log.txt" || tail -n 3 "$findings/log.txt"
  } >"$findings/summary.txt"
  # compgen, not ls: ls fails when any one of the patterns matches nothing.
  if compgen -G "$findings/crash-*" >/dev/null || compgen -G "$findings/leak-*" >/dev/null ||
     compgen -G "$findings/timeout-*" >/dev/null || compgen -G "$findings/oom-*" >/dev/null; then
    echo "fuzz: $t found a failing input in $findings" >>"$findings/summary.txt"
    return 1
  fi
}

# The targets run one per core at a time (each fuzzes on one thread), in
# rounds of equal length.
parallel=$(nproc)
failed=0
for ((i = 0; i < ${#targets[@]}; i += parallel)); do
  round=("${targets[@]:i:parallel}")
  pids=()
  for t in "${round[@]}"; do
    fuzz_one "$t" &
    pids+=($!)
  done
  for j in "${!round[@]}"; do
    wait "${pids[$j]}" || failed=1
    cat "build/fuzz/findings/${round[$j]}/summary.txt"
  done
done
if [ "$failed" != 0 ]; then
  echo "fuzz: a target found a failing input" >&2
  exit 1
fi
echo "fuzz: no failures"
