// Browser smoke test of the demo storefront: a posted event appears in the bell within a second,
// is written to IndexedDB, and is shown again after a reload before the socket answers; the
// shopper switcher signs the demo in as someone else.
// Usage: node tests/browser/smoke.mjs <storefront URL> <edge URL>   (run by the e2e suite)
import { launch, postEvents } from './lib/harness.mjs';

const [base = 'http://127.0.0.1:8080', edge = 'http://127.0.0.1:8787'] = process.argv.slice(2);
const user = `smoke-${Date.now()}`;

const post = (events) => postEvents(edge, events);

const { context: browser, close } = await launch();
const fail = (msg) => { console.error(`FAIL: ${msg}`); process.exitCode = 1; };
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/?user=${user}`);
  const bell = page.locator('button.tidings-bell');
  await bell.waitFor({ timeout: 30000 });
  // Wait until the socket is live (the panel says so), then post.
  await bell.click();
  await page.locator('.tidings-status.live').waitFor({ timeout: 15000 });
  const started = Date.now();
  await post([{ id: `smoke-${Date.now()}`, type: 'order.shipped', occurred_at: Math.floor(Date.now() / 1000), user_id: user,
                data: { order_id: '42', order_number: '#42', carrier: 'UPS', tracking_number: '1Z' } }]);
  await page.waitForFunction(() => document.querySelector('button.tidings-bell')?.getAttribute('aria-label')?.includes('1 unread'), null, { timeout: 5000 });
  const elapsed = Date.now() - started;
  console.log(`bell updated ${elapsed} ms after the POST`);
  if (elapsed > 1000) fail(`bell took ${elapsed} ms (> 1 s)`);
  const title = await page.locator('.tidings-item .tidings-title').first().textContent();
  if (!title.includes('#42')) fail(`unexpected title ${title}`);
  // Reload with the edge unreachable for the socket: history comes from IndexedDB.
  // WebSockets are not seen by page.route(); routeWebSocket closes every connect attempt.
  await page.routeWebSocket(/\/v1\/connect/, (ws) => ws.close());
  await page.reload();
  await page.waitForFunction(() => document.querySelector('button.tidings-bell')?.getAttribute('aria-label')?.includes('1 unread'), null, { timeout: 10000 });
  console.log('history shown after reload without a socket');
  // The shopper switcher: another demo shopper, another inbox.
  const switcher = page.locator('select#shop-shopper');
  if ((await switcher.inputValue()) !== user) fail(`the switcher shows ${await switcher.inputValue()}, not ${user}`);
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  await Promise.all([page.waitForURL(/[?&]user=bob\b/), switcher.selectOption('bob')]);
  await page.locator('button.tidings-bell').waitFor({ timeout: 30000 });
  await page.waitForFunction(() => !document.querySelector('button.tidings-bell')?.getAttribute('aria-label')?.includes(', 1 unread'), null, { timeout: 10000 })
    .catch(() => fail("after switching to bob the bell still shows the smoke shopper's item"));
  console.log(`switched shopper: ${page.url()}`);
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await close();
}
