//! WooCommerce webhooks: the topic comes from `X-WC-Webhook-Topic`, the body
//! is the REST resource (`wp_api_v1..v3`) or, for `legacy_v3` webhooks, the
//! resource wrapped as `{"order": {…}}` / `{"product": {…}}`.
//!
//! WooCommerce fires `order.updated` for every save, so the status change is
//! found by comparing with the status remembered from the previous delivery;
//! refunds arrive the same way (the topic is also hooked to
//! `woocommerce_order_refunded`) and are found by a grown `refunds[]` total.

use serde_json::Value;

use super::{
    display_number, field, id_at, int_at, make_id, put_items, reject, require_id, suffixed,
    text_at, time_at, Amount, Cx, Data, Item, Platform, MISSING_FIELD, NOT_AN_EVENT,
    NOT_NOTIFIABLE, NO_RECIPIENT, UNSUPPORTED_TOPIC,
};
use crate::event::Event;
use crate::ingest::Rejection;
use crate::time::Millis;

/// Decodes one WooCommerce delivery.
pub(super) fn decode(
    topic: &str,
    delivery: Option<&str>,
    body: &Value,
    cx: &mut Cx<'_>,
) -> Result<Vec<Event>, Rejection> {
    let d = Delivery { topic, delivery };
    match topic {
        "order.created" => order(&d, true, body, cx),
        "order.updated" => order(&d, false, body, cx),
        "product.updated" => product(&d, body, cx),
        t if t.starts_with("action.") => Err(reject(
            UNSUPPORTED_TOPIC,
            "header.X-WC-Webhook-Topic",
            format!(
                "WooCommerce action topic `{}` carries only a hook name and an opaque argument, no shopper or order, \
                 so Tidings cannot map it; use order.created, order.updated or product.updated",
                super::clean(t)
            ),
        )),
        other => Err(reject(
            UNSUPPORTED_TOPIC,
            "header.X-WC-Webhook-Topic",
            format!(
                "WooCommerce topic `{}` is not mapped to a Tidings event; use order.created, order.updated or product.updated",
                super::clean(other)
            ),
        )),
    }
}

struct Delivery<'a> {
    topic: &'a str,
    delivery: Option<&'a str>,
}

impl Delivery<'_> {
    /// `woocommerce:<delivery id>`, else `woocommerce:<topic>:<id>:<modified>`.
    fn id(&self, resource: &str, modified: &str) -> String {
        match self.delivery {
            Some(d) => make_id("woocommerce", &[d]),
            None => make_id("woocommerce", &[self.topic, resource, modified]),
        }
    }
}

/// The resource and its JSON path, unwrapping a legacy `{"<key>": {…}}` body.
fn unwrap<'v>(body: &'v Value, key: &str) -> (&'v Value, String) {
    match field(body, key) {
        Some(inner @ Value::Object(_)) if field(body, "id").is_none() => {
            (inner, format!("body.{key}"))
        }
        _ => (body, "body".to_owned()),
    }
}

/// Decodes the few HTML entities WooCommerce puts in names (`&ndash;`, `&#36;`).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let decoded = rest[1..]
            .find(';')
            .filter(|end| *end <= 10)
            .and_then(|end| {
                let name = rest.get(1..1 + end)?;
                let c = match name {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    "nbsp" => ' ',
                    "ndash" => '\u{2013}',
                    "mdash" => '\u{2014}',
                    "hellip" => '\u{2026}',
                    n => {
                        let code = match n.strip_prefix("#x").or_else(|| n.strip_prefix("#X")) {
                            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                            None => n.strip_prefix('#')?.parse().ok()?,
                        };
                        char::from_u32(code)?
                    }
                };
                Some((c, end + 2))
            });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = rest.get(len..).unwrap_or("");
            }
            None => {
                out.push('&');
                rest = rest.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

fn name_at(v: &Value, path: &str) -> Option<String> {
    text_at(v, path)
        .map(|t| super::clean(&unescape(&t)))
        .filter(|t| !t.is_empty())
}

fn event(id: String, kind: &str, at: Millis, user: Option<String>, data: Data) -> Event {
    Event {
        id,
        kind: kind.to_owned(),
        occurred_at: at,
        user_id: user,
        data: data.done(),
    }
}

/// The canonical type of an order status reached by `order.updated`.
fn status_kind(status: &str) -> Option<&'static str> {
    Some(match status {
        "processing" => "order.paid",
        "completed" => "order.completed",
        "cancelled" => "order.cancelled",
        "refunded" => "order.refunded",
        "failed" => "payment.failed",
        _ => return None,
    })
}

