//! # tidings-sim
//!
//! Two native tools that talk to a running Tidings edge (`cargo xtask dev`,
//! or any `wrangler dev`) exactly as the outside world does: signed
//! `POST /v1/events` like a store backend, WebSockets like the notification
//! center.
//!
//! - `tidings-sim simulate`: believable store traffic for a few demo
//!   shoppers (orders moving created → paid → shipped → in transit →
//!   delivered, refunds, cancellations, failed payments, restocks, price
//!   drops, promotions, a cart reminder cancelled by the order that follows).
//!   Deterministic for a given `--seed`; one line per event with its verdict.
//! - `tidings-sim load`: the load generator. Opens N sockets, posts events at
//!   a fixed rate and reports ingest → socket latency, loss and duplicates.
//!
//! Secrets come from `crates/edge/.dev.vars` (dev-only values), the same
//! file `wrangler dev` and `cargo xtask send` read.
//!
//! # Layout
//! - `main.rs`: command line (no dependencies: flags are few) and dispatch.
//! - `common.rs`: the edge client (secrets, signing, posting, tokens, URLs),
//!   a seeded xorshift PRNG, clocks, shutdown signals.
//! - `simulate.rs`: the store model: a seeded timeline of journeys and
//!   store-wide events, sent as their time comes.
//! - `load.rs`: the load generator and its report.

mod common;
mod load;
mod simulate;

use std::process::ExitCode;

const USAGE: &str = "\
usage:
  tidings-sim simulate [--edge URL] [--rate N/s] [--users alice,bob,carol] [--duration S] [--seed N] [--run-id ID] [--dev-vars PATH]
  tidings-sim load [--edge URL] [--sockets N] [--rate N/s] [--duration S] [--grace S] [--interval-ms MS] [--connect-concurrency N] [--dev-vars PATH]

  --edge       edge base URL (default http://127.0.0.1:8787)
  --dev-vars   file with TIDINGS_INGEST_SECRET / TIDINGS_SUBSCRIBER_SECRET (default crates/edge/.dev.vars)

simulate:
  --rate       average events per second (default 1)
  --users      demo shoppers (default alice,bob,carol)
  --duration   stop after S seconds (default: until Ctrl-C)
  --seed       PRNG seed: the same seed gives the same story (default 42)
  --run-id     prefix for event/order ids (default: derived from the start time, so reruns are not duplicates)

load:
  --sockets    WebSockets to open, users load-0..load-N-1 (default 1000)
  --rate       events per second, posted in batches every --interval-ms (default 500)
  --interval-ms  milliseconds between batches (default 100; 10 = batches of rate/100)
  --duration   seconds of sending (default 60)
  --grace      seconds to wait for stragglers after sending (default 10)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tidings-sim: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cmd.as_str() {
        "simulate" => {
            simulate::Options::parse(rest).and_then(|o| runtime.block_on(simulate::run(o)))
        }
        "load" => load::Options::parse(rest).and_then(|o| runtime.block_on(load::run(o))),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => Err(format!(
            "unknown command `{other}`; expected `simulate` or `load`\n\n{USAGE}"
        )),
    };
    // Socket tasks may still be parked on reads; do not wait for them.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tidings-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
