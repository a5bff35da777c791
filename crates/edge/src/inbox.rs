//! The Inbox Durable Object: one per shopper, the only place that assigns
//! sequence numbers to their notifications.
//!
//! It is a short loop around core's [`InboxLog`]: requests and socket frames
//! come in, the log decides, [`crate::store`] persists exactly what changed,
//! and only then frames go out to the shopper's sockets (hibernatable, so an
//! idle Inbox costs nothing while devices stay connected).

use std::cell::{Cell, RefCell};

use serde::{Deserialize, Serialize};
use tidings_core::event::Event;
use tidings_core::inbox::{query_items, Query};
use tidings_core::log::{Change, InboxLog, LogConfig, Replay};
use tidings_core::notification::Notification;
use tidings_core::protocol::{ClientFrame, ServerFrame, PROTOCOL_VERSION};
use tidings_core::route::{Outcome as Routed, Submission};
use tidings_core::rules::Outcome as RuleOutcome;
use tidings_core::time::{Millis, LATEST};
use tidings_core::watches;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
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
    /// When the event happened (cancellations only remove items created before it).
    pub occurred_at: Millis,
    /// What to show and when, when the rule renders something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission: Option<Submission>,
    /// Keys of held items this event cancels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cancels: Vec<String>,
}

impl Delivery {
    /// Builds a delivery from a rule outcome (its notification moves, not copied).
    pub fn from_outcome(event: &Event, mut outcome: RuleOutcome) -> Self {
        let cancels = std::mem::take(&mut outcome.cancels);
        Delivery {
            event_id: event.id.clone(),
            occurred_at: event.occurred_at,
            submission: outcome.into_submission(),
            cancels,
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
    /// Deliveries to sockets and their latency, for the caller's statistics report.
    #[serde(default)]
    pub report: crate::stats::Report,
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
    env: Env,
    loaded: RefCell<Option<Loaded>>,
    config: LogConfig,
    /// The wake-up the alarm was last set to (`None`: not known yet).
    armed: Cell<Option<Option<Millis>>>,
    /// Whose Inbox this is, once read or written (saves a query per delivery).
    user: RefCell<Option<String>>,
    /// The router state as last written, so a delivery that leaves it unchanged skips the write.
    router_saved: RefCell<Option<String>>,
    /// Held while a watch or unwatch waits for its Topic: the runtime lets other frames in
    /// during that call, and a second change of the list must not interleave with the first.
    watching: futures_util::lock::Mutex<()>,
    /// Watches received and not yet finished, and the pings waiting for them all to finish
    /// (a `HANDLED_PING`'s pong says the frames before it were handled).
    watches_in_flight: Cell<usize>,
    after_watches: RefCell<Vec<futures_channel::oneshot::Sender<()>>>,
}

impl Inbox {
    fn sql(&self) -> worker::SqlStorage {
        self.state.storage().sql()
    }

    /// Runs `f` on the loaded state, loading it from SQLite on first use, in one storage
    /// transaction: when `f` fails, none of its writes stay, and the memory is read again.
    fn with_state<T>(&self, f: impl FnOnce(&mut Loaded) -> Result<T>) -> Result<T> {
        let mut slot = self.loaded.borrow_mut();
        let result = store::transaction(&self.state, || {
            if slot.is_none() {
                *slot = Some(store::load(&self.sql(), self.config)?);
            }
            let Some(state) = slot.as_mut() else {
                return Err(worker::Error::RustError("inbox state not loaded".into()));
            };
            f(state)
        });
        if result.is_err() {
            // Rolled back: the memory may be ahead of SQLite, so read it again next time.
            *slot = None;
            // What was remembered as written may have been rolled back too.
            *self.router_saved.borrow_mut() = None;
        }
        result
    }

    /// Records whose Inbox this is; the first time, joins `segment:all`.
    async fn remember_user(&self, user: &str) -> Result<()> {
        if self.user.borrow().is_some() {
            return Ok(());
        }
        let sql = self.sql();
        let known = match store::get_meta::<String>(&sql, "user")? {
            Some(known) => known,
            None => {
                // Joined first: if joining fails, the next call tries again.
                crate::topics::set_member(&self.env, "segment:all", user, true).await?;
                store::put_meta(&sql, "user", &user)?;
                user.to_owned()
            }
        };
        *self.user.borrow_mut() = Some(known);
        Ok(())
    }

    fn user(&self) -> Result<String> {
        if let Some(user) = self.user.borrow().as_ref() {
            return Ok(user.clone());
        }
        let user = store::get_meta::<String>(&self.sql(), "user")?;
        if let Some(u) = &user {
            *self.user.borrow_mut() = Some(u.clone());
        }
        Ok(user.unwrap_or_default())
    }

    /// Persists the router's state unless it is what was last written.
    fn save_router(
        &self,
        sql: &worker::SqlStorage,
        router: &tidings_core::route::Router,
    ) -> Result<()> {
        let text = serde_json::to_string(router)?;
        if self.router_saved.borrow().as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        store::put_meta_text(sql, "router", &text)?;
        *self.router_saved.borrow_mut() = Some(text);
        Ok(())
    }

    fn live_sockets(&self) -> Vec<WebSocket> {
        self.state
            .get_websockets()
            .into_iter()
            .filter(|ws| {
                ws.deserialize_attachment::<SocketState>()
                    .ok()
                    .flatten()
                    .is_some_and(|s| s.live)
            })
            .collect()
    }

    fn broadcast(&self, frame: &ServerFrame) {
        let text = frame.encode();
        for ws in self.live_sockets() {
            let _ = ws.send_with_str(&text);
        }
    }

    /// Sends notify frames to live sockets, then reports deliveries and
    /// latency to the Stats object (after the response, never before it).
    async fn publish(&self, frames: Vec<ServerFrame>) {
        let report = self.send_frames(frames);
        if report.is_empty() {
            return;
        }
        // Statistics must not hold up the request that delivered.
        let env = self.env.clone();
        self.state
            .wait_until(async move { crate::stats::report(&env, report).await });
    }

    /// Sends notify frames to live sockets; returns what to report (deliveries
    /// and ingest → send latency).
    fn send_frames(&self, frames: Vec<ServerFrame>) -> crate::stats::Report {
        let mut report = crate::stats::Report::default();
        if frames.is_empty() {
            return report;
        }
        let sockets = self.live_sockets();
        for frame in &frames {
            let text = frame.encode();
            for ws in &sockets {
                let _ = ws.send_with_str(&text);
            }
            if let ServerFrame::Notify { notification } = frame {
                if !sockets.is_empty() {
                    report.delivered.push(notification.category);
                    if notification.ingested_at > 0 {
                        report
                            .latencies_ms
                            .push((now_ms() - notification.ingested_at).max(0) as f64);
                    }
                }
            }
        }
        report
    }

    /// Appends to the log and persists it; returns the frame to send once stored, or `None`
    /// for an update older than the item it would replace (kept out of the log).
    fn append(
        &self,
        st: &mut Loaded,
        notification: Notification,
        now: Millis,
    ) -> Result<Option<ServerFrame>> {
        let Some(appended) = st.log.append(notification, now) else {
            return Ok(None);
        };
        store::write_appended(&self.sql(), &appended, &st.log.meta())?;
        Ok(Some(ServerFrame::Notify {
            notification: appended.notification,
        }))
    }

    /// Sets the alarm to the router's next wake-up (scheduled, deferred,
    /// digests). The wake-up last armed is remembered, so a delivery that
    /// changes nothing costs no storage call.
    async fn arm_alarm(&self) -> Result<()> {
        // A read of the state in memory needs no storage transaction; only a cold Inbox loads.
        let cached = self
            .loaded
            .borrow()
            .as_ref()
            .map(|st| st.router.next_wakeup());
        let next = match cached {
            Some(next) => next,
            None => self.with_state(|st| Ok(st.router.next_wakeup()))?,
        };
        if self.armed.get() == Some(next) {
            return Ok(());
        }
        let storage = self.state.storage();
        match next {
            // Core keeps event times within years 0–9999; the clamp keeps any other
            // wake-up a valid date too.
            Some(at) => {
                let delay = (at.min(LATEST) - now_ms()).max(1);
                storage.set_alarm(delay).await?;
            }
            None => storage.delete_alarm().await?,
        }
        self.armed.set(Some(next));
        Ok(())
    }

    async fn deliver(&self, mut req: Request) -> Result<Response> {
        let request: DeliverRequest = match crate::http::request_json(&mut req).await {
            Ok(r) => r,
            Err(e) => return error(400, "bad_request", &e.to_string()),
        };
        self.remember_user(&request.user).await?;
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
                for key in &d.cancels {
                    st.router.cancel(key, d.occurred_at, now);
                }
                if let Some(submission) = d.submission.clone() {
                    if let Routed::Deliver { notification } =
                        st.router.submit(submission, &st.prefs, now)
                    {
                        frames.extend(self.append(st, notification, now)?);
                    }
                }
            }
            let forgotten = st.log.prune_seen(now);
            store::forget_seen(&sql, &forgotten)?;
            self.save_router(&sql, &st.router)?;
            Ok(fresh)
        })?;
        // What the alarm is for is stored already: a failure to arm it must not hold back
        // this delivery's frames (the next delivery or alarm arms it again).
        if let Err(e) = self.arm_alarm().await {
            worker::console_error!("inbox alarm not armed ({e}); held items wait for the next try");
        }
        // Stored above; only now tell the sockets. The statistics of this
        // delivery travel back with the answer, so the caller sends one report
        // for the whole batch instead of one per Inbox.
        let report = self.send_frames(frames);
        json(200, &DeliverResponse { fresh, report })
    }

    async fn accept_socket(&self, req: &Request) -> Result<Response> {
        let url = req.url()?;
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let user = param("user").unwrap_or_default();
        if !user.is_empty() {
            self.remember_user(&user).await?;
            // An ops token joins `segment:ops`; the first connect without one after that (the
            // role was revoked) leaves it again.
            let ops = param("role").as_deref() == Some("ops");
            let sql = self.sql();
            let member = store::get_meta::<bool>(&sql, "ops")?.unwrap_or(false);
            if ops || member {
                crate::topics::set_member(&self.env, "segment:ops", &user, ops).await?;
                store::put_meta(&sql, "ops", &ops)?;
            }
        }
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        crate::stats::report(
            &self.env,
            crate::stats::Report {
                sockets_delta: 1,
                ..Default::default()
            },
        )
        .await;
        pair.server.serialize_attachment(SocketState::default())?;
        Response::from_websocket(pair.client)
    }

    fn history(&self, req: &Request) -> Result<Response> {
        let url = req.url()?;
        let mut after = 0u64;
        let mut params = Vec::new();
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "user" => {}
                "after" => {
                    match v.parse::<u64>() {
                        Ok(a) => after = a,
                        Err(_) => return error(
                            400,
                            "bad_parameter",
                            "`after` must be a whole number (a seq); use `cursor` for query pages",
                        ),
                    }
                }
                _ => params.push((k.into_owned(), v.into_owned())),
            }
        }
        let query = match Query::from_params(params) {
            Ok(q) => q,
            Err(e) => return error(400, "bad_parameter", &e.to_string()),
        };
        let now = now_ms();
        self.with_state(|st| {
            if let Replay::Reset { oldest } = st.log.replay(after, 0, now) {
                return json(
                    200,
                    &serde_json::json!({"reset": {"oldest": oldest}, "head": st.log.head()}),
                );
            }
            let page = query_items(st.log.items().filter(|n| n.seq > after), &query, now);
            json(
                200,
                &serde_json::json!({
                    "items": page.items,
                    "next": page.next.map(|c| c.to_string()),
                    "total_matching": page.total_matching,
                    "head": st.log.head(),
                    "version": st.log.version(),
                }),
            )
        })
    }

    /// Applies a read-state change to the log, persists it, then tells every socket.
    fn change_state(&self, apply: impl FnOnce(&mut InboxLog) -> Option<Change>) -> Result<()> {
        let sql = self.sql();
        let change = self.with_state(|st| {
            let change = apply(&mut st.log);
            if let Some(c) = &change {
                store::write_change(&sql, &st.log, c, self.config.change_history)?;
            }
            Ok(change)
        })?;
        if let Some(c) = change {
            self.broadcast(&changed(c));
        }
        Ok(())
    }

    async fn on_frame(&self, ws: &WebSocket, text: &str) -> Result<()> {
        let frame = match ClientFrame::decode(text) {
            Ok(f) => f,
            Err(e) => return send(ws, &e.to_frame()),
        };
        let sql = self.sql();
        match frame {
            ClientFrame::Hello {
                after,
                changes_after,
                ..
            } => {
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
                    // Changes first, then the items: a replayed item carries its state now, and
                    // an older change must not land on a newer item that replaced one under the
                    // same collapse key (archived on the phone, then "shipped" arrives).
                    for c in st.log.changes_after(changes_after) {
                        send(ws, &changed(c))?;
                    }
                    replay(ws, &st.log, after, now_ms())?;
                    send(
                        ws,
                        &ServerFrame::Synced {
                            head: st.log.head(),
                        },
                    )
                })?;
                ws.serialize_attachment(SocketState { live: true })?;
                // A wake-up left unarmed by a failure after its delivery was stored (the
                // delivery answers anyway) is armed again when the shopper comes back. Armed
                // already since this Inbox woke, this costs no storage call; the first hello
                // after a wake-up sets (or clears) the alarm once.
                if let Err(e) = self.arm_alarm().await {
                    worker::console_error!("inbox alarm not armed on hello ({e})");
                }
            }
            ClientFrame::Mark { ids, state } => self.change_state(|log| log.mark(&ids, state))?,
            ClientFrame::MarkAllRead { before } => {
                self.change_state(|log| log.mark_all_read(before))?
            }
            ClientFrame::Prefs { prefs } => {
                self.with_state(|st| {
                    st.prefs = prefs.clone();
                    store::put_meta(&sql, "prefs", &prefs)
                })?;
                self.broadcast(&ServerFrame::Prefs { prefs });
            }
            ClientFrame::Watch { topic } | ClientFrame::Unwatch { topic } if topic.is_empty() => {}
            ClientFrame::Watch { topic } => self.watch(ws, topic, true).await?,
            ClientFrame::Unwatch { topic } => self.watch(ws, topic, false).await?,
            ClientFrame::Ping => {
                // Only a ping the runtime did not answer itself arrives here: the center's
                // `HANDLED_PING`, whose pong says the frames before it were handled. A watch
                // before it may still await its Topic (the runtime lets frames in meanwhile):
                // the pong waits until no watch is in flight.
                if self.watches_in_flight.get() > 0 {
                    let (done, wait) = futures_channel::oneshot::channel();
                    self.after_watches.borrow_mut().push(done);
                    let _ = wait.await;
                }
                send(ws, &ServerFrame::Pong)?
            }
        }
        Ok(())
    }
}

