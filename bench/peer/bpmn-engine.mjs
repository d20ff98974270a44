// Runs one of the three peer-comparison workloads on the npm package
// bpmn-engine and prints one JSON line with the same fields as
// bench_peer_banshi (see bench/peer/README.md).
//
// bench/peer/run.sh copies this file next to the node_modules it installed
// (build/peer-node) and runs it there, so the bare imports below resolve to
// that scratch folder:
//   node build/peer-node/bpmn-engine.mjs --workload NAME --models DIR
//        [--instances N] [--inflight K] [--warmup W]
//
// The BPMN files are the ones banshi runs (bench/peer/models); bpmn-engine
// ignores the bs: attributes. What bpmn-engine needs besides them:
// - service tasks: an `extensions` entry gives every bpmn:ServiceTask a
//   Service that calls the function named by its bs:connector attribute from
//   the `services` option ("calc", "work"), which return at once;
// - the gateway condition "=amount > 1000" is FEEL; bpmn-engine's default
//   expressions only resolve ${path}, so an `expressions` option compiles the
//   "=NAME OP NUMBER" form once into a JS function over the instance
//   variables (the cheapest way to give it the same decision);
// - user tasks: the listener's `wait` event signals the task on the next
//   turn of the event loop (setImmediate), as a client completing it would.
// The XML is parsed once (bpmn-moddle) and serialized once
// (moddle-context-serializer); every instance is a new Engine on that
// sourceContext, started with execute() — the engine's normal use for
// in-memory instances. Nothing is persisted.
//
// Several instances are kept in flight (--inflight); latency of one instance
// runs from just before `new Engine(...)` to its `end` event
// (process.hrtime.bigint). Peak RSS: the larger of process.memoryUsage().rss
// sampled every 50 ms and VmHWM from /proc/self/status at the end.
import { readFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { Engine } from 'bpmn-engine';
import * as Elements from 'bpmn-elements';
import BpmnModdle from 'bpmn-moddle';
import serializer, { TypeResolver } from 'moddle-context-serializer';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (i % 2 === 0 ? [...acc, [a.replace(/^--/, ''), all[i + 1]]] : acc), [])
);
const workload = args.workload ?? 'straight-through';
const modelsDir = args.models ?? 'bench/peer/models';
const instances = Number(args.instances ?? 2000);
const inflight = Number(args.inflight ?? 64);
const warmup = Number(args.warmup ?? Math.min(500, Math.floor(instances / 10)));
const files = { 'straight-through': 'straight-through.bpmn', 'fan-out': 'fan-out.bpmn', 'user-task': 'user-task.bpmn' };
if (!files[workload]) throw new Error(`unknown workload ${workload}`);
const xml = readFileSync(join(modelsDir, files[workload]), 'utf8');

const moddleContext = await new BpmnModdle().fromXML(xml);
const sourceContext = serializer(moddleContext, TypeResolver(Elements));
// bs:connector of each service task, read from the parsed XML.
const connectorOf = new Map();
for (const el of moddleContext.elementsById ? Object.values(moddleContext.elementsById) : []) {
  if (el.$type === 'bpmn:ServiceTask') connectorOf.set(el.id, el.$attrs?.['bs:connector']);
}

let jobsRun = 0;
const services = {
  calc: (_vars, callback) => { jobsRun++; callback(null, {}); },
  work: (_vars, callback) => { jobsRun++; callback(null, {}); },
};

function ConnectorService(activity) {
  const name = connectorOf.get(activity.id);
  const fn = activity.environment.getServiceByName(name);
  return {
    type: 'bench:connector',
    execute(executeMessage, callback) {
      if (!fn) return callback(new Error(`no service ${name}`));
      return fn(activity.environment.variables, callback);
    },
  };
}
const extensions = {
  connectors(activity) {
    if (activity.type === 'bpmn:ServiceTask') activity.behaviour.Service = ConnectorService;
  },
};

// "=NAME OP NUMBER" (FEEL) compiled once; everything else left as text.
const compiled = new Map();
const expressions = {
  resolveExpression(expr, context) {
    let fn = compiled.get(expr);
    if (!fn) {
      const m = /^=\s*([A-Za-z_]\w*)\s*(>=|<=|>|<|=|!=)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(expr ?? '');
      if (m) {
        const [, name, op, num] = m;
        const n = Number(num);
        const cmp = { '>': (a) => a > n, '<': (a) => a < n, '>=': (a) => a >= n, '<=': (a) => a <= n, '=': (a) => a === n, '!=': (a) => a !== n }[op];
        fn = (ctx) => cmp(ctx.environment.variables[name]);
      } else {
        fn = () => expr;
      }
      compiled.set(expr, fn);
    }
    return fn(context);
  },
  isExpression: (s) => typeof s === 'string' && s.startsWith('='),
  hasExpression: (s) => typeof s === 'string' && s.startsWith('='),
};

let peakRss = process.memoryUsage.rss();
const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage.rss()); }, 50);

let seq = 0;
let bigEnds = 0;
let signals = 0;
function runOne() {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const engine = new Engine({ name: `i${++seq}`, sourceContext, services, extensions, expressions });
    const listener = new EventEmitter();
    if (workload === 'user-task') listener.on('wait', (api) => setImmediate(() => { signals++; api.signal({ approved: true }); }));
    if (workload === 'straight-through') listener.on('activity.end', (api) => { if (api.id === 'big') bigEnds++; });
    engine.once('end', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
    engine.once('error', reject);
    engine.execute({ listener, variables: { amount: 5000, worker: 'w0' } }).catch(reject);
  });
}

async function run(n) {
  const latencies = [];
  let next = 0;
  async function client() {
    while (next < n) {
      next++;
      latencies.push(await runOne());
    }
  }
  await Promise.all(Array.from({ length: Math.min(inflight, n) }, client));
  return latencies;
}

await run(warmup);
bigEnds = 0;
jobsRun = 0;
signals = 0;
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
const lat = await run(instances);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss());
try {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  if (hwm) peakRss = Math.max(peakRss, Number(hwm[1]) * 1024);
} catch {}
lat.sort((a, b) => a - b);
const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
if (workload === 'straight-through' && bigEnds !== instances) throw new Error(`gateway took the large branch ${bigEnds} times of ${instances}`);
if (workload === 'user-task' && signals !== instances) throw new Error(`${signals} user tasks signalled of ${instances}`);
if (workload !== 'user-task' && jobsRun !== instances * (workload === 'fan-out' ? 5 : 1)) throw new Error(`${jobsRun} service calls`);
console.log(JSON.stringify({
  engine: 'bpmn-engine',
  version: JSON.parse(readFileSync(new URL('./node_modules/bpmn-engine/package.json', import.meta.url), 'utf8')).version,
  node: process.version,
  workload,
  instances,
  completed: lat.length,
  seconds: Number(secs.toFixed(3)),
  per_second: Number((lat.length / secs).toFixed(1)),
  p50_ms: Number(pct(0.5).toFixed(3)),
  p99_ms: Number(pct(0.99).toFixed(3)),
  max_ms: Number(lat[lat.length - 1].toFixed(3)),
  peak_rss_mb: Number((peakRss / 1048576).toFixed(1)),
  cpu_seconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
  inflight,
  jobs_run: jobsRun,
}));
