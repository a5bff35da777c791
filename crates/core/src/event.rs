//! The canonical event: what happened in the store, in one shape whatever
//! backend or platform reported it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::Millis;

/// One thing that happened in the store, e.g. `order.shipped` for user `u42`.
///
/// Decoders for Tidings' own format and for Shopify, Stripe and WooCommerce
/// webhooks all produce this; rules only ever see this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Producer-chosen unique id; a repeated id is a duplicate.
    pub id: String,
    /// Canonical type such as `order.shipped` or `inventory.restocked`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened, unix milliseconds.
    pub occurred_at: Millis,
    /// The shopper it concerns, when there is one (topic events have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Free-form details used by rule templates (`{data.order_number}`).
    #[serde(default)]
    pub data: Value,
}

impl Event {
    /// Looks up a dotted path such as `data.order_number`, `user_id` or `type`.
    ///
    /// Arrays are indexed by number (`data.items.0.sku`).
    pub fn lookup(&self, path: &str) -> Option<Lookup<'_>> {
        // Paths are short: a plain scan beats the `char` searcher's memchr setup.
        let mut parts = path.split(['.']);
        match parts.next()? {
            "id" => only(parts, Lookup::Str(&self.id)),
            "type" => only(parts, Lookup::Str(&self.kind)),
            "user_id" => only(parts, Lookup::Str(self.user_id.as_deref()?)),
            "occurred_at" => only(parts, Lookup::Int(self.occurred_at)),
            "data" => {
                let mut v = &self.data;
                for part in parts {
                    v = match v {
                        Value::Object(map) => map.get(part)?,
                        Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
                        _ => return None,
                    };
                }
                Some(Lookup::Json(v))
            }
            _ => None,
        }
    }
}

fn only<'a, 'p>(mut rest: impl Iterator<Item = &'p str>, v: Lookup<'a>) -> Option<Lookup<'a>> {
    rest.next().is_none().then_some(v)
}

/// A value found by [`Event::lookup`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lookup<'a> {
    /// A string field of the event itself.
    Str(&'a str),
    /// An integer field of the event itself.
    Int(i64),
    /// A value inside `data`.
    Json(&'a Value),
}

impl Lookup<'_> {
    /// The value as text, the way a template prints it (`null` prints as nothing).
    pub fn to_text(&self) -> String {
        match self {
            Lookup::Str(s) => (*s).to_owned(),
            Lookup::Int(i) => i.to_string(),
            Lookup::Json(Value::String(s)) => s.clone(),
            Lookup::Json(Value::Null) => String::new(),
            Lookup::Json(v) => v.to_string(),
        }
    }

    /// The value as a number, when it is one (or a string holding one, as
    /// platforms send prices like `"19.99"`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Lookup::Int(i) => Some(*i as f64),
            Lookup::Json(Value::Number(n)) => n.as_f64(),
            Lookup::Json(Value::String(s)) => s.trim().parse().ok(),
            Lookup::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;
    use serde_json::json;

    #[test]
    fn looks_up_dotted_paths() {
        let e = Event {
            id: "e1".into(),
            kind: "order.shipped".into(),
            occurred_at: 5,
            user_id: Some("u1".into()),
            data: json!({"order": {"number": 1001, "items": [{"sku": "A"}]}, "price": "19.50"}),
        };
        assert_eq!(e.lookup("type").unwrap().to_text(), "order.shipped");
        assert_eq!(e.lookup("data.order.number").unwrap().to_text(), "1001");
        assert_eq!(e.lookup("data.order.items.0.sku").unwrap().to_text(), "A");
        assert_eq!(e.lookup("data.price").unwrap().as_f64(), Some(19.5));
        assert!(e.lookup("data.missing").is_none());
        assert!(e.lookup("user_id.x").is_none());
        assert!(e.lookup("nope").is_none());
    }
}
