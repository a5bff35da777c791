//! `POST /v1/webhooks/{shopify,stripe,woocommerce}`: each platform's own
//! signature over the raw body, then core's decoder, then the same routing as
//! Tidings' own events.
//!
//! Decoding needs a little memory between deliveries (the previous price of a
//! variant, the last stock level, which customer placed an order). That memory
//! lives in one [`PlatformMemory`] Durable Object per platform, whose SQLite
//! answers the decoder's lookups synchronously; the worker sends it the
//! verified body and gets canonical events back. Platforms retry on non-2xx,
//! so permanent problems (a topic Tidings does not notify about, a guest order
//! without a recipient) are answered 200 with a `rejected` verdict; only a
//! signature failure (401), an oversized body (413) or a body that is not
//! JSON (400) are errors.

use serde::{Deserialize, Serialize};
use tidings_core::event::Event;
use tidings_core::ingest::{Limits, Rejection, Verdict};
use tidings_core::signature;
use tidings_core::webhooks::{self, Decoded, Memory, Platform, WebhookHeaders};
use worker::{
    durable_object, Context, DurableObject, Env, Request, Response, Result, SqlStorage, State,
};

use crate::config::{self, names};
use crate::http::{error, json};
use crate::ingest::{note_rejections, route_events};
use crate::now_ms;
use crate::stats::{self, Report};

/// Binding name of the platform memory namespace (wrangler.toml).
pub const MEMORY_BINDING: &str = "PLATFORM_MEMORY";

/// What the worker asks the platform memory to decode.
#[derive(Debug, Serialize, Deserialize)]
pub struct DecodeRequest {
    /// `shopify`, `stripe` or `woocommerce`.
    pub platform: String,
    /// Topic header, if any.
    pub topic: Option<String>,
    /// Delivery id header, if any.
    pub delivery_id: Option<String>,
    /// The verified raw body (JSON text).
    pub body: String,
}

/// The decoder's answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct DecodeResponse {
    /// Canonical events.
    pub events: Vec<Event>,
    /// Why nothing is notified, when nothing is.
    pub skipped: Option<Rejection>,
    /// Why the body could not be decoded.
    pub error: Option<Rejection>,
}

/// Handles a platform webhook.
pub async fn handle(
    req: &mut Request,
    env: &Env,
    ctx: &Context,
    platform: Platform,
) -> Result<Response> {
    let limits = Limits::default();
    let body = match crate::http::body_within(req, limits.max_body_bytes).await? {
        Ok(body) => body,
        Err(size) => {
            let msg = format!(
                "body is {size} bytes, more than the limit of {}",
                limits.max_body_bytes
            );
            let report = Report::refused(platform.name(), "body_too_large", &msg, None, now_ms());
            stats::report_after(ctx, env, report);
            return error(413, "body_too_large", &msg);
        }
    };
    let (secret_name, header_name) = match platform {
        Platform::Shopify => (names::SHOPIFY, "X-Shopify-Hmac-Sha256"),
        Platform::Stripe => (names::STRIPE, "Stripe-Signature"),
        Platform::WooCommerce => (names::WOOCOMMERCE, "X-WC-Webhook-Signature"),
    };
    let headers = req.headers();
    // WooCommerce's activation ping is unsigned and must get a 200.
    if platform == Platform::WooCommerce
        && headers.get(header_name)?.is_none()
        && webhooks::is_woocommerce_ping(&body)
    {
        return json(200, &serde_json::json!({"ok": true, "ping": true}));
    }
    let Some(secret) = config::secret(env, secret_name) else {
        return error(
            500,
            "not_configured",
            &format!("{secret_name} is not set; add it with `wrangler secret put {secret_name}`"),
        );
    };
    let mut sig = headers.get(header_name)?;
    if platform == Platform::Shopify && sig.is_none() {
        sig = headers.get("shopify-hmac-sha256")?;
    }
    let verified = match platform {
        Platform::Shopify => signature::verify_shopify(secret.as_bytes(), sig.as_deref(), &body),
        Platform::WooCommerce => {
            signature::verify_woocommerce(secret.as_bytes(), sig.as_deref(), &body)
        }
        Platform::Stripe => {
            signature::verify_stripe(secret.as_bytes(), sig.as_deref(), &body, now_ms() / 1000)
                .map(|_| ())
        }
    };
    let source = platform.name();
    if let Err(e) = verified {
        let msg = e.to_string();
        stats::report_after(
            ctx,
            env,
            Report::refused(source, e.code(), &msg, None, now_ms()),
        );
        return error(401, e.code(), &msg);
    }
    // Before the decoder remembers anything of this delivery, so the platform's retry decodes it
    // afresh once the rules are fixed.
    if let Some(refusal) = crate::rules::current(env).refusal() {
        return refusal;
    }
    let text = match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => {
            let msg = "the body is not UTF-8 JSON";
            let report =
                Report::refused(source, "malformed_json", msg, Some(e.as_bytes()), now_ms());
            stats::report_after(ctx, env, report);
            return error(400, "malformed_json", msg);
        }
    };
    let lower: Vec<(String, String)> = headers
        .entries()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let wh = WebhookHeaders::read(platform, |name| {
        lower
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    });
    let request = DecodeRequest {
        platform: platform.name().to_owned(),
        topic: wh.topic.map(str::to_owned),
        delivery_id: wh.delivery_id.map(str::to_owned),
        body: text,
    };
    let decoded: DecodeResponse = crate::object_call::post_json(
        env,
        MEMORY_BINDING,
        platform.name(),
        "https://memory/decode",
        &request,
    )
    .await?;
    if let Some(e) = decoded.error {
        let mut report = Report::default();
        report.reject(
            source,
            request.delivery_id.clone(),
            &e,
            Some(request.body.as_bytes()),
            now_ms(),
        );
        stats::report_after(ctx, env, report);
        if e.code == "malformed_json" || e.code == "wrong_type" || e.code == "missing_field" {
            return error(400, &e.code, &format!("{} (at {})", e.message, e.path));
        }
        return json(
            200,
            &serde_json::json!({"results": [Verdict::rejected(None, e)]}),
        );
    }
    if let Some(skip) = decoded.skipped {
        return json(
            200,
            &serde_json::json!({"results": [Verdict::rejected(None, skip)]}),
        );
    }
    let now = now_ms();
    let (results, mut report) =
        route_events(decoded.events.into_iter().map(Ok).collect(), env, now).await?;
    note_rejections(&mut report, source, &results, request.body.as_bytes(), now);
    stats::report_after(ctx, env, report);
    // A platform retries only what is not answered 2xx: an event that could not be stored
    // must make it retry (the retry decodes to the same events; stored ones are duplicates).
    let unstored = results.iter().any(
        |v| matches!(v, Verdict::Rejected { reason, .. } if reason.code == "storage_unavailable"),
    );
    json(
        if unstored { 503 } else { 200 },
        &serde_json::json!({ "results": results }),
    )
}

