//! The Inbox Durable Object: one per shopper, the only place that assigns
//! sequence numbers to their notifications.
//!
//! It is a short loop around core's [`InboxLog`]: requests and socket frames
//! come in, the log decides, [`crate::store`] persists exactly what changed,
//! and only then frames go out to the shopper's sockets (hibernatable, so an
//! idle Inbox costs nothing while devices stay connected).

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use tidings_core::event::Event;
use tidings_core::log::{Change, InboxLog, LogConfig, Replay};
use tidings_core::notification::Notification;
use tidings_core::protocol::{ClientFrame, ServerFrame, PROTOCOL_VERSION};
use tidings_core::route::Throttle;
use tidings_core::rules::Outcome;
use tidings_core::time::Millis;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, State, WebSocket, WebSocketIncomingMessage,
    WebSocketPair,
};

use crate::http::{error, json};
use crate::now_ms;
use crate::store::{self, Loaded};

/// How many notifications one replay page carries before the next is sent.
const REPLAY_PAGE: usize = 200;

/// One notification (or cancellation) for this Inbox, decided by the rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// The event it came from (for de-duplication).
    pub event_id: String,
    /// What to show, when the rule renders something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<Notification>,
    /// Hold it until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_at: Option<Millis>,
    /// Key under which a held item can be cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_key: Option<String>,
    /// Keys of held items this event cancels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cancels: Vec<String>,
    /// The rule's throttle, if any, and its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<(String, Throttle)>,
}

impl Delivery {
    /// Builds a delivery from a rule outcome.
    pub fn from_outcome(event: &Event, outcome: Outcome) -> Self {
        Delivery {
            event_id: event.id.clone(),
            notification: outcome.notification,
            deliver_at: outcome.deliver_at,
            cancel_key: outcome.cancel_key,
            cancels: outcome.cancels,
            throttle: outcome.throttle.map(|t| (outcome.rule.clone(), t)),
        }
    }
}

/// Body of the internal `POST /deliver`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeliverRequest {
    /// The shopper.
    pub user: String,
    /// What to deliver, in event order.
    pub deliveries: Vec<Delivery>,
}

/// Answer to `POST /deliver`: for each delivery, whether its event was new.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeliverResponse {
    /// `false` means the event id was seen before (a duplicate).
    pub fresh: Vec<bool>,
}

/// What a socket has told us, kept across hibernation in its attachment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SocketState {
    /// Replay is done; live frames may be sent.
    live: bool,
}

/// The per-user Inbox.
#[durable_object]
pub struct Inbox {
    state: State,
    #[allow(dead_code)]
    env: Env,
    loaded: RefCell<Option<Loaded>>,
    config: LogConfig,
}

impl Inbox {
    fn sql(&self) -> worker::SqlStorage {
        self.state.storage().sql()
    }

    /// Runs `f` on the loaded state, loading it from SQLite on first use.
    fn with_state<T>(&self, f: impl FnOnce(&mut Loaded) -> Result<T>) -> Result<T> {
        let mut slot = self.loaded.borrow_mut();
        if slot.is_none() {
            *slot = Some(store::load(&self.sql(), self.config)?);
        }
        f(slot.as_mut().expect("just loaded"))
    }

    fn remember_user(&self, user: &str) -> Result<()> {
        let sql = self.sql();
        if store::get_meta::<String>(&sql, "user")?.is_none() {
            store::put_meta(&sql, "user", &user)?;
        }
        Ok(())
    }

    fn user(&self) -> Result<String> {
        Ok(store::get_meta::<String>(&self.sql(), "user")?.unwrap_or_default())
    }

    fn live_sockets(&self) -> Vec<WebSocket> {
        self.state
            .get_websockets()
            .into_iter()
            .filter(|ws| ws.deserialize_attachment::<SocketState>().ok().flatten().is_some_and(|s| s.live))
            .collect()
    }

