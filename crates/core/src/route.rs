//! Routing: who a rendered notification reaches and when, honouring each
//! recipient's preferences (mute, quiet hours, throttle → digest) and
//! scheduling (`deliver_at`, delays, cancellation by `cancel_key`).

use serde::{Deserialize, Serialize};

use crate::time::Millis;

/// Who a rule addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Audience {
    /// One shopper, by user id (`user:u42`).
    User(String),
    /// Everyone watching a topic (`topic:watch:sku-1`).
    Topic(String),
    /// A segment (`segment:all`, `segment:ops`).
    Segment(String),
}

impl Audience {
    /// Parses `user:…`, `topic:…` or `segment:…`.
    pub fn parse(text: &str) -> Option<Audience> {
        let (kind, name) = text.split_once(':')?;
        if name.is_empty() {
            return None;
        }
        match kind {
            "user" => Some(Audience::User(name.to_owned())),
            "topic" => Some(Audience::Topic(name.to_owned())),
            "segment" => Some(Audience::Segment(name.to_owned())),
            _ => None,
        }
    }
}

/// At most `limit` notifications per `per` milliseconds per recipient (and
/// per rule); the rest fold into one digest item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    /// How many may pass in one window.
    pub limit: u32,
    /// Window length, milliseconds.
    pub per: Millis,
}
