#![cfg(not(target_arch = "wasm32"))]
//! Every canonical type a platform decoder can emit has a default rule, so a
//! real webhook never ends as `unknown_type` at the edge.

use tidings_core::rules::RuleSet;

/// The types `tidings_core::webhooks` emits (see its module doc).
const DECODED_TYPES: &[&str] = &[
    "order.created",
    "order.paid",
    "order.cancelled",
    "order.shipped",
    "order.in_transit",
    "order.out_for_delivery",
    "order.delivery_attempted",
    "order.ready_for_pickup",
    "order.delivery_failed",
    "order.delivered",
    "order.shipment_cancelled",
    "order.completed",
    "order.refunded",
    "payment.succeeded",
    "payment.failed",
    "inventory.restocked",
    "product.price_dropped",
];

#[test]
fn default_rules_cover_every_decoded_type() {
    let rules = RuleSet::default_rules();
    let missing: Vec<&str> = DECODED_TYPES
        .iter()
        .copied()
        .filter(|t| !rules.matches_any(t))
        .collect();
    assert!(missing.is_empty(), "no default rule for {missing:?}");
    assert!(
        rules.missing_translations().is_empty(),
        "{:?}",
        rules.missing_translations()
    );
}

#[test]
fn decoders_emit_only_listed_types() {
    // Any `"order.xxx"`-style literal in the decoders must be in the list above.
    let sources = [
        include_str!("../src/webhooks/shopify.rs"),
        include_str!("../src/webhooks/stripe.rs"),
        include_str!("../src/webhooks/woocommerce.rs"),
    ];
    for source in sources {
        for literal in source.split('"').skip(1).step_by(2) {
            let is_type = ["order.", "payment.", "inventory.", "product."]
                .iter()
                .any(|p| literal.starts_with(p))
                && literal
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_');
            // Topic names such as `order.updated` (WooCommerce) are headers, not canonical types.
            if is_type && !matches!(literal, "order.updated" | "product.updated") {
                assert!(
                    DECODED_TYPES.contains(&literal),
                    "decoder emits `{literal}`, which is not listed here"
                );
            }
        }
    }
}

#[test]
fn expiry_counts_from_when_the_shopper_gets_it() {
    use tidings_core::event::Event;
    use tidings_core::time::DAY;
    let rules = RuleSet::default_rules();
    let now = 1_795_341_600_000;
    let late = Event {
        id: "late".into(),
        kind: "order.shipped".into(),
        occurred_at: now - 100 * DAY,
        user_id: Some("u".into()),
        data: serde_json::json!({"order_id": "1", "order_number": "#1"}).into(),
    };
    let n = rules
        .apply(&late, now)
        .outcomes
        .remove(0)
        .notification
        .unwrap();
    assert_eq!(
        n.created_at,
        now - 100 * DAY,
        "the item still says when it happened"
    );
    assert_eq!(
        n.expires_at,
        Some(now + 90 * DAY),
        "but lives 90 days from delivery"
    );
}
