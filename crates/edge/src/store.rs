//! The Inbox's SQLite tables, and the only code that reads or writes them.
//!
//! Rows mirror core's [`InboxLog`]: `items` (one JSON notification per seq),
//! `changes` (versioned read-state changes), `seen` (event ids for
//! de-duplication) and `meta` (head, trimmed_through, version, user, prefs,
//! topics). The Inbox makes every change inside [`transaction`]
//! (`storage.transactionSync`): a statement that fails (a row the storage
//! refuses, say) rolls back every write before it, so no delivery is ever
//! half-stored — a `seen` row without its notification would answer the
//! retry `duplicate` and lose it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tidings_core::log::{Appended, Change, InboxLog, LogConfig, LogMeta};
use tidings_core::notification::Notification;
use tidings_core::prefs::Preferences;
use tidings_core::route::Router;
use worker::wasm_bindgen::{self, prelude::wasm_bindgen, JsCast, JsValue};
use worker::{Result, SqlStorage, SqlStorageValue, State};

#[wasm_bindgen]
extern "C" {
    /// A SQLite-backed Durable Object's storage, for the one method workers-rs does not bind.
    type TransactionalStorage;

    /// `storage.transactionSync(callback)`: runs the callback in a transaction, rolled back
    /// when it throws.
    #[wasm_bindgen(method, catch, js_name = transactionSync)]
    fn transaction_sync(
        this: &TransactionalStorage,
        callback: &mut dyn FnMut() -> std::result::Result<(), JsValue>,
    ) -> std::result::Result<JsValue, JsValue>;
}

