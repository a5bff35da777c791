//! Stripe event envelopes (`{"id":"evt_…","object":"event","type":…,
//! "created":…,"data":{"object":{…}}}`): payments, refunds and completed
//! Checkout Sessions.
//!
//! Stripe knows customers, not shoppers: the integration names the Tidings
//! user in `metadata.tidings_user` (on the PaymentIntent, Charge or Checkout
//! Session), else the event goes to `stripe:<customer id>`. Amounts arrive in
//! minor units and are converted with the currency's exponent.

use serde_json::Value;

use super::{
    at, field, id_at, int_at, kind_of, make_id, put_items, reject, text_at, Amount, Cx, Data, Item,
    Platform, MISSING_FIELD, NOT_AN_EVENT, NOT_NOTIFIABLE, NO_RECIPIENT, UNSUPPORTED_TOPIC,
    WRONG_TYPE,
};
use crate::event::Event;
use crate::ingest::Rejection;

/// Decodes one Stripe event.
pub(super) fn decode(body: &Value, cx: &mut Cx<'_>) -> Result<Vec<Event>, Rejection> {
    match text_at(body, "object").as_deref() {
        Some("event") => {}
        Some(other) => {
            return Err(reject(
                NOT_AN_EVENT,
                "body.object",
                format!(
                    "this is a bare Stripe `{other}` object, not an event; point the Stripe webhook endpoint \
                     (Dashboard → Developers → Webhooks) at Tidings so it receives event envelopes"
                ),
            ))
        }
        None if field(body, "type").is_none() || field(body, "data").is_none() => {
            return Err(reject(
                NOT_AN_EVENT,
                "body",
                "this is not a Stripe event envelope (no `object: \"event\"`, `type` or `data`)",
            ))
        }
        None => {}
    }
    let evt = match at(body, "id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(other) => {
            return Err(reject(
                WRONG_TYPE,
                "body.id",
                format!(
                    "`id` must be the event's `evt_…` string, got {}",
                    kind_of(other)
                ),
            ))
        }
        None => return Err(missing("id", "the event id (`evt_…`)")),
    };
    let id = if evt.chars().count() <= 120 {
        evt.clone()
    } else {
        make_id("stripe", &[&evt])
    };
    let kind = text_at(body, "type").ok_or_else(|| missing("type", "the event type"))?;
    let created = int_at(body, "created")
        .ok_or_else(|| missing("created", "the event time in unix seconds"))?;
    let occurred = crate::time::from_unix_seconds(created).unwrap_or(cx.now());
    let object = match at(body, "data.object") {
        Some(o @ Value::Object(_)) => o,
        Some(other) => {
            return Err(reject(
                WRONG_TYPE,
                "body.data.object",
                format!("`data.object` must be an object, got {}", kind_of(other)),
            ))
        }
        None => return Err(missing("data.object", "the object the event is about")),
    };
    let (canonical, data) = match kind.as_str() {
        "payment_intent.succeeded" => ("payment.succeeded", payment(object, false)),
        "payment_intent.payment_failed" => ("payment.failed", payment(object, true)),
        "charge.refunded" => ("order.refunded", refund(object, body)),
        "checkout.session.completed" => ("order.created", checkout(object)?),
        other => {
            return Err(reject(
                UNSUPPORTED_TOPIC,
                "body.type",
                format!(
                    "Stripe event type `{other}` is not mapped to a Tidings event; send payment_intent.succeeded, \
                     payment_intent.payment_failed, charge.refunded or checkout.session.completed"
                ),
            ))
        }
    };
    let user = recipient(object).ok_or_else(|| {
        reject(
            NO_RECIPIENT,
            "body.data.object.metadata.tidings_user",
            format!(
                "{kind} {} names no shopper: set `metadata.tidings_user` when creating it, or attach a Stripe customer",
                id_at(object, "id").unwrap_or_default()
            ),
        )
    })?;
    Ok(vec![Event {
        id,
        kind: canonical.to_owned(),
        occurred_at: occurred,
        user_id: Some(user),
        data: data.done(),
    }])
}

fn missing(path: &str, what: &str) -> Rejection {
    reject(
        MISSING_FIELD,
        format!("body.{path}"),
        format!("`{path}` ({what}) is required in a Stripe event and is missing"),
    )
}

