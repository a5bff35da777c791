//! The operators' live page (`/ops`): throughput by type, deliveries,
//! rejections by code, sockets, delivery latency, alerts and the last rejected
//! events, fed by the edge's ops socket (`/v1/ops/live`: a snapshot, then a
//! tick per second; see `tidings_core::ops`). Charts are plain SVG polylines
//! computed by core, no chart library.
//!
//! The page needs a token with `role: "ops"`; without one it says so (the
//! edge refuses the socket anyway). Alerts also arrive as notifications in the
//! operator's own notification center, mounted in the page header.

use futures_util::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use leptos::prelude::*;
use tidings_core::notification::Locale;
use tidings_core::ops::{nice_max, polyline, Figure, Line, OpsFrame, OpsView, RejectedEvent};
use tidings_core::stats::{LatencySummary, Resolution};
use tidings_core::time::{format_rfc3339, Millis};

/// The ops socket's state, for the status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpsStatus {
    /// Connecting or waiting to reconnect.
    Connecting,
    /// Receiving ticks.
    Live,
    /// The edge refused the socket or it keeps failing.
    Offline,
}

/// The page's reactive state.
#[derive(Clone, Copy)]
pub struct OpsState {
    /// Everything received, as core's model.
    pub view: RwSignal<OpsView>,
    /// Connection status.
    pub status: RwSignal<OpsStatus>,
    /// Per-second or per-minute charts.
    pub resolution: RwSignal<Resolution>,
    /// UI language.
    pub locale: RwSignal<Locale>,
}

impl OpsState {
    /// Nothing received yet.
    pub fn new(locale: Locale) -> OpsState {
        OpsState {
            view: RwSignal::new(OpsView::new()),
            status: RwSignal::new(OpsStatus::Connecting),
            resolution: RwSignal::new(Resolution::Second),
            locale: RwSignal::new(locale),
        }
    }

    /// Applies one frame's text; a bad frame is logged and skipped.
    pub fn on_text(&self, text: &str) {
        match OpsFrame::decode(text) {
            Ok(frame) => {
                self.view.update(|v| v.apply(frame));
                self.status.set(OpsStatus::Live);
            }
            Err(e) => leptos::logging::warn!("tidings ops: {e}"),
        }
    }
}

/// The ops socket URL for an edge base (`""` = this origin) and token.
pub fn live_url(edge_url: &str, token: &str) -> String {
    let socket = crate::embed::socket_url(&crate::embed::Options {
        edge_url: edge_url.to_owned(),
        token: token.to_owned(),
        locale: Locale::En,
        get_token: None,
    });
    socket.replacen("/v1/connect?", "/v1/ops/live?", 1)
}

/// Keeps `state` fed from `url`, reconnecting with backoff; each new
/// connection starts with a fresh snapshot.
pub async fn run(state: OpsState, url: String) {
    let mut attempt = 0u32;
    loop {
        state.status.set(OpsStatus::Connecting);
        if let Ok(ws) = WebSocket::open(&url) {
            let (mut sink, mut stream) = ws.split();
            // The edge answers the first ping with a snapshot; ticks follow.
            let _ = sink.send(Message::Text(r#"{"type":"ping"}"#.into())).await;
            while let Some(Ok(msg)) = stream.next().await {
                if let Message::Text(text) = msg {
                    state.on_text(&text);
                    attempt = 0;
                }
            }
        }
        state.status.set(OpsStatus::Offline);
        let delay = crate::connection::backoff_ms(attempt, js_sys::Math::random());
        attempt = attempt.saturating_add(1);
        gloo_timers::future::TimeoutFuture::new(delay).await;
    }
}

fn tr(locale: Locale, en: &'static str, zh: &'static str) -> &'static str {
    match locale {
        Locale::Zh => zh,
        _ => en,
    }
}

const PALETTE: [&str; 8] = [
    "#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#be185d", "#6b7280",
];
const CHART_W: f64 = 600.0;
const CHART_H: f64 = 140.0;

fn rate(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}/s")
    } else if v >= 10.0 {
        format!("{v:.1}/s")
    } else {
        format!("{v:.2}/s")
    }
}

