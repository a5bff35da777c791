// Browser test of the center's heartbeat against a socket that goes quiet: the embeddable
// center (examples/embed.html and the bundle, served by this script) connects to a stand-in
// edge of this script, which answers `hello` with `welcome` and `synced`, sends one
// notification and one read-state change, then answers nothing more — a connection that
// still looks open but is dead (a laptop that slept, a proxy that dropped it). The center must
// ping after 25 s of quiet, give up when no pong comes within 10 s, show that it is
// reconnecting, and resume on a new socket after what it stored: `after` = the last seq,
// `changes_after` = the read-state version it saved to IndexedDB. Nothing it logs carries the token.
// Usage: node tests/browser/heartbeat.mjs   (run by the browser suite, which passes the
// storefront and edge URLs this script does not need; TIDINGS_EMBED_DIR names the bundle folder)
import crypto from 'node:crypto';
import { WebSocketServer } from 'ws';
import { checks, launch, serveEmbed, standInToken, until } from './lib/harness.mjs';

const dir = process.env.TIDINGS_EMBED_DIR || 'dist-embed';
const user = `heartbeat-${crypto.randomBytes(3).toString('hex')}`;
const token = standInToken(user);

const { ok, fail, check, failures } = checks();
const { context: browser, close } = await launch();
const { server, origin } = await serveEmbed(dir);
// Every socket the center opens, with the frames it sent and when.
const sockets = [];
const wss = new WebSocketServer({ server, path: '/v1/connect' });
wss.on('connection', (ws) => {
  const s = { frames: [], opened: Date.now() };
  sockets.push(s);
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    s.frames.push({ at: Date.now(), frame });
    // Only the first socket is answered, and only its hello: then it goes quiet for good.
    if (frame.type !== 'hello' || sockets.length > 1) return;
    const prefs = { muted: [], utc_offset_minutes: 0, locale: 'en' };
    ws.send(JSON.stringify({ type: 'welcome', v: 1, user, head: 1, version: 0, prefs, topics: [] }));
    ws.send(JSON.stringify({ type: 'synced', head: 0 }));
    const now = Date.now();
    ws.send(JSON.stringify({
      type: 'notify',
      notification: {
        id: 'e:hb-1', seq: 1, type: 'order.shipped', category: 'order', priority: 'normal',
        title: { en: 'Order #HB1 is on its way', zh: '订单 #HB1 已发货' }, body: { en: '', zh: '' },
        created_at: now, state: 'unread', ingested_at: now,
      },
    }));
    ws.send(JSON.stringify({ type: 'changed', ids: ['e:other'], state: 'read', version: 7 }));
  });
});
try {
  const page = await browser.newPage();
  const errors = [];
  const logs = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => logs.push(m.text()));
  await page.goto(`${origin}/?edge=${encodeURIComponent(origin)}&token=${encodeURIComponent(token)}`);
  await page.locator('#bell button.tidings-bell').click({ timeout: 30000 });
  await page.locator('#tidings-panel .tidings-status.live').waitFor({ timeout: 15000 })
    .then(() => ok('the center is live on the stand-in edge'), () => fail('the center never went live'));
  const t0 = Date.now();
  await page.waitForFunction(() => document.querySelector('.tidings-item .tidings-title')?.textContent?.includes('#HB1'), null, { timeout: 10000 })
    .then(() => ok('the notification sent before the socket went quiet is listed'), () => fail('the notification never showed'));
  // 25 s of quiet, a ping, 10 s without a pong: the center leaves the dead socket.
  await page.locator('#tidings-panel .tidings-status.reconnecting').waitFor({ timeout: 50000 })
    .then(() => ok(`with no pong, the center says it is reconnecting (${((Date.now() - t0) / 1000).toFixed(1)} s after going live)`),
      () => fail('the center never noticed the dead socket'));
  const first = sockets[0]?.frames ?? [];
  const ping = first.find((f) => f.frame.type === 'ping');
  check(ping && ping.at - first[0].at >= 24000, 'it pinged after about 25 s of quiet',
    ping ? `ping ${((ping.at - first[0].at) / 1000).toFixed(1)} s after hello` : `frames: ${first.map((f) => f.frame.type).join(', ')}`);
  await until(() => sockets[1]?.frames.length, 15000);
  const hello = sockets[1]?.frames.find((f) => f.frame.type === 'hello')?.frame;
  check(hello?.after === 1, 'it reconnected and resumed after the last seq it stored', JSON.stringify(hello));
  check(hello?.changes_after === 7, 'the resume asks only for read-state changes after the version it saved', JSON.stringify(hello));
  // The edge gone altogether: the center keeps retrying, and what it logs itself never carries
  // the token. (Chromium's own "WebSocket connection to '…' failed" line repeats the URL, token
  // query included; that one is the browser's, not the center's.)
  wss.clients.forEach((c) => c.terminate());
  wss.close();
  server.close();
  await new Promise((r) => setTimeout(r, 5000));
  const own = logs.filter((l) => l.startsWith('tidings'));
  check(own.some((l) => l.includes('no answer to a ping')), 'the center logged why it left the quiet socket', own.join(' | '));
  check(!own.some((l) => l.includes(token) || l.includes('token=')), "the center's own log lines never carry the token", own.join(' | '));
  check(errors.length === 0, 'no page errors', errors.join('; '));
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await close();
  wss.close();
  server.close();
}
process.exit(failures() ? 1 : 0);
