//! Live statistics and alerts for operators: one Stats Durable Object holding
//! core's windowed counters, latency sketch, the last rejected events and the
//! alert engine, fed in small reports by the ingest path (event types,
//! rejections with redacted samples) and by Inboxes (deliveries, latency from
//! ingest to socket send, sockets opened/closed).
//!
//! - `GET /v1/stats` / `GET /metrics` read a snapshot (JSON / Prometheus).
//! - `GET /v1/ops/live` is a WebSocket to this object: an `ops` snapshot on
//!   the page's first `ping`, then a tick every second with the seconds completed since
//!   (core::ops). Nothing is polled; the object's alarm drives the ticks.
//! - Alerts (core::alerts, `rules/alerts.toml`) are evaluated on every report
//!   and on the alarm (every second while an ops page is open, every
//!   [`EVALUATE_EVERY_MS`] otherwise). A change is stored as a pending event
//!   and routed by the alarm through the normal rules (`segment:ops`), so a
//!   failed fan-out is retried and the report that caused it is not held up.
//!
//! Reports are sent after the work they describe, never before a
//! notification is delivered, so statistics cost no delivery latency. The
//! figures live in memory: if the object is evicted, the windows restart
//! (they cover the last hour only; Prometheus keeps history); alert states
//! and pending alert events are in storage and survive.

use std::cell::{Cell, RefCell};

use serde::{Deserialize, Serialize};
use tidings_core::alerts::{AlertEngine, AlertRules, AlertStates};
use tidings_core::event::Event;
use tidings_core::ingest::{Rejection, Verdict};
use tidings_core::notification::Category;
use tidings_core::ops::{self, OpsFrame, Recent, RejectedEvent, RECENT_REJECTED};
use tidings_core::redact::{payload_excerpt, EXCERPT_CHARS};
use tidings_core::stats::{prometheus_text, Stats as Engine};
use tidings_core::time::Millis;
use worker::{
    durable_object, Context, DurableObject, Env, Request, Response, Result, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
};

use crate::http::{error, json};
use crate::now_ms;

/// Binding name of the Stats namespace (wrangler.toml).
pub const STATS_BINDING: &str = "STATS";
/// Alarm period while an ops page is connected.
pub const TICK_EVERY_MS: i64 = 1_000;
/// Alarm period otherwise (alerts such as "no events for 10 minutes").
pub const EVALUATE_EVERY_MS: i64 = 10_000;
/// Most rejected-event samples one report carries (their codes are all counted).
pub const MAX_SAMPLES_PER_REPORT: usize = RECENT_REJECTED;

const ALERT_STATES_KEY: &str = "alert_states";
const PENDING_KEY: &str = "pending_alert_events";

/// One batch of observations.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Event types ingested.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Rejection codes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejections: Vec<String>,
    /// Redacted samples of rejected events (at most [`MAX_SAMPLES_PER_REPORT`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<RejectedEvent>,
    /// Categories of notifications sent to sockets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delivered: Vec<Category>,
    /// Ingest → socket-send latencies, ms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latencies_ms: Vec<f64>,
    /// Change in open sockets.
    #[serde(default)]
    pub sockets_delta: i64,
}

