// Browser test of the operators' page against a real edge: /ops goes live over its own socket,
// posted events and rejections appear in the charts and the rejected-events table (payload as
// text, personal fields redacted), the rejection-rate alert fires on the page and reaches the
// operator's own notification center as an urgent ops item; a shopper's token gets no ops view.
// Usage: node tests/browser/ops.mjs <storefront URL> <edge URL>   (run by the browser suite)
import crypto from 'node:crypto';
import { checks, devToken, launch, postEvents } from './lib/harness.mjs';

const [base = 'http://127.0.0.1:8080', edge = 'http://127.0.0.1:8787'] = process.argv.slice(2);
const run = `${Date.now()}-${crypto.randomBytes(3).toString('hex')}`;
const XSS = '<img src=x onerror="window.__pwned=1">';
const post = (events) => postEvents(edge, events);
const token = (user, role) => devToken(edge, user, role);
const { ok, fail, check, done } = checks();

const { context: browser, close } = await launch({ viewport: { width: 1200, height: 1400 } });
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/ops?token=${encodeURIComponent(await token(`oncall-${run}`, 'ops'))}`);
  await page.locator('.ops-dot.ops-live').waitFor({ timeout: 30000 });
  ok('the ops page is live');
  // The operator's own center connects too (that is where alerts arrive).
  const bell = page.locator('button.tidings-bell');
  await bell.waitFor({ timeout: 15000 });
  // Wait until that center is live too: toasts are for live items, not for a replay.
  await bell.click();
  await page.locator('#tidings-panel .tidings-status.live').waitFor({ timeout: 15000 });
  await page.keyboard.press('Escape');
  ok('the operator\'s notification center is live');
  const alreadyFiring = await page.locator('li[data-alert="rejection-rate"].ops-firing').count();

  const now = Math.floor(Date.now() / 1000);
  const good = [0, 1, 2].map((n) => ({ id: `${run}-ok-${n}`, type: 'order.shipped', occurred_at: now, user_id: `shopper-${run}`,
    data: { order_id: `${n}`, order_number: `#${n}`, carrier: 'UPS', tracking_number: '1Z' } }));
  const bad = Array.from({ length: 25 }, (_, n) => ({ id: `${run}-bad-${n}`, type: 'order.teleported', occurred_at: now, user_id: `shopper-${run}`,
    data: { note: XSS, customer: { email: `ann-${run}@example.com`, phone: '+1 555 010 0200' } } }));
  const verdicts = await post([...good, ...bad]);
  check(verdicts.accepted === 3 && verdicts.rejected === 25, 'the batch: 3 accepted, 25 rejected', JSON.stringify(verdicts).slice(0, 200));

  // Charts: the event type and the rejection code show up in the legends within a few ticks.
  const legend = () => page.locator('.ops-legend .ops-label').allTextContents();
  let labels = [];
  for (let i = 0; i < 100; i++) {
    labels = await legend();
    if (labels.includes('order.shipped') && labels.includes('unknown_type')) break;
    await page.waitForTimeout(100);
  }
  check(labels.includes('order.shipped') && labels.includes('unknown_type'), 'charts show the accepted type and the rejection code', labels.join(', '));
  check(await page.locator('polyline.ops-line').count() >= 3, 'charts are drawn as SVG polylines');

  // The rejected-events table: newest first, payload as text, personal fields redacted.
  const rows = page.locator('.ops-rejected tbody tr');
  // Wait for this batch's rows (the table may already hold 50 older ones from earlier runs).
  await page.waitForFunction((run) => [...document.querySelectorAll('.ops-rejected .ops-payload')]
    .filter((p) => p.textContent.includes(run)).length >= 25, run, { timeout: 10000 }).catch(() => {});
  const payloads = await page.locator('.ops-rejected .ops-payload').allTextContents();
  const ours = payloads.filter((p) => p.includes(run));
  check(ours.length >= 25, 'every rejected event of the batch is listed', `${ours.length} of ${payloads.length}`);
  check(ours.every((p) => !p.includes('@example.com') && !p.includes('555 010') && p.includes('[redacted]')), 'emails and phones are redacted', ours[0]);
  check(ours.some((p) => p.includes('<img src=x')), 'markup in a payload is shown as text');
  check(await page.locator('.ops-rejected img').count() === 0, 'no element was created from the payload');
  check(await page.evaluate(() => window.__pwned) === undefined, 'no script from the payload ran');
  check((await rows.first().locator('code').textContent()) === 'unknown_type', 'rows carry their error code');

  // The alert: 25 of 28 rejected is far above 5 % over 1 minute.
  if (alreadyFiring) {
    ok('rejection-rate was already firing before this batch (an earlier script); its notification is not re-sent');
  } else {
    await page.locator('li[data-alert="rejection-rate"].ops-firing').waitFor({ timeout: 15000 })
      .then(() => ok('the rejection-rate alert fires on the page'), () => fail('the rejection-rate alert did not fire on the page'));
    await page.waitForFunction(() => /, [1-9]\d* unread$/.test(document.querySelector('button.tidings-bell')?.getAttribute('aria-label') || ''), null, { timeout: 15000 })
      .then(() => ok('the alert reaches the operator\'s bell'), () => fail('the alert did not reach the operator\'s bell'));
    const toast = page.locator('.tidings-toast', { hasText: 'Ingest rejection rate' });
    await toast.waitFor({ timeout: 10000 })
      .then(() => ok('the alert is urgent: it raises a toast'), () => fail('no toast for the alert'));
  }
  if (process.env.TIDINGS_OPS_SCREENSHOT) {
    await page.screenshot({ path: process.env.TIDINGS_OPS_SCREENSHOT });
    ok(`screenshot: ${process.env.TIDINGS_OPS_SCREENSHOT}`);
  }

  // A shopper's token gets a clear message, not the ops view.
  const shopper = await browser.newPage();
  await shopper.goto(`${base}/ops?token=${encodeURIComponent(await token(`shopper-${run}`))}`);
  await shopper.waitForFunction(() => document.querySelector('main')?.textContent?.includes('This page is for operators'), null, { timeout: 15000 })
    .then(() => ok('a shopper token is told the page is for operators'), () => fail('a shopper token saw something else'));
  check(await shopper.locator('.ops').count() === 0, 'no ops view for a shopper token');
  check(errors.length === 0, 'no page errors', errors.join('; '));
} finally {
  await close();
}
done();
