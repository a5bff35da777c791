//! Server frame decoder (the center's side of the socket): any text decodes to a frame or a
//! protocol error; every object frame serde's derived decoder accepts decodes to the same
//! value, but for the differences `tidings_core::wire` documents (text that is not strict JSON
//! as a whole, a struct written as an array of its fields); whatever decodes is a frame both
//! decoders read back the same after `encode`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tidings_core::protocol::ServerFrame;

/// Members the derive reads as structs, and so also from an array of their fields.
const STRUCTS: [&str; 5] = ["prefs", "notification", "title", "body", "quiet_hours"];

fn struct_as_array(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| (STRUCTS.contains(&k.as_str()) && v.is_array()) || struct_as_array(v)),
        Value::Array(items) => items.iter().any(struct_as_array),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let decoded = ServerFrame::decode(text).ok();
        let derived = serde_json::from_str::<ServerFrame>(text).ok();
        if let Some(d) = &derived {
            let documented = tidings_core::wire::parse(text).is_err()
                || serde_json::from_str::<Value>(text).is_ok_and(|v| struct_as_array(&v));
            if text.trim_start().starts_with('{') && !(decoded.is_none() && documented) {
                assert_eq!(decoded.as_ref(), Some(d), "{text}");
            }
        }
        if let Some(frame) = decoded {
            let again = frame.encode();
            assert_eq!(serde_json::from_str::<ServerFrame>(&again).ok().as_ref(), Some(&frame));
            assert_eq!(ServerFrame::decode(&again).ok(), Some(frame));
        }
    }
});