    fn broadcast(&self, frame: &ServerFrame) {
        let text = frame.encode();
        for ws in self.live_sockets() {
            let _ = ws.send_with_str(&text);
        }
    }

    async fn deliver(&self, mut req: Request) -> Result<Response> {
        let request: DeliverRequest = match req.json().await {
            Ok(r) => r,
            Err(e) => return error(400, "bad_request", &e.to_string()),
        };
        self.remember_user(&request.user)?;
        let now = now_ms();
        let sql = self.sql();
        let mut frames = Vec::new();
        let fresh = self.with_state(|st| {
            let mut fresh = Vec::with_capacity(request.deliveries.len());
            let mut new_here: Vec<&str> = Vec::new();
            for d in &request.deliveries {
                let is_new = if new_here.contains(&d.event_id.as_str()) {
                    true
                } else if st.log.record_event(&d.event_id, now) {
                    store::write_seen(&sql, &d.event_id, now)?;
                    new_here.push(&d.event_id);
                    true
                } else {
                    false
                };
                fresh.push(is_new);
                if !is_new {
                    continue;
                }
                if let Some(n) = d.notification.clone() {
                    let appended = st.log.append(n, now);
                    store::write_appended(&sql, &appended, &st.log.meta())?;
                    frames.push(ServerFrame::Notify { notification: appended.notification });
                }
            }
            let forgotten = st.log.prune_seen(now);
            store::forget_seen(&sql, &forgotten)?;
            Ok(fresh)
        })?;
        // Stored above; only now tell the sockets.
        for frame in &frames {
            self.broadcast(frame);
        }
        json(200, &DeliverResponse { fresh })
    }

    fn accept_socket(&self, req: &Request) -> Result<Response> {
        let user = req.url()?.query_pairs().find(|(k, _)| k == "user").map(|(_, v)| v.into_owned()).unwrap_or_default();
        if !user.is_empty() {
            self.remember_user(&user)?;
        }
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        pair.server.serialize_attachment(SocketState::default())?;
        Response::from_websocket(pair.client)
    }

    fn history(&self, req: &Request) -> Result<Response> {
        let url = req.url()?;
        let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        let after = match param("after").map(|a| a.parse::<u64>()) {
            None => 0,
            Some(Ok(a)) => a,
            Some(Err(_)) => return error(400, "bad_parameter", "`after` must be a whole number (a seq)"),
        };
        let limit = match param("limit").map(|a| a.parse::<usize>()) {
            None => 50,
            Some(Ok(l)) if (1..=200).contains(&l) => l,
            Some(_) => return error(400, "bad_parameter", "`limit` must be between 1 and 200"),
        };
        self.with_state(|st| match st.log.replay(after, limit) {
            Replay::Items { items, more } => json(
                200,
                &serde_json::json!({"items": items, "more": more, "head": st.log.head(), "version": st.log.version()}),
            ),
            Replay::Reset { oldest } => json(200, &serde_json::json!({"reset": {"oldest": oldest}, "head": st.log.head()})),
        })
    }

