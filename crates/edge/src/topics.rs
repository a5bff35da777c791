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

use std::collections::HashSet;

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use tidings_core::fanout::stored_ids;
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

    /// The rows `query` (one `?`, the event id) finds under every id `event_id` may be stored
    /// by: its route key, and the bare id stored before route keys (`core::fanout::stored_ids`).
    fn rows_for_event<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
        event_id: &str,
    ) -> Result<Vec<T>> {
        let sql = self.state.storage().sql();
        let mut rows = Vec::new();
        for id in stored_ids(event_id) {
            rows.extend(sql.exec(query, vec![id.into()])?.to_array::<T>()?);
        }
        Ok(rows)
    }

    /// `true` when this topic has fanned `event_id` out to all its members before.
    fn seen(&self, event_id: &str) -> Result<bool> {
        let counts: Vec<Count> = self.rows_for_event(
            "SELECT COUNT(*) AS n FROM seen WHERE event_id = ?",
            event_id,
        )?;
        Ok(counts.iter().any(|c| c.n > 0.0))
    }

    /// The `(event id, member)` pairs earlier tries of these events delivered.
    fn reached(&self, event_ids: &[&str]) -> Result<HashSet<(String, String)>> {
        let mut reached = HashSet::new();
        for id in event_ids {
            let rows: Vec<Member> =
                self.rows_for_event("SELECT user FROM reached WHERE event_id = ?", id)?;
            reached.extend(rows.into_iter().map(|m| ((*id).to_owned(), m.user)));
        }
        Ok(reached)
    }

    /// Sends the new deliveries to every member's Inbox. An event counts as
    /// fanned out (and a repeat of it as a duplicate) only once every member's
    /// Inbox has stored it: when any call fails nothing is marked, the answer
    /// is 503 and the producer retries. The members reached are remembered
    /// (`core::fanout`), so the retry calls only the Inboxes that missed it.
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
        let mut event_ids: Vec<&str> = Vec::new();
        for d in &to_send {
            if !event_ids.contains(&d.event_id.as_str()) {
                event_ids.push(&d.event_id);
            }
        }
        let plan = tidings_core::fanout::owed(&members, &event_ids, &self.reached(&event_ids)?);
        let mut report = crate::stats::Report::default();
        let mut failed = 0usize;
        let mut first_error = None;
        let mut reached_now: Vec<(&str, &str)> = Vec::new();
        for chunk in plan.chunks(FANOUT_BATCH) {
            let calls = chunk.iter().map(|(user, owed)| {
                let owed_ids: Vec<&str> = owed.iter().map(|&i| event_ids[i]).collect();
                let request = DeliverRequest {
                    user: (*user).to_owned(),
                    deliveries: to_send
                        .iter()
                        .filter(|d| owed_ids.contains(&d.event_id.as_str()))
                        .cloned()
                        .collect(),
                };
                async move { (*user, owed_ids, deliver(&self.env, &request).await) }
            });
            for (user, owed_ids, outcome) in join_all(calls).await {
                match outcome {
                    Ok(r) => {
                        report.merge(r.report);
                        reached_now.extend(owed_ids.into_iter().map(|id| (id, user)));
                    }
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
        }
        let sql = self.state.storage().sql();
        let now = now_ms() as f64;
        if let Some(e) = first_error {
            for (id, user) in reached_now {
                sql.exec(
                    "INSERT OR IGNORE INTO reached (event_id, user, at) VALUES (?, ?, ?)",
                    vec![id.into(), user.into(), now.into()],
                )?;
            }
            worker::console_error!(
                "topic fan-out: {failed} of {} inboxes failed: {e}",
                plan.len()
            );
            return error(
                503,
                "fanout_incomplete",
                &format!(
                    "{failed} of {} members could not be reached; retry the event (members \
                     already reached are not called again)",
                    plan.len()
                ),
            );
        }
        for id in &event_ids {
            sql.exec(
                "INSERT OR IGNORE INTO seen (event_id, at) VALUES (?, ?)",
                vec![(*id).into(), now.into()],
            )?;
            sql.exec("DELETE FROM reached WHERE event_id = ?", vec![(*id).into()])?;
        }
        // Remembered as long as an Inbox remembers an event id.
        let window = tidings_core::log::LogConfig::default().dedup_window as f64;
        sql.exec("DELETE FROM seen WHERE at < ?", vec![(now - window).into()])?;
        sql.exec(
            "DELETE FROM reached WHERE at < ?",
            vec![(now - window).into()],
        )?;
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
            // Members an unfinished fan-out reached, per event, so its retry skips them.
            "CREATE TABLE IF NOT EXISTS reached (event_id TEXT NOT NULL, user TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (event_id, user))",
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