fn order(
    d: &Delivery<'_>,
    created: bool,
    body: &Value,
    cx: &mut Cx<'_>,
) -> Result<Vec<Event>, Rejection> {
    let (o, base) = unwrap(body, "order");
    if field(o, "refunded_by").is_some() && field(o, "status").is_none() {
        return Err(reject(
            NOT_AN_EVENT,
            base,
            format!(
                "this is a WooCommerce refund resource (refund {}), which no webhook topic sends; WooCommerce reports \
                 refunds as order.updated with the whole order, so subscribe to order.updated",
                id_at(o, "id").unwrap_or_default()
            ),
        ));
    }
    let id = require_id(o, "id", &base)?;
    let status = text_at(o, "status")
        .map(|s| s.trim_start_matches("wc-").to_ascii_lowercase())
        .ok_or_else(|| {
            reject(
                MISSING_FIELD,
                format!("{base}.status"),
                format!("`status` of order {id} is required to tell what changed"),
            )
        })?;
    let status_key = format!("woocommerce:order:{id}:status");
    let previous = cx.recall(&status_key);
    cx.remember(status_key, status.clone());
    // Refunds so far (wc/v2+ lists them with negative totals).
    let refunded_now = field(o, "refunds").and_then(Value::as_array).map(|rs| {
        rs.iter()
            .filter_map(|r| super::amount_at(r, "total"))
            .fold(Amount::ZERO, |sum, a| sum.add(a.abs()).unwrap_or(sum))
    });
    let refund_key = format!("woocommerce:order:{id}:refunded");
    let refunded_before = cx.recall(&refund_key).and_then(|r| Amount::parse(&r));
    if let Some(total) = refunded_now.filter(|t| t.is_positive() || refunded_before.is_some()) {
        cx.remember(refund_key, total.to_string());
    }

    let status_event = if created {
        if status == "checkout-draft" {
            return Err(reject(
                NOT_NOTIFIABLE,
                format!("{base}.status"),
                format!("order {id} is a checkout draft, not a placed order"),
            ));
        }
        // WooCommerce builds the payload when it sends it: an order whose payment failed at
        // checkout is already `failed` here, and is no order to thank the shopper for.
        if status == "failed" {
            status_kind(&status)
        } else {
            Some("order.created")
        }
    } else if previous.as_deref() == Some(status.as_str()) {
        None
    } else {
        status_kind(&status)
    };
    // A refund that did not change the status (a partial refund) still notifies,
    // once the order has been seen before.
    let refund_delta = match (refunded_now, &previous) {
        (Some(now), Some(_)) if !created && status_event != Some("order.refunded") => {
            let before = refunded_before.unwrap_or(Amount::ZERO);
            before.lt(now).then(|| now.sub(before)).flatten()
        }
        _ => None,
    };
    if status_event.is_none() && refund_delta.is_none() {
        let message = if previous.as_deref() == Some(status.as_str()) {
            format!("order {id} is still `{status}` and no refund was added; nothing changed that Tidings notifies about")
        } else {
            format!("order status `{status}` (order {id}) is not notified: only processing, completed, cancelled, refunded and failed are")
        };
        return Err(reject(NOT_NOTIFIABLE, format!("{base}.status"), message));
    }
    let customer = id_at(o, "customer_id").or_else(|| id_at(o, "customer.id"));
    let user = match customer.as_deref() {
        Some(c) if c != "0" => format!("woocommerce:{c}"),
        _ => {
            return Err(reject(
                NO_RECIPIENT,
                format!("{base}.customer_id"),
                format!("order {id} was placed by a guest (customer_id 0), so there is no shopper account to notify"),
            ))
        }
    };

    let mut data = Data::new(Platform::WooCommerce);
    let number = text_at(o, "number")
        .or_else(|| text_at(o, "order_number"))
        .unwrap_or_else(|| id.clone());
    data.str("order_id", Some(id.clone()))
        .str("order_number", Some(display_number(&number)))
        .str("total", super::amount_at(o, "total").map(|a| a.to_string()))
        .str(
            "currency",
            text_at(o, "currency").map(|c| c.to_ascii_uppercase()),
        )
        .str(
            "first_name",
            name_at(o, "billing.first_name")
                .or_else(|| name_at(o, "billing_address.first_name"))
                .or_else(|| name_at(o, "customer.first_name")),
        )
        .str("url", text_at(o, "view_order_url"))
        .str("status", Some(status.clone()));
    let items: Vec<Item> = field(o, "line_items")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .map(|l| Item {
                    title: name_at(l, "name"),
                    quantity: int_at(l, "quantity"),
                    sku: text_at(l, "sku"),
                })
                .collect()
        })
        .unwrap_or_default();
    put_items(&mut data, &items);
    let times: &[&str] = if created {
        &[
            "date_created_gmt",
            "created_at",
            "date_modified_gmt",
            "updated_at",
        ]
    } else {
        &[
            "date_modified_gmt",
            "updated_at",
            "date_created_gmt",
            "created_at",
        ]
    };
    let occurred = time_at(o, times).unwrap_or(cx.now());
    let modified = text_at(o, "date_modified_gmt")
        .or_else(|| text_at(o, "updated_at"))
        .unwrap_or_default();
    let base_id = d.id(&id, &modified);
    let spec = events_spec(status_event, refund_delta, refunded_now, refunded_before);
    Ok(build(spec, base_id, occurred, user, data, o))
}

