//! `tidings-sim simulate`: a small store with a few shoppers, in real time.
//!
//! The whole story is a seeded timeline: journeys (cart → order → payment →
//! shipping → delivery, with the odd failure, cancellation or refund) start
//! at random moments for random shoppers, and store-wide events (stock
//! selling out and coming back, price drops, promotions) run alongside.
//! Every event is planned from the PRNG alone, so a seed always tells the
//! same story; only `occurred_at` and the id prefix (`--run-id`, by default
//! taken from the start time so a rerun is not de-duplicated) depend on when
//! it runs. Event `data` uses the canonical field names of
//! `tidings_core::webhooks` and every field the default rules read.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, now_ms, verdict_line, Edge, Res, Rng};

/// `simulate` flags.
pub struct Options {
    edge: String,
    rate: f64,
    users: Vec<String>,
    duration: Option<Duration>,
    seed: u64,
    run_id: Option<String>,
    dev_vars: Option<PathBuf>,
}

impl Options {
    /// Parses the flags after `simulate`.
    pub fn parse(args: &[String]) -> Res<Options> {
        let mut o = Options {
            edge: "http://127.0.0.1:8787".into(),
            rate: 1.0,
            users: vec!["alice".into(), "bob".into(), "carol".into()],
            duration: None,
            seed: 42,
            run_id: None,
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
                "--rate" => o.rate = common::parse_rate(flag, &value()?)?,
                "--users" => {
                    o.users = value()?
                        .split(',')
                        .map(str::trim)
                        .filter(|u| !u.is_empty())
                        .map(String::from)
                        .collect();
                    if o.users.is_empty() {
                        return Err("--users needs at least one user id, e.g. alice,bob".into());
                    }
                }
                "--duration" => {
                    o.duration = Some(Duration::from_secs(common::parse_num(flag, &value()?)?))
                }
                "--seed" => o.seed = common::parse_num(flag, &value()?)?,
                "--run-id" => o.run_id = Some(value()?),
                "--dev-vars" => o.dev_vars = Some(value()?.into()),
                other => {
                    return Err(format!(
                        "unknown option `{other}` for simulate; see `tidings-sim --help`"
                    ))
                }
            }
        }
        Ok(o)
    }
}

/// A product of the demo storefront (`www/index.html`).
struct Product {
    sku: &'static str,
    title: &'static str,
    price_cents: u64,
}

const CATALOG: &[Product] = &[
    Product {
        sku: "sku-lantern",
        title: "Storm lantern",
        price_cents: 3900,
    },
    Product {
        sku: "sku-blanket",
        title: "Wool throw",
        price_cents: 8900,
    },
    Product {
        sku: "sku-mug",
        title: "Enamel mug",
        price_cents: 1400,
    },
];

const CARRIERS: &[&str] = &["UPS", "DHL", "FedEx", "USPS"];
const PROMOS: &[&str] = &[
    "Autumn sale: 20% off everything cosy until Sunday.",
    "Free shipping on orders over $50 this weekend.",
    "Buy two enamel mugs, get the third free.",
    "Members get early access to the winter collection tomorrow.",
];
const CANCEL_REASONS: &[&str] = &["customer", "inventory", "declined"];
const FAILURE_REASONS: &[(&str, &str)] = &[
    ("card_declined", "Your card was declined."),
    ("insufficient_funds", "Your card has insufficient funds."),
    ("expired_card", "Your card has expired."),
];

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// One planned send: when (ms after start), for whom, what.
struct Planned {
    user: Option<String>,
    kind: &'static str,
    data: Value,
    /// Shown in the log line (order number, SKU, …).
    what: String,
}

/// Something that happens at a time: an event to send, a note to print, or
/// the start of something that plans more.
enum Action {
    Send(Planned),
    Note(String),
    NewJourney,
    StockCycle(usize),
    PriceDrop,
    Promo,
}

/// The seeded timeline.
struct Store {
    rng: Rng,
    users: Vec<String>,
    run: String,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    actions: Vec<Option<Action>>,
    seq: u64,
    orders: u64,
    /// Mean seconds between journeys.
    journey_every_s: f64,
    /// Current price of each catalog product (they drop and recover).
    prices: Vec<u64>,
}

