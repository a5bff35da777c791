//! Own-format batch decoder: any body gives a batch error or one item per event.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tidings_core::ingest::{decode_batch, Limits};

fuzz_target!(|data: &[u8]| {
    let _ = decode_batch(data, &Limits::default());
});
