//! `tidings-sim load`: how fast and how completely events reach sockets.
//!
//! 1. Opens `--sockets` WebSockets as users `load-0` … `load-N-1` (tokens
//!    minted with the subscriber secret), says `hello` on each and waits for
//!    `synced`, so everything after is live traffic.
//! 2. Every `--interval-ms` (default 100 ms) posts one signed batch with the events due by then, so the
//!    average is exactly `--rate` per second; event `n` is an `order.shipped`
//!    for user `load-(n mod N)` with `order_id = <run>-<n>` and its send time
//!    in `data.sent_at_ms`. The send instant is also kept locally.
//! 3. Every `notify` frame is matched back to its event by the notification
//!    id (`c:order:<run>-<n>`, from the rule's collapse key) and its latency
//!    is receive time − send time (monotonic clock, so it includes signing,
//!    the HTTP round trip into the edge, rules, the Inbox write and the push).
//!    The edge's own `ingested_at` gives a second figure, receive − ingest.
//! 4. After sending, waits up to `--grace` seconds for stragglers, then
//!    reports latency percentiles, sent / accepted / received / lost /
//!    duplicate counts and the achieved rate. Anything lost is an error exit.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tidings_core::protocol::ServerFrame;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{self, now_ms, Edge, Res};

/// `load` flags.
pub struct Options {
    edge: String,
    sockets: usize,
    rate: f64,
    duration: Duration,
    grace: Duration,
    connect_concurrency: usize,
    interval: Duration,
    dev_vars: Option<PathBuf>,
}

impl Options {
    /// Parses the flags after `load`.
    pub fn parse(args: &[String]) -> Res<Options> {
        let mut o = Options {
            edge: "http://127.0.0.1:8787".into(),
            sockets: 1000,
            rate: 500.0,
            duration: Duration::from_secs(60),
            grace: Duration::from_secs(10),
            connect_concurrency: 50,
            interval: Duration::from_millis(100),
            dev_vars: None,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--edge" => o.edge = value()?,
                "--sockets" => o.sockets = common::parse_num(flag, &value()?)?,
                "--rate" => o.rate = common::parse_rate(flag, &value()?)?,
                "--duration" => {
                    o.duration = Duration::from_secs(common::parse_num(flag, &value()?)?)
                }
                "--grace" => o.grace = Duration::from_secs(common::parse_num(flag, &value()?)?),
                "--connect-concurrency" => {
                    o.connect_concurrency = common::parse_num(flag, &value()?)?
                }
                "--interval-ms" => {
                    o.interval = Duration::from_millis(common::parse_num(flag, &value()?)?)
                }
                "--dev-vars" => o.dev_vars = Some(value()?.into()),
                other => {
                    return Err(format!(
                        "unknown option `{other}` for load; see `tidings-sim --help`"
                    ))
                }
            }
        }
        if o.sockets == 0 || o.connect_concurrency == 0 {
            return Err("--sockets and --connect-concurrency must be at least 1".into());
        }
        if o.interval.is_zero() {
            return Err("--interval-ms must be at least 1".into());
        }
        if o.duration.is_zero() {
            return Err("--duration must be at least 1 second".into());
        }
        Ok(o)
    }
}

/// What every task records into, indexed by event number.
struct Shared {
    start: Instant,
    /// Microseconds after `start` when the event was posted, plus one (0 = not sent).
    sent_at_us: Vec<AtomicU64>,
    accepted: Vec<AtomicBool>,
    received: Vec<AtomicU32>,
    /// `c:order:<run>-`: the notification id prefix of this run.
    id_prefix: String,
    latencies_us: Mutex<Vec<u64>>,
    edge_latencies_ms: Mutex<Vec<u64>>,
    post_us: Mutex<Vec<u64>>,
    unique: AtomicU64,
    duplicates: AtomicU64,
    unexpected: AtomicU64,
    dropped_sockets: AtomicU64,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    accepted: u64,
    duplicate: u64,
    rejected: u64,
    failed_posts: u64,
    first_problem: Option<String>,
}

