//! The operators' page in headless Chromium: mount `OpsPage`, feed it the
//! frames the edge would send (built by core from real statistics), and
//! assert the charts, alerts and the rejected-events table.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use tidings_core::alerts::{AlertEngine, AlertRules};
use tidings_core::notification::Locale;
use tidings_core::ops::{self, OpsFrame, RejectedEvent};
use tidings_core::stats::Stats;
use tidings_web::ops::{OpsPage, OpsState};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const T0: i64 = 1_795_341_600_000;

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

async fn settle() {
    for _ in 0..3 {
        leptos::task::tick().await;
    }
    gloo_timers::future::TimeoutFuture::new(0).await;
    leptos::task::tick().await;
}

fn texts(root: &web_sys::Element, sel: &str) -> Vec<String> {
    let list = root.query_selector_all(sel).unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i))
        .map(|n| n.text_content().unwrap_or_default())
        .collect()
}

/// The `points` of the first chart line.
fn first_points(root: &web_sys::Element) -> String {
    root.query_selector("polyline.ops-line")
        .unwrap()
        .expect("a chart line")
        .get_attribute("points")
        .unwrap_or_default()
}

fn frames() -> (String, String) {
    let mut stats = Stats::new();
    for i in 0..30 {
        let at = T0 + i * 1000 + 5;
        stats.record_event("order.shipped", at);
        stats.record_event("order.paid", at);
        stats.record_rejection("unknown_type", at);
        stats.record_rejection("unknown_type", at);
        stats.record_deliveries(3, at);
        stats.record_latency(4.0 + i as f64, at);
    }
    let now = T0 + 30 * 1000 + 100;
    let mut alerts = AlertEngine::new(AlertRules::default_rules());
    alerts.evaluate(&stats, T0, now);
    let sample = RejectedEvent {
        at: now - 50,
        source: "events".into(),
        id: Some("evt-x".into()),
        code: "unknown_type".into(),
        path: "events[0].type".into(),
        message: "no rule handles events of type `order.teleported`".into(),
        payload: r#"{"title":"<img src=x onerror=\"window.__opsPwned=1\">","email":"[redacted]"}"#
            .into(),
        seq: 1,
    };
    let gauges = ops::gauges(&stats, alerts.statuses(&stats, T0, now), now);
    let snapshot = ops::snapshot(&stats, gauges, vec![sample], now).encode();
    // One more second of traffic, as a tick.
    stats.record_event("inventory.restocked", now + 200);
    let later = now + 1000;
    let tick = OpsFrame::Tick {
        at: later,
        seconds: ops::seconds_since(&stats, ops::last_complete_second(now), later).unwrap(),
        gauges: ops::gauges(&stats, alerts.statuses(&stats, T0, later), later),
        rejected: vec![],
    }
    .encode();
    (snapshot, tick)
}

#[wasm_bindgen_test]
async fn ops_page_draws_charts_alerts_and_rejections_as_text() {
    let root: web_sys::HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&root).unwrap();
    let state = OpsState::new(Locale::En);
    let handle = leptos::mount::mount_to(root.clone(), move || view! { <OpsPage state=state /> });
    settle().await;
    assert_eq!(
        root.query_selector_all("polyline.ops-line")
            .unwrap()
            .length(),
        0,
        "nothing is drawn before the first frame"
    );

    let (snapshot, tick) = frames();
    state.on_text(&snapshot);
    settle().await;
    let legend = texts(&root, ".ops-legend .ops-label");
    assert_eq!(
        legend,
        ["order.paid", "order.shipped", "deliveries", "unknown_type"]
    );
    assert_eq!(
        root.query_selector_all("polyline.ops-line")
            .unwrap()
            .length(),
        4
    );
    let points = first_points(&root);
    assert_eq!(
        points.split(' ').count(),
        900,
        "one point per second for 15 minutes"
    );

    // 60 of 120 rejected: the rejection-rate alert fires.
    let firing = root
        .query_selector("li.ops-firing")
        .unwrap()
        .expect("a firing alert");
    assert_eq!(
        firing.get_attribute("data-alert").as_deref(),
        Some("rejection-rate")
    );
    assert!(firing.text_content().unwrap().contains("50.0 %"));

    // The payload is text: the markup is visible, nothing executed.
    let payload = texts(&root, ".ops-payload");
    assert_eq!(payload.len(), 1);
    assert!(payload[0].contains("<img src=x onerror="), "{payload:?}");
    assert!(root.query_selector(".ops-rejected img").unwrap().is_none());
    let pwned = js_sys::Reflect::get(&web_sys::window().unwrap(), &"__opsPwned".into()).unwrap();
    assert!(pwned.is_undefined());

    state.on_text(&tick);
    settle().await;
    assert!(texts(&root, ".ops-legend .ops-label").contains(&"inventory.restocked".to_owned()));

    // Per-minute view: 15 points per line.
    let per_minute: web_sys::HtmlElement = root
        .query_selector_all(".ops-res button")
        .unwrap()
        .item(1)
        .unwrap()
        .unchecked_into();
    per_minute.click();
    settle().await;
    let points = first_points(&root);
    assert_eq!(points.split(' ').count(), 15);
    assert_eq!(
        per_minute.get_attribute("aria-pressed").as_deref(),
        Some("true")
    );

    // A garbage frame changes nothing.
    state.on_text("{\"type\":\"tick\"");
    settle().await;
    assert_eq!(texts(&root, ".ops-payload").len(), 1);
    drop(handle);
    root.remove();
}