/// Events a journey sends on average, for turning `--rate` into journey starts.
const EVENTS_PER_JOURNEY: f64 = 5.5;

impl Store {
    fn new(seed: u64, users: Vec<String>, run: String, rate: f64) -> Store {
        let mut s = Store {
            rng: Rng::new(seed),
            users,
            run,
            queue: BinaryHeap::new(),
            actions: Vec::new(),
            seq: 0,
            orders: 0,
            // Store-wide events add roughly 0.08 events/s; journeys make up the rest.
            journey_every_s: EVENTS_PER_JOURNEY / (rate - 0.08).max(rate * 0.5),
            prices: CATALOG.iter().map(|p| p.price_cents).collect(),
        };
        s.at(500, Action::NewJourney);
        // A few shoppers are already mid-checkout, so a demo is busy from the start.
        let mut t = 0;
        for _ in 1..s.users.len().min(4) {
            t += s.rng.secs(0.8, 2.5);
            s.journey(t);
        }
        for i in 0..CATALOG.len() {
            let first = s.rng.secs(8.0, 40.0);
            s.at(first, Action::StockCycle(i));
        }
        let first = s.rng.secs(10.0, 30.0);
        s.at(first, Action::PriceDrop);
        let first = s.rng.secs(15.0, 45.0);
        s.at(first, Action::Promo);
        s
    }

    fn at(&mut self, t: u64, action: Action) {
        self.seq += 1;
        self.actions.push(Some(action));
        self.queue
            .push(Reverse((t, self.seq, self.actions.len() - 1)));
    }

    fn send(&mut self, t: u64, user: Option<&str>, kind: &'static str, what: String, data: Value) {
        self.at(
            t,
            Action::Send(Planned {
                user: user.map(String::from),
                kind,
                data,
                what,
            }),
        );
    }

    /// The next action and its time; plans follow-ups as a side effect.
    fn next(&mut self) -> (u64, Action) {
        loop {
            let Reverse((t, _, idx)) = self
                .queue
                .pop()
                .expect("the store always has something planned");
            let action = self.actions[idx].take().expect("each action runs once");
            match action {
                Action::NewJourney => {
                    self.journey(t);
                    let gap = self.rng.exp_ms(self.journey_every_s).max(200);
                    self.at(t + gap, Action::NewJourney);
                }
                Action::StockCycle(i) => {
                    let p = &CATALOG[i];
                    self.at(t, Action::Note(format!("{} ({}) sold out", p.title, p.sku)));
                    let back = t + self.rng.secs(10.0, 30.0);
                    let available = self.rng.range(5, 60);
                    let data = json!({
                        "sku": p.sku, "product_id": p.sku, "product_title": p.title,
                        "available": available, "previous_available": 0,
                        "url": format!("/products/{}", p.sku),
                    });
                    self.send(
                        back,
                        None,
                        "inventory.restocked",
                        format!("{} +{available}", p.sku),
                        data,
                    );
                    let next = back + self.rng.secs(40.0, 90.0);
                    self.at(next, Action::StockCycle(i));
                }
                Action::PriceDrop => {
                    // The previous sale has ended quietly (a rise is not news).
                    self.prices = CATALOG.iter().map(|p| p.price_cents).collect();
                    let i = (self.rng.next_u64() % CATALOG.len() as u64) as usize;
                    let p = &CATALOG[i];
                    let old = self.prices[i];
                    let pct = self.rng.range(10, 30);
                    // Just under a whole amount: 39.00 → 31.99.
                    let new = (old * (100 - pct) / 10_000).max(1) * 100 - 1;
                    self.prices[i] = new;
                    let data = json!({
                        "product_id": p.sku, "sku": p.sku, "product_title": p.title,
                        "old_price": money(old), "new_price": money(new), "currency": "USD",
                        "url": format!("/products/{}", p.sku),
                    });
                    self.send(
                        t,
                        None,
                        "product.price_dropped",
                        format!("{} {} → {}", p.sku, money(old), money(new)),
                        data,
                    );
                    let next = t + self.rng.secs(40.0, 100.0);
                    self.at(next, Action::PriceDrop);
                }
                Action::Promo => {
                    let message = *self.rng.pick(PROMOS);
                    let n = self.seq;
                    let data = json!({ "message": message, "promo_id": format!("promo-{}-{n}", self.run) });
                    self.send(t, None, "promo.announced", "segment:all".into(), data);
                    let next = t + self.rng.secs(60.0, 150.0);
                    self.at(next, Action::Promo);
                }
                other => return (t, other),
            }
        }
    }

