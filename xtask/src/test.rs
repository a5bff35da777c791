//! `cargo xtask test`: the install step, then every suite, one summary line each.
//!
//! Suites: native unit/property tests (`cargo test --workspace`), core under
//! wasm in Node (`wasm-pack test --node crates/core`), the web crate in
//! headless Chromium (`wasm-pack test --headless --chrome crates/web`, real
//! IndexedDB), and the end-to-end suite in `tests/` against a real workerd.

use std::process::Command;
use std::time::Instant;

use crate::dev::tool_path;
use crate::install::{self, Need};
use crate::{root, step, Res};

struct Suite {
    name: &'static str,
    cmd: Command,
}

pub(crate) fn run(args: &[String]) -> Res {
    let only = match args {
        [] => None,
        [flag, which] if flag == "--only" => Some(which.as_str()),
        _ => return Err("usage: cargo xtask test [--only native|wasm|web|e2e]".into()),
    };
    install::all(Need::everything())?;
    let root = root();
    let path = tool_path();
    let mut suites = Vec::new();

    let mut native = Command::new("cargo");
    native.args(["test", "--workspace", "--exclude", "tidings-e2e"]);
    suites.push(Suite { name: "native", cmd: native });

    let mut wasm = Command::new(install::cargo_bin().join("wasm-pack"));
    wasm.args(["test", "--node", "--mode", "no-install", "crates/core"]);
    suites.push(Suite { name: "wasm", cmd: wasm });

    let mut web = Command::new(install::cargo_bin().join("wasm-pack"));
    web.args(["test", "--headless", "--chrome", "--mode", "no-install", "crates/web"])
        .env("CHROMEDRIVER", "/usr/bin/chromedriver");
    suites.push(Suite { name: "web", cmd: web });

    let mut e2e = Command::new("sh");
    e2e.args(["-c", "cd crates/edge && sh ./build.sh && cd ../.. && TIDINGS_PREBUILT=1 cargo test -p tidings-e2e -- --test-threads 2"]);
    suites.push(Suite { name: "e2e", cmd: e2e });

    let mut summary = Vec::new();
    let mut failed = false;
    for mut suite in suites.into_iter().filter(|s| only.is_none_or(|o| o == s.name)) {
        step(&format!("suite {}", suite.name));
        let started = Instant::now();
        suite.cmd.current_dir(&root).env("PATH", &path);
        let ok = suite.cmd.status().map(|s| s.success()).unwrap_or(false);
        failed |= !ok;
        summary.push(format!(
            "{:<7} {}  ({:.0} s)",
            suite.name,
            if ok { "ok" } else { "FAILED" },
            started.elapsed().as_secs_f64()
        ));
    }
    eprintln!("\nsummary:");
    for line in &summary {
        eprintln!("  {line}");
    }
    if failed {
        Err("some suites failed; scroll up for the first error".into())
    } else {
        Ok(())
    }
}
