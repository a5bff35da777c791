//! Platform webhooks (Shopify, Stripe, WooCommerce) → canonical [`Event`]s.
//!
//! # Why it looks like this
//! Stores do not send Tidings events; their platforms send webhooks, each in
//! its own shape, each describing *a resource as it is now* rather than *what
//! changed*. Turning "product 632910392 now costs 99.00" into "the price
//! dropped from 2000.00 to 99.00" needs what the previous delivery said, so
//! the decoders read a small key→value [`Memory`] the edge keeps between
//! deliveries and hand back, in [`Decoded::remember`], what it must store.
//! Like the rest of the core this is pure: bytes, headers, memory and `now`
//! in; events, memory writes and a verdict out. The signature has already
//! been checked by [`crate::signature`]; this module only interprets
//! verified bodies.
//!
//! # Outcomes
//! [`decode`] answers in three ways:
//! - `Ok(Decoded { events: [..], skipped: None, .. })`: one or more events to route;
//! - `Ok(Decoded { events: [], skipped: Some(r), .. })`: understood, but nothing to
//!   notify (`r.code` is [`NO_RECIPIENT`] or [`NOT_NOTIFIABLE`]). `remember` may
//!   still hold entries (a first price sighting, a new order status) and the
//!   shell must store them;
//! - `Err(r)`: the delivery could not be used at all: `malformed_json`,
//!   `wrong_type`, `missing_field`, `unsupported_topic` or `not_an_event`.
//!   Nothing is remembered.
//!
//! Every outcome is final for that body: retrying the same delivery cannot
//! turn a rejection into an event, so the shell should answer the platform
//! with a 2xx (or a 4xx it will not retry) and log the rejection.
//! `remember` only lists entries whose value differs from what `memory`
//! already holds, so an unchanged product costs no writes.
//!
//! # Recipients and ids
//! | platform | `user_id` | event `id` |
//! |---|---|---|
//! | Shopify | `shopify:<customer.id>`; fulfillments, fulfillment events and refunds carry only `order_id`, so the customer comes from memory (`shopify:order:<order_id>:customer`, learnt from any `orders/*` delivery) | `shopify:<X-Shopify-Webhook-Id>`, else `shopify:<topic>:<resource id>:<updated_at>` |
//! | Stripe | `data.object.metadata.tidings_user` verbatim, else `stripe:<customer>` | the event's `evt_…` id, verbatim |
//! | WooCommerce | `woocommerce:<customer_id>` (0 is a guest: `no_recipient`) | `woocommerce:<X-WC-Webhook-Delivery-ID>`, else `woocommerce:<topic>:<id>:<date_modified_gmt>` |
//!
//! Stock and price events concern everyone watching a product, so their
//! `user_id` is `None`; rules pick the audience, e.g.
//! `topic:stock:shopify:{data.inventory_item_id}`. A delivery that yields
//! several events (one per variant whose price dropped) suffixes the id:
//! `<id>:<variant_id>` (Shopify), `<id>:price` / `<id>:stock` / `<id>:refund`
//! (WooCommerce). Ids longer than 120 characters are replaced by
//! `<platform>:h:<sha256 prefix>`.
//!
//! # Canonical types and their `data`
//! Every event's `data` has `platform` (`shopify`, `stripe`, `woocommerce`).
//! Ids are strings, money amounts are decimal strings in major units
//! (`"41.94"`, Stripe's minor units are converted), currencies upper-case ISO
//! codes. Absent facts are left out, never `null`. Text is trimmed, has
//! whitespace runs folded to one space and is cut to 200 characters.
//!
//! *Order fields* are `order_id`, `order_number` (display form, `#1001`; for Stripe
//! `metadata.order_number`, else `#` and the last 8 characters of the order's id, never
//! `client_reference_id`, which stores fill with cart or customer ids),
//! `total`, `currency`, `item_count` (number), `first_item` (title),
//! `items` (up to 10 × `{title, quantity, sku}`), `first_name` (the shopper's)
//! `url` (the shopper's order status page) and, for WooCommerce, `status`
//! (and `payment_method` on `payment.failed`), when the payload has them.
//! *Tracking fields* are `fulfillment_id`, `tracking_number`, `carrier`,
//! `tracking_url`, `shipment_status`.
//!
//! | type | from | `data` |
//! |---|---|---|
//! | `order.created` | Shopify `orders/create`; Stripe `checkout.session.completed` (mode `payment`/`subscription`); WooCommerce `order.created` | order fields, `payment_status` (Shopify `financial_status`, Stripe `payment_status`) |
//! | `order.paid` | Shopify `orders/paid`; WooCommerce `order.updated` → `processing` | order fields |
//! | `order.cancelled` | Shopify `orders/cancelled`; WooCommerce → `cancelled` | order fields, `reason` (Shopify `cancel_reason`) |
//! | `order.shipped` | Shopify `orders/fulfilled`, `fulfillments/create`, `fulfillments/update` (no carrier status yet, new tracking) | order number, tracking fields, `items`, `item_count`, `first_item` |
//! | `order.in_transit`, `order.out_for_delivery`, `order.delivered`, `order.delivery_attempted`, `order.ready_for_pickup`, `order.delivery_failed` | Shopify `fulfillments/update` (`shipment_status`) and `fulfillment_events/create` (`status`) | as `order.shipped`, plus `message`, `city`, `province`, `country`, `estimated_delivery_at` from fulfillment events |
//! | `order.shipment_cancelled` | Shopify `fulfillments/update` with `status: cancelled` | as `order.shipped` |
//! | `order.completed` | WooCommerce → `completed` (the merchant closed the order: usually *shipped*, not necessarily delivered, hence not `order.delivered`) | order fields |
//! | `order.refunded` | Shopify `refunds/create`; Stripe `charge.refunded`; WooCommerce → `refunded`, or a grown `refunds[]` total | `order_id`, `order_number`, `amount` (this refund), `currency`, `reason`, `refund_id`, `fully_refunded` (bool, Stripe/WooCommerce), `payment_id` (Stripe), `items` (Shopify) |
//! | `payment.succeeded` | Stripe `payment_intent.succeeded` | `payment_id`, `amount`, `currency`, `order_id`/`order_number` (from metadata, else the PaymentIntent's id and its last 8 characters: one order by the id its Checkout Session, PaymentIntent and Charges share), `receipt_url` |
//! | `payment.failed` | Stripe `payment_intent.payment_failed`; WooCommerce → `failed` (also an `order.created` already `failed`) | `payment_id`, `amount`, `currency`, `reason` (`last_payment_error.message`), `failure_code`, `order_id`/`order_number` as for `payment.succeeded`; order fields and `amount` (the order's total) for WooCommerce |
//! | `inventory.restocked` | Shopify `inventory_levels/update` (available ≤ 0 → > 0); WooCommerce `product.updated` (`stock_status` → `instock`) | Shopify: `inventory_item_id`, `location_id`, `available`, `previous_available`, and the `product_id`, `sku` and `product_title` a `products/update` named for the item (subscribe to it: the storefront's watchers follow `stock:<sku>`); WooCommerce: `product_id`, `product_title`, `sku`, `url`, `image_url` |
//! | `product.price_dropped` | Shopify `products/update` (per variant); WooCommerce `product.updated` | `product_id`, `variant_id` (Shopify), `product_title`, `variant_title`, `sku`, `old_price`, `new_price`, `compare_at_price` / `regular_price`, `url` (WooCommerce), `image_url` |
//!
//! # Memory keys
//! | key | value | written by |
//! |---|---|---|
//! | `shopify:order:<id>:customer` / `:number` | customer id / `#1001` | every Shopify `orders/*` topic |
//! | `shopify:fulfillment:<id>:tracking` | JSON `{number, carrier, url}` | fulfillments |
//! | `shopify:fulfillment:<id>:notified` | last shipping type sent (`order.in_transit`, `order.shipped\|<tracking>`) | shipping events: Shopify sends both `fulfillment_events/create` and `fulfillments/update` for one carrier scan; the second is `not_notifiable` |
//! | `shopify:inventory:<item>:<location>:available` | last `available` | `inventory_levels/update` |
//! | `shopify:variant:<id>:price` / `shopify:product:<id>:title` | last price / title | `products/update` |
//! | `shopify:inventory:<item>:product` / `:sku` | the product and SKU a variant's inventory item stocks | `products/update` |
//! | `woocommerce:order:<id>:status` / `:refunded` | last status / refunded total | `order.created`, `order.updated` |
//! | `woocommerce:product:<id>:price` / `:stock` | last price / `stock_status` | `product.updated` |
//!
//! First sightings only remember: a price, a stock level or a refund total
//! with nothing remembered before is not news. Two exceptions, both explicit
//! in the payload: a WooCommerce product seen on sale (`sale_price` below
//! `regular_price`) with no remembered price counts as a drop from
//! `regular_price`, and a WooCommerce order status is mapped even when no
//! status was remembered.
//!
//! # Decisions on odd payloads
//! - A Shopify bare *variant* object under `products/update` (as in the REST
//!   variant update response) is accepted as a one-variant product; its
//!   `product_title` comes from memory, else the variant title.
//! - Shopify `orders/updated` only teaches memory (order → customer) and is
//!   `not_notifiable`: it says that something changed, not what.
//! - A Stripe object that is not an event envelope (a bare `payment_intent`)
//!   is `not_an_event`; a WooCommerce refund resource (`refunded_by`, no
//!   `status`) is `not_an_event` too, because WooCommerce has no refund topic
//!   and reports refunds as `order.updated` with the order.
//! - WooCommerce `action.*` topics carry a hook name and an opaque argument,
//!   no shopper or order: `unsupported_topic`.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::event::Event;
use crate::ingest::Rejection;
use crate::time::{parse_rfc3339, Millis};

