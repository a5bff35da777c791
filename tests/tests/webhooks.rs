//! Every real fixture in `fixtures/`, posted to the edge with a correct
//! signature, gets the verdict core's decoder gives it and, when it is
//! notifiable, becomes a notification for the expected shopper. A wrong
//! signature for each scheme is 401.

use std::collections::HashMap;
use std::time::Duration;

use tidings_core::rules::RuleSet;
use tidings_core::signature::{sign_base64, sign_tidings};
use tidings_core::webhooks::{decode, Platform, WebhookHeaders};
use tidings_e2e::{now_secs, root, Edge, SHOPIFY_SECRET, STRIPE_SECRET, WOOCOMMERCE_SECRET};

/// Posting order: orders before what refers to them (fulfillments, refunds).
const SHOPIFY: &[(&str, &str)] = &[
    ("orders_create.rest_order_created.json", "orders/create"),
    (
        "orders_create_pending.rest_order_created.json",
        "orders/create",
    ),
    ("orders_updated.rest_order_get.json", "orders/updated"),
    (
        "orders_fulfilled.rest_order_created_fulfilled.json",
        "orders/fulfilled",
    ),
    (
        "orders_cancelled.rest_order_cancel.json",
        "orders/cancelled",
    ),
    (
        "fulfillments_create.rest_fulfillment_create_tracking.json",
        "fulfillments/create",
    ),
    (
        "fulfillments_create.rest_fulfillment_create_tracking_url.json",
        "fulfillments/create",
    ),
    (
        "fulfillments_update.rest_fulfillment_update_tracking.json",
        "fulfillments/update",
    ),
    (
        "fulfillments_update.rest_fulfillment_cancel.json",
        "fulfillments/update",
    ),
    (
        "fulfillment_events_create.rest_fulfillment_event_in_transit.json",
        "fulfillment_events/create",
    ),
    ("refunds_create.rest_refund_create.json", "refunds/create"),
    (
        "inventory_levels_update.rest_inventory_level_set.json",
        "inventory_levels/update",
    ),
    (
        "products_update.rest_product_update_price.json",
        "products/update",
    ),
    (
        "products_update.rest_variant_update_price.json",
        "products/update",
    ),
];

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(root().join("fixtures").join(path)).expect("fixture exists")
}

/// A notification a fixture should produce: its shopper, its id (shared by
/// items with one collapse key, so a newer one replaces an older), its type and
/// its `created_at`.
type Expected = (String, String, String, i64);

