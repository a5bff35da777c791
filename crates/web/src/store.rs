//! The notification center's offline copy, kept in IndexedDB.
//!
//! The center shows what it has locally first and then catches up over the
//! WebSocket from the last sequence number it saw, so everything it needs to
//! render and resume lives in one IndexedDB database per shopper.
//!
//! # Schema (version [`SCHEMA_VERSION`] = 2)
//!
//! | object store    | key                        | value                                  | indexes                                   |
//! |-----------------|----------------------------|----------------------------------------|-------------------------------------------|
//! | `notifications` | in-line, key path `id`     | a [`Notification`] as a plain object   | `seq`, `created_at`, `category`, `state`  |
//! | `meta`          | out-of-line string key     | `last_seq`/`version`: a JS number; `prefs`: [`Preferences`] | —                    |
//! | `outbox`        | auto-increment integer     | a protocol frame as JSON text          | —                                         |
//!
//! Why this shape:
//!
//! * **Keyed by `id`.** Notifications sharing a collapse key share an id, so a
//!   newer version of an item replaces the older one in place; [`Store::put_all`]
//!   only lets a write win when its `seq` is at least the stored one, so a late,
//!   out-of-order frame never rolls an item back.
//! * **`seq` index** gives [`Store::all`] the log order without sorting in Rust.
//!   `created_at`, `category` and `state` let views query by age, tab and
//!   read state (e.g. count unread) without a full scan. Retention deletes what
//!   core's policy picks from the center's in-memory view, without reading the
//!   store back.
//! * **Numbers, never BigInt.** A record is its JSON (`tidings_core::wire`, the text
//!   `serde_json` writes) parsed by the browser's `JSON.parse`, so `u64`/`i64` fields are
//!   JS numbers, exact while they are safe integers (|n| ≤ 2⁵³ − 1). That matters: a
//!   BigInt is not a valid IndexedDB key, so a record whose `seq` were a BigInt would
//!   silently vanish from the `seq` index and from [`Store::all`]. [`Store::put_all`]
//!   checks the range up front and refuses with [`StoreError::OutOfRange`]; meta counters
//!   are written as `f64` (never through `JsValue::from(u64)`, which yields a BigInt) and
//!   read back from either form. (Records are the same objects `serde-wasm-bindgen`
//!   wrote before; going through JSON keeps a second serde format out of the bundle.)
//! * **Enums as strings** (`"order"`, `"unread"`…), as serde names them, so the
//!   `category` and `state` indexes are readable in devtools and stable.
//! * **`outbox` is auto-increment**, so reading it in key order is FIFO: read
//!   and archive actions taken offline are sent in the order the shopper made them.
//!
//! # Upgrades
//!
//! Version 1 had `notifications` (indexes `seq`, `created_at`, `category`) and
//! `meta`. Version 2 adds the `state` index (IndexedDB fills it from the
//! existing records) and the `outbox` store. Each step only creates what is
//! missing, inside the `versionchange` transaction, so existing data survives
//! and a failed step rolls the whole upgrade back. An open connection closes
//! itself when another tab asks for a newer version, so upgrades are not
//! blocked by old tabs; those tabs then get [`StoreError::Closed`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use indexed_db_futures::database::Database;
use indexed_db_futures::error::{Error as IdbError, JSError, OpenDbError};
use indexed_db_futures::internals::SystemRepr;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::{Transaction, TransactionMode};
use tidings_core::notification::{Notification, ReadState};
use tidings_core::prefs::Preferences;
use tidings_core::wire::{self, FromJson, ToJson};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The schema version this code writes; opening upgrades older databases to it.
pub const SCHEMA_VERSION: u32 = 2;

/// Object store holding one record per notification, keyed by `id`.
pub const NOTIFICATIONS: &str = "notifications";
/// Object store of small values under string keys (`last_seq`, `version`, `prefs`).
pub const META: &str = "meta";
/// Object store of protocol frames waiting to be sent, oldest first.
pub const OUTBOX: &str = "outbox";
/// The `meta` key under which [`Store::set_prefs`] keeps the preferences.
pub const PREFS_KEY: &str = "prefs";