mod shopify;
mod stripe;
mod woocommerce;

/// Code of a delivery whose body is not JSON.
pub const MALFORMED_JSON: &str = "malformed_json";
/// Code of a delivery whose body, or one of its fields, has the wrong JSON type.
pub const WRONG_TYPE: &str = "wrong_type";
/// Code of a delivery lacking a field (or header) the decoder needs.
pub const MISSING_FIELD: &str = "missing_field";
/// Code of a topic / event type Tidings does not map to a canonical event.
pub const UNSUPPORTED_TOPIC: &str = "unsupported_topic";
/// Code of a body that is a resource rather than a webhook payload.
pub const NOT_AN_EVENT: &str = "not_an_event";
/// Code of a delivery that concerns a shopper Tidings cannot identify.
pub const NO_RECIPIENT: &str = "no_recipient";
/// Code of a delivery that was understood but is not news (nothing changed).
pub const NOT_NOTIFIABLE: &str = "not_notifiable";

/// How many days the memory of one order is kept after a webhook last used it, unless the
/// edge is told otherwise (`TIDINGS_ORDER_MEMORY_DAYS`): longer than any order takes to ship,
/// be delivered and be refunded.
pub const ORDER_MEMORY_DAYS: u32 = 180;

/// When the memory entry `key`, written or read at `now`, may be forgotten.
///
/// What the decoders remember about one order or one fulfilment (`<platform>:order:…`,
/// `<platform>:fulfillment:…`: its customer, number, status, refunded total, tracking) grows
/// with every order a store takes, so it goes `order_days` after a delivery last wrote or read
/// it: a Shopify fulfilment webhook for an order untouched that long finds no customer and is
/// `no_recipient`. What they remember about products (prices, titles, stock levels) is bounded
/// by the catalogue and kept (`None`). The shell stores the time with the entry, renews it on
/// every use and treats an entry past it as absent.
pub fn memory_expiry(key: &str, now: Millis, order_days: u32) -> Option<Millis> {
    let kind = key.split(':').nth(1)?;
    matches!(kind, "order" | "fulfillment")
        .then(|| now.saturating_add(i64::from(order_days).saturating_mul(crate::time::DAY)))
}

