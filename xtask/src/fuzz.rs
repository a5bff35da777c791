//! `cargo xtask fuzz [--seconds N] [--only TARGET]`: installs cargo-fuzz if it
//! is missing (and the nightly toolchain libFuzzer needs), builds every target
//! of `crates/core/fuzz`, runs each for N seconds (default 10) and prints one
//! line per target. Fails if any target crashed; the crashing input is kept in
//! `crates/core/fuzz/artifacts/<target>/` and can be replayed with
//! `cargo +nightly fuzz run <target> <file>` from `crates/core`.
//!
//! Corpora grow in `crates/core/fuzz/corpus/<target>/` (ignored by git), so
//! each run starts where the last one stopped.

use std::process::Command;
use std::time::Instant;

use crate::install::cargo_bin;
use crate::procs::run as run_cmd;
use crate::{root, step, Res};

/// The cargo-fuzz release installed when it is missing or different.
const CARGO_FUZZ: &str = "0.13.2";

/// Runs the command.
pub(crate) fn run(args: &[String]) -> Res {
    let mut seconds: u64 = 10;
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&s| s > 0)
                    .ok_or("--seconds needs a positive whole number, e.g. --seconds 30")?;
            }
            "--only" => only = Some(it.next().ok_or("--only needs a target name")?.clone()),
            other => {
                return Err(format!(
                "unknown argument `{other}`; usage: cargo xtask fuzz [--seconds N] [--only TARGET]"
            ))
            }
        }
    }
    nightly()?;
    cargo_fuzz()?;
    let core = root().join("crates/core");
    let targets = list_targets()?;
    let targets: Vec<String> = match &only {
        Some(t) if targets.contains(t) => vec![t.clone()],
        Some(t) => {
            return Err(format!(
                "no fuzz target `{t}`; targets: {}",
                targets.join(", ")
            ))
        }
        None => targets,
    };
    step(&format!(
        "building {} fuzz targets (nightly, sanitizer; a few minutes the first time)",
        targets.len()
    ));
    run_cmd(
        "cargo +nightly fuzz build",
        fuzz_cmd().arg("build").current_dir(&core),
    )?;
    step(&format!("running each target for {seconds} s"));
    let mut crashed = Vec::new();
    for target in &targets {
        let started = Instant::now();
        // The binary `cargo fuzz build` made, run directly: `cargo fuzz run`
        // would rebuild the crate for every target.
        let fuzz = core.join("fuzz");
        let corpus = fuzz.join("corpus").join(target);
        let artifacts = fuzz.join("artifacts").join(target);
        for dir in [&corpus, &artifacts] {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let out = Command::new(
            fuzz.join("target")
                .join(host())
                .join("release")
                .join(target),
        )
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(&corpus)
        .current_dir(&core)
        .output()
        .map_err(|e| format!("could not run fuzz target {target}: {e}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let took = started.elapsed().as_secs_f64();
        if out.status.success() {
            let runs = log
                .lines()
                .rev()
                .find_map(|l| {
                    l.strip_prefix("Done ")
                        .and_then(|r| r.split_whitespace().next())
                })
                .unwrap_or("?");
            let corpus = log
                .lines()
                .rev()
                .find_map(|l| {
                    l.split(" corp: ")
                        .nth(1)
                        .and_then(|c| c.split_whitespace().next())
                })
                .unwrap_or("?");
            println!("ok     {target:<22} {runs:>10} runs in {took:>5.1} s, corpus {corpus}");
        } else {
            let artifact = log
                .lines()
                .find_map(|l| l.split("Test unit written to ").nth(1))
                .unwrap_or("(no artifact written; see the output above)");
            let reason = log
                .lines()
                .find(|l| {
                    l.contains("panicked at")
                        || l.contains("ERROR: libFuzzer")
                        || l.contains("ERROR: AddressSanitizer")
                })
                .unwrap_or("")
                .trim();
            eprintln!("{log}");
            println!("CRASH  {target:<22} after {took:.1} s: {reason}\n       input: {artifact}");
            crashed.push(target.clone());
        }
    }
    if crashed.is_empty() {
        step(&format!(
            "{} fuzz targets ran {seconds} s each without a crash",
            targets.len()
        ));
        Ok(())
    } else {
        Err(format!(
            "fuzz targets crashed: {}; replay with `cargo +nightly fuzz run <target> <input>` in crates/core",
            crashed.join(", ")
        ))
    }
}

/// The host triple, which `cargo fuzz build` puts in the target path.
fn host() -> String {
    let out = Command::new("rustc").args(["+nightly", "-vV"]).output();
    out.ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        })
        .unwrap_or_else(|| "x86_64-unknown-linux-gnu".to_owned())
}

/// `cargo +nightly fuzz`, without the variables the outer (stable) cargo set
/// for xtask, so the nightly toolchain is really used.
fn fuzz_cmd() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.args(["+nightly", "fuzz"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("CARGO_TARGET_DIR");
    cmd
}

fn list_targets() -> Res<Vec<String>> {
    let out = fuzz_cmd()
        .arg("list")
        .current_dir(root().join("crates/core"))
        .output()
        .map_err(|e| format!("could not run cargo fuzz list: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo fuzz list failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let targets: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if targets.is_empty() {
        return Err("crates/core/fuzz has no targets".into());
    }
    Ok(targets)
}

fn nightly() -> Res {
    let out = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .map_err(|e| format!("rustup is needed (https://rustup.rs): {e}"))?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.starts_with("nightly"))
    {
        eprintln!("    nightly toolchain: installed");
        return Ok(());
    }
    step("installing the nightly toolchain (libFuzzer needs -Z sanitizer flags)");
    run_cmd(
        "rustup toolchain install nightly",
        Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]),
    )
}

fn cargo_fuzz() -> Res {
    let installed = Command::new(cargo_bin().join("cargo-fuzz"))
        .arg("--version")
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .last()
                .unwrap_or("")
                .to_owned()
        });
    if installed.as_deref() == Some(CARGO_FUZZ) {
        eprintln!("    cargo-fuzz {CARGO_FUZZ}: installed");
        return Ok(());
    }
    step(&format!(
        "installing cargo-fuzz {CARGO_FUZZ} (about 3 minutes on 2 cores)"
    ));
    run_cmd(
        "cargo install cargo-fuzz",
        Command::new("cargo").args(["install", "cargo-fuzz", "--version", CARGO_FUZZ, "--locked"]),
    )
}
