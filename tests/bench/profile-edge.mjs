// Samples the Worker's CPU in workerd over its inspector, for finding where the edge's time goes
// under load (BENCHMARKS.md). Start the edge with an inspector, put load on it, then run this:
//   TIDINGS_INSPECTOR_PORT=9229 node tests/bench/edge-miniflare.mjs 8799 &
//   target/release/tidings-sim load --edge http://127.0.0.1:8799 --sockets 1000 --rate 500 --duration 30 --interval-ms 10 &
//   node tests/bench/profile-edge.mjs 9229 15 [out.cpuprofile]
// Prints the share of samples by function (self time), garbage collection and idle, and the
// longest busy stretches (where a latency tail comes from). The .cpuprofile opens in Chrome's
// DevTools (Performance → load profile).
import fs from 'node:fs';
import { connectInspector } from './inspector.mjs';

const port = Number(process.argv[2] ?? 9229);
const seconds = Number(process.argv[3] ?? 10);
const out = process.argv[4];

const { target, call, close } = await connectInspector(port);

await call('Profiler.enable');
await call('Profiler.setSamplingInterval', { interval: 200 });
await call('Profiler.start');
console.error(`sampling ${target.title ?? target.id} for ${seconds} s …`);
await new Promise((r) => setTimeout(r, seconds * 1000));
const { profile } = await call('Profiler.stop');
close();
if (out) fs.writeFileSync(out, JSON.stringify(profile));

// Self time per function, from samples and their time deltas.
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
let total = 0;
const busy = []; // [start µs, length µs] of stretches without an idle sample
let t = profile.startTime;
let stretch = null;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  t += dt;
  const node = byId.get(id);
  const f = node.callFrame;
  const name = f.functionName || (f.url ? '(anonymous)' : '(root)');
  const key = ['(idle)', '(garbage collector)', '(program)'].includes(name)
    ? name
    : `${name} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + dt);
  total += dt;
  if (name === '(idle)') {
    if (stretch) busy.push(stretch);
    stretch = null;
  } else if (stretch) {
    stretch[1] = t - stretch[0];
  } else {
    stretch = [t, dt];
  }
});
if (stretch) busy.push(stretch);
const pct = (v) => `${((100 * v) / total).toFixed(1)} %`;
console.log(`samples: ${profile.samples.length}, ${(total / 1e6).toFixed(2)} s`);
console.log(`idle ${pct(self.get('(idle)') ?? 0)}, garbage collector ${pct(self.get('(garbage collector)') ?? 0)}, program ${pct(self.get('(program)') ?? 0)}`);
console.log('\nself time, top 25:');
[...self.entries()].filter(([k]) => !k.startsWith('(idle)'))
  .sort((a, b) => b[1] - a[1]).slice(0, 25)
  .forEach(([k, v]) => console.log(`${pct(v).padStart(8)}  ${k}`));
console.log('\nlongest busy stretches (ms):', busy.map((b) => b[1] / 1000).sort((a, b) => b - a).slice(0, 10).map((v) => v.toFixed(1)).join(', '));
