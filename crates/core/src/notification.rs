//! The notification a shopper sees, and its vocabulary: category, priority,
//! read state and localized text.

use serde::{Deserialize, Serialize};

use crate::time::Millis;

/// What a notification is about; drives tabs, icons and muting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Orders: placed, shipped, delivered, cancelled, refunded.
    Order,
    /// Payments: succeeded, failed.
    Payment,
    /// Stock: back in stock, running low.
    Stock,
    /// Price drops on watched products.
    Price,
    /// Promotions and marketing.
    Promo,
    /// Account notices (cannot be muted).
    Account,
    /// Security notices (cannot be muted).
    Security,
    /// Operator alerts.
    Ops,
}

impl Category {
    /// Every category, in tab order.
    pub const ALL: [Category; 8] = [
        Category::Order,
        Category::Payment,
        Category::Stock,
        Category::Price,
        Category::Promo,
        Category::Account,
        Category::Security,
        Category::Ops,
    ];

    /// The name used in rules, frames and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Order => "order",
            Category::Payment => "payment",
            Category::Stock => "stock",
            Category::Price => "price",
            Category::Promo => "promo",
            Category::Account => "account",
            Category::Security => "security",
            Category::Ops => "ops",
        }
    }

    /// Parses a category name (`order`, `payment`, …).
    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Account and security messages reach the shopper whatever they muted.
    pub fn can_be_muted(self) -> bool {
        !matches!(self, Category::Account | Category::Security)
    }
}

/// How much a notification matters; `Urgent` also raises a toast and ignores quiet hours.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Nice to know.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Worth attention soon.
    High,
    /// Act now; shown as a toast, delivered even in quiet hours.
    Urgent,
}

impl Priority {
    /// Parses `low`, `normal`, `high` or `urgent`.
    pub fn parse(name: &str) -> Option<Priority> {
        match name {
            "low" => Some(Priority::Low),
            "normal" => Some(Priority::Normal),
            "high" => Some(Priority::High),
            "urgent" => Some(Priority::Urgent),
            _ => None,
        }
    }
}

/// Read state of a notification, synced across a shopper's devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReadState {
    /// Not seen yet; counts towards the badge.
    #[default]
    Unread,
    /// Seen.
    Read,
    /// Put away; only shown in the archived view.
    Archived,
}

/// A language the center and the templates speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Locale {
    /// English.
    #[default]
    En,
    /// Chinese (simplified).
    Zh,
}

/// A text in every [`Locale`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Localized {
    /// English text.
    pub en: String,
    /// Chinese text.
    pub zh: String,
}

impl Localized {
    /// The text in `locale`, falling back to English when that one is empty.
    pub fn get(&self, locale: Locale) -> &str {
        match locale {
            Locale::Zh if !self.zh.is_empty() => &self.zh,
            _ => &self.en,
        }
    }
}

/// One item of a shopper's inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Stable id; notifications sharing a collapse key share an id, so a newer
    /// one replaces the older in place wherever it is stored.
    pub id: String,
    /// Position in the user's log, assigned by the Inbox; 0 before it is stored.
    #[serde(default)]
    pub seq: u64,
    /// The event type that produced it.
    #[serde(rename = "type")]
    pub kind: String,
    /// What it is about.
    pub category: Category,
    /// How much it matters.
    #[serde(default)]
    pub priority: Priority,
    /// Headline.
    pub title: Localized,
    /// Details.
    #[serde(default)]
    pub body: Localized,
    /// Where a click leads: a relative path or an https URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// When the underlying event happened (unix ms).
    pub created_at: Millis,
    /// After this it is dropped from every view (unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Millis>,
    /// Items with the same key are one item whose text changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collapse_key: Option<String>,
    /// Read state.
    #[serde(default)]
    pub state: ReadState,
    /// When the edge ingested the event (unix ms), for latency statistics.
    #[serde(default)]
    pub ingested_at: Millis,
}

impl Notification {
    /// `true` once `now` is at or past its expiry.
    pub fn is_expired(&self, now: Millis) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

/// The id a notification gets from its event and collapse key: collapsed
/// items share `c:<key>`, others use `e:<event id>`.
pub fn notification_id(event_id: &str, collapse_key: Option<&str>) -> String {
    let (prefix, rest) = match collapse_key {
        Some(k) => ("c:", k),
        None => ("e:", event_id),
    };
    let mut id = String::with_capacity(prefix.len() + rest.len());
    id.push_str(prefix);
    id.push_str(rest);
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;

    #[test]
    fn vocabulary_round_trips() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
        assert!(
            !Category::Security.can_be_muted()
                && !Category::Account.can_be_muted()
                && Category::Promo.can_be_muted()
        );
        assert!(Priority::Urgent > Priority::High && Priority::Low < Priority::Normal);
        let t = Localized {
            en: "Hi".into(),
            zh: String::new(),
        };
        assert_eq!(t.get(Locale::Zh), "Hi");
        assert_eq!(notification_id("e1", Some("order:1")), "c:order:1");
    }
}
