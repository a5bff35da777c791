//! Live statistics for operators: one Stats Durable Object holding core's
//! windowed counters and latency sketch, fed in small reports by the ingest
//! path (event types, rejections) and by Inboxes (deliveries, latency from
//! ingest to socket send, sockets opened/closed).
//!
//! Reports are sent after the work they describe, never before a
//! notification is delivered, so statistics cost no delivery latency. The
//! figures live in memory: if the object is evicted, the windows restart
//! (they cover the last hour only; Prometheus keeps history).

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use tidings_core::notification::Category;
use tidings_core::stats::{prometheus_text, Stats as Engine};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use crate::http::{error, json};
use crate::now_ms;

/// Binding name of the Stats namespace (wrangler.toml).
pub const STATS_BINDING: &str = "STATS";

/// One batch of observations.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Event types ingested.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Rejection codes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejections: Vec<String>,
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
            && self.delivered.is_empty()
            && self.sockets_delta == 0
    }
}

/// Sends a report; failures are logged, never surfaced (statistics must not break delivery).
pub async fn report(env: &Env, report: Report) {
    if report.is_empty() {
        return;
    }
    let send = async {
        let stub = env.durable_object(STATS_BINDING)?.get_by_name("global")?;
        let mut init = worker::RequestInit::new();
        init.with_method(worker::Method::Post)
            .with_body(Some(serde_json::to_string(&report)?.into()));
        stub.fetch_with_request(Request::new_with_init("https://stats/report", &init)?)
            .await
    };
    if let Err(e) = send.await {
        worker::console_error!("stats report failed: {e}");
    }
}

/// Fetches the snapshot (`json`) or Prometheus text (`metrics`).
pub async fn read(env: &Env, path: &str) -> Result<Response> {
    let stub = env.durable_object(STATS_BINDING)?.get_by_name("global")?;
    stub.fetch_with_str(&format!("https://stats{path}")).await
}

/// The statistics object.
#[durable_object]
pub struct Stats {
    engine: RefCell<Engine>,
    sockets: RefCell<i64>,
}

impl DurableObject for Stats {
    fn new(_state: State, _env: Env) -> Self {
        Stats {
            engine: RefCell::new(Engine::new()),
            sockets: RefCell::new(0),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let now = now_ms();
        match req.path().as_str() {
            "/report" => {
                let report: Report = req.json().await?;
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
                json(200, &serde_json::json!({"ok": true}))
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
}
