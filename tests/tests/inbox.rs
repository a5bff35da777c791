//! The Inbox against a real workerd: exact resume after a dropped socket and
//! after a restart, read-state sync across devices, scheduling with
//! cancellation, topics, history over HTTP, and size limits.

use std::time::Duration;

use serde_json::json;
use tidings_core::notification::ReadState;
use tidings_core::protocol::ServerFrame;
use tidings_e2e::{now_secs, token_for, Edge};

fn shipped(id: &str, user: &str, order: u32) -> serde_json::Value {
    json!({"id": id, "type": "order.shipped", "occurred_at": now_secs(), "user_id": user,
           "data": {"order_id": order.to_string(), "order_number": format!("#{order}"), "carrier": "UPS", "tracking_number": "1Z"}})
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
    let get = |query: &str, token: String| {
        edge.http
            .get(edge.url(&format!("/v1/inbox?{query}")))
            .header("Authorization", format!("Bearer {token}"))
            .send()
    };
    let page: serde_json::Value = get("after=1&limit=10", token_for("lea", 60))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");
    let page: serde_json::Value = get("q=%232&limit=10", token_for("lea", 60))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        1,
        "search finds #2: {page}"
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
    let page: serde_json::Value = get("", token_for("mallory", 60))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
}
