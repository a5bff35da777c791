//! What both tools share: the edge client, a seeded PRNG, clocks, flags.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// Errors are sentences for a human; `main` prints them.
pub type Res<T = ()> = Result<T, String>;

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The default `.dev.vars`, found next to this crate in the workspace.
fn default_dev_vars() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../edge/.dev.vars")
}

/// Reads `NAME=value` from a `.dev.vars` file.
fn dev_var(path: &Path, name: &str) -> Res<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {} ({e}); pass --dev-vars PATH", path.display()))?;
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().to_owned())
        .ok_or_else(|| format!("{name} is not set in {}", path.display()))
}

/// A client for one edge: signs batches, mints tokens, builds URLs.
#[derive(Clone)]
pub struct Edge {
    base: String,
    ingest_secret: String,
    subscriber_secret: String,
    /// The HTTP client (keeps connections alive).
    pub http: reqwest::Client,
}

/// What `POST /v1/events` said about a batch.
pub struct Posted {
    /// HTTP status.
    pub status: u16,
    /// One verdict per event (`{"status":"accepted","id":…}`), empty unless 202.
    pub results: Vec<Value>,
    /// The body, for error messages.
    pub body: Value,
}

impl Edge {
    /// An edge at `base` (e.g. `http://127.0.0.1:8787`), secrets from `dev_vars`
    /// (default `crates/edge/.dev.vars`).
    pub fn new(base: &str, dev_vars: Option<&Path>) -> Res<Edge> {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!("--edge must be an http(s) URL, got `{base}`"));
        }
        let path = dev_vars
            .map(Path::to_path_buf)
            .unwrap_or_else(default_dev_vars);
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Edge {
            base: base.trim_end_matches('/').to_owned(),
            ingest_secret: dev_var(&path, "TIDINGS_INGEST_SECRET")?,
            subscriber_secret: dev_var(&path, "TIDINGS_SUBSCRIBER_SECRET")?,
            http,
        })
    }

    /// `<base><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits up to `patience` for `GET /v1/health` to answer 200.
    pub async fn wait_healthy(&self, patience: Duration) -> Res {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let last = match self
                .http
                .get(self.url("/v1/health"))
                .timeout(Duration::from_secs(5))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => format!("status {}", r.status()),
                Err(e) => e.to_string(),
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "the edge at {} is not healthy after {} s ({last}); is `cargo xtask dev` running?",
                    self.base,
                    patience.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Signs `{"events": events}` with the ingest secret (now) and posts it.
    pub async fn post(&self, events: &[Value]) -> Res<Posted> {
        let body = serde_json::to_vec(&json!({ "events": events })).map_err(|e| e.to_string())?;
        let sig = tidings_core::signature::sign_tidings(
            self.ingest_secret.as_bytes(),
            (now_ms() / 1000) as i64,
            &body,
        );
        let resp = self
            .http
            .post(self.url("/v1/events"))
            .header("Content-Type", "application/json")
            .header("Tidings-Signature", sig)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    format!(
                        "POST {} got no answer within 30 s (the edge may still deliver the batch)",
                        self.url("/v1/events")
                    )
                } else {
                    format!("POST {} failed: {e}", self.url("/v1/events"))
                }
            })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let results = if status == 202 {
            body.get("results")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(Posted {
            status,
            results,
            body,
        })
    }

    /// `ws(s)://…/v1/connect?token=…` for `user`, with a one-day token.
    pub fn socket_url(&self, user: &str) -> String {
        let claims = tidings_core::token::Claims {
            sub: user.to_owned(),
            exp: (now_ms() / 1000) as i64 + 86_400,
            aud: None,
            role: None,
        };
        let token = tidings_core::token::mint(self.subscriber_secret.as_bytes(), &claims);
        let ws = self
            .base
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        format!("{ws}/v1/connect?token={token}")
    }
}

/// A one-line summary of a verdict: `accepted`, `duplicate`, or
/// `rejected <code> at <path>: <message>`.
pub fn verdict_line(v: &Value) -> String {
    let status = v.get("status").and_then(Value::as_str).unwrap_or("?");
    if status == "rejected" {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        format!("rejected {} at {}: {}", s("code"), s("path"), s("message"))
    } else {
        status.to_owned()
    }
}

/// xorshift64*: small, fast, and the same sequence for the same seed everywhere.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Rng {
        // splitmix64 the seed so that nearby seeds give unrelated streams.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform integer in `[lo, hi]`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// Milliseconds uniform in `[lo_s, hi_s]` seconds.
    pub fn secs(&mut self, lo_s: f64, hi_s: f64) -> u64 {
        ((lo_s + (hi_s - lo_s) * self.unit()) * 1000.0) as u64
    }

    /// Exponentially distributed milliseconds with the given mean (seconds).
    pub fn exp_ms(&mut self, mean_s: f64) -> u64 {
        (-(1.0 - self.unit()).ln() * mean_s * 1000.0) as u64
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// Parses `500`, `500/s` or `2.5/s`.
pub fn parse_rate(flag: &str, v: &str) -> Res<f64> {
    let n: f64 = v.trim_end_matches("/s").parse().map_err(|_| {
        format!("{flag} needs a number of events per second like `2` or `2/s`, got `{v}`")
    })?;
    if !(n > 0.0 && n.is_finite()) {
        return Err(format!("{flag} must be positive, got `{v}`"));
    }
    Ok(n)
}

/// Parses a whole number for `flag`.
pub fn parse_num<T: std::str::FromStr>(flag: &str, v: &str) -> Res<T> {
    v.parse()
        .map_err(|_| format!("{flag} needs a whole number, got `{v}`"))
}

/// Completes on Ctrl-C or SIGTERM (what `cargo xtask dev` sends its group on exit).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
