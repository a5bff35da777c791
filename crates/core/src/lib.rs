//! # tidings-core
//!
//! Every decision Tidings makes, as pure, deterministic Rust: what an incoming
//! event means, whether its signature holds, which notification a rule renders
//! from it, whom it reaches, in what order a shopper's log keeps it, and how
//! the notification center filters and sorts it.
//!
//! **Contract.** This crate does no I/O: no networking, no storage, no DOM, no
//! clock and no randomness. Time comes in as an argument (`now`, unix
//! milliseconds) and decisions come out as values; the edge worker and the
//! browser app are thin shells that move bytes between these functions and the
//! world. The same code is compiled natively and for `wasm32-unknown-unknown`,
//! so both sides share one set of semantics.
//!
//! # Layout
//! - [`time`]: unix-millisecond timestamps, RFC 3339 and duration parsing.
//! - [`event`]: the canonical [`event::Event`]; [`data`]: its `data`, JSON text read on demand.
//! - [`fanout`]: which members a topic's fan-out still owes which events, across retries.
//! - [`fnv`]: the FNV-1a hash of short keys looked up on every event.
//! - [`ingest`]: Tidings' own batch format, limits and per-item verdicts.
//! - [`signature`]: webhook signature schemes (Tidings, Stripe, Shopify, WooCommerce).
//! - [`token`]: HS256 JWT subscriber tokens.
//! - [`notification`]: the notification model (category, priority, read state).
//! - [`log`]: the per-user ordered log as a state machine.
//! - [`protocol`]: WebSocket frames between the edge and the center; [`wire`]: their JSON,
//!   written and read by hand (as `serde_json` writes it) so the browser bundle links no serde.
//! - [`prefs`]: a shopper's preferences (mute, quiet hours, language); [`watches`]: the
//!   topics they watch, bounded.
//! - [`rules`], [`template`]: rules as data (TOML) rendering events into notifications.
//! - [`route`]: audience, preference decisions, throttles, scheduling and cancellation.
//! - [`inbox`]: the query engine shared by the history API and the center.
//! - [`webhooks`]: Shopify, Stripe and WooCommerce payloads → canonical events.
//! - [`stats`]: windowed counters and latency percentiles.
//! - [`alerts`]: alert rules as data, evaluated over the statistics.
//! - [`ops`]: the operators' live view (frames and the page's model).
//! - [`redact`]: secrets and personal data removed from payloads shown to operators.
#![warn(missing_docs, unreachable_pub)]
#![forbid(unsafe_code)]

pub mod alerts;
pub mod data;
pub mod event;
pub mod fanout;
pub mod fnv;
pub mod inbox;
pub mod ingest;
pub mod log;
pub mod notification;
pub mod ops;
pub mod prefs;
pub mod protocol;
pub mod redact;
pub mod route;
pub mod rules;
pub mod signature;
pub mod stats;
pub mod template;
pub mod time;
pub mod token;
pub mod watches;
pub mod webhooks;
pub mod wire;

/// The version of this crate, reported by `GET /v1/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
pub(crate) mod testing {
    //! Shared test helpers: on wasm32 `#[test]` is `wasm_bindgen_test`, so every
    //! unit test also runs under `wasm-pack test --node`.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) use core::prelude::v1::test;
    #[cfg(target_arch = "wasm32")]
    pub(crate) use wasm_bindgen_test::wasm_bindgen_test as test;
}
