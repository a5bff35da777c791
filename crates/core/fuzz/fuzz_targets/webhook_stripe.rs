//! Stripe webhook decoder (every event type; Stripe has no topic header): the
//! input is the body. It is decoded twice, the second time with the memory the
//! first asked to keep, so the previous-value paths run too.
#![no_main]
use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use tidings_core::webhooks::{decode, Platform, WebhookHeaders};

fuzz_target!(|body: &[u8]| {
    let headers = WebhookHeaders::default();
    let mut memory = BTreeMap::new();
    let now = 1_795_341_600_000;
    if let Ok(decoded) = decode(Platform::Stripe, &headers, body, &memory, now) {
        memory.extend(decoded.remember);
        let _ = decode(Platform::Stripe, &headers, body, &memory, now + 1);
    }
});
