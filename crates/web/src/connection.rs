//! The WebSocket loop: connect with the token, say `hello {after}`, flush
//! frames queued offline, apply frames, and reconnect with exponential
//! backoff and jitter when the socket drops. Runs in one tab per browser (the
//! leader, see [`crate::tabs`]), which relays every frame to the other tabs.
//!
//! On `reset` (the edge no longer has what follows our cursor, or never had it)
//! the stored history is dropped and the edge's replay that follows the reset on
//! the same socket (everything it keeps, in order, then `synced`) rebuilds it.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use leptos::prelude::*;
use tidings_core::notification::Notification;
use tidings_core::protocol::{ClientFrame, ServerFrame, HANDLED_PING, PROTOCOL_VERSION};

use crate::center::{Center, Status};
use crate::embed::{socket_url, Options};
use crate::store::Store;

/// Delay before reconnect attempt `attempt` (0-based): 0.5 s doubling to 30 s, with ±50 % jitter.
pub fn backoff_ms(attempt: u32, jitter: f64) -> u32 {
    let base = 500f64 * 2f64.powi(attempt.min(6) as i32);
    let capped = base.min(30_000.0);
    (capped * (0.5 + jitter.clamp(0.0, 1.0))) as u32
}

/// How many notifications IndexedDB keeps; beyond it the oldest go, archived ones first.
pub const RETENTION: usize = 5_000;

/// Runs forever: keeps `center` connected to the edge of `options`, with a fresh token from
/// `getToken` (when the page gave one) before every reconnect.
pub async fn run(center: Center, mut options: Options, store: Option<Rc<Store>>) {
    let mut attempt = 0u32;
    let mut first = true;
    loop {
        if !std::mem::take(&mut first) {
            options.renew_token().await;
        }
        let ws_url = socket_url(&options);
        // Once offline, it stays offline (not flickering to "reconnecting") until a resume succeeds.
        if attempt < 2 {
            center.set_status(Status::Reconnecting);
        }
        match WebSocket::open(&ws_url) {
            Ok(ws) => {
                let synced = session(center, ws, store.clone()).await;
                if synced {
                    attempt = 0;
                }
            }
            // The browser's message repeats the URL, token included: name the error only.
            Err(e) => leptos::logging::warn!(
                "tidings: cannot open a socket to {} ({}); check the edgeUrl given to mount",
                ws_url.split('?').next().unwrap_or_default(),
                e.name
            ),
        }
        center.set_sender(None);
        center.set_status(if attempt >= 2 {
            Status::Offline
        } else {
            Status::Reconnecting
        });
        let delay = backoff_ms(attempt, js_sys::Math::random());
        attempt = attempt.saturating_add(1);
        gloo_timers::future::TimeoutFuture::new(delay).await;
    }
}

/// After this long without a frame, the center pings the edge.
const HEARTBEAT_MS: u32 = 25_000;
/// How long a pong may take before the socket counts as dead.
const PONG_TIMEOUT_MS: u32 = 10_000;

/// How long a new socket may take to say `welcome` before the attempt counts as failed (a
/// socket that never opens, or opens onto something that never answers).
const WELCOME_TIMEOUT_MS: u32 = 15_000;