/// `metadata.tidings_user`, else `stripe:<customer>` (a string or an expanded object).
fn recipient(object: &Value) -> Option<String> {
    text_at(object, "metadata.tidings_user").or_else(|| {
        id_at(object, "customer.id")
            .or_else(|| text_at(object, "customer"))
            .map(|c| format!("stripe:{c}"))
    })
}

/// Decimals of a currency's minor unit (Stripe's zero- and three-decimal lists).
fn exponent(currency: &str) -> u32 {
    match currency {
        "bif" | "clp" | "djf" | "gnf" | "jpy" | "kmf" | "krw" | "mga" | "pyg" | "rwf" | "ugx"
        | "vnd" | "vuv" | "xaf" | "xof" | "xpf" => 0,
        "bhd" | "jod" | "kwd" | "omr" | "tnd" => 3,
        _ => 2,
    }
}

/// Money at `path` (minor units) in `object`'s currency, as a decimal string.
fn money(object: &Value, minor: Option<i64>) -> (Option<String>, Option<String>) {
    let currency = text_at(object, "currency").map(|c| c.to_ascii_lowercase());
    let amount = minor
        .map(|m| Amount::from_minor(m, exponent(currency.as_deref().unwrap_or(""))).to_string());
    (amount, currency.map(|c| c.to_ascii_uppercase()))
}

/// The id an order is known by when the store sets no `metadata.order_id`: its PaymentIntent,
/// the one id a Checkout Session, the PaymentIntent itself and a Charge of it (refunded later)
/// all carry, so one order keeps one collapse key, link and number across them; else the
/// object's own id.
fn order_ref(object: &Value) -> Option<String> {
    if text_at(object, "object").as_deref() == Some("payment_intent") {
        return id_at(object, "id");
    }
    id_at(object, "payment_intent").or_else(|| id_at(object, "id"))
}

fn base(object: &Value) -> Data {
    let mut data = Data::new(Platform::Stripe);
    // Stripe knows no order numbers: without `metadata.order_number` the
    // shopper sees a short reference derived from the order's id, so copy
    // such as "Order #4F2A9C1B is confirmed" always renders.
    let order = order_ref(object);
    data.str(
        "order_id",
        text_at(object, "metadata.order_id").or_else(|| order.clone()),
    )
    .str(
        "order_number",
        text_at(object, "metadata.order_number").or_else(|| order.map(|id| short_ref(&id))),
    );
    data
}

/// `#` and the last 8 characters of a Stripe id, upper-cased (`cs_test_…a1b2c3d4` → `#A1B2C3D4`).
fn short_ref(id: &str) -> String {
    let tail: Vec<char> = id.chars().rev().take(8).collect();
    format!(
        "#{}",
        tail.into_iter().rev().collect::<String>().to_uppercase()
    )
}

fn payment(pi: &Value, failed: bool) -> Data {
    let mut data = base(pi);
    let minor = if failed {
        int_at(pi, "amount")
    } else {
        int_at(pi, "amount_received")
            .filter(|a| *a > 0)
            .or_else(|| int_at(pi, "amount"))
    };
    let (amount, currency) = money(pi, minor);
    data.str("payment_id", id_at(pi, "id"))
        .str("amount", amount)
        .str("currency", currency)
        .str("receipt_url", text_at(pi, "charges.data.0.receipt_url"));
    if failed {
        data.str(
            "reason",
            text_at(pi, "last_payment_error.message")
                .or_else(|| text_at(pi, "charges.data.0.failure_message")),
        )
        .str(
            "failure_code",
            text_at(pi, "last_payment_error.decline_code")
                .or_else(|| text_at(pi, "last_payment_error.code")),
        );
    }
    data
}

fn refund(charge: &Value, envelope: &Value) -> Data {
    let mut data = base(charge);
    // This refund's amount: the growth of `amount_refunded`, else the newest refund.
    let total = int_at(charge, "amount_refunded");
    let before = int_at(envelope, "data.previous_attributes.amount_refunded");
    let this = match (total, before) {
        // `b` at least 0, so `t - b` cannot overflow.
        (Some(t), Some(b)) if b >= 0 && t > b => Some(t - b),
        _ => int_at(charge, "refunds.data.0.amount").or(total),
    };
    let (amount, currency) = money(charge, this);
    let refunded = match at(charge, "refunded") {
        Some(Value::Bool(b)) => Some(Value::Bool(*b)),
        _ => None,
    };
    data.str("amount", amount)
        .str("currency", currency)
        .str("refund_id", id_at(charge, "refunds.data.0.id"))
        .str("reason", text_at(charge, "refunds.data.0.reason"))
        .str(
            "payment_id",
            id_at(charge, "payment_intent").or_else(|| id_at(charge, "id")),
        )
        .str("receipt_url", text_at(charge, "receipt_url"));
    if let Some(r) = refunded {
        data.set("fully_refunded", r);
    }
    data
}

