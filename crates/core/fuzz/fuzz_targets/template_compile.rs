//! Template compiler: any text compiles or gives template errors; a compiled
//! template is also rendered (as text, key and URL) against a sample event.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tidings_core::event::Event;
use tidings_core::template::Template;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = Template::compile(text) {
        let event = Event {
            id: "evt-1".into(),
            kind: "order.shipped".into(),
            occurred_at: 1_795_341_600_000,
            user_id: Some("u1".into()),
            data: serde_json::json!({"order_id": "1001", "n": 3, "deep": {"a": [1, {"b": "c"}]}, "zh": "发货"}).into(),
        };
        let _ = t.render(&event);
        let _ = t.render_key(&event);
        let _ = t.render_url(&event);
        let _ = t.literal_prefix();
    }
});
