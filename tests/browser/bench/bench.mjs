// Notification-center timings in headless Chromium (not part of the test suite: it lives in a
// subfolder so `cargo xtask test --only browser` does not pick it up).
//
//   PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH" trunk build --release --dist /tmp/tidings-dist
//   node tests/browser/bench/bench.mjs /tmp/tidings-dist [runs=5]
//
// Serves the built storefront itself (no edge: the socket is routed away, so the page works
// from IndexedDB alone), seeds the shopper's IndexedDB database ("tidings-<user>", store
// `notifications`, same record shape the center writes) and measures with performance.now():
//   * load → history shown: navigation start until the bell says "N unread" (10k items);
//   * open → list painted: bell click until the first page of the list is in the DOM, and the
//     next animation frame after it;
//   * filter/sort over 50k items: a tab, unread-only, a search and a sort change, each timed
//     from the input event until the list's DOM changed (MutationObserver), and the next frame.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const [dist = '/tmp/tidings-dist', runsArg = '5'] = process.argv.slice(2);
const runs = Number(runsArg);
const types = { 'text/html': /\.html$/, 'application/javascript': /\.m?js$/, 'application/wasm': /\.wasm$/, 'text/css': /\.css$/ };
const server = http.createServer((req, res) => {
  const p = new URL(req.url, 'http://x').pathname;
  const file = path.join(dist, p === '/' ? 'index.html' : decodeURIComponent(p));
  if (!file.startsWith(dist) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) { res.writeHead(404); return res.end(); }
  const type = Object.entries(types).find(([, re]) => re.test(file))?.[0] || 'application/octet-stream';
  res.writeHead(200, { 'content-type': type });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const tokenFor = (user) => `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: user, exp: 4102444800 })}.x`;

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tidings-bench-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const fmt = (xs) => `median ${median(xs).toFixed(1)} ms (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}, n=${xs.length})`;

// Opens the page once (the center creates the schema), then writes `n` notifications.
async function seeded(user, n) {
  const page = await browser.newPage();
  await page.routeWebSocket(/\/v1\/connect/, (ws) => ws.close());
  await page.goto(`${base}/?token=${tokenFor(user)}`);
  await page.locator('button.tidings-bell').waitFor({ timeout: 30000 });
  await page.waitForFunction(() => document.querySelector('button.tidings-bell')?.getAttribute('aria-label')?.includes(' 0 unread'));
  await page.evaluate(async ({ user, n }) => {
    const db = await new Promise((res, rej) => { const r = indexedDB.open(`tidings-${user}`); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
    const cats = ['order', 'payment', 'stock', 'price', 'promo', 'account', 'security'];
    const prios = ['low', 'normal', 'high', 'urgent'];
    const now = Date.now();
    const tx = db.transaction('notifications', 'readwrite');
    const store = tx.objectStore('notifications');
    for (let i = 1; i <= n; i++) {
      const cat = cats[i % cats.length];
      store.put({
        id: `bench-${i}`, seq: i, type: `${cat}.bench`, category: cat, priority: prios[(i * 7) % 4 === 3 && i % 5 ? 1 : (i * 7) % 4],
        title: { en: `Order #${100000 + i} update ${i % 3 ? 'shipped' : 'delivered'}`, zh: `订单 #${100000 + i} ${i % 3 ? '已发货' : '已送达'}` },
        body: { en: `Carrier UPS, tracking 1Z${i}. Café Straße`, zh: `承运商：顺丰，运单号：${i}` },
        link: `/orders/${i}`, created_at: now - (n - i) * 60000, expires_at: now + 90 * 86400000,
        collapse_key: `order:${i}`, state: i % 4 ? 'unread' : 'read', ingested_at: now - (n - i) * 60000,
      });
    }
    await new Promise((res, rej) => { tx.oncomplete = res; tx.onerror = () => rej(tx.error); });
    db.close();
  }, { user, n });
  return page;
}

// Bell says N unread: the history is in memory and rendered.
const unreadOf = (n) => Math.round(n * 3 / 4);

async function loadAndOpen(page, user, n) {
  const want = `, ${unreadOf(n)} unread`;
  await page.goto(`${base}/?token=${tokenFor(user)}`);
  await page.waitForFunction((w) => document.querySelector('button.tidings-bell')?.getAttribute('aria-label')?.endsWith(w), want, { timeout: 60000, polling: 5 });
  // performance.now() at the moment the label changed, seen by an observer installed before load.
  const shown = await page.evaluate(() => window.__bellShownAt);
  const open = await page.evaluate(() => new Promise((resolve) => {
    const t0 = performance.now();
    const done = () => {
      const list = document.querySelector('.tidings-list');
      if (list && list.children.length > 0) {
        const dom = performance.now() - t0;
        requestAnimationFrame(() => resolve({ dom, frame: performance.now() - t0 }));
        return true;
      }
      return false;
    };
    new MutationObserver((_, o) => { if (done()) o.disconnect(); }).observe(document.body, { childList: true, subtree: true });
    document.querySelector('button.tidings-bell').click();
  }));
  return { shown, open };
}

// Time one UI change over the open panel until the list changes (and the next frame).
const change = (page, action) => page.evaluate((action) => new Promise((resolve) => {
  const list = document.querySelector('.tidings-list');
  const before = [...list.children].map((li) => li.dataset.id).join();
  let t0;
  const o = new MutationObserver(() => {
    const now = [...document.querySelector('.tidings-list').children].map((li) => li.dataset.id).join();
    if (now !== before) {
      o.disconnect();
      const dom = performance.now() - t0;
      requestAnimationFrame(() => resolve({ dom, frame: performance.now() - t0, first: document.querySelector('.tidings-list .tidings-title')?.textContent }));
    }
  });
  o.observe(document.querySelector('.tidings-panel'), { childList: true, subtree: true, characterData: true });
  const p = document.querySelector('.tidings-panel');
  const set = (sel, prop, value, ev) => { const el = p.querySelector(sel); el[prop] = value; el.dispatchEvent(new Event(ev, { bubbles: true })); };
  t0 = performance.now();
  if (action === 'tab-payment') p.querySelector('button.tidings-tab[data-tab="payment"]').click();
  else if (action === 'tab-all') p.querySelector('button.tidings-tab[data-tab="all"]').click();
  else if (action === 'unread-on') set('input.tidings-unread-only', 'checked', true, 'change');
  else if (action === 'unread-off') set('input.tidings-unread-only', 'checked', false, 'change');
  else if (action === 'sort-priority') set('select.tidings-sort', 'value', 'priority', 'change');
  else if (action === 'sort-newest') set('select.tidings-sort', 'value', 'newest', 'change');
  else if (action === 'search') set('input.tidings-search', 'value', '#1234', 'input');
  else if (action === 'search-zh') set('input.tidings-search', 'value', '已送达', 'input');
  else if (action === 'search-clear') set('input.tidings-search', 'value', '', 'input');
}), action);

try {
  await browser.addInitScript(() => {
    window.__bellShownAt = null;
    const watch = () => {
      new MutationObserver((_, o) => {
        const l = document.querySelector('button.tidings-bell')?.getAttribute('aria-label') || '';
        if (/, [1-9]\d* unread$/.test(l) && window.__bellShownAt == null) { window.__bellShownAt = performance.now(); o.disconnect(); }
      }).observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['aria-label'] });
    };
    if (document.documentElement) watch(); else document.addEventListener('DOMContentLoaded', watch);
  });

  // (iii) 10k stored → load → bell shows history → open → list painted.
  const user10 = `bench10k-${Date.now()}`;
  const page10 = await seeded(user10, 10000);
  const shown = [], openDom = [], openFrame = [];
  for (let i = 0; i < runs; i++) {
    const { shown: s, open } = await loadAndOpen(page10, user10, 10000);
    shown.push(s); openDom.push(open.dom); openFrame.push(open.frame);
  }
  console.log(`10k stored: navigation start → bell shows history: ${fmt(shown)}`);
  console.log(`10k stored: bell click → first page in DOM: ${fmt(openDom)}; → next frame: ${fmt(openFrame)}`);
  console.log(`10k stored: navigation start → list painted (sum of medians): ${(median(shown) + median(openFrame)).toFixed(1)} ms`);
  await page10.close();

  // (ii) 50k stored: filter, search and sort.
  const user50 = `bench50k-${Date.now()}`;
  const page50 = await seeded(user50, 50000);
  const { shown: s50 } = await loadAndOpen(page50, user50, 50000);
  console.log(`50k stored: navigation start → bell shows history: ${s50.toFixed(1)} ms (one run)`);
  const seq = ['sort-priority', 'sort-newest', 'tab-payment', 'tab-all', 'unread-on', 'unread-off', 'search', 'search-clear', 'search-zh', 'search-clear'];
  const times = Object.fromEntries(seq.map((a) => [a, { dom: [], frame: [] }]));
  for (let i = 0; i < runs; i++) {
    for (const a of seq) {
      const r = await change(page50, a);
      times[a].dom.push(r.dom); times[a].frame.push(r.frame);
    }
  }
  for (const a of seq.slice(0, 9)) console.log(`50k: ${a.padEnd(13)} → list DOM updated ${fmt(times[a].dom)}; next frame ${fmt(times[a].frame)}`);
} finally {
  await browser.close();
  server.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
