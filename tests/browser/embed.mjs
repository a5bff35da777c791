// Browser test of embedding: examples/embed.html, a plain page served with the files
// `cargo xtask bundle` wrote by a static server of this script (its own origin, not the edge's),
// mounts the center with `mount(element, {edgeUrl, token, locale, getToken})`; the bell appears where it
// was mounted, live events reach it over a socket to the edge's origin, the product card gets
// watch buttons, tidings.css styles it (themable by --tidings-* properties on the page), and
// `locale: 'zh'` gives a Chinese UI, until the shopper picks English in the preferences (which
// then holds after a reload of that `zh` page).
// Usage: node tests/browser/embed.mjs <storefront URL> <edge URL>   (run by the browser suite;
// TIDINGS_EMBED_DIR names the bundle folder, default dist-embed/)
import crypto from 'node:crypto';
import { checks, devToken, launch, postEvents, serveEmbed } from './lib/harness.mjs';

const [, edge = 'http://127.0.0.1:8787'] = process.argv.slice(2);
const dir = process.env.TIDINGS_EMBED_DIR || 'dist-embed';
const run = `${Date.now()}-${crypto.randomBytes(3).toString('hex')}`;
const user = `embed-${run}`;

const { ok, fail, check, failures } = checks();
const { context: browser, close } = await launch();
const servers = [];
try {
  // The storefront: the example page and the bundle, nothing else.
  const { server, origin } = await serveEmbed(dir);
  servers.push(server);
  const token = await devToken(edge, user);
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/?edge=${encodeURIComponent(edge)}&token=${encodeURIComponent(token)}`);
  const bell = page.locator('#bell button.tidings-bell');
  await bell.waitFor({ timeout: 30000 }).then(() => ok('the bell is mounted inside #bell'), () => fail('no bell inside #bell'));
  await bell.click();
  await page.locator('#tidings-panel .tidings-status.live').waitFor({ timeout: 15000 })
    .then(() => ok('the embedded center is live against the edge'), () => fail('the embedded center never went live'));
  await postEvents(edge, [{ id: `${run}-1`, type: 'order.shipped', occurred_at: Math.floor(Date.now() / 1000), user_id: user,
    data: { order_id: `o-${run}`, order_number: '#E1', carrier: 'UPS', tracking_number: '1Z' } }]);
  await page.waitForFunction(() => document.querySelector('#bell button.tidings-bell')?.getAttribute('aria-label')?.endsWith(', 1 unread'), null, { timeout: 10000 })
    .then(() => ok('a posted event raises the badge to 1'), () => fail('badge did not reach 1 unread'));
  const title = await page.locator('.tidings-item .tidings-title').first().textContent().catch(() => '');
  check(title.includes('#E1'), 'the item shows the order', `title "${title}"`);
  const watch = await page.locator('.product[data-sku="sku-lantern"] .tidings-watch button').allTextContents();
  check(watch.some((t) => t.includes('back in stock')), 'the product card has watch buttons', `buttons [${watch.join(' | ')}]`);
  const css = await bell.evaluate((b) => getComputedStyle(b).borderRadius);
  check(css === '999px', 'tidings.css styles the bell', `border-radius ${css}`);
  const panelBg = () => page.locator('#tidings-panel').evaluate((p) => getComputedStyle(p).backgroundColor);
  check(await panelBg() === 'rgb(255, 255, 255)', 'the panel has the default card colour', await panelBg());
  await page.evaluate(() => document.body.style.setProperty('--tidings-card', 'rgb(1, 2, 3)'));
  check(await panelBg() === 'rgb(1, 2, 3)', 'a --tidings-card set on body themes the panel', await panelBg());

  const zh = await browser.newPage();
  zh.on('pageerror', (e) => errors.push(`zh page: ${e}`));
  await zh.goto(`${origin}/?edge=${encodeURIComponent(edge)}&token=${encodeURIComponent(token)}&lang=zh`);
  await zh.waitForFunction(() => document.querySelector('#bell button.tidings-bell')?.getAttribute('aria-label')?.startsWith('通知'), null, { timeout: 30000 })
    .then(() => ok("locale 'zh' gives a Chinese bell"), () => fail("locale 'zh' did not give a Chinese bell"));
  // The shopper picks English on that page: it holds after a reload, although the page says zh.
  const english = () => zh.waitForFunction(() => document.querySelector('#bell button.tidings-bell')?.getAttribute('aria-label')?.startsWith('Notifications'), null, { timeout: 15000 });
  await zh.locator('#bell button.tidings-bell').click();
  await zh.locator('.tidings-prefs-open').click();
  await zh.locator('.tidings-pref-lang').selectOption('en');
  await zh.locator('.tidings-prefs-save').click();
  await english().then(() => ok('picking English in the preferences switches the zh page to English'),
    () => fail('picking English did not switch the bell'));
  await zh.waitForTimeout(1000);
  await zh.reload();
  await zh.locator('#bell button.tidings-bell').waitFor({ timeout: 30000 });
  await zh.waitForTimeout(1500);
  await english().then(() => ok("after a reload the zh page stays in the English the shopper picked"),
    async () => fail(`after a reload the bell is "${await zh.locator('#bell button.tidings-bell').getAttribute('aria-label')}", not English`));
  // A token the edge refuses (expired, say) is replaced by what getToken() gives.
  const renewed = await browser.newPage();
  renewed.on('pageerror', (e) => errors.push(`renewed page: ${e}`));
  await renewed.goto(`${origin}/?edge=${encodeURIComponent(edge)}&token=expired.token.here&fresh=${encodeURIComponent(token)}`);
  await renewed.locator('#bell button.tidings-bell').click({ timeout: 30000 });
  await renewed.locator('#tidings-panel .tidings-status.live').waitFor({ timeout: 20000 })
    .then(() => ok('a refused token is renewed through getToken() and the center goes live'),
      () => fail('the center did not go live with the token from getToken()'));
  check(errors.length === 0, 'no page errors', errors.join('; '));
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await close();
  servers.forEach((s) => s.close());
}
process.exit(failures() ? 1 : 0);