impl Report {
    /// `true` when there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.rejections.is_empty()
            && self.samples.is_empty()
            && self.delivered.is_empty()
            && self.latencies_ms.is_empty()
            && self.sockets_delta == 0
    }

    /// Adds what `other` observed (deliveries, latencies, events, rejections).
    pub fn merge(&mut self, other: Report) {
        self.events.extend(other.events);
        self.rejections.extend(other.rejections);
        let room = MAX_SAMPLES_PER_REPORT.saturating_sub(self.samples.len());
        self.samples.extend(other.samples.into_iter().take(room));
        self.delivered.extend(other.delivered);
        self.latencies_ms.extend(other.latencies_ms);
        self.sockets_delta += other.sockets_delta;
    }

    /// Counts one rejection and keeps a sample of it (payload redacted and cut).
    pub fn reject(
        &mut self,
        source: &str,
        id: Option<String>,
        reason: &Rejection,
        payload: Option<&[u8]>,
        now: Millis,
    ) {
        self.rejections.push(reason.code.clone());
        if self.samples.len() < MAX_SAMPLES_PER_REPORT {
            self.samples.push(RejectedEvent {
                at: now,
                source: source.to_owned(),
                id,
                code: reason.code.clone(),
                path: reason.path.clone(),
                message: reason.message.clone(),
                payload: payload
                    .map(|p| payload_excerpt(p, EXCERPT_CHARS))
                    .unwrap_or_default(),
                seq: 0, // numbered by the Stats object
            });
        }
    }

    /// A report of one whole request refused (bad signature, malformed body,
    /// too large): `payload` is `None` when it must not be kept (unsigned).
    pub fn refused(
        source: &str,
        code: &str,
        message: &str,
        payload: Option<&[u8]>,
        now: Millis,
    ) -> Report {
        let mut report = Report::default();
        report.reject(
            source,
            None,
            &Rejection::new(code, "", message),
            payload,
            now,
        );
        report
    }
}

/// How long a Worker isolate gathers the reports of its requests before sending them to the
/// Stats object as one: one call per window instead of one per request, so the one Stats
/// object's load grows with the number of isolates, not with the request rate.
pub const GATHER_MS: u64 = 50;

/// A window older than this was not sent by the request that opened it (cancelled, or cut off
/// by a limit); the next report takes it over instead of merging into it forever.
const GATHER_STALE_MS: i64 = 20 * GATHER_MS as i64;

thread_local! {
    /// The reports gathered in this isolate since the window opened, and when it opened.
    static GATHERED: std::cell::RefCell<Option<(Report, Millis)>> =
        const { std::cell::RefCell::new(None) };
}

/// Sends a report after the answer, gathered with the isolate's other reports for up to
/// [`GATHER_MS`]: `ctx` (of the request that opened the window) keeps the Worker alive until
/// they are sent, so no response (a producer's verdicts, a 401) waits for the Stats object.
pub fn report_after(ctx: &Context, env: &Env, report: Report) {
    if report.is_empty() {
        return;
    }
    let now = now_ms();
    let opened = GATHERED.with(|g| {
        let mut g = g.borrow_mut();
        if let Some((gathered, since)) = g.as_mut() {
            if now - *since < GATHER_STALE_MS {
                gathered.merge(report);
                return false;
            }
        }
        // Nothing gathered, or a window its request never sent: this request sends it.
        let mut gathered = g.take().map(|(r, _)| r).unwrap_or_default();
        gathered.merge(report);
        *g = Some((gathered, now));
        true
    });
    if opened {
        let env = env.clone();
        ctx.wait_until(async move {
            worker::Delay::from(std::time::Duration::from_millis(GATHER_MS)).await;
            if let Some((gathered, _)) = GATHERED.with(|g| g.borrow_mut().take()) {
                self::report(&env, gathered).await;
            }
        });
    }
}

/// Sends a report; failures are logged, never surfaced (statistics must not break delivery).
pub async fn report(env: &Env, report: Report) {
    if report.is_empty() {
        return;
    }
    let send = async {
        let body = serde_json::to_string(&report)?;
        crate::object_call::post(env, STATS_BINDING, "global", "https://stats/report", &body).await
    };
    match send.await {
        Ok(answer) if answer.status != 200 => {
            worker::console_error!("stats report refused ({}): {}", answer.status, answer.text)
        }
        Ok(_) => {}
        Err(e) => worker::console_error!("stats report failed: {e}"),
    }
}

/// Fetches the snapshot (`json`) or Prometheus text (`metrics`).
pub async fn read(env: &Env, path: &str) -> Result<Response> {
    let stub = env.durable_object(STATS_BINDING)?.get_by_name("global")?;
    stub.fetch_with_str(&format!("https://stats{path}")).await
}