/// Index names on [`NOTIFICATIONS`], each on the field of the same name.
pub const INDEX_SEQ: &str = "seq";
/// Index on `created_at` (unix ms).
pub const INDEX_CREATED_AT: &str = "created_at";
/// Index on `category` (its snake_case name).
pub const INDEX_CATEGORY: &str = "category";
/// Index on `state` (`unread`, `read`, `archived`); added in schema version 2.
pub const INDEX_STATE: &str = "state";

/// The largest integer a JS number holds exactly (2⁵³ − 1); larger values cannot be stored.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a [`Store`] operation failed. Every message says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// IndexedDB cannot be used here (no `window`/worker, private mode, disabled storage).
    Unavailable(String),
    /// The database on disk has a newer schema than this code knows.
    NewerSchema {
        /// The database name.
        name: String,
    },
    /// The connection was closed, usually because another tab upgraded the database.
    Closed,
    /// The browser refused to store more data for this site.
    QuotaExceeded,
    /// A number is outside the range a JS number stores exactly.
    OutOfRange {
        /// What the number is (`seq of c:order:1`, `meta last_seq`…).
        what: String,
        /// The value that was refused.
        value: i128,
    },
    /// A stored value could not be converted from or to its Rust type.
    Corrupt {
        /// The operation that failed.
        op: &'static str,
        /// The converter's message.
        message: String,
    },
    /// Any other IndexedDB failure.
    Idb {
        /// The operation that failed.
        op: &'static str,
        /// The DOM exception name, or `Error` when there was none.
        name: String,
        /// The browser's message.
        message: String,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(why) => write!(
                f,
                "IndexedDB is not available ({why}); the center works without an offline copy — \
                 allow site storage or leave private browsing to keep notifications offline"
            ),
            StoreError::NewerSchema { name } => write!(
                f,
                "database `{name}` was written by a newer version of Tidings (schema > {SCHEMA_VERSION}); \
                 reload the page to get the current app, or clear this site's data"
            ),
            StoreError::Closed => write!(
                f,
                "the offline database was closed because another tab is upgrading it; reload this page"
            ),
            StoreError::QuotaExceeded => write!(
                f,
                "the browser's storage quota for this site is full; lower the retention cap \
                 (connection::RETENTION) or clear this site's data"
            ),
            StoreError::OutOfRange { what, value } => write!(
                f,
                "{what} = {value} does not fit a JS number exactly (limit ±{MAX_SAFE_INTEGER}); \
                 the sender must keep sequence numbers and timestamps below 2^53"
            ),
            StoreError::Corrupt { op, message } => write!(
                f,
                "{op}: a stored value could not be read or written ({message}); it may come from an \
                 incompatible version — call Store::clear() and resync"
            ),
            StoreError::Idb { op, name, message } => {
                write!(f, "{op}: IndexedDB failed with {name}: {message}")
            }
        }
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    fn from_dom(op: &'static str, dom: &web_sys::DomException) -> StoreError {
        let name = dom.name();
        match name.as_str() {
            "QuotaExceededError" => StoreError::QuotaExceeded,
            "VersionError" => StoreError::NewerSchema {
                name: String::new(),
            },
            "InvalidStateError" if dom.message().contains("clos") => StoreError::Closed,
            _ => StoreError::Idb {
                op,
                name,
                message: dom.message(),
            },
        }
    }

    fn from_idb(op: &'static str, e: IdbError) -> StoreError {
        match e {
            IdbError::DomException(d) => Self::from_dom(op, &web_sys::DomException::from(d)),
            // Described here rather than by the library's `Display`, which links the float
            // formatter into the bundle for values (`TooLarge(f64)`) nobody reads.
            IdbError::Serialisation(_) => StoreError::Corrupt {
                op,
                message: "a stored value is not of the type this build expects".into(),
            },
            IdbError::MissingData(_) => StoreError::Corrupt {
                op,
                message: "IndexedDB answered without the data asked for".into(),
            },
            IdbError::Unknown(js) => StoreError::Idb {
                op,
                name: "Error".into(),
                message: match js {
                    JSError::Error(e) => e.message().into(),
                    JSError::Unknown(_) => "IndexedDB failed without an error message".into(),
                },
            },
        }
    }

    fn from_open(name: &str, e: OpenDbError) -> StoreError {
        match e {
            OpenDbError::Base(base) => match Self::from_idb("open", base) {
                StoreError::NewerSchema { .. } => StoreError::NewerSchema { name: name.into() },
                other => other,
            },
            OpenDbError::VersionZero => StoreError::Unavailable("schema version 0".into()),
            OpenDbError::UnsupportedEnvironment | OpenDbError::NullFactory => {
                StoreError::Unavailable("this browser context has no IndexedDB".into())
            }
        }
    }
}