/// Remembered values for one platform's decoder, in SQLite.
#[durable_object]
pub struct PlatformMemory {
    state: State,
    /// Days an order's memory is kept after a webhook last used it.
    order_days: u32,
    /// When this instance last deleted expired memory (at most hourly: reads skip it anyway).
    pruned_at: std::cell::Cell<Option<i64>>,
}

/// The decoders' memory: an entry past its `expires` is absent, whether or not it is deleted yet.
struct SqlMemory<'a> {
    sql: &'a SqlStorage,
    now: i64,
    /// The keys read that held a value: their expiry is renewed after the delivery.
    read: std::cell::RefCell<Vec<String>>,
}

#[derive(Deserialize)]
struct Value {
    v: String,
}

impl Memory for SqlMemory<'_> {
    fn get(&self, key: &str) -> Option<String> {
        let rows: Vec<Value> = self
            .sql
            .exec(
                "SELECT v FROM memory WHERE k = ? AND (expires IS NULL OR expires > ?)",
                vec![key.into(), (self.now as f64).into()],
            )
            .ok()?
            .to_array()
            .ok()?;
        let value = rows.into_iter().next().map(|r| r.v);
        if value.is_some() {
            self.read.borrow_mut().push(key.to_owned());
        }
        value
    }
}

/// How long a decoded delivery is kept for the platform's retries (Stripe retries for three
/// days, Shopify for two; a week, as an Inbox remembers event ids).
const DECODED_KEPT_MS: f64 = 7.0 * 86_400_000.0;

#[derive(Deserialize)]
struct Answer {
    answer: String,
}

/// The cache key of one delivery: SHA-256 over platform, topic, delivery id and body.
fn delivery_key(request: &DecodeRequest) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        request.platform.as_str(),
        request.topic.as_deref().unwrap_or(""),
        request.delivery_id.as_deref().unwrap_or(""),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.update(request.body.as_bytes());
    hex::encode(h.finalize())
}

/// Gives the memory of an object made before entries expired its `expires` column, in one
/// transaction (all rows dated, or none and the column not added): what it holds already is
/// dated from now, since its age is unknown, so the full retention starts today.
fn add_expiry(state: &State, now: i64, days: u32) -> Result<()> {
    let sql = state.storage().sql();
    if sql.exec("SELECT expires FROM memory LIMIT 0", None).is_ok() {
        return Ok(());
    }
    crate::store::transaction(state, || date_memory(&sql, now, days))
}

fn date_memory(sql: &SqlStorage, now: i64, days: u32) -> Result<()> {
    sql.exec("ALTER TABLE memory ADD COLUMN expires INTEGER", None)?;
    #[derive(Deserialize)]
    struct Key {
        k: String,
    }
    let keys: Vec<Key> = sql.exec("SELECT k FROM memory", None)?.to_array()?;
    for Key { k } in keys {
        if let Some(expires) = webhooks::memory_expiry(&k, now, days) {
            sql.exec(
                "UPDATE memory SET expires = ? WHERE k = ?",
                vec![expires.into(), k.into()],
            )?;
        }
    }
    Ok(())
}

