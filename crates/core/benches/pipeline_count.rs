//! The pipeline workload (decode + rules + route of 500 own-format events)
//! run a fixed number of times without a timer, for instruction counts that do
//! not depend on how busy the machine is:
//! `cargo bench -p tidings-core --bench pipeline_count --no-run`, then
//! `valgrind --tool=callgrind <the printed binary> 20` and `callgrind_annotate`.
use tidings_core::ingest::Limits;
use tidings_core::rules::RuleSet;

mod workload;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let body = workload::batch(500, 42);
    let rules = RuleSet::default_rules();
    let limits = Limits::default();
    let mut events = 0;
    for _ in 0..rounds {
        events += std::hint::black_box(workload::pipeline(&body, &rules, &limits)).events;
    }
    println!("{events} events in {rounds} rounds");
}