fn checkout(session: &Value) -> Result<Data, Rejection> {
    if text_at(session, "mode").as_deref() == Some("setup") {
        return Err(reject(
            NOT_NOTIFIABLE,
            "body.data.object.mode",
            "a setup-mode Checkout Session only saves a payment method; it is not an order",
        ));
    }
    let mut data = base(session);
    // Older API versions list `display_items` and have no `amount_total`.
    let items: Vec<(Item, Option<i64>, Option<String>)> = field(session, "display_items")
        .or_else(|| at(session, "line_items.data"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|i| {
                    let qty = int_at(i, "quantity");
                    let unit = int_at(i, "amount");
                    let cur = text_at(i, "currency");
                    (
                        Item {
                            title: text_at(i, "custom.name")
                                .or_else(|| text_at(i, "description"))
                                .or_else(|| text_at(i, "price.product.name")),
                            quantity: qty,
                            sku: None,
                        },
                        unit.and_then(|u| u.checked_mul(qty.unwrap_or(1))),
                        cur,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let summed = items
        .iter()
        .try_fold(0i64, |acc, (_, line, _)| acc.checked_add((*line)?));
    let minor = int_at(session, "amount_total").or(if items.is_empty() { None } else { summed });
    let currency_holder = match text_at(session, "currency") {
        Some(_) => session.clone(),
        None => serde_json::json!({ "currency": items.iter().find_map(|(_, _, c)| c.clone()) }),
    };
    let (total, currency) = money(&currency_holder, minor);
    // `base` named the order (not `client_reference_id`, which stores often fill with a cart
    // or customer id: shown as the order's number it would differ from its refund's).
    data.str("total", total)
        .str("currency", currency)
        .str("payment_status", text_at(session, "payment_status"))
        .str("payment_id", id_at(session, "payment_intent"));
    let items: Vec<Item> = items.into_iter().map(|(i, _, _)| i).collect();
    put_items(&mut data, &items);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{d, one, run, skipped};
    use super::super::*;
    use crate::testing::test;

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!("../../../../fixtures/stripe/", $name))
        };
    }

    const SUCCEEDED: &[u8] = fixture!("payment_intent.succeeded.stripe-ruby-mock.json");
    const FAILED: &[u8] = fixture!("payment_intent.payment_failed.stripe-ruby-mock.json");
    const REFUNDED: &[u8] = fixture!("charge.refunded.stripe-ruby-mock.json");
    const CHECKOUT: &[u8] = fixture!("checkout.session.completed.odoo_captured.json");
    const CUSTOMER_CREATED: &[u8] =
        fixture!("sdk_dotnet_event_test_signature.customer.created.json");
    const PLAN_EVENT: &[u8] = fixture!("fixtures3.event.json");
    const BARE: &[(&str, &[u8])] = &[
        ("charge", fixture!("fixtures3.charge.object.json")),
        (
            "checkout.session",
            fixture!("fixtures3.checkout.session.object.json"),
        ),
        (
            "payment_intent",
            fixture!("fixtures3.payment_intent.object.json"),
        ),
        ("refund", fixture!("fixtures3.refund.object.json")),
    ];

    fn stripe(body: &[u8]) -> Result<Decoded, Rejection> {
        run(Platform::Stripe, None, None, body, &[])
    }

    /// The fixture with `data.object.metadata.tidings_user` set to `u42`.
    /// `body` with only a shopper in its metadata (no order id or number), as many stores send.
    fn shopper_only(body: &[u8]) -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_slice(body).unwrap();
        v["data"]["object"]["metadata"] = serde_json::json!({"tidings_user": "u42"});
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn without_order_metadata_every_payment_event_still_notifies_under_one_order() {
        let rules = crate::rules::RuleSet::default_rules();
        let mut refunded: serde_json::Value = serde_json::from_slice(REFUNDED).unwrap();
        refunded["data"]["object"]["payment_intent"] = "pi_shared".into();
        let mut failed: serde_json::Value = serde_json::from_slice(FAILED).unwrap();
        failed["data"]["object"]["id"] = "pi_shared".into();
        let mut checkout: serde_json::Value = serde_json::from_slice(CHECKOUT).unwrap();
        checkout["data"]["object"]["payment_intent"] = "pi_shared".into();
        checkout["data"]["object"]["client_reference_id"] = "cart-8812".into();
        let mut orders = Vec::new();
        for body in [
            shopper_only(&serde_json::to_vec(&checkout).unwrap()),
            shopper_only(CHECKOUT),
            shopper_only(SUCCEEDED),
            shopper_only(&serde_json::to_vec(&failed).unwrap()),
            shopper_only(&serde_json::to_vec(&refunded).unwrap()),
        ] {
            let e = one(stripe(&body));
            let applied = rules.apply(&e, 0);
            assert!(
                applied.errors.is_empty(),
                "{}: {:?}",
                e.kind,
                applied.errors
            );
            assert!(
                applied.outcomes.iter().any(|o| o.notification.is_some()),
                "{} notifies",
                e.kind
            );
            orders.push((e.kind.clone(), d(&e, "order_id"), d(&e, "order_number")));
        }
        // The checkout, its failed payment and the refund of a charge of that payment are one
        // order, under one number.
        assert_eq!(orders[3].1, "pi_shared", "{orders:?}");
        for i in [0, 4] {
            assert_eq!(
                (&orders[i].1, &orders[i].2),
                (&orders[3].1, &orders[3].2),
                "{orders:?}"
            );
        }
    }

    fn addressed(body: &[u8]) -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_slice(body).unwrap();
        v["data"]["object"]["metadata"] =
            serde_json::json!({"tidings_user": "u42", "order_id": "o-9"});
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn payment_intent_succeeded_fixture() {
        // The fixture has neither metadata nor customer.
        let r = stripe(SUCCEEDED);
        assert_eq!(skipped(&r), NO_RECIPIENT);
        assert_eq!(
            r.unwrap().skipped.unwrap().path,
            "body.data.object.metadata.tidings_user"
        );
        let e = one(stripe(&addressed(SUCCEEDED)));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("payment.succeeded", Some("u42"))
        );
        assert_eq!(e.id, "evt_000000000000000000000000");
        assert_eq!(e.occurred_at, 1_648_320_033_000);
        assert_eq!(
            (d(&e, "amount"), d(&e, "currency")),
            ("20.00".into(), "USD".into())
        );
        assert_eq!(
            (d(&e, "payment_id"), d(&e, "order_id")),
            ("pi_000000000000000000000000".into(), "o-9".into())
        );
        assert!(d(&e, "receipt_url").starts_with("https://pay.stripe.com/receipts/"));
    }

    #[test]
    fn payment_intent_payment_failed_fixture() {
        assert_eq!(skipped(&stripe(FAILED)), NO_RECIPIENT);
        let e = one(stripe(&addressed(FAILED)));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("payment.failed", Some("u42"))
        );
        assert_eq!(d(&e, "reason"), "Your card was declined.");
        assert_eq!(d(&e, "failure_code"), "generic_decline");
        assert_eq!(d(&e, "amount"), "20.00");
    }

    #[test]
    fn charge_refunded_fixture() {
        assert_eq!(skipped(&stripe(REFUNDED)), NO_RECIPIENT);
        let e = one(stripe(&addressed(REFUNDED)));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("order.refunded", Some("u42"))
        );
        assert_eq!(
            (d(&e, "amount"), d(&e, "currency")),
            ("1.00".into(), "USD".into())
        );
        assert_eq!(
            (d(&e, "refund_id"), d(&e, "fully_refunded")),
            ("re_000000000000000000000000".into(), "true".into())
        );
        assert_eq!(e.occurred_at, 1_648_319_949_000);
    }

    #[test]
    fn a_refund_with_an_absurd_previous_total_does_not_overflow() {
        let mut body: Value = serde_json::from_slice(&addressed(REFUNDED)).unwrap();
        body["data"]["object"]["amount_refunded"] = 1.into();
        body["data"]["previous_attributes"] = serde_json::json!({"amount_refunded": i64::MIN});
        let e = one(stripe(body.to_string().as_bytes()));
        // Not 1 − i64::MIN: the growth is unknown, so the refund object's own amount is used.
        assert_eq!(d(&e, "amount"), "1.00");
    }

    #[test]
    fn checkout_session_completed_fixture() {
        let e = one(stripe(CHECKOUT));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("order.created", Some("stripe:cus_HP3xLqXMIwBfTg"))
        );
        assert_eq!(e.id, "evt_1GqFpHAlCFm536g8NYSLoccF");
        assert_eq!(e.occurred_at, 1_591_264_651_000);
        // 2 × 15.00 from display_items (API 2019-05-16 has no amount_total).
        assert_eq!(
            (d(&e, "total"), d(&e, "currency")),
            ("30.00".into(), "USD".into())
        );
        assert_eq!(
            (d(&e, "first_item"), d(&e, "item_count")),
            ("t-shirt".into(), "2".into())
        );
        // Without metadata the order is known by its PaymentIntent (as its refund will be).
        assert_eq!(d(&e, "order_id"), "pi_1GqFpCAlCFm536g8HsBSvSEt");
        assert_eq!(d(&e, "order_number"), "#HSBSVSET");
        // metadata.tidings_user wins over the customer.
        assert_eq!(
            one(stripe(&addressed(CHECKOUT))).user_id.as_deref(),
            Some("u42")
        );
    }

    #[test]
    fn customer_created_fixture_is_unsupported() {
        let r = stripe(CUSTOMER_CREATED).unwrap_err();
        assert_eq!(
            (r.code.as_str(), r.path.as_str()),
            (UNSUPPORTED_TOPIC, "body.type")
        );
        assert!(r.message.contains("customer.created"), "{}", r.message);
    }

    #[test]
    fn fixtures3_event_plan_created_is_unsupported() {
        assert_eq!(stripe(PLAN_EVENT).unwrap_err().code, UNSUPPORTED_TOPIC);
    }

    #[test]
    fn fixtures3_bare_objects_are_not_events() {
        for (object, body) in BARE {
            let r = stripe(body).unwrap_err();
            assert_eq!(
                (r.code.as_str(), r.path.as_str()),
                (NOT_AN_EVENT, "body.object"),
                "{object}"
            );
            assert!(r.message.contains(&format!("`{object}`")), "{}", r.message);
        }
    }

    #[test]
    fn the_bare_payment_intent_wrapped_in_an_envelope_decodes() {
        let object: serde_json::Value = serde_json::from_slice(BARE[2].1).unwrap();
        let envelope = serde_json::json!({"id":"evt_1","object":"event","type":"payment_intent.payment_failed",
            "created":1,"data":{"object":object}});
        // No customer and no metadata.tidings_user.
        assert_eq!(
            skipped(&stripe(&serde_json::to_vec(&envelope).unwrap())),
            NO_RECIPIENT
        );
    }

    #[test]
    fn converts_minor_units_by_currency() {
        let body = br#"{"id":"evt_j","object":"event","type":"payment_intent.succeeded","created":1,
            "data":{"object":{"id":"pi_1","amount":1500,"amount_received":1500,"currency":"jpy","customer":{"id":"cus_9"}}}}"#;
        let e = one(stripe(body));
        assert_eq!(
            (d(&e, "amount"), d(&e, "currency")),
            ("1500".into(), "JPY".into())
        );
        assert_eq!(e.user_id.as_deref(), Some("stripe:cus_9"));
    }

    #[test]
    fn rejects_broken_envelopes() {
        let r = stripe(br#"{"object":"event","type":"payment_intent.succeeded","created":1,"data":{"object":{}}}"#).unwrap_err();
        assert_eq!(
            (r.code.as_str(), r.path.as_str()),
            (MISSING_FIELD, "body.id")
        );
        let r = stripe(br#"{"id":"evt","object":"event","type":"payment_intent.succeeded","data":{"object":{}}}"#).unwrap_err();
        assert_eq!(r.path, "body.created");
        let r = stripe(br#"{"id":"evt","object":"event","type":"charge.refunded","created":1,"data":{"object":[]}}"#).unwrap_err();
        assert_eq!(
            (r.code.as_str(), r.path.as_str()),
            (WRONG_TYPE, "body.data.object")
        );
        let r = stripe(br#"{"hello":"world"}"#).unwrap_err();
        assert_eq!(r.code, NOT_AN_EVENT);
        let r = stripe(br#"{"id":"evt","object":"event","type":"checkout.session.completed","created":1,"data":{"object":{"mode":"setup","customer":"cus_1"}}}"#);
        assert_eq!(skipped(&r), NOT_NOTIFIABLE);
    }
}
