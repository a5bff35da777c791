//! Shopify Admin webhooks: the topic comes from `X-Shopify-Topic`, the body
//! is the bare REST resource (order, fulfillment, fulfillment event, refund,
//! inventory level, product).
//!
//! Fulfillments, fulfillment events and refunds name only their `order_id`,
//! so every order delivery teaches memory which customer the order belongs
//! to; shipping notifications are deduplicated per fulfillment because one
//! carrier scan reaches us twice (`fulfillment_events/create` and
//! `fulfillments/update`).

use serde_json::Value;

use super::{
    at, display_number, field, id_at, int_at, make_id, put_items, reject, require_id, text_at,
    time_at, Amount, Cx, Data, Item, Platform, MISSING_FIELD, NOT_NOTIFIABLE, NO_RECIPIENT,
    UNSUPPORTED_TOPIC, WRONG_TYPE,
};
use crate::event::Event;
use crate::ingest::Rejection;
use crate::time::Millis;

/// Decodes one Shopify delivery.
pub(super) fn decode(
    topic: &str,
    delivery: Option<&str>,
    body: &Value,
    cx: &mut Cx<'_>,
) -> Result<Vec<Event>, Rejection> {
    let d = Delivery { topic, delivery };
    match topic {
        "orders/create" => order(&d, Some("order.created"), body, cx),
        "orders/paid" => order(&d, Some("order.paid"), body, cx),
        "orders/cancelled" => order(&d, Some("order.cancelled"), body, cx),
        "orders/fulfilled" => order(&d, Some("order.shipped"), body, cx),
        "orders/updated" => order(&d, None, body, cx),
        "fulfillments/create" | "fulfillments/update" => fulfillment(&d, body, cx),
        "fulfillment_events/create" => fulfillment_event(&d, body, cx),
        "refunds/create" => refund(&d, body, cx),
        "inventory_levels/update" => inventory_level(&d, body, cx),
        "products/update" => product(&d, body, cx),
        other => Err(reject(
            UNSUPPORTED_TOPIC,
            "header.X-Shopify-Topic",
            format!(
                "Shopify topic `{}` is not mapped to a Tidings event; subscribe to orders/create, orders/paid, \
                 orders/cancelled, orders/fulfilled, orders/updated, fulfillments/create, fulfillments/update, \
                 fulfillment_events/create, refunds/create, inventory_levels/update or products/update",
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
    /// `shopify:<webhook id>`, else `shopify:<topic>:<parts…>`.
    fn id(&self, fallback: &[&str]) -> String {
        match self.delivery {
            Some(d) => make_id("shopify", &[d]),
            None => {
                let mut parts = vec![self.topic];
                parts.extend_from_slice(fallback);
                make_id("shopify", &parts)
            }
        }
    }
}

fn customer_key(order_id: &str) -> String {
    format!("shopify:order:{order_id}:customer")
}

fn number_key(order_id: &str) -> String {
    format!("shopify:order:{order_id}:number")
}

fn no_recipient_for_order(order_id: &str, what: &str) -> Rejection {
    reject(
        NO_RECIPIENT,
        "body.order_id",
        format!(
            "{what} names only order {order_id}, and no orders/* webhook for that order has told Tidings its customer; \
             subscribe to orders/create so later deliveries can be addressed"
        ),
    )
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

fn line_items(v: Option<&Value>) -> Vec<Item> {
    v.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|li| Item {
                    title: text_at(li, "title").or_else(|| text_at(li, "name")),
                    quantity: int_at(li, "quantity"),
                    sku: text_at(li, "sku"),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn order(
    d: &Delivery<'_>,
    kind: Option<&str>,
    body: &Value,
    cx: &mut Cx<'_>,
) -> Result<Vec<Event>, Rejection> {
    let order_id = require_id(body, "id", "body")?;
    let customer = id_at(body, "customer.id");
    let number =
        text_at(body, "name").or_else(|| text_at(body, "order_number").map(|n| display_number(&n)));
    if let Some(c) = &customer {
        cx.remember(customer_key(&order_id), c.clone());
    }
    if let Some(n) = &number {
        cx.remember(number_key(&order_id), n.clone());
    }
    let Some(kind) = kind else {
        return Err(reject(
            NOT_NOTIFIABLE,
            "header.X-Shopify-Topic",
            format!(
                "orders/updated says order {order_id} changed but not what; Tidings only remembers its customer. \
                 Subscribe to orders/paid, orders/fulfilled or orders/cancelled for notifications"
            ),
        ));
    };
    let Some(customer) = customer else {
        return Err(reject(
            NO_RECIPIENT,
            "body.customer.id",
            format!("order {order_id} has no customer (a guest or POS order), so there is no shopper to notify"),
        ));
    };
    let mut data = Data::new(Platform::Shopify);
    data.str("order_id", Some(order_id.clone()))
        .str("order_number", number)
        .str("total", amount_text(body, "total_price"))
        .str(
            "currency",
            text_at(body, "currency").map(|c| c.to_ascii_uppercase()),
        )
        .str("first_name", text_at(body, "customer.first_name"))
        .str("url", text_at(body, "order_status_url"))
        .str("payment_status", text_at(body, "financial_status"));
    put_items(&mut data, &line_items(field(body, "line_items")));
    let times: &[&str] = match kind {
        "order.created" => &["created_at", "processed_at"],
        "order.cancelled" => &["cancelled_at", "updated_at"],
        _ => &["updated_at", "processed_at", "created_at"],
    };
    let occurred = time_at(body, times).unwrap_or(cx.now());
    if kind == "order.cancelled" {
        data.str("reason", text_at(body, "cancel_reason"));
    }
    if kind == "order.shipped" {
        // The newest fulfillment carries the tracking details.
        if let Some(f) = field(body, "fulfillments")
            .and_then(Value::as_array)
            .and_then(|fs| fs.last())
        {
            let tracking = Tracking::of(f);
            if let Some(fid) = id_at(f, "id") {
                let state = format!("order.shipped|{}", tracking.number.as_deref().unwrap_or(""));
                let key = notified_key(&fid);
                if cx.recall(&key).as_deref() == Some(state.as_str()) {
                    return Err(already_notified(&fid, "order.shipped"));
                }
                cx.remember(key, state);
                data.str("fulfillment_id", Some(fid));
            }
            tracking.put(&mut data);
        }
    }
    let stamp = text_at(body, "updated_at")
        .or_else(|| text_at(body, "created_at"))
        .unwrap_or_default();
    let id = d.id(&[&order_id, &stamp]);
    Ok(vec![event(
        id,
        kind,
        occurred,
        Some(format!("shopify:{customer}")),
        data,
    )])
}

fn amount_text(v: &Value, path: &str) -> Option<String> {
    super::amount_at(v, path).map(|a| a.to_string())
}

/// Tracking details of a fulfillment.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Tracking {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    carrier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

impl Tracking {
    fn of(f: &Value) -> Tracking {
        Tracking {
            number: text_at(f, "tracking_number").or_else(|| text_at(f, "tracking_numbers.0")),
            carrier: text_at(f, "tracking_company"),
            url: text_at(f, "tracking_url").or_else(|| text_at(f, "tracking_urls.0")),
        }
    }

    fn is_empty(&self) -> bool {
        self.number.is_none() && self.carrier.is_none() && self.url.is_none()
    }

    fn put(self, data: &mut Data) {
        data.str("tracking_number", self.number)
            .str("carrier", self.carrier)
            .str("tracking_url", self.url);
    }
}

fn tracking_key(fid: &str) -> String {
    format!("shopify:fulfillment:{fid}:tracking")
}

fn notified_key(fid: &str) -> String {
    format!("shopify:fulfillment:{fid}:notified")
}

fn already_notified(fid: &str, kind: &str) -> Rejection {
    reject(
        NOT_NOTIFIABLE,
        "body",
        format!(
            "fulfillment {fid} was already reported as {kind} (Shopify sends fulfillment_events/create and \
             fulfillments/update for the same carrier scan); nothing new to notify"
        ),
    )
}

/// The canonical type of a carrier status (`shipment_status` / event `status`).
fn shipment_kind(status: &str) -> Option<&'static str> {
    Some(match status {
        "in_transit" | "carrier_picked_up" => "order.in_transit",
        "out_for_delivery" => "order.out_for_delivery",
        "delivered" | "picked_up" => "order.delivered",
        "attempted_delivery" => "order.delivery_attempted",
        "ready_for_pickup" => "order.ready_for_pickup",
        "failure" => "order.delivery_failed",
        _ => return None,
    })
}

/// Order number for shipping events: remembered, else from the fulfillment
/// name (`#1001.2` is order `#1001`'s second fulfillment).
fn shipping_order_number(
    cx: &Cx<'_>,
    order_id: &str,
    fulfillment_name: Option<String>,
) -> Option<String> {
    cx.recall(&number_key(order_id)).or_else(|| {
        let name = fulfillment_name?;
        match name.rsplit_once('.') {
            Some((order, n)) if !order.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                Some(order.to_owned())
            }
            _ => Some(name),
        }
    })
}

fn fulfillment(d: &Delivery<'_>, body: &Value, cx: &mut Cx<'_>) -> Result<Vec<Event>, Rejection> {
    let fid = require_id(body, "id", "body")?;
    let order_id = require_id(body, "order_id", "body")?;
    let tracking = Tracking::of(body);
    if !tracking.is_empty() {
        if let Ok(json) = serde_json::to_string(&tracking) {
            cx.remember(tracking_key(&fid), json);
        }
    }
    let status = text_at(body, "status");
    let shipment = text_at(body, "shipment_status");
    let (kind, state) = match (status.as_deref(), shipment.as_deref()) {
        (Some("cancelled"), _) => ("order.shipment_cancelled", "order.shipment_cancelled".to_owned()),
        (Some(s @ ("error" | "failure" | "pending" | "open")), _) => {
            return Err(reject(
                NOT_NOTIFIABLE,
                "body.status",
                format!(
                    "fulfillment {fid} has status `{s}`: the fulfillment service has not shipped it (or failed to), \
                     which is the merchant's business, not the shopper's"
                ),
            ))
        }
        (_, Some(ss)) => match shipment_kind(ss) {
            Some(k) => (k, k.to_owned()),
            None => {
                return Err(reject(
                    NOT_NOTIFIABLE,
                    "body.shipment_status",
                    format!("shipment status `{ss}` of fulfillment {fid} is a pre-shipment carrier state, not news for the shopper"),
                ))
            }
        },
        (_, None) => (
            "order.shipped",
            format!("order.shipped|{}", tracking.number.as_deref().unwrap_or("")),
        ),
    };
    let key = notified_key(&fid);
    if cx.recall(&key).as_deref() == Some(state.as_str()) {
        return Err(already_notified(&fid, kind));
    }
    let customer = cx
        .recall(&customer_key(&order_id))
        .ok_or_else(|| no_recipient_for_order(&order_id, &format!("fulfillment {fid}")))?;
    cx.remember(key, state);
    let mut data = Data::new(Platform::Shopify);
    data.str("order_id", Some(order_id.clone()))
        .str(
            "order_number",
            shipping_order_number(cx, &order_id, text_at(body, "name")),
        )
        .str("fulfillment_id", Some(fid.clone()))
        .str("shipment_status", shipment);
    tracking.put(&mut data);
    put_items(&mut data, &line_items(field(body, "line_items")));
    let occurred = time_at(body, &["updated_at", "created_at"]).unwrap_or(cx.now());
    let stamp = text_at(body, "updated_at").unwrap_or_default();
    Ok(vec![event(
        d.id(&[&fid, &stamp]),
        kind,
        occurred,
        Some(format!("shopify:{customer}")),
        data,
    )])
}

fn fulfillment_event(
    d: &Delivery<'_>,
    body: &Value,
    cx: &mut Cx<'_>,
) -> Result<Vec<Event>, Rejection> {
    let eid = require_id(body, "id", "body")?;
    let fid = require_id(body, "fulfillment_id", "body")?;
    let order_id = require_id(body, "order_id", "body")?;
    let status = text_at(body, "status").ok_or_else(|| {
        reject(
            MISSING_FIELD,
            "body.status",
            "`status` (the carrier status, e.g. in_transit) is required",
        )
    })?;
    let kind = shipment_kind(&status).ok_or_else(|| {
        reject(
            NOT_NOTIFIABLE,
            "body.status",
            format!("fulfillment event status `{status}` is a pre-shipment carrier state, not news for the shopper"),
        )
    })?;
    let key = notified_key(&fid);
    if cx.recall(&key).as_deref() == Some(kind) {
        return Err(already_notified(&fid, kind));
    }
    let customer = cx
        .recall(&customer_key(&order_id))
        .ok_or_else(|| no_recipient_for_order(&order_id, &format!("fulfillment event {eid}")))?;
    cx.remember(key, kind.to_owned());
    let mut data = Data::new(Platform::Shopify);
    data.str("order_id", Some(order_id.clone()))
        .str("order_number", shipping_order_number(cx, &order_id, None))
        .str("fulfillment_id", Some(fid.clone()))
        .str("shipment_status", Some(status))
        .str("message", text_at(body, "message"))
        .str("city", text_at(body, "city"))
        .str("province", text_at(body, "province"))
        .str("country", text_at(body, "country"))
        .str(
            "estimated_delivery_at",
            text_at(body, "estimated_delivery_at"),
        );
    let remembered: Option<Tracking> = cx
        .recall(&tracking_key(&fid))
        .and_then(|j| serde_json::from_str(&j).ok());
    if let Some(t) = remembered {
        t.put(&mut data);
    }
    let occurred = time_at(body, &["happened_at", "created_at", "updated_at"]).unwrap_or(cx.now());
    Ok(vec![event(
        d.id(&[&eid]),
        kind,
        occurred,
        Some(format!("shopify:{customer}")),
        data,
    )])
}

fn refund(d: &Delivery<'_>, body: &Value, cx: &mut Cx<'_>) -> Result<Vec<Event>, Rejection> {
    let rid = require_id(body, "id", "body")?;
    let order_id = require_id(body, "order_id", "body")?;
    let mut total: Option<Amount> = None;
    let mut currency = None;
    for t in field(body, "transactions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let refunded = text_at(t, "kind").as_deref() == Some("refund")
            && text_at(t, "status").as_deref() == Some("success");
        if let (true, Some(a)) = (refunded, super::amount_at(t, "amount")) {
            total = Some(match total {
                Some(sum) => sum.add(a).unwrap_or(sum),
                None => a,
            });
            currency = currency.or_else(|| text_at(t, "currency"));
        }
    }
    let Some(amount) = total.filter(|a| a.is_positive()) else {
        return Err(reject(
            NOT_NOTIFIABLE,
            "body.transactions",
            format!("refund {rid} has no successful refund transaction, so no money went back to the shopper (a restock-only refund)"),
        ));
    };
    let customer = cx
        .recall(&customer_key(&order_id))
        .ok_or_else(|| no_recipient_for_order(&order_id, &format!("refund {rid}")))?;
    let items: Vec<Item> = field(body, "refund_line_items")
        .and_then(Value::as_array)
        .map(|rl| {
            rl.iter()
                .map(|r| Item {
                    title: text_at(r, "line_item.title"),
                    quantity: int_at(r, "quantity"),
                    sku: text_at(r, "line_item.sku"),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut data = Data::new(Platform::Shopify);
    data.str("order_id", Some(order_id.clone()))
        .str("order_number", cx.recall(&number_key(&order_id)))
        .str("refund_id", Some(rid.clone()))
        .str("amount", Some(amount.to_string()))
        .str("currency", currency.map(|c| c.to_ascii_uppercase()))
        .str("reason", text_at(body, "note"));
    put_items(&mut data, &items);
    let occurred = time_at(body, &["processed_at", "created_at"]).unwrap_or(cx.now());
    Ok(vec![event(
        d.id(&[&rid]),
        "order.refunded",
        occurred,
        Some(format!("shopify:{customer}")),
        data,
    )])
}

fn inventory_level(
    d: &Delivery<'_>,
    body: &Value,
    cx: &mut Cx<'_>,
) -> Result<Vec<Event>, Rejection> {
    let item = require_id(body, "inventory_item_id", "body")?;
    let location = id_at(body, "location_id");
    let available = match at(body, "available") {
        None => {
            return Err(reject(
                NOT_NOTIFIABLE,
                "body.available",
                format!("inventory item {item} is not tracked (`available` is null), so it can never come back in stock"),
            ))
        }
        Some(v) => v.as_i64().ok_or_else(|| {
            reject(WRONG_TYPE, "body.available", format!("`available` must be a whole number, got {}", super::kind_of(v)))
        })?,
    };
    let key = format!(
        "shopify:inventory:{item}:{}:available",
        location.as_deref().unwrap_or("-")
    );
    let previous = cx.recall(&key).and_then(|p| p.trim().parse::<i64>().ok());
    cx.remember(key, available.to_string());
    match previous {
        Some(p) if p <= 0 && available > 0 => {}
        Some(p) => {
            return Err(reject(
                NOT_NOTIFIABLE,
                "body.available",
                format!("inventory item {item} went from {p} to {available} available: not a restock (that needs 0 or less before, more than 0 now)"),
            ))
        }
        None => {
            return Err(reject(
                NOT_NOTIFIABLE,
                "body.available",
                format!("first stock level seen for inventory item {item} ({available}); remembered, a later rise from 0 will notify"),
            ))
        }
    }
    let product = cx.recall(&format!("shopify:inventory:{item}:product"));
    let title = product
        .as_ref()
        .and_then(|p| cx.recall(&format!("shopify:product:{p}:title")));
    let mut data = Data::new(Platform::Shopify);
    data.str("inventory_item_id", Some(item.clone()))
        .str("location_id", location.clone())
        .str("sku", cx.recall(&format!("shopify:inventory:{item}:sku")))
        .str("product_id", product)
        .str("product_title", title)
        .int("available", Some(available))
        .int("previous_available", previous);
    let occurred = time_at(body, &["updated_at"]).unwrap_or(cx.now());
    let stamp = text_at(body, "updated_at").unwrap_or_default();
    let id = d.id(&[&item, location.as_deref().unwrap_or("-"), &stamp]);
    Ok(vec![event(id, "inventory.restocked", occurred, None, data)])
}

fn product(d: &Delivery<'_>, body: &Value, cx: &mut Cx<'_>) -> Result<Vec<Event>, Rejection> {
    // A product has `variants`; a bare variant (REST variant update) has
    // `product_id` and `price` and is treated as a one-variant product.
    let (product_id, title, variants): (String, Option<String>, Vec<&Value>) = match field(body, "variants") {
        Some(Value::Array(vs)) => {
            let pid = require_id(body, "id", "body")?;
            let title = text_at(body, "title");
            if let Some(t) = &title {
                cx.remember(format!("shopify:product:{pid}:title"), t.clone());
            }
            (pid, title, vs.iter().collect())
        }
        Some(other) => {
            return Err(reject(
                WRONG_TYPE,
                "body.variants",
                format!("`variants` must be an array, got {}", super::kind_of(other)),
            ))
        }
        None if field(body, "product_id").is_some() && field(body, "price").is_some() => {
            let pid = require_id(body, "product_id", "body")?;
            let title = cx.recall(&format!("shopify:product:{pid}:title"));
            (pid, title, vec![body])
        }
        None => {
            return Err(reject(
                MISSING_FIELD,
                "body.variants",
                "a products/update body must be a product with `variants` (or a variant with `product_id` and `price`)",
            ))
        }
    };
    let stamp = text_at(body, "updated_at").unwrap_or_default();
    let base = d.id(&[&product_id, &stamp]);
    let image = text_at(body, "image.src");
    let occurred = time_at(body, &["updated_at"]).unwrap_or(cx.now());
    let mut events = Vec::new();
    let mut seen = 0usize;
    for v in variants {
        // What an inventory level webhook lacks (it names only the inventory item): the
        // product and SKU it stocks, so a restock reaches the watchers of `stock:<sku>` with
        // a link to the product.
        if let Some(item) = id_at(v, "inventory_item_id") {
            cx.remember(
                format!("shopify:inventory:{item}:product"),
                product_id.clone(),
            );
            if let Some(sku) = text_at(v, "sku").filter(|s| !s.trim().is_empty()) {
                cx.remember(format!("shopify:inventory:{item}:sku"), sku);
            }
        }
        let (Some(vid), Some(price)) = (id_at(v, "id"), super::amount_at(v, "price")) else {
            continue;
        };
        seen += 1;
        let key = format!("shopify:variant:{vid}:price");
        let old = cx.recall(&key).and_then(|p| Amount::parse(&p));
        cx.remember(key, price.to_string());
        let Some(old) = old.filter(|o| price.lt(*o)) else {
            continue;
        };
        let variant_title = text_at(v, "title").filter(|t| t != "Default Title");
        let mut data = Data::new(Platform::Shopify);
        data.str("product_id", Some(product_id.clone()))
            .str("variant_id", Some(vid.clone()))
            .str(
                "product_title",
                title.clone().or_else(|| variant_title.clone()),
            )
            .str("variant_title", variant_title)
            .str("sku", text_at(v, "sku"))
            .str("old_price", Some(old.to_string()))
            .str("new_price", Some(price.to_string()))
            .str("compare_at_price", amount_text(v, "compare_at_price"))
            .str("image_url", image.clone());
        let at = time_at(v, &["updated_at"]).unwrap_or(occurred);
        events.push(event(
            super::suffixed("shopify", &base, &vid),
            "product.price_dropped",
            at,
            None,
            data,
        ));
    }
    if events.is_empty() {
        return Err(reject(
            NOT_NOTIFIABLE,
            "body.variants",
            format!(
                "none of the {seen} priced variant(s) of product {product_id} got cheaper than its remembered price \
                 (a first sighting only remembers the price)"
            ),
        ));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{apply, d, one, run, skipped};
    use super::super::*;
    use crate::testing::test;
    use std::collections::BTreeMap;

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!("../../../../fixtures/shopify/", $name))
        };
    }

    const ORDER_CREATED: &[u8] = fixture!("orders_create.rest_order_created.json");
    const ORDER_PENDING: &[u8] = fixture!("orders_create_pending.rest_order_created.json");
    const ORDER_GET: &[u8] = fixture!("orders_updated.rest_order_get.json");
    const ORDER_FULFILLED: &[u8] = fixture!("orders_fulfilled.rest_order_created_fulfilled.json");
    const ORDER_CANCELLED: &[u8] = fixture!("orders_cancelled.rest_order_cancel.json");
    const F_CREATE_TRACKING: &[u8] =
        fixture!("fulfillments_create.rest_fulfillment_create_tracking.json");
    const F_CREATE_URL: &[u8] =
        fixture!("fulfillments_create.rest_fulfillment_create_tracking_url.json");
    const F_UPDATE_TRACKING: &[u8] =
        fixture!("fulfillments_update.rest_fulfillment_update_tracking.json");
    const F_CANCEL: &[u8] = fixture!("fulfillments_update.rest_fulfillment_cancel.json");
    const F_EVENT: &[u8] =
        fixture!("fulfillment_events_create.rest_fulfillment_event_in_transit.json");
    const REFUND: &[u8] = fixture!("refunds_create.rest_refund_create.json");
    const INVENTORY: &[u8] = fixture!("inventory_levels_update.rest_inventory_level_set.json");
    const PRODUCT: &[u8] = fixture!("products_update.rest_product_update_price.json");
    const VARIANT: &[u8] = fixture!("products_update.rest_variant_update_price.json");

    /// Order 450789469 (the fixtures' fulfillments and refund) belongs to customer 207119551.
    const KNOWN_ORDER: &[(&str, &str)] = &[
        ("shopify:order:450789469:customer", "207119551"),
        ("shopify:order:450789469:number", "#1001"),
    ];

    fn shopify(topic: &str, body: &[u8], mem: &[(&str, &str)]) -> Result<Decoded, Rejection> {
        run(
            Platform::Shopify,
            Some(topic),
            Some("b5a1c0de-0000-4000-8000-000000000001"),
            body,
            mem,
        )
    }

    #[test]
    fn orders_create_fixture() {
        let r = shopify("orders/create", ORDER_CREATED, &[]);
        let remember = r.as_ref().unwrap().remember.clone();
        let e = one(r);
        assert_eq!(e.kind, "order.created");
        assert_eq!(e.user_id.as_deref(), Some("shopify:1073339475"));
        assert_eq!(e.id, "shopify:b5a1c0de-0000-4000-8000-000000000001");
        assert_eq!(d(&e, "order_id"), "1073459981");
        assert_eq!(d(&e, "order_number"), "#1002");
        assert_eq!(
            (d(&e, "total"), d(&e, "currency")),
            ("181.09".into(), "USD".into())
        );
        assert_eq!(
            (d(&e, "item_count"), d(&e, "first_item")),
            ("1".into(), "IPod Touch 8GB".into())
        );
        assert_eq!(d(&e, "items.0.sku"), "IPOD2009BLACK");
        assert_eq!(d(&e, "first_name"), "John");
        assert_eq!(d(&e, "payment_status"), "paid");
        assert_eq!(
            e.occurred_at,
            crate::time::parse_rfc3339("2025-04-02T11:31:38-05:00").unwrap()
        );
        assert!(remember.contains(&(
            "shopify:order:1073459981:customer".into(),
            "1073339475".into()
        )));
    }

    #[test]
    fn orders_create_pending_fixture() {
        let e = one(shopify("orders/create", ORDER_PENDING, &[]));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("order.created", Some("shopify:207119551"))
        );
        assert_eq!(
            (d(&e, "total"), d(&e, "payment_status")),
            ("199.00".into(), "pending".into())
        );
    }

    #[test]
    fn orders_updated_fixture_only_teaches_memory_and_paid_notifies() {
        let r = shopify("orders/updated", ORDER_GET, &[]);
        assert_eq!(skipped(&r), NOT_NOTIFIABLE);
        assert!(r.unwrap().remember.contains(&(
            "shopify:order:450789469:customer".into(),
            "207119551".into()
        )));
        // The same shape under orders/paid.
        let e = one(run(
            Platform::Shopify,
            Some("orders/paid"),
            None,
            ORDER_GET,
            &[],
        ));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("order.paid", Some("shopify:207119551"))
        );
        assert_eq!(
            e.id,
            "shopify:orders/paid:450789469:2008-01-10T11:00:00-05:00"
        );
        assert_eq!(
            (d(&e, "total"), d(&e, "item_count")),
            ("598.94".into(), "3".into())
        );
    }

    #[test]
    fn orders_fulfilled_fixture() {
        let e = one(shopify("orders/fulfilled", ORDER_FULFILLED, &[]));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("order.shipped", Some("shopify:1073339468"))
        );
        assert_eq!(
            (d(&e, "order_number"), d(&e, "fulfillment_id")),
            ("#1002".into(), "1069019862".into())
        );
        assert!(
            e.lookup("data.tracking_number").is_none(),
            "this fulfillment has no tracking"
        );
    }

    #[test]
    fn orders_cancelled_fixture() {
        let e = one(shopify("orders/cancelled", ORDER_CANCELLED, &[]));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("order.cancelled", Some("shopify:207119551"))
        );
        assert_eq!(
            (d(&e, "reason"), d(&e, "order_number")),
            ("other".into(), "#1001".into())
        );
        assert_eq!(
            e.occurred_at,
            crate::time::parse_rfc3339("2025-04-02T11:31:25-05:00").unwrap()
        );
    }

    #[test]
    fn fulfillments_create_tracking_fixture() {
        let r = shopify("fulfillments/create", F_CREATE_TRACKING, &[]);
        assert_eq!(skipped(&r), NO_RECIPIENT);
        let e = one(shopify(
            "fulfillments/create",
            F_CREATE_TRACKING,
            KNOWN_ORDER,
        ));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("order.shipped", Some("shopify:207119551"))
        );
        assert_eq!(d(&e, "tracking_number"), "1Z001985YW99744790");
        assert_eq!(d(&e, "carrier"), "UPS");
        assert!(d(&e, "tracking_url").starts_with("https://www.ups.com/"));
        assert_eq!(
            (d(&e, "order_id"), d(&e, "order_number")),
            ("450789469".into(), "#1001".into())
        );
        assert_eq!(d(&e, "first_item"), "Crafty Shoes - Red");
    }

    #[test]
    fn fulfillments_create_tracking_url_fixture() {
        let e = one(shopify(
            "fulfillments/create",
            F_CREATE_URL,
            &KNOWN_ORDER[..1],
        ));
        assert_eq!(e.kind, "order.shipped");
        assert_eq!(d(&e, "tracking_number"), "MS1562678");
        assert!(
            e.lookup("data.carrier").is_none(),
            "tracking_company is null"
        );
        // Without the remembered number, the fulfillment name gives it.
        assert_eq!(d(&e, "order_number"), "#1001");
    }

    #[test]
    fn fulfillments_update_tracking_fixture() {
        let e = one(shopify(
            "fulfillments/update",
            F_UPDATE_TRACKING,
            KNOWN_ORDER,
        ));
        assert_eq!(
            (e.kind.as_str(), d(&e, "fulfillment_id")),
            ("order.shipped", "1069019869".into())
        );
        assert_eq!(d(&e, "tracking_number"), "1Z001985YW99744790");
    }

    #[test]
    fn fulfillments_update_cancel_fixture() {
        let e = one(shopify("fulfillments/update", F_CANCEL, KNOWN_ORDER));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("order.shipment_cancelled", Some("shopify:207119551"))
        );
        // Newlines and runs of whitespace are folded for notification copy.
        assert_eq!(d(&e, "tracking_number"), "#\u{2620}1\u{2622} --- 4321");
    }

    #[test]
    fn fulfillment_events_create_fixture() {
        assert_eq!(
            skipped(&shopify("fulfillment_events/create", F_EVENT, &[])),
            NO_RECIPIENT
        );
        let e = one(shopify("fulfillment_events/create", F_EVENT, KNOWN_ORDER));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("order.in_transit", Some("shopify:207119551"))
        );
        assert_eq!(
            (d(&e, "fulfillment_id"), d(&e, "order_number")),
            ("255858046".into(), "#1001".into())
        );
        assert_eq!(
            e.occurred_at,
            crate::time::parse_rfc3339("2025-04-02T11:39:30-05:00").unwrap()
        );
        let e = one(run(
            Platform::Shopify,
            Some("fulfillment_events/create"),
            None,
            F_EVENT,
            KNOWN_ORDER,
        ));
        assert_eq!(e.id, "shopify:fulfillment_events/create:944956394");
    }

    #[test]
    fn refunds_create_fixture() {
        assert_eq!(
            skipped(&shopify("refunds/create", REFUND, &[])),
            NO_RECIPIENT
        );
        let e = one(shopify("refunds/create", REFUND, KNOWN_ORDER));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("order.refunded", Some("shopify:207119551"))
        );
        assert_eq!(
            (d(&e, "amount"), d(&e, "currency")),
            ("41.94".into(), "USD".into())
        );
        assert_eq!(
            (d(&e, "reason"), d(&e, "refund_id")),
            ("wrong size".into(), "929361472".into())
        );
        assert_eq!(d(&e, "items.0.sku"), "IPOD2008RED");
    }

    /// The default rules applied to a restock: what they decided (without an error) and the
    /// notification they made.
    fn restock_notice(
        e: &crate::event::Event,
    ) -> (crate::rules::Applied, crate::notification::Notification) {
        let applied = crate::rules::RuleSet::default_rules().apply(e, 0);
        assert!(applied.errors.is_empty(), "{:?}", applied.errors);
        let n = applied
            .outcomes
            .iter()
            .find_map(|o| o.notification.clone())
            .expect("a restock notification");
        (applied, n)
    }

    #[test]
    fn a_restock_after_the_products_update_reaches_the_skus_watchers_with_a_link() {
        let mut mem = BTreeMap::new();
        apply(&mut mem, &shopify("products/update", PRODUCT, &[]).unwrap());
        mem.insert(
            "shopify:inventory:808950810:655441491:available".to_owned(),
            "0".to_owned(),
        );
        let borrowed: Vec<(&str, &str)> =
            mem.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let e = one(shopify("inventory_levels/update", INVENTORY, &borrowed));
        assert_eq!(
            (d(&e, "sku"), d(&e, "product_id"), d(&e, "product_title")),
            (
                "Updating the Product SKU".into(),
                "632910392".into(),
                "Updated Product Title".into()
            )
        );
        let (applied, n) = restock_notice(&e);
        assert_eq!(n.link.as_deref(), Some("/products/632910392"));
        assert!(
            n.title.en.starts_with("Updated Product Title"),
            "{:?}",
            n.title
        );
        assert!(
            applied.outcomes.iter().any(|o| o.audience
                == crate::route::Audience::Topic("stock:Updating the Product SKU".into())),
            "{:?}",
            applied
                .outcomes
                .iter()
                .map(|o| &o.audience)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_restock_of_an_item_no_products_update_named_still_notifies() {
        let key = "shopify:inventory:808950810:655441491:available";
        let e = one(shopify("inventory_levels/update", INVENTORY, &[(key, "0")]));
        let (_, n) = restock_notice(&e);
        assert_eq!(n.link.as_deref(), Some("/products/"));
        assert!(
            n.title.en.starts_with("An item you're watching"),
            "{:?}",
            n.title
        );
    }

    #[test]
    fn inventory_levels_update_fixture() {
        let r = shopify("inventory_levels/update", INVENTORY, &[]);
        assert_eq!(
            skipped(&r),
            NOT_NOTIFIABLE,
            "a first sighting only remembers"
        );
        let key = "shopify:inventory:808950810:655441491:available";
        assert_eq!(r.unwrap().remember, vec![(key.to_owned(), "42".to_owned())]);
        let e = one(shopify("inventory_levels/update", INVENTORY, &[(key, "0")]));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("inventory.restocked", None)
        );
        assert_eq!(d(&e, "inventory_item_id"), "808950810");
        assert_eq!(
            (d(&e, "available"), d(&e, "previous_available")),
            ("42".into(), "0".into())
        );
        assert_eq!(
            skipped(&shopify(
                "inventory_levels/update",
                INVENTORY,
                &[(key, "3")]
            )),
            NOT_NOTIFIABLE
        );
        assert_eq!(
            skipped(&shopify(
                "inventory_levels/update",
                INVENTORY,
                &[(key, "42")]
            )),
            NOT_NOTIFIABLE
        );
        let e = one(shopify(
            "inventory_levels/update",
            INVENTORY,
            &[(key, "-2")],
        ));
        assert_eq!(d(&e, "previous_available"), "-2");
    }

    #[test]
    fn products_update_fixture() {
        let r = shopify("products/update", PRODUCT, &[]);
        assert_eq!(skipped(&r), NOT_NOTIFIABLE);
        let remember = r.unwrap().remember;
        assert!(remember.contains(&("shopify:variant:808950810:price".into(), "2000.00".into())));
        assert!(remember.contains(&(
            "shopify:product:632910392:title".into(),
            "Updated Product Title".into()
        )));
        let mem = [
            ("shopify:variant:808950810:price", "2500.00"),
            ("shopify:variant:49148385:price", "150.00"),
        ];
        let e = one(shopify("products/update", PRODUCT, &mem));
        assert_eq!(
            (e.kind.as_str(), e.user_id.as_deref()),
            ("product.price_dropped", None)
        );
        assert_eq!(
            e.id,
            "shopify:b5a1c0de-0000-4000-8000-000000000001:808950810"
        );
        assert_eq!(
            (d(&e, "old_price"), d(&e, "new_price")),
            ("2500.00".into(), "2000.00".into())
        );
        assert_eq!(
            (d(&e, "product_title"), d(&e, "variant_title")),
            ("Updated Product Title".into(), "Pink".into())
        );
        assert_eq!(
            (d(&e, "product_id"), d(&e, "sku")),
            ("632910392".into(), "Updating the Product SKU".into())
        );
    }

    #[test]
    fn products_update_variant_fixture_is_a_one_variant_product() {
        // Alone: first sighting.
        assert_eq!(
            skipped(&shopify("products/update", VARIANT, &[])),
            NOT_NOTIFIABLE
        );
        // After the product fixture (2000.00), the variant update to 99.00 is a drop.
        let mut mem = BTreeMap::new();
        apply(&mut mem, &shopify("products/update", PRODUCT, &[]).unwrap());
        let pairs: Vec<(&str, &str)> = mem.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let e = one(shopify("products/update", VARIANT, &pairs));
        assert_eq!(
            (d(&e, "old_price"), d(&e, "new_price")),
            ("2000.00".into(), "99.00".into())
        );
        assert_eq!(
            (d(&e, "product_title"), d(&e, "variant_title")),
            ("Updated Product Title".into(), "Not Pink".into())
        );
        assert_eq!(d(&e, "sku"), "IPOD2008PINK");
    }

    #[test]
    fn order_memory_addresses_later_fulfillments() {
        let mut mem = BTreeMap::new();
        apply(
            &mut mem,
            &shopify("orders/updated", ORDER_GET, &[]).unwrap(),
        );
        let pairs: Vec<(&str, &str)> = mem.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let e = one(shopify("refunds/create", REFUND, &pairs));
        assert_eq!(
            (e.user_id.as_deref(), d(&e, "order_number")),
            (Some("shopify:207119551"), "#1001".into())
        );
    }

    #[test]
    fn one_carrier_scan_notifies_once() {
        let mut mem: BTreeMap<String, String> = KNOWN_ORDER
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        // Shopify reports in_transit as a fulfillment event and as a fulfillment update.
        let pairs = |m: &BTreeMap<String, String>| -> Vec<(String, String)> {
            m.clone().into_iter().collect()
        };
        let first = shopify("fulfillment_events/create", F_EVENT, &borrow(&pairs(&mem)));
        apply(&mut mem, first.as_ref().unwrap());
        assert_eq!(one(first).kind, "order.in_transit");
        let update = br#"{"id":255858046,"order_id":450789469,"status":"success","shipment_status":"in_transit","tracking_number":"1Z1234512345123456"}"#;
        let second = shopify("fulfillments/update", update, &borrow(&pairs(&mem)));
        assert_eq!(skipped(&second), NOT_NOTIFIABLE);
        apply(&mut mem, second.as_ref().unwrap());
        let delivered = br#"{"id":255858046,"order_id":450789469,"status":"success","shipment_status":"delivered","tracking_number":"1Z1234512345123456","tracking_company":"USPS"}"#;
        let e = one(shopify(
            "fulfillments/update",
            delivered,
            &borrow(&pairs(&mem)),
        ));
        assert_eq!(
            (e.kind.as_str(), d(&e, "carrier")),
            ("order.delivered", "USPS".into())
        );
        // A later fulfillment event gets the tracking remembered from the update.
        let mut later: BTreeMap<String, String> = mem.clone();
        later.insert(
            "shopify:fulfillment:255858046:notified".into(),
            "order.in_transit".into(),
        );
        let ofd = br#"{"id":1,"fulfillment_id":255858046,"order_id":450789469,"status":"out_for_delivery"}"#;
        let e = one(shopify(
            "fulfillment_events/create",
            ofd,
            &borrow(&pairs(&later)),
        ));
        assert_eq!(
            (e.kind.as_str(), d(&e, "tracking_number")),
            ("order.out_for_delivery", "1Z1234512345123456".into())
        );
    }

    fn borrow(v: &[(String, String)]) -> Vec<(&str, &str)> {
        v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn shipped_tracking_updates_notify_only_when_tracking_changes() {
        let mem = [
            ("shopify:order:450789469:customer", "207119551"),
            (
                "shopify:fulfillment:1069019869:notified",
                "order.shipped|1Z001985YW99744790",
            ),
        ];
        assert_eq!(
            skipped(&shopify("fulfillments/update", F_UPDATE_TRACKING, &mem)),
            NOT_NOTIFIABLE
        );
        let mem = [
            ("shopify:order:450789469:customer", "207119551"),
            (
                "shopify:fulfillment:1069019869:notified",
                "order.shipped|OLD123",
            ),
        ];
        assert_eq!(
            one(shopify("fulfillments/update", F_UPDATE_TRACKING, &mem)).kind,
            "order.shipped"
        );
    }

    #[test]
    fn rejects_precisely() {
        let r = shopify("customers/create", b"{}", &[]).unwrap_err();
        assert_eq!(
            (r.code.as_str(), r.path.as_str()),
            (UNSUPPORTED_TOPIC, "header.X-Shopify-Topic")
        );
        let r = shopify("orders/create", br#"{"customer":{"id":1}}"#, &[]).unwrap_err();
        assert_eq!(
            (r.code.as_str(), r.path.as_str()),
            (MISSING_FIELD, "body.id")
        );
        let r = shopify("orders/create", br#"{"id":[1],"customer":{"id":1}}"#, &[]).unwrap_err();
        assert_eq!((r.code.as_str(), r.path.as_str()), (WRONG_TYPE, "body.id"));
        let r = shopify("orders/create", br#"{"id":5,"customer":null}"#, &[]);
        assert_eq!(skipped(&r), NO_RECIPIENT);
        let r = shopify(
            "inventory_levels/update",
            br#"{"inventory_item_id":5,"available":"x"}"#,
            &[],
        )
        .unwrap_err();
        assert_eq!(
            (r.code.as_str(), r.path.as_str()),
            (WRONG_TYPE, "body.available")
        );
        let r = shopify("products/update", br#"{"id":5}"#, &[]).unwrap_err();
        assert_eq!(
            (r.code.as_str(), r.path.as_str()),
            (MISSING_FIELD, "body.variants")
        );
        let r = shopify(
            "fulfillments/create",
            br#"{"id":5,"order_id":6,"status":"pending"}"#,
            KNOWN_ORDER,
        );
        assert_eq!(skipped(&r), NOT_NOTIFIABLE);
        let r = shopify(
            "refunds/create",
            br#"{"id":5,"order_id":450789469,"transactions":[]}"#,
            KNOWN_ORDER,
        );
        assert_eq!(skipped(&r), NOT_NOTIFIABLE);
    }
}
