//! The canonical event: what happened in the store, in one shape whatever
//! backend or platform reported it.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

pub use crate::data::{Data, Json};
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
    pub data: Data,
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
            "data" => self
                .data
                .pointer(parts.map(|p| (p, p.parse::<usize>().ok())))
                .map(Lookup::Json),
            _ => None,
        }
    }
}

/// A dotted path split once, for lookups repeated on every event (template placeholders):
/// [`Event::lookup_path`] finds exactly what [`Event::lookup`] finds for the same text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// FNV-1a of the path's text: two paths of different text almost always differ here,
    /// so [`Memo`] compares one number before the words.
    hash: u64,
    root: Root,
    /// The words after the root, with their value as an array index when they are one.
    rest: Vec<(String, Option<usize>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Id,
    Type,
    UserId,
    OccurredAt,
    Data,
    Unknown,
}

impl Path {
    /// Splits `path` at its dots.
    pub fn parse(path: &str) -> Path {
        let mut parts = path.split(['.']);
        let root = match parts.next() {
            Some("id") => Root::Id,
            Some("type") => Root::Type,
            Some("user_id") => Root::UserId,
            Some("occurred_at") => Root::OccurredAt,
            Some("data") => Root::Data,
            _ => Root::Unknown,
        };
        let rest = parts
            .map(|p| (p.to_owned(), p.parse::<usize>().ok()))
            .collect();
        let hash = crate::fnv::hash(path.as_bytes());
        Path { hash, root, rest }
    }
}

impl Event {
    /// [`Event::lookup`] of a path split beforehand.
    pub fn lookup_path(&self, path: &Path) -> Option<Lookup<'_>> {
        let bare = path.rest.is_empty();
        let bare = |v| bare.then_some(v);
        match path.root {
            Root::Id => bare(Lookup::Str(&self.id)),
            Root::Type => bare(Lookup::Str(&self.kind)),
            Root::UserId => bare(Lookup::Str(self.user_id.as_deref()?)),
            Root::OccurredAt => bare(Lookup::Int(self.occurred_at)),
            Root::Data => self
                .data
                .pointer(path.rest.iter().map(|(k, i)| (k.as_str(), *i)))
                .map(Lookup::Json),
            Root::Unknown => None,
        }
    }
}

/// An event's values, each looked up once while one rule renders its
/// templates: `data.order_id` in the collapse key and the link is found once.
/// Remembers the first [`Memo::CAPACITY`] distinct paths; later ones are
/// looked up every time (still correct, only slower).
pub struct Memo<'e, 'p> {
    event: &'e Event,
    seen: [(Option<&'p Path>, Option<Lookup<'e>>); Memo::CAPACITY],
    len: usize,
}

impl<'e, 'p> Memo<'e, 'p> {
    /// How many distinct paths are remembered.
    pub const CAPACITY: usize = 8;

    /// Nothing looked up yet.
    pub fn new(event: &'e Event) -> Self {
        Memo {
            event,
            seen: [(None, None); Memo::CAPACITY],
            len: 0,
        }
    }

    /// The event looked into.
    pub fn event(&self) -> &'e Event {
        self.event
    }

    /// [`Event::lookup_path`], remembered.
    pub fn lookup(&mut self, path: &'p Path) -> Option<Lookup<'e>> {
        for (p, v) in &self.seen[..self.len] {
            if p.is_some_and(|p| std::ptr::eq(p, path) || (p.hash == path.hash && *p == *path)) {
                return *v;
            }
        }
        let v = self.event.lookup_path(path);
        if let Some(slot) = self.seen.get_mut(self.len) {
            *slot = (Some(path), v);
            self.len += 1;
        }
        v
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
    Json(Json<'a>),
}

impl<'a> Lookup<'a> {
    /// The value as text, the way a template prints it (`null` prints as nothing).
    pub fn to_text(&self) -> Cow<'a, str> {
        match *self {
            Lookup::Str(s) => Cow::Borrowed(s),
            Lookup::Int(i) => Cow::Owned(i.to_string()),
            Lookup::Json(v) => v.to_text(),
        }
    }

    /// The value as a number, when it is one (or a string holding one, as
    /// platforms send prices like `"19.99"`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Lookup::Int(i) => Some(*i as f64),
            Lookup::Json(v) => v.as_f64(),
            Lookup::Str(s) => s.trim().parse().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;
    use serde_json::json;

    /// An `order.shipped` event `e1` for `u1` at 5 ms with `data`.
    fn event(data: serde_json::Value) -> Event {
        Event {
            id: "e1".into(),
            kind: "order.shipped".into(),
            occurred_at: 5,
            user_id: Some("u1".into()),
            data: data.into(),
        }
    }

    #[test]
    fn looks_up_dotted_paths() {
        let e =
            event(json!({"order": {"number": 1001, "items": [{"sku": "A"}]}, "price": "19.50"}));
        assert_eq!(e.lookup("type").unwrap().to_text(), "order.shipped");
        assert_eq!(e.lookup("data.order.number").unwrap().to_text(), "1001");
        assert_eq!(e.lookup("data.order.items.0.sku").unwrap().to_text(), "A");
        assert_eq!(e.lookup("data.price").unwrap().as_f64(), Some(19.5));
        assert!(e.lookup("data.missing").is_none());
        assert!(e.lookup("user_id.x").is_none());
        assert!(e.lookup("nope").is_none());
    }

    #[test]
    fn a_memo_answers_what_a_lookup_answers_past_its_capacity() {
        let e = event(json!({"a": 1, "b": "x", "c": null, "d": [1, 2]}));
        let texts = [
            "data.a",
            "data.b",
            "data.c",
            "data.d.1",
            "id",
            "type",
            "user_id",
            "occurred_at",
            "data.zz",
            "data.d.0",
            "data.a",
            "data.b",
        ];
        let paths: Vec<Path> = texts.iter().map(|t| Path::parse(t)).collect();
        let again: Vec<Path> = texts.iter().map(|t| Path::parse(t)).collect();
        let mut memo = Memo::new(&e);
        for p in paths.iter().chain(&again).chain(&paths) {
            assert_eq!(memo.lookup(p), e.lookup_path(p), "{p:?}");
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_split_path_finds_what_the_text_finds(path in "(id|type|user_id|occurred_at|data|x)(\\.(order|items|0|1|sku|number|price|x|)){0,4}") {
            let e: Event = serde_json::from_str(r#"{
                "id": "e1", "type": "order.shipped", "occurred_at": 5, "user_id": "u1",
                "data": {"order": {"number": 1001, "items": [{"sku": "A"}, {"sku": "B"}]}, "price": 19.5, "x": null}
            }"#).unwrap();
            prop_assert_eq!(e.lookup_path(&Path::parse(&path)), e.lookup(&path), "{}", path);
        }
    }
}