impl Shared {
    fn elapsed_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn on_notify(&self, id: &str, ingested_at: i64) {
        let recv_us = self.elapsed_us();
        let recv_unix_ms = now_ms() as i64;
        let Some(n) = id
            .strip_prefix(&self.id_prefix)
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&n| n < self.received.len())
        else {
            self.unexpected.fetch_add(1, Relaxed);
            return;
        };
        if self.received[n].fetch_add(1, Relaxed) > 0 {
            self.duplicates.fetch_add(1, Relaxed);
            return;
        }
        self.unique.fetch_add(1, Relaxed);
        let sent = self.sent_at_us[n].load(Relaxed);
        if sent > 0 {
            self.latencies_us
                .lock()
                .expect("lock")
                .push(recv_us.saturating_sub(sent - 1));
        }
        if ingested_at > 0 {
            self.edge_latencies_ms
                .lock()
                .expect("lock")
                .push((recv_unix_ms - ingested_at).max(0) as u64);
        }
    }
}

/// Runs the load test and prints the report.
pub async fn run(o: Options) -> Res {
    let edge = Edge::new(&o.edge, o.dev_vars.as_deref())?;
    edge.wait_healthy(Duration::from_secs(30)).await?;
    let run = format!("ld{}", now_ms());
    let capacity = (o.rate * o.duration.as_secs_f64()).ceil() as usize + 1;
    let shared = Arc::new(Shared {
        start: Instant::now(),
        sent_at_us: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
        accepted: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
        received: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
        id_prefix: format!("c:order:{run}-"),
        latencies_us: Mutex::new(Vec::with_capacity(capacity)),
        edge_latencies_ms: Mutex::new(Vec::with_capacity(capacity)),
        post_us: Mutex::new(Vec::new()),
        unique: AtomicU64::new(0),
        duplicates: AtomicU64::new(0),
        unexpected: AtomicU64::new(0),
        dropped_sockets: AtomicU64::new(0),
        counts: Mutex::new(Counts::default()),
    });
    println!(
        "tidings-sim load: {} sockets, {} events/s in batches every {} ms for {} s on {} (run {run})",
        o.sockets,
        o.rate,
        o.interval.as_millis(),
        o.duration.as_secs(),
        o.edge
    );

    // 1. Sockets.
    let t0 = Instant::now();
    let gate = Arc::new(Semaphore::new(o.connect_concurrency));
    let (ready_tx, mut ready_rx) = mpsc::channel::<(usize, Res)>(o.sockets);
    let sending_done = Arc::new(AtomicBool::new(false));
    for i in 0..o.sockets {
        let (edge, shared, gate, ready_tx, done) = (
            edge.clone(),
            shared.clone(),
            gate.clone(),
            ready_tx.clone(),
            sending_done.clone(),
        );
        tokio::spawn(async move { socket(i, edge, shared, gate, ready_tx, done).await });
    }
    drop(ready_tx);
    let mut ready = Vec::new();
    let mut failures = Vec::new();
    let stop = common::shutdown_signal();
    tokio::pin!(stop);
    let connect_deadline = Instant::now() + Duration::from_secs(180);
    while ready.len() + failures.len() < o.sockets {
        tokio::select! {
            r = ready_rx.recv() => match r {
                Some((i, Ok(()))) => ready.push(i),
                Some((i, Err(e))) => failures.push(format!("load-{i}: {e}")),
                None => break,
            },
            _ = tokio::time::sleep_until(connect_deadline) => break,
            _ = &mut stop => return Err("interrupted while connecting".into()),
        }
    }
    let connect_s = t0.elapsed().as_secs_f64();
    println!(
        "sockets: {}/{} synced in {connect_s:.1} s",
        ready.len(),
        o.sockets
    );
    if !failures.is_empty() {
        println!("  {} failed, first: {}", failures.len(), failures[0]);
    }
    if ready.is_empty() {
        return Err("no socket reached `synced`; nothing to measure".into());
    }
    ready.sort_unstable();

    // 2. Sending.
    let in_flight = Arc::new(Semaphore::new(64));
    let total = capacity - 1;
    let send_start = Instant::now();
    let mut next = 0usize;
    let mut tick = tokio::time::interval(o.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut interrupted = false;
    while next < total {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => { interrupted = true; break; }
        }
        let due = ((o.rate * send_start.elapsed().as_secs_f64()) as usize).min(total);
        while next < due {
            let end = due.min(next + 500);
            let now_s = now_ms() / 1000;
            let events: Vec<Value> = (next..end)
                .map(|n| {
                    json!({
                        "id": format!("{run}-{n}"),
                        "type": "order.shipped",
                        "occurred_at": now_s,
                        "user_id": format!("load-{}", ready[n % ready.len()]),
                        "data": { "order_id": format!("{run}-{n}"), "order_number": format!("#{n}"),
                                  "carrier": "UPS", "tracking_number": format!("LT{n}"), "sent_at_ms": now_ms() },
                    })
                })
                .collect();
            let permit = in_flight
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore open");
            let sent_us = shared.elapsed_us() + 1;
            for n in next..end {
                shared.sent_at_us[n].store(sent_us, Relaxed);
            }
            let (edge, shared, first) = (edge.clone(), shared.clone(), next);
            tokio::spawn(async move {
                let t = Instant::now();
                let result = edge.post(&events).await;
                shared
                    .post_us
                    .lock()
                    .expect("lock")
                    .push(t.elapsed().as_micros() as u64);
                let mut c = shared.counts.lock().expect("lock");
                match result {
                    Ok(p) if p.status == 202 && p.results.len() == events.len() => {
                        for (k, v) in p.results.iter().enumerate() {
                            match v.get("status").and_then(Value::as_str) {
                                Some("accepted") => {
                                    c.accepted += 1;
                                    shared.accepted[first + k].store(true, Relaxed);
                                }
                                Some("duplicate") => c.duplicate += 1,
                                _ => {
                                    c.rejected += 1;
                                    c.first_problem
                                        .get_or_insert_with(|| common::verdict_line(v));
                                }
                            }
                        }
                    }
                    Ok(p) => {
                        c.failed_posts += 1;
                        c.first_problem
                            .get_or_insert_with(|| format!("HTTP {}: {}", p.status, p.body));
                    }
                    Err(e) => {
                        c.failed_posts += 1;
                        c.first_problem.get_or_insert(e);
                    }
                }
                drop(permit);
            });
            next = end;
        }
    }
    let send_s = send_start.elapsed().as_secs_f64();
    // Wait for every POST to answer.
    let _all = in_flight.acquire_many(64).await.expect("semaphore open");
    let posts_done_s = send_start.elapsed().as_secs_f64();

    // 3. Grace period for stragglers.
    let accepted = shared.counts.lock().expect("lock").accepted;
    let grace_end = Instant::now() + o.grace;
    while shared.unique.load(Relaxed) < accepted && Instant::now() < grace_end && !interrupted {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = &mut stop => break,
        }
    }
    sending_done.store(true, Relaxed);

    // 4. Report.
    let c = shared.counts.lock().expect("lock");
    let lost = (0..next)
        .filter(|&n| shared.accepted[n].load(Relaxed) && shared.received[n].load(Relaxed) == 0)
        .count();
    let received = shared.unique.load(Relaxed);
    println!(
        "sent {next} events in {send_s:.1} s ({:.1}/s achieved; last answer at {posts_done_s:.1} s){}",
        next as f64 / send_s.max(0.001),
        if interrupted { " — interrupted" } else { "" }
    );
    println!(
        "accepted {}, duplicate {}, rejected {}, failed posts {}",
        c.accepted, c.duplicate, c.rejected, c.failed_posts
    );
    if let Some(p) = &c.first_problem {
        println!("  first problem: {p}");
    }
    println!(
        "received {received} (unique), lost {lost}, duplicates {}, unexpected {}, sockets dropped {}",
        shared.duplicates.load(Relaxed),
        shared.unexpected.load(Relaxed),
        shared.dropped_sockets.load(Relaxed)
    );
    let us = std::mem::take(&mut *shared.latencies_us.lock().expect("lock"));
    println!("latency send → socket, ms: {}", percentiles(us, 1000.0));
    let ms = std::mem::take(&mut *shared.edge_latencies_ms.lock().expect("lock"));
    println!(
        "latency edge ingested_at → socket, ms: {}",
        percentiles(ms, 1.0)
    );
    let post = std::mem::take(&mut *shared.post_us.lock().expect("lock"));
    println!(
        "POST /v1/events round trip per batch, ms: {}",
        percentiles(post, 1000.0)
    );
    if lost > 0 || c.failed_posts > 0 {
        return Err(format!(
            "{lost} accepted events never reached their socket, {} posts failed",
            c.failed_posts
        ));
    }
    Ok(())
}

