//! The Inbox against a real workerd: exact resume after a dropped socket and
//! after a restart, read-state sync across devices, scheduling with
//! cancellation, topics, history over HTTP, and size limits.

use std::time::Duration;

use serde_json::json;
use tidings_core::notification::{Category, Notification, ReadState};
use tidings_core::protocol::ServerFrame;
use tidings_e2e::{now_secs, ops_token_for, token_for, Edge};

fn shipped(id: &str, user: &str, order: u32) -> serde_json::Value {
    json!({"id": id, "type": "order.shipped", "occurred_at": now_secs(), "user_id": user,
           "data": {"order_id": order.to_string(), "order_number": format!("#{order}"), "carrier": "UPS", "tracking_number": "1Z"}})
}

/// The next `notify` on `socket`, skipping other frames.
async fn next_notify(socket: &mut tidings_e2e::Socket) -> Notification {
    loop {
        if let ServerFrame::Notify { notification } = socket.next().await {
            return notification;
        }
    }
}

/// The next `changed` on `socket` as (ids, state), skipping other frames.
async fn next_changed(socket: &mut tidings_e2e::Socket) -> (Vec<String>, ReadState) {
    loop {
        if let ServerFrame::Changed { ids, state, .. } = socket.next().await {
            return (ids, state);
        }
    }
}

/// Whatever `socket` says within `ms`, until it is quiet.
async fn drain(socket: &mut tidings_e2e::Socket, ms: u64) -> Vec<ServerFrame> {
    let mut frames = Vec::new();
    while let Some(f) = socket.next_within(Duration::from_millis(ms)).await {
        frames.push(f);
    }
    frames
}

#[tokio::test]
async fn resume_after_a_dropped_socket_loses_nothing_and_repeats_nothing() {
    let edge = Edge::start().await;
    let events: Vec<_> = (0..60)
        .map(|i| shipped(&format!("r-{i}"), "frank", i))
        .collect();
    let (status, _) = edge.post_events(json!(events)).await;
    assert_eq!(status, 202);
    // Read part of the replay, then drop the socket mid-stream.
    let mut first = edge.connect("frank").await;
    first.send(json!({"type": "hello", "after": 0})).await;
    assert!(matches!(
        first.next().await,
        ServerFrame::Welcome { head: 60, .. }
    ));
    let mut seen = Vec::new();
    while seen.len() < 17 {
        if let ServerFrame::Notify { notification } = first.next().await {
            seen.push(notification.seq);
        }
    }
    drop(first);
    // More arrive while disconnected.
    let later: Vec<_> = (60..70)
        .map(|i| shipped(&format!("r-{i}"), "frank", i))
        .collect();
    edge.post_events(json!(later)).await;
    let mut second = edge.connect("frank").await;
    let (_, rest) = second.hello(*seen.last().unwrap()).await;
    seen.extend(rest.iter().map(|n| n.seq));
    assert_eq!(
        seen,
        (1..=70).collect::<Vec<u64>>(),
        "every seq exactly once, in order"
    );
    // A device whose cursor is past anything this Inbox assigned (it synced with a log since
    // lost) is told to reset, then gets everything kept, in order.
    let mut stale = edge.connect("frank").await;
    stale.send(json!({"type": "hello", "after": 999})).await;
    assert!(matches!(
        stale.next().await,
        ServerFrame::Welcome { head: 70, .. }
    ));
    assert!(
        matches!(stale.next().await, ServerFrame::Reset { oldest: 1 }),
        "a cursor past the head resets"
    );
    let mut replayed = Vec::new();
    loop {
        match stale.next().await {
            ServerFrame::Notify { notification } => replayed.push(notification.seq),
            ServerFrame::Synced { .. } => break,
            other => panic!("unexpected during replay: {other:?}"),
        }
    }
    assert_eq!(replayed, (1..=70).collect::<Vec<u64>>());
}