/// The commerce platform a webhook came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Shopify Admin webhooks (REST-shaped JSON bodies).
    Shopify,
    /// Stripe event envelopes.
    Stripe,
    /// WooCommerce webhooks (wp_api_v1..v3 or legacy_v3 bodies).
    WooCommerce,
}

impl Platform {
    /// Lower-case name, as used in ids, `user_id`s and `data.platform`.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Shopify => "shopify",
            Platform::Stripe => "stripe",
            Platform::WooCommerce => "woocommerce",
        }
    }

    /// Parses `shopify`, `stripe` or `woocommerce` (e.g. from a URL path segment).
    pub fn parse(name: &str) -> Option<Platform> {
        match name {
            "shopify" => Some(Platform::Shopify),
            "stripe" => Some(Platform::Stripe),
            "woocommerce" => Some(Platform::WooCommerce),
            _ => None,
        }
    }
}

/// The request headers the decoders read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookHeaders<'a> {
    /// `X-Shopify-Topic` (or `shopify-topic`), `X-WC-Webhook-Topic`; unused for Stripe.
    pub topic: Option<&'a str>,
    /// `X-Shopify-Webhook-Id` (or `shopify-webhook-id`), `X-WC-Webhook-Delivery-ID`; unused for Stripe.
    pub delivery_id: Option<&'a str>,
}

impl<'a> WebhookHeaders<'a> {
    /// Reads the platform's headers through `get`, which is called with
    /// lower-case header names and returns the value if present.
    pub fn read(platform: Platform, get: impl Fn(&str) -> Option<&'a str>) -> Self {
        let first = |names: &[&str]| names.iter().find_map(|n| get(n));
        match platform {
            Platform::Shopify => WebhookHeaders {
                topic: first(&["x-shopify-topic", "shopify-topic"]),
                delivery_id: first(&["x-shopify-webhook-id", "shopify-webhook-id"]),
            },
            Platform::WooCommerce => WebhookHeaders {
                topic: first(&["x-wc-webhook-topic"]),
                delivery_id: first(&["x-wc-webhook-delivery-id"]),
            },
            Platform::Stripe => WebhookHeaders::default(),
        }
    }
}

/// A small key→value store the edge persists between deliveries.
pub trait Memory {
    /// The value last stored under `key`, if any.
    fn get(&self, key: &str) -> Option<String>;
}

impl<S: BuildHasher> Memory for HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

impl Memory for BTreeMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        BTreeMap::get(self, key).cloned()
    }
}

/// What one verified delivery means.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decoded {
    /// Canonical events to route, in order (empty when `skipped`).
    pub events: Vec<Event>,
    /// `(key, value)` pairs the shell must store in its [`Memory`] (only changed ones).
    pub remember: Vec<(String, String)>,
    /// Why nothing is notified (`no_recipient` or `not_notifiable`), when `events` is empty.
    pub skipped: Option<Rejection>,
}

