//! Installs what Tidings needs, idempotently: each tool is checked by its
//! version first, so a second run costs seconds.
//!
//! Recipe and traps: `../shared/guide/toolchain.md` (summarised in README):
//! wasm-bindgen-cli must equal the library version in Cargo.lock exactly and
//! is installed without `--locked`; the cargo tools share one target folder
//! and build without LTO (about 16 minutes instead of 40–50 on a new machine);
//! nothing may be downloaded from GitHub, so Trunk and worker-build are
//! pointed at local binaries.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use crate::procs::run;
use crate::{root, step, Res};

/// What a command needs installed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Need {
    /// The wasm32 target and wasm-bindgen-cli.
    pub(crate) wasm: bool,
    /// worker-build and the npm packages (wrangler).
    pub(crate) edge: bool,
    /// Trunk (and binaryen's wasm-opt from npm).
    pub(crate) web: bool,
    /// wasm-pack.
    pub(crate) wasm_pack: bool,
    /// Chromium and ChromeDriver from Debian.
    pub(crate) chromium: bool,
}

impl Need {
    /// Everything (`cargo xtask test`).
    pub(crate) fn everything() -> Need {
        Need {
            wasm: true,
            edge: true,
            web: true,
            wasm_pack: true,
            chromium: true,
        }
    }
}

/// Versions pinned here; wasm-bindgen and worker-build follow Cargo.lock.
const TRUNK: &str = "0.21.14";
const WASM_PACK: &str = "0.15.1";

/// Installs everything `need` asks for.
pub(crate) fn all(need: Need) -> Res {
    let started = Instant::now();
    step("checking tools (installs only what is missing or at the wrong version)");
    if need.wasm {
        wasm_target()?;
        let v = lock_version("wasm-bindgen")?;
        cargo_tool("wasm-bindgen", "wasm-bindgen-cli", &v, false)?;
    }
    if need.edge {
        let v = lock_version("worker")?;
        cargo_tool("worker-build", "worker-build", &v, true)?;
    }
    if need.wasm_pack {
        cargo_tool("wasm-pack", "wasm-pack", WASM_PACK, true)?;
    }
    if need.web {
        cargo_tool("trunk", "trunk", TRUNK, true)?;
    }
    if need.edge || need.web {
        npm_packages()?;
    }
    if need.chromium {
        chromium()?;
    }
    step(&format!(
        "tools ready ({:.0} s)",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The version of `package` in Cargo.lock.
pub(crate) fn lock_version(package: &str) -> Res<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&needle)
        .ok_or_else(|| format!("{package} is not in Cargo.lock; run `cargo fetch`"))?
        + needle.len();
    let end = lock[start..].find('"').ok_or("Cargo.lock is malformed")? + start;
    Ok(lock[start..end].to_owned())
}

fn wasm_target() -> Res {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup is needed (https://rustup.rs): {e}"))?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        eprintln!("    wasm32-unknown-unknown target: installed");
        return Ok(());
    }
    step("adding the wasm32-unknown-unknown target (about 20 s)");
    run(
        "rustup target add",
        Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]),
    )
}

/// `~/.cargo/bin`.
pub(crate) fn cargo_bin() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
        .join("bin")
}

fn installed_version(bin: &str) -> Option<String> {
    let out = Command::new(cargo_bin().join(bin))
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // `wasm-pack 0.15.1`, `trunk 0.21.14`, or just `0.8.7` (worker-build).
    text.split_whitespace()
        .last()
        .map(|v| v.trim_start_matches('v').to_owned())
}

fn cargo_tool(bin: &str, krate: &str, version: &str, locked: bool) -> Res {
    if installed_version(bin).as_deref() == Some(version) {
        eprintln!("    {bin} {version}: installed");
        return Ok(());
    }
    step(&format!(
        "installing {krate} {version} (a few minutes on 2 cores; cargo shows progress)"
    ));
    let cache = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(root)
        .join(".cache/tidings/tool-target");
    let mut cmd = Command::new("cargo");
    cmd.args(["install", krate, "--version", version]);
    if locked {
        cmd.arg("--locked");
    }
    // One shared target folder, no LTO: the tools build in a third of the time.
    cmd.env("CARGO_TARGET_DIR", cache)
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "0");
    run(&format!("cargo install {krate}"), &mut cmd)
}

fn npm_packages() -> Res {
    let root = root();
    let stamp = root.join("node_modules/.package-lock.json");
    let lock = root.join("package-lock.json");
    let fresh = match (
        std::fs::metadata(&stamp).and_then(|m| m.modified()),
        std::fs::metadata(&lock).and_then(|m| m.modified()),
    ) {
        (Ok(s), Ok(l)) => s >= l,
        _ => false,
    };
    if fresh && root.join("node_modules/.bin/wrangler").exists() {
        eprintln!("    npm packages: installed");
        return Ok(());
    }
    step("installing npm packages from package-lock.json (wrangler, playwright-core, esbuild, binaryen)");
    run(
        "npm ci",
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&root),
    )
    .map_err(|e| format!("{e}; Node.js 20 and npm are needed"))
}

fn chromium() -> Res {
    if PathBuf::from("/usr/bin/chromium").exists()
        && PathBuf::from("/usr/bin/chromedriver").exists()
    {
        eprintln!("    chromium + chromedriver: installed");
        return Ok(());
    }
    step("installing Debian's chromium and chromium-driver (apt-get)");
    let sudo = |args: &[&str]| {
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0"))
            .unwrap_or(false);
        let mut cmd = if is_root {
            Command::new(args[0])
        } else {
            Command::new("sudo")
        };
        if is_root {
            cmd.args(&args[1..]);
        } else {
            cmd.args(args);
        }
        cmd.env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run("apt-get update", &mut sudo(&["apt-get", "update", "-q"]))?;
    run(
        "apt-get install chromium",
        &mut sudo(&[
            "apt-get",
            "install",
            "-y",
            "-q",
            "chromium",
            "chromium-driver",
        ]),
    )
    .map_err(|e| {
        format!(
            "{e}; install Chromium and ChromeDriver yourself (packages chromium, chromium-driver)"
        )
    })
}
