//! Alert rules loader: any text loads or gives alert errors; a loaded set is
//! evaluated over some statistics and its changes rendered into events.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tidings_core::alerts::{AlertEngine, AlertRules};
use tidings_core::stats::Stats;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rules) = AlertRules::from_toml(text) {
        let t0 = 1_795_341_600_000;
        let mut stats = Stats::new();
        stats.record_event("order.shipped", t0);
        stats.record_rejection("unknown_type", t0);
        stats.record_latency(250.0, t0);
        let mut engine = AlertEngine::new(rules);
        for now in [t0, t0 + 3_600_000] {
            for change in engine.evaluate(&stats, t0, now) {
                let _ = engine.event_for(&change);
            }
            let _ = engine.statuses(&stats, t0, now);
        }
    }
});