impl Inbox {
    /// Watches (`on`) or stops watching `topic`: the Topic object learns it first, then the
    /// list is stored and sent to every socket. A watch past [`watches::MAX_WATCHED_TOPICS`]
    /// (checked before any Topic is created) or a Topic that cannot be reached is answered
    /// with an error on `ws` and the list as it is on every socket, so a center that showed
    /// the change at once (in all its tabs) shows the truth again.
    async fn watch(&self, ws: &WebSocket, topic: String, on: bool) -> Result<()> {
        // The runtime lets other frames in while the Topic call is awaited; changes of the
        // list take turns, so the cap and the list hold however watches arrive.
        let _in_flight = InFlight::enter(self);
        let _one_at_a_time = self.watching.lock().await;
        if on {
            let refused = self.with_state(|st| Ok(watches::check(&st.topics, &topic).err()))?;
            if let Some(e) = refused {
                send(ws, &e.to_frame())?;
                return self.broadcast_topics();
            }
        } else if !self.with_state(|st| Ok(watches::is_watched(&st.topics, &topic)))? {
            // Nothing to stop, and no Topic called: every name would be one more stored
            // Durable Object, made without limit around the cap. (A membership left by a list
            // write that failed after its Topic call is undone by watching, then unwatching.)
            return self.broadcast_topics();
        }
        let user = self.user()?;
        let topic_name = format!("topic:{topic}");
        if let Err(e) = crate::topics::set_member(&self.env, &topic_name, &user, on).await {
            worker::console_error!("changing the watch of {topic_name} failed: {e}");
            send(
                ws,
                &ServerFrame::Error {
                    code: "watch_failed".into(),
                    message: "the edge could not change this watch just now; try again".into(),
                },
            )?;
            return self.broadcast_topics();
        }
        let sql = self.sql();
        let topics = self.with_state(|st| {
            let changed = if on {
                watches::watch(&mut st.topics, &topic)
                    .map_err(|e| worker::Error::RustError(e.to_string()))?
            } else {
                watches::unwatch(&mut st.topics, &topic)
            };
            if changed {
                store::put_meta(&sql, "topics", &st.topics)?;
            }
            Ok(st.topics.clone())
        })?;
        self.broadcast(&ServerFrame::Topics { topics });
        Ok(())
    }

