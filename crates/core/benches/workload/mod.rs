//! Workloads shared by the native criterion benches (`benches/*.rs`) and the
//! wasm measurement (`tests/wasm_bench.rs`), so both sides time the same work.
//! Deterministic: a fixed seed, a fixed `now`, no clock.
#![allow(dead_code)]

use tidings_core::inbox::{Inbox, Query, Sort};
use tidings_core::ingest::{decode_batch, Limits};
use tidings_core::notification::Category;
use tidings_core::prefs::Preferences;
use tidings_core::route::{Outcome as Routed, Router};
use tidings_core::rules::RuleSet;

/// 2026-11-22T10:00:00Z, the `now` of every workload.
pub const NOW: i64 = 1_795_341_600_000;

/// Tiny deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One event of the mix as JSON text. `i` makes ids (and order ids) unique.
fn event_json(i: usize, rng: &mut Rng) -> String {
    let user = rng.below(2000);
    let order = 100_000 + i;
    let sku = rng.below(300);
    let secs = rng.below(86_400 * 30);
    // 2026-10-23T10:00:00Z + secs, written as RFC 3339 half of the time and
    // as unix seconds otherwise (both are accepted by the format).
    let at_unix = 1_792_749_600 + secs as i64;
    let at = if i.is_multiple_of(2) {
        let (d, rem) = (secs / 86_400, secs % 86_400);
        let (day, month) = if d < 9 { (23 + d, 10) } else { (d - 8, 11) };
        format!(
            "\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z\"",
            2026,
            month,
            day,
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    } else {
        at_unix.to_string()
    };
    let (kind, data) = match rng.below(20) {
        0..=3 => (
            "order.created",
            format!(
                r##"{{"order_id":"{order}","order_number":"#{order}","total":"{}.90","currency":"EUR","cart_id":"cart-{user}"}}"##,
                10 + rng.below(400)
            ),
        ),
        4 | 5 => (
            "order.paid",
            format!(r##"{{"order_id":"{order}","order_number":"#{order}"}}"##),
        ),
        6..=8 => (
            "order.shipped",
            format!(
                r##"{{"order_id":"{order}","order_number":"#{order}","carrier":"DHL","tracking_number":"JD{:010}"}}"##,
                rng.next() % 10_000_000_000
            ),
        ),
        9 | 10 => (
            "order.delivered",
            format!(r##"{{"order_id":"{order}","order_number":"#{order}"}}"##),
        ),
        11 => (
            "order.refunded",
            format!(
                r##"{{"order_id":"{order}","order_number":"#{order}","amount":"19.90","currency":"EUR"}}"##
            ),
        ),
        12 => (
            "payment.succeeded",
            format!(
                r##"{{"order_id":"{order}","order_number":"#{order}","amount":"{}.00","currency":"EUR"}}"##,
                5 + rng.below(300)
            ),
        ),
        13 => (
            "payment.failed",
            format!(
                r##"{{"order_id":"{order}","order_number":"#{order}","amount":"42.00","currency":"EUR","message":"card declined"}}"##
            ),
        ),
        14 => (
            "inventory.restocked",
            format!(
                r#"{{"sku":"sku-{sku}","product_id":"p{sku}","product_title":"Merino sweater {sku}"}}"#
            ),
        ),
        15 => (
            "product.price_dropped",
            format!(
                r#"{{"product_id":"p{sku}","product_title":"Trail shoe {sku}","old_price":"89.00","new_price":"69.00","currency":"EUR"}}"#
            ),
        ),
        16 => (
            "cart.abandoned",
            format!(r#"{{"cart_id":"cart-{user}","total":"54.00","currency":"EUR"}}"#),
        ),
        17 => (
            "security.new_login",
            r#"{"device":"Firefox on Linux","city":"Berlin"}"#.to_owned(),
        ),
        18 => (
            "promo.announced",
            r#"{"message":"Winter sale: 20% off everything","code":"WINTER20"}"#.to_owned(),
        ),
        _ => ("account.password_changed", "{}".to_owned()),
    };
    format!(
        r#"{{"id":"evt-{i}","type":"{kind}","occurred_at":{at},"user_id":"u{user}","data":{data}}}"#
    )
}

/// A batch body in Tidings' own format with `n` mixed events (n ≤ 500 for the default limits).
pub fn batch(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    let events: Vec<String> = (0..n).map(|i| event_json(i, &mut rng)).collect();
    format!(r#"{{"events":[{}]}}"#, events.join(",")).into_bytes()
}

/// Counts of what the pipeline did, returned so the optimiser keeps the work.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Events decoded without rejection.
    pub events: usize,
    /// Rule outcomes.
    pub outcomes: usize,
    /// Router outcomes that deliver now.
    pub delivered: usize,
}

/// The ingest hot path: decode the batch, apply the rules to each event, and
/// route each outcome (one router for the batch, default preferences).
pub fn pipeline(body: &[u8], rules: &RuleSet, limits: &Limits) -> Tally {
    let mut tally = Tally::default();
    let prefs = Preferences::default();
    let mut router = Router::default();
    let items = decode_batch(body, limits).expect("the batch is valid");
    for event in items.iter().flatten() {
        tally.events += 1;
        let applied = rules.apply(event, NOW);
        for outcome in applied.outcomes {
            tally.outcomes += 1;
            if let Some(sub) = outcome.into_submission() {
                if let Routed::Deliver { .. } = router.submit(sub, &prefs, NOW) {
                    tally.delivered += 1;
                }
            }
        }
    }
    tally
}

/// An inbox of `n` notifications rendered by the default rules from the
/// event mix (unique order ids, so few collapse), with seqs in order and a
/// third of them read.
pub fn inbox(n: usize) -> Inbox {
    let rules = RuleSet::default_rules();
    let limits = Limits::default();
    let mut inbox = Inbox::new();
    let mut seq = 0u64;
    let mut chunk = 0u64;
    while inbox.len() < n {
        let body = batch(500, 0x9E37_79B9 + chunk);
        chunk += 1;
        for event in decode_batch(&body, &limits).unwrap().into_iter().flatten() {
            let mut event = event;
            // Unique across chunks.
            event.id = format!("{}-{chunk}", event.id);
            let mut data = event.data.to_value();
            if let Some(serde_json::Value::String(o)) = data.get_mut("order_id") {
                *o = format!("{o}-{chunk}");
            }
            event.data = data.into();
            for outcome in rules.apply(&event, NOW).outcomes {
                if let Some(mut note) = outcome.notification {
                    if inbox.len() >= n {
                        break;
                    }
                    seq += 1;
                    note.seq = seq;
                    note.expires_at = None;
                    if seq.is_multiple_of(3) {
                        note.state = tidings_core::notification::ReadState::Read;
                    }
                    inbox.upsert(note);
                }
            }
        }
    }
    inbox
}

/// The representative queries, by name: a category tab, an English and a
/// Chinese search, priority order, and page 2 of the default view.
pub fn queries(inbox: &Inbox) -> Vec<(&'static str, Query)> {
    let page1 = inbox.query(&Query::default(), NOW);
    let cursor = page1.next.clone().expect("more than one page");
    vec![
        (
            "category_order",
            Query {
                categories: vec![Category::Order],
                ..Query::default()
            },
        ),
        (
            "search_en",
            Query {
                text: Some("shipped".into()),
                ..Query::default()
            },
        ),
        (
            "search_zh",
            Query {
                text: Some("发货".into()),
                ..Query::default()
            },
        ),
        (
            "sort_priority",
            Query {
                sort: Sort::Priority,
                ..Query::default()
            },
        ),
        (
            "page2_cursor",
            Query {
                cursor: Some(cursor),
                ..Query::default()
            },
        ),
    ]
}
