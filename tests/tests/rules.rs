//! A storefront's own rules (`TIDINGS_RULES`) against a real workerd: they
//! replace the shipped ones, a throttle folds a burst into a digest that the
//! Inbox's alarm releases when the window closes, and a broken rules file
//! refuses ingest with every problem named instead of losing events.

use std::time::{Duration, Instant};

use serde_json::json;
use tidings_core::notification::Notification;
use tidings_core::protocol::ServerFrame;
use tidings_e2e::{now_secs, Edge};

/// One rule: flash sales to the shopper, at most one per 3 s, the rest in a digest.
const FLASH_RULES: &str = r#"
[[rule]]
name = "flash-sale"
on = "promo.flash"
to = "user:{user_id}"
category = "promo"
throttle = "1 per 3s per recipient"
title.en = "Flash sale: {data.item}"
title.zh = "限时抢购：{data.item}"
body.en = "{data.discount} off for the next hour."
body.zh = "未来一小时优惠 {data.discount}。"
link = "/sale/{data.item}"
"#;

fn flash(id: &str, user: &str, item: &str) -> serde_json::Value {
    json!({"id": id, "type": "promo.flash", "occurred_at": now_secs(), "user_id": user,
           "data": {"item": item, "discount": "30%"}})
}

async fn next_notify_within(
    socket: &mut tidings_e2e::Socket,
    timeout: Duration,
) -> Option<Notification> {
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match socket.next_within(left).await? {
            ServerFrame::Notify { notification } => return Some(notification),
            _ => continue,
        }
    }
    None
}

#[tokio::test]
async fn custom_rules_replace_the_shipped_ones_and_a_throttled_burst_is_released_as_a_digest() {
    let edge = Edge::start_with_vars(&[("TIDINGS_RULES", FLASH_RULES)]).await;
    let health = edge.get_json("/v1/health").await;
    assert_eq!(health["rules"]["source"], "TIDINGS_RULES", "{health}");
    assert_eq!(health["rules"]["rules"], 1, "{health}");

    // The shipped rules are gone: an order event has no rule any more.
    let (status, body) = edge
        .post_events(
            json!([{"id": "o-1", "type": "order.shipped", "occurred_at": now_secs(),
                              "user_id": "dora", "data": {"order_id": "1"}}]),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(body["results"][0]["code"], "unknown_type", "{body}");

    let mut socket = edge.connect("dora").await;
    socket.hello(0).await;
    let (status, body) = edge
        .post_events(json!([
            flash("f-1", "dora", "boots"),
            flash("f-2", "dora", "scarf"),
            flash("f-3", "dora", "gloves")
        ]))
        .await;
    assert_eq!(
        (status, body["accepted"].as_u64()),
        (202, Some(3)),
        "{body}"
    );
    let posted = Instant::now();

    let first = next_notify_within(&mut socket, Duration::from_secs(5))
        .await
        .expect("the first flash sale passes the throttle at once");
    assert_eq!(first.kind, "promo.flash");
    assert_eq!(first.title.en, "Flash sale: boots");
    assert_eq!(first.title.zh, "限时抢购：boots");
    assert_eq!(first.link.as_deref(), Some("/sale/boots"));

    // The other two wait in the Inbox until the 3 s window closes.
    let early = next_notify_within(&mut socket, Duration::from_millis(1500)).await;
    assert!(
        early.is_none(),
        "throttled items are held, not sent: {early:?}"
    );
    let digest = next_notify_within(&mut socket, Duration::from_secs(10))
        .await
        .expect("the Inbox's alarm releases the digest when the window closes");
    let waited = posted.elapsed();
    assert!(
        waited >= Duration::from_millis(2500),
        "released at the end of the window, not before ({waited:?})"
    );
    assert_eq!(digest.kind, "digest");
    assert_eq!(digest.title.en, "2 more offers", "{digest:?}");
    assert!(digest.title.zh.contains('2'), "{digest:?}");
    assert_eq!(digest.body.en, "Latest: Flash sale: gloves");
    assert_eq!(digest.link.as_deref(), Some("/sale/gloves"));
    // Nothing else: each throttled item is in the digest, none is sent on its own.
    let after = next_notify_within(&mut socket, Duration::from_millis(1500)).await;
    assert!(after.is_none(), "only the digest: {after:?}");

    // The log has exactly the item and the digest, also for a device that connects later.
    let mut later = edge.connect("dora").await;
    let (head, replayed) = later.hello(0).await;
    let kinds: Vec<&str> = replayed.iter().map(|n| n.kind.as_str()).collect();
    assert_eq!((head, kinds), (2, vec!["promo.flash", "digest"]));
}

#[tokio::test]
async fn a_broken_rules_file_refuses_ingest_with_every_problem_and_keeps_nothing() {
    let broken = r#"
[[rule]]
name = "bad-link"
on = "promo.flash"
to = "user:{user_id}"
category = "promo"
title.en = "Sale"
link = "javascript:alert(1)"

[[rule]]
name = "bad-category"
on = "promo.flash"
to = "user:{user_id}"
category = "gossip"
title.en = "Sale {data.item}"
"#;
    let edge = Edge::start_with_vars(&[("TIDINGS_RULES", broken)]).await;
    let response = edge.http.get(edge.url("/v1/health")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let health: serde_json::Value = response.json().await.unwrap();
    // Public: how many problems, not what they are (those go to signed senders and the log).
    assert_eq!(health["rules"]["problems"], 2, "{health}");
    assert!(!health.to_string().contains("bad-link"), "{health}");
    // wrangler writes the Worker's log a moment after the answer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !edge.log_text().contains("bad-category") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        edge.log_text().contains("bad-category"),
        "the Worker's log names the problems:\n{}",
        edge.log_text()
    );

    let (status, body) = edge
        .post_events(json!([flash("b-1", "erin", "boots")]))
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "rules_invalid");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    for part in [
        "TIDINGS_RULES",
        "bad-link",
        "link",
        "bad-category",
        "category",
    ] {
        assert!(message.contains(part), "`{part}` in {message}");
    }
    assert!(message.contains("cargo xtask rules check"), "{message}");

    // Nothing was stored: the shopper's log is empty.
    let (head, items) = edge.connect("erin").await.hello(0).await;
    assert_eq!((head, items.len()), (0, 0));
}

