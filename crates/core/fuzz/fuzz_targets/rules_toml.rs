//! Rules loader: any text loads or gives rule errors; a loaded set is also
//! applied to a sample event.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tidings_core::event::Event;
use tidings_core::rules::RuleSet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rules) = RuleSet::from_toml(text) {
        let _ = rules.missing_translations();
        let event = Event {
            id: "evt-1".into(),
            kind: "order.shipped".into(),
            occurred_at: 1_795_341_600_000,
            user_id: Some("u1".into()),
            data: serde_json::json!({"order_id": "1001", "order_number": "#1001", "total": 12.5, "items": [{"sku": "a"}]}).into(),
        };
        let _ = rules.apply(&event, 1_795_341_600_000);
    }
});