/// One chart: lines of per-second rates, a y-axis maximum and a legend.
#[component]
pub fn Chart(
    /// Chart title.
    title: Signal<String>,
    /// The lines to draw.
    lines: Signal<Vec<Line>>,
) -> impl IntoView {
    let max = Memo::new(move |_| {
        let peak = lines.with(|ls| {
            ls.iter()
                .flat_map(|l| l.values.iter().copied())
                .fold(0.0f64, f64::max)
        });
        nice_max(peak)
    });
    let summary = move || {
        let ls = lines.get();
        if ls.is_empty() {
            return format!("{}: —", title.get());
        }
        let parts: Vec<String> = ls
            .iter()
            .map(|l| format!("{} {}", l.label, l.total))
            .collect();
        format!("{}: {}", title.get(), parts.join(", "))
    };
    view! {
        <figure class="ops-chart">
            <figcaption>{move || title.get()}</figcaption>
            <svg
                viewBox=format!("0 0 {CHART_W} {CHART_H}")
                preserveAspectRatio="none"
                role="img"
                aria-label=summary
            >
                <line class="ops-grid" x1="0" y1="0.5" x2=CHART_W.to_string() y2="0.5"></line>
                <line class="ops-grid" x1="0" y1=(CHART_H / 2.0).to_string() x2=CHART_W.to_string() y2=(CHART_H / 2.0).to_string()></line>
                <line class="ops-axis" x1="0" y1=(CHART_H - 0.5).to_string() x2=CHART_W.to_string() y2=(CHART_H - 0.5).to_string()></line>
                {move || {
                    let m = max.get();
                    lines
                        .get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, l)| {
                            view! {
                                <polyline
                                    class="ops-line"
                                    fill="none"
                                    stroke=PALETTE[i % PALETTE.len()]
                                    stroke-width="1.5"
                                    vector-effect="non-scaling-stroke"
                                    points=polyline(&l.values, CHART_W, CHART_H, m)
                                ></polyline>
                            }
                        })
                        .collect_view()
                }}
            </svg>
            <div class="ops-scale">
                <span>{move || rate(max.get())}</span>
                <span>{move || rate(max.get() / 2.0)}</span>
            </div>
            <ul class="ops-legend">
                {move || {
                    lines
                        .get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, l)| {
                            let now = l.values.iter().rev().take(10).sum::<f64>()
                                / l.values.len().clamp(1, 10) as f64;
                            view! {
                                <li>
                                    <span class="ops-swatch" style=format!("background:{}", PALETTE[i % PALETTE.len()])></span>
                                    <span class="ops-label">{l.label.clone()}</span>
                                    <span class="ops-num">{rate(now)}</span>
                                    <span class="ops-num ops-total">{l.total.to_string()}</span>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
        </figure>
    }
}

fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v < 10.0 => format!("{v:.1} ms"),
        Some(v) => format!("{v:.0} ms"),
        None => "—".into(),
    }
}

fn latency_row(label: &'static str, s: Option<LatencySummary>) -> impl IntoView {
    let (p50, p90, p99, n) = match s {
        Some(s) => (
            ms(s.p50_ms),
            ms(s.p90_ms),
            ms(s.p99_ms),
            s.count.to_string(),
        ),
        None => ("—".into(), "—".into(), "—".into(), "0".into()),
    };
    view! {
        <tr><th scope="row">{label}</th><td>{p50}</td><td>{p90}</td><td>{p99}</td><td>{n}</td></tr>
    }
}

fn rejected_row(r: RejectedEvent) -> impl IntoView {
    let when = format_rfc3339(r.at);
    let time = when.get(11..19).unwrap_or(&when).to_owned();
    view! {
        <tr>
            <td><time datetime=when.clone()>{time}</time></td>
            <td>{r.source}</td>
            <td><code>{r.code}</code></td>
            <td>{r.id.unwrap_or_default()}</td>
            <td>{r.path}</td>
            <td>{r.message}</td>
            // Text, never HTML: payloads come from producers.
            <td><pre class="ops-payload">{r.payload}</pre></td>
        </tr>
    }
}

