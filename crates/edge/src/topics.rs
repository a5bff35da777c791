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
    stub.fetch_with_request(Request::new_with_init(&url, &init)?)
        .await?;
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

    async fn fanout(&self, mut req: Request) -> Result<Response> {
        let request: FanoutRequest = crate::http::request_json(&mut req).await?;
        let sql = self.state.storage().sql();
        let now = now_ms();
        let mut fresh = Vec::with_capacity(request.deliveries.len());
        let mut to_send = Vec::new();
        for d in request.deliveries {
            let seen: Vec<Count> = sql
                .exec(
                    "SELECT COUNT(*) AS n FROM seen WHERE event_id = ?",
                    vec![d.event_id.as_str().into()],
                )?
                .to_array()?;
            let is_new = seen.first().is_none_or(|c| c.n == 0.0);
            fresh.push(is_new);
            if is_new {
                sql.exec(
                    "INSERT INTO seen (event_id, at) VALUES (?, ?)",
                    vec![d.event_id.as_str().into(), (now as f64).into()],
                )?;
                to_send.push(d);
            }
        }
        let members = self.members()?;
        let mut report = crate::stats::Report::default();
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
                            worker::console_error!("topic fan-out to an inbox failed: {e}")
                        }
                    }
                }
            }
        }
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