/// `p50 … p90 … p99 … max … (n = …)` of `values / scale`.
fn percentiles(mut values: Vec<u64>, scale: f64) -> String {
    if values.is_empty() {
        return "no samples".into();
    }
    values.sort_unstable();
    let at = |q: f64| {
        values[((values.len() as f64 * q).ceil() as usize).clamp(1, values.len()) - 1] as f64
            / scale
    };
    format!(
        "p50 {:.1}, p90 {:.1}, p99 {:.1}, max {:.1} (n = {})",
        at(0.50),
        at(0.90),
        at(0.99),
        *values.last().expect("non-empty") as f64 / scale,
        values.len()
    )
}

/// One subscriber: connect, hello, replay to `synced`, then record live notifies.
async fn socket(
    i: usize,
    edge: Edge,
    shared: Arc<Shared>,
    gate: Arc<Semaphore>,
    ready: mpsc::Sender<(usize, Res)>,
    done: Arc<AtomicBool>,
) {
    let permit = gate.acquire_owned().await.expect("semaphore open");
    let url = edge.socket_url(&format!("load-{i}"));
    let opened = async {
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .map_err(|e| format!("WebSocket upgrade failed: {e}"))?;
        ws.send(Message::Text(
            json!({"type": "hello", "after": 0}).to_string(),
        ))
        .await
        .map_err(|e| format!("cannot send hello: {e}"))?;
        loop {
            let msg = ws
                .next()
                .await
                .ok_or("closed before synced")?
                .map_err(|e| format!("read failed: {e}"))?;
            if let Message::Text(text) = msg {
                match ServerFrame::decode(&text) {
                    Ok(ServerFrame::Synced { .. }) => return Ok(ws),
                    Ok(ServerFrame::Error { code, message }) => {
                        return Err(format!("edge error {code}: {message}"))
                    }
                    Ok(_) => {}
                    Err(e) => return Err(format!("undecodable frame {text}: {e}")),
                }
            }
        }
    };
    let mut ws = match tokio::time::timeout(Duration::from_secs(60), opened).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            let _ = ready.send((i, Err(e))).await;
            return;
        }
        Err(_) => {
            let _ = ready.send((i, Err("no `synced` within 60 s".into()))).await;
            return;
        }
    };
    drop(permit);
    let _ = ready.send((i, Ok(()))).await;
    while let Some(msg) = ws.next().await {
        match msg {
            Ok(Message::Text(text)) => {
                if let Ok(ServerFrame::Notify { notification }) = ServerFrame::decode(&text) {
                    shared.on_notify(&notification.id, notification.ingested_at);
                }
            }
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    if !done.load(Relaxed) {
        shared.dropped_sockets.fetch_add(1, Relaxed);
    }
}
