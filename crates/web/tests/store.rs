//! Browser tests of the IndexedDB store (`tidings_web::store`), run in headless
//! Chromium. Each test opens its own, uniquely named database.
#![cfg(target_arch = "wasm32")]

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use indexed_db_futures::KeyPath;
use tidings_core::notification::{Category, Locale, Localized, Notification, Priority, ReadState};
use tidings_core::prefs::{Preferences, QuietHours};
use tidings_web::store::{Store, StoreError, MAX_SAFE_INTEGER, SCHEMA_VERSION};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A database name no other test (or earlier run) uses.
fn db_name(test: &str) -> String {
    format!(
        "tidings-test-{test}-{}-{}",
        js_sys::Date::now() as u64,
        (js_sys::Math::random() * 1e9) as u64
    )
}

fn item(id: &str, seq: u64, created_at: i64) -> Notification {
    Notification {
        id: id.into(),
        seq,
        kind: "order.shipped".into(),
        category: Category::Order,
        priority: Priority::Normal,
        title: Localized {
            en: format!("title {id} #{seq}"),
            zh: String::new(),
        },
        body: Localized::default(),
        link: None,
        created_at,
        expires_at: None,
        collapse_key: None,
        state: ReadState::Unread,
        ingested_at: 0,
    }
}

fn full_item() -> Notification {
    Notification {
        id: "c:order:1042".into(),
        seq: MAX_SAFE_INTEGER,
        kind: "order.delivered".into(),
        category: Category::Security,
        priority: Priority::Urgent,
        title: Localized {
            en: "Your order was delivered — café ☕".into(),
            zh: "您的订单已送达".into(),
        },
        body: Localized {
            en: "Left at the door.\nSign: \"J\"".into(),
            zh: "放在门口".into(),
        },
        link: Some("https://shop.example/orders/1042?x=1&y=2".into()),
        created_at: 1_795_000_000_123,
        expires_at: Some(1_797_592_000_456),
        collapse_key: Some("order:1042".into()),
        state: ReadState::Archived,
        ingested_at: 1_795_000_000_200,
    }
}

#[wasm_bindgen_test]
async fn round_trip_keeps_every_field_and_stores_numbers_not_bigints() {
    let name = db_name("roundtrip");
    let store = Store::open(&name).await.unwrap();
    let mut early = item("e:1", 3, -5);
    early.priority = Priority::Low;
    let full = full_item();
    store.put_all(&[full.clone(), early.clone()]).await.unwrap();
    // Ordered by seq, all fields identical.
    assert_eq!(store.all().await.unwrap(), vec![early, full.clone()]);

    // The raw record holds JS numbers (valid IndexedDB keys), not BigInts.
    let db = Database::open(name.as_str()).await.unwrap();
    let tx = db.transaction("notifications").build().unwrap();
    let raw = tx.object_store("notifications").unwrap();
    let rec: JsValue = raw
        .get::<JsValue, _, _>(full.id.as_str())
        .primitive()
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    for (field, want) in [
        ("seq", MAX_SAFE_INTEGER as f64),
        ("created_at", 1_795_000_000_123.0),
        ("expires_at", 1_797_592_000_456.0),
    ] {
        let v = js_sys::Reflect::get(&rec, &field.into()).unwrap();
        assert_eq!(v.as_f64(), Some(want), "{field} should be a JS number");
    }
    // And the seq index finds it by number.
    let by_seq = raw.index("seq").unwrap();
    let hit: Option<Notification> = by_seq
        .get(MAX_SAFE_INTEGER as f64)
        .serde()
        .unwrap()
        .await
        .unwrap();
    assert_eq!(hit, Some(full));
    drop(tx);
    db.close();
}

#[wasm_bindgen_test]
async fn numbers_beyond_2_pow_53_are_refused_and_the_rest_written() {
    let store = Store::open(&db_name("range")).await.unwrap();
    let err = store
        .put_all(&[
            item("ok", 1, 1),
            item("big", MAX_SAFE_INTEGER + 1, 1),
            item("also-ok", 2, 2),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::OutOfRange { .. }), "{err:?}");
    assert!(err.to_string().contains("2^53"), "{err}");
    assert!(err.to_string().contains("big"), "{err}");
    let ids: Vec<String> = store
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(ids, ["ok", "also-ok"], "the good items are written");
}