#[tokio::test]
async fn a_rules_file_without_rules_is_refused_rather_than_rejecting_everything() {
    let edge =
        Edge::start_with_vars(&[("TIDINGS_RULES", "# cat: my-rules.toml: No such file\n")]).await;
    let health = edge.http.get(edge.url("/v1/health")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    let (status, body) = edge.post_events(json!([flash("e-1", "gus", "hat")])).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (500, Some("rules_invalid")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no rules"),
        "{body}"
    );
}

/// Two rules for one event: the first delivers a second after the event, the second names
/// a field the event may lack.
const TWO_RULES: &str = r#"
[[rule]]
name = "flash-later"
on = "promo.flash"
to = "user:{user_id}"
category = "promo"
delay = "1s"
title.en = "Flash sale: {data.item}"
title.zh = "限时抢购：{data.item}"

[[rule]]
name = "flash-code"
on = "promo.flash"
to = "user:{user_id}"
category = "promo"
title.en = "Your code: {data.code}"
title.zh = "优惠码：{data.code}"
"#;

#[tokio::test]
async fn a_rule_that_cannot_render_is_a_warning_and_a_time_past_year_9999_a_rejection() {
    let edge = Edge::start_with_vars(&[("TIDINGS_RULES", TWO_RULES)]).await;
    let mut socket = edge.connect("erin").await;
    socket.hello(0).await;
    let mut far = flash("f-far", "erin", "hat");
    // Unix seconds whose delayed time no alarm (a JavaScript Date) can hold.
    far["occurred_at"] = json!(8_700_000_000_000_i64);
    let (status, body) = edge
        .post_events(json!([far, flash("f-ok", "erin", "boots")]))
        .await;
    assert_eq!(status, 202, "{body}");
    let results = &body["results"];
    assert_eq!(results[0]["status"], "rejected", "{body}");
    assert_eq!(results[0]["code"], "bad_timestamp", "{body}");
    assert_eq!(results[0]["path"], "events[0].occurred_at", "{body}");
    // Delivered by the rule that worked; the other rule's problem is named, not dropped.
    assert_eq!(results[1]["status"], "accepted", "{body}");
    assert_eq!(results[1]["warnings"][0]["code"], "render_failed", "{body}");
    assert_eq!(results[1]["warnings"][0]["path"], "events[1]", "{body}");
    let message = results[1]["warnings"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("flash-code") && message.contains("data.code"),
        "{body}"
    );

    // The delayed item is released by the Inbox's alarm, the rejected event never arrives.
    let released = next_notify_within(&mut socket, Duration::from_secs(10))
        .await
        .expect("the delayed item arrives");
    assert_eq!(released.title.en, "Flash sale: boots");
    let more = next_notify_within(&mut socket, Duration::from_millis(1500)).await;
    assert!(more.is_none(), "nothing else: {more:?}");

    // A later event to the same shopper is delivered as usual.
    let (status, body) = edge
        .post_events(json!([flash("f-next", "erin", "scarf")]))
        .await;
    assert_eq!(
        (status, body["accepted"].as_u64()),
        (202, Some(1)),
        "{body}"
    );
    let next = next_notify_within(&mut socket, Duration::from_secs(10))
        .await
        .expect("the next delayed item arrives");
    assert_eq!(next.title.en, "Flash sale: scarf");
}

/// Two rules repeating an event's note in every text: `note.big` 20 times per text (80 in
/// all), `note.huge` 40 times. An event holds at most 32 KB, so only such templates make a
/// notification of megabytes.
fn note_rules() -> String {
    let rule = |name: &str, on: &str, times: usize| {
        let text = "{data.note}".repeat(times);
        format!(
            "[[rule]]\nname = \"{name}\"\non = \"{on}\"\nto = \"user:{{user_id}}\"\n\
             category = \"account\"\ntitle.en = \"{text}\"\ntitle.zh = \"{text}\"\n\
             body.en = \"{text}\"\nbody.zh = \"{text}\"\n"
        )
    };
    rule("note", "note.big", 20) + &rule("huge-note", "note.huge", 40)
}

fn note(id: &str, kind: &str, user: &str, text: String) -> serde_json::Value {
    json!({"id": id, "type": kind, "occurred_at": now_secs(), "user_id": user,
           "data": {"note": text}})
}

#[tokio::test]
async fn a_notification_too_large_is_refused_and_one_the_storage_refuses_is_never_half_stored() {
    // The limit raised past what Durable Object storage takes in one row (about 2 MB).
    let rules = note_rules();
    let edge = Edge::start_with_vars(&[
        ("TIDINGS_RULES", &rules),
        ("TIDINGS_MAX_NOTIFICATION_BYTES", "4000000"),
    ])
    .await;
    let big = note("n-big", "note.big", "gail", "x".repeat(30_000));
    let (status, body) = edge
        .post_events(json!([
            note("n-small", "note.big", "hal", "hello".into()),
            big.clone(),
            note("n-huge", "note.huge", "hal", "y".repeat(30_000)),
        ]))
        .await;
    assert_eq!(status, 202, "{body}");
    let results = &body["results"];
    assert_eq!(results[0]["status"], "accepted", "{body}");
    // 4.8 MB of text: past the limit, refused by name before any Inbox sees it.
    assert_eq!(results[2]["status"], "rejected", "{body}");
    assert_eq!(results[2]["code"], "notification_too_large", "{body}");
    assert_eq!(results[2]["path"], "events[2]", "{body}");
    // 2.4 MB: within the limit, but the Inbox's storage refuses the row. Nothing of it
    // stays, so the retry is tried again, not answered `duplicate` and lost.
    assert_eq!(results[1]["status"], "rejected", "{body}");
    assert_eq!(results[1]["code"], "storage_unavailable", "{body}");
    let (_, again) = edge.post_events(json!([big])).await;
    assert_eq!(
        again["results"][0]["code"], "storage_unavailable",
        "{again}"
    );
    // The Inbox still works, and holds nothing of the refused delivery.
    let (_, next) = edge
        .post_events(json!([note("n-after", "note.big", "gail", "after".into())]))
        .await;
    assert_eq!(next["results"][0]["status"], "accepted", "{next}");
    let page = edge
        .get_json_as("/v1/inbox?limit=10", &tidings_e2e::token_for("gail", 60))
        .await;
    let items = page["items"].as_array().cloned().unwrap_or_default();
    let titles: Vec<&str> = items
        .iter()
        .filter_map(|n| n["title"]["en"].as_str())
        .collect();
    assert_eq!(titles, vec!["after".repeat(20)], "{page}");
    assert_eq!(
        items[0]["seq"], 1,
        "the refused delivery took no seq: {page}"
    );
}

/// One event, two rules: its customer hears of it directly, and its product's watchers
/// through the topic.
const TWO_ROUTES: &str = r#"
[[rule]]
name = "to-the-customer"
on = "product.note"
to = "user:{user_id}"
category = "order"
title.en = "About your order: {data.text}"
title.zh = "关于您的订单：{data.text}"

[[rule]]
name = "to-the-watchers"
on = "product.note"
to = "topic:stock:{data.sku}"
category = "stock"
title.en = "About {data.sku}: {data.text}"
title.zh = "关于 {data.sku}：{data.text}"
"#;

#[tokio::test]
async fn one_event_reaching_a_shopper_directly_and_through_a_topic_arrives_both_ways() {
    let edge = Edge::start_with_vars(&[("TIDINGS_RULES", TWO_ROUTES)]).await;
    let mut socket = edge.connect("nora").await;
    socket.hello(0).await;
    socket
        .send(json!({"type": "watch", "topic": "stock:sku-9"}))
        .await;
    assert!(matches!(socket.next().await, ServerFrame::Topics { .. }));
    let note = json!([{"id": "pn-1", "type": "product.note", "occurred_at": now_secs(),
                       "user_id": "nora", "data": {"sku": "sku-9", "text": "ships Monday"}}]);
    let (status, body) = edge.post_events(note.clone()).await;
    assert_eq!(
        (status, body["accepted"].as_u64()),
        (202, Some(1)),
        "{body}"
    );
    let mut titles = Vec::new();
    while let Some(n) = next_notify_within(&mut socket, Duration::from_secs(3)).await {
        titles.push(n.title.en);
    }
    titles.sort();
    assert_eq!(
        titles,
        [
            "About sku-9: ships Monday",
            "About your order: ships Monday"
        ]
    );
    // The producer's retry is a duplicate on both routes: nothing arrives twice.
    let (status, body) = edge.post_events(note).await;
    assert_eq!(
        (status, body["duplicates"].as_u64()),
        (202, Some(1)),
        "{body}"
    );
    assert!(next_notify_within(&mut socket, Duration::from_millis(1500))
        .await
        .is_none());
}
