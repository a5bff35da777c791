//! # xtask
//!
//! Tidings' developer commands, run as `cargo xtask <command>`:
//!
//! - `dev [--edge-only] [--no-sim] [--port-edge N] [--port-web N]`: install what is
//!   missing, then run the edge in workerd (`wrangler dev`), the storefront (Trunk)
//!   and the store simulator, until Ctrl-C.
//! - `test`: install what is missing, then run every suite and print one line each.
//! - `send <file.json> [--edge URL]`: sign a file of events with the dev secret and post it.
//! - `bundle [--dev] [--out DIR] [--floor]`: the embeddable center alone into `dist-embed/`,
//!   with sizes; `--floor` also measures the floors in `tests/bench/center-floor`.
//! - `rules check <file.toml>` / `rules try <file.toml> <events.json>`: every problem of a
//!   rules file before it is deployed; what events become under it.
//! - `install`: only the install step.
//!
//! # Layout
//! - [`install`]: idempotent tool installation with version checks.
//! - [`procs`]: child processes in their own groups, stopped together.
//! - [`dev`], [`test`], [`send`], [`bundle`], [`rules`]: the commands.

mod bundle;
mod dev;
mod fuzz;
mod install;
mod procs;
mod rules;
mod send;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("dev") => dev::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("send") => send::run(&args[1..]),
        Some("bundle") => bundle::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("rules") => rules::run(&args[1..]),
        Some("install") => install::all(install::Need::everything()),
        _ => {
            eprintln!("usage: cargo xtask <dev|test|send|bundle|fuzz|rules|install>\n\n  dev [--edge-only] [--no-sim] [--port-edge N] [--port-web N]\n  test [--only native|wasm|web|e2e|browser]\n  fuzz [--seconds N] [--only TARGET]\n  send <file.json> [--edge http://127.0.0.1:8787]\n  bundle [--dev] [--out DIR] [--floor]\n  rules check <rules.toml>\n  rules try <rules.toml> <events.json>\n  install");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Prints a progress line.
pub(crate) fn step(msg: &str) {
    eprintln!("\x1b[1;34m==>\x1b[0m {msg}");
}

/// Result type of every command: errors are sentences telling what to do next.
pub(crate) type Res<T = ()> = Result<T, String>;
