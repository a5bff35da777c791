// Runs the built edge worker (crates/edge/build, from `sh crates/edge/build.sh`) in workerd
// itself, from a config written here: no Miniflare entry worker and no wrangler proxy in front,
// for load measurements of the Worker alone (BENCHMARKS.md). Same bindings as wrangler.toml and
// tests/bench/edge-miniflare.mjs, dev vars from crates/edge/.dev.vars, Durable Objects in SQLite
// files in a fresh temporary folder.
//
// Usage: node tests/bench/edge-workerd.mjs [port] [--floor]   (prints "edge ready: <url>"; Ctrl-C stops)
//   --floor                       run tests/bench/floor/worker.js instead: the least a Worker can do
//                                 for the load generator, in plain JavaScript (the runtime's floor)
//   TIDINGS_INSPECTOR_PORT=9229   also serve V8's inspector there (profile-edge.mjs, heap-edge.mjs)
//   TIDINGS_PERSIST=<folder>      keep the Durable Objects in <folder> (not removed on exit)
//   TIDINGS_EDGE_BUILD=<folder>   run a saved copy of crates/edge/build (to compare two builds)
//   TIDINGS_V8_FLAGS="--a --b"    V8 flags for workerd's isolates (an experiment knob: Cloudflare
//                                 does not take flags from a Worker)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { build, compatibilityDate, objects, requireBuild, root, vars } from './edge-config.mjs';

const floor = process.argv.includes('--floor');
if (!floor) requireBuild();
const workerd = path.join(root, 'node_modules/@cloudflare/workerd-linux-64/bin/workerd');
if (!fs.existsSync(workerd)) {
  console.error(`${path.relative(root, workerd)} is missing: run \`npm ci\` at the repository root`);
  process.exit(1);
}

const port = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 8799);
// TIDINGS_PERSIST=<folder> keeps the Durable Objects there across runs (e.g. to start a newer
// build on what an older one stored); otherwise a fresh temporary folder, removed on exit.
const kept = process.env.TIDINGS_PERSIST;
if (kept) fs.mkdirSync(kept, { recursive: true });
const persist = kept ? path.resolve(kept) : fs.mkdtempSync(path.join(os.tmpdir(), 'tidings-workerd-'));
const text = (s) => JSON.stringify(s); // Cap'n Proto text strings share JSON's escapes.
const flags = (process.env.TIDINGS_V8_FLAGS ?? '').split(/\s+/).filter(Boolean);
// The floor worker has one Durable Object class, the Inbox.
const used = floor ? [{ binding: 'INBOX', className: 'Inbox', sql: true }] : objects;
const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "edge", worker = .edge),
    (name = "objects", disk = (path = ${text(persist)}, writable = true)),
  ],
  sockets = [(name = "http", address = ${text(`127.0.0.1:${port}`)}, http = (), service = "edge")],
  v8Flags = [${flags.map(text).join(', ')}],
);

const edge :Workerd.Worker = (
  modules = [
${floor
    ? `    (name = "worker.js", esModule = embed "worker.js"),`
    : `    (name = "index.js", esModule = embed "index.js"),
    (name = "index_bg.wasm", wasm = embed "index_bg.wasm"),`}
  ],
  compatibilityDate = ${text(compatibilityDate)},
  bindings = [
${Object.entries(vars).map(([k, v]) => `    (name = ${text(k)}, text = ${text(v)}),`).join('\n')}
${used.map((o) => `    (name = ${text(o.binding)}, durableObjectNamespace = ${text(o.className)}),`).join('\n')}
  ],
  durableObjectNamespaces = [
${used.map((o) => `    (className = ${text(o.className)}, uniqueKey = ${text(`tidings-${o.className}`)}, enableSql = ${o.sql}),`).join('\n')}
  ],
  durableObjectStorage = (localDisk = "objects"),
);
`;
// The config sits beside the build (or the floor worker) so that its `embed` paths are its files.
const configPath = path.join(floor ? path.join(root, 'tests/bench/floor') : build, 'bench-workerd.capnp');
fs.writeFileSync(configPath, config);

const args = ['serve', '--experimental', configPath];
if (process.env.TIDINGS_INSPECTOR_PORT) {
  args.push(`--inspector-addr=127.0.0.1:${process.env.TIDINGS_INSPECTOR_PORT}`);
}
const child = spawn(workerd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
const stop = () => {
  child.kill('SIGTERM');
  if (!kept) fs.rmSync(persist, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (code) => {
  console.error(`workerd exited (${code}); its messages are above`);
  if (!kept) fs.rmSync(persist, { recursive: true, force: true });
  process.exit(code ?? 1);
});

// Ready once the socket accepts a connection (workerd prints nothing when it is).
const started = Date.now();
for (;;) {
  const open = await new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
    s.on('error', () => resolve(false));
  });
  if (open) break;
  if (Date.now() - started > 30_000) {
    console.error(`workerd did not listen on 127.0.0.1:${port} within 30 s`);
    stop();
  }
  await new Promise((r) => setTimeout(r, 100));
}
console.log(`edge ready: http://127.0.0.1:${port} (workerd pid ${child.pid}, persisting to ${persist}${flags.length ? `, V8 flags ${flags.join(' ')}` : ''})`);
