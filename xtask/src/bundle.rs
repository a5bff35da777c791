//! `cargo xtask bundle [--dev] [--out DIR]`: the embeddable notification center
//! (`tidings-center` binary: `mount(element, options)` and nothing else) built
//! by Trunk from `www/embed/index.html` into `dist-embed/` with stable file
//! names, then the download size of what a storefront ships.

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
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dev" => release = false,
            "--out" => {
                out = PathBuf::from(it.next().ok_or("--out needs a folder")?);
            }
            other => {
                return Err(format!(
                    "unknown option {other}; usage: cargo xtask bundle [--dev] [--out DIR]"
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
    report(&out)
}

/// Builds the bundle into `out`, an absolute folder (release: size-optimised and wasm-opt'ed).
pub(crate) fn build(out: &Path, release: bool) -> Res {
    step(&format!(
        "building the embeddable center ({}) into {} (a release build takes 3–5 minutes)",
        if release { "release" } else { "debug" },
        out.display()
    ));
    crate::procs::run(
        "trunk build www/embed/index.html",
        Command::new(install::cargo_bin().join("trunk"))
            .current_dir(root())
            .args(["build", "www/embed/index.html", "--filehash", "false"])
            .args(["--release", if release { "true" } else { "false" }])
            .arg("--dist")
            .arg(out)
            .env("PATH", tool_path()),
    )?;
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

/// Trunk runs from the workspace root: a relative folder means relative to where the command ran.
fn absolute(path: &Path) -> Res<PathBuf> {
    Ok(std::env::current_dir()
        .map_err(|e| format!("cannot read the current folder: {e}"))?
        .join(path))
}

/// Prints raw and gzip -9 sizes of the shipped files.
fn report(out: &Path) -> Res {
    let mut total = (0, 0);
    eprintln!("\n{:<24} {:>10} {:>10}", "file", "raw B", "gzip -9 B");
    for f in SHIPPED {
        let path = out.join(f);
        let raw = std::fs::metadata(&path)
            .map_err(|e| format!("cannot stat {}: {e}", path.display()))?
            .len();
        let gz = gzip_len(&path)?;
        if f != "tidings.css" {
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