/// One connection; returns whether it got as far as `synced`.
async fn session(center: Center, ws: WebSocket, store: Option<Rc<Store>>) -> bool {
    use futures_util::future::{select, Either};
    let (mut sink, mut stream) = ws.split();
    // Resume after the newest seq stored, not only the newest held: an item that expired
    // and left the view is not asked for (nor counted as missed) again.
    let (stored_seq, changes_after) = match &store {
        Some(s) => (
            s.meta_u64("last_seq").await.ok().flatten().unwrap_or(0),
            s.meta_u64("version").await.ok().flatten().unwrap_or(0),
        ),
        None => (0, 0),
    };
    let after = center.last_seq().max(stored_seq);
    // The stored seq only grows (a batch may hold an older item whose state changed).
    let mut last_stored = after;
    let hello = ClientFrame::Hello {
        v: PROTOCOL_VERSION,
        after,
        changes_after,
    }
    .encode();
    // Everything goes out through one writer, `hello` first. The writer stops with the
    // session: a send to a socket that closed while connecting never completes. An empty
    // text asks it to send what the outbox holds (see `Center::send`).
    let (tx, mut rx) = futures_channel::mpsc::unbounded::<String>();
    let _ = tx.unbounded_send(hello);
    let (stop, stopped) = futures_channel::oneshot::channel::<()>();
    let acks = Rc::new(RefCell::new(Acks::default()));
    let writer_acks = acks.clone();
    let writer_store = store.clone();
    leptos::task::spawn_local(async move {
        let heartbeat = ClientFrame::Ping.encode();
        let write = async move {
            while let Some(text) = rx.next().await {
                let mut out = Vec::new();
                if text.is_empty() {
                    let Some(store) = &writer_store else { continue };
                    let queued = store.outbox().await.unwrap_or_default();
                    let mut acks = writer_acks.borrow_mut();
                    for (key, frame) in queued {
                        if !acks.sent.contains(&key) {
                            acks.sent.push(key);
                            acks.since_ping.push(key);
                            out.push(frame);
                        }
                    }
                    if out.is_empty() {
                        continue;
                    }
                    out.push(HANDLED_PING.to_owned());
                } else if text == heartbeat && !writer_acks.borrow().pings.is_empty() {
                    // Pongs are matched to pings in order: while one answered by the Inbox is
                    // awaited, a heartbeat's (answered by the runtime at once) would overtake it.
                    out.push(HANDLED_PING.to_owned());
                } else {
                    out.push(text);
                }
                for text in out {
                    if text == heartbeat || text == HANDLED_PING {
                        // The keys sent before this ping leave the outbox with its pong.
                        let mut acks = writer_acks.borrow_mut();
                        let keys = std::mem::take(&mut acks.since_ping);
                        acks.pings.push_back(keys);
                    }
                    if sink.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
            }
        };
        select(std::pin::pin!(write), stopped).await;
    });
    let mut welcomed = false;
    let mut synced = false;
    // Notifications replayed before `synced` on a resume (not on a first load).
    let mut missed = 0u64;
    let mut resuming = after > 0;
    let mut batch: Vec<Notification> = Vec::new();
    let mut version_heard: Option<u64> = None;
    let mut held_version: Option<u64> = None;
    // Whether every batch this session wrote reached IndexedDB (see `persist`).
    let mut all_saved = true;
    loop {
        let msg = if welcomed {
            // A quiet socket is asked for a pong; none means a dead connection that still
            // looks open (a laptop that slept, a network that changed): reconnect.
            let quiet = gloo_timers::future::TimeoutFuture::new(HEARTBEAT_MS);
            match select(stream.next(), std::pin::pin!(quiet)).await {
                Either::Left((msg, _)) => msg,
                Either::Right((_, next)) => {
                    let _ = tx.unbounded_send(ClientFrame::Ping.encode());
                    let wait = gloo_timers::future::TimeoutFuture::new(PONG_TIMEOUT_MS);
                    match select(next, std::pin::pin!(wait)).await {
                        Either::Left((msg, _)) => msg,
                        Either::Right(_) => {
                            leptos::logging::warn!(
                                "tidings: no answer to a ping within 10 s; reconnecting"
                            );
                            None
                        }
                    }
                }
            }
        } else {
            let timeout = gloo_timers::future::TimeoutFuture::new(WELCOME_TIMEOUT_MS);
            match select(stream.next(), std::pin::pin!(timeout)).await {
                Either::Left((msg, _)) => msg,
                Either::Right(_) => {
                    leptos::logging::warn!(
                        "tidings: no welcome from the edge within 15 s; retrying"
                    );
                    None
                }
            }
        };
        let Some(Ok(Message::Text(text))) = msg else {
            break;
        };
        let frame = match ServerFrame::decode(&text) {
            Ok(f) => f,
            Err(e) => {
                leptos::logging::warn!("tidings: {e}");
                continue;
            }
        };
        if !welcomed {
            if !matches!(frame, ServerFrame::Welcome { .. }) {
                leptos::logging::warn!("tidings: the edge answered hello with {text}");
                break;
            }
            welcomed = true;
            // Frames queued while there was no socket go out right after the hello, in order,
            // then a ping; they leave the outbox only when its pong arrives on this socket.
            let _ = tx.unbounded_send(String::new());
            center.set_sender(Some(tx.clone()));
        }
        if let ServerFrame::Pong = frame {
            let answered = acks.borrow_mut().pings.pop_front().unwrap_or_default();
            if let (Some(store), false) = (&store, answered.is_empty()) {
                if store.unqueue(&answered).await.is_ok() {
                    acks.borrow_mut().sent.retain(|k| !answered.contains(k));
                }
            }
            continue;
        }
        center.relay(&text);
        let is_synced = matches!(frame, ServerFrame::Synced { .. });
        if !synced && resuming && matches!(frame, ServerFrame::Notify { .. }) {
            missed += 1;
        }
        // The newest read-state version heard, saved with the next write of the batch it
        // belongs to (a resume then asks only for changes after it). `welcome` names the
        // edge's version, and the changes of a resume lead up to it (a device long offline
        // gets a snapshot: several `changed` frames, each with the edge's version): they count
        // only once `synced` says they all arrived, or a socket lost mid-replay would skip them.
        match &frame {
            ServerFrame::Welcome { version, .. } => held_version = Some(*version),
            ServerFrame::Changed { version, .. } if !synced => {
                held_version = held_version.max(Some(*version));
            }
            ServerFrame::Changed { version, .. } => version_heard = Some(*version),
            ServerFrame::Synced { .. } => {
                version_heard = version_heard.max(held_version.take());
            }
            _ => {}
        }
        if let ServerFrame::Reset { .. } = frame {
            // What follows is the whole history again, not what we missed.
            resuming = false;
            batch.clear();
            last_stored = 0;
            if let Some(store) = &store {
                let _ = store.clear().await;
            }
        }
        batch.extend(center.on_frame(frame));
        // During replay, write in batches; once live, write each frame at once.
        if synced || is_synced || batch.len() >= 200 {
            let items = std::mem::take(&mut batch);
            let version = version_heard.take();
            persist(&store, items, version, &mut last_stored, &mut all_saved).await;
        }
        if is_synced && !synced {
            synced = true;
            center.set_missed(missed);
            // Retention: what core's policy drops from the history held, also from IndexedDB.
            let drop = center.inbox.with_untracked(|i| i.over_retention(RETENTION));
            if let (Some(store), false) = (&store, drop.is_empty()) {
                if store.delete(&drop).await.is_ok() {
                    center.inbox.update(|i| {
                        for id in &drop {
                            i.remove(id);
                        }
                    });
                }
            }
        }
    }
    let _ = stop.send(());
    persist(
        &store,
        batch,
        version_heard,
        &mut last_stored,
        &mut all_saved,
    )
    .await;
    synced
}

/// The outbox frames a session's socket has sent, by IndexedDB key: each leaves the outbox
/// when the Inbox answers the [`HANDLED_PING`] sent after it (it handles a socket's frames in
/// order, and answers that ping itself, not through the runtime's heartbeat auto-response).
#[derive(Default)]
struct Acks {
    /// Keys sent on this socket and not yet removed (never sent twice on one socket).
    sent: Vec<f64>,
    /// Keys sent since the last ping.
    since_ping: Vec<f64>,
    /// For each ping not yet answered, oldest first, the keys it confirms.
    pings: std::collections::VecDeque<Vec<f64>>,
}

/// Writes a batch, then raises the stored `last_seq` past it (only once the batch is saved:
/// a resume must not skip what never reached IndexedDB).
async fn persist(
    store: &Option<Rc<Store>>,
    items: Vec<Notification>,
    version: Option<u64>,
    last_stored: &mut u64,
    all_saved: &mut bool,
) {
    let Some(store) = store else { return };
    let saved = items.is_empty()
        || match store.put_all(&items).await {
            Err(e) => {
                leptos::logging::warn!("tidings: could not save notifications: {e}");
                false
            }
            Ok(()) => {
                let max = items.iter().map(|n| n.seq).max().unwrap_or(0);
                if max > *last_stored && store.set_meta_u64("last_seq", max).await.is_ok() {
                    *last_stored = max;
                }
                true
            }
        };
    // A version is claimed only while every batch of the session was saved: the changes
    // leading up to it may be in any of them (a resume's come first). Else the next resume
    // asks for them again.
    *all_saved &= saved;
    if let (Some(v), true) = (version, *all_saved) {
        let _ = store.set_meta_u64("version", v).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff_ms(0, 0.5), 500);
        assert_eq!(backoff_ms(1, 0.5), 1000);
        assert_eq!(backoff_ms(20, 0.5), 30_000);
        assert!(backoff_ms(3, 0.0) < backoff_ms(3, 1.0));
    }
}