/// One delivery to post: platform, fixture path, topic, headers.
type Case = (
    Platform,
    String,
    Option<String>,
    Vec<(&'static str, String)>,
);

/// Core's verdict for a delivery, with the same memory the edge keeps.
fn expected(
    platform: Platform,
    topic: Option<&str>,
    id: Option<&str>,
    body: &[u8],
    memory: &mut HashMap<String, String>,
) -> (Vec<Expected>, Option<String>, usize) {
    let headers = WebhookHeaders {
        topic,
        delivery_id: id,
    };
    let now = now_secs() * 1000;
    let rules = RuleSet::default_rules();
    match decode(platform, &headers, body, &*memory, now) {
        Ok(d) => {
            memory.extend(d.remember);
            let events = d
                .events
                .iter()
                .flat_map(|e| {
                    let user = e.user_id.clone();
                    rules
                        .apply(e, now)
                        .outcomes
                        .into_iter()
                        .filter_map(move |o| {
                            let n = o.notification?;
                            Some((user.clone()?, n.id, n.kind, n.created_at))
                        })
                })
                .collect::<Vec<_>>();
            (events, d.skipped.map(|s| s.code), d.events.len())
        }
        Err(e) => (Vec::new(), Some(e.code), 0),
    }
}

#[tokio::test]
async fn every_fixture_becomes_the_expected_notification() {
    let edge = Edge::start().await;
    let mut memory = HashMap::new();
    let mut deliveries: Vec<Expected> = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    for (i, (file, topic)) in SHOPIFY.iter().enumerate() {
        let body = fixture(&format!("shopify/{file}"));
        let headers = vec![
            ("X-Shopify-Topic", topic.to_string()),
            ("X-Shopify-Webhook-Id", format!("wh-{i}-{}", now_secs())),
            (
                "X-Shopify-Hmac-Sha256",
                sign_base64(SHOPIFY_SECRET.as_bytes(), &body),
            ),
        ];
        cases.push((
            Platform::Shopify,
            format!("shopify/{file}"),
            Some(topic.to_string()),
            headers,
        ));
    }
    for file in std::fs::read_dir(root().join("fixtures/stripe"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
    {
        let body = fixture(&format!("stripe/{file}"));
        let t = now_secs();
        let headers = vec![(
            "Stripe-Signature",
            sign_tidings(STRIPE_SECRET.as_bytes(), t, &body),
        )];
        cases.push((Platform::Stripe, format!("stripe/{file}"), None, headers));
    }
    for file in std::fs::read_dir(root().join("fixtures/woocommerce"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
    {
        let body = fixture(&format!("woocommerce/{file}"));
        let topic = file.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
        let headers = vec![
            ("X-WC-Webhook-Topic", topic.clone()),
            (
                "X-WC-Webhook-Delivery-ID",
                format!("d-{file}-{}", now_secs()),
            ),
            (
                "X-WC-Webhook-Signature",
                sign_base64(WOOCOMMERCE_SECRET.as_bytes(), &body),
            ),
        ];
        cases.push((
            Platform::WooCommerce,
            format!("woocommerce/{file}"),
            Some(topic),
            headers,
        ));
    }
    assert!(cases.len() >= 30, "all fixtures are covered");
    for (platform, file, topic, headers) in cases {
        let body = fixture(&file);
        let id = headers
            .iter()
            .find(|(k, _)| k.ends_with("Webhook-Id") || k.ends_with("Delivery-ID"))
            .map(|(_, v)| v.clone());
        let (events, skipped, decoded) = expected(
            platform,
            topic.as_deref(),
            id.as_deref(),
            &body,
            &mut memory,
        );
        let (status, resp) = edge.post_webhook(platform.name(), body, &headers).await;
        let results = resp["results"].as_array().cloned().unwrap_or_default();
        if let Some(code) = skipped {
            if status == 400 {
                assert_eq!(resp["error"]["code"], code, "{file}: {resp}");
            } else {
                assert_eq!((status, results.len()), (200, 1), "{file}: {resp}");
                assert_eq!(results[0]["status"], "rejected", "{file}: {resp}");
                assert_eq!(results[0]["code"], code, "{file}: {resp}");
            }
        } else {
            assert_eq!(status, 200, "{file}: {resp}");
            assert_eq!(results.len(), decoded, "{file}: {resp}");
            for r in &results {
                assert_eq!(r["status"], "accepted", "{file}: {resp}");
            }
            deliveries.extend(events);
        }
    }
    // Every notification is in its shopper's inbox; of those sharing an id
    // (collapse key), the newest by the platform's own time (the later posted on a tie), in
    // place: a webhook arriving late never hides a newer one.
    let mut by_user: HashMap<String, HashMap<String, (String, i64)>> = HashMap::new();
    for (user, id, kind, created_at) in deliveries {
        let held = by_user
            .entry(user)
            .or_default()
            .entry(id)
            .or_insert((kind.clone(), created_at));
        if created_at >= held.1 {
            *held = (kind, created_at);
        }
    }
    assert!(
        by_user.contains_key("shopify:1073339475"),
        "the Shopify order's customer is notified: {by_user:?}"
    );
    for (user, latest) in by_user {
        let mut socket = edge.connect(&user).await;
        let (_, items) = socket.hello(0).await;
        assert_eq!(items.len(), latest.len(), "{user}: {items:?}");
        for (id, (kind, _)) in latest {
            let item = items
                .iter()
                .find(|n| n.id == id)
                .unwrap_or_else(|| panic!("{user} lacks {id}"));
            assert_eq!(item.kind, kind, "{user} {id}");
        }
    }
}

#[tokio::test]
async fn wrong_signatures_are_401_for_every_scheme() {
    let edge = Edge::start().await;
    let body = fixture("shopify/orders_create.rest_order_created.json");
    let cases = [
        (
            "shopify",
            vec![
                ("X-Shopify-Topic", "orders/create".to_owned()),
                ("X-Shopify-Hmac-Sha256", sign_base64(b"wrong", &body)),
            ],
        ),
        (
            "shopify",
            vec![("X-Shopify-Topic", "orders/create".to_owned())],
        ),
        (
            "stripe",
            vec![(
                "Stripe-Signature",
                sign_tidings(b"wrong", now_secs(), &body),
            )],
        ),
        (
            "stripe",
            vec![(
                "Stripe-Signature",
                sign_tidings(STRIPE_SECRET.as_bytes(), now_secs() - 400, &body),
            )],
        ),
        (
            "woocommerce",
            vec![
                ("X-WC-Webhook-Topic", "order.created".to_owned()),
                ("X-WC-Webhook-Signature", sign_base64(b"wrong", &body)),
            ],
        ),
    ];
    // The signatures that would have been right must not show in an answer either.
    let right = [
        sign_base64(SHOPIFY_SECRET.as_bytes(), &body),
        sign_base64(WOOCOMMERCE_SECRET.as_bytes(), &body),
    ];
    for (platform, headers) in cases {
        let (status, resp) = edge.post_webhook(platform, body.clone(), &headers).await;
        assert_eq!(status, 401, "{platform} {headers:?}: {resp}");
        let text = resp.to_string();
        for secret in tidings_e2e::SECRETS
            .iter()
            .copied()
            .chain(right.iter().map(String::as_str))
        {
            assert!(
                !text.contains(secret),
                "{platform}: the answer leaks a secret: {text}"
            );
        }
    }
    let log = edge.log_text();
    assert!(
        !tidings_e2e::SECRETS.iter().any(|s| log.contains(s)),
        "the edge's log leaks a secret"
    );
    // Nothing reached the order's customer.
    let mut socket = edge.connect("shopify:1073339475").await;
    assert_eq!(socket.hello(0).await.1.len(), 0);
    assert!(socket
        .next_within(Duration::from_millis(300))
        .await
        .is_none());
    // WooCommerce's unsigned activation ping is answered 200.
    let (status, _) = edge
        .post_webhook("woocommerce", b"webhook_id=42".to_vec(), &[])
        .await;
    assert_eq!(status, 200);
}

/// Posts a webhook; its HTTP status and the status of its first verdict (with the whole answer
/// when that is not a plain verdict, for the assertion message).
async fn first_verdict(
    edge: &Edge,
    platform: &str,
    body: &[u8],
    headers: &[(&str, String)],
) -> (u16, String) {
    let (code, resp) = edge.post_webhook(platform, body.to_vec(), headers).await;
    let status = match resp["results"][0]["status"].as_str() {
        Some(s) => s.to_owned(),
        None => format!("no verdict: {resp}"),
    };
    (code, status)
}

#[tokio::test]
async fn redelivered_webhooks_are_duplicates_also_after_a_restart() {
    let mut edge = Edge::start().await;
    let shopify = fixture("shopify/orders_create.rest_order_created.json");
    let shopify_headers = vec![
        ("X-Shopify-Topic", "orders/create".to_owned()),
        ("X-Shopify-Webhook-Id", format!("redeliver-{}", now_secs())),
        (
            "X-Shopify-Hmac-Sha256",
            sign_base64(SHOPIFY_SECRET.as_bytes(), &shopify),
        ),
    ];
    let stripe = fixture("stripe/checkout.session.completed.odoo_captured.json");
    let stripe_headers = || {
        vec![(
            "Stripe-Signature",
            sign_tidings(STRIPE_SECRET.as_bytes(), now_secs(), &stripe),
        )]
    };
    let (code, first) = first_verdict(&edge, "shopify", &shopify, &shopify_headers).await;
    assert_eq!((code, first.as_str()), (200, "accepted"));
    let (code, again) = first_verdict(&edge, "shopify", &shopify, &shopify_headers).await;
    assert_eq!((code, again.as_str()), (200, "duplicate"));
    let (_, first) = first_verdict(&edge, "stripe", &stripe, &stripe_headers()).await;
    let (_, again) = first_verdict(&edge, "stripe", &stripe, &stripe_headers()).await;
    assert_eq!((first.as_str(), again.as_str()), ("accepted", "duplicate"));
    // The platforms retry for days: a restart forgets nothing.
    let persist = edge.persist.clone();
    edge.stop();
    let edge2 = Edge::start_on(&persist).await;
    for (platform, body, headers) in [
        ("shopify", &shopify, shopify_headers.clone()),
        ("stripe", &stripe, stripe_headers()),
    ] {
        let (_, after) = first_verdict(&edge2, platform, body, &headers).await;
        assert_eq!(after, "duplicate", "{platform}");
    }
    // One notification for the order's customer, not three.
    let mut socket = edge2.connect("shopify:1073339475").await;
    let (_, items) = socket.hello(0).await;
    assert_eq!(items.len(), 1, "{items:?}");
    // Oversize platform bodies are refused before any decoding.
    let big = vec![b' '; 1024 * 1024 + 10];
    let headers = vec![
        ("X-Shopify-Topic", "orders/create".to_owned()),
        (
            "X-Shopify-Hmac-Sha256",
            sign_base64(SHOPIFY_SECRET.as_bytes(), &big),
        ),
    ];
    let (code, resp) = edge2.post_webhook("shopify", big, &headers).await;
    assert_eq!(code, 413, "{resp}");
    drop(edge2);
    drop(edge);
    let _ = std::fs::remove_dir_all(&persist);
}

#[tokio::test]
async fn a_redelivered_price_drop_is_a_duplicate_not_a_new_sighting() {
    let edge = Edge::start().await;
    let variant = |price: &str| {
        let mut v: serde_json::Value = serde_json::from_slice(&fixture(
            "shopify/products_update.rest_variant_update_price.json",
        ))
        .unwrap();
        v["price"] = serde_json::json!(price);
        serde_json::to_vec(&v).unwrap()
    };
    let headers = |body: &[u8], id: &str| {
        vec![
            ("X-Shopify-Topic", "products/update".to_owned()),
            ("X-Shopify-Webhook-Id", format!("{id}-{}", now_secs())),
            (
                "X-Shopify-Hmac-Sha256",
                sign_base64(SHOPIFY_SECRET.as_bytes(), body),
            ),
        ]
    };
    // A first sighting only remembers the price; the next, lower one is a drop.
    let first = variant("99.00");
    let (_, seen) = first_verdict(&edge, "shopify", &first, &headers(&first, "p1")).await;
    assert_eq!(seen, "rejected");
    let cheaper = variant("79.00");
    let drop_headers = headers(&cheaper, "p2");
    let (code, dropped) = first_verdict(&edge, "shopify", &cheaper, &drop_headers).await;
    assert_eq!((code, dropped.as_str()), (200, "accepted"));
    // Shopify redelivers the same webhook (say our 200 was lost): the decoder's memory already
    // holds 79.00, but the delivery decodes as it did the first time and is a duplicate.
    let (code, again) = first_verdict(&edge, "shopify", &cheaper, &drop_headers).await;
    assert_eq!((code, again.as_str()), (200, "duplicate"));
}

#[tokio::test]
async fn an_orders_memory_is_forgotten_after_its_retention() {
    // Kept (180 days by default): the fulfilment reaches the order's customer.
    let kept = order_then_fulfilment(&Edge::start().await).await;
    assert_eq!(kept["status"], "accepted", "{kept}");
    // Kept for 0 days: forgotten as soon as it is written, so nobody is known to notify.
    let edge = Edge::start_with_vars(&[("TIDINGS_ORDER_MEMORY_DAYS", "0")]).await;
    let forgotten = order_then_fulfilment(&edge).await;
    assert_eq!(forgotten["status"], "rejected", "{forgotten}");
    assert_eq!(forgotten["code"], "no_recipient", "{forgotten}");
}

/// Posts an order, then a fulfilment of it; the fulfilment's verdict. Shopify's fulfilment
/// webhooks name only the order: its customer comes from the memory of the orders/* delivery,
/// which the edge keeps `TIDINGS_ORDER_MEMORY_DAYS`.
async fn order_then_fulfilment(edge: &Edge) -> serde_json::Value {
    let headers = |topic: &str, body: &[u8]| {
        vec![
            ("X-Shopify-Topic", topic.to_owned()),
            (
                "X-Shopify-Hmac-Sha256",
                sign_base64(SHOPIFY_SECRET.as_bytes(), body),
            ),
        ]
    };
    let order = fixture("shopify/orders_updated.rest_order_get.json");
    let (code, _) = edge
        .post_webhook("shopify", order.clone(), &headers("orders/updated", &order))
        .await;
    assert_eq!(code, 200);
    let fulfilment = fixture("shopify/fulfillments_create.rest_fulfillment_create_tracking.json");
    let (code, resp) = edge
        .post_webhook(
            "shopify",
            fulfilment.clone(),
            &headers("fulfillments/create", &fulfilment),
        )
        .await;
    assert_eq!(code, 200, "{resp}");
    resp["results"][0].clone()
}
