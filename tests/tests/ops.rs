//! Operators against a real workerd: the live ops socket (snapshot, then
//! per-second ticks with redacted rejected events) and alert rules whose
//! firing and resolution arrive as one `ops` notification at ops users.

use std::time::{Duration, Instant};

use serde_json::json;
use tidings_core::notification::{Category, Priority};
use tidings_core::ops::OpsFrame;
use tidings_core::protocol::ServerFrame;
use tidings_e2e::{now_secs, ops_token_for, token_for, Edge, OpsSocket};

fn shipped(id: &str, user: &str, order: u32) -> serde_json::Value {
    json!({"id": id, "type": "order.shipped", "occurred_at": now_secs(), "user_id": user,
           "data": {"order_id": order.to_string(), "order_number": format!("#{order}"), "carrier": "UPS", "tracking_number": "1Z"}})
}

fn bad(id: &str) -> serde_json::Value {
    json!({"id": id, "type": "order.teleported", "occurred_at": now_secs(), "user_id": "sam",
           "data": {"customer": {"email": "ann@example.com", "phone": "+1 555 010 0200"}, "order_id": "9"}})
}

/// Waits for an `ops` notification on `socket` matching `want`.
async fn ops_notification(
    socket: &mut tidings_e2e::Socket,
    want: impl Fn(&tidings_core::notification::Notification) -> bool,
) -> tidings_core::notification::Notification {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(ServerFrame::Notify { notification }) =
            socket.next_within(Duration::from_secs(20)).await
        {
            if notification.category == Category::Ops && want(&notification) {
                return notification;
            }
        }
    }
    panic!("no matching ops notification within 20 s");
}

#[tokio::test]
async fn a_rejection_spike_alerts_operators_and_the_same_item_resolves() {
    let edge = Edge::start().await;
    let mut oncall = edge.connect_with_token(&ops_token_for("oncall")).await;
    oncall.hello(0).await;
    let mut shopper = edge.connect("sam").await;
    shopper.hello(0).await;

    // 20 rejected out of 25: 80 % over the last minute, above the 5 % alert.
    let mut batch: Vec<_> = (0..5)
        .map(|i| shipped(&format!("ok-{i}"), "sam", i))
        .collect();
    batch.extend((0..20).map(|i| bad(&format!("bad-{i}"))));
    let (status, resp) = edge.post_events(json!(batch)).await;
    assert_eq!(status, 202);
    assert_eq!(resp["rejected"], 20, "{resp}");

    let fired = ops_notification(&mut oncall, |n| n.title.en.starts_with("Alert")).await;
    assert_eq!(fired.priority, Priority::Urgent);
    assert_eq!(fired.collapse_key.as_deref(), Some("alert:rejection-rate"));
    assert_eq!(fired.title.en, "Alert: Ingest rejection rate (80.0 %)");
    assert!(
        fired
            .body
            .en
            .starts_with("80.0 % of incoming events were rejected in the last 1 min"),
        "{}",
        fired.body.en
    );
    assert!(
        fired.title.zh.starts_with("告警：事件拒收率"),
        "{}",
        fired.title.zh
    );

    // 500 good events dilute the rate to 20 / 525 = 3.8 %: resolved, in place.
    let good: Vec<_> = (0..500)
        .map(|i| shipped(&format!("more-{i}"), &format!("buyer-{}", i % 5), i))
        .collect();
    let (status, resp) = edge.post_events(json!(good)).await;
    assert_eq!(
        (status, resp["accepted"].as_u64()),
        (202, Some(500)),
        "{resp}"
    );
    let resolved = ops_notification(&mut oncall, |n| n.title.en.starts_with("Resolved")).await;
    assert_eq!(
        resolved.id, fired.id,
        "the resolved notice replaces the alert"
    );
    assert!(resolved.seq > fired.seq);
    assert!(
        resolved.body.en.starts_with("Back to normal: 3.8 %"),
        "{}",
        resolved.body.en
    );

    // The shopper never sees operator alerts.
    let mut shopper_frames = Vec::new();
    while let Some(f) = shopper.next_within(Duration::from_millis(500)).await {
        shopper_frames.push(f);
    }
    assert!(
        !shopper_frames.iter().any(
            |f| matches!(f, ServerFrame::Notify { notification } if notification.category == Category::Ops)
        ),
        "{shopper_frames:?}"
    );
    // The alert is part of the operator's history over HTTP too.
    let page = edge
        .get_json_as("/v1/inbox?category=ops", &ops_token_for("oncall"))
        .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert!(items[0]["title"]["en"]
        .as_str()
        .unwrap()
        .starts_with("Resolved"));
}