#[tokio::test]
async fn the_log_survives_a_workerd_restart() {
    let mut edge = Edge::start().await;
    edge.post_events(json!([
        shipped("keep-1", "gina", 1),
        shipped("keep-2", "gina", 2)
    ]))
    .await;
    let persist = edge.persist.clone();
    edge.stop();
    let edge2 = Edge::start_on(&persist).await;
    let mut socket = edge2.connect("gina").await;
    let (head, items) = socket.hello(0).await;
    assert_eq!((head, items.len()), (2, 2));
    // The same event id after the restart is still a duplicate.
    let (_, body) = edge2
        .post_events(json!([shipped("keep-1", "gina", 1)]))
        .await;
    assert_eq!(body["results"][0]["status"], "duplicate", "{body}");
    drop(edge2);
    drop(edge);
    let _ = std::fs::remove_dir_all(&persist);
}

#[tokio::test]
async fn read_state_syncs_to_other_devices() {
    let edge = Edge::start().await;
    edge.post_events(json!([
        shipped("m-1", "hana", 1),
        shipped("m-2", "hana", 2)
    ]))
    .await;
    let mut phone = edge.connect("hana").await;
    let mut laptop = edge.connect("hana").await;
    let (_, items) = phone.hello(0).await;
    laptop.hello(0).await;
    phone
        .send(json!({"type": "mark", "ids": [items[0].id], "state": "read"}))
        .await;
    match laptop.next().await {
        ServerFrame::Changed { ids, state, .. } => {
            assert_eq!((ids, state), (vec![items[0].id.clone()], ReadState::Read))
        }
        other => panic!("expected changed, got {other:?}"),
    }
    // A device that was offline catches up on hello.
    let mut tablet = edge.connect("hana").await;
    let (_, replay) = tablet.hello(0).await;
    assert_eq!(
        replay.iter().find(|n| n.id == items[0].id).unwrap().state,
        ReadState::Read
    );
    // Malformed frames get an error frame, never a dropped connection.
    phone.send(json!({"type": "launch"})).await;
    loop {
        match phone.next().await {
            ServerFrame::Error { code, .. } => {
                assert_eq!(code, "bad_frame");
                break;
            }
            ServerFrame::Changed { .. } => {}
            other => panic!("expected error, got {other:?}"),
        }
    }
    // Archive and mark-all-read are kept and pushed to the other devices too.
    phone
        .send(json!({"type": "mark", "ids": [items[1].id], "state": "archived"}))
        .await;
    assert_eq!(
        next_changed(&mut laptop).await,
        (vec![items[1].id.clone()], ReadState::Archived)
    );
    edge.post_events(json!([shipped("m-3", "hana", 3)])).await;
    let third = next_notify(&mut phone).await;
    assert_eq!(next_notify(&mut laptop).await.id, third.id);
    phone
        .send(json!({"type": "mark_all_read", "before": third.seq}))
        .await;
    assert_eq!(
        next_changed(&mut laptop).await,
        (vec![third.id.clone()], ReadState::Read),
        "mark-all-read changes only what was unread (the archived item stays archived)"
    );
    // Preferences are saved, pushed to the other devices, greeted with, and honoured.
    phone
        .send(json!({"type": "prefs", "prefs": {"muted": ["promo"], "utc_offset_minutes": 60, "locale": "zh"}}))
        .await;
    let pushed = loop {
        if let ServerFrame::Prefs { prefs } = laptop.next().await {
            break prefs;
        }
    };
    assert!(pushed.muted.contains(&Category::Promo), "{pushed:?}");
    let mut desk = edge.connect("hana").await;
    desk.send(json!({"type": "hello", "after": 0})).await;
    match desk.next().await {
        ServerFrame::Welcome { prefs, .. } => assert_eq!(prefs, pushed),
        other => panic!("expected welcome, got {other:?}"),
    }
    let replay = drain(&mut desk, 1000).await;
    let state_of = |id: &str| {
        replay.iter().find_map(|f| match f {
            ServerFrame::Notify { notification } if notification.id == id => {
                Some(notification.state)
            }
            _ => None,
        })
    };
    assert_eq!(state_of(&items[0].id), Some(ReadState::Read));
    assert_eq!(state_of(&items[1].id), Some(ReadState::Archived));
    assert_eq!(state_of(&third.id), Some(ReadState::Read));
    edge.post_events(
        json!([{"id": "m-promo", "type": "promo.announced", "occurred_at": now_secs(),
                             "data": {"title": "Sale", "message": "20% off", "promo_id": "p"}},
                            shipped("m-4", "hana", 4)]),
    )
    .await;
    assert_eq!(
        next_notify(&mut laptop).await.kind,
        "order.shipped",
        "the muted promotion is not delivered, the shipment is"
    );
    // Another shopper cannot change hana's items, even knowing their ids.
    let mut mallory = edge.connect("mallory").await;
    mallory.hello(0).await;
    mallory
        .send(json!({"type": "mark", "ids": [third.id], "state": "unread"}))
        .await;
    mallory
        .send(json!({"type": "mark", "ids": [items[0].id], "state": "archived"}))
        .await;
    assert!(
        !drain(&mut laptop, 1000)
            .await
            .iter()
            .any(|f| matches!(f, ServerFrame::Changed { .. })),
        "hana's devices hear of no change"
    );
    let (_, after) = edge.connect("hana").await.hello(0).await;
    let state = |id: &str| after.iter().find(|n| n.id == id).map(|n| n.state);
    assert_eq!(state(&third.id), Some(ReadState::Read));
    assert_eq!(state(&items[0].id), Some(ReadState::Read));
}

