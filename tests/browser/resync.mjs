// Browser test of what the center keeps when a socket dies at the wrong moment, against a
// stand-in edge of this script (the embeddable center from examples/embed.html, served here):
//
// 1. Lost mid-replay. The first socket answers `hello` with `welcome` (read-state version 9),
//    sends the first of the read-state changes (version 9, as the edge's snapshot of a device
//    long offline sends several with the edge's version), replays 250 notifications and closes
//    before the other changes and `synced`. The center must not save version 9: its next
//    `hello` asks for changes after 0, not 9, or the rest would never reach it.
// 2. A dead socket that looks open. The second socket completes the resume (the changes, then
//    `synced`); the shopper marks an item read; the stand-in takes the `mark` frame but never
//    answers the ping sent after it, and drops the socket. The center must send that `mark`
//    again on the third socket, after its `hello`: a frame leaves the outbox only when the edge
//    answers a ping sent after it.
// 3. An item that expired. A live notification expiring a second later is stored, expires,
//    and a reload drops it from the view and from IndexedDB. The `hello` of that reload and
//    of the next one (the item is no longer in IndexedDB at all) must resume after it (its
//    seq is still the newest stored), not ask for it again.
//
// Usage: node tests/browser/resync.mjs   (run by the browser suite; TIDINGS_EMBED_DIR names
// the bundle folder)
import crypto from 'node:crypto';
import { WebSocketServer } from 'ws';
import { checks, launch, serveEmbed, standInToken, until } from './lib/harness.mjs';

const dir = process.env.TIDINGS_EMBED_DIR || 'dist-embed';
const user = `resync-${crypto.randomBytes(3).toString('hex')}`;
const token = standInToken(user);
const REPLAYED = 250;
const prefs = { muted: [], utc_offset_minutes: 0, locale: 'en' };
const note = (seq, now) => ({
  id: `e:rs-${seq}`, seq, type: 'order.shipped', category: 'order', priority: 'normal',
  title: { en: `Order #RS${seq} is on its way`, zh: `订单 #RS${seq} 已发货` }, body: { en: '', zh: '' },
  created_at: now - (REPLAYED - seq) * 1000, state: 'unread', ingested_at: now,
});