/// Hands an ops WebSocket upgrade to the Stats object.
pub async fn live(env: &Env) -> Result<Response> {
    let headers = worker::Headers::new();
    headers.set("Upgrade", "websocket")?;
    let mut init = worker::RequestInit::new();
    init.with_headers(headers);
    let stub = env.durable_object(STATS_BINDING)?.get_by_name("global")?;
    stub.fetch_with_request(Request::new_with_init("https://stats/live", &init)?)
        .await
}

/// The statistics object.
#[durable_object]
pub struct Stats {
    state: State,
    env: Env,
    engine: RefCell<Engine>,
    sockets: RefCell<i64>,
    /// When these in-memory statistics started (a `below` alert needs its window covered).
    started_at: Millis,
    recent: RefCell<Recent<RejectedEvent>>,
    /// Rejections since the last tick, for the ops sockets.
    unsent: RefCell<Vec<RejectedEvent>>,
    alerts: RefCell<Option<AlertEngine>>,
    /// Last second sent to the ops sockets.
    last_tick: Cell<Millis>,
    /// Numbers the rejected-event samples, so identical ones stay distinct on the page.
    sample_seq: Cell<u64>,
    /// When the alarm is due (0: none), once read from storage.
    alarm_at: Cell<Millis>,
    alarm_known: Cell<bool>,
}

impl Stats {
    fn ops_sockets(&self) -> Vec<WebSocket> {
        self.state.get_websockets()
    }

    /// Loads the alert engine with its persisted states, once.
    async fn load_alerts(&self) -> Result<()> {
        if self.alerts.borrow().is_some() {
            return Ok(());
        }
        let states: AlertStates = self
            .state
            .storage()
            .get(ALERT_STATES_KEY)
            .await?
            .unwrap_or_default();
        let mut slot = self.alerts.borrow_mut();
        if slot.is_none() {
            *slot = Some(AlertEngine::with_states(
                AlertRules::default_rules(),
                states,
            ));
        }
        Ok(())
    }

    /// Evaluates the alerts; changes become pending events and arm the alarm.
    async fn evaluate(&self, now: Millis) -> Result<()> {
        self.load_alerts().await?;
        let (events, states) = {
            let stats = self.engine.borrow();
            let mut slot = self.alerts.borrow_mut();
            let Some(engine) = slot.as_mut() else {
                return Ok(());
            };
            let changes = engine.evaluate(&stats, self.started_at, now);
            if changes.is_empty() {
                return Ok(());
            }
            let events: Vec<Event> = changes.iter().filter_map(|c| engine.event_for(c)).collect();
            (events, engine.states().clone())
        };
        let storage = self.state.storage();
        let mut pending: Vec<Event> = storage.get(PENDING_KEY).await?.unwrap_or_default();
        pending.extend(events);
        // The event first: a state change is never stored without its event.
        storage.put(PENDING_KEY, &pending).await?;
        storage.put(ALERT_STATES_KEY, &states).await?;
        self.arm(1).await
    }

    /// Makes sure the alarm runs within `within` ms. The due time is kept in
    /// memory, so a report costs no storage call unless the alarm must move.
    async fn arm(&self, within: i64) -> Result<()> {
        let storage = self.state.storage();
        if !self.alarm_known.get() {
            self.alarm_at.set(storage.get_alarm().await?.unwrap_or(0));
            self.alarm_known.set(true);
        }
        let within = within.max(1);
        let wanted = now_ms() + within;
        let due = self.alarm_at.get();
        if due == 0 || due > wanted {
            storage.set_alarm(within).await?;
            self.alarm_at.set(wanted);
        }
        Ok(())
    }

    fn gauges(&self, now: Millis) -> ops::Gauges {
        let stats = self.engine.borrow();
        let alerts = self
            .alerts
            .borrow()
            .as_ref()
            .map(|a| a.statuses(&stats, self.started_at, now))
            .unwrap_or_default();
        ops::gauges(&stats, alerts, now)
    }

    fn snapshot_frame(&self, now: Millis) -> OpsFrame {
        let gauges = self.gauges(now);
        ops::snapshot(
            &self.engine.borrow(),
            gauges,
            self.recent.borrow().to_vec(),
            now,
        )
    }

