//! Secrets and variables, read from the Worker environment.
//!
//! Locally `wrangler dev` reads `crates/edge/.dev.vars` (dev-only values);
//! in production set the same names with `wrangler secret put <NAME>`.

use worker::Env;

/// Names of the secrets the edge needs.
pub mod names {
    /// HMAC key for `Tidings-Signature` on `POST /v1/events`.
    pub const INGEST: &str = "TIDINGS_INGEST_SECRET";
    /// HS256 key for subscriber JWTs.
    pub const SUBSCRIBER: &str = "TIDINGS_SUBSCRIBER_SECRET";
    /// Shopify app client secret.
    pub const SHOPIFY: &str = "SHOPIFY_WEBHOOK_SECRET";
    /// Stripe endpoint secret (`whsec_…`).
    pub const STRIPE: &str = "STRIPE_WEBHOOK_SECRET";
    /// WooCommerce webhook secret.
    pub const WOOCOMMERCE: &str = "WOOCOMMERCE_WEBHOOK_SECRET";
    /// `1` enables `GET /v1/dev/token` (never in production).
    pub const DEV_TOKENS: &str = "TIDINGS_DEV_TOKENS";
    /// When set, subscriber JWTs must carry this `aud` (e.g. `tidings:shop.example`), so a
    /// token minted with the same secret for another app or environment is refused.
    pub const TOKEN_AUDIENCE: &str = "TIDINGS_TOKEN_AUDIENCE";
    /// Comma-separated origins allowed by CORS (e.g. `https://shop.example`).
    pub const ALLOWED_ORIGINS: &str = "TIDINGS_ALLOWED_ORIGINS";
    /// Days the webhook decoders remember an order after a webhook last used it (default 180).
    pub const ORDER_MEMORY_DAYS: &str = "TIDINGS_ORDER_MEMORY_DAYS";
}

/// Reads a secret (or, as a fallback, a plain variable) by name.
pub fn secret(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .ok()
        .map(|s| s.to_string())
        .or_else(|| env.var(name).ok().map(|v| v.to_string()))
        .filter(|s| !s.is_empty())
}

/// `true` when dev tokens are enabled (`TIDINGS_DEV_TOKENS=1`).
pub fn dev_tokens(env: &Env) -> bool {
    secret(env, names::DEV_TOKENS).as_deref() == Some("1")
}

/// Days an order's webhook memory is kept ([`names::ORDER_MEMORY_DAYS`]); a value that is not
/// a whole number is logged and the default used.
pub fn order_memory_days(env: &Env) -> u32 {
    let default = tidings_core::webhooks::ORDER_MEMORY_DAYS;
    match secret(env, names::ORDER_MEMORY_DAYS) {
        None => default,
        Some(text) => text.trim().parse().unwrap_or_else(|_| {
            worker::console_error!(
                "{} = `{text}` is not a whole number of days; using {default}",
                names::ORDER_MEMORY_DAYS
            );
            default
        }),
    }
}

/// Origins allowed by CORS.
pub fn allowed_origins(env: &Env) -> Vec<String> {
    secret(env, names::ALLOWED_ORIGINS)
        .map(|s| {
            s.split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect()
        })
        .unwrap_or_default()
}