/// Maps an `indexed_db_futures` error of operation `op` to a [`StoreError`].
fn idb(op: &'static str) -> impl Fn(IdbError) -> StoreError {
    move |e| StoreError::from_idb(op, e)
}

/// The open connection plus the `versionchange` handler that closes it.
struct Inner {
    db: Database,
    raw: web_sys::IdbDatabase,
    _on_versionchange: Closure<dyn FnMut()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.raw.set_onversionchange(None);
        self.raw.close();
    }
}

/// The notification center's IndexedDB database. Cheap to clone; the
/// connection closes when the last clone is dropped.
#[derive(Clone)]
pub struct Store {
    inner: Rc<Inner>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("name", &self.inner.raw.name())
            .field("version", &self.inner.raw.version())
            .finish()
    }
}

impl Store {
    /// Opens (creating or upgrading to [`SCHEMA_VERSION`]) the database `name`.
    ///
    /// Use one name per shopper (e.g. `tidings-<user id>`) so two accounts on
    /// one browser never see each other's items.
    pub async fn open(name: &str) -> Result<Store, StoreError> {
        // The upgrade runs in our own `upgradeneeded` handler on the raw request rather than
        // the library's (whose error path formats its own error type, float formatting and
        // all, into the bundle). The handler sees the versionchange transaction through the
        // request; a failed step aborts it, so the open fails and nothing half-made stays.
        let request = Database::open(name)
            .with_version(SCHEMA_VERSION)
            .build()
            .map_err(|e| StoreError::from_open(name, e))?;
        let raw_request: web_sys::IdbOpenDbRequest = request.as_sys().clone();
        let failed: Rc<RefCell<Option<JsValue>>> = Rc::default();
        let on_upgrade = {
            let (req, failed) = (raw_request.clone(), failed.clone());
            Closure::<dyn FnMut(web_sys::IdbVersionChangeEvent)>::new(
                move |event: web_sys::IdbVersionChangeEvent| {
                    let (Some(tx), Ok(db)) = (req.transaction(), req.result()) else {
                        *failed.borrow_mut() =
                            Some(js_sys::Error::new("no versionchange transaction").into());
                        return;
                    };
                    let db: web_sys::IdbDatabase = db.unchecked_into();
                    if let Err(e) = migrate(&db, &tx, event.old_version() as u32) {
                        *failed.borrow_mut() = Some(e);
                        let _ = tx.abort();
                    }
                },
            )
        };
        raw_request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let opened = request.await;
        raw_request.set_onupgradeneeded(None);
        drop(on_upgrade);
        if let Some(e) = failed.borrow_mut().take() {
            // Not left open half-made (a step that failed has aborted the upgrade already).
            if let Ok(db) = &opened {
                db.as_sys().close();
            }
            return Err(StoreError::from_idb("upgrade", IdbError::from(e)));
        }
        let db = opened.map_err(|e| StoreError::from_open(name, e))?;

        let raw: web_sys::IdbDatabase = (**db.as_sys()).clone();
        let to_close = raw.clone();
        let on_versionchange = Closure::<dyn FnMut()>::new(move || to_close.close());
        raw.set_onversionchange(Some(on_versionchange.as_ref().unchecked_ref()));
        Ok(Store {
            inner: Rc::new(Inner {
                db,
                raw,
                _on_versionchange: on_versionchange,
            }),
        })
    }