#[tokio::test]
async fn a_resumed_device_keeps_a_newer_item_that_replaced_one_archived_elsewhere() {
    let edge = Edge::start().await;
    edge.post_events(json!([shipped("k-1", "kira", 7)])).await;
    // The laptop syncs the shipment, then goes offline.
    let mut laptop = edge.connect("kira").await;
    laptop.send(json!({"type": "hello", "after": 0})).await;
    let version = match laptop.next().await {
        ServerFrame::Welcome { version, .. } => version,
        other => panic!("expected welcome, got {other:?}"),
    };
    let mut held = tidings_core::inbox::Inbox::new();
    for f in drain(&mut laptop, 500).await {
        if let ServerFrame::Notify { notification } = f {
            held.upsert(notification);
        }
    }
    let (after, id) = (held.max_seq(), held.iter().next().unwrap().id.clone());
    laptop.close().await;
    // The phone archives it; then the order is delivered, replacing it under its collapse key.
    let mut phone = edge.connect("kira").await;
    phone.hello(0).await;
    phone
        .send(json!({"type": "mark", "ids": [id], "state": "archived"}))
        .await;
    assert_eq!(next_changed(&mut phone).await.1, ReadState::Archived);
    edge.post_events(
        json!([{"id": "k-2", "type": "order.delivered", "occurred_at": now_secs(),
        "user_id": "kira", "data": {"order_id": "7", "order_number": "#7"}}]),
    )
    .await;
    let delivered = next_notify(&mut phone).await;
    assert_eq!(
        (delivered.id.as_str(), delivered.state),
        (id.as_str(), ReadState::Unread)
    );
    // The laptop resumes and applies what it hears in order, as the center does.
    let mut laptop = edge.connect("kira").await;
    laptop
        .send(json!({"type": "hello", "after": after, "changes_after": version}))
        .await;
    for f in drain(&mut laptop, 1000).await {
        match f {
            ServerFrame::Notify { notification } => {
                held.upsert(notification);
            }
            ServerFrame::Changed { ids, state, .. } => {
                held.apply_change(&ids, state);
            }
            _ => {}
        }
    }
    let item = held.get(&id).unwrap();
    assert_eq!(item.seq, delivered.seq);
    assert_eq!(
        item.state,
        ReadState::Unread,
        "the delivery arrived after the archive: it is new to the shopper"
    );
}

