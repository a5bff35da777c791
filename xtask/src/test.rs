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
        _ => return Err("usage: cargo xtask test [--only native|wasm|web|e2e|browser]".into()),
    };
    install::all(Need::everything())?;
    let root = root();
    check_disk(&root);
    if std::env::var_os("CI").is_some() {
        // Incremental caches only help the next local build; on CI they are
        // gigabytes written once.
        std::env::set_var("CARGO_INCREMENTAL", "0");
    }
    let path = tool_path();
    let mut suites = Vec::new();

    let mut native = Command::new("cargo");
    native.args(["test", "--workspace", "--exclude", "tidings-e2e"]);
    suites.push(Suite {
        name: "native",
        cmd: native,
    });

    let mut wasm = Command::new(install::cargo_bin().join("wasm-pack"));
    wasm.args(["test", "--node", "--mode", "no-install", "crates/core"]);
    suites.push(Suite {
        name: "wasm",
        cmd: wasm,
    });

    let mut web = Command::new(install::cargo_bin().join("wasm-pack"));
    web.args([
        "test",
        "--headless",
        "--chrome",
        "--mode",
        "no-install",
        "crates/web",
    ])
    .env("CHROMEDRIVER", "/usr/bin/chromedriver");
    suites.push(Suite {
        name: "web",
        cmd: web,
    });

    let mut e2e = Command::new("sh");
    e2e.args(["-c", "cd crates/edge && sh ./build.sh && cd ../.. && TIDINGS_PREBUILT=1 cargo test -p tidings-e2e -- --test-threads 1"]);
    suites.push(Suite {
        name: "e2e",
        cmd: e2e,
    });

    let mut summary = Vec::new();
    let browser = only.is_none() || only == Some("browser");
    let mut failed = false;
    for mut suite in suites
        .into_iter()
        .filter(|s| only.is_none_or(|o| o == s.name))
    {
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
    if browser {
        step("suite browser (real workerd + Trunk + headless Chromium)");
        let started = Instant::now();
        let ok = match browser_suite() {
            Ok(()) => true,
            Err(e) => {
                eprintln!("browser suite: {e}");
                false
            }
        };
        failed |= !ok;
        summary.push(format!(
            "{:<7} {}  ({:.0} s)",
            "browser",
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

/// Warns, with what to do, when the disk holding `target/` has less room than
/// a full run from a fresh clone writes (about 5 GB).
fn check_disk(root: &std::path::Path) {
    const NEED_KB: u64 = 5 * 1024 * 1024;
    let out = Command::new("df").arg("-Pk").arg(root).output();
    let free_kb = out.ok().and_then(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .nth(1)?
            .split_whitespace()
            .nth(3)?
            .parse::<u64>()
            .ok()
    });
    if let Some(kb) = free_kb.filter(|kb| *kb < NEED_KB) {
        eprintln!(
            "warning: only {:.1} GB free on the disk of {}; a full test run writes about 5 GB. \
             Free some space (old clones, `cargo clean`) if a build fails with 'No space left on device'.",
            kb as f64 / 1024.0 / 1024.0,
            root.display()
        );
    }
}

/// Starts an edge and the storefront on free ports with a fresh persist
/// folder, runs the Playwright scripts in `tests/browser/`, stops both.
fn browser_suite() -> Res {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("no free port: {e}"))
    };
    let (port_edge, port_web) = (free()?, free()?);
    let persist = std::env::temp_dir().join(format!("tidings-browser-{}", std::process::id()));
    // The embeddable center for tests/browser/embed.mjs (a debug build: the release one is
    // `cargo xtask bundle`, measured in BENCHMARKS.md).
    let embed = persist.join("embed");
    if let Err(e) = crate::bundle::build(&embed, false) {
        let _ = std::fs::remove_dir_all(&persist);
        return Err(e);
    }
    let group = crate::procs::Group::default();
    let result =
        crate::dev::start_stack(&group, port_edge, Some(port_web), &persist).and_then(|()| {
            let mut scripts: Vec<_> = std::fs::read_dir(root().join("tests/browser"))
                .map_err(|e| format!("cannot list tests/browser: {e}"))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "mjs"))
                .collect();
            scripts.sort();
            for script in scripts {
                step(&format!("browser: {}", script.display()));
                crate::procs::run(
                    &format!("node {}", script.display()),
                    Command::new("node")
                        .arg(&script)
                        .arg(format!("http://127.0.0.1:{port_web}"))
                        .arg(format!("http://127.0.0.1:{port_edge}"))
                        .env("TIDINGS_EMBED_DIR", &embed)
                        .current_dir(root()),
                )?;
            }
            Ok(())
        });
    group.stop_all();
    let _ = std::fs::remove_dir_all(&persist);
    result
}
