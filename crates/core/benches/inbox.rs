//! `Inbox::query` over 10k and 50k notifications; reports time per query.
//! `cargo bench -p tidings-core --bench inbox`
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};

mod workload;

fn inbox(c: &mut Criterion) {
    for n in [10_000, 50_000] {
        let inbox = workload::inbox(n);
        assert_eq!(inbox.len(), n);
        let mut g = c.benchmark_group(format!("inbox_query_{}k", n / 1000));
        for (name, q) in workload::queries(&inbox) {
            g.bench_function(name, |b| {
                b.iter(|| inbox.query(black_box(&q), workload::NOW).items.len())
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2)).sample_size(20);
    targets = inbox
}
criterion_main!(benches);