#[tokio::test]
async fn the_handled_ping_is_answered_after_the_frames_before_it() {
    let edge = Edge::start().await;
    edge.post_events(json!([shipped("hp-1", "hugo", 1)])).await;
    let mut socket = edge.connect("hugo").await;
    let (_, items) = socket.hello(0).await;
    // What a center's outbox sends on reconnect: a watch (whose Topic call the Inbox awaits,
    // letting other frames in meanwhile), a mark, then the ping whose pong empties the outbox.
    socket
        .send(json!({"type": "watch", "topic": "stock:sku-hp"}))
        .await;
    socket
        .send(json!({"type": "mark", "ids": [items[0].id], "state": "read"}))
        .await;
    socket
        .send(
            serde_json::from_str::<serde_json::Value>(tidings_core::protocol::HANDLED_PING)
                .unwrap(),
        )
        .await;
    let mut heard = Vec::new();
    while let Some(f) = socket.next_within(Duration::from_secs(3)).await {
        heard.push(match f {
            ServerFrame::Topics { .. } => "topics",
            ServerFrame::Changed { .. } => "changed",
            ServerFrame::Pong => "pong",
            _ => "other",
        });
        if heard.last() == Some(&"pong") {
            break;
        }
    }
    assert_eq!(heard.last(), Some(&"pong"), "{heard:?}");
    assert!(
        heard.contains(&"topics") && heard.contains(&"changed"),
        "{heard:?}"
    );
}

#[tokio::test]
async fn scheduled_reminders_are_released_by_the_alarm_or_cancelled() {
    let edge = Edge::start().await;
    let mut socket = edge.connect("ivy").await;
    socket.hello(0).await;
    // The reminder rule waits 1 h after the cart was abandoned: abandoned 1 h − 2 s ago.
    let t = now_secs() - 3600;
    edge.post_events(json!([
        {"id": "cart-1", "type": "cart.abandoned", "occurred_at": t + 2, "user_id": "ivy", "data": {"cart_id": "c1"}},
        {"id": "cart-2", "type": "cart.abandoned", "occurred_at": t + 3, "user_id": "ivy", "data": {"cart_id": "c2"}},
        {"id": "order-c2", "type": "order.created", "occurred_at": now_secs(), "user_id": "ivy",
         "data": {"order_id": "77", "order_number": "#77", "cart_id": "c2", "total": "10.00", "currency": "USD"}},
    ]))
    .await;
    let mut got = Vec::new();
    while let Some(frame) = socket.next_within(Duration::from_secs(15)).await {
        if let ServerFrame::Notify { notification } = frame {
            got.push((notification.kind.clone(), notification.collapse_key.clone()));
            if got.len() == 2 {
                break;
            }
        }
    }
    assert!(got.iter().any(|(k, _)| k == "order.created"), "{got:?}");
    assert!(
        got.iter()
            .any(|(k, c)| k == "cart.abandoned" && c.as_deref() == Some("cart:c1")),
        "reminder c1 released: {got:?}"
    );
    // c2's reminder was cancelled by the order: nothing more arrives.
    assert!(socket.next_within(Duration::from_secs(3)).await.is_none());
}

