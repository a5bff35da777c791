//! # tidings-e2e
//!
//! Harness for black-box tests against a real `workerd`: [`Edge::start`] runs
//! `wrangler dev` on a free port with a fresh persist folder (the worker is
//! built once by `cargo xtask test`, which sets `TIDINGS_PREBUILT=1`), and
//! stops it when dropped. Helpers sign and post events like a store backend
//! and speak the WebSocket protocol like the notification center.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tidings_core::protocol::ServerFrame;
use tokio::net::TcpStream;
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

/// The dev secrets from `crates/edge/.dev.vars`.
pub const INGEST_SECRET: &str = "dev-ingest-secret-not-for-production";
/// The dev Shopify secret.
pub const SHOPIFY_SECRET: &str = "dev-shopify-secret-not-for-production";
/// The dev Stripe secret.
pub const STRIPE_SECRET: &str = "whsec_dev_stripe_secret_not_for_production";
/// The dev WooCommerce secret.
pub const WOOCOMMERCE_SECRET: &str = "dev-woocommerce-secret-not-for-production";
/// The dev subscriber secret.
pub const SUBSCRIBER_SECRET: &str = "dev-subscriber-secret-not-for-production";

/// Every secret of crates/edge/.dev.vars, for tests that no response or log line contains one.
pub const SECRETS: [&str; 5] = [
    INGEST_SECRET,
    SHOPIFY_SECRET,
    STRIPE_SECRET,
    WOOCOMMERCE_SECRET,
    SUBSCRIBER_SECRET,
];

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// Unix seconds now.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A running `wrangler dev`.
pub struct Edge {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its persist folder.
    pub persist: PathBuf,
    owns_persist: bool,
    /// wrangler's output.
    log: PathBuf,
    /// HTTP client.
    pub http: reqwest::Client,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Edge {
    /// Starts a fresh edge with an empty persist folder.
    pub async fn start() -> Edge {
        Edge::start_with_vars(&[]).await
    }

    /// Starts a fresh edge with extra variables (`wrangler dev --var NAME:VALUE`),
    /// e.g. a custom rules file in `TIDINGS_RULES`.
    pub async fn start_with_vars(vars: &[(&str, &str)]) -> Edge {
        let persist = std::env::temp_dir().join(format!(
            "tidings-e2e-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&persist).expect("temp dir");
        let mut edge = Edge::launch(&persist, vars).await;
        edge.owns_persist = true;
        edge
    }

    /// Starts an edge on an existing persist folder (to test restarts).
    pub async fn start_on(persist: &Path) -> Edge {
        Edge::launch(persist, &[]).await
    }

    async fn launch(persist: &Path, vars: &[(&str, &str)]) -> Edge {
        let port = free_port();
        let root = root();
        let log_path = persist.join(format!("wrangler-{port}.log"));
        let log = std::fs::File::create(&log_path).expect("wrangler log file");
        let cargo_bin = std::env::var("HOME")
            .map(|h| format!("{h}/.cargo/bin"))
            .unwrap_or_default();
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
            .args(
                vars.iter()
                    .flat_map(|(name, value)| ["--var".to_owned(), format!("{name}:{value}")]),
            )
            .args([
                "--show-interactive-dev-session=false",
                "--log-level",
                "warn",
            ])
            .env("TIDINGS_PREBUILT", "1")
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env(
                "PATH",
                format!(
                    "{}:{cargo_bin}:{}",
                    root.join("node_modules/.bin").display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .process_group(0);
        let child = cmd
            .spawn()
            .expect("wrangler dev starts; run `cargo xtask test` so tools are installed");
        let edge = Edge {
            child: Some(child),
            port,
            persist: persist.to_path_buf(),
            owns_persist: false,
            http: reqwest::Client::new(),
            log: log_path,
        };
        edge.wait_healthy().await;
        edge
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut last = String::new();
        while Instant::now() < deadline {
            match self
                .http
                .get(self.url("/v1/health"))
                .timeout(Duration::from_secs(5))
                .send()
                .await
            {
                // 503: up, and saying what is wrong with its configuration (tests read it).
                Ok(r) if r.status() == 200 || r.status() == 503 => return,
                Ok(r) => last = format!("status {}", r.status()),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let output = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = output.lines().rev().take(30).collect();
        panic!(
            "wrangler dev did not become healthy on port {} within 90 s ({last}); is the worker built? run `cargo xtask test`\nwrangler output (last lines):\n{}",
            self.port,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }

    /// Everything wrangler dev and the Worker printed so far (log level warn: warnings, errors).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops workerd (the persist folder stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", "--"])
                .arg(format!("-{}", child.id()))
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = Command::new("kill")
                .args(["-KILL", "--"])
                .arg(format!("-{}", child.id()))
                .status();
            let _ = child.wait();
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `GET <path>` and its JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        let resp = self
            .http
            .get(self.url(path))
            .send()
            .await
            .expect("edge reachable");
        resp.json().await.expect("a JSON body")
    }

    /// `GET <path>` with `Authorization: Bearer <token>` and its JSON body.
    pub async fn get_json_as(&self, path: &str, token: &str) -> Value {
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("edge reachable");
        resp.json().await.expect("a JSON body")
    }

    /// Posts a raw body to `/v1/events` with a given signature header.
    pub async fn post_events_raw(&self, body: Vec<u8>, signature: Option<String>) -> (u16, Value) {
        let mut req = self
            .http
            .post(self.url("/v1/events"))
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(sig) = signature {
            req = req.header("Tidings-Signature", sig);
        }
        let resp = req.send().await.expect("edge reachable");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Signs (now, dev secret) and posts `{"events": events}`.
    pub async fn post_events(&self, events: Value) -> (u16, Value) {
        let body = serde_json::to_vec(&json!({ "events": events })).expect("json");
        let sig =
            tidings_core::signature::sign_tidings(INGEST_SECRET.as_bytes(), now_secs(), &body);
        self.post_events_raw(body, Some(sig)).await
    }

    /// Posts a platform webhook body with the given headers.
    pub async fn post_webhook(
        &self,
        platform: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(self.url(&format!("/v1/webhooks/{platform}")))
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.expect("edge reachable");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Opens a WebSocket as `user` (token minted with an ordinary JWT library).
    pub async fn connect(&self, user: &str) -> Socket {
        self.connect_with_token(&token_for(user, 3600)).await
    }

    /// Opens a notification-center WebSocket with a given token.
    pub async fn connect_with_token(&self, token: &str) -> Socket {
        let url = format!("ws://127.0.0.1:{}/v1/connect?token={token}", self.port);
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket upgrade");
        Socket { ws }
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        self.stop();
        if self.owns_persist {
            let _ = std::fs::remove_dir_all(&self.persist);
        }
    }
}

/// A subscriber JWT for `user`, valid for `ttl` seconds, minted with the
/// `jsonwebtoken` crate as any store backend would.
pub fn token_for(user: &str, ttl: i64) -> String {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        sub: &'a str,
        exp: i64,
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &Claims {
            sub: user,
            exp: now_secs() + ttl,
        },
        &jsonwebtoken::EncodingKey::from_secret(SUBSCRIBER_SECRET.as_bytes()),
    )
    .expect("jwt")
}

/// The next text message on `ws`, or `None` after `timeout` or when it closes.
async fn next_text(
    ws: &mut WebSocketStream<MaybeTlsStream<TcpStream>>,
    timeout: Duration,
) -> Option<String> {
    loop {
        let msg = tokio::time::timeout(timeout, ws.next()).await.ok()??.ok()?;
        if let Message::Text(text) = msg {
            return Some(text);
        }
    }
}

/// An operator's token (`role: "ops"`) for `user`, valid for an hour.
pub fn ops_token_for(user: &str) -> String {
    tidings_core::token::mint(
        SUBSCRIBER_SECRET.as_bytes(),
        &tidings_core::token::Claims {
            sub: user.into(),
            exp: now_secs() + 3600,
            aud: None,
            role: Some("ops".into()),
        },
    )
}

/// The ops page's live connection (`/v1/ops/live`).
pub struct OpsSocket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl OpsSocket {
    /// Connects with `token`; `Err` carries the HTTP status of a refused upgrade.
    pub async fn connect(edge: &Edge, token: &str) -> Result<OpsSocket, u16> {
        let url = format!("ws://127.0.0.1:{}/v1/ops/live?token={token}", edge.port);
        match tokio_tungstenite::connect_async(url).await {
            Ok((mut ws, _)) => {
                // The edge answers the first ping with a snapshot.
                ws.send(Message::Text(r#"{"type":"ping"}"#.into()))
                    .await
                    .expect("send ping");
                Ok(OpsSocket { ws })
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
            Err(e) => panic!("ops socket: {e}"),
        }
    }

    /// Next ops frame within `timeout`.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<tidings_core::ops::OpsFrame> {
        let text = next_text(&mut self.ws, timeout).await?;
        Some(tidings_core::ops::OpsFrame::decode(&text).expect("ops frames decode"))
    }
}

/// A notification-center connection.
pub struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Socket {
    /// Sends a JSON frame.
    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::Text(frame.to_string()))
            .await
            .expect("send frame");
    }

    /// Next server frame, or `None` after `timeout`.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<ServerFrame> {
        let text = next_text(&mut self.ws, timeout).await?;
        Some(ServerFrame::decode(&text).expect("server frames decode"))
    }

    /// Next server frame (panics after 10 s).
    pub async fn next(&mut self) -> ServerFrame {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("a frame within 10 s")
    }

    /// Says hello and collects the replay up to `synced`: (welcome head, replayed notifications).
    pub async fn hello(
        &mut self,
        after: u64,
    ) -> (u64, Vec<tidings_core::notification::Notification>) {
        self.send(json!({"type": "hello", "after": after})).await;
        let head = match self.next().await {
            ServerFrame::Welcome { head, .. } => head,
            other => panic!("expected welcome, got {other:?}"),
        };
        let mut items = Vec::new();
        loop {
            match self.next().await {
                ServerFrame::Notify { notification } => items.push(notification),
                ServerFrame::Synced { .. } => return (head, items),
                ServerFrame::Changed { .. } => {}
                other => panic!("unexpected during replay: {other:?}"),
            }
        }
    }

    /// Closes the socket.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