/// Decodes one verified webhook body into canonical events.
///
/// See the module documentation for the outcomes, codes and mappings.
pub fn decode(
    platform: Platform,
    headers: &WebhookHeaders<'_>,
    body: &[u8],
    memory: &dyn Memory,
    now: Millis,
) -> Result<Decoded, Rejection> {
    if platform == Platform::WooCommerce && is_woocommerce_ping(body) {
        return Err(Rejection::new(
            NOT_AN_EVENT,
            "body",
            "this is WooCommerce's activation ping (`webhook_id=…`, unsigned); answer it with 200 without decoding it",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Rejection::new(
            MALFORMED_JSON,
            "body",
            format!("the webhook body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(Rejection::new(
            WRONG_TYPE,
            "body",
            format!(
                "the webhook body must be a JSON object, got {}",
                kind_of(&value)
            ),
        ));
    }
    let mut cx = Cx {
        memory,
        remember: Vec::new(),
        now,
    };
    let topic = |header: &str| {
        headers
            .topic
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Rejection::new(
                    MISSING_FIELD,
                    format!("header.{header}"),
                    format!("the {header} header is missing or empty; it names what the webhook is about"),
                )
            })
    };
    let delivery = headers.delivery_id.map(str::trim).filter(|d| !d.is_empty());
    let outcome = match platform {
        Platform::Shopify => shopify::decode(topic("X-Shopify-Topic")?, delivery, &value, &mut cx),
        Platform::Stripe => stripe::decode(&value, &mut cx),
        Platform::WooCommerce => {
            woocommerce::decode(topic("X-WC-Webhook-Topic")?, delivery, &value, &mut cx)
        }
    };
    match outcome {
        Ok(events) => Ok(Decoded {
            events,
            remember: cx.remember,
            skipped: None,
        }),
        Err(r) if r.code == NO_RECIPIENT || r.code == NOT_NOTIFIABLE => Ok(Decoded {
            events: Vec::new(),
            remember: cx.remember,
            skipped: Some(r),
        }),
        Err(r) => Err(r),
    }
}

/// `true` for WooCommerce's unsigned activation ping, a form body `webhook_id=<n>`.
pub fn is_woocommerce_ping(body: &[u8]) -> bool {
    let body = body.trim_ascii();
    match body.strip_prefix(b"webhook_id=") {
        Some(n) => !n.is_empty() && n.len() <= 20 && n.iter().all(u8::is_ascii_digit),
        None => false,
    }
}

// ---------------------------------------------------------------------------
// Shared machinery for the platform decoders.

/// Decoding context: memory reads and the writes collected so far.
pub(crate) struct Cx<'a> {
    memory: &'a dyn Memory,
    remember: Vec<(String, String)>,
    now: Millis,
}

impl Cx<'_> {
    /// The value of `key`, taking this delivery's own writes into account.
    pub(crate) fn recall(&self, key: &str) -> Option<String> {
        match self.remember.iter().rev().find(|(k, _)| k == key) {
            Some((_, v)) => Some(v.clone()),
            None => self.memory.get(key),
        }
    }

    /// Asks the shell to store `value` under `key`, unless it already holds it.
    pub(crate) fn remember(&mut self, key: String, value: String) {
        if self.recall(&key).as_deref() == Some(value.as_str()) {
            return;
        }
        self.remember.retain(|(k, _)| *k != key);
        self.remember.push((key, value));
    }

    /// The time to use when a payload carries no usable timestamp.
    pub(crate) fn now(&self) -> Millis {
        self.now
    }
}

/// A non-null value at `key` of an object.
pub(crate) fn field<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// A non-null value at a dotted path (`customer.id`, `refunds.data.0.id`).
pub(crate) fn at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    for part in path.split('.') {
        cur = match cur {
            Value::Object(m) => m.get(part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    (!cur.is_null()).then_some(cur)
}

/// An identifier: a whole number or a non-empty string, as a string.
pub(crate) fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .map(|u| u.to_string())
            .or_else(|| n.as_i64().map(|i| i.to_string())),
        Value::String(s) => {
            let s = clean(s);
            (!s.is_empty()).then_some(s)
        }
        _ => None,
    }
}

/// An identifier at `path`.
pub(crate) fn id_at(v: &Value, path: &str) -> Option<String> {
    at(v, path).and_then(id_of)
}

/// A required identifier at `path`; `base` prefixes the path in rejections.
pub(crate) fn require_id(v: &Value, path: &str, base: &str) -> Result<String, Rejection> {
    match at(v, path) {
        None => Err(Rejection::new(
            MISSING_FIELD,
            format!("{base}.{path}"),
            format!("`{path}` is required to identify the resource and is missing or null"),
        )),
        Some(x) => id_of(x).ok_or_else(|| {
            Rejection::new(
                WRONG_TYPE,
                format!("{base}.{path}"),
                format!(
                    "`{path}` must be a whole number or a non-empty string, got {}",
                    kind_of(x)
                ),
            )
        }),
    }
}

