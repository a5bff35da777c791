//! # tidings-edge
//!
//! The Cloudflare Worker half of Tidings, a thin shell over `tidings-core`:
//! it verifies and decodes what store backends post, lets core's rules decide
//! what each event means and whom it reaches, and hands each recipient's
//! notifications to that shopper's [`inbox::Inbox`] Durable Object, which keeps
//! the ordered log in SQLite and pushes it over hibernatable WebSockets.
//!
//! # Layout
//! - [`router`]: the HTTP surface (`/v1/...`), one small handler per route.
//! - [`config`]: secrets and variables from the environment.
//! - [`http`]: JSON responses, errors and CORS.
//! - [`rules`]: the rule set applied (`TIDINGS_RULES`, else the shipped defaults).
//! - [`ingest`]: `POST /v1/events`: verify → decode → rules → inboxes → verdicts.
//! - [`inbox`]: the per-user Inbox Durable Object.
//! - [`object_call`]: POSTs to Durable Objects over the plain JavaScript `fetch`.
//! - [`store`]: the Inbox's SQLite tables, read into and written from core's log.
//! - [`stats`]: live statistics (`/v1/stats`, `/metrics`) in a Stats Durable Object.
//! - [`topics`]: the Topic Durable Object (watchers, segments) and fan-out.
//! - [`webhooks`]: Shopify, Stripe and WooCommerce endpoints and their decoder memory.
//!
//! Architecture invariant: only the Inbox assigns sequence numbers, and it
//! writes a notification to storage before sending any frame about it.
#![warn(missing_docs)]

pub mod config;
pub mod http;
// `#[durable_object]` generates undocumented glue methods.
#[allow(missing_docs)]
pub mod inbox;
pub mod ingest;
pub mod object_call;
pub mod router;
pub mod rules;
pub mod store;
// `#[durable_object]` generates undocumented glue methods.
#[allow(missing_docs)]
pub mod stats;
#[allow(missing_docs)]
pub mod topics;
#[allow(missing_docs)]
pub mod webhooks;

use worker::{event, Context, Env, Request, Response, Result};

/// Entry point for every HTTP request to the worker.
#[event(fetch)]
pub async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    console_error_panic_hook_install();
    router::handle(req, env, &ctx).await
}

fn console_error_panic_hook_install() {
    // Panics are bugs; make them visible in `wrangler dev` logs instead of a bare "unreachable".
    std::panic::set_hook(Box::new(|info| worker::console_error!("panic: {info}")));
}

/// Milliseconds since the unix epoch, from the Workers runtime clock.
pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}
