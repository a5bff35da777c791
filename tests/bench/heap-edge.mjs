// Where the Worker's JavaScript garbage comes from under load: samples allocations over the
// inspector (collected objects included, so it counts what is allocated, not what stays
// live) and prints the share of bytes by allocating function, plus the heap's size now.
// Start the edge with an inspector and put load on it, as for profile-edge.mjs:
//   TIDINGS_INSPECTOR_PORT=9229 node tests/bench/edge-miniflare.mjs 8799 &
//   target/release/tidings-sim load --edge http://127.0.0.1:8799 --sockets 1000 --rate 500 --duration 25 --interval-ms 10 &
//   sleep 12; node tests/bench/heap-edge.mjs 9229 10
// Names like `__wbg_text_…` are wasm-bindgen's glue in crates/edge/build/index.js; `(V8 API)` is
// what the runtime itself makes (requests, responses, headers) on the Worker's behalf.
import { connectInspector } from './inspector.mjs';

const port = Number(process.argv[2] ?? 9229);
const seconds = Number(process.argv[3] ?? 10);
const { target, call, close } = await connectInspector(port);

await call('HeapProfiler.enable');
await call('HeapProfiler.startSampling', {
  samplingInterval: 4096,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
console.error(`sampling allocations of ${target.title ?? target.id} for ${seconds} s …`);
await new Promise((r) => setTimeout(r, seconds * 1000));
const { profile } = await call('HeapProfiler.stopSampling');
const heap = await call('Runtime.getHeapUsage');
close();

const bytes = new Map();
let total = 0;
const walk = (node) => {
  const f = node.callFrame;
  const name = `${f.functionName || '(anonymous)'}${f.url ? ` ${f.url.split('/').pop()}:${f.lineNumber}` : ''}`;
  bytes.set(name, (bytes.get(name) ?? 0) + node.selfSize);
  total += node.selfSize;
  node.children.forEach(walk);
};
walk(profile.head);
console.log(`allocated ≈ ${(total / 1e6).toFixed(1)} MB in ${seconds} s (${(total / 1e6 / seconds).toFixed(1)} MB/s); heap used now ${(heap.usedSize / 1e6).toFixed(1)} MB`);
[...bytes.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20)
  .forEach(([name, b]) => console.log(`${(100 * b / total).toFixed(1).padStart(5)} %  ${name}`));
