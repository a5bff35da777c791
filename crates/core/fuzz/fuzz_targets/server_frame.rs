//! Server frame decoder (the center's side of the socket): any text decodes to a frame or a
//! protocol error, exactly as serde's derived decoder would decide, and frames round-trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tidings_core::protocol::ServerFrame;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let decoded = ServerFrame::decode(text).ok();
        assert_eq!(decoded, serde_json::from_str::<ServerFrame>(text).ok(), "{text}");
        if let Some(frame) = decoded {
            assert_eq!(ServerFrame::decode(&frame.encode()).ok(), Some(frame));
        }
    }
});
