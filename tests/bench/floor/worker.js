// The runtime's floor for BENCHMARKS.md's edge load run: the least a Worker can do for the load
// generator (`tidings-sim load`) and still be the same system — verify the batch's HMAC
// signature and each socket's HS256 token, parse the batch, make one Durable Object call per
// event to that shopper's Inbox, which writes the notification to its SQLite log before it
// pushes the `notify` frame to the shopper's hibernatable sockets. Plain JavaScript, no Rust, no
// rules, no statistics, no read state: whatever latency this has at a given load, the real edge
// (crates/edge) cannot beat in the same workerd on the same machine.
//
// Run: node tests/bench/edge-workerd.mjs 8799 --floor   (then `tidings-sim load` against it)

const enc = new TextEncoder();
const keys = new Map();

/** An HMAC-SHA256 key for `secret`, imported once. */
function hmacKey(secret) {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    keys.set(secret, key);
  }
  return key;
}

const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
const unhex = (s) => new Uint8Array(s.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
const unb64url = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

/** `Tidings-Signature: t=…,v1=…` over `<t>.<body>`, within 300 s. */
async function verifyBatch(secret, header, body) {
  const parts = Object.fromEntries((header ?? '').split(',').map((p) => p.split('=')));
  if (!parts.t || !parts.v1 || Math.abs(Date.now() / 1000 - Number(parts.t)) > 300) return false;
  return crypto.subtle.verify('HMAC', await hmacKey(secret), unhex(parts.v1), enc.encode(`${parts.t}.${body}`));
}

/** The `sub` of a valid, unexpired HS256 token, or null. */
async function tokenUser(secret, token) {
  const [h, p, s] = (token ?? '').split('.');
  if (!s) return null;
  const ok = await crypto.subtle.verify('HMAC', await hmacKey(secret), unb64url(s), enc.encode(`${h}.${p}`));
  if (!ok) return null;
  const claims = JSON.parse(new TextDecoder().decode(unb64url(p)));
  return claims.exp > Date.now() / 1000 ? claims.sub : null;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/v1/health') return new Response('{"ok":true}');
    if (url.pathname === '/v1/connect') {
      const user = await tokenUser(env.TIDINGS_SUBSCRIBER_SECRET, url.searchParams.get('token'));
      if (!user) return new Response('bad token', { status: 401 });
      return env.INBOX.get(env.INBOX.idFromName(user)).fetch(request);
    }
    if (url.pathname === '/v1/events' && request.method === 'POST') {
      const body = await request.text();
      if (!(await verifyBatch(env.TIDINGS_INGEST_SECRET, request.headers.get('Tidings-Signature'), body))) {
        return new Response('{"error":"bad_signature"}', { status: 401 });
      }
      const ingestedAt = Date.now();
      const results = await Promise.all(JSON.parse(body).events.map(async (e) => {
        const d = e.data;
        const notification = {
          id: `c:order:${d.order_id}`, type: e.type, category: 'order', priority: 'normal',
          title: { en: `Order ${d.order_number} shipped`, zh: `订单 ${d.order_number} 已发货` },
          body: { en: `${d.carrier} ${d.tracking_number}`, zh: `${d.carrier} ${d.tracking_number}` },
          link: `/orders/${d.order_id}`, created_at: ingestedAt, collapse_key: `order:${d.order_id}`,
          state: 'unread', ingested_at: ingestedAt,
        };
        const stub = env.INBOX.get(env.INBOX.idFromName(e.user_id));
        const answer = await stub.fetch('http://inbox/deliver', { method: 'POST', body: JSON.stringify(notification) });
        return { id: e.id, status: answer.ok ? 'accepted' : 'rejected' };
      }));
      return new Response(JSON.stringify({ results }), { status: 202, headers: { 'content-type': 'application/json' } });
    }
    return new Response('not found', { status: 404 });
  },
};

/** One shopper's log and sockets. */
export class Inbox {
  constructor(state) {
    this.state = state;
    this.sql = state.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, body TEXT NOT NULL)');
    this.head = this.sql.exec('SELECT coalesce(max(seq), 0) AS head FROM log').one().head;
  }

  async fetch(request) {
    if (request.headers.get('Upgrade') === 'websocket') {
      const [client, server] = Object.values(new WebSocketPair());
      this.state.acceptWebSocket(server);
      return new Response(null, { status: 101, webSocket: client });
    }
    const notification = JSON.parse(await request.text());
    notification.seq = ++this.head;
    const text = JSON.stringify(notification);
    this.sql.exec('INSERT INTO log (seq, id, body) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, body = excluded.body', notification.seq, notification.id, text);
    const frame = `{"type":"notify","notification":${text}}`;
    for (const ws of this.state.getWebSockets()) ws.send(frame);
    return new Response('{"ok":true}');
  }

  webSocketMessage(ws, message) {
    const frame = JSON.parse(message);
    if (frame.type === 'hello') {
      for (const row of this.sql.exec('SELECT body FROM log WHERE seq > ? ORDER BY seq', frame.after ?? 0)) {
        ws.send(`{"type":"notify","notification":${row.body}}`);
      }
      ws.send(`{"type":"synced","head":${this.head}}`);
    } else if (frame.type === 'ping') {
      ws.send('{"type":"pong"}');
    }
  }
}