const { ok, fail, check, failures } = checks();
const { context: browser, close } = await launch();
const { server, origin } = await serveEmbed(dir);
// Every socket the center opens, with the frames it sent.
const sockets = [];
const wss = new WebSocketServer({ server, path: '/v1/connect' });
wss.on('connection', (ws) => {
  const s = { frames: [] };
  const n = sockets.push(s);
  const send = (f) => ws.send(JSON.stringify(f));
  s.send = send;
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    s.frames.push(frame);
    const now = Date.now();
    if (frame.type === 'hello') {
      send({ type: 'welcome', v: 1, user, head: REPLAYED, version: 9, prefs, topics: [] });
      if (n === 1) {
        // One change of the snapshot, the replay, then the socket is gone before `synced`.
        send({ type: 'changed', ids: ['e:rs-1'], state: 'archived', version: 9 });
        for (let seq = 1; seq <= REPLAYED; seq += 1) send({ type: 'notify', notification: note(seq, now) });
        setTimeout(() => ws.terminate(), 300);
        return;
      }
      // As the edge does: the changes first, then the items (which carry their state now).
      if (frame.changes_after < 9) send({ type: 'changed', ids: ['e:rs-249'], state: 'read', version: 9 });
      for (let seq = frame.after + 1; seq <= REPLAYED; seq += 1) send({ type: 'notify', notification: note(seq, now) });
      send({ type: 'synced', head: REPLAYED });
      return;
    }
    if (frame.type === 'ping') {
      // The second socket never answers: it looks open and is dead. The others answer.
      if (n === 2) setTimeout(() => ws.terminate(), 300);
      else send({ type: 'pong' });
    }
  });
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/?edge=${encodeURIComponent(origin)}&token=${encodeURIComponent(token)}`);
  await page.locator('#bell button.tidings-bell').click({ timeout: 30000 });
  // 1. The first socket dies mid-replay; the second hello must not skip the changes.
  const second = await until(() => sockets[1]?.frames.some((f) => f.type === 'hello'), 20000);
  check(second, 'after the first socket died mid-replay, the center connected again', `${sockets.length} sockets`);
  const hello = sockets[1]?.frames.find((f) => f.type === 'hello');
  check(hello?.changes_after === 0, 'it asks again for the read-state changes it never got (changes_after 0, not the 9 of the lost welcome)', JSON.stringify(hello));
  check(hello?.after > 0, 'and resumes after the notifications it stored from the lost replay', JSON.stringify(hello));
  await page.locator('#tidings-panel .tidings-status.live').waitFor({ timeout: 15000 })
    .then(() => ok('the second socket synced and the center is live'), () => fail('the center never went live'));
  await page.waitForFunction(() => {
    const item = document.querySelector(".tidings-item[data-id='e:rs-249']");
    return item && !item.classList.contains('unread');
  }, null, { timeout: 10000 })
    .then(() => ok('the change replayed on the second socket shows: e:rs-249 is read'), () => fail('e:rs-249 never showed as read'));
  // 2. A mark on the socket that then dies without a pong is sent again on the next one.
  await page.locator(".tidings-item[data-id='e:rs-250'] .tidings-toggle").click({ timeout: 10000 });
  const marked = await until(() => sockets[1]?.frames.some((f) => f.type === 'mark'), 10000);
  check(marked, 'the mark went out on the second socket', JSON.stringify(sockets[1]?.frames.map((f) => f.type)));
  const framesAfterMark = () => {
    const frames = sockets[1]?.frames ?? [];
    return frames.slice(frames.findIndex((f) => f.type === 'mark') + 1);
  };
  await until(() => framesAfterMark().length > 0, 5000);
  const afterMark = framesAfterMark();
  check(afterMark?.[0]?.type === 'ping' && afterMark[0].handled === true,
    'followed by the ping the Inbox answers itself (not the heartbeat text the runtime answers before the mark is handled)',
    JSON.stringify(afterMark));
  const third = await until(() => sockets[2]?.frames.some((f) => f.type === 'mark'), 20000);
  const resent = sockets[2]?.frames.find((f) => f.type === 'mark');
  check(third && resent.ids.includes('e:rs-250') && resent.state === 'read',
    'the dead socket never answered its ping, so the third socket sent the mark again', JSON.stringify(sockets[2]?.frames));
  check(sockets[2]?.frames[0]?.type === 'hello', 'after its hello', JSON.stringify(sockets[2]?.frames.map((f) => f.type)));
  // Answered this time: the outbox is empty after the pong, so a fourth socket sends no mark.
  await new Promise((r) => setTimeout(r, 1500));
  sockets.length = 3;
  wss.clients.forEach((c) => c.terminate());
  const fourth = await until(() => sockets[3]?.frames.some((f) => f.type === 'hello'), 20000);
  await new Promise((r) => setTimeout(r, 1000));
  check(fourth && !sockets[3].frames.some((f) => f.type === 'mark'),
    'once a pong answered it, the mark left the outbox: the next socket does not send it again', JSON.stringify(sockets[3]?.frames.map((f) => f.type)));
  // 3. A live item that expires, then a reload: the resume starts after it.
  sockets[3].send({ type: 'notify', notification: { ...note(REPLAYED + 1, Date.now()), expires_at: Date.now() + 1500 } });
  await page.locator(`.tidings-item[data-id='e:rs-${REPLAYED + 1}']`).waitFor({ timeout: 10000 })
    .then(() => ok('a live item that expires in a second shows'), () => fail('the expiring item never showed'));
  await new Promise((r) => setTimeout(r, 2500));
  for (const n of [4, 5]) {
    await page.reload();
    const helloed = await until(() => sockets[n]?.frames.some((f) => f.type === 'hello'), 20000);
    const resumed = sockets[n]?.frames.find((f) => f.type === 'hello');
    check(helloed && resumed.after === REPLAYED + 1,
      `${n === 4 ? 'after a reload that dropped the expired item' : 'and after the next one'}, the hello resumes after its seq (${REPLAYED + 1}), not before it`,
      JSON.stringify(resumed));
    await page.locator('#bell button.tidings-bell').click({ timeout: 30000 });
    await page.locator('#tidings-panel .tidings-status.live').waitFor({ timeout: 15000 }).catch(() => {});
  }
  check(errors.length === 0, 'no page errors', errors.join('; '));
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await close();
  wss.close();
  server.close();
}
process.exit(failures() ? 1 : 0);
