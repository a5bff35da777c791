//! Decode + rules + route of a 500-event own-format batch; reports events/s.
//! `cargo bench -p tidings-core --bench pipeline`
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tidings_core::ingest::Limits;
use tidings_core::rules::RuleSet;

mod workload;

fn pipeline(c: &mut Criterion) {
    let body = workload::batch(500, 42);
    let rules = RuleSet::default_rules();
    let limits = Limits::default();
    let tally = workload::pipeline(&body, &rules, &limits);
    assert_eq!(tally.events, 500);
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(500));
    g.bench_function("decode_rules_route_500", |b| {
        b.iter(|| workload::pipeline(black_box(&body), &rules, &limits))
    });
    g.bench_function("decode_only_500", |b| {
        b.iter(|| {
            tidings_core::ingest::decode_batch(black_box(&body), &limits)
                .unwrap()
                .len()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3)).sample_size(30);
    targets = pipeline
}
criterion_main!(benches);
