//! Topics and segments: one Topic Durable Object per topic (`stock:sku-1`)
//! or segment (`segment:all`, `segment:ops`), holding its members in SQLite
//! and fanning a delivery out to every member's Inbox in batches.
//!
//! Shoppers join topics with `watch` frames; every Inbox joins `segment:all`
//! when it first learns its user, and ops users join `segment:ops`. On
//! Cloudflare each topic is its own object, so topics spread over the fleet;
//! a very large segment is fanned out in concurrent batches of
//! [`FANOUT_BATCH`] Inbox calls (the next step for millions of users would be
//! sharding a segment over several Topic objects or a Queue).

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use crate::http::{error, json};
use crate::inbox::{DeliverRequest, Delivery};
use crate::ingest::deliver;
use crate::now_ms;

/// Binding name of the Topic namespace (wrangler.toml).
pub const TOPIC_BINDING: &str = "TOPIC";
/// Inbox calls in flight at once during a fan-out.
pub const FANOUT_BATCH: usize = 50;

/// Body of `POST /fanout`.
#[derive(Debug, Serialize, Deserialize)]
pub struct FanoutRequest {
    /// The deliveries, each to go to every member.
    pub deliveries: Vec<Delivery>,
}

/// Answer to `POST /fanout`: per delivery, whether its event was new here.
#[derive(Debug, Serialize, Deserialize)]
pub struct FanoutResponse {
    /// `false` for an event id this topic already fanned out.
    pub fresh: Vec<bool>,
    /// Members reached.
    pub members: usize,
    /// Deliveries to sockets and their latency across the members' Inboxes.
    #[serde(default)]
    pub report: crate::stats::Report,
}

/// Adds or removes `user` in `topic`.
pub async fn set_member(env: &Env, topic: &str, user: &str, member: bool) -> Result<()> {
    let stub = env.durable_object(TOPIC_BINDING)?.get_by_name(topic)?;
    let url = format!(
        "https://topic/{}?user={}",
        if member { "join" } else { "leave" },
        crate::router::urlencode(user)
    );
    let mut init = worker::RequestInit::new();
    init.with_method(worker::Method::Post);
    let answer = stub
        .fetch_with_request(Request::new_with_init(&url, &init)?)
        .await?;
    if answer.status_code() != 200 {
        return Err(worker::Error::RustError(format!(
            "topic {topic} answered {} to a membership change",
            answer.status_code()
        )));
    }
    Ok(())
}

/// Fans deliveries out to every member of `topic`.
pub async fn fanout(env: &Env, topic: &str, deliveries: Vec<Delivery>) -> Result<FanoutResponse> {
    crate::object_call::post_json(
        env,
        TOPIC_BINDING,
        topic,
        "https://topic/fanout",
        &FanoutRequest { deliveries },
    )
    .await
}

/// One topic or segment.
#[durable_object]
pub struct Topic {
    state: State,
    env: Env,
}

#[derive(Deserialize)]
struct Member {
    user: String,
}

#[derive(Deserialize)]
struct Count {
    n: f64,
}

impl Topic {
    fn members(&self) -> Result<Vec<String>> {
        let rows: Vec<Member> = self
            .state
            .storage()
            .sql()
            .exec("SELECT user FROM members", None)?
            .to_array()?;
        Ok(rows.into_iter().map(|m| m.user).collect())
    }

    /// `true` when this topic has fanned `event_id` out to all its members before.
    fn seen(&self, event_id: &str) -> Result<bool> {
        let seen: Vec<Count> = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT COUNT(*) AS n FROM seen WHERE event_id = ?",
                vec![event_id.into()],
            )?
            .to_array()?;
        Ok(seen.first().is_some_and(|c| c.n > 0.0))
    }

    /// Sends the new deliveries to every member's Inbox. An event counts as
    /// fanned out (and a repeat of it as a duplicate) only once every member's
    /// Inbox has stored it: when any call fails nothing is marked, the answer
    /// is 503 and the producer's retry reaches the members that missed it
    /// (those that have it answer it as a duplicate themselves).
    async fn fanout(&self, mut req: Request) -> Result<Response> {
        let request: FanoutRequest = crate::http::request_json(&mut req).await?;
        let mut fresh = Vec::with_capacity(request.deliveries.len());
        let mut to_send = Vec::new();
        for d in request.deliveries {
            // Several outcomes of one event (two rules, one topic) all go out.
            let is_new = !self.seen(&d.event_id)?;
            fresh.push(is_new);
            if is_new {
                to_send.push(d);
            }
        }
        let members = self.members()?;
        let mut report = crate::stats::Report::default();
        let mut failed = 0usize;
        let mut first_error = None;
        if !to_send.is_empty() {
            for chunk in members.chunks(FANOUT_BATCH) {
                let calls = chunk.iter().map(|user| {
                    let request = DeliverRequest {
                        user: user.clone(),
                        deliveries: to_send.clone(),
                    };
                    async move { deliver(&self.env, &request).await }
                });
                for outcome in join_all(calls).await {
                    match outcome {
                        Ok(r) => report.merge(r.report),
                        Err(e) => {
                            failed += 1;
                            first_error.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
            }
        }
        if let Some(e) = first_error {
            worker::console_error!(
                "topic fan-out: {failed} of {} inboxes failed: {e}",
                members.len()
            );
            return error(
                503,
                "fanout_incomplete",
                &format!(
                    "{failed} of {} members could not be reached; retry the event",
                    members.len()
                ),
            );
        }
        let sql = self.state.storage().sql();
        let now = now_ms() as f64;
        for d in &to_send {
            sql.exec(
                "INSERT OR IGNORE INTO seen (event_id, at) VALUES (?, ?)",
                vec![d.event_id.as_str().into(), now.into()],
            )?;
        }
        // Remembered as long as an Inbox remembers an event id.
        let window = tidings_core::log::LogConfig::default().dedup_window as f64;
        sql.exec("DELETE FROM seen WHERE at < ?", vec![(now - window).into()])?;
        json(
            200,
            &FanoutResponse {
                fresh,
                members: members.len(),
                report,
            },
        )
    }
}

impl DurableObject for Topic {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        for stmt in [
            "CREATE TABLE IF NOT EXISTS members (user TEXT PRIMARY KEY)",
            "CREATE TABLE IF NOT EXISTS seen (event_id TEXT PRIMARY KEY, at INTEGER NOT NULL)",
        ] {
            if let Err(e) = sql.exec(stmt, None) {
                worker::console_error!("topic schema failed: {e}");
            }
        }
        Topic { state, env }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let url = req.url()?;
        let user = url
            .query_pairs()
            .find(|(k, _)| k == "user")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let sql = self.state.storage().sql();
        match url.path() {
            "/join" if !user.is_empty() => {
                sql.exec(
                    "INSERT OR IGNORE INTO members (user) VALUES (?)",
                    vec![user.into()],
                )?;
                json(200, &serde_json::json!({"ok": true}))
            }
            "/leave" if !user.is_empty() => {
                sql.exec("DELETE FROM members WHERE user = ?", vec![user.into()])?;
                json(200, &serde_json::json!({"ok": true}))
            }
            "/fanout" => self.fanout(req).await,
            _ => error(404, "not_found", "unknown topic route"),
        }
    }
}
