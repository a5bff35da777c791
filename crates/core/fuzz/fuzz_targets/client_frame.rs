//! WebSocket client frame parser: any text decodes to a frame or a protocol error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tidings_core::protocol::ClientFrame;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(frame) = ClientFrame::decode(text) {
            let _ = ClientFrame::decode(&frame.encode());
        }
    }
});
