// Shared by the bench scripts that talk to the Worker over workerd's inspector
// (profile-edge.mjs, heap-edge.mjs); not run as a script itself.
import WebSocket from 'ws';

/// Connects to the Worker's inspector target on 127.0.0.1:`port` (exits with what to do when
/// there is none); resolves to `{ target, call(method, params), close() }`.
export async function connectInspector(port) {
  const targets = await fetch(`http://127.0.0.1:${port}/json`).then((r) => r.json()).catch((e) => {
    console.error(`no inspector on 127.0.0.1:${port} (${e.message}): start the edge with TIDINGS_INSPECTOR_PORT=${port} node tests/bench/edge-miniflare.mjs (or edge-workerd.mjs)`);
    process.exit(1);
  });
  const target = targets.find((t) => /tidings|core:user/.test(t.title ?? t.id ?? '')) ?? targets[0];
  if (!target) {
    console.error('the inspector lists no worker yet: send the edge one request first');
    process.exit(1);
  }
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  let nextId = 1;
  const pending = new Map();
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  });
  const call = (method, params = {}) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, (msg) => (msg.error ? reject(new Error(`${method}: ${msg.error.message}`)) : resolve(msg.result)));
    ws.send(JSON.stringify({ id, method, params }));
  });
  return { target, call, close: () => ws.close() };
}
