#!/usr/bin/env bash
# banshi against the npm package bpmn-engine: the same three workloads on
# each, one after the other, then banshi's restart with a big store.
# Prints one table; see bench/peer/README.md for what is measured.
#
# Environment (all optional):
#   BANSHI_N     instances per banshi workload        (default 50000)
#   PEER_N       instances per bpmn-engine workload   (default 3000)
#   FINISHED     finished instances for the restart   (default 1000000)
#   WAITING      waiting instances for the restart    (default 100000)
#   SKIP_RESTART=1  leave the restart figure out
#   ROUNDS       rounds of the three workloads         (default 1); with more,
#                the engines alternate within each round and the table gives
#                each row's median run, and the range of the rounds' ratios
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
BANSHI_N=${BANSHI_N:-50000}
PEER_N=${PEER_N:-3000}
FINISHED=${FINISHED:-1000000}
WAITING=${WAITING:-100000}
ROUNDS=${ROUNDS:-1}
BPMN_ENGINE_VERSION=25.0.1   # engines: node >= 18
scratch=$root/build/peer-node
work=$root/build/peer-run
mkdir -p "$scratch" "$work"

# --- bpmn-engine, pinned, in a scratch folder (build/ is not committed) ---
cat >"$scratch/package.json" <<EOF
{"name": "banshi-peer-bench", "private": true, "version": "0.0.0",
 "dependencies": {"bpmn-engine": "$BPMN_ENGINE_VERSION"}}