#[tokio::test]
async fn watchers_of_a_topic_get_restock_news() {
    let edge = Edge::start().await;
    let mut watcher = edge.connect("jun").await;
    let mut other = edge.connect("kai").await;
    watcher.hello(0).await;
    other.hello(0).await;
    watcher
        .send(json!({"type": "watch", "topic": "stock:sku-mug"}))
        .await;
    assert!(
        matches!(watcher.next().await, ServerFrame::Topics { topics } if topics == vec!["stock:sku-mug".to_string()])
    );
    edge.post_events(json!([{"id": "restock-1", "type": "inventory.restocked", "occurred_at": now_secs(),
                             "data": {"sku": "sku-mug", "product_title": "Enamel mug", "product_id": "p1"}}]))
        .await;
    match watcher.next().await {
        ServerFrame::Notify { notification } => {
            assert_eq!(notification.kind, "inventory.restocked")
        }
        other => panic!("expected notify, got {other:?}"),
    }
    assert!(
        other
            .next_within(Duration::from_millis(1500))
            .await
            .is_none(),
        "non-watchers get nothing"
    );
    // Unwatching stops the news.
    watcher
        .send(json!({"type": "unwatch", "topic": "stock:sku-mug"}))
        .await;
    assert!(matches!(watcher.next().await, ServerFrame::Topics { topics } if topics.is_empty()));
    edge.post_events(json!([{"id": "restock-2", "type": "inventory.restocked", "occurred_at": now_secs(),
                             "data": {"sku": "sku-mug", "product_title": "Enamel mug", "product_id": "p1"}}]))
        .await;
    assert!(
        watcher
            .next_within(Duration::from_millis(1500))
            .await
            .is_none(),
        "a former watcher gets nothing"
    );
}

#[tokio::test]
async fn a_topic_fans_out_to_many_watchers_in_batches() {
    let edge = Edge::start().await;
    // More watchers than one fan-out batch (50 Inbox calls).
    let mut sockets = Vec::new();
    for i in 0..120 {
        let mut s = edge.connect(&format!("fan-{i}")).await;
        s.hello(0).await;
        s.send(json!({"type": "watch", "topic": "price:p9"})).await;
        sockets.push(s);
    }
    for s in &mut sockets {
        assert!(matches!(s.next().await, ServerFrame::Topics { .. }));
    }
    let (status, body) = edge
        .post_events(json!([{"id": "drop-1", "type": "product.price_dropped", "occurred_at": now_secs(),
                             "data": {"sku": "sku-lantern", "product_id": "p9", "product_title": "Storm lantern",
                                      "old_price": "39.00", "new_price": "29.00", "currency": "USD"}}]))
        .await;
    assert_eq!(status, 202, "{body}");
    for (i, s) in sockets.iter_mut().enumerate() {
        let n = next_notify(s).await;
        assert_eq!(n.kind, "product.price_dropped", "watcher {i}");
    }
}