    /// Sends the watched topics, as stored, to every socket.
    fn broadcast_topics(&self) -> Result<()> {
        let topics = self.with_state(|st| Ok(st.topics.clone()))?;
        self.broadcast(&ServerFrame::Topics { topics });
        Ok(())
    }
}

/// One watch received and not finished, counted from its frame's arrival until it returns
/// (however it returns), so a ping after it waits for it.
struct InFlight<'a>(&'a Inbox);

impl<'a> InFlight<'a> {
    fn enter(inbox: &'a Inbox) -> Self {
        inbox
            .watches_in_flight
            .set(inbox.watches_in_flight.get() + 1);
        InFlight(inbox)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let left = self.0.watches_in_flight.get().saturating_sub(1);
        self.0.watches_in_flight.set(left);
        if left == 0 {
            for done in self.0.after_watches.borrow_mut().drain(..) {
                let _ = done.send(());
            }
        }
    }
}

fn changed(c: Change) -> ServerFrame {
    ServerFrame::Changed {
        ids: c.ids,
        state: c.state,
        version: c.version,
    }
}

fn send(ws: &WebSocket, frame: &ServerFrame) -> Result<()> {
    ws.send_with_str(frame.encode())
}

/// Sends every notification after `after` not expired by `now`, page by page, or a reset.
fn replay(ws: &WebSocket, log: &InboxLog, after: u64, now: Millis) -> Result<()> {
    let mut cursor = after;
    loop {
        match log.replay(cursor, REPLAY_PAGE, now) {
            Replay::Reset { oldest } => {
                send(ws, &ServerFrame::Reset { oldest })?;
                cursor = oldest.saturating_sub(1);
            }
            Replay::Items { items, more } => {
                for n in &items {
                    send(
                        ws,
                        &ServerFrame::Notify {
                            notification: (*n).clone(),
                        },
                    )?;
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
        // The centers' heartbeat is answered by the runtime without waking a hibernating
        // Inbox (only the exact text matches; any other ping still reaches `on_frame`).
        match worker::worker_sys::WebSocketRequestResponsePair::new(
            &ClientFrame::Ping.encode(),
            &ServerFrame::Pong.encode(),
        ) {
            Ok(pair) => state.set_websocket_auto_response(&pair),
            Err(e) => worker::console_error!("inbox heartbeat auto-response: {e:?}"),
        }
        Inbox {
            state,
            env,
            loaded: RefCell::new(None),
            config: LogConfig::default(),
            armed: Cell::new(None),
            user: RefCell::new(None),
            router_saved: RefCell::new(None),
            watching: futures_util::lock::Mutex::new(()),
            watches_in_flight: Cell::new(0),
            after_watches: RefCell::new(Vec::new()),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        match req.path().as_str() {
            "/deliver" => self.deliver(req).await,
            "/connect" => self.accept_socket(&req).await,
            "/history" => self.history(&req),
            _ => error(404, "not_found", "unknown inbox route"),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        let now = now_ms();
        // The alarm running now is no longer set.
        self.armed.set(Some(None));
        let sql = self.sql();
        let frames = self.with_state(|st| {
            let released = st.router.poll(&st.prefs, now);
            let mut frames = Vec::new();
            for n in released.deliver {
                frames.extend(self.append(st, n, now)?);
            }
            self.save_router(&sql, &st.router)?;
            Ok(frames)
        })?;
        self.publish(frames).await;
        // An error here fails the alarm, which the runtime then retries.
        self.arm_alarm().await?;
        Response::ok("alarm handled")
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        match message {
            WebSocketIncomingMessage::String(text) => self.on_frame(&ws, &text).await,
            WebSocketIncomingMessage::Binary(_) => send(
                &ws,
                &ServerFrame::Error {
                    code: "bad_frame".into(),
                    message: "frames are JSON text, not binary".into(),
                },
            ),
        }
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        _code: usize,
        _reason: String,
        _was_clean: bool,
    ) -> Result<()> {
        let _ = ws.close(Some(1000), Some("bye"));
        crate::stats::report(
            &self.env,
            crate::stats::Report {
                sockets_delta: -1,
                ..Default::default()
            },
        )
        .await;
        Ok(())
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: worker::Error) -> Result<()> {
        Ok(())
    }
}
