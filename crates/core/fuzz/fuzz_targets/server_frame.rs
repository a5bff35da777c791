//! Server frame decoder (the center's side of the socket): any text decodes to a frame or a
//! protocol error; every object frame serde's derived decoder accepts decodes to the same
//! value; whatever decodes is a frame both decoders read back the same after `encode`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tidings_core::protocol::ServerFrame;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let decoded = ServerFrame::decode(text).ok();
        let derived = serde_json::from_str::<ServerFrame>(text).ok();
        if let Some(d) = &derived {
            if text.trim_start().starts_with('{') {
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