#[wasm_bindgen_test]
async fn upsert_by_id_keeps_the_newest_seq() {
    let store = Store::open(&db_name("upsert")).await.unwrap();
    let mut v1 = item("c:price:7", 5, 100);
    v1.title.en = "Price dropped to 20".into();
    store.put_all(&[v1.clone()]).await.unwrap();

    let mut v2 = item("c:price:7", 7, 200);
    v2.title.en = "Price dropped to 18".into();
    store.put_all(&[v2.clone()]).await.unwrap();
    assert_eq!(
        store.all().await.unwrap(),
        vec![v2.clone()],
        "newer replaces"
    );

    let mut stale = item("c:price:7", 6, 150);
    stale.title.en = "Price dropped to 19".into();
    store.put_all(&[stale]).await.unwrap();
    assert_eq!(
        store.all().await.unwrap(),
        vec![v2.clone()],
        "older ignored"
    );

    let mut same = v2.clone();
    same.state = ReadState::Read;
    store.put_all(&[same.clone()]).await.unwrap();
    assert_eq!(store.all().await.unwrap(), vec![same], "equal seq replaces");

    // Within one call the highest seq of an id wins, whatever the order.
    let mut a = item("c:stock:1", 9, 1);
    a.title.en = "winner".into();
    let b = item("c:stock:1", 8, 1);
    store
        .put_all(&[a.clone(), b, item("e:x", 1, 1)])
        .await
        .unwrap();
    let all = store.all().await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all.iter().find(|n| n.id == "c:stock:1"), Some(&a));
}

#[wasm_bindgen_test]
async fn apply_change_sets_state_and_skips_unknown_ids() {
    let store = Store::open(&db_name("change")).await.unwrap();
    store
        .put_all(&[item("a", 1, 1), item("b", 2, 2), item("c", 3, 3)])
        .await
        .unwrap();
    store
        .apply_change(&["a".into(), "c".into(), "nope".into()], ReadState::Read)
        .await
        .unwrap();
    store
        .apply_change(&["c".into()], ReadState::Archived)
        .await
        .unwrap();
    store.apply_change(&[], ReadState::Read).await.unwrap();
    let states: Vec<_> = store
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.id, n.state))
        .collect();
    assert_eq!(
        states,
        vec![
            ("a".into(), ReadState::Read),
            ("b".into(), ReadState::Unread),
            ("c".into(), ReadState::Archived)
        ]
    );
}

#[wasm_bindgen_test]
async fn meta_counters_round_trip() {
    let store = Store::open(&db_name("meta")).await.unwrap();
    assert_eq!(store.meta_u64("last_seq").await.unwrap(), None);
    store.set_meta_u64("last_seq", 42).await.unwrap();
    store.set_meta_u64("version", 3).await.unwrap();
    assert_eq!(store.meta_u64("last_seq").await.unwrap(), Some(42));
    assert_eq!(store.meta_u64("version").await.unwrap(), Some(3));
    store
        .set_meta_u64("last_seq", MAX_SAFE_INTEGER)
        .await
        .unwrap();
    assert_eq!(
        store.meta_u64("last_seq").await.unwrap(),
        Some(MAX_SAFE_INTEGER)
    );
    let err = store
        .set_meta_u64("last_seq", MAX_SAFE_INTEGER + 1)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::OutOfRange { .. }), "{err:?}");
    assert_eq!(
        store.meta_u64("last_seq").await.unwrap(),
        Some(MAX_SAFE_INTEGER)
    );
}

#[wasm_bindgen_test]
async fn prefs_round_trip() {
    let store = Store::open(&db_name("prefs")).await.unwrap();
    assert_eq!(store.prefs().await.unwrap(), None);
    let p = Preferences {
        muted: [Category::Promo, Category::Price].into(),
        quiet_hours: Some(QuietHours {
            start_minute: 22 * 60,
            end_minute: 7 * 60,
        }),
        utc_offset_minutes: -300,
        locale: Some(Locale::Zh),
    };
    store.set_prefs(&p).await.unwrap();
    assert_eq!(store.prefs().await.unwrap(), Some(p));
    store.set_prefs(&Preferences::default()).await.unwrap();
    assert_eq!(store.prefs().await.unwrap(), Some(Preferences::default()));
}

/// The queued frames' texts, oldest first.
async fn queued(store: &Store) -> Vec<String> {
    store
        .outbox()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, f)| f)
        .collect()
}

