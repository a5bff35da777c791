// Shared by the browser scripts in tests/browser (this folder is not run as a script itself):
// signing and posting events like a store backend, dev tokens, a Chromium that runs as root on
// a closed network, a static server for the embedding page, and pass/fail bookkeeping.
import { chromium } from 'playwright-core';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import os from 'node:os';

/// The dev ingest secret from crates/edge/.dev.vars.
export const INGEST_SECRET = 'dev-ingest-secret-not-for-production';

/// Signs `{events}` with the dev secret and posts it; throws unless the edge answers 202.
export async function postEvents(edge, events) {
  const body = JSON.stringify({ events });
  const t = Math.floor(Date.now() / 1000);
  const sig = crypto.createHmac('sha256', INGEST_SECRET).update(`${t}.${body}`).digest('hex');
  const r = await fetch(`${edge}/v1/events`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'tidings-signature': `t=${t},v1=${sig}` } });
  if (r.status !== 202) throw new Error(`ingest answered ${r.status}: ${await r.text()}`);
  return r.json();
}

/// A dev token for `user` (`role` "ops" for an operator); needs TIDINGS_DEV_TOKENS=1 on the edge.
export async function devToken(edge, user, role) {
  const r = await fetch(`${edge}/v1/dev/token?user=${encodeURIComponent(user)}${role ? `&role=${role}` : ''}`);
  if (!r.ok) throw new Error(`dev token answered ${r.status}`);
  return (await r.json()).token;
}

/// A token for a stand-in edge of a test script: the center only peeks at its subject (to
/// name its IndexedDB), and the stand-in accepts any signature.
export function standInToken(user) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: user, exp: 4102444800 })}.sig`;
}

/// Polls `what()` every 100 ms until it is true or `ms` have passed; resolves to its last answer.
export async function until(what, ms) {
  const end = Date.now() + ms;
  while (!what() && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  return Boolean(what());
}

/// A plain storefront on a free loopback port of its own origin: examples/embed.html at `/` and
/// the files of the bundle folder `dir` (what `cargo xtask bundle` writes) by name. Resolves to
/// the listening server and its origin.
export async function serveEmbed(dir) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };
  const server = http.createServer((req, res) => {
    const name = new URL(req.url, 'http://x').pathname;
    const file = name === '/' ? 'examples/embed.html' : path.join(dir, path.basename(name));
    if (!fs.existsSync(file)) { res.writeHead(404).end(`no ${file}`); return; }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' }).end(fs.readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

/// Headless Chromium with a fresh profile; `close()` also removes the profile.
export async function launch(options = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tidings-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    ...options,
  });
  return {
    context,
    close: async () => { await context.close(); fs.rmSync(profile, { recursive: true, force: true }); },
  };
}

/// `ok`, `fail` and `check` print one line each; `failures()` counts; `done()` exits non-zero after any failure.
export function checks() {
  let failures = 0;
  const ok = (msg) => console.log(`ok: ${msg}`);
  const fail = (msg) => { failures++; console.error(`FAIL: ${msg}`); process.exitCode = 1; };
  const check = (cond, msg, detail = '') => (cond ? ok(msg) : fail(`${msg}${detail ? ` — ${detail}` : ''}`));
  const done = () => {
    if (failures) {
      console.error(`${failures} check(s) failed`);
      process.exit(1);
    }
  };
  return { ok, fail, check, done, failures: () => failures };
}
