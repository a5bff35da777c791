// Browser test of the notification center against a real edge: badge and list follow posted
// events; category tab, unread-only, search (English and Chinese) and sort change the list;
// a second tab opens no socket of its own but follows the first (Web Lock leader) through
// BroadcastChannel, within 200 ms, sends its reads through it and takes the socket over when the
// first tab closes; markup in event data stays text; a reload with the edge unreachable still
// shows the history and says offline; what was done offline reaches the edge on reconnect, and
// the resume says how many missed notifications it loaded; clicking an item's link marks it read.
// Usage: node tests/browser/center.mjs <storefront URL> <edge URL>   (run by the browser suite)
import crypto from 'node:crypto';
import { checks, launch, postEvents } from './lib/harness.mjs';

const [base = 'http://127.0.0.1:8080', edge = 'http://127.0.0.1:8787'] = process.argv.slice(2);
const run = `${Date.now()}-${crypto.randomBytes(3).toString('hex')}`;
const user = `center-${run}`;
const XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';

const post = (events) => postEvents(edge, events);
const now = Math.floor(Date.now() / 1000);
const ev = (n, type, data) => ({ id: `${run}-${n}`, type, occurred_at: now - 100 + n, user_id: user, data });

const { ok, fail, check, failures } = checks();

const { context: browser, close } = await launch();
try {
  // A token of our own, so the later offline reload needs no /v1/dev/token.
  const tr = await fetch(`${edge}/v1/dev/token?user=${encodeURIComponent(user)}`);
  if (!tr.ok) throw new Error(`dev token answered ${tr.status}`);
  const { token } = await tr.json();
  const url = `${base}/?token=${encodeURIComponent(token)}`;

  const errors = [];
  // A new tab whose page errors fail the test (and whose console is shown with TIDINGS_CONSOLE=1).
  const newTab = async (name) => {
    const tab = await browser.newPage();
    tab.on('pageerror', (e) => errors.push(`${name}: ${e}`));
    if (process.env.TIDINGS_CONSOLE) tab.on('console', (m) => console.log(`${name} console: ${m.text()}`));
    return tab;
  };
  let page = await newTab('tab 1');
  await page.goto(url);
  const bell = page.locator('button.tidings-bell');
  await bell.waitFor({ timeout: 30000 });
  await bell.click();
  let panel = page.locator('#tidings-panel');
  await panel.locator('.tidings-status.live').waitFor({ timeout: 15000 });

  const unreadIs = (p, n, timeout = 10000) => p.waitForFunction(
    (n) => document.querySelector('button.tidings-bell')?.getAttribute('aria-label')?.endsWith(`, ${n} unread`), n, { timeout });
  // The edge's own view of an item (history over HTTP), by a text in its English title or body.
  async function edgeState(needle) {
    const r = await fetch(`${edge}/v1/inbox?limit=50`, { headers: { authorization: `Bearer ${token}` } });
    const body = await r.json();
    return body.items?.find((n) => `${n.title.en} ${n.body.en}`.includes(needle))?.state;
  }
  async function edgeSays(what, needle, state, timeout = 5000) {
    const deadline = Date.now() + timeout;
    let seen;
    while (Date.now() < deadline) {
      seen = await edgeState(needle);
      if (seen === state) return ok(`${what}: the edge has ${needle} ${state}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    fail(`${what}: the edge has ${needle} ${seen}, expected ${state}`);
  }
  const titles = () => panel.locator('.tidings-list .tidings-item .tidings-title').allTextContents();
  // Waits until the list's titles satisfy `pred`; reports the last list seen if they never do.
  async function listBecomes(what, pred, timeout = 5000) {
    const deadline = Date.now() + timeout;
    let seen = [];
    while (Date.now() < deadline) {
      seen = await titles();
      if (pred(seen)) return ok(`${what}: [${seen.join(' | ')}]`);
      await page.waitForTimeout(50);
    }
    fail(`${what}: list is [${seen.join(' | ')}]`);
  }

  // (a) Posted events update the badge and the list.
  await post([ev(1, 'order.created', { order_id: `a-${run}`, order_number: '#A100', total: '20.00', currency: 'USD', cart_id: 'c1' })]);
  await unreadIs(page, 1).then(() => ok('badge says 1 unread after the first event'), () => fail('badge did not reach 1 unread'));
  await post([
    ev(2, 'payment.succeeded', { amount: '20.00', currency: 'USD' }),
    ev(3, 'order.shipped', { order_id: `b-${run}`, order_number: '#B200', carrier: 'UPS', tracking_number: '1Z' }),
    ev(4, 'order.paid', { order_id: `c-${run}`, order_number: '#C300' }),
  ]);
  await unreadIs(page, 4).then(() => ok('badge says 4 unread after four events'), () => fail('badge did not reach 4 unread'));
  const badge = (await page.locator('.tidings-badge').textContent())?.trim();
  check(badge === '4', 'visible badge shows 4', `badge "${badge}"`);
  await listBecomes('list shows the four items, newest first', (t) => t.length === 4
    && t[0].includes('#C300') && t[1].includes('#B200') && t[2].includes('Payment of 20.00 USD') && t[3].includes('Thanks for your order'));

  // (b) Filters, search and sort.
  await panel.locator('button.tidings-tab[data-tab="payment"]').click();
  await listBecomes('payment tab shows only the payment', (t) => t.length === 1 && t[0].includes('Payment of'));
  await panel.locator('button.tidings-tab[data-tab="order"]').click();
  await listBecomes('order tab shows the three orders', (t) => t.length === 3 && t.every((x) => /order/i.test(x)));
  await panel.locator('button.tidings-tab[data-tab="all"]').click();
  await listBecomes('all tab shows four again', (t) => t.length === 4);

  // Read the payment item, then unread-only hides it.
  await panel.locator('.tidings-item', { hasText: 'Payment of' }).locator('button.tidings-toggle').click();
  await unreadIs(page, 3).then(() => ok('marking read lowers the badge to 3'), () => fail('badge did not drop to 3 after marking read'));
  await panel.locator('input.tidings-unread-only').check();
  await listBecomes('unread-only hides the read item', (t) => t.length === 3 && !t.some((x) => x.includes('Payment of')));
  await panel.locator('input.tidings-unread-only').uncheck();
  await listBecomes('unchecking unread-only shows it again', (t) => t.length === 4);

  const search = panel.locator('input.tidings-search');
  await search.fill('B200');
  await listBecomes('search "B200" finds the shipped order', (t) => t.length === 1 && t[0].includes('#B200'));
  await search.fill('zzznothing');
  await panel.locator('.tidings-empty').waitFor({ timeout: 5000 }).then(() => ok('search without match shows the empty state'), () => fail('no empty state for a search without match'));
  await search.fill('');
  await listBecomes('clearing the search shows all four', (t) => t.length === 4);

  // Chinese: switch language, then search 发货 (the zh title of order.shipped says 已发货;
  // the zh bodies of order.created and order.paid mention 发货后 too; payment's does not).
  await panel.locator('select.tidings-lang').selectOption('zh');
  await listBecomes('titles switch to Chinese', (t) => t.some((x) => x.includes('订单 #B200 已发货')));
  await search.fill('发货');
  await listBecomes('search 发货 (zh) matches the shipped order and bodies mentioning 发货, not the payment',
    (t) => t.length === 3 && t.some((x) => x.includes('#B200')) && !t.some((x) => x.includes('支付')));
  await search.fill('已发货');
  await listBecomes('search 已发货 matches only the zh title of the shipped order', (t) => t.length === 1 && t[0].includes('订单 #B200 已发货'));
  await search.fill('');
  await panel.locator('select.tidings-lang').selectOption('en');
  await listBecomes('back to English', (t) => t.length === 4 && t[0].includes('#C300'));

  // Sort: newest puts the last event first; priority puts the high-priority shipment first.
  await panel.locator('select.tidings-sort').selectOption('priority');
  await listBecomes('priority sort puts the (high) shipment first, then newest', (t) => t.length === 4 && t[0].includes('#B200') && t[1].includes('#C300'));
  await panel.locator('select.tidings-sort').selectOption('newest');
  await listBecomes('newest sort restores the order', (t) => t.length === 4 && t[0].includes('#C300') && t[1].includes('#B200'));

  // (c) A second tab of the same browser: tab 1 holds the Web Lock and the socket, tab 2 opens
  // none and hears the edge through tab 1 (BroadcastChannel).
  const page2 = await newTab('tab 2');
  let sockets2 = 0;
  page2.on('websocket', (ws) => { if (/\/v1\/connect/.test(ws.url())) sockets2++; });
  await page2.goto(url);
  await unreadIs(page2, 3, 15000).then(() => ok('tab 2 shows 3 unread from IndexedDB'), () => fail('tab 2 did not show 3 unread'));
  await page2.locator('button.tidings-bell').click();
  const panel2 = page2.locator('#tidings-panel');
  await panel2.locator('.tidings-status.live').waitFor({ timeout: 5000 })
    .then(() => ok("tab 2 shows tab 1's live status"), () => fail('tab 2 does not show live'));
  await page2.evaluate(() => {
    window.__changedAt = new Promise((resolve) => {
      const bell = document.querySelector('button.tidings-bell');
      new MutationObserver(() => {
        if (bell.getAttribute('aria-label').endsWith(', 2 unread')) resolve(performance.timeOrigin + performance.now());
      }).observe(bell, { attributes: true, attributeFilter: ['aria-label'] });
    });
  });
  const toggle = panel.locator('.tidings-item', { hasText: '#B200' }).locator('button.tidings-toggle');
  await toggle.evaluate((b) => { window.__clickedAt = performance.timeOrigin + performance.now(); b.click(); });
  const clickedAt = await page.evaluate(() => window.__clickedAt);
  const changedAt = await Promise.race([page2.evaluate(() => window.__changedAt), new Promise((r) => setTimeout(() => r(null), 5000))]);
  if (changedAt == null) fail('tab 2 badge did not drop to 2 within 5 s of the read in tab 1');
  else {
    const ms = changedAt - clickedAt;
    console.log(`cross-tab: tab 2 badge updated ${ms.toFixed(1)} ms after the click in tab 1 (BroadcastChannel)`);
    check(ms < 200, 'cross-tab update within 200 ms', `${ms.toFixed(1)} ms`);
  }
  await unreadIs(page, 2).then(() => ok('tab 1 badge says 2 unread'), () => fail('tab 1 badge did not drop to 2'));
  // Tab 2's own reads go out on tab 1's socket.
  await panel2.locator('.tidings-item', { hasText: '#C300' }).locator('button.tidings-toggle').click();
  await unreadIs(page, 1).then(() => ok('a read in tab 2 lowers the badge in tab 1'), () => fail('tab 1 did not see the read in tab 2'));
  await edgeSays('a read in tab 2 reached the edge through tab 1', '#C300', 'read');
  await panel2.locator('.tidings-item', { hasText: '#C300' }).locator('button.tidings-toggle').click();
  await edgeSays('and so did marking it unread again', '#C300', 'unread');
  await unreadIs(page, 2).then(() => ok('tab 1 badge back to 2'), () => fail('tab 1 badge did not return to 2'));
  check(sockets2 === 0, 'tab 2 opened no socket while tab 1 holds it', `${sockets2} socket(s)`);
  // Tab 1 closes: tab 2 gets the lock, connects and goes on as the live tab.
  await page.close();
  const deadline = Date.now() + 10000;
  while (sockets2 === 0 && Date.now() < deadline) await page2.waitForTimeout(50);
  check(sockets2 === 1, 'after tab 1 closed, tab 2 opened the one socket', `${sockets2} socket(s)`);
  page = page2;
  panel = panel2;
  await panel.locator('.tidings-status.live').waitFor({ timeout: 10000 })
    .then(() => ok('tab 2 is live on its own socket'), () => fail('tab 2 did not go live after tab 1 closed'));

  // (d) Markup in event data that ends up in the title stays text.
  await post([ev(5, 'order.shipped', { order_id: `x-${run}`, order_number: XSS, carrier: 'UPS' })]);
  await unreadIs(page, 3).then(() => ok('the payload event arrived'), () => fail('the payload event did not arrive'));
  const xss = panel.locator('.tidings-item', { hasText: 'onerror' }).first();
  await xss.waitFor({ timeout: 5000 }).catch(() => fail('no item shows the payload as text'));
  const xssTitle = await xss.locator('.tidings-title').textContent();
  check(xssTitle.includes(XSS), 'the payload is shown literally in the title', `title "${xssTitle}"`);
  const injected = await page.evaluate(() => ({
    img: document.querySelectorAll('.tidings img, .tidings-panel img, .tidings-toasts img').length,
    script: document.querySelectorAll('.tidings script').length,
    pwned: window.__pwned ?? null,
  }));
  check(injected.img === 0 && injected.script === 0 && injected.pwned === null, 'no img/script element inside the center and no handler ran', JSON.stringify(injected));
  check(await page.getByText('<img src=x onerror=', { exact: false }).first().isVisible(), 'the literal markup text is visible');

  // (e) Reload with the edge unreachable: history from IndexedDB, status offline.
  await page.routeWebSocket(/\/v1\/connect/, (ws) => ws.close());
  await page.route('**/v1/**', (route) => route.abort());
  await page.reload();
  await unreadIs(page, 3, 15000).then(() => ok('after an offline reload the badge still says 3 unread'), () => fail('history not shown after an offline reload'));
  await page.locator('button.tidings-bell').click();
  await listBecomes('after an offline reload the list shows all five items', (t) => t.length === 5 && t.some((x) => x.includes('#B200')), 10000);
  await panel.locator('.tidings-status.offline').waitFor({ timeout: 15000 })
    .then(async () => ok(`status says "${(await panel.locator('.tidings-status').textContent()).trim()}"`),
          () => fail('status did not turn offline with the edge unreachable'));
  // A read done offline, and an event the shopper misses meanwhile.
  await panel.locator('.tidings-item', { hasText: '#A100' }).locator('button.tidings-toggle').click();
  await unreadIs(page, 2).then(() => ok('an offline read lowers the badge to 2'), () => fail('the offline read did not lower the badge'));
  check(await edgeState('#A100') === 'unread', 'the edge has not heard of the offline read yet');
  await post([ev(6, 'order.created', { order_id: `d-${run}`, order_number: '#D400', total: '9.00', currency: 'USD', cart_id: 'c2' })]);
  // (f) Back online in a new tab (this one closes): the queued read is sent and the resume
  // loads the missed notification.
  await page.close();
  page = await newTab('tab 3');
  panel = page.locator('#tidings-panel');
  await page.goto(url);
  await page.locator('button.tidings-bell').click();
  await panel.locator('.tidings-status.live').waitFor({ timeout: 15000 })
    .then(() => ok('back online'), () => fail('did not go live again'));
  await edgeSays('the read done offline reached the edge on reconnect', '#A100', 'read');
  await unreadIs(page, 3).then(() => ok('badge says 3 unread with the missed order'), () => fail('badge is not 3 after the resume'));
  const missed = await panel.locator('.tidings-missed').textContent({ timeout: 5000 }).catch(() => null);
  check(missed?.trim() === '1 missed notification loaded', 'the resume says what it loaded', `notice "${missed}"`);
  // Clicking an item's link opens it (same-origin path) and marks it read.
  const link = panel.locator('.tidings-item', { hasText: '#D400' }).locator('a.tidings-title');
  const href = await link.getAttribute('href');
  check(href?.startsWith('/') && !href.startsWith('//'), 'the link is a same-origin path', href);
  await page.evaluate(() => document.addEventListener('click', (e) => { if (e.target.closest('a.tidings-title')) e.preventDefault(); }, true));
  await link.click();
  await unreadIs(page, 2).then(() => ok('clicking the item marks it read'), () => fail('clicking the item did not mark it read'));
  await edgeSays('the click reached the edge', '#D400', 'read');
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);
  console.log(failures() ? `${failures()} check(s) failed` : 'center: all checks passed');
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await close();
}
