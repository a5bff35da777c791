//! The floor under the notification center's download size: two tiny Leptos apps built
//! with the center's profile, Trunk pipeline and allocator (`cargo xtask bundle --floor`).
//!
//! - `floor-framework`: the framework surface every center needs and none of its features:
//!   a bell whose label and badge count unread items, a `<Show>` dialog with a search box,
//!   a keyed `<For>` list whose rows have a button, a WebSocket read loop and one IndexedDB
//!   write per message.
//! - `floor-core`: the same shell fed by `tidings_core` as the center is: frames decoded by
//!   `ServerFrame::decode`, kept in an `Inbox`, listed by `Inbox::query`, stored as
//!   `Notification::to_json`, marked read with `ClientFrame::Mark`.
//!
//! What either measures is a lower bound: anything the center does beyond it (categories,
//! filters, sort, archive, toasts, preferences, languages, reconnect and resume, outbox, tabs)
//! only adds code.

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;

/// The allocator the center uses (`crates/web/src/lib.rs`), so the floors compare like for like.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Opens the floor's database with one object store; `None` when IndexedDB refuses.
pub async fn open_db() -> Option<Database> {
    Database::open("tidings-floor")
        .with_version(1u8)
        .with_on_upgrade_needed(|_, db| {
            db.create_object_store("n").build()?;
            Ok(())
        })
        .await
        .ok()
}

/// Writes `text` under `key`, ignoring failures (the floor measures code, not behaviour).
pub async fn put(db: &Database, key: f64, text: String) {
    if let Ok(tx) = db
        .transaction("n")
        .with_mode(TransactionMode::Readwrite)
        .build()
    {
        if let Ok(store) = tx.object_store("n") {
            let _ = store.put(text).with_key(key).await;
        }
        let _ = tx.commit().await;
    }
}
