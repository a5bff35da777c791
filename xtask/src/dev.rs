//! `cargo xtask dev`: the whole system on this machine — the edge in workerd
//! (`wrangler dev`, local persistence in `.tidings/state`), the storefront
//! (Trunk, `/v1` proxied to the edge, WebSocket included) and the simulator.

use std::process::Command;
use std::time::Duration;

use crate::install::{self, Need};
use crate::procs::{wait_for_port, Group};
use crate::{root, step, Res};

struct Options {
    edge_only: bool,
    sim: bool,
    port_edge: u16,
    port_web: u16,
}

fn parse(args: &[String]) -> Res<Options> {
    let mut o = Options {
        edge_only: false,
        sim: true,
        port_edge: 8787,
        port_web: 8080,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut port = |name: &str| -> Res<u16> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a port number"))
        };
        match a.as_str() {
            "--edge-only" => o.edge_only = true,
            "--no-sim" => o.sim = false,
            "--port-edge" => o.port_edge = port("--port-edge")?,
            "--port-web" => o.port_web = port("--port-web")?,
            other => return Err(format!("unknown option `{other}`; see `cargo xtask`")),
        }
    }
    Ok(o)
}

/// PATH with `~/.cargo/bin` and `node_modules/.bin` first, so local tools win.
pub(crate) fn tool_path() -> String {
    let mut parts = vec![
        root().join("node_modules/.bin").display().to_string(),
        install::cargo_bin().display().to_string(),
    ];
    if let Ok(p) = std::env::var("PATH") {
        parts.push(p);
    }
    parts.join(":")
}

/// The `wrangler dev` command for the edge on `port`, persisting to `persist`.
pub(crate) fn wrangler_dev(port: u16, persist: &std::path::Path) -> Command {
    let root = root();
    let mut cmd = Command::new(root.join("node_modules/.bin/wrangler"));
    cmd.current_dir(root.join("crates/edge"))
        .args([
            "dev",
            "--ip",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--inspector-port",
            "0",
        ])
        .arg("--persist-to")
        .arg(persist)
        .args([
            "--show-interactive-dev-session=false",
            "--log-level",
            "warn",
        ])
        .env("PATH", tool_path())
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .env(
            "WASM_BINDGEN_BIN",
            install::cargo_bin().join("wasm-bindgen"),
        );
    cmd
}

pub(crate) fn run(args: &[String]) -> Res {
    let o = parse(args)?;
    install::all(Need {
        wasm: true,
        edge: true,
        web: !o.edge_only,
        wasm_pack: false,
        chromium: false,
    })?;
    let group = Group::with_signal_handler()?;
    let result = start(&o, &group);
    step("stopping");
    group.stop_all();
    result
}

/// Starts the edge (and unless `edge_only`, the storefront) in `group`; returns once they listen.
pub(crate) fn start_stack(
    group: &Group,
    port_edge: u16,
    port_web: Option<u16>,
    persist: &std::path::Path,
) -> Res {
    let root = root();
    std::fs::create_dir_all(persist)
        .map_err(|e| format!("cannot create {}: {e}", persist.display()))?;
    step(&format!("starting the edge in workerd on http://127.0.0.1:{port_edge} (first build takes 1–2 minutes)"));
    group.spawn("wrangler dev", wrangler_dev(port_edge, persist))?;
    if !wait_for_port(port_edge, Duration::from_secs(900), group) {
        return Err("the edge did not start; read the wrangler output above".into());
    }
    step(&format!(
        "edge ready: http://127.0.0.1:{port_edge}/v1/health"
    ));
    let Some(port_web) = port_web else {
        return Ok(());
    };
    step(&format!("starting the storefront on http://127.0.0.1:{port_web} (Trunk; first build takes 1–2 minutes)"));
    let mut trunk = Command::new(install::cargo_bin().join("trunk"));
    trunk
        .current_dir(&root)
        .args([
            "serve",
            "--address",
            "127.0.0.1",
            "--port",
            &port_web.to_string(),
        ])
        .env("PATH", tool_path());
    if port_edge != 8787 {
        // Trunk.toml proxies `/v1` to 8787: write a copy pointing at the chosen port.
        let config = std::fs::read_to_string(root.join("Trunk.toml"))
            .map_err(|e| format!("cannot read Trunk.toml: {e}"))?;
        let custom = persist.join(format!("Trunk.{port_edge}.toml"));
        // Paths in a Trunk config are relative to the file: make them absolute.
        let abs = |p: &str| format!("\"{}\"", root.join(p).display());
        let config = config
            .replace("127.0.0.1:8787", &format!("127.0.0.1:{port_edge}"))
            .replace("\"www/index.html\"", &abs("www/index.html"))
            .replace("\"dist\"", &abs("dist"))
            .replace("\"www\"", &abs("www"))
            .replace("\"crates/web/src\"", &abs("crates/web/src"))
            .replace("\"crates/core/src\"", &abs("crates/core/src"))
            .replace("\"crates/core/rules\"", &abs("crates/core/rules"));
        std::fs::write(&custom, config)
            .map_err(|e| format!("cannot write {}: {e}", custom.display()))?;
        trunk.arg("--config").arg(&custom);
    }
    group.spawn("trunk serve", trunk)?;
    if !wait_for_port(port_web, Duration::from_secs(900), group) {
        return Err("the storefront did not start; read the Trunk output above".into());
    }
    step(&format!("storefront ready: http://127.0.0.1:{port_web}/"));
    Ok(())
}

fn start(o: &Options, group: &Group) -> Res {
    let persist = root().join(".tidings/state");
    start_stack(
        group,
        o.port_edge,
        (!o.edge_only).then_some(o.port_web),
        &persist,
    )?;
    if o.sim {
        step("starting the store simulator (tidings-sim; `--no-sim` to skip)");
        let mut sim = Command::new("cargo");
        sim.current_dir(root())
            .args([
                "run",
                "--release",
                "-p",
                "tidings-sim",
                "--",
                "simulate",
                "--edge",
            ])
            .arg(format!("http://127.0.0.1:{}", o.port_edge));
        group.spawn("simulator", sim)?;
    }
    step("running; press Ctrl-C to stop everything");
    match group.wait() {
        Some((name, status)) => Err(format!("{name} exited ({status}); see its output above")),
        None => Ok(()),
    }
}
