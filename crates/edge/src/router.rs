//! The HTTP surface. Each route is one small handler; anything else is 404.

use tidings_core::token::{self, Claims};
use worker::{Context, Env, Headers, Method, Request, RequestInit, Response, Result};

use crate::config::{self, names};
use crate::http::{error, json, with_cors};
use crate::{ingest, now_ms, webhooks};
use tidings_core::webhooks::Platform;

/// Binding name of the Inbox Durable Object namespace (wrangler.toml).
pub const INBOX_BINDING: &str = "INBOX";

/// Dispatches one request; `ctx` keeps work that need not hold up the answer (statistics).
pub async fn handle(req: Request, env: Env, ctx: &Context) -> Result<Response> {
    let origin = req.headers().get("Origin")?;
    let allowed = config::allowed_origins(&env);
    let resp = match route(req, &env, ctx).await {
        Ok(resp) => resp,
        // The details go to the log; the caller gets a JSON error it can act on (with CORS,
        // so a storefront page can read it).
        Err(e) => {
            worker::console_error!("request failed: {e}");
            error(
                500,
                "internal",
                "the edge could not answer this request just now; retry it",
            )?
        }
    };
    // WebSocket upgrades are returned as they are; CORS does not apply to them.
    if resp.status_code() == 101 {
        return Ok(resp);
    }
    Ok(with_cors(resp, origin.as_deref(), &allowed))
}

async fn route(mut req: Request, env: &Env, ctx: &Context) -> Result<Response> {
    let path = req.path();
    match (req.method(), path.as_str()) {
        (Method::Options, _) => Ok(Response::empty()?.with_status(204)),
        (Method::Get, "/v1/health") => {
            let rules = crate::rules::current(env);
            let health = rules.health();
            let ok = health.problems == 0;
            json(
                if ok { 200 } else { 503 },
                &serde_json::json!({"ok": ok, "version": tidings_core::VERSION, "rules": health}),
            )
        }
        (Method::Post, "/v1/events") => ingest::own_format(&mut req, env, ctx).await,
        (Method::Get, "/v1/connect") => connect(req, env).await,
        (Method::Get, "/v1/inbox") => history(req, env).await,
        (Method::Get, "/v1/dev/token") => dev_token(req, env),
        (Method::Get, "/v1/stats") => operators(req, env, "/snapshot").await,
        (Method::Get, "/metrics") => operators(req, env, "/metrics").await,
        (Method::Get, "/v1/ops/live") => ops_live(req, env).await,
        (Method::Post, "/v1/webhooks/shopify") => {
            webhooks::handle(&mut req, env, ctx, Platform::Shopify).await
        }
        (Method::Post, "/v1/webhooks/stripe") => {
            webhooks::handle(&mut req, env, ctx, Platform::Stripe).await
        }
        (Method::Post, "/v1/webhooks/woocommerce") => {
            webhooks::handle(&mut req, env, ctx, Platform::WooCommerce).await
        }
        (_, "/v1/health" | "/v1/events" | "/v1/connect" | "/v1/inbox" | "/v1/dev/token") => error(
            405,
            "method_not_allowed",
            "this route does not accept that method",
        ),
        _ => error(
            404,
            "not_found",
            "no such route; see the README for the API",
        ),
    }
}

/// Verifies a subscriber token; `Err` is the 401 response to return.
fn authenticate(token: Option<String>, env: &Env) -> std::result::Result<Claims, Result<Response>> {
    let Some(secret) = config::secret(env, names::SUBSCRIBER) else {
        return Err(error(
            500,
            "not_configured",
            "TIDINGS_SUBSCRIBER_SECRET is not set; add it with `wrangler secret put`",
        ));
    };
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(error(
            401,
            "token_missing",
            "pass a subscriber JWT as ?token= or `Authorization: Bearer`",
        ));
    };
    let audience = config::secret(env, names::TOKEN_AUDIENCE);
    token::verify(
        secret.as_bytes(),
        &token,
        now_ms() / 1000,
        audience.as_deref(),
    )
    .map_err(|e| error(401, "token_invalid", &e.to_string()))
}

fn query_param(req: &Request, name: &str) -> Result<Option<String>> {
    Ok(req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned()))
}

