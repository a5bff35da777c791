//! The bench workloads timed by a plain loop, so the same code measures wasm32
//! (under Node) and native, and their ratio is honest. Off unless the
//! `wasm-bench` feature is on, so the normal test runs skip it:
//!
//! - wasm:   `wasm-pack test --node --release --mode no-install crates/core --features wasm-bench --test wasm_bench -- --nocapture`
//! - native: `cargo test --release -p tidings-core --features wasm-bench --test wasm_bench -- --nocapture`
//!
//! Figures and how they compare: BENCHMARKS.md ("Core engine").
#![cfg(feature = "wasm-bench")]

#[path = "../benches/workload/mod.rs"]
mod workload;

use tidings_core::ingest::Limits;
use tidings_core::rules::RuleSet;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[cfg(target_arch = "wasm32")]
fn now_ms() -> f64 {
    js_sys::Date::now()
}

#[cfg(not(target_arch = "wasm32"))]
fn now_ms() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0
}

macro_rules! report {
    ($($t:tt)*) => {{
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen_test::console_log!($($t)*);
        #[cfg(not(target_arch = "wasm32"))]
        println!($($t)*);
    }};
}

const TARGET: &str = if cfg!(target_arch = "wasm32") {
    "wasm32"
} else {
    "native"
};

/// Runs `f` until at least `min_ms` have passed (and at least 3 times), best
/// of 3 such rounds; returns milliseconds per call.
fn time<R>(min_ms: f64, mut f: impl FnMut() -> R) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = now_ms();
        let mut n = 0u32;
        while n < 3 || now_ms() - start < min_ms {
            std::hint::black_box(f());
            n += 1;
        }
        best = best.min((now_ms() - start) / f64::from(n));
    }
    best
}

#[test]
fn pipeline_events_per_second() {
    let body = workload::batch(500, 42);
    let rules = RuleSet::default_rules();
    let limits = Limits::default();
    assert_eq!(workload::pipeline(&body, &rules, &limits).events, 500);
    let ms = time(1000.0, || workload::pipeline(&body, &rules, &limits));
    report!(
        "[{TARGET}] decode+rules+route 500 events: {ms:.3} ms/batch = {:.0} events/s",
        500.0 / ms * 1000.0
    );
    let ms = time(1000.0, || {
        tidings_core::ingest::decode_batch(&body, &limits).map(|v| v.len())
    });
    report!(
        "[{TARGET}] decode only 500 events: {ms:.3} ms/batch = {:.0} events/s",
        500.0 / ms * 1000.0
    );
}

#[test]
fn inbox_query_ms() {
    for n in [10_000, 50_000] {
        let inbox = workload::inbox(n);
        for (name, q) in workload::queries(&inbox) {
            let ms = time(300.0, || inbox.query(&q, workload::NOW).items.len());
            report!("[{TARGET}] inbox {}k {name}: {ms:.3} ms/query", n / 1000);
        }
    }
}
