//! `cargo xtask bundle [--dev] [--out DIR] [--floor]`: the embeddable notification center
//! (`tidings-center` binary: `mount(element, options)` and nothing else) built
//! by Trunk from `www/embed/index.html` into `dist-embed/` with stable file
//! names, then the download size of what a storefront ships. `--floor` also builds
//! the two floors in `tests/bench/center-floor` the same way and prints theirs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::dev::tool_path;
use crate::install::{self, Need};
use crate::{root, step, Res};

/// The files a storefront serves: module, wasm, stylesheet.
const SHIPPED: [&str; 3] = ["tidings-center.js", "tidings-center_bg.wasm", "tidings.css"];

pub(crate) fn run(args: &[String]) -> Res {
    let mut release = true;
    let mut out = root().join("dist-embed");
    let mut floor = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dev" => release = false,
            "--floor" => floor = true,
            "--out" => {
                out = PathBuf::from(it.next().ok_or("--out needs a folder")?);
            }
            other => {
                return Err(format!(
                "unknown option {other}; usage: cargo xtask bundle [--dev] [--out DIR] [--floor]"
            ))
            }
        }
    }
    install::all(Need {
        wasm: true,
        edge: false,
        web: true,
        wasm_pack: false,
        chromium: false,
    })?;
    let out = absolute(&out)?;
    build(&out, release)?;
    report(&out, &SHIPPED)?;
    if floor {
        for (name, what) in FLOORS {
            let dist = out.join(name);
            trunk_build(
                &format!("tests/bench/center-floor/{name}.html"),
                &dist,
                release,
            )?;
            eprintln!("\n{name}: {what}");
            let (js, wasm) = (format!("{name}.js"), format!("{name}_bg.wasm"));
            report(&dist, &[js.as_str(), wasm.as_str()])?;
        }
    }
    Ok(())
}

/// The floors under the center's size (`tests/bench/center-floor`), smallest first, each
/// with what it holds.
const FLOORS: [(&str, &str); 2] = [
    (
        "floor-framework",
        "Leptos, WebSocket and IndexedDB with none of the center's features",
    ),
    (
        "floor-core",
        "the same fed by tidings_core as the center is (decode, Inbox, query, wire)",
    ),
];

/// Builds the bundle into `out`, an absolute folder (release: size-optimised and wasm-opt'ed).
pub(crate) fn build(out: &Path, release: bool) -> Res {
    step(&format!(
        "building the embeddable center ({}) into {} (a release build takes 3–5 minutes)",
        if release { "release" } else { "debug" },
        out.display()
    ));
    trunk_build("www/embed/index.html", out, release)?;
    // Trunk's page only boots the module; storefronts write their own (examples/embed.html).
    let _ = std::fs::remove_file(out.join("index.html"));
    for f in SHIPPED {
        if !out.join(f).is_file() {
            return Err(format!(
                "{f} is missing from {}: Trunk's output changed; check www/embed/index.html",
                out.display()
            ));
        }
    }
    Ok(())
}

/// Builds one Trunk page (a path from the workspace root) into `out` with stable file names.
fn trunk_build(page: &str, out: &Path, release: bool) -> Res {
    crate::procs::run(
        &format!("trunk build {page}"),
        Command::new(install::cargo_bin().join("trunk"))
            .current_dir(root())
            .args(["build", page, "--filehash", "false"])
            .args(["--release", if release { "true" } else { "false" }])
            .arg("--dist")
            .arg(out)
            .env("PATH", tool_path()),
    )
}

/// Trunk runs from the workspace root: a relative folder means relative to where the command ran.
fn absolute(path: &Path) -> Res<PathBuf> {
    Ok(std::env::current_dir()
        .map_err(|e| format!("cannot read the current folder: {e}"))?
        .join(path))
}

/// Prints raw and gzip -9 sizes of `files` in `out`; stylesheets are listed, not totalled.
fn report(out: &Path, files: &[&str]) -> Res {
    let mut total = (0, 0);
    eprintln!("\n{:<24} {:>10} {:>10}", "file", "raw B", "gzip -9 B");
    for &f in files {
        let path = out.join(f);
        let raw = std::fs::metadata(&path)
            .map_err(|e| format!("cannot stat {}: {e}", path.display()))?
            .len();
        let gz = gzip_len(&path)?;
        if !f.ends_with(".css") {
            total = (total.0 + raw, total.1 + gz);
        }
        eprintln!("{f:<24} {raw:>10} {gz:>10}");
    }
    eprintln!("{:<24} {:>10} {:>10}", "wasm + JS", total.0, total.1);
    Ok(())
}

fn gzip_len(path: &Path) -> Res<u64> {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("gzip is needed to measure sizes (apt-get install gzip): {e}"))?;
    if !out.status.success() {
        return Err(format!("gzip failed on {}", path.display()));
    }
    Ok(out.stdout.len() as u64)
}