    fn on_frame(&self, ws: &WebSocket, text: &str) -> Result<()> {
        let frame = match ClientFrame::decode(text) {
            Ok(f) => f,
            Err(e) => return send(ws, &e.to_frame()),
        };
        let sql = self.sql();
        match frame {
            ClientFrame::Hello { after, changes_after, .. } => {
                let user = self.user()?;
                self.with_state(|st| {
                    send(
                        ws,
                        &ServerFrame::Welcome {
                            v: PROTOCOL_VERSION,
                            user,
                            head: st.log.head(),
                            version: st.log.version(),
                            prefs: st.prefs.clone(),
                            topics: st.topics.clone(),
                        },
                    )?;
                    replay(ws, &st.log, after)?;
                    for c in st.log.changes_after(changes_after) {
                        send(ws, &changed(c))?;
                    }
                    send(ws, &ServerFrame::Synced { head: st.log.head() })
                })?;
                ws.serialize_attachment(SocketState { live: true })?;
            }
            ClientFrame::Mark { ids, state } => {
                let change = self.with_state(|st| {
                    let change = st.log.mark(&ids, state);
                    if let Some(c) = &change {
                        store::write_change(&sql, &st.log, c, self.config.change_history)?;
                    }
                    Ok(change)
                })?;
                if let Some(c) = change {
                    self.broadcast(&changed(c));
                }
            }
            ClientFrame::MarkAllRead { before } => {
                let change = self.with_state(|st| {
                    let change = st.log.mark_all_read(before);
                    if let Some(c) = &change {
                        store::write_change(&sql, &st.log, c, self.config.change_history)?;
                    }
                    Ok(change)
                })?;
                if let Some(c) = change {
                    self.broadcast(&changed(c));
                }
            }
            ClientFrame::Prefs { prefs } => {
                self.with_state(|st| {
                    st.prefs = prefs.clone();
                    store::put_meta(&sql, "prefs", &prefs)
                })?;
                self.broadcast(&ServerFrame::Prefs { prefs });
            }
            ClientFrame::Watch { topic } | ClientFrame::Unwatch { topic } if topic.is_empty() => {}
            ClientFrame::Watch { topic } => {
                let topics = self.with_state(|st| {
                    if !st.topics.contains(&topic) {
                        st.topics.push(topic);
                        store::put_meta(&sql, "topics", &st.topics)?;
                    }
                    Ok(st.topics.clone())
                })?;
                self.broadcast(&ServerFrame::Topics { topics });
            }
            ClientFrame::Unwatch { topic } => {
                let topics = self.with_state(|st| {
                    st.topics.retain(|t| t != &topic);
                    store::put_meta(&sql, "topics", &st.topics)?;
                    Ok(st.topics.clone())
                })?;
                self.broadcast(&ServerFrame::Topics { topics });
            }
            ClientFrame::Ping => send(ws, &ServerFrame::Pong)?,
        }
        Ok(())
    }
}

fn changed(c: Change) -> ServerFrame {
    ServerFrame::Changed { ids: c.ids, state: c.state, version: c.version }
}

fn send(ws: &WebSocket, frame: &ServerFrame) -> Result<()> {
    ws.send_with_str(frame.encode())
}

/// Sends every notification after `after`, page by page, or a reset.
fn replay(ws: &WebSocket, log: &InboxLog, after: u64) -> Result<()> {
    let mut cursor = after;
    loop {
        match log.replay(cursor, REPLAY_PAGE) {
            Replay::Reset { oldest } => {
                send(ws, &ServerFrame::Reset { oldest })?;
                cursor = oldest.saturating_sub(1);
            }
            Replay::Items { items, more } => {
                for n in &items {
                    send(ws, &ServerFrame::Notify { notification: (*n).clone() })?;
                }
                match items.last() {
                    Some(last) if more => cursor = last.seq,
                    _ => return Ok(()),
                }
            }
        }
    }
}

impl DurableObject for Inbox {
    fn new(state: State, env: Env) -> Self {
        if let Err(e) = store::migrate(&state.storage().sql()) {
            worker::console_error!("inbox schema migration failed: {e}");
        }
        Inbox { state, env, loaded: RefCell::new(None), config: LogConfig::default() }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        match req.path().as_str() {
            "/deliver" => self.deliver(req).await,
            "/connect" => self.accept_socket(&req),
            "/history" => self.history(&req),
            _ => error(404, "not_found", "unknown inbox route"),
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        match message {
            WebSocketIncomingMessage::String(text) => self.on_frame(&ws, &text),
            WebSocketIncomingMessage::Binary(_) => send(
                &ws,
                &ServerFrame::Error { code: "bad_frame".into(), message: "frames are JSON text, not binary".into() },
            ),
        }
    }

    async fn websocket_close(&self, ws: WebSocket, _code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        let _ = ws.close(Some(1000), Some("bye"));
        Ok(())
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: worker::Error) -> Result<()> {
        Ok(())
    }
}