#[tokio::test]
async fn a_shopper_watches_at_most_a_hundred_topics() {
    let edge = Edge::start().await;
    let mut s = edge.connect("collector").await;
    s.hello(0).await;
    for i in 0..100 {
        s.send(json!({"type": "watch", "topic": format!("stock:sku-{i}")}))
            .await;
        match s.next().await {
            ServerFrame::Topics { topics } => assert_eq!(topics.len(), i + 1),
            other => panic!("watch {i}: expected topics, got {other:?}"),
        }
    }
    // Another device of the same shopper, connected now.
    let mut other = edge.connect("collector").await;
    other.hello(0).await;
    // The 101st is refused, and the list that follows, on every device, puts an optimistic
    // client right (all its tabs showed the watch at once).
    s.send(json!({"type": "watch", "topic": "stock:sku-extra"}))
        .await;
    match s.next().await {
        ServerFrame::Error { code, .. } => assert_eq!(code, "too_many_topics"),
        other => panic!("expected too_many_topics, got {other:?}"),
    }
    match s.next().await {
        ServerFrame::Topics { topics } => {
            assert_eq!(topics.len(), 100);
            assert!(!topics.contains(&"stock:sku-extra".to_string()));
        }
        other => panic!("expected topics, got {other:?}"),
    }
    match other.next().await {
        ServerFrame::Topics { topics } => assert_eq!(topics.len(), 100),
        frame => panic!("the other device expected the list, got {frame:?}"),
    }
    let restock = |id: &str| {
        json!([{"id": id, "type": "inventory.restocked", "occurred_at": now_secs(),
                "data": {"sku": "sku-extra", "product_title": "Extra mug", "product_id": "p-extra"}}])
    };
    edge.post_events(restock("restock-extra-1")).await;
    assert!(
        s.next_within(Duration::from_millis(1500)).await.is_none(),
        "a refused watch gets no news"
    );
    // Watching one already watched is still answered; unwatching one makes room.
    s.send(json!({"type": "watch", "topic": "stock:sku-7"}))
        .await;
    assert!(matches!(s.next().await, ServerFrame::Topics { topics } if topics.len() == 100));
    s.send(json!({"type": "unwatch", "topic": "stock:sku-7"}))
        .await;
    assert!(matches!(s.next().await, ServerFrame::Topics { topics } if topics.len() == 99));
    s.send(json!({"type": "watch", "topic": "stock:sku-extra"}))
        .await;
    assert!(matches!(s.next().await, ServerFrame::Topics { topics } if topics.len() == 100));
    edge.post_events(restock("restock-extra-2")).await;
    assert_eq!(next_notify(&mut s).await.kind, "inventory.restocked");
    // Unwatching a topic not watched calls no Topic: every name would otherwise be one more
    // stored Durable Object, made without limit around the cap.
    let topic_objects = || {
        std::fs::read_dir(edge.persist.join("v3/do/tidings-edge-Topic"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "sqlite"))
                    .count()
            })
            .unwrap_or(0)
    };
    let before = topic_objects();
    assert!(
        before >= 100,
        "one stored Topic per watched topic, found {before}"
    );
    for i in 0..20 {
        s.send(json!({"type": "unwatch", "topic": format!("stock:never-{i}")}))
            .await;
        assert!(matches!(s.next().await, ServerFrame::Topics { topics } if topics.len() == 100));
    }
    assert_eq!(topic_objects(), before, "no Topic made by unwatching");
}

#[tokio::test]
async fn history_over_http_with_the_same_jwt() {
    let edge = Edge::start().await;
    edge.post_events(json!([
        shipped("h-1", "lea", 1),
        shipped("h-2", "lea", 2),
        shipped("h-3", "lea", 3)
    ]))
    .await;
    // One page of `GET /v1/inbox?<query>` as `user` sees it.
    let inbox_page = |query: &str, user: &str| {
        let (path, token) = (format!("/v1/inbox?{query}"), token_for(user, 60));
        let edge = &edge;
        async move { edge.get_json_as(&path, &token).await }
    };
    // The bare request, for its status.
    let get = |query: &str, token: String| {
        edge.http
            .get(edge.url(&format!("/v1/inbox?{query}")))
            .header("Authorization", format!("Bearer {token}"))
            .send()
    };
    let page = inbox_page("after=1&limit=10", "lea").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");
    let page = inbox_page("q=%232&limit=10", "lea").await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        1,
        "search finds #2: {page}"
    );
    // Category filter and priority sort, as the center's panel asks for them.
    edge.post_events(json!([{"id": "h-pay", "type": "payment.succeeded", "occurred_at": now_secs(), "user_id": "lea",
                             "data": {"order_id": "9", "order_number": "#9", "amount": "20.00", "currency": "EUR"}}]))
        .await;
    let page = inbox_page("category=payment", "lea").await;
    let kinds = |page: &serde_json::Value| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&page), vec!["payment.succeeded"], "{page}");
    let newest = inbox_page("", "lea").await;
    assert_eq!(
        kinds(&newest)[0],
        "payment.succeeded",
        "newest first: {newest}"
    );
    let by_priority = inbox_page("sort=priority", "lea").await;
    assert_eq!(
        kinds(&by_priority),
        vec![
            "order.shipped",
            "order.shipped",
            "order.shipped",
            "payment.succeeded"
        ],
        "the (high) shipments before the (normal) payment: {by_priority}"
    );
    assert_eq!(get("", token_for("lea", -5)).await.unwrap().status(), 401);
    assert_eq!(
        get("state=bogus", token_for("lea", 60))
            .await
            .unwrap()
            .status(),
        400
    );
    // Another user's token sees only their own (empty) inbox.
    let page = inbox_page("", "mallory").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn oversize_bodies_are_413() {
    let edge = Edge::start().await;
    let body = vec![b' '; 1024 * 1024 + 10];
    let sig = tidings_core::signature::sign_tidings(
        tidings_e2e::INGEST_SECRET.as_bytes(),
        now_secs(),
        &body,
    );
    let (status, resp) = edge.post_events_raw(body, Some(sig)).await;
    assert_eq!(status, 413, "{resp}");
    assert_eq!(resp["error"]["code"], "body_too_large");
}