#[tokio::test]
async fn the_ops_socket_streams_a_snapshot_then_ticks_with_redacted_rejections() {
    let edge = Edge::start().await;
    assert_eq!(
        OpsSocket::connect(&edge, &token_for("sam", 60)).await.err(),
        Some(403),
        "a shopper's token cannot open the ops view"
    );
    assert_eq!(OpsSocket::connect(&edge, "garbage").await.err(), Some(401));

    let mut live = OpsSocket::connect(&edge, &ops_token_for("ops"))
        .await
        .unwrap();
    let first = live
        .next_within(Duration::from_secs(10))
        .await
        .expect("a first frame");
    let OpsFrame::Snapshot {
        seconds, gauges, ..
    } = &first
    else {
        panic!("the first frame is a snapshot: {first:?}");
    };
    assert_eq!(seconds.len, tidings_core::ops::OPS_SECONDS);
    let names: Vec<&str> = gauges.alerts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["rejection-rate", "delivery-latency", "no-events"]);
    let mut view = tidings_core::ops::OpsView::new();
    view.apply(first.clone());

    let (status, _) = edge
        .post_events(json!([
            shipped("t-1", "sam", 1),
            shipped("t-2", "sam", 2),
            bad("t-bad")
        ]))
        .await;
    assert_eq!(status, 202);
    let (status, _) = edge
        .post_events_raw(b"{\"events\":[]}".to_vec(), Some("t=1,v1=00".into()))
        .await;
    assert_eq!(status, 401);

    // Ticks arrive about once a second; gather them until both show up.
    let mut ticks = 0;
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last_at = 0;
    while Instant::now() < deadline {
        match live.next_within(Duration::from_secs(5)).await {
            Some(frame @ OpsFrame::Tick { at, .. }) => {
                assert!(at > last_at, "ticks move forward");
                last_at = at;
                ticks += 1;
                view.apply(frame);
            }
            Some(frame @ OpsFrame::Snapshot { .. }) => view.apply(frame),
            None => break,
        }
        let shipped_total: u64 = view
            .lines(
                tidings_core::ops::Figure::Events,
                tidings_core::stats::Resolution::Second,
                0,
            )
            .iter()
            .filter(|l| l.label == "order.shipped")
            .map(|l| l.total)
            .sum();
        if shipped_total == 2 && view.rejected().len() == 2 {
            break;
        }
    }
    assert!(ticks >= 1, "at least one tick");
    let rejected = view.rejected();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    let codes: Vec<&str> = rejected.iter().map(|r| r.code.as_str()).collect();
    assert!(codes.contains(&"unknown_type"), "{codes:?}");
    assert!(
        codes.iter().any(|c| c.starts_with("signature_")),
        "{codes:?}"
    );
    let unknown = rejected.iter().find(|r| r.code == "unknown_type").unwrap();
    assert_eq!(unknown.id.as_deref(), Some("t-bad"));
    assert_eq!(unknown.path, "events[2].type");
    assert!(
        unknown.payload.contains("order.teleported"),
        "{}",
        unknown.payload
    );
    assert!(
        unknown.payload.contains("[redacted]"),
        "{}",
        unknown.payload
    );
    assert!(
        !unknown.payload.contains("ann@example.com"),
        "{}",
        unknown.payload
    );
    assert!(!unknown.payload.contains("555"), "{}", unknown.payload);
    let unsigned = rejected.iter().find(|r| r.code != "unknown_type").unwrap();
    assert!(unsigned.payload.is_empty(), "an unsigned body is not kept");
    let rejection_lines = view.lines(
        tidings_core::ops::Figure::Rejections,
        tidings_core::stats::Resolution::Second,
        0,
    );
    assert_eq!(rejection_lines.iter().map(|l| l.total).sum::<u64>(), 2);
}

#[tokio::test]
async fn a_user_whose_ops_role_is_revoked_stops_getting_ops_alerts() {
    let edge = Edge::start().await;
    let alert = |id: &str, name: &str| {
        json!({"id": id, "type": "ops.alert_fired", "occurred_at": now_secs(),
               "data": {"alert": name, "label_en": name}})
    };
    let mut ops = edge.connect_with_token(&ops_token_for("ivy")).await;
    ops.hello(0).await;
    let (status, body) = edge.post_events(json!([alert("a-1", "first")])).await;
    assert_eq!(
        (status, body["accepted"].as_u64()),
        (202, Some(1)),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(ops);
    // Her next connect carries a shopper token only (the role was revoked): she leaves the
    // ops segment, and the next alert does not reach her.
    let (head, _) = edge.connect("ivy").await.hello(0).await;
    assert_eq!(head, 1, "the ops alert reached ivy while she had the role");
    let (status, _) = edge.post_events(json!([alert("a-2", "second")])).await;
    assert_eq!(status, 202);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (head, items) = edge.connect("ivy").await.hello(0).await;
    assert_eq!(head, 1, "no ops alert after the role went: {items:?}");
}
