// Runs the built edge worker (crates/edge/build, from `sh crates/edge/build.sh`) in workerd
// through Miniflare's API, without `wrangler dev` and its proxy in front: for load measurements
// of the Worker itself (BENCHMARKS.md). Same bindings as wrangler.toml, dev vars from
// crates/edge/.dev.vars, SQLite Durable Objects persisted in a fresh temporary folder.
// Usage: node tests/bench/edge-miniflare.mjs [port]   (prints "edge ready: <url>"; Ctrl-C stops)
import { Miniflare } from 'miniflare';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import url from 'node:url';

const root = path.resolve(path.dirname(url.fileURLToPath(import.meta.url)), '../..');
const build = path.join(root, 'crates/edge/build');
if (!fs.existsSync(path.join(build, 'index.js'))) {
  console.error('crates/edge/build/index.js is missing: run `cd crates/edge && sh build.sh` (or `cargo xtask dev --edge-only` once)');
  process.exit(1);
}
const vars = Object.fromEntries(
  fs.readFileSync(path.join(root, 'crates/edge/.dev.vars'), 'utf8').split('\n')
    .map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
const toml = fs.readFileSync(path.join(root, 'crates/edge/wrangler.toml'), 'utf8');
const origins = /TIDINGS_ALLOWED_ORIGINS\s*=\s*"([^"]*)"/.exec(toml)?.[1] ?? '';
const date = /compatibility_date\s*=\s*"([^"]*)"/.exec(toml)?.[1] ?? '2026-04-01';
const persist = fs.mkdtempSync(path.join(os.tmpdir(), 'tidings-mf-'));
const port = Number(process.argv[2] ?? 8799);
const mf = new Miniflare({
  modules: true,
  scriptPath: path.join(build, 'index.js'),
  modulesRoot: build,
  modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
  compatibilityDate: date,
  bindings: { ...vars, TIDINGS_ALLOWED_ORIGINS: origins },
  durableObjects: {
    INBOX: { className: 'Inbox', useSQLite: true },
    TOPIC: { className: 'Topic', useSQLite: true },
    PLATFORM_MEMORY: { className: 'PlatformMemory', useSQLite: true },
    STATS: { className: 'Stats' },
  },
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