    /// Plans one shopper's journey starting at `t`.
    fn journey(&mut self, mut t: u64) {
        let user = self.rng.pick(&self.users).clone();
        self.orders += 1;
        let n = self.orders;
        let order_id = format!("{}-{n}", self.run);
        let number = format!("#{}", 1000 + n);
        let cart_id = format!("cart-{}-{n}", self.run);
        let mut items = Vec::new();
        let mut total = 0;
        for _ in 0..self.rng.range(1, 3) {
            let i = (self.rng.next_u64() % CATALOG.len() as u64) as usize;
            let qty = self.rng.range(1, 2);
            total += self.prices[i] * qty;
            items
                .push(json!({ "title": CATALOG[i].title, "quantity": qty, "sku": CATALOG[i].sku }));
        }
        let total_s = money(total);
        let first_item = items[0]["title"].clone();
        let order = json!({
            "order_id": order_id, "order_number": number, "total": total_s, "currency": "USD",
            "item_count": items.len(), "first_item": first_item, "items": items,
            "cart_id": cart_id, "url": format!("/orders/{order_id}"),
        });
        let with = |extra: Value| {
            let mut d = order.clone();
            if let (Value::Object(d), Value::Object(e)) = (&mut d, extra) {
                d.extend(e);
            }
            d
        };
        let u = Some(user.as_str());
        // A third of journeys start with a cart left behind; the reminder is
        // held for an hour, and the order that follows cancels it.
        if self.rng.chance(0.35) {
            self.send(
                t,
                u,
                "cart.abandoned",
                cart_id.clone(),
                json!({ "cart_id": cart_id, "total": total_s, "currency": "USD" }),
            );
            if self.rng.chance(0.15) {
                return; // never comes back: the reminder arrives in an hour
            }
            t += self.rng.secs(4.0, 9.0);
        }
        self.send(
            t,
            u,
            "order.created",
            format!("{number} {total_s} USD"),
            with(json!({ "payment_status": "pending" })),
        );
        t += self.rng.secs(2.0, 5.0);
        if self.rng.chance(0.12) {
            let (code, reason) = *self.rng.pick(FAILURE_REASONS);
            let pay = json!({ "payment_id": format!("pi_{}_{n}", self.run), "amount": total_s, "reason": reason, "failure_code": code });
            self.send(
                t,
                u,
                "payment.failed",
                format!("{number} {code}"),
                with(pay),
            );
            t += self.rng.secs(5.0, 10.0);
            if self.rng.chance(0.4) {
                self.send(
                    t,
                    u,
                    "order.cancelled",
                    format!("{number} unpaid"),
                    with(json!({ "reason": "declined" })),
                );
                return;
            }
        }
        self.send(t, u, "order.paid", number.clone(), order.clone());
        if self.rng.chance(0.3) {
            let pay = json!({ "payment_id": format!("pi_{}_{n}", self.run), "amount": total_s, "currency": "USD",
                              "order_id": order_id, "order_number": number });
            self.send(
                t + 300,
                u,
                "payment.succeeded",
                format!("{number} {total_s} USD"),
                pay,
            );
        }
        t += self.rng.secs(4.0, 10.0);
        if self.rng.chance(0.06) {
            let reason = *self.rng.pick(CANCEL_REASONS);
            self.send(
                t,
                u,
                "order.cancelled",
                format!("{number} {reason}"),
                with(json!({ "reason": reason })),
            );
            t += self.rng.secs(2.0, 5.0);
            let refund = json!({ "order_id": order_id, "order_number": number, "amount": total_s, "currency": "USD",
                                 "reason": "order cancelled", "refund_id": format!("re_{}_{n}", self.run), "fully_refunded": true });
            self.send(
                t,
                u,
                "order.refunded",
                format!("{number} {total_s} USD"),
                refund,
            );
            return;
        }
        let carrier = *self.rng.pick(CARRIERS);
        let tracking = format!("1Z{:010}", self.rng.next_u64() % 10_000_000_000);
        let track = |status: &str| {
            json!({ "order_id": order_id, "order_number": number, "carrier": carrier, "tracking_number": tracking,
                    "tracking_url": format!("https://track.example/{tracking}"), "shipment_status": status,
                    "items": order["items"], "item_count": order["item_count"], "first_item": order["first_item"] })
        };
        self.send(
            t,
            u,
            "order.shipped",
            format!("{number} {carrier} {tracking}"),
            track("confirmed"),
        );
        t += self.rng.secs(5.0, 10.0);
        self.send(
            t,
            u,
            "order.in_transit",
            format!("{number} {carrier}"),
            track("in_transit"),
        );
        t += self.rng.secs(5.0, 12.0);
        self.send(t, u, "order.delivered", number.clone(), track("delivered"));
        if self.rng.chance(0.1) {
            t += self.rng.secs(5.0, 10.0);
            let item = self.rng.pick(CATALOG);
            let refund = json!({ "order_id": order_id, "order_number": number, "amount": money(item.price_cents), "currency": "USD",
                                 "reason": "damaged in transit", "refund_id": format!("re_{}_{n}", self.run), "fully_refunded": false });
            self.send(
                t,
                u,
                "order.refunded",
                format!("{number} {} USD", money(item.price_cents)),
                refund,
            );
        }
    }
}