    fn tx<'a>(
        &'a self,
        stores: &[&str],
        mode: TransactionMode,
        op: &'static str,
    ) -> Result<Transaction<'a>, StoreError> {
        self.inner
            .db
            .transaction(stores)
            .with_mode(mode)
            .build()
            .map_err(idb(op))
    }

    /// Upserts `items` by id in one transaction. An item replaces the stored
    /// one with the same id only when its `seq` is greater than or equal to
    /// the stored `seq`; within `items` the highest `seq` of an id wins (the
    /// later one on a tie). An item with a number IndexedDB cannot hold exactly
    /// (beyond 2^53) is left out and named in the error; the others are written.
    pub async fn put_all(&self, items: &[Notification]) -> Result<(), StoreError> {
        let mut latest: HashMap<&str, &Notification> = HashMap::with_capacity(items.len());
        let mut refused = None;
        for n in items {
            if let Err(e) = check_safe(&n.id, n) {
                refused.get_or_insert(e);
                continue;
            }
            match latest.get(n.id.as_str()) {
                Some(prev) if prev.seq > n.seq => {}
                _ => {
                    latest.insert(&n.id, n);
                }
            }
        }
        if !latest.is_empty() {
            self.upsert(&latest).await?;
        }
        refused.map_or(Ok(()), Err)
    }

    /// The writes of [`Store::put_all`], one item per id, in one transaction.
    async fn upsert(&self, latest: &HashMap<&str, &Notification>) -> Result<(), StoreError> {
        const OP: &str = "put_all";
        let tx = self.tx(&[NOTIFICATIONS], TransactionMode::Readwrite, OP)?;
        let store = tx.object_store(NOTIFICATIONS).map_err(idb(OP))?;
        // Issue every read before awaiting any, then every write.
        let mut reads = Vec::with_capacity(latest.len());
        for n in latest.values() {
            let req = store
                .get::<JsValue, _, _>(n.id.as_str())
                .primitive()
                .map_err(idb(OP))?;
            reads.push((*n, req));
        }
        let mut writes = Vec::with_capacity(reads.len());
        for (n, req) in reads {
            let stored = req.await.map_err(idb(OP))?;
            let stored_seq = stored.as_ref().map(|v| field_u64(v, "seq").unwrap_or(0));
            if stored_seq.is_none_or(|s| n.seq >= s) {
                writes.push(store.put(to_js(n)?).primitive().map_err(idb(OP))?);
            }
        }
        for w in writes {
            w.await.map_err(idb(OP))?;
        }
        commit(tx, OP).await
    }

    /// Every stored notification, in ascending `seq` order.
    pub async fn all(&self) -> Result<Vec<Notification>, StoreError> {
        const OP: &str = "all";
        let tx = self.tx(&[NOTIFICATIONS], TransactionMode::Readonly, OP)?;
        let store = tx.object_store(NOTIFICATIONS).map_err(idb(OP))?;
        let index = store.index(INDEX_SEQ).map_err(idb(OP))?;
        let records = index
            .get_all::<JsValue>()
            .primitive()
            .map_err(idb(OP))?
            .await
            .map_err(idb(OP))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(idb(OP))?;
        commit(tx, OP).await?;
        records.iter().map(|r| from_js(r, OP)).collect()
    }

    /// Sets the read state of the notifications `ids` in one transaction;
    /// ids that are not stored are skipped.
    pub async fn apply_change(&self, ids: &[String], state: ReadState) -> Result<(), StoreError> {
        const OP: &str = "apply_change";
        if ids.is_empty() {
            return Ok(());
        }
        let tx = self.tx(&[NOTIFICATIONS], TransactionMode::Readwrite, OP)?;
        let store = tx.object_store(NOTIFICATIONS).map_err(idb(OP))?;
        let mut reads = Vec::with_capacity(ids.len());
        for id in ids {
            reads.push(
                store
                    .get::<JsValue, _, _>(id.as_str())
                    .primitive()
                    .map_err(idb(OP))?,
            );
        }
        let mut writes = Vec::new();
        for req in reads {
            if let Some(record) = req.await.map_err(idb(OP))? {
                let mut n: Notification = from_js(&record, OP)?;
                if n.state != state {
                    n.state = state;
                    writes.push(store.put(to_js(&n)?).primitive().map_err(idb(OP))?);
                }
            }
        }
        for w in writes {
            w.await.map_err(idb(OP))?;
        }
        commit(tx, OP).await
    }

    /// The counter stored under `key` in `meta` (`last_seq`, `version`), if any.
    pub async fn meta_u64(&self, key: &str) -> Result<Option<u64>, StoreError> {
        const OP: &str = "meta_u64";
        let tx = self.tx(&[META], TransactionMode::Readonly, OP)?;
        let store = tx.object_store(META).map_err(idb(OP))?;
        let value = store
            .get::<JsValue, _, _>(key)
            .primitive()
            .map_err(idb(OP))?
            .await
            .map_err(idb(OP))?;
        commit(tx, OP).await?;
        match value {
            None => Ok(None),
            Some(v) => js_u64(&v).map(Some).ok_or_else(|| StoreError::Corrupt {
                op: OP,
                message: format!("meta `{key}` is not a non-negative integer"),
            }),
        }
    }

    /// Stores the counter `v` under `key` in `meta`, as a JS number.
    pub async fn set_meta_u64(&self, key: &str, v: u64) -> Result<(), StoreError> {
        const OP: &str = "set_meta_u64";
        if v > MAX_SAFE_INTEGER {
            return Err(StoreError::OutOfRange {
                what: format!("meta {key}"),
                value: v.into(),
            });
        }
        let tx = self.tx(&[META], TransactionMode::Readwrite, OP)?;
        let store = tx.object_store(META).map_err(idb(OP))?;
        store
            .put(JsValue::from_f64(v as f64))
            .with_key(key)
            .without_key_type()
            .primitive()
            .map_err(idb(OP))?
            .await
            .map_err(idb(OP))?;
        commit(tx, OP).await
    }

    /// The shopper's preferences as last saved with [`Store::set_prefs`].
    pub async fn prefs(&self) -> Result<Option<Preferences>, StoreError> {
        const OP: &str = "prefs";
        let tx = self.tx(&[META], TransactionMode::Readonly, OP)?;
        let store = tx.object_store(META).map_err(idb(OP))?;
        let prefs = store
            .get::<JsValue, _, _>(PREFS_KEY)
            .primitive()
            .map_err(idb(OP))?
            .await
            .map_err(idb(OP))?;
        commit(tx, OP).await?;
        prefs.map(|p| from_js(&p, OP)).transpose()
    }

    /// Saves the shopper's preferences (under `meta` key [`PREFS_KEY`]).
    pub async fn set_prefs(&self, p: &Preferences) -> Result<(), StoreError> {
        const OP: &str = "set_prefs";
        let tx = self.tx(&[META], TransactionMode::Readwrite, OP)?;
        let store = tx.object_store(META).map_err(idb(OP))?;
        store
            .put(to_js(p)?)
            .with_key(PREFS_KEY)
            .without_key_type()
            .primitive()
            .map_err(idb(OP))?
            .await
            .map_err(idb(OP))?;
        commit(tx, OP).await
    }

    /// Queues a protocol frame (JSON text) to send when the socket is back;
    /// used for read/archive actions taken offline.
    pub async fn queue_outbox(&self, frame_json: &str) -> Result<(), StoreError> {
        const OP: &str = "queue_outbox";
        let tx = self.tx(&[OUTBOX], TransactionMode::Readwrite, OP)?;
        let store = tx.object_store(OUTBOX).map_err(idb(OP))?;
        store
            .add(frame_json)
            .primitive()
            .map_err(idb(OP))?
            .await
            .map_err(idb(OP))?;
        commit(tx, OP).await
    }

    /// Every queued frame with its key, oldest first. They stay queued until
    /// [`Store::unqueue`]: the connection removes them once the edge has answered a
    /// `ping` sent after them, so a socket that dies mid-way loses none.
    pub async fn outbox(&self) -> Result<Vec<(f64, String)>, StoreError> {
        const OP: &str = "outbox";
        let tx = self.tx(&[OUTBOX], TransactionMode::Readonly, OP)?;
        let store = tx.object_store(OUTBOX).map_err(idb(OP))?;
        let keys = store
            .get_all_keys::<f64>()
            .primitive()
            .map_err(idb(OP))?
            .await
            .map_err(idb(OP))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(idb(OP))?;
        let frames = store
            .get_all::<String>()
            .primitive()
            .map_err(idb(OP))?
            .await
            .map_err(idb(OP))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(idb(OP))?;
        Ok(keys.into_iter().zip(frames).collect())
    }

    /// Removes queued frames by key (unknown keys are fine), in one transaction.
    pub async fn unqueue(&self, keys: &[f64]) -> Result<(), StoreError> {
        let keys = keys.iter().map(|k| JsValue::from_f64(*k));
        self.delete_keys(OUTBOX, keys, "unqueue").await
    }

    /// Deletes `keys` (unknown ones are fine) from the object store `name`, in one transaction.
    async fn delete_keys(
        &self,
        name: &str,
        keys: impl ExactSizeIterator<Item = JsValue>,
        op: &'static str,
    ) -> Result<(), StoreError> {
        if keys.len() == 0 {
            return Ok(());
        }
        let tx = self.tx(&[name], TransactionMode::Readwrite, op)?;
        let store = tx.object_store(name).map_err(idb(op))?;
        let mut deletes = Vec::with_capacity(keys.len());
        for key in keys {
            deletes.push(store.delete(key).primitive().map_err(idb(op))?);
        }
        for d in deletes {
            d.await.map_err(idb(op))?;
        }
        commit(tx, op).await
    }

    /// Deletes the notifications `ids` (unknown ids are fine), in one transaction. Retention
    /// deletes what core's policy ([`tidings_core::inbox::Inbox::over_retention`]: archived
    /// first, then the oldest read, then the oldest unread) picks from the center's in-memory
    /// view of the store.
    pub async fn delete(&self, ids: &[String]) -> Result<(), StoreError> {
        let keys = ids.iter().map(|id| JsValue::from_str(id));
        self.delete_keys(NOTIFICATIONS, keys, "delete").await
    }

    /// Forgets what came from the server, for the protocol's `reset`: every
    /// notification and every `meta` entry except the preferences. The
    /// outbox is kept: it holds the shopper's own actions, still to be sent.
    pub async fn clear(&self) -> Result<(), StoreError> {
        const OP: &str = "clear";
        let tx = self.tx(&[NOTIFICATIONS, META], TransactionMode::Readwrite, OP)?;
        let notifications = tx.object_store(NOTIFICATIONS).map_err(idb(OP))?;
        let meta = tx.object_store(META).map_err(idb(OP))?;
        notifications
            .clear()
            .map_err(idb(OP))?
            .await
            .map_err(idb(OP))?;
        let prefs = meta
            .get::<JsValue, _, _>(PREFS_KEY)
            .primitive()
            .map_err(idb(OP))?
            .await
            .map_err(idb(OP))?;
        meta.clear().map_err(idb(OP))?.await.map_err(idb(OP))?;
        if let Some(prefs) = prefs {
            meta.put(prefs)
                .with_key(PREFS_KEY)
                .without_key_type()
                .primitive()
                .map_err(idb(OP))?
                .await
                .map_err(idb(OP))?;
        }
        commit(tx, OP).await
    }
}