#[tokio::test]
async fn operators_see_live_statistics() {
    let edge = Edge::start().await;
    let mut socket = edge.connect("nia").await;
    socket.hello(0).await;
    edge.post_events(json!([shipped("s-1", "nia", 1), {"id": "s-bad", "type": "nope.nope", "occurred_at": now_secs()}])).await;
    socket.next().await;
    let ops = tidings_core::token::mint(
        tidings_e2e::SUBSCRIBER_SECRET.as_bytes(),
        &tidings_core::token::Claims {
            sub: "op".into(),
            exp: now_secs() + 60,
            aud: None,
            role: Some("ops".into()),
        },
    );
    // Reports are sent right after the work; give them a moment.
    let mut stats = serde_json::Value::Null;
    for _ in 0..20 {
        stats = edge.get_json_as("/v1/stats", &ops).await;
        if stats["latency"]["count"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(stats["rejections_last_hour"]["unknown_type"], 1, "{stats}");
    assert!(stats["latency"]["count"].as_u64().unwrap() >= 1, "{stats}");
    assert!(stats["sockets"].as_u64().unwrap() >= 1, "{stats}");
    // Per-minute counts for the last hour, by type and by category, aligned with `minutes`.
    assert_eq!(stats["minutes"].as_array().unwrap().len(), 60, "{stats}");
    let total = |series: &serde_json::Value| -> u64 {
        series
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        total(&stats["events_per_minute"]["order.shipped"]),
        1,
        "{stats}"
    );
    assert_eq!(
        total(&stats["notifications_per_minute"]["order"]),
        1,
        "{stats}"
    );
    assert!(total(&stats["deliveries_per_minute"]) >= 1, "{stats}");
    // Latency percentiles, in order.
    let ms = |k: &str| stats["latency"][k].as_f64().unwrap_or(-1.0);
    assert!(
        0.0 <= ms("p50_ms") && ms("p50_ms") <= ms("p90_ms") && ms("p90_ms") <= ms("p99_ms"),
        "{stats}"
    );
    let metrics = edge
        .http
        .get(edge.url("/metrics"))
        .bearer_auth(&ops)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tidings_deliveries_total"), "{metrics}");
    // A shopper's token is not enough.
    let resp = edge
        .http
        .get(edge.url("/v1/stats"))
        .bearer_auth(token_for("nia", 60))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn statistics_gathered_from_many_requests_at_once_lose_nothing() {
    let edge = Edge::start().await;
    // Thirty requests at once, each refused for its signature: one report each, which the
    // Worker gathers for a moment and sends to the Stats object together.
    let posts = (0..30)
        .map(|_| edge.post_events_raw(br#"{"events":[]}"#.to_vec(), Some("t=1,v1=00".into())));
    let answers = futures_util::future::join_all(posts).await;
    let code = answers[0].1["error"]["code"].as_str().unwrap().to_owned();
    for (status, body) in &answers {
        assert_eq!(*status, 401, "{body}");
        assert_eq!(body["error"]["code"], code.as_str(), "{body}");
    }
    let ops = ops_token_for("olga");
    let mut counted = 0;
    for _ in 0..25 {
        let stats = edge.get_json_as("/v1/stats", &ops).await;
        counted = stats["rejections_last_hour"][&code].as_u64().unwrap_or(0);
        if counted >= 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(counted, 30, "every refusal counted once");
}

#[tokio::test]
async fn promotions_reach_every_known_shopper() {
    let edge = Edge::start().await;
    let mut a = edge.connect("ola").await;
    let mut b = edge.connect("pia").await;
    a.hello(0).await;
    b.hello(0).await;
    edge.post_events(json!([{"id": "promo-1", "type": "promo.announced", "occurred_at": now_secs(),
                             "data": {"title": "Autumn sale", "message": "20% off lanterns", "promo_id": "autumn"}}]))
        .await;
    for socket in [&mut a, &mut b] {
        match socket.next().await {
            ServerFrame::Notify { notification } => {
                assert_eq!(notification.kind, "promo.announced")
            }
            other => panic!("expected the promotion, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn cors_only_for_configured_origins() {
    let edge = Edge::start().await;
    let allowed = edge
        .http
        .get(edge.url("/v1/health"))
        .header("Origin", "http://127.0.0.1:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "http://127.0.0.1:8080"
    );
    let other = edge
        .http
        .get(edge.url("/v1/health"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // Responses that come from a Durable Object (history, statistics) and errors carry
    // them too: a storefront page reads its history with fetch.
    for (path, token) in [
        ("/v1/inbox?limit=5", token_for("cora", 60)),
        ("/v1/stats", ops_token_for("olga")),
        ("/v1/inbox?sort=sideways", token_for("cora", 60)),
    ] {
        let resp = edge
            .http
            .get(edge.url(path))
            .header("Origin", "http://127.0.0.1:8080")
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_owned()),
            Some("http://127.0.0.1:8080".to_owned()),
            "{path} answered {} without CORS",
            resp.status()
        );
    }
}

#[tokio::test]
async fn quiet_hours_hold_all_but_urgent_until_the_alarm_releases_them() {
    let edge = Edge::start().await;
    // Quiet hours from this UTC minute to the next, with enough of the minute left to post in.
    if now_secs() % 60 > 45 {
        tokio::time::sleep(Duration::from_secs((61 - now_secs() % 60) as u64)).await;
    }
    let minute = (now_secs() / 60) % 1440;
    let mut socket = edge.connect("quinn").await;
    socket.hello(0).await;
    socket
        .send(json!({"type": "prefs", "prefs": {"utc_offset_minutes": 0,
                     "quiet_hours": {"start_minute": minute, "end_minute": (minute + 1) % 1440}}}))
        .await;
    while !matches!(socket.next().await, ServerFrame::Prefs { .. }) {}
    edge.post_events(json!([
        shipped("q-1", "quinn", 1),
        {"id": "q-2", "type": "payment.failed", "occurred_at": now_secs(), "user_id": "quinn",
         "data": {"order_id": "2", "order_number": "#2", "amount": "42.00", "currency": "EUR", "message": "card declined"}}
    ]))
    .await;
    assert_eq!(
        next_notify(&mut socket).await.kind,
        "payment.failed",
        "urgent items are not held"
    );
    let early = drain(&mut socket, 1500).await;
    assert!(
        !early
            .iter()
            .any(|f| matches!(f, ServerFrame::Notify { .. })),
        "the shipment waits for the end of quiet hours: {early:?}"
    );
    // The Inbox's alarm releases it when quiet hours end, at the next minute.
    let wait = (60 - now_secs() % 60 + 10) as u64;
    match socket.next_within(Duration::from_secs(wait)).await {
        Some(ServerFrame::Notify { notification }) => {
            assert_eq!(notification.kind, "order.shipped")
        }
        other => panic!("expected the held shipment within {wait} s, got {other:?}"),
    }
}