EOF
if [ "$(node -p "try{require('$scratch/node_modules/bpmn-engine/package.json').version}catch(e){''}")" != "$BPMN_ENGINE_VERSION" ]; then
  (cd "$scratch" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
cp bench/peer/bpmn-engine.mjs "$scratch/"

# --- banshi, release ---
cmake --preset release >/dev/null
ninja -C build/release -j "${JOBS:-2}" bench_peer_banshi bench_peer_restart >/dev/null

results=$work/results.jsonl
: >"$results"
for round in $(seq "$ROUNDS"); do
for w in straight-through fan-out user-task; do
  [ "$ROUNDS" = 1 ] || echo "round $round of $ROUNDS:" >&2
  echo "running $w on banshi ($BANSHI_N instances) ..." >&2
  build/release/bench/bench_peer_banshi --workload "$w" --model "bench/peer/models/$w.bpmn" \
    --instances "$BANSHI_N" --db "$work/bench.db" | tee -a "$results" >&2
  if [ "$w" = user-task ]; then
    echo "running $w on banshi with a blocked client thread per instance ..." >&2
    build/release/bench/bench_peer_banshi --workload "$w" --model "bench/peer/models/$w.bpmn" \
      --instances "$BANSHI_N" --db "$work/bench.db" --api blocking | tee -a "$results" >&2
  else
    echo "running $w on banshi with its connectors on the job workers ..." >&2
    build/release/bench/bench_peer_banshi --workload "$w" --model "bench/peer/models/$w.bpmn" \
      --instances "$BANSHI_N" --db "$work/bench.db" --connectors workers | tee -a "$results" >&2
  fi
  echo "running $w on bpmn-engine ($PEER_N instances) ..." >&2
  node "$scratch/bpmn-engine.mjs" --workload "$w" --models bench/peer/models --instances "$PEER_N" \
    | tee -a "$results" >&2
done
done

restart_json=""
if [ "${SKIP_RESTART:-0}" != 1 ]; then
  echo "filling a store with $FINISHED finished and $WAITING waiting instances ..." >&2
  build/release/bench/bench_peer_restart fill "$work/restart.db" bench/peer/models/user-task.bpmn \
    "$FINISHED" "$WAITING" >&2
  # Only the result line: the engine logs to stdout as well.
  restart_json=$(build/release/bench/bench_peer_restart open "$work/restart.db" | grep "^{")
  echo "$restart_json" >&2
  rm -f "$work/restart.db" "$work/restart.db-wal" "$work/restart.db-shm"
fi

# --- the table ---
node - "$results" "$restart_json" <<'EOF'
const fs = require('fs');
const rows = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
// Every run of an engine on a workload, in round order; a row of the table
// is the run with the median throughput (with one round, the only run).
// With an even number of rounds, the lower of the middle two for banshi and
// the higher for bpmn-engine, so the ratio is never flattered.
const runs = (engine, w) => rows.filter((r) => r.engine === engine && r.workload === w);
const get = (engine, w) => {
  const all = runs(engine, w).slice().sort((a, b) => a.per_second - b.per_second);
  if (!all.length) return undefined;
  return all[engine === 'bpmn-engine' ? Math.floor(all.length / 2) : Math.floor((all.length - 1) / 2)];
};
const rounds = Math.max(...rows.map((r) => runs(r.engine, r.workload).length));
const pad = (s, n) => String(s).padStart(n);
const f0 = (x) => x.toLocaleString('en-US', { maximumFractionDigits: 0 });
console.log(`banshi (SQLite, synchronous=FULL) vs bpmn-engine ${rows.find((r) => r.engine === 'bpmn-engine')?.version} (in memory, ${rows.find((r) => r.engine === 'bpmn-engine')?.node}), ${new Date().toISOString().slice(0, 10)}`);
console.log(`${'workload'.padEnd(17)} ${'engine'.padEnd(15)} ${pad('inst/s', 9)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} ${pad('RSS MB', 7)}`);
const verdicts = [];
for (const w of ['straight-through', 'fan-out', 'user-task']) {
  const b = get('banshi', w), bw = get('banshi-workers', w), bb = get('banshi-blocking', w), p = get('bpmn-engine', w);
  for (const r of [b, bw, bb, p]) {
    if (!r) continue;
    console.log(`${w.padEnd(17)} ${r.engine.padEnd(15)} ${pad(f0(r.per_second), 9)} ${pad(r.p50_ms.toFixed(2), 8)} ${pad(r.p99_ms.toFixed(2), 8)} ${pad(r.peak_rss_mb.toFixed(0), 7)}`);
  }
  if (b && p) {
    const ratio = b.per_second / p.per_second;
    console.log(`${w.padEnd(17)} ${'ratio'.padEnd(15)} ${pad(ratio.toFixed(1) + 'x', 9)} ${pad((p.p50_ms / b.p50_ms).toFixed(1) + 'x', 8)} ${pad((p.p99_ms / b.p99_ms).toFixed(1) + 'x', 8)} ${pad((b.peak_rss_mb / p.peak_rss_mb).toFixed(2), 7)}`);
    let spread = '';
    if (rounds > 1) {
      const bs = runs('banshi', w), ps = runs('bpmn-engine', w);
      const each = bs.slice(0, ps.length).map((r, i) => r.per_second / ps[i].per_second);
      spread = `, rounds ${Math.min(...each).toFixed(1)}x-${Math.max(...each).toFixed(1)}x`;
    }
    verdicts.push(`${w}: banshi/bpmn-engine ${ratio.toFixed(1)}x${spread} (target >= 100x): ${ratio >= 100 ? 'MET' : 'MISSED'}`);
  }
  if (w === 'straight-through' && b) {
    verdicts.push(`straight-through: ${f0(b.per_second)} instances/s (target >= 20,000): ${b.per_second >= 20000 ? 'MET' : 'MISSED'}`);
  }
}
console.log('(ratio row: throughput banshi/bpmn-engine, latency bpmn-engine/banshi, RSS banshi/bpmn-engine)');
if (rounds > 1) console.log(`(${rounds} rounds: each row is the run with the median throughput; the ratio is of the medians)`);
for (const v of verdicts) console.log(v);
if (process.argv[3]) {
  const r = JSON.parse(process.argv[3]);
  console.log(`restart with the big store: ready (first start_instance + complete_task answered) in ${r.ready_seconds.toFixed(3)} s ` +
    `(target < 1 s: ${r.ready_seconds < 1 ? 'MET' : 'MISSED'}), peak RSS ${r.peak_rss_mb.toFixed(0)} MB (target < 150 MB: ${r.peak_rss_mb < 150 ? 'MET' : 'MISSED'})`);
}
EOF
rm -f "$work/bench.db" "$work/bench.db-wal" "$work/bench.db-shm"