/// What an order delivery notifies: the status event and/or a refund.
struct Spec {
    status: Option<&'static str>,
    refund: Option<Amount>,
    full_refund: Option<Amount>,
}

fn events_spec(
    status: Option<&'static str>,
    refund_delta: Option<Amount>,
    refunded_now: Option<Amount>,
    refunded_before: Option<Amount>,
) -> Spec {
    let full_refund = if status == Some("order.refunded") {
        match (refunded_now, refunded_before) {
            (Some(now), Some(before)) if before.lt(now) => now.sub(before),
            (Some(now), _) => Some(now),
            _ => None,
        }
    } else {
        None
    };
    Spec {
        status,
        refund: refund_delta,
        full_refund,
    }
}

fn build(
    spec: Spec,
    base_id: String,
    occurred: Millis,
    user: String,
    data: Data,
    o: &Value,
) -> Vec<Event> {
    let mut events = Vec::new();
    if let Some(kind) = spec.status {
        let mut data_k = data.clone();
        if kind == "order.refunded" {
            data_k
                .str(
                    "amount",
                    spec.full_refund
                        .map(|a| a.to_string())
                        .or_else(|| super::amount_at(o, "total").map(|a| a.to_string())),
                )
                .set("fully_refunded", Value::Bool(true));
        }
        if kind == "payment.failed" {
            data_k
                .str("payment_method", text_at(o, "payment_method_title"))
                .str(
                    "amount",
                    super::amount_at(o, "total").map(|a| a.to_string()),
                );
        }
        events.push(event(
            base_id.clone(),
            kind,
            occurred,
            Some(user.clone()),
            data_k,
        ));
    }
    if let Some(amount) = spec.refund {
        let mut data_r = data.clone();
        data_r
            .str("amount", Some(amount.to_string()))
            .set("fully_refunded", Value::Bool(false))
            .str(
                "refund_id",
                field(o, "refunds").and_then(|r| id_at(r, "0.id")),
            )
            .str(
                "reason",
                field(o, "refunds").and_then(|r| name_at(r, "0.reason")),
            );
        let id = if events.is_empty() {
            base_id
        } else {
            suffixed("woocommerce", &base_id, "refund")
        };
        events.push(event(id, "order.refunded", occurred, Some(user), data_r));
    }
    events
}