/// Runs the simulation until `--duration` or Ctrl-C.
pub async fn run(o: Options) -> Res {
    let edge = Edge::new(&o.edge, o.dev_vars.as_deref())?;
    edge.wait_healthy(Duration::from_secs(60)).await?;
    let run = o
        .run_id
        .clone()
        .unwrap_or_else(|| format!("s{}", radix36(now_ms() / 1000)));
    println!(
        "tidings-sim: simulating a store for {} on {} (seed {}, ~{} events/s, run {run}); Ctrl-C stops",
        o.users.join(", "),
        o.edge,
        o.seed,
        o.rate
    );
    let mut store = Store::new(o.seed, o.users.clone(), run.clone(), o.rate);
    let start = tokio::time::Instant::now();
    let stop = common::shutdown_signal();
    tokio::pin!(stop);
    let (mut sent, mut accepted, mut problems, mut n) = (0u64, 0u64, 0u64, 0u64);
    loop {
        let (t, action) = store.next();
        if o.duration.is_some_and(|d| t > d.as_millis() as u64) {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(start + Duration::from_millis(t)) => {}
            _ = &mut stop => break,
        }
        let stamp = format!("[{:>6.1}s]", t as f64 / 1000.0);
        let planned = match action {
            Action::Note(text) => {
                println!("{stamp} {:<8} {:<22} {text}", "store", "(no event)");
                continue;
            }
            Action::Send(p) => p,
            _ => unreachable!("Store::next only returns sends and notes"),
        };
        n += 1;
        let mut event = json!({
            "id": format!("sim-{run}-{n}"),
            "type": planned.kind,
            "occurred_at": now_ms() / 1000,
            "data": planned.data,
        });
        if let Some(user) = &planned.user {
            event["user_id"] = json!(user);
        }
        let verdict = tokio::select! {
            r = edge.post(std::slice::from_ref(&event)) => r,
            _ = &mut stop => break,
        };
        sent += 1;
        let verdict = match verdict {
            Ok(p) if p.status == 202 => {
                let v = p.results.first().cloned().unwrap_or(Value::Null);
                if v.get("status").and_then(Value::as_str) == Some("accepted") {
                    accepted += 1;
                } else {
                    problems += 1;
                }
                verdict_line(&v)
            }
            Ok(p) => {
                problems += 1;
                format!("HTTP {}: {}", p.status, p.body)
            }
            Err(e) => {
                problems += 1;
                e
            }
        };
        let who = planned.user.as_deref().unwrap_or("(topic)");
        println!(
            "{stamp} {who:<8} {:<22} {:<34} → {verdict}",
            planned.kind, planned.what
        );
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "tidings-sim: stopped after {secs:.1} s: {sent} events sent ({:.2}/s), {accepted} accepted, {problems} not accepted",
        sent as f64 / secs.max(0.001)
    );
    Ok(())
}