/// Commits `tx`, reporting the transaction's own error (e.g. a quota error) when it aborted.
async fn commit(tx: Transaction<'_>, op: &'static str) -> Result<(), StoreError> {
    let raw: web_sys::IdbTransaction = (**tx.as_sys()).clone();
    match tx.commit().await {
        Ok(()) => Ok(()),
        Err(e) => Err(match raw.error() {
            Some(dom) => StoreError::from_dom(op, &dom),
            None => StoreError::from_idb(op, e),
        }),
    }
}

/// Refuses numbers of `n` that a JS number cannot hold exactly.
fn check_safe(id: &str, n: &Notification) -> Result<(), StoreError> {
    let max = MAX_SAFE_INTEGER as i128;
    let fields = [
        ("seq", Some(i128::from(n.seq))),
        ("created_at", Some(i128::from(n.created_at))),
        ("ingested_at", Some(i128::from(n.ingested_at))),
        ("expires_at", n.expires_at.map(i128::from)),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            if !(-max..=max).contains(&value) {
                return Err(StoreError::OutOfRange {
                    what: format!("{field} of notification {id}"),
                    value,
                });
            }
        }
    }
    Ok(())
}

/// `value` as the plain JS object IndexedDB keeps: its JSON (as `serde_json` would write it,
/// by `tidings_core::wire`) parsed by the browser, so integers are JS numbers, enums strings
/// and `None`s absent.
fn to_js<T: ToJson + ?Sized>(value: &T) -> Result<JsValue, StoreError> {
    js_sys::JSON::parse(&value.to_json())
        .map_err(|e| StoreError::Unavailable(format!("JSON.parse refused a record: {e:?}")))
}