    /// Sends the ops sockets what completed since the last tick.
    fn tick(&self, now: Millis) {
        let sockets = self.ops_sockets();
        if sockets.is_empty() {
            self.unsent.borrow_mut().clear();
            return;
        }
        let seconds = ops::seconds_since(&self.engine.borrow(), self.last_tick.get(), now);
        let frame = match seconds {
            Some(seconds) => OpsFrame::Tick {
                at: now,
                seconds,
                gauges: self.gauges(now),
                rejected: std::mem::take(&mut *self.unsent.borrow_mut()),
            },
            None => {
                self.unsent.borrow_mut().clear();
                self.snapshot_frame(now)
            }
        };
        self.last_tick.set(ops::last_complete_second(now));
        let text = frame.encode();
        for ws in sockets {
            let _ = ws.send_with_str(&text);
        }
    }

    /// Routes pending alert events to `segment:ops`. Events that could not
    /// be stored stay pending (retried by the next alarm); events the rules
    /// refuse are logged and counted as rejections. Reports that arrive while
    /// routing may add new pending events: only the routed ones are removed.
    async fn route_pending(&self, now: Millis) -> Result<()> {
        let storage = self.state.storage();
        let pending: Vec<Event> = storage.get(PENDING_KEY).await?.unwrap_or_default();
        if pending.is_empty() {
            return Ok(());
        }
        let routed =
            crate::ingest::route_events(pending.iter().cloned().map(Ok).collect(), &self.env, now)
                .await;
        let (verdicts, report) = match routed {
            Ok(r) => r,
            Err(e) => {
                worker::console_error!("routing alert events failed (will retry): {e}");
                return Ok(());
            }
        };
        let mut done: Vec<&str> = Vec::new();
        let mut refused = Report::default();
        for (event, verdict) in pending.iter().zip(&verdicts) {
            match verdict {
                Verdict::Rejected { reason, .. } if reason.code == "storage_unavailable" => {}
                Verdict::Rejected { id, reason } => {
                    worker::console_error!(
                        "alert event {} refused by the rules ({}): {}",
                        event.id,
                        reason.code,
                        reason.message
                    );
                    refused.reject("alerts", id.clone(), reason, None, now);
                    done.push(&event.id);
                }
                _ => done.push(&event.id),
            }
        }
        // Alert notifications delivered count like any other delivery; the
        // alert events themselves are not store traffic (they would end "no events").
        refused.delivered = report.delivered;
        refused.latencies_ms = report.latencies_ms;
        self.record(refused, now_ms());
        // Re-read: a report may have added events while the fan-out ran.
        let current: Vec<Event> = storage.get(PENDING_KEY).await?.unwrap_or_default();
        let left: Vec<Event> = current
            .into_iter()
            .filter(|e| !done.contains(&e.id.as_str()))
            .collect();
        if left.is_empty() {
            storage.delete(PENDING_KEY).await?;
        } else {
            storage.put(PENDING_KEY, &left).await?;
        }
        Ok(())
    }

    fn record(&self, report: Report, now: Millis) {
        let mut engine = self.engine.borrow_mut();
        for kind in &report.events {
            engine.record_event(kind, now);
        }
        for code in &report.rejections {
            engine.record_rejection(code, now);
        }
        for category in &report.delivered {
            engine.record_notification(*category, now);
        }
        if !report.delivered.is_empty() {
            engine.record_deliveries(report.delivered.len() as u64, now);
        }
        for ms in &report.latencies_ms {
            engine.record_latency(*ms, now);
        }
        let mut sockets = self.sockets.borrow_mut();
        *sockets = (*sockets + report.sockets_delta).max(0);
        engine.set_sockets(*sockets as u64);
        if !report.samples.is_empty() {
            let live = !self.ops_sockets().is_empty();
            let mut recent = self.recent.borrow_mut();
            let mut unsent = self.unsent.borrow_mut();
            for mut sample in report.samples {
                self.sample_seq.set(self.sample_seq.get() + 1);
                sample.seq = self.sample_seq.get();
                if live {
                    unsent.insert(0, sample.clone());
                    unsent.truncate(RECENT_REJECTED);
                }
                recent.push(sample);
            }
        }
    }