#[wasm_bindgen_test]
async fn outbox_is_fifo_and_keeps_frames_until_unqueued() {
    let store = Store::open(&db_name("outbox")).await.unwrap();
    assert!(store.outbox().await.unwrap().is_empty());
    for i in 0..3 {
        store
            .queue_outbox(&format!(r#"{{"type":"read","ids":["e:{i}"]}}"#))
            .await
            .unwrap();
    }
    let sent = store.outbox().await.unwrap();
    let texts: Vec<String> = sent.iter().map(|(_, f)| f.clone()).collect();
    assert_eq!(
        texts,
        (0..3)
            .map(|i| format!(r#"{{"type":"read","ids":["e:{i}"]}}"#))
            .collect::<Vec<_>>()
    );
    // Reading does not remove: a socket that dies before the edge answers loses nothing.
    assert_eq!(queued(&store).await.len(), 3);
    // Queued while the first three were in flight, then the first three are answered.
    store.queue_outbox("later-1").await.unwrap();
    let keys: Vec<f64> = sent.iter().map(|(k, _)| *k).collect();
    store.unqueue(&keys).await.unwrap();
    store.queue_outbox("later-2").await.unwrap();
    assert_eq!(
        queued(&store).await,
        vec!["later-1".to_string(), "later-2".to_string()]
    );
    store.unqueue(&keys).await.unwrap();
    assert_eq!(queued(&store).await.len(), 2, "unknown keys are fine");
}

#[wasm_bindgen_test]
async fn retention_drops_archived_then_oldest_read_then_oldest() {
    let store = Store::open(&db_name("retention")).await.unwrap();
    // 30 items, created_at grows with i; seq runs the other way so age is
    // judged by created_at, not by log position.
    let items: Vec<_> = (0..30)
        .map(|i| {
            let mut n = item(&format!("n{i:02}"), 100 - i as u64, 1_000 + i as i64);
            n.state = match i {
                5 | 10 | 15 | 20 | 25 => ReadState::Archived,
                1 | 2 | 3 | 4 | 6 | 7 | 8 => ReadState::Read,
                _ => ReadState::Unread,
            };
            n
        })
        .collect();
    store.put_all(&items).await.unwrap();
    // Retention as the center applies it: core's policy over what is held, then delete.
    async fn retain(store: &Store, cap: usize) -> usize {
        let mut held = tidings_core::inbox::Inbox::new();
        held.extend(store.all().await.unwrap());
        let drop = held.over_retention(cap);
        store.delete(&drop).await.unwrap();
        drop.len()
    }
    assert_eq!(retain(&store, 30).await, 0);
    assert_eq!(retain(&store, 20).await, 10);
    let mut left: Vec<_> = store
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    left.sort();
    // Gone: the 5 archived, then the 5 oldest read (1, 2, 3, 4, 6).
    let gone = [5, 10, 15, 20, 25, 1, 2, 3, 4, 6];
    let want: Vec<_> = (0..30)
        .filter(|i| !gone.contains(i))
        .map(|i| format!("n{i:02}"))
        .collect();
    assert_eq!(left, want);
    // Next: the remaining read (7, 8), then the oldest unread (0, 9).
    assert_eq!(retain(&store, 16).await, 4);
    let mut left: Vec<_> = store
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    left.sort();
    assert!(!left
        .iter()
        .any(|id| ["n07", "n08", "n00", "n09"].contains(&id.as_str())));
    assert_eq!(left.len(), 16);
}

#[wasm_bindgen_test]
async fn clear_forgets_server_data_but_keeps_prefs_and_outbox() {
    let store = Store::open(&db_name("clear")).await.unwrap();
    store
        .put_all(&[item("a", 1, 1), item("b", 2, 2)])
        .await
        .unwrap();
    store.set_meta_u64("last_seq", 2).await.unwrap();
    store.set_meta_u64("version", 1).await.unwrap();
    let prefs = Preferences {
        locale: Some(Locale::Zh),
        ..Default::default()
    };
    store.set_prefs(&prefs).await.unwrap();
    store.queue_outbox("pending").await.unwrap();

    store.clear().await.unwrap();
    assert!(store.all().await.unwrap().is_empty());
    assert_eq!(store.meta_u64("last_seq").await.unwrap(), None);
    assert_eq!(store.meta_u64("version").await.unwrap(), None);
    assert_eq!(store.prefs().await.unwrap(), Some(prefs));
    assert_eq!(queued(&store).await, vec!["pending".to_string()]);
    // Usable again afterwards.
    store.put_all(&[item("c", 3, 3)]).await.unwrap();
    assert_eq!(store.all().await.unwrap().len(), 1);
}

#[wasm_bindgen_test]
async fn upgrade_from_v1_keeps_data_and_adds_state_index_and_outbox() {
    let name = db_name("upgrade");
    // A version-1 database, made by hand: notifications without the state
    // index, meta, no outbox.
    let v1 = Database::open(name.as_str())
        .with_version(1u32)
        .with_on_upgrade_needed(|_, db| {
            let s = db
                .create_object_store("notifications")
                .with_key_path(KeyPath::One("id"))
                .build()?;
            for index in ["seq", "created_at", "category"] {
                s.create_index(index, KeyPath::One(index)).build()?;
            }
            db.create_object_store("meta").build()?;
            Ok(())
        })
        .await
        .unwrap();
    let mut old = full_item();
    old.state = ReadState::Unread;
    let tx = v1
        .transaction(["notifications", "meta"])
        .with_mode(TransactionMode::Readwrite)
        .build()
        .unwrap();
    tx.object_store("notifications")
        .unwrap()
        .put(&old)
        .serde()
        .unwrap()
        .await
        .unwrap();
    tx.object_store("meta")
        .unwrap()
        .put(JsValue::from_f64(77.0))
        .with_key("last_seq")
        .without_key_type()
        .primitive()
        .unwrap()
        .await
        .unwrap();
    tx.commit().await.unwrap();
    v1.close();

    let store = Store::open(&name).await.unwrap();
    assert_eq!(store.all().await.unwrap(), vec![old.clone()]);
    assert_eq!(store.meta_u64("last_seq").await.unwrap(), Some(77));
    store.queue_outbox("x").await.unwrap();
    assert_eq!(queued(&store).await, vec!["x".to_string()]);

    // The new state index exists and was filled from the old record.
    let db = Database::open(name.as_str()).await.unwrap();
    assert_eq!(db.version() as u32, SCHEMA_VERSION);
    let tx = db.transaction("notifications").build().unwrap();
    let notifications = tx.object_store("notifications").unwrap();
    let by_state = notifications.index("state").unwrap();
    let unread: Vec<Notification> = by_state
        .get_all()
        .with_query("unread")
        .serde()
        .unwrap()
        .await
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(unread, vec![old]);
    drop(tx);
    db.close();
}

#[wasm_bindgen_test]
async fn reopening_keeps_data() {
    let name = db_name("reopen");
    let store = Store::open(&name).await.unwrap();
    store.put_all(&[item("a", 1, 1)]).await.unwrap();
    drop(store);
    let again = Store::open(&name).await.unwrap();
    assert_eq!(again.all().await.unwrap(), vec![item("a", 1, 1)]);
}

#[wasm_bindgen_test]
async fn a_thousand_items_in_one_call() {
    let store = Store::open(&db_name("thousand")).await.unwrap();
    let items: Vec<_> = (0..1000u64)
        .rev()
        .map(|i| {
            let mut n = item(&format!("e:{i:04}"), i + 1, 1_795_000_000_000 + i as i64);
            n.category = Category::ALL[(i % 8) as usize];
            n
        })
        .collect();
    let t0 = js_sys::Date::now();
    store.put_all(&items).await.unwrap();
    let t1 = js_sys::Date::now();
    let all = store.all().await.unwrap();
    let t2 = js_sys::Date::now();
    console_log!("1,000 items: put_all {} ms, all {} ms", t1 - t0, t2 - t1);
    assert_eq!(all.len(), 1000);
    let mut want = items;
    want.reverse();
    assert_eq!(all, want);
    // A second pass of the same items changes nothing.
    store.put_all(&all).await.unwrap();
    assert_eq!(store.all().await.unwrap().len(), 1000);
}

#[wasm_bindgen_test]
async fn a_newer_schema_elsewhere_closes_this_connection_and_is_refused() {
    let name = db_name("newer");
    let store = Store::open(&name).await.unwrap();
    store.put_all(&[item("a", 1, 1)]).await.unwrap();
    // Another tab opens a newer schema: not blocked, because this connection
    // closes itself on `versionchange`.
    let newer = Database::open(name.as_str())
        .with_version(SCHEMA_VERSION + 1)
        .await
        .unwrap();
    let err = store.all().await.unwrap_err();
    assert_eq!(err, StoreError::Closed, "{err}");
    newer.close();
    // This code cannot open the newer schema, and says so.
    let err = Store::open(&name).await.unwrap_err();
    assert_eq!(err, StoreError::NewerSchema { name: name.clone() });
    assert!(err.to_string().contains("reload"), "{err}");
}
