// Runs the built edge worker (crates/edge/build, from `sh crates/edge/build.sh`) in workerd
// through Miniflare's API, without `wrangler dev` and its proxy in front: for load measurements
// of the Worker itself (BENCHMARKS.md). Same bindings as wrangler.toml, dev vars from
// crates/edge/.dev.vars, SQLite Durable Objects persisted in a fresh temporary folder.
// Usage: node tests/bench/edge-miniflare.mjs [port]   (prints "edge ready: <url>"; Ctrl-C stops)
import { Miniflare } from 'miniflare';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build, compatibilityDate, objects, requireBuild, vars } from './edge-config.mjs';

requireBuild();
const persist = fs.mkdtempSync(path.join(os.tmpdir(), 'tidings-mf-'));
const port = Number(process.argv[2] ?? 8799);
const mf = new Miniflare({
  modules: true,
  scriptPath: path.join(build, 'index.js'),
  modulesRoot: build,
  modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
  compatibilityDate,
  bindings: vars,
  durableObjects: Object.fromEntries(objects.map((o) => [o.binding, { className: o.className, useSQLite: o.sql }])),
  durableObjectsPersist: persist,
  host: '127.0.0.1',
  port,
  cf: false,
  ...(process.env.TIDINGS_INSPECTOR_PORT ? { inspectorPort: Number(process.env.TIDINGS_INSPECTOR_PORT) } : {}),
});
const ready = await mf.ready;
console.log(`edge ready: ${ready.href.replace(/\/$/, '')} (persisting to ${persist})`);
const stop = async () => { await mf.dispose(); fs.rmSync(persist, { recursive: true, force: true }); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