fn bearer(req: &Request) -> Result<Option<String>> {
    Ok(req
        .headers()
        .get("Authorization")?
        .and_then(|h| h.strip_prefix("Bearer ").map(|t| t.trim().to_owned())))
}

/// `GET /v1/connect?token=…`: upgrade to a WebSocket served by the user's Inbox.
async fn connect(req: Request, env: &Env) -> Result<Response> {
    let claims = match authenticate(query_param(&req, "token")?, env) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    if !is_websocket(&req)? {
        return error(426, "upgrade_required", "connect with a WebSocket client");
    }
    let headers = Headers::new();
    headers.set("Upgrade", "websocket")?;
    let mut init = RequestInit::new();
    init.with_headers(headers);
    let role = if claims.role.as_deref() == Some("ops") {
        "&role=ops"
    } else {
        ""
    };
    let url = format!(
        "https://inbox/connect?user={}{role}",
        urlencode(&claims.sub)
    );
    let inner = Request::new_with_init(&url, &init)?;
    inbox_stub(env, &claims.sub)?
        .fetch_with_request(inner)
        .await
}

fn is_websocket(req: &Request) -> Result<bool> {
    Ok(req
        .headers()
        .get("Upgrade")?
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket")))
}

/// `Ok(claims)` for a valid token with `role: "ops"`; otherwise the 401/403 to return.
fn authenticate_ops(
    token: Option<String>,
    env: &Env,
    what: &str,
) -> std::result::Result<Claims, Result<Response>> {
    let claims = authenticate(token, env)?;
    if claims.role.as_deref() != Some("ops") {
        return Err(error(
            403,
            "forbidden",
            &format!("{what} needs a token with role \"ops\""),
        ));
    }
    Ok(claims)
}

/// `GET /v1/inbox`: history for clients without a socket.
async fn history(req: Request, env: &Env) -> Result<Response> {
    let claims = match authenticate(bearer(&req)?, env) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let query = req.url()?.query().unwrap_or("").to_owned();
    let sep = if query.is_empty() { "" } else { "&" };
    let url = format!(
        "https://inbox/history?user={}{sep}{query}",
        urlencode(&claims.sub)
    );
    inbox_stub(env, &claims.sub)?.fetch_with_str(&url).await
}

/// `GET /v1/stats`, `GET /metrics`: for tokens with `role: "ops"` only.
async fn operators(req: Request, env: &Env, path: &str) -> Result<Response> {
    if let Err(resp) = authenticate_ops(bearer(&req)?, env, "statistics") {
        return resp;
    }
    crate::stats::read(env, path).await
}

/// `GET /v1/ops/live?token=…`: the ops page's WebSocket (role `ops` only).
async fn ops_live(req: Request, env: &Env) -> Result<Response> {
    if let Err(resp) = authenticate_ops(query_param(&req, "token")?, env, "the live ops view") {
        return resp;
    }
    if !is_websocket(&req)? {
        return error(426, "upgrade_required", "connect with a WebSocket client");
    }
    crate::stats::live(env).await
}

/// `GET /v1/dev/token?user=…`: a one-hour token, only with `TIDINGS_DEV_TOKENS=1`.
fn dev_token(req: Request, env: &Env) -> Result<Response> {
    if !config::dev_tokens(env) {
        return error(
            404,
            "not_found",
            "no such route; see the README for the API",
        );
    }
    let Some(user) = query_param(&req, "user")?.filter(|u| !u.is_empty() && u.len() <= 256) else {
        return error(400, "missing_user", "pass ?user=<id>");
    };
    let Some(secret) = config::secret(env, names::SUBSCRIBER) else {
        return error(
            500,
            "not_configured",
            "TIDINGS_SUBSCRIBER_SECRET is not set",
        );
    };
    let role = query_param(&req, "role")?.filter(|r| r == "ops");
    let claims = Claims {
        sub: user,
        exp: now_ms() / 1000 + 3600,
        aud: config::secret(env, names::TOKEN_AUDIENCE),
        role,
    };
    json(
        200,
        &serde_json::json!({"token": token::mint(secret.as_bytes(), &claims), "user": claims.sub, "exp": claims.exp}),
    )
}

/// The stub of `user`'s Inbox Durable Object.
pub fn inbox_stub(env: &Env, user: &str) -> Result<worker::Stub> {
    env.durable_object(INBOX_BINDING)?.get_by_name(user)
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