/// A stored record read back: its JSON by the browser, then read as `T`.
fn from_js<T: FromJson>(record: &JsValue, op: &'static str) -> Result<T, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt { op, message };
    let text = js_sys::JSON::stringify(record)
        .map_err(|_| corrupt("a record is not JSON".into()))?
        .as_string()
        .unwrap_or_default();
    wire::from_text(&text).map_err(|e| corrupt(e.to_string()))
}

/// A non-negative integer stored as a JS number (or, from older writers, a BigInt).
fn js_u64(v: &JsValue) -> Option<u64> {
    if let Some(f) = v.as_f64() {
        return (f >= 0.0 && f.fract() == 0.0 && f <= MAX_SAFE_INTEGER as f64).then_some(f as u64);
    }
    v.dyn_ref::<js_sys::BigInt>()
        .and_then(|b| u64::try_from(b.clone()).ok())
}

/// Field `name` of the JS object `obj` as a `u64`.
fn field_u64(obj: &JsValue, name: &str) -> Option<u64> {
    js_sys::Reflect::get(obj, &JsValue::from_str(name))
        .ok()
        .and_then(|v| js_u64(&v))
}

/// Brings the schema from `old` to [`SCHEMA_VERSION`] inside the versionchange
/// transaction `tx`. Each step only creates what is missing.
fn migrate(
    db: &web_sys::IdbDatabase,
    tx: &web_sys::IdbTransaction,
    old: u32,
) -> Result<(), JsValue> {
    if old < 1 {
        // v1: notifications keyed by id with seq/created_at/category indexes; meta.
        let notifications = ensure_store(db, tx, NOTIFICATIONS, Some("id"), false)?;
        for index in [INDEX_SEQ, INDEX_CREATED_AT, INDEX_CATEGORY] {
            ensure_index(&notifications, index)?;
        }
        ensure_store(db, tx, META, None, false)?;
    }
    if old < 2 {
        // v2: the state index (filled from existing records) and the outbox.
        let notifications = ensure_store(db, tx, NOTIFICATIONS, Some("id"), false)?;
        ensure_index(&notifications, INDEX_STATE)?;
        ensure_store(db, tx, OUTBOX, None, true)?;
    }
    Ok(())
}

fn ensure_store(
    db: &web_sys::IdbDatabase,
    tx: &web_sys::IdbTransaction,
    name: &str,
    key_path: Option<&str>,
    auto_increment: bool,
) -> Result<web_sys::IdbObjectStore, JsValue> {
    if db.object_store_names().contains(name) {
        return tx.object_store(name);
    }
    let params = web_sys::IdbObjectStoreParameters::new();
    if let Some(path) = key_path {
        params.set_key_path(&JsValue::from_str(path));
    }
    params.set_auto_increment(auto_increment);
    db.create_object_store_with_optional_parameters(name, &params)
}

fn ensure_index(store: &web_sys::IdbObjectStore, name: &str) -> Result<(), JsValue> {
    if !store.index_names().contains(name) {
        store.create_index_with_str(name, name)?;
    }
    Ok(())
}