fn radix36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn story(seed: u64) -> Vec<String> {
        let mut s = Store::new(seed, vec!["alice".into(), "bob".into()], "r".into(), 1.0);
        (0..200)
            .map(|_| match s.next() {
                (t, Action::Send(p)) => format!("{t} {:?} {} {}", p.user, p.kind, p.data),
                (t, Action::Note(n)) => format!("{t} note {n}"),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn same_seed_same_story() {
        assert_eq!(story(7), story(7));
        assert_ne!(story(7), story(8));
    }

    #[test]
    fn a_cart_reminder_is_followed_by_an_order_with_the_same_cart() {
        let lines = story(3);
        let cart = lines
            .iter()
            .find(|l| l.contains("cart.abandoned"))
            .expect("a cart");
        let id = cart
            .split("\"cart_id\":\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("order.created") && l.contains(id)),
            "no order for {id}"
        );
    }

    /// A long story, sent through core exactly as the edge would take it: every event is
    /// accepted and notifies someone under the default rules, every kind the store promises
    /// happens, and each order moves forward (created → paid → shipped → in transit → delivered,
    /// or refunded / cancelled), never back.
    #[test]
    fn the_story_is_accepted_by_the_default_rules_and_orders_move_forward() {
        use std::collections::{BTreeSet, HashMap};
        use tidings_core::ingest::{decode_batch, Limits};
        use tidings_core::rules::RuleSet;
        let mut store = Store::new(11, vec!["alice".into(), "bob".into()], "t".into(), 5.0);
        let rules = RuleSet::default_rules();
        let mut kinds = BTreeSet::new();
        let mut stage: HashMap<String, u8> = HashMap::new();
        let rank = |kind: &str| match kind {
            "order.created" => Some(0),
            "order.paid" | "payment.succeeded" | "payment.failed" => Some(1),
            "order.shipped" => Some(2),
            "order.in_transit" => Some(3),
            "order.delivered" => Some(4),
            "order.refunded" | "order.cancelled" => Some(5),
            _ => None,
        };
        let mut last_t = 0;
        for n in 0..3000 {
            let (t, action) = store.next();
            assert!(t >= last_t, "time never goes back");
            last_t = t;
            let Action::Send(p) = action else { continue };
            kinds.insert(p.kind);
            let mut event = json!({"id": format!("e{n}"), "type": p.kind,
                                   "occurred_at": 1_790_000_000 + t / 1000, "data": p.data});
            if let Some(user) = &p.user {
                event["user_id"] = json!(user);
            }
            let body = serde_json::to_vec(&json!({ "events": [event] })).unwrap();
            let decoded = decode_batch(&body, &Limits::default()).expect("a valid batch");
            let event = match decoded.into_iter().next() {
                Some(Ok(e)) => e,
                other => panic!("{} was not accepted: {other:?}", p.kind),
            };
            let applied = rules.apply(&event, 1_790_000_000_000 + t as i64);
            assert!(
                applied.errors.is_empty(),
                "{}: {:?}",
                p.kind,
                applied.errors
            );
            assert!(!applied.outcomes.is_empty(), "{} matched no rule", p.kind);
            let order = event.data.get("order_id").and_then(|v| v.as_str());
            if let (Some(r), Some(order)) = (rank(p.kind), order) {
                let before = stage.insert(order.to_string(), r).unwrap_or(0);
                assert!(
                    r >= before,
                    "order {order} went from stage {before} back to {r} ({})",
                    p.kind
                );
            }
        }
        assert!(
            stage.len() >= 20,
            "only {} orders in the story",
            stage.len()
        );
        for kind in [
            "order.created",
            "order.paid",
            "payment.succeeded",
            "payment.failed",
            "order.shipped",
            "order.in_transit",
            "order.delivered",
            "order.refunded",
            "order.cancelled",
            "cart.abandoned",
            "inventory.restocked",
            "product.price_dropped",
            "promo.announced",
        ] {
            assert!(
                kinds.contains(kind),
                "the story never has {kind}: {kinds:?}"
            );
        }
    }
}