impl PlatformMemory {
    /// Deletes expired memory, at most once an hour per instance (reads already skip it).
    fn prune(&self, sql: &SqlStorage, now: i64) -> Result<()> {
        if self
            .pruned_at
            .get()
            .is_some_and(|at| now - at < tidings_core::time::HOUR)
        {
            return Ok(());
        }
        sql.exec(
            "DELETE FROM memory WHERE expires IS NOT NULL AND expires <= ?",
            vec![now.into()],
        )?;
        self.pruned_at.set(Some(now));
        Ok(())
    }

    /// The answer given to this very delivery before, if any.
    fn decoded_before(&self, key: &str) -> Result<Option<String>> {
        let rows: Vec<Answer> = self
            .state
            .storage()
            .sql()
            .exec("SELECT answer FROM decoded WHERE k = ?", vec![key.into()])?
            .to_array()?;
        Ok(rows.into_iter().next().map(|r| r.answer))
    }
}

impl DurableObject for PlatformMemory {
    fn new(state: State, env: Env) -> Self {
        for stmt in [
            "CREATE TABLE IF NOT EXISTS memory (k TEXT PRIMARY KEY, v TEXT NOT NULL, expires INTEGER)",
            // A delivery's decoded answer, so a retry gets the same events although the memory
            // has moved on (a redelivered price drop is still that price drop).
            "CREATE TABLE IF NOT EXISTS decoded (k TEXT PRIMARY KEY, answer TEXT NOT NULL, at INTEGER NOT NULL)",
        ] {
            if let Err(e) = state.storage().sql().exec(stmt, None) {
                worker::console_error!("platform memory schema failed: {e}");
            }
        }
        let order_days = crate::config::order_memory_days(&env);
        if let Err(e) = add_expiry(&state, now_ms(), order_days) {
            worker::console_error!("platform memory migration failed: {e}");
        }
        if let Err(e) = state.storage().sql().exec(
            "CREATE INDEX IF NOT EXISTS memory_expires ON memory (expires)",
            None,
        ) {
            worker::console_error!("platform memory index failed: {e}");
        }
        PlatformMemory {
            state,
            order_days,
            pruned_at: std::cell::Cell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let request: DecodeRequest = crate::http::request_json(&mut req).await?;
        let Some(platform) = Platform::parse(&request.platform) else {
            return error(400, "bad_platform", "unknown platform");
        };
        let key = delivery_key(&request);
        if let Some(answer) = self.decoded_before(&key)? {
            let mut resp = Response::ok(answer)?;
            resp.headers_mut().set("Content-Type", "application/json")?;
            return Ok(resp);
        }
        let sql = self.state.storage().sql();
        let now = now_ms();
        let memory = SqlMemory {
            sql: &sql,
            now,
            read: std::cell::RefCell::new(Vec::new()),
        };
        let headers = WebhookHeaders {
            topic: request.topic.as_deref(),
            delivery_id: request.delivery_id.as_deref(),
        };
        let answer = match webhooks::decode(
            platform,
            &headers,
            request.body.as_bytes(),
            &memory,
            now,
        ) {
            Ok(Decoded {
                events,
                remember,
                skipped,
            }) => {
                for (k, v) in remember {
                    let expires = webhooks::memory_expiry(&k, now, self.order_days);
                    sql.exec(
                        "INSERT INTO memory (k, v, expires) VALUES (?, ?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v, expires = excluded.expires",
                        vec![k.into(), v.into(), expires.into()],
                    )?;
                }
                // Every delivery about an order renews what is remembered of it, so an order
                // is forgotten only once no webhook has named it for the whole period.
                for k in memory.read.take() {
                    if let Some(expires) = webhooks::memory_expiry(&k, now, self.order_days) {
                        sql.exec(
                            "UPDATE memory SET expires = ? WHERE k = ? AND expires IS NOT NULL",
                            vec![expires.into(), k.into()],
                        )?;
                    }
                }
                self.prune(&sql, now)?;
                let answer = DecodeResponse {
                    events,
                    skipped,
                    error: None,
                };
                let at = now as f64;
                sql.exec(
                    "INSERT OR REPLACE INTO decoded (k, answer, at) VALUES (?, ?, ?)",
                    vec![
                        key.into(),
                        serde_json::to_string(&answer)?.into(),
                        at.into(),
                    ],
                )?;
                sql.exec(
                    "DELETE FROM decoded WHERE at < ?",
                    vec![(at - DECODED_KEPT_MS).into()],
                )?;
                answer
            }
            Err(e) => DecodeResponse {
                events: Vec::new(),
                skipped: None,
                error: Some(e),
            },
        };
        json(200, &answer)
    }
}
