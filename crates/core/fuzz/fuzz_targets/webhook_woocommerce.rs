//! WooCommerce webhook decoder over every mapped topic (and an arbitrary one):
//! the first byte picks the topic, the rest is the body. The body is decoded
//! twice, the second time with the memory the first asked to keep, so the
//! previous-value paths (prices, stock, order→customer) run too.
#![no_main]
use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use tidings_core::webhooks::{decode, Platform, WebhookHeaders};

const TOPICS: &[&str] = &[
    "order.created",
    "order.updated",
    "product.updated",
    "action.woocommerce_order_status_changed",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (topic, body) = match TOPICS.get(usize::from(pick)) {
        Some(t) => (t.to_string(), body),
        // Otherwise the topic is the text up to the first newline.
        None => {
            let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
            (
                String::from_utf8_lossy(&body[..end]).into_owned(),
                body.get(end + 1..).unwrap_or(&[]),
            )
        }
    };
    let headers = WebhookHeaders {
        topic: Some(&topic),
        delivery_id: if pick % 2 == 0 { Some("d-1") } else { None },
    };
    let mut memory = BTreeMap::new();
    let now = 1_795_341_600_000;
    if let Ok(decoded) = decode(Platform::WooCommerce, &headers, body, &memory, now) {
        memory.extend(decoded.remember);
        let _ = decode(Platform::WooCommerce, &headers, body, &memory, now + 1);
    }
});