    fn accept_live(&self) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        let now = now_ms();
        if self.ops_sockets().len() == 1 {
            // The first page: ticks start from this snapshot.
            self.last_tick.set(ops::last_complete_second(now));
            self.unsent.borrow_mut().clear();
        }
        // The page asks for its snapshot with `{"type":"ping"}` once open.
        Response::from_websocket(pair.client)
    }
}

impl DurableObject for Stats {
    fn new(state: State, env: Env) -> Self {
        Stats {
            state,
            env,
            engine: RefCell::new(Engine::new()),
            sockets: RefCell::new(0),
            started_at: now_ms(),
            recent: RefCell::new(Recent::new(RECENT_REJECTED)),
            unsent: RefCell::new(Vec::new()),
            alerts: RefCell::new(None),
            last_tick: Cell::new(0),
            alarm_at: Cell::new(0),
            alarm_known: Cell::new(false),
            sample_seq: Cell::new(0),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let now = now_ms();
        match req.path().as_str() {
            "/report" => {
                let report: Report = crate::http::request_json(&mut req).await?;
                // After the body is read, so a report never lands in a second already ticked.
                let now = now_ms();
                self.record(report, now);
                self.evaluate(now).await?;
                self.arm(EVALUATE_EVERY_MS).await?;
                json(200, &serde_json::json!({"ok": true}))
            }
            "/live" => {
                self.load_alerts().await?;
                let resp = self.accept_live()?;
                self.arm(TICK_EVERY_MS).await?;
                Ok(resp)
            }
            "/snapshot" => json(200, &self.engine.borrow().snapshot(now)),
            "/metrics" => {
                let text = prometheus_text(&self.engine.borrow().snapshot(now));
                let mut resp = Response::ok(text)?;
                resp.headers_mut()
                    .set("Content-Type", "text/plain; version=0.0.4")?;
                Ok(resp)
            }
            _ => error(404, "not_found", "unknown stats route"),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        let now = now_ms();
        // The runtime cleared the alarm that is running now.
        self.alarm_at.set(0);
        self.alarm_known.set(true);
        // A storage hiccup in alerting must not stop the ops page's ticks: log it,
        // tick, and come back soon (pending events and states are retried then).
        let mut retry = false;
        if let Err(e) = self.route_pending(now).await {
            worker::console_error!("routing pending alert events failed (will retry): {e}");
            retry = true;
        }
        if let Err(e) = self.evaluate(now).await {
            worker::console_error!("evaluating alerts failed (will retry): {e}");
            // Reload the states from storage, so the unsaved change is found again.
            *self.alerts.borrow_mut() = None;
            retry = true;
        }
        self.tick(now);
        let storage = self.state.storage();
        let pending: Option<Vec<Event>> = storage.get(PENDING_KEY).await.unwrap_or_default();
        let next = if retry || pending.is_some_and(|p| !p.is_empty()) {
            TICK_EVERY_MS // retry soon
        } else if self.ops_sockets().is_empty() {
            EVALUATE_EVERY_MS
        } else {
            // Just after the next second completes.
            ops::last_complete_second(now) + 2 * TICK_EVERY_MS + 5 - now
        };
        self.arm(next).await?;
        Response::ok("alarm handled")
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        // The ops page only listens; a `ping` gets a fresh snapshot, anything else an error.
        match message {
            WebSocketIncomingMessage::String(text) if text.contains("\"ping\"") => {
                ws.send_with_str(self.snapshot_frame(now_ms()).encode())
            }
            _ => ws.send_with_str(
                serde_json::json!({"type": "error", "code": "bad_frame", "message": "the ops socket only accepts {\"type\":\"ping\"}"})
                    .to_string(),
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
        Ok(())
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: worker::Error) -> Result<()> {
        Ok(())
    }
}