/// Runs `f` in one SQLite transaction of the object's storage: committed when it returns
/// `Ok`, rolled back entirely when it returns `Err` (or the commit fails).
pub fn transaction<T>(state: &State, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let storage = state.as_raw().storage()?;
    let storage: &TransactionalStorage = storage.unchecked_ref();
    let mut f = Some(f);
    let mut outcome: Option<Result<T>> = None;
    let mut callback = || {
        let Some(f) = f.take() else { return Ok(()) };
        let result = f();
        // Throwing is what makes the runtime roll back.
        let thrown = result
            .as_ref()
            .err()
            .map(|e| JsValue::from_str(&e.to_string()));
        outcome = Some(result);
        thrown.map_or(Ok(()), Err)
    };
    let committed = storage.transaction_sync(&mut callback);
    match (outcome, committed) {
        (Some(Err(e)), _) => Err(e),
        (Some(Ok(_)), Err(e)) => Err(worker::Error::from(e)),
        (Some(Ok(v)), Ok(_)) => Ok(v),
        (None, _) => Err(worker::Error::RustError(
            "transactionSync did not run its callback".into(),
        )),
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (version INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (event_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
";

/// Creates the tables when they do not exist yet.
pub fn migrate(sql: &SqlStorage) -> Result<()> {
    for stmt in SCHEMA.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        sql.exec(stmt, None)?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct KV {
    v: String,
}

#[derive(Deserialize)]
struct Body {
    body: String,
}

#[derive(Deserialize)]
struct Seen {
    event_id: String,
    at: f64,
}

/// Reads a JSON value from `meta`.
pub fn get_meta<T: DeserializeOwned>(sql: &SqlStorage, key: &str) -> Result<Option<T>> {
    let rows: Vec<KV> = sql
        .exec("SELECT v FROM meta WHERE k = ?", vec![key.into()])?
        .to_array()?;
    match rows.into_iter().next() {
        Some(row) => Ok(Some(serde_json::from_str(&row.v)?)),
        None => Ok(None),
    }
}

/// Writes a JSON value to `meta`.
pub fn put_meta<T: Serialize>(sql: &SqlStorage, key: &str, value: &T) -> Result<()> {
    put_meta_text(sql, key, &serde_json::to_string(value)?)
}

/// Writes one meta value already serialized as JSON.
pub fn put_meta_text(sql: &SqlStorage, key: &str, json: &str) -> Result<()> {
    sql.exec(
        "INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
        vec![key.into(), json.into()],
    )?;
    Ok(())
}

/// Everything an Inbox keeps, loaded at wake-up.
pub struct Loaded {
    /// The log.
    pub log: InboxLog,
    /// The shopper's preferences.
    pub prefs: Preferences,
    /// Topics the shopper watches.
    pub topics: Vec<String>,
    /// Held items: scheduled, deferred by quiet hours, folded into digests.
    pub router: Router,
}

/// Loads the whole inbox state.
pub fn load(sql: &SqlStorage, config: LogConfig) -> Result<Loaded> {
    let meta: LogMeta = get_meta(sql, "log")?.unwrap_or_default();
    let items: Vec<Body> = sql
        .exec("SELECT body FROM items ORDER BY seq", None)?
        .to_array()?;
    let items = items
        .into_iter()
        .filter_map(|b| serde_json::from_str::<Notification>(&b.body).ok())
        .collect::<Vec<_>>();
    let changes: Vec<Body> = sql
        .exec("SELECT body FROM changes ORDER BY version", None)?
        .to_array()?;
    let changes = changes
        .into_iter()
        .filter_map(|b| serde_json::from_str::<Change>(&b.body).ok());
    let seen: Vec<Seen> = sql
        .exec("SELECT event_id, at FROM seen", None)?
        .to_array()?;
    let seen = seen.into_iter().map(|s| (s.event_id, s.at as i64));
    Ok(Loaded {
        log: InboxLog::restore(config, meta, items, changes, seen),
        prefs: get_meta(sql, "prefs")?.unwrap_or_default(),
        topics: get_meta(sql, "topics")?.unwrap_or_default(),
        router: get_meta(sql, "router")?.unwrap_or_default(),
    })
}

/// Persists an append: the new row, the superseded and evicted ones removed, and the
/// meta when rows were removed.
pub fn write_appended(sql: &SqlStorage, appended: &Appended, meta: &LogMeta) -> Result<()> {
    let n = &appended.notification;
    sql.exec(
        "INSERT INTO items (seq, id, body) VALUES (?, ?, ?)",
        vec![
            seq_value(n.seq)?,
            n.id.as_str().into(),
            serde_json::to_string(n)?.into(),
        ],
    )?;
    let mut deleted = false;
    for seq in appended.superseded.iter().chain(appended.evicted.iter()) {
        sql.exec("DELETE FROM items WHERE seq = ?", vec![seq_value(*seq)?])?;
        deleted = true;
    }
    // A plain append only moves the head, which `InboxLog::restore` recovers from the
    // newest row; the meta row is written when rows go (or retention moves), so the head
    // never falls back below a seq once handed out. One statement less per delivery.
    if deleted {
        put_meta(sql, "log", meta)?;
    }
    Ok(())
}

/// Persists a read-state change and the rows it touched.
pub fn write_change(
    sql: &SqlStorage,
    log: &InboxLog,
    change: &Change,
    history: usize,
) -> Result<()> {
    for id in &change.ids {
        if let Some(n) = log.get(id) {
            sql.exec(
                "UPDATE items SET body = ? WHERE seq = ?",
                vec![serde_json::to_string(n)?.into(), seq_value(n.seq)?],
            )?;
        }
    }
    sql.exec(
        "INSERT INTO changes (version, body) VALUES (?, ?)",
        vec![
            seq_value(change.version)?,
            serde_json::to_string(change)?.into(),
        ],
    )?;
    let floor = change.version.saturating_sub(history as u64);
    sql.exec(
        "DELETE FROM changes WHERE version <= ?",
        vec![seq_value(floor)?],
    )?;
    put_meta(sql, "log", &log.meta())
}

/// Remembers an event id for de-duplication.
pub fn write_seen(sql: &SqlStorage, event_id: &str, at: i64) -> Result<()> {
    sql.exec(
        "INSERT INTO seen (event_id, at) VALUES (?, ?) ON CONFLICT(event_id) DO UPDATE SET at = excluded.at",
        vec![event_id.into(), (at as f64).into()],
    )?;
    Ok(())
}

/// Forgets event ids no longer inside the de-duplication window.
pub fn forget_seen(sql: &SqlStorage, ids: &[String]) -> Result<()> {
    for id in ids {
        sql.exec(
            "DELETE FROM seen WHERE event_id = ?",
            vec![id.as_str().into()],
        )?;
    }
    Ok(())
}

fn seq_value(seq: u64) -> Result<SqlStorageValue> {
    SqlStorageValue::try_from_i64(
        i64::try_from(seq).map_err(|_| worker::Error::RustError("seq overflow".into()))?,
    )
}