/// The whole ops page.
#[component]
pub fn OpsPage(
    /// The page's state.
    state: OpsState,
) -> impl IntoView {
    let locale = state.locale;
    let lines = move |figure: Figure| {
        Signal::derive(move || {
            let res = state.resolution.get();
            state.view.with(|v| v.lines(figure, res, 8))
        })
    };
    let per = move || match state.resolution.get() {
        Resolution::Second => tr(
            locale.get(),
            "per second, last 15 min",
            "每秒，最近 15 分钟",
        ),
        Resolution::Minute => tr(
            locale.get(),
            "per minute, last 15 min",
            "每分钟，最近 15 分钟",
        ),
    };
    let title = move |en: &'static str, zh: &'static str| {
        Signal::derive(move || format!("{} ({})", tr(locale.get(), en, zh), per()))
    };
    let gauges = move || state.view.with(|v| v.gauges().cloned());
    let status = move || match state.status.get() {
        OpsStatus::Live => tr(locale.get(), "live", "实时"),
        OpsStatus::Connecting => tr(locale.get(), "connecting…", "连接中…"),
        OpsStatus::Offline => tr(locale.get(), "offline, retrying", "离线，正在重试"),
    };
    let as_of = move || {
        let at: Millis = state.view.with(|v| v.at());
        if at == 0 {
            String::new()
        } else {
            format_rfc3339(at).get(11..19).unwrap_or("").to_owned()
        }
    };
    view! {
        <section class="ops" aria-labelledby="ops-title">
            <header class="ops-head">
                <h1 id="ops-title">{move || tr(locale.get(), "Live operations", "实时运维")}</h1>
                <p class="ops-status" role="status">
                    <span class=move || format!("ops-dot ops-{:?}", state.status.get()).to_lowercase()></span>
                    {status} " " <span class="ops-asof">{as_of}</span>
                </p>
                <div class="ops-res" role="group" aria-label=move || tr(locale.get(), "Chart resolution", "图表粒度")>
                    <button
                        aria-pressed=move || (state.resolution.get() == Resolution::Second).to_string()
                        on:click=move |_| state.resolution.set(Resolution::Second)
                    >{move || tr(locale.get(), "Per second", "每秒")}</button>
                    <button
                        aria-pressed=move || (state.resolution.get() == Resolution::Minute).to_string()
                        on:click=move |_| state.resolution.set(Resolution::Minute)
                    >{move || tr(locale.get(), "Per minute", "每分钟")}</button>
                </div>
            </header>
            <div class="ops-cards">
                <div class="ops-card">
                    <span class="ops-card-label">{move || tr(locale.get(), "Sockets connected", "在线连接")}</span>
                    <span class="ops-card-value" data-testid="ops-sockets">{move || gauges().map(|g| g.sockets.to_string()).unwrap_or_else(|| "—".into())}</span>
                </div>
                <table class="ops-card ops-latency">
                    <caption>{move || tr(locale.get(), "Delivery latency (ingest → socket)", "投递延迟（接收 → 推送）")}</caption>
                    <thead><tr><th></th><th scope="col">"p50"</th><th scope="col">"p90"</th><th scope="col">"p99"</th><th scope="col">"n"</th></tr></thead>
                    <tbody>
                        {move || latency_row("1 min", gauges().map(|g| g.latency_1m))}
                        {move || latency_row("5 min", gauges().map(|g| g.latency_5m))}
                    </tbody>
                </table>
                <div class="ops-card ops-alerts">
                    <h2>{move || tr(locale.get(), "Alerts", "告警")}</h2>
                    <ul>
                        {move || {
                            let zh = locale.get() == Locale::Zh;
                            gauges()
                                .map(|g| g.alerts)
                                .unwrap_or_default()
                                .into_iter()
                                .map(|a| {
                                    let label = if zh && !a.label.zh.is_empty() { a.label.zh.clone() } else { a.label.en.clone() };
                                    let state_text = if a.firing { tr(locale.get_untracked(), "firing", "告警中") } else { tr(locale.get_untracked(), "ok", "正常") };
                                    view! {
                                        <li class:ops-firing=a.firing data-alert=a.name.clone()>
                                            <span class="ops-alert-state">{state_text}</span>
                                            <span class="ops-label">{label}</span>
                                            <span class="ops-num">{a.value.unwrap_or_else(|| "—".into())}</span>
                                            <span class="ops-cond">{a.condition}</span>
                                        </li>
                                    }
                                })
                                .collect_view()
                        }}
                    </ul>
                </div>
            </div>
            <div class="ops-charts">
                <Chart title=title("Events accepted by type", "按类型接收的事件") lines=lines(Figure::Events) />
                <Chart title=title("Deliveries to sockets", "推送到连接") lines=lines(Figure::Deliveries) />
                <Chart title=title("Rejections by code", "按错误码的拒收") lines=lines(Figure::Rejections) />
            </div>
            <h2>{move || tr(locale.get(), "Last rejected events", "最近被拒收的事件")}</h2>
            <p class="ops-note">{move || tr(locale.get(), "Payloads are shown as text with secrets and personal fields (email, phone, names, addresses, tokens) redacted by the edge; unsigned bodies are not kept.", "负载以纯文本显示，密钥和个人信息（邮箱、电话、姓名、地址、令牌）已在边缘脱敏；未签名的请求体不保留。")}</p>
            <div class="ops-table-wrap">
                <table class="ops-rejected">
                    <thead>
                        <tr>
                            <th scope="col">{move || tr(locale.get(), "Time (UTC)", "时间（UTC）")}</th>
                            <th scope="col">{move || tr(locale.get(), "Source", "来源")}</th>
                            <th scope="col">{move || tr(locale.get(), "Code", "错误码")}</th>
                            <th scope="col">"ID"</th>
                            <th scope="col">{move || tr(locale.get(), "Path", "路径")}</th>
                            <th scope="col">{move || tr(locale.get(), "Message", "说明")}</th>
                            <th scope="col">{move || tr(locale.get(), "Payload", "负载")}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || state.view.with(|v| v.rejected().to_vec()).into_iter().map(rejected_row).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

/// Mounts the ops page into `parent` and connects it to the edge.
pub fn start(
    parent: web_sys::HtmlElement,
    edge_url: &str,
    token: &str,
    locale: Locale,
) -> OpsState {
    let state = OpsState::new(locale);
    if tidings_core::token::peek_role(token).as_deref() != Some("ops") {
        parent.set_text_content(Some(tr(
            locale,
            "This page is for operators: open it with a token whose role is \"ops\" (locally: /ops?user=ops).",
            "此页面仅供运维人员使用：请使用角色为 \"ops\" 的令牌打开（本地：/ops?user=ops）。",
        )));
        state.status.set(OpsStatus::Offline);
        return state;
    }
    let handle = leptos::mount::mount_to(parent, move || view! { <OpsPage state=state /> });
    handle.forget();
    let url = live_url(edge_url, token);
    leptos::task::spawn_local(run(state, url));
    state
}