fn product(d: &Delivery<'_>, body: &Value, cx: &mut Cx<'_>) -> Result<Vec<Event>, Rejection> {
    let (p, base) = unwrap(body, "product");
    let id = require_id(p, "id", &base)?;
    let price = super::amount_at(p, "price");
    let regular = super::amount_at(p, "regular_price");
    let sale = super::amount_at(p, "sale_price");
    let price_key = format!("woocommerce:product:{id}:price");
    let old = cx.recall(&price_key).and_then(|s| Amount::parse(&s));
    if let Some(n) = price {
        cx.remember(price_key, n.to_string());
    }
    let drop = match (old, price) {
        (Some(o), Some(n)) if n.lt(o) => Some((o, n)),
        // Never seen before but visibly on sale: a drop from the regular price.
        (None, Some(n)) => match (regular, sale) {
            (Some(r), Some(s)) if s.same(n) && n.lt(r) => Some((r, n)),
            _ => None,
        },
        _ => None,
    };
    let stock = text_at(p, "stock_status").or_else(|| match field(p, "in_stock") {
        Some(Value::Bool(true)) => Some("instock".to_owned()),
        Some(Value::Bool(false)) => Some("outofstock".to_owned()),
        _ => None,
    });
    let stock_key = format!("woocommerce:product:{id}:stock");
    let stock_before = cx.recall(&stock_key);
    if let Some(s) = &stock {
        cx.remember(stock_key, s.clone());
    }
    let restocked =
        stock_before.as_deref() == Some("outofstock") && stock.as_deref() == Some("instock");
    if drop.is_none() && !restocked {
        return Err(reject(
            NOT_NOTIFIABLE,
            format!("{base}.price"),
            format!(
                "product {id}: price {} (remembered {}) did not drop and it did not come back in stock; remembered for next time",
                price.map(|a| a.to_string()).unwrap_or_else(|| "unknown".into()),
                old.map(|a| a.to_string()).unwrap_or_else(|| "none".into()),
            ),
        ));
    }
    let mut data = Data::new(Platform::WooCommerce);
    data.str("product_id", Some(id.clone()))
        .str(
            "product_title",
            name_at(p, "name").or_else(|| name_at(p, "title")),
        )
        .str("sku", text_at(p, "sku"))
        .str("url", text_at(p, "permalink"))
        .str("image_url", text_at(p, "images.0.src"));
    let occurred = time_at(p, &["date_modified_gmt", "updated_at"]).unwrap_or(cx.now());
    let modified = text_at(p, "date_modified_gmt")
        .or_else(|| text_at(p, "updated_at"))
        .unwrap_or_default();
    let base_id = d.id(&id, &modified);
    let mut events = Vec::new();
    if let Some((o, n)) = drop {
        let mut data_p = data.clone();
        data_p
            .str("old_price", Some(o.to_string()))
            .str("new_price", Some(n.to_string()))
            .str("regular_price", regular.map(|r| r.to_string()));
        events.push(event(
            suffixed("woocommerce", &base_id, "price"),
            "product.price_dropped",
            occurred,
            None,
            data_p,
        ));
    }
    if restocked {
        let mut data_s = data.clone();
        data_s.str("stock_status", stock);
        events.push(event(
            suffixed("woocommerce", &base_id, "stock"),
            "inventory.restocked",
            occurred,
            None,
            data_s,
        ));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{apply, d, one, run, skipped};
    use super::super::*;
    use super::unescape;
    use crate::testing::test;
    use std::collections::BTreeMap;

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!("../../../../fixtures/woocommerce/", $name))
        };
    }

    const ADD_TO_CART_378: &[u8] = fixture!("action.woocommerce_add_to_cart.delivery378.json");
    const ADD_TO_CART_380: &[u8] = fixture!("action.woocommerce_add_to_cart.delivery380.json");
    const CREATED: &[u8] = fixture!("order.created.wc_v3_create_order_response.json");
    const LEGACY_53: &[u8] = fixture!("order.updated.legacy_v3.delivery53.json");
    const LEGACY_54: &[u8] = fixture!("order.updated.legacy_v3.delivery54.json");
    const UPDATED: &[u8] = fixture!("order.updated.wc_v3_update_order_response.json");
    const REFUND: &[u8] = fixture!("order_refund.wc_v3_create_refund_response.json");
    const PRODUCT: &[u8] = fixture!("product.updated.wc_v3_update_product_price_response.json");

    fn woo(
        topic: &str,
        delivery: Option<&str>,
        body: &[u8],
        mem: &[(&str, &str)],
    ) -> Result<Decoded, Rejection> {
        run(Platform::WooCommerce, Some(topic), delivery, body, mem)
    }

    /// The body with `customer_id` (at `path`) set to a registered customer.
    fn registered(body: &[u8], legacy: bool) -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_slice(body).unwrap();
        if legacy {
            v["order"]["customer_id"] = 17.into();
        } else {
            v["customer_id"] = 17.into();
        }
        serde_json::to_vec(&v).unwrap()
    }

    /// `body` (a wc/v3 order) registered and in `status`.
    fn in_status(body: &[u8], status: &str) -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_slice(&registered(body, false)).unwrap();
        v["status"] = status.into();
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn a_failed_payment_notifies_with_its_amount_when_created_or_updated() {
        let rules = crate::rules::RuleSet::default_rules();
        let created = one(woo(
            "order.created",
            None,
            &in_status(CREATED, "failed"),
            &[],
        ));
        let updated = one(woo(
            "order.updated",
            None,
            &in_status(UPDATED, "failed"),
            &[("woocommerce:order:727:status", "processing")],
        ));
        for e in [created, updated] {
            assert_eq!(
                e.kind, "payment.failed",
                "no thanks for an order whose payment failed"
            );
            assert!(!d(&e, "amount").is_empty(), "{:?}", e.data);
            let applied = rules.apply(&e, 0);
            assert!(applied.errors.is_empty(), "{:?}", applied.errors);
            assert!(applied.outcomes.iter().any(|o| o.notification.is_some()));
        }
        // Placed and awaiting payment is still an order to thank the shopper for.
        let pending = one(woo(
            "order.created",
            None,
            &in_status(CREATED, "pending"),
            &[],
        ));
        assert_eq!(pending.kind, "order.created");
    }

    #[test]
    fn action_add_to_cart_fixtures_are_unsupported() {
        for (body, delivery) in [(ADD_TO_CART_378, "378"), (ADD_TO_CART_380, "380")] {
            let r = woo("action.woocommerce_add_to_cart", Some(delivery), body, &[]).unwrap_err();
            assert_eq!(
                (r.code.as_str(), r.path.as_str()),
                (UNSUPPORTED_TOPIC, "header.X-WC-Webhook-Topic")
            );
            assert!(
                r.message.contains("action.woocommerce_add_to_cart"),
                "{}",
                r.message
            );
        }
    }

    #[test]
    fn order_created_fixture() {
        // A guest order (customer_id 0): remembered, not addressed.
        let r = woo("order.created", Some("d1"), CREATED, &[]);
        assert_eq!(skipped(&r), NO_RECIPIENT);
        assert_eq!(
            r.as_ref().unwrap().skipped.as_ref().unwrap().path,
            "body.customer_id"
        );
        assert_eq!(
            r.unwrap().remember,
            vec![(
                "woocommerce:order:727:status".to_owned(),
                "processing".to_owned()
            )]
        );
        let e = one(woo(
            "order.created",
            Some("d1"),
            &registered(CREATED, false),
            &[],
        ));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("order.created", Some("woocommerce:17"))
        );
        assert_eq!(e.id, "woocommerce:d1");
        assert_eq!(
            (d(&e, "order_id"), d(&e, "order_number")),
            ("727".into(), "#727".into())
        );
        assert_eq!(
            (d(&e, "total"), d(&e, "currency")),
            ("29.35".into(), "USD".into())
        );
        assert_eq!(
            (d(&e, "item_count"), d(&e, "first_item")),
            ("3".into(), "Woo Single #1".into())
        );
        // HTML entities in names are decoded.
        assert_eq!(
            d(&e, "items.1.title"),
            "Ship Your Idea \u{2013} Color: Black, Size: M Test"
        );
        assert_eq!(d(&e, "first_name"), "John");
        assert_eq!(
            e.occurred_at,
            crate::time::parse_rfc3339("2017-03-22T19:28:02Z").unwrap()
        );
    }

    #[test]
    fn order_updated_wc_v3_fixture() {
        assert_eq!(
            skipped(&woo("order.updated", None, UPDATED, &[])),
            NO_RECIPIENT
        );
        let body = registered(UPDATED, false);
        let mem = [("woocommerce:order:727:status", "processing")];
        let e = one(woo("order.updated", None, &body, &mem));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("order.completed", Some("woocommerce:17"))
        );
        assert_eq!(e.id, "woocommerce:order.updated:727:2017-03-22T19:30:35");
        assert_eq!(d(&e, "status"), "completed");
        // The same delivery again: the status did not change.
        let mem = [("woocommerce:order:727:status", "completed")];
        assert_eq!(
            skipped(&woo("order.updated", None, &body, &mem)),
            NOT_NOTIFIABLE
        );
    }

    #[test]
    fn order_updated_legacy_delivery53_fixture() {
        let r = woo("order.updated", Some("53"), LEGACY_53, &[]);
        assert_eq!(skipped(&r), NO_RECIPIENT);
        assert_eq!(r.unwrap().skipped.unwrap().path, "body.order.customer_id");
        let e = one(woo(
            "order.updated",
            Some("53"),
            &registered(LEGACY_53, true),
            &[],
        ));
        assert_eq!(
            (e.kind.as_str(), e.id.as_str()),
            ("order.completed", "woocommerce:53")
        );
        assert_eq!(
            (d(&e, "order_number"), d(&e, "total"), d(&e, "currency")),
            ("#118".into(), "14.00".into(), "BRL".into())
        );
        assert_eq!(
            (d(&e, "first_item"), d(&e, "items.0.sku")),
            ("Woo Single #2".into(), "12345".into())
        );
        assert_eq!(d(&e, "url"), "http://example.com/my-account/view-order/118");
        assert_eq!(
            e.occurred_at,
            crate::time::parse_rfc3339("2016-05-16T03:29:13Z").unwrap()
        );
    }

    #[test]
    fn order_updated_legacy_delivery54_fixture_repeats_the_status() {
        // Delivery 53 (status completed) remembered, then 54 with the same status.
        let mut mem = BTreeMap::new();
        apply(
            &mut mem,
            &woo(
                "order.updated",
                Some("53"),
                &registered(LEGACY_53, true),
                &[],
            )
            .unwrap(),
        );
        let pairs: Vec<(&str, &str)> = mem.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = woo(
            "order.updated",
            Some("54"),
            &registered(LEGACY_54, true),
            &pairs,
        );
        assert_eq!(skipped(&r), NOT_NOTIFIABLE);
        assert!(r
            .unwrap()
            .skipped
            .unwrap()
            .message
            .contains("still `completed`"));
        // Alone, 54 maps like 53.
        assert_eq!(
            one(woo(
                "order.updated",
                Some("54"),
                &registered(LEGACY_54, true),
                &[]
            ))
            .kind,
            "order.completed"
        );
    }

    #[test]
    fn order_refund_fixture_is_not_an_event() {
        for topic in ["order.updated", "order.created"] {
            let r = woo(topic, None, REFUND, &[]).unwrap_err();
            assert_eq!((r.code.as_str(), r.path.as_str()), (NOT_AN_EVENT, "body"));
            assert!(r.message.contains("refund 726"), "{}", r.message);
        }
    }

    #[test]
    fn product_updated_fixture() {
        let r = woo("product.updated", Some("p1"), PRODUCT, &[]);
        assert_eq!(
            skipped(&r),
            NOT_NOTIFIABLE,
            "a first sighting only remembers"
        );
        let remember = r.unwrap().remember;
        assert!(remember.contains(&("woocommerce:product:794:price".into(), "24.54".into())));
        let e = one(woo(
            "product.updated",
            Some("p1"),
            PRODUCT,
            &[("woocommerce:product:794:price", "30.00")],
        ));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("product.price_dropped", None)
        );
        assert_eq!(e.id, "woocommerce:p1:price");
        assert_eq!(
            (d(&e, "old_price"), d(&e, "new_price")),
            ("30.00".into(), "24.54".into())
        );
        assert_eq!(
            (d(&e, "product_id"), d(&e, "product_title")),
            ("794".into(), "Premium Quality".into())
        );
        assert_eq!(
            d(&e, "url"),
            "https://example.com/product/premium-quality-19/"
        );
        for same_or_higher in ["24.54", "20"] {
            let mem = [("woocommerce:product:794:price", same_or_higher)];
            assert_eq!(
                skipped(&woo("product.updated", Some("p1"), PRODUCT, &mem)),
                NOT_NOTIFIABLE
            );
        }
    }

    #[test]
    fn status_mapping_and_changes() {
        let cases = [
            ("processing", Some("order.paid")),
            ("completed", Some("order.completed")),
            ("cancelled", Some("order.cancelled")),
            ("refunded", Some("order.refunded")),
            ("failed", Some("payment.failed")),
            ("on-hold", None),
            ("pending", None),
        ];
        for (status, kind) in cases {
            let body = format!(
                r#"{{"id":9,"status":"{status}","customer_id":4,"total":"10.00","currency":"eur"}}"#
            );
            let r = woo(
                "order.updated",
                None,
                body.as_bytes(),
                &[("woocommerce:order:9:status", "x")],
            );
            match kind {
                Some(k) => {
                    let e = one(r);
                    assert_eq!(
                        (e.kind.as_str(), e.user_id.as_deref()),
                        (k, Some("woocommerce:4")),
                        "{status}"
                    );
                }
                None => {
                    assert_eq!(skipped(&r), NOT_NOTIFIABLE, "{status}");
                    // The new status is still remembered.
                    assert_eq!(
                        r.unwrap().remember,
                        vec![("woocommerce:order:9:status".to_owned(), status.to_owned())]
                    );
                }
            }
        }
    }

    #[test]
    fn partial_refunds_notify_by_growth() {
        let body = br#"{"id":9,"status":"processing","customer_id":4,"currency":"USD","refunds":[{"id":31,"reason":"damaged","total":"-5.00"},{"id":30,"total":"-2.50"}]}"#;
        let mem = [
            ("woocommerce:order:9:status", "processing"),
            ("woocommerce:order:9:refunded", "2.50"),
        ];
        let r = woo("order.updated", Some("77"), body, &mem);
        assert_eq!(
            r.as_ref().unwrap().remember,
            vec![("woocommerce:order:9:refunded".to_owned(), "7.50".to_owned())]
        );
        let e = one(r);
        assert_eq!(
            (e.kind.as_str(), e.id.as_str()),
            ("order.refunded", "woocommerce:77")
        );
        assert_eq!(
            (d(&e, "amount"), d(&e, "reason"), d(&e, "refund_id")),
            ("5.00".into(), "damaged".into(), "31".into())
        );
        assert_eq!(d(&e, "fully_refunded"), "false");
        // Full refund after the partial ones: the status event carries the rest.
        let body = br#"{"id":9,"status":"refunded","customer_id":4,"refunds":[{"id":32,"total":"-10.00"},{"id":31,"total":"-5.00"},{"id":30,"total":"-2.50"}]}"#;
        let mem = [
            ("woocommerce:order:9:status", "processing"),
            ("woocommerce:order:9:refunded", "7.50"),
        ];
        let e = one(woo("order.updated", Some("78"), body, &mem));
        assert_eq!(
            (e.kind.as_str(), d(&e, "amount"), d(&e, "fully_refunded")),
            ("order.refunded", "10.00".into(), "true".into())
        );
    }

    #[test]
    fn sales_and_restocks() {
        // Never seen, but visibly on sale.
        let body = br#"{"id":5,"name":"Mug","price":"8.00","regular_price":"10.00","sale_price":"8.00","stock_status":"instock"}"#;
        let r = woo("product.updated", None, body, &[]);
        let e = one(r);
        assert_eq!(
            (
                d(&e, "old_price"),
                d(&e, "new_price"),
                d(&e, "regular_price")
            ),
            ("10.00".into(), "8.00".into(), "10.00".into())
        );
        // Back in stock and cheaper in one delivery: two events.
        let mem = [
            ("woocommerce:product:5:price", "9.00"),
            ("woocommerce:product:5:stock", "outofstock"),
        ];
        let d2 = woo("product.updated", Some("x"), body, &mem).unwrap();
        let kinds: Vec<_> = d2
            .events
            .iter()
            .map(|e| (e.kind.as_str(), e.id.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("product.price_dropped", "woocommerce:x:price"),
                ("inventory.restocked", "woocommerce:x:stock")
            ]
        );
        // Already in stock: no restock.
        let mem = [
            ("woocommerce:product:5:price", "8.00"),
            ("woocommerce:product:5:stock", "instock"),
        ];
        assert_eq!(
            skipped(&woo("product.updated", None, body, &mem)),
            NOT_NOTIFIABLE
        );
    }

    #[test]
    fn rejects_precisely() {
        let r = woo("coupon.created", None, b"{}", &[]).unwrap_err();
        assert_eq!(r.code, UNSUPPORTED_TOPIC);
        let r = woo("order.updated", None, br#"{"id":5}"#, &[]).unwrap_err();
        assert_eq!(
            (r.code.as_str(), r.path.as_str()),
            (MISSING_FIELD, "body.status")
        );
        let r = woo(
            "order.updated",
            None,
            br#"{"order":{"status":"completed"}}"#,
            &[],
        )
        .unwrap_err();
        assert_eq!(
            (r.code.as_str(), r.path.as_str()),
            (MISSING_FIELD, "body.order.id")
        );
        let r = woo(
            "order.created",
            None,
            br#"{"id":5,"status":"checkout-draft","customer_id":3}"#,
            &[],
        );
        assert_eq!(skipped(&r), NOT_NOTIFIABLE);
    }

    #[test]
    fn unescapes_entities() {
        assert_eq!(
            unescape("A &amp; B &ndash; &#36;5 &#x41; &bogus; & x"),
            "A & B \u{2013} $5 A &bogus; & x"
        );
        assert_eq!(unescape("&"), "&");
        assert_eq!(unescape("Tom &amp; Jerry &ndash;"), "Tom & Jerry \u{2013}");
        assert_eq!(
            unescape("x&\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9};"),
            "x&\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9};"
        );
        assert_eq!(unescape("Tom &amp; Jerry &ndash;"), "Tom & Jerry \u{2013}");
        assert_eq!(
            unescape("caf\u{e9}&\u{e9}\u{e9}\u{e9}\u{e9}\u{e9};"),
            "caf\u{e9}&\u{e9}\u{e9}\u{e9}\u{e9}\u{e9};"
        );
        assert_eq!(unescape("&#99999999;"), "&#99999999;");
    }
}
