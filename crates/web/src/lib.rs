//! # tidings-web
//!
//! The shopper's notification center, a Leptos CSR app and a thin shell over
//! `tidings-core`: the protocol, the notification model and the inbox query
//! all come from core; this crate moves bytes between them and the browser
//! (WebSocket, IndexedDB, the DOM).
//!
//! # Layout
//! - [`center`]: the reactive state of one center (a core `Inbox`, status, prefs, topics,
//!   toasts) and how frames and other tabs (BroadcastChannel) change it.
//! - [`connection`]: the WebSocket loop: connect, `hello {after}`, reconnect with backoff.
//! - [`tabs`]: one socket per browser: the Web Lock's holder connects and relays to the other
//!   tabs over BroadcastChannel.
//! - [`store`]: IndexedDB history, so a reload renders before the network answers.
//! - [`components`]: the bell, the panel (tabs, filters, search, sort, paging), one item,
//!   the preferences sheet, urgent toasts and storefront watch buttons.
//! - [`i18n`]: every UI string in English and Chinese.
//! - [`embed`]: `mount(element, options)` for any storefront page, and the demo boot.
//! - [`ops`]: the operators' live page (`/ops`): charts, latency, alerts, rejected events.
#![warn(missing_docs)]

pub mod center;
pub mod components;
pub mod connection;
pub mod embed;
pub mod i18n;
pub mod ops;
pub mod store;
pub mod tabs;

/// The heap allocator: Talc, smaller in the module than Rust's default (dlmalloc) and faster.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