/// Cleaned, non-empty text at `path` (numbers are printed).
pub(crate) fn text_at(v: &Value, path: &str) -> Option<String> {
    match at(v, path)? {
        Value::String(s) => {
            let s = clean(s);
            (!s.is_empty()).then_some(s)
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A whole number at `path` (a number or a string holding one).
pub(crate) fn int_at(v: &Value, path: &str) -> Option<i64> {
    match at(v, path)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A money amount at `path`.
pub(crate) fn amount_at(v: &Value, path: &str) -> Option<Amount> {
    at(v, path).and_then(Amount::from_value)
}

/// The first parseable timestamp among `paths`. Timestamps without an
/// offset (`2017-03-22T19:28:02`, WooCommerce's `*_gmt`) are read as UTC.
pub(crate) fn time_at(v: &Value, paths: &[&str]) -> Option<Millis> {
    paths.iter().find_map(|p| {
        let s = at(v, p)?.as_str()?.trim();
        parse_rfc3339(s)
            .ok()
            .or_else(|| (s.len() == 19).then(|| parse_rfc3339(&format!("{s}Z")).ok())?)
    })
}

/// Trims, folds whitespace and control characters into single spaces, and
/// cuts to 200 characters: text fit for a notification.
pub(crate) fn clean(s: &str) -> String {
    let mut out = String::new();
    for word in s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() > 800 {
            break;
        }
    }
    match out.char_indices().nth(200) {
        Some((cut, _)) => out[..cut].trim_end().to_owned(),
        None => out,
    }
}

/// `#1001` for a purely numeric order number, otherwise the number as given.
pub(crate) fn display_number(n: &str) -> String {
    if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
        format!("#{n}")
    } else {
        n.to_owned()
    }
}

/// An event id `<platform>:<parts joined by ':'>`, hashed when too long.
pub(crate) fn make_id(platform: &str, parts: &[&str]) -> String {
    let joined = parts.join(":");
    let id = format!("{platform}:{joined}");
    if id.chars().count() <= 120 {
        id
    } else {
        let digest = Sha256::digest(joined.as_bytes());
        format!("{platform}:h:{}", hex::encode(&digest[..16]))
    }
}

/// `<base>:<suffix>` for the second and later events of one delivery, hashed when too long.
pub(crate) fn suffixed(platform: &str, base: &str, suffix: &str) -> String {
    let id = format!("{base}:{suffix}");
    if id.chars().count() <= 120 {
        id
    } else {
        make_id(platform, &[&id])
    }
}

/// `data` under construction: absent values are simply left out.
#[derive(Default, Clone)]
pub(crate) struct Data(Map<String, Value>);

impl Data {
    /// Starts `data` with `platform`.
    pub(crate) fn new(platform: Platform) -> Self {
        let mut d = Data::default();
        d.str("platform", Some(platform.name().to_owned()));
        d
    }
    /// Sets a string field when present.
    pub(crate) fn str(&mut self, key: &str, value: Option<String>) -> &mut Self {
        if let Some(v) = value {
            self.0.insert(key.to_owned(), Value::String(v));
        }
        self
    }
    /// Sets a whole-number field when present.
    pub(crate) fn int(&mut self, key: &str, value: Option<i64>) -> &mut Self {
        if let Some(v) = value {
            self.0.insert(key.to_owned(), Value::from(v));
        }
        self
    }
    /// Sets any JSON value.
    pub(crate) fn set(&mut self, key: &str, value: Value) -> &mut Self {
        self.0.insert(key.to_owned(), value);
        self
    }
    /// The finished `data` object.
    pub(crate) fn done(self) -> crate::data::Data {
        crate::data::Data::from(self.0)
    }
}

/// One line item for `data.items`.
pub(crate) struct Item {
    pub(crate) title: Option<String>,
    pub(crate) quantity: Option<i64>,
    pub(crate) sku: Option<String>,
}

/// Adds `items` (first 10), `item_count` and `first_item` to `data`.
pub(crate) fn put_items(data: &mut Data, items: &[Item]) {
    if items.is_empty() {
        return;
    }
    let count = items.iter().try_fold(0i64, |acc, i| {
        acc.checked_add(i.quantity.unwrap_or(1).max(0))
    });
    data.int("item_count", count);
    data.str("first_item", items.iter().find_map(|i| i.title.clone()));
    let list = items
        .iter()
        .take(10)
        .map(|i| {
            let mut m = Map::new();
            if let Some(t) = &i.title {
                m.insert("title".into(), Value::String(t.clone()));
            }
            if let Some(q) = i.quantity {
                m.insert("quantity".into(), Value::from(q));
            }
            if let Some(s) = &i.sku {
                m.insert("sku".into(), Value::String(s.clone()));
            }
            Value::Object(m)
        })
        .collect();
    data.set("items", Value::Array(list));
}

/// A rejection for a skipped-but-understood delivery or a refused one.
pub(crate) fn reject(code: &str, path: impl Into<String>, message: impl Into<String>) -> Rejection {
    Rejection::new(code, path, message)
}

/// `a number`, `an array`…, for messages.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An exact decimal money amount (`"41.94"` is 4194 × 10⁻²), so prices
/// compare and add without floating-point surprises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Amount {
    units: i128,
    scale: u32,
}

impl Amount {
    /// Parses `"19.99"`, `"-10.00"`, `"3"`; at most 24 digits and 12 decimals.
    pub(crate) fn parse(s: &str) -> Option<Amount> {
        let s = s.trim();
        let (neg, rest) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
        if (int.is_empty() && frac.is_empty())
            || int.len() + frac.len() > 24
            || frac.len() > 12
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut units: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            units = units.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        }
        Some(Amount {
            units: if neg { -units } else { units },
            scale: u32::try_from(frac.len()).ok()?,
        })
    }

    /// Reads a JSON string or number.
    pub(crate) fn from_value(v: &Value) -> Option<Amount> {
        match v {
            Value::String(s) => Amount::parse(s),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Some(Amount {
                    units: i128::from(i),
                    scale: 0,
                }),
                None => Amount::parse(&n.to_string()),
            },
            _ => None,
        }
    }

    /// `minor` units of a currency with `exponent` decimals (Stripe's 2000 usd is 20.00).
    pub(crate) fn from_minor(minor: i64, exponent: u32) -> Amount {
        Amount {
            units: i128::from(minor),
            scale: exponent,
        }
    }

    fn at_scale(self, scale: u32) -> Option<i128> {
        self.units
            .checked_mul(10i128.checked_pow(scale.checked_sub(self.scale)?)?)
    }

    fn aligned(self, other: Amount) -> Option<(i128, i128, u32)> {
        let scale = self.scale.max(other.scale);
        Some((self.at_scale(scale)?, other.at_scale(scale)?, scale))
    }

    /// `self < other`, when both fit.
    pub(crate) fn lt(self, other: Amount) -> bool {
        self.aligned(other).is_some_and(|(a, b, _)| a < b)
    }

    /// `self + other`.
    pub(crate) fn add(self, other: Amount) -> Option<Amount> {
        let (a, b, scale) = self.aligned(other)?;
        Some(Amount {
            units: a.checked_add(b)?,
            scale,
        })
    }

    /// `self - other`.
    pub(crate) fn sub(self, other: Amount) -> Option<Amount> {
        let (a, b, scale) = self.aligned(other)?;
        Some(Amount {
            units: a.checked_sub(b)?,
            scale,
        })
    }

    /// The absolute value.
    pub(crate) fn abs(self) -> Amount {
        Amount {
            units: self.units.saturating_abs(),
            scale: self.scale,
        }
    }

    /// `true` when both are the same amount (`8.0` and `8.00`).
    pub(crate) fn same(self, other: Amount) -> bool {
        self.aligned(other).is_some_and(|(a, b, _)| a == b)
    }

    /// `true` when above zero.
    pub(crate) fn is_positive(self) -> bool {
        self.units > 0
    }

    /// Zero, with no decimals.
    pub(crate) const ZERO: Amount = Amount { units: 0, scale: 0 };
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = self.units.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        let sign = if self.units < 0 { "-" } else { "" };
        if frac.is_empty() {
            write!(f, "{sign}{int}")
        } else {
            write!(f, "{sign}{int}.{frac}")
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testing::test;

    /// Decodes with `memory` given as pairs.
    pub(crate) fn run(
        platform: Platform,
        topic: Option<&str>,
        delivery_id: Option<&str>,
        body: &[u8],
        memory: &[(&str, &str)],
    ) -> Result<Decoded, Rejection> {
        let mem: BTreeMap<String, String> = memory
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        decode(
            platform,
            &WebhookHeaders { topic, delivery_id },
            body,
            &mem,
            1_800_000_000_000,
        )
    }

    /// Applies a delivery's `remember` to `mem`, as the shell would.
    pub(crate) fn apply(mem: &mut BTreeMap<String, String>, d: &Decoded) {
        for (k, v) in &d.remember {
            mem.insert(k.clone(), v.clone());
        }
    }

    /// The one event of a decoded delivery, or a panic naming what came instead.
    pub(crate) fn one(r: Result<Decoded, Rejection>) -> Event {
        match r {
            Ok(d) if d.events.len() == 1 => d.events.into_iter().next().unwrap(),
            other => panic!("expected one event, got {other:?}"),
        }
    }

    /// The skip code of a delivery that produced no event.
    pub(crate) fn skipped(r: &Result<Decoded, Rejection>) -> String {
        match r {
            Ok(Decoded {
                events,
                skipped: Some(s),
                ..
            }) if events.is_empty() => s.code.clone(),
            other => panic!("expected a skip, got {other:?}"),
        }
    }

    /// `data.<key>` as text.
    pub(crate) fn d(e: &Event, key: &str) -> String {
        e.lookup(&format!("data.{key}"))
            .map(|l| l.to_text().into_owned())
            .unwrap_or_else(|| panic!("data.{key} missing in {:?}", e.data))
    }

    #[test]
    fn amounts_are_exact() {
        let a = Amount::parse("41.94").unwrap();
        let b = Amount::parse("0.06").unwrap();
        assert_eq!(a.add(b).unwrap().to_string(), "42.00");
        assert!(Amount::parse("99.00")
            .unwrap()
            .lt(Amount::parse("2000").unwrap()));
        assert!(!Amount::parse("2000.00")
            .unwrap()
            .lt(Amount::parse("2000").unwrap()));
        assert!(Amount::parse("8.0")
            .unwrap()
            .same(Amount::parse("8.00").unwrap()));
        assert_eq!(Amount::parse("-10.00").unwrap().abs().to_string(), "10.00");
        assert_eq!(Amount::from_minor(5, 2).to_string(), "0.05");
        assert_eq!(Amount::from_minor(-1500, 2).to_string(), "-15.00");
        assert_eq!(Amount::from_minor(1500, 0).to_string(), "1500");
        for bad in [
            "",
            ".",
            "1.2.3",
            "abc",
            "1e5",
            "--1",
            "1234567890123456789012345",
        ] {
            assert!(Amount::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            Amount::from_value(&Value::from(3)).unwrap().to_string(),
            "3"
        );
    }

    #[test]
    fn cleans_text_for_notifications() {
        assert_eq!(
            clean("#\u{2620}1\u{2622}\n---\n4321\n"),
            "#\u{2620}1\u{2622} --- 4321"
        );
        assert_eq!(clean("  a\t\u{0}b  "), "a b");
        assert_eq!(clean(&"x".repeat(500)).chars().count(), 200);
        assert_eq!(display_number("1001"), "#1001");
        assert_eq!(display_number("WC-7"), "WC-7");
    }

    #[test]
    fn ids_stay_short() {
        assert_eq!(make_id("shopify", &["abc"]), "shopify:abc");
        let long = make_id("shopify", &[&"x".repeat(300)]);
        assert!(long.starts_with("shopify:h:") && long.len() == "shopify:h:".len() + 32);
        let base = make_id("shopify", &[&"y".repeat(110)]);
        assert_eq!(suffixed("shopify", "shopify:w1", "7"), "shopify:w1:7");
        assert!(suffixed("shopify", &base, &"9".repeat(30)).starts_with("shopify:h:"));
    }

    #[test]
    fn recognises_the_woocommerce_ping() {
        assert!(is_woocommerce_ping(b"webhook_id=535"));
        assert!(is_woocommerce_ping(b"webhook_id=7\n"));
        assert!(!is_woocommerce_ping(b"webhook_id="));
        assert!(!is_woocommerce_ping(b"webhook_id=5&x=1"));
        assert!(!is_woocommerce_ping(br#"{"webhook_id":5}"#));
        let r = run(
            Platform::WooCommerce,
            Some("order.updated"),
            None,
            b"webhook_id=535",
            &[],
        );
        assert_eq!(r.unwrap_err().code, NOT_AN_EVENT);
    }

    #[test]
    fn reads_headers_by_platform() {
        let h = |n: &str| match n {
            "shopify-topic" => Some("orders/paid"),
            "x-shopify-webhook-id" => Some("w1"),
            "x-wc-webhook-topic" => Some("order.updated"),
            _ => None,
        };
        let s = WebhookHeaders::read(Platform::Shopify, h);
        assert_eq!((s.topic, s.delivery_id), (Some("orders/paid"), Some("w1")));
        let w = WebhookHeaders::read(Platform::WooCommerce, h);
        assert_eq!((w.topic, w.delivery_id), (Some("order.updated"), None));
        assert_eq!(
            WebhookHeaders::read(Platform::Stripe, h),
            WebhookHeaders::default()
        );
        assert_eq!(Platform::parse("woocommerce"), Some(Platform::WooCommerce));
        assert_eq!(Platform::parse("Shopify"), None);
    }

    #[test]
    fn refuses_unusable_bodies_precisely() {
        let r = run(Platform::Stripe, None, None, b"{\"id\":", &[]).unwrap_err();
        assert_eq!((r.code.as_str(), r.path.as_str()), (MALFORMED_JSON, "body"));
        let r = run(Platform::Shopify, Some("orders/create"), None, b"[1]", &[]).unwrap_err();
        assert_eq!(r.code, WRONG_TYPE);
        assert!(r.message.contains("an array"), "{}", r.message);
        let r = run(Platform::Shopify, None, None, b"{}", &[]).unwrap_err();
        assert_eq!(
            (r.code.as_str(), r.path.as_str()),
            (MISSING_FIELD, "header.X-Shopify-Topic")
        );
        let r = run(Platform::WooCommerce, Some("  "), None, b"{}", &[]).unwrap_err();
        assert_eq!(r.path, "header.X-WC-Webhook-Topic");
    }

    #[test]
    fn order_memory_expires_and_product_memory_stays() {
        let now = 1_700_000_000_000;
        let later = now + 180 * crate::time::DAY;
        for key in [
            "shopify:order:450789469:customer",
            "shopify:order:450789469:number",
            "shopify:fulfillment:1069019868:tracking",
            "woocommerce:order:53:status",
        ] {
            assert_eq!(
                memory_expiry(key, now, ORDER_MEMORY_DAYS),
                Some(later),
                "{key}"
            );
            assert_eq!(memory_expiry(key, now, 0), Some(now), "{key}");
        }
        for key in [
            "shopify:variant:808950810:price",
            "shopify:product:632910392:title",
            "woocommerce:product:99:price",
            "orders",
            "",
        ] {
            assert_eq!(memory_expiry(key, now, ORDER_MEMORY_DAYS), None, "{key}");
        }
        // Every key a decoder remembers about an order or a fulfilment is one of them.
        let mut memory = HashMap::new();
        for (topic, body) in [
            (
                "orders/updated",
                &include_bytes!("../../../../fixtures/shopify/orders_updated.rest_order_get.json")[..],
            ),
            (
                "fulfillments/create",
                &include_bytes!("../../../../fixtures/shopify/fulfillments_create.rest_fulfillment_create_tracking.json")[..],
            ),
        ] {
            let headers = WebhookHeaders {
                topic: Some(topic),
                delivery_id: None,
            };
            let d = decode(Platform::Shopify, &headers, body, &memory, now).unwrap();
            assert!(!d.remember.is_empty(), "{topic}");
            for (k, _) in &d.remember {
                assert!(memory_expiry(k, now, 1).is_some(), "{k}");
            }
            memory.extend(d.remember);
        }
    }

    #[test]
    fn remember_lists_only_changes() {
        let mem: BTreeMap<String, String> = [("k".to_owned(), "1".to_owned())].into();
        let mut cx = Cx {
            memory: &mem,
            remember: Vec::new(),
            now: 0,
        };
        cx.remember("k".into(), "1".into());
        assert!(cx.remember.is_empty());
        cx.remember("k".into(), "2".into());
        cx.remember("k".into(), "3".into());
        assert_eq!(cx.remember, vec![("k".to_owned(), "3".to_owned())]);
        assert_eq!(cx.recall("k").as_deref(), Some("3"));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    const KEYS: &[&str] = &[
        "id",
        "type",
        "object",
        "created",
        "data",
        "customer",
        "customer_id",
        "order_id",
        "status",
        "shipment_status",
        "tracking_number",
        "tracking_company",
        "variants",
        "price",
        "product_id",
        "available",
        "inventory_item_id",
        "transactions",
        "amount",
        "kind",
        "line_items",
        "metadata",
        "tidings_user",
        "refunds",
        "total",
        "order",
        "fulfillment_id",
        "name",
        "title",
        "regular_price",
        "sale_price",
        "stock_status",
        "last_payment_error",
        "amount_refunded",
        "previous_attributes",
        "display_items",
        "mode",
        "currency",
        "updated_at",
        "refunded_by",
        "number",
        "quantity",
    ];

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e20f64..1e20).prop_map(Value::from),
            "[a-z0-9_./# -]{0,12}".prop_map(Value::String),
            "[a-z0-9]{100,140}".prop_map(Value::String),
            prop::sample::select(
                &[
                    "0",
                    "-1",
                    "19.99",
                    "in_transit",
                    "cancelled",
                    "processing",
                    "2025-04-02T11:39:30-05:00",
                    "1e400",
                    "-0.00"
                ][..]
            )
            .prop_map(|s| Value::String(s.to_owned())),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }),
            ]
        })
    }

    const TOPICS: &[(Platform, &str)] = &[
        (Platform::Shopify, "orders/create"),
        (Platform::Shopify, "orders/paid"),
        (Platform::Shopify, "orders/cancelled"),
        (Platform::Shopify, "orders/fulfilled"),
        (Platform::Shopify, "orders/updated"),
        (Platform::Shopify, "fulfillments/create"),
        (Platform::Shopify, "fulfillments/update"),
        (Platform::Shopify, "fulfillment_events/create"),
        (Platform::Shopify, "refunds/create"),
        (Platform::Shopify, "inventory_levels/update"),
        (Platform::Shopify, "products/update"),
        (Platform::Stripe, ""),
        (Platform::WooCommerce, "order.created"),
        (Platform::WooCommerce, "order.updated"),
        (Platform::WooCommerce, "product.updated"),
        (Platform::WooCommerce, "action.woocommerce_add_to_cart"),
    ];

    /// A memory that answers every key with the same (arbitrary) value.
    struct Everything(String);
    impl Memory for Everything {
        fn get(&self, _: &str) -> Option<String> {
            Some(self.0.clone())
        }
    }

    /// Every fixture file of the three platforms is used by a test.
    #[test]
    fn every_fixture_is_tested() {
        let sources = [
            include_str!("shopify.rs"),
            include_str!("stripe.rs"),
            include_str!("woocommerce.rs"),
        ]
        .concat();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let mut seen = 0;
        for dir in ["shopify", "stripe", "woocommerce"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                assert!(
                    sources.contains(&format!("\"{name}\"")),
                    "fixture {dir}/{name} has no test"
                );
                seen += 1;
            }
        }
        assert_eq!(seen, 14 + 10 + 8);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256), t in 0..TOPICS.len()) {
            let (platform, topic) = TOPICS[t];
            let headers = WebhookHeaders { topic: Some(topic), delivery_id: None };
            let _ = decode(platform, &headers, &body, &BTreeMap::new(), 0);
        }

        #[test]
        fn arbitrary_json_never_panics(
            mut v in json(),
            typ in prop::sample::select(&["payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded", "checkout.session.completed", "x"][..]),
            t in 0..TOPICS.len(),
            remembered in prop::option::of(prop::sample::select(&["0", "-3", "99.50", "{\"number\":\"1Z\"}", "processing", "order.shipped|", "x", ""][..])),
            delivery in prop::option::of("[a-z0-9]{0,200}"),
        ) {
            let (platform, topic) = TOPICS[t];
            if let (Platform::Stripe, Value::Object(m)) = (platform, &mut v) {
                m.insert("type".into(), Value::String(typ.to_owned()));
                m.insert("object".into(), Value::String("event".into()));
            }
            let body = serde_json::to_vec(&v).unwrap();
            let headers = WebhookHeaders { topic: Some(topic), delivery_id: delivery.as_deref() };
            let outcome = match remembered {
                Some(r) => decode(platform, &headers, &body, &Everything(r.to_owned()), 0),
                None => decode(platform, &headers, &body, &BTreeMap::new(), 0),
            };
            if let Ok(d) = outcome {
                prop_assert_eq!(d.events.is_empty(), d.skipped.is_some());
                for e in &d.events {
                    prop_assert!(crate::ingest::is_event_type(&e.kind));
                    prop_assert!(!e.id.is_empty() && e.id.chars().count() <= 128);
                }
            }
        }
    }
}
