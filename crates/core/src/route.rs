//! Routing: who a rendered notification reaches and when, honouring each
//! recipient's preferences (mute, quiet hours, throttle → digest) and
//! scheduling (`deliver_at`, delays, cancellation by `cancel_key`).
//!
//! # Why it looks like this
//! The per-user Inbox Durable Object owns one recipient's routing state and
//! persists it between requests and alarms. Everything here is a pure state
//! machine in the quinn-proto manner: the DO hands in a notification, the
//! shopper's [`Preferences`] and `now`; it gets back a [`Decision`] (or an
//! [`Outcome`]) and, after any alarm, the notifications that became due. The
//! DO then sets its alarm to [`Router::next_wakeup`]. No clock, no storage.
//!
//! # Precedence of [`decide`]
//! The first rule that applies wins:
//! 1. **expired** (`expires_at <= now`) → [`Decision::Drop`] with [`DropReason::Expired`];
//! 2. **muted** category (never account or security) → [`Decision::Drop`] with [`DropReason::Muted`];
//! 3. **throttle** exceeded → [`Decision::Digest`]: the item folds into one
//!    summary released when the throttle window ends. A throttle applies at
//!    every priority: the rule author opted into it;
//! 4. **quiet hours** → [`Decision::Defer`] until they end, except
//!    [`Priority::Urgent`], which is never deferred;
//! 5. otherwise [`Decision::Deliver`].
//!
//! An item that passes its throttle but is then deferred has used its slot in
//! the window. A released digest summary goes through [`decide`] again without
//! a throttle, so it too respects mute and quiet hours at release time.
//!
//! # Throttle windows
//! Fixed windows anchored at the first item that passes: `limit` items pass
//! from `t` to `t + per`, the rest fold into the digest released at `t + per`;
//! the first item after that opens a new window. Compared with a sliding log
//! this needs one counter per key and gives every digest one clear release
//! time.
//!
//! # Cancellation and tombstones
//! [`Schedule::cancel`] removes every pending item with that `cancel_key`
//! created at or before the cancelling event, and leaves a tombstone for
//! [`TOMBSTONE_TTL`]. Webhooks arrive out of order (an order can overtake the
//! cart update that scheduled a reminder), so [`Schedule::add`] refuses an
//! item whose key has a tombstone and which was created at or before the
//! cancelling event. An item created *after* the cancel is a new one and is
//! kept, so a reused key (a new cart with the same id) still works.
//! Cancellation reaches scheduled and deferred items; an item already folded
//! into a digest is only counted there and is not cancelled.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::notification::{notification_id, Category, Localized, Notification, Priority};
use crate::prefs::Preferences;
use crate::time::{parse_duration, Millis, DAY, HOUR, MINUTE, SECOND};

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
        Audience::from_text(text.to_owned())
    }

    /// [`Audience::parse`] of an owned string, reusing its buffer for the name.
    pub fn from_text(mut text: String) -> Option<Audience> {
        let colon = text.find(':')?;
        let make: fn(String) -> Audience = match &text[..colon] {
            "user" => Audience::User,
            "topic" => Audience::Topic,
            "segment" => Audience::Segment,
            _ => return None,
        };
        if colon + 1 == text.len() {
            return None;
        }
        text.drain(..=colon);
        Some(make(text))
    }
}

/// At most `limit` notifications per `per` milliseconds per recipient (and
/// per rule, and per collapse key when the rule has one); the rest fold into one
/// digest item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    /// How many may pass in one window.
    pub limit: u32,
    /// Window length, milliseconds.
    pub per: Millis,
}

impl Throttle {
    /// Parses `"N per <duration>"` with an optional trailing `"per recipient"`
    /// (throttles are always per recipient, so the suffix only documents it):
    /// `"1 per 6h"`, `"5 per 1h30m per recipient"`. The error is a sentence a
    /// rule author can act on.
    pub fn parse(text: &str) -> Result<Throttle, String> {
        let shown: String = text.chars().take(64).collect();
        let shape =
            || format!("throttle `{shown}` must look like `1 per 6h` or `5 per 1h per recipient`");
        let mut words: Vec<&str> = text.split_whitespace().collect();
        if words.len() > 3 && words[words.len() - 2..] == ["per", "recipient"] {
            words.truncate(words.len() - 2);
        }
        let (limit, per) = match words.as_slice() {
            [limit, "per", duration @ ..] if !duration.is_empty() => (*limit, duration.join(" ")),
            _ => return Err(shape()),
        };
        if !limit.bytes().all(|b| b.is_ascii_digit()) {
            return Err(shape());
        }
        let limit: u32 = limit.parse().map_err(|_| shape())?;
        if limit == 0 {
            return Err(format!(
                "throttle `{shown}` lets nothing through; the count must be at least 1"
            ));
        }
        let per = parse_duration(&per).map_err(|e| format!("throttle `{shown}`: {e}"))?;
        if per <= 0 {
            return Err(format!(
                "throttle `{shown}` needs a window longer than zero, like 6h"
            ));
        }
        Ok(Throttle { limit, per })
    }
}

impl fmt::Display for Throttle {
    /// Formats as `1 per 6h`, the notation [`Throttle::parse`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = [
            (7 * DAY, "w"),
            (DAY, "d"),
            (HOUR, "h"),
            (MINUTE, "m"),
            (SECOND, "s"),
        ]
        .into_iter()
        .find(|(u, _)| self.per > 0 && self.per % u == 0);
        match unit {
            Some((u, name)) => write!(f, "{} per {}{name}", self.limit, self.per / u),
            None => write!(f, "{} per {}ms", self.limit, self.per),
        }
    }
}

/// A throttle together with the key its window is counted under (usually
/// the rule name); the key also names the digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyedThrottle {
    /// Window and digest key, e.g. `price-drop`.
    pub key: String,
    /// The limit.
    pub throttle: Throttle,
}

/// Why an item was not delivered and never will be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum DropReason {
    /// `expires_at` had passed before it could be delivered.
    Expired,
    /// The shopper muted its category.
    Muted {
        /// The muted category.
        category: Category,
    },
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Expired => f.write_str("expired before delivery"),
            DropReason::Muted { category } => {
                write!(f, "the shopper muted {}", category.as_str())
            }
        }
    }
}

/// What to do with one notification for one recipient, right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Store it in the log and push it now.
    Deliver,
    /// Quiet hours: keep it in the [`Schedule`] until `until`.
    Defer {
        /// When quiet hours end (unix ms).
        until: Millis,
    },
    /// Throttled: fold it into the [`DigestBuffer`] under `key`, released at `until`.
    Digest {
        /// Digest key (the throttle key).
        key: String,
        /// End of the throttle window (unix ms).
        until: Millis,
    },
    /// Do not deliver.
    Drop {
        /// Why.
        reason: DropReason,
    },
}

/// One throttle window: how many items passed since it opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleWindow {
    /// When the first passing item opened it (unix ms).
    pub opened_at: Millis,
    /// When it closes (unix ms); the digest for its key is released then.
    pub closes_at: Millis,
    /// Items that passed in it.
    pub passed: u32,
}

/// One recipient's throttle windows, by throttle key. Windows that closed are
/// pruned on every use, so the state stays as small as the set of busy rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ThrottleState {
    #[serde(default)]
    windows: BTreeMap<String, ThrottleWindow>,
}

impl ThrottleState {
    /// Counts one item under `key`: `Ok(())` if it may pass, otherwise
    /// `Err(closes_at)`, the end of the window it must wait for. A throttle
    /// with a window of zero or less never holds anything back; a limit of
    /// zero holds back everything.
    pub fn admit(&mut self, key: &str, throttle: Throttle, now: Millis) -> Result<(), Millis> {
        self.prune(now);
        if throttle.per <= 0 {
            return Ok(());
        }
        let window = self
            .windows
            .entry(key.to_owned())
            .or_insert(ThrottleWindow {
                opened_at: now,
                closes_at: now.saturating_add(throttle.per),
                passed: 0,
            });
        if window.passed < throttle.limit {
            window.passed += 1;
            Ok(())
        } else {
            Err(window.closes_at)
        }
    }

    /// Forgets windows that closed at or before `now`.
    pub fn prune(&mut self, now: Millis) {
        self.windows.retain(|_, w| w.closes_at > now);
    }

    /// The open window for `key`, if any (it may have closed if not pruned yet).
    pub fn window(&self, key: &str) -> Option<&ThrottleWindow> {
        self.windows.get(key)
    }

    /// Number of windows held.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// `true` when no window is held.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

/// Decides what happens to `notification` for one recipient at `now`; see the
/// module docs for the precedence. Only a notification that reaches the
/// throttle step is counted in `state`.
pub fn decide(
    notification: &Notification,
    prefs: &Preferences,
    throttle: Option<(&str, Throttle)>,
    state: &mut ThrottleState,
    now: Millis,
) -> Decision {
    if notification.is_expired(now) {
        return Decision::Drop {
            reason: DropReason::Expired,
        };
    }
    if prefs.is_muted(notification.category) {
        return Decision::Drop {
            reason: DropReason::Muted {
                category: notification.category,
            },
        };
    }
    if let Some((key, throttle)) = throttle {
        if let Err(until) = state.admit(key, throttle, now) {
            return Decision::Digest {
                key: key.to_owned(),
                until,
            };
        }
    }
    if notification.priority != Priority::Urgent {
        if let Some(until) = prefs.quiet_until(now) {
            if until > now {
                return Decision::Defer { until };
            }
        }
    }
    Decision::Deliver
}

/// Items folded under one digest key, waiting for their window to close.
/// Only the count and the newest item are kept, so a burst of thousands costs
/// one notification of storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestGroup {
    /// When to release the summary (unix ms).
    pub until: Millis,
    /// How many items were folded.
    pub count: u32,
    /// The highest priority among them.
    pub priority: Priority,
    /// The newest item (by `created_at`, later arrival on ties).
    pub latest: Notification,
}

/// One recipient's pending digests, by digest key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DigestBuffer {
    #[serde(default)]
    groups: BTreeMap<String, DigestGroup>,
}

impl DigestBuffer {
    /// Folds `notification` into the digest `key`, released at `until`. A group
    /// that already waits keeps its earlier release time.
    pub fn fold(&mut self, key: &str, until: Millis, notification: Notification) {
        match self.groups.get_mut(key) {
            Some(group) => {
                group.count = group.count.saturating_add(1);
                group.priority = group.priority.max(notification.priority);
                group.until = group.until.min(until);
                if notification.created_at >= group.latest.created_at {
                    group.latest = notification;
                }
            }
            None => {
                self.groups.insert(
                    key.to_owned(),
                    DigestGroup {
                        until,
                        count: 1,
                        priority: notification.priority,
                        latest: notification,
                    },
                );
            }
        }
    }

    /// Removes every group due at `now` and returns one summary notification
    /// per key (see [`digest_summary`]), earliest release first.
    pub fn take_due(&mut self, now: Millis) -> Vec<Notification> {
        let due: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, g)| g.until <= now)
            .map(|(k, _)| k.clone())
            .collect();
        let mut taken: Vec<(String, DigestGroup)> = due
            .into_iter()
            .filter_map(|k| self.groups.remove(&k).map(|g| (k, g)))
            .collect();
        taken.sort_by(|(ka, a), (kb, b)| (a.until, ka).cmp(&(b.until, kb)));
        taken
            .iter()
            .map(|(key, group)| digest_summary(key, group))
            .collect()
    }

    /// When the next digest is due, if any.
    pub fn next_release(&self) -> Option<Millis> {
        self.groups.values().map(|g| g.until).min()
    }

    /// The group waiting under `key`.
    pub fn group(&self, key: &str) -> Option<&DigestGroup> {
        self.groups.get(key)
    }

    /// Number of waiting groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// `true` when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// How a category's items are counted in a digest title:
/// (English singular, English plural, Chinese measure word + noun).
fn digest_words(category: Category) -> (&'static str, &'static str, &'static str) {
    match category {
        Category::Order => ("order update", "order updates", "条订单更新"),
        Category::Payment => ("payment update", "payment updates", "条付款通知"),
        Category::Stock => ("stock alert", "stock alerts", "条到货提醒"),
        Category::Price => ("price drop", "price drops", "个降价"),
        Category::Promo => ("offer", "offers", "个优惠"),
        Category::Account => ("account notice", "account notices", "条账户通知"),
        Category::Security => ("security alert", "security alerts", "条安全提醒"),
        Category::Ops => ("ops alert", "ops alerts", "条运维告警"),
    }
}

/// The one notification that stands for a released digest group: titled
/// "3 more price drops" / "另有 3 个降价", with the newest item's title as body
/// and its link, the items' category, the highest priority among them, type
/// `digest`, collapse key `digest:<key>` (so a later digest of the same key
/// replaces this one in place) and the id that collapse key gives.
/// `created_at` is the newest item's; `ingested_at` is the release time, so
/// latency statistics measure from when the digest was built.
pub fn digest_summary(key: &str, group: &DigestGroup) -> Notification {
    let latest = &group.latest;
    let (one, many, zh) = digest_words(latest.category);
    let noun = if group.count == 1 { one } else { many };
    let collapse_key = format!("digest:{key}");
    let body = |text: &str, label: &str| {
        if text.is_empty() {
            String::new()
        } else {
            format!("{label}{text}")
        }
    };
    Notification {
        id: notification_id(&collapse_key, Some(&collapse_key)),
        seq: 0,
        kind: "digest".to_owned(),
        category: latest.category,
        priority: group.priority,
        title: Localized {
            en: format!("{} more {noun}", group.count),
            zh: format!("另有 {} {zh}", group.count),
        },
        body: Localized {
            en: body(&latest.title.en, "Latest: "),
            zh: body(&latest.title.zh, "最新："),
        },
        link: latest.link.clone(),
        created_at: latest.created_at,
        expires_at: latest.expires_at,
        collapse_key: Some(collapse_key),
        state: Default::default(),
        ingested_at: group.until,
    }
}

/// The most items a [`Router`]'s schedule holds one by one; quiet hours fold what arrives
/// past it into digests ([`Router::submit`]).
pub const MAX_HELD: usize = 500;

/// How long a cancellation is remembered for items that arrive after it:
/// three days, the longest webhook retry horizon among the supported
/// platforms (Stripe retries for up to three days, Shopify for 48 hours).
pub const TOMBSTONE_TTL: Millis = 3 * DAY;

/// Why an item waits in the [`Schedule`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    /// Scheduled for later (`deliver_at` or a delay); not decided yet. When
    /// due it goes through [`decide`] without a throttle.
    #[default]
    Scheduled,
    /// Scheduled for later with a throttle to apply when due.
    ScheduledThrottled {
        /// The throttle to apply when due.
        throttle: KeyedThrottle,
    },
    /// Deferred by quiet hours after passing its throttle; when due it goes
    /// through [`decide`] again without a throttle.
    Deferred,
}

/// One item waiting in the [`Schedule`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// The notification to deliver.
    pub notification: Notification,
    /// When it is due (unix ms).
    pub due: Millis,
    /// A later event with this key cancels it (a cart reminder cancelled by the order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_key: Option<String>,
    /// Why it waits.
    #[serde(default)]
    pub stage: Stage,
    /// Arrival order, assigned by [`Schedule::add`]; breaks ties between equal `due`.
    #[serde(default)]
    pub order: u64,
}

impl Pending {
    /// A scheduled, not yet decided item.
    pub fn new(notification: Notification, due: Millis, cancel_key: Option<String>) -> Pending {
        Pending {
            notification,
            due,
            cancel_key,
            stage: Stage::Scheduled,
            order: 0,
        }
    }
}

/// A remembered cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// When the cancelling event happened; items created at or before it are refused.
    pub cancelled_at: Millis,
    /// When it is forgotten (unix ms).
    pub expires_at: Millis,
}

/// One recipient's waiting items: scheduled deliveries and quiet-hours
/// deferrals, with cancellation by key and tombstones for cancels that
/// overtake their item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Schedule {
    /// Kept sorted by `(due, order)`.
    #[serde(default)]
    pending: Vec<Pending>,
    #[serde(default)]
    tombstones: BTreeMap<String, Tombstone>,
    #[serde(default)]
    next_order: u64,
}

impl Schedule {
    /// Adds an item. Returns it back, not added, when a tombstone says its
    /// `cancel_key` was already cancelled by an event at or after its `created_at`.
    #[must_use = "a returned item was cancelled before it arrived"]
    pub fn add(&mut self, mut pending: Pending) -> Option<Pending> {
        if let Some(key) = &pending.cancel_key {
            if let Some(t) = self.tombstones.get(key) {
                if pending.notification.created_at <= t.cancelled_at {
                    return Some(pending);
                }
            }
        }
        pending.order = self.next_order;
        self.next_order = self.next_order.wrapping_add(1);
        let at = self
            .pending
            .partition_point(|p| (p.due, p.order) <= (pending.due, pending.order));
        self.pending.insert(at, pending);
        None
    }

    /// Cancels every waiting item with `key` created at or before
    /// `cancelled_at` (when the cancelling event happened) and returns them in
    /// due order; leaves a tombstone until `now + TOMBSTONE_TTL` so an item
    /// that arrives late is refused by [`Schedule::add`].
    pub fn cancel(&mut self, key: &str, cancelled_at: Millis, now: Millis) -> Vec<Pending> {
        self.prune(now);
        let expires_at = now.saturating_add(TOMBSTONE_TTL);
        let tomb = self.tombstones.entry(key.to_owned()).or_insert(Tombstone {
            cancelled_at,
            expires_at,
        });
        tomb.cancelled_at = tomb.cancelled_at.max(cancelled_at);
        tomb.expires_at = tomb.expires_at.max(expires_at);
        let (removed, kept): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| {
                p.cancel_key.as_deref() == Some(key) && p.notification.created_at <= cancelled_at
            });
        self.pending = kept;
        removed
    }

    /// Removes and returns every item due at `now`, in `(due, arrival)` order.
    pub fn take_due(&mut self, now: Millis) -> Vec<Pending> {
        self.prune(now);
        let (mut due, kept): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.due <= now);
        self.pending = kept;
        // Sorted already unless the stored state was edited; sort anyway, it is cheap.
        due.sort_by_key(|p| (p.due, p.order));
        due
    }

    /// When the earliest item is due, for the Durable Object's alarm.
    pub fn next_wakeup(&self) -> Option<Millis> {
        self.pending.iter().map(|p| p.due).min()
    }

    /// Forgets tombstones that expired at or before `now`.
    pub fn prune(&mut self, now: Millis) {
        self.tombstones.retain(|_, t| t.expires_at > now);
    }

    /// The waiting items, in due order.
    pub fn iter(&self) -> impl Iterator<Item = &Pending> {
        self.pending.iter()
    }

    /// The tombstone for `key`, if remembered.
    pub fn tombstone(&self, key: &str) -> Option<&Tombstone> {
        self.tombstones.get(key)
    }

    /// Number of waiting items.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// `true` when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

/// A rendered notification on its way to one recipient, with the routing
/// instructions its rule gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// The notification.
    pub notification: Notification,
    /// Deliver no earlier than this (from `deliver_at` or a delay); `None` means now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_at: Option<Millis>,
    /// A later event with this key cancels it while it waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_key: Option<String>,
    /// The rule's throttle, keyed (usually by rule name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<KeyedThrottle>,
}

impl Submission {
    /// A submission to deliver now, unthrottled.
    pub fn now(notification: Notification) -> Submission {
        Submission {
            notification,
            deliver_at: None,
            cancel_key: None,
            throttle: None,
        }
    }
}

/// What [`Router::submit`] did with a submission.
// A short-lived return value, never stored in bulk: boxing the notification
// would cost an allocation per delivery for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Deliver this now (append to the log and push).
    Deliver {
        /// The notification.
        notification: Notification,
    },
    /// Waiting for its `deliver_at`.
    Scheduled {
        /// When it is due.
        until: Millis,
    },
    /// Waiting for quiet hours to end.
    Deferred {
        /// When they end.
        until: Millis,
    },
    /// Folded into a digest.
    Digested {
        /// Digest key.
        key: String,
        /// When the digest is released.
        until: Millis,
    },
    /// Not delivered.
    Dropped {
        /// Why.
        reason: DropReason,
    },
    /// Its `cancel_key` was cancelled before it arrived.
    Cancelled,
}

/// What [`Router::poll`] released.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Released {
    /// Deliver these now, in order.
    pub deliver: Vec<Notification>,
    /// Items that came due but were dropped (id and reason), for logs and stats.
    pub dropped: Vec<(String, DropReason)>,
}

/// One recipient's whole routing state, the part the Inbox Durable Object
/// persists: throttle windows, pending digests and the schedule. The DO's loop
/// is: [`Router::submit`] each incoming notification, [`Router::cancel`] on
/// cancelling events, [`Router::poll`] when its alarm fires, then set the
/// alarm to [`Router::next_wakeup`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Router {
    /// Throttle windows.
    #[serde(default)]
    pub throttles: ThrottleState,
    /// Pending digests.
    #[serde(default)]
    pub digests: DigestBuffer,
    /// Scheduled and deferred items.
    #[serde(default)]
    pub schedule: Schedule,
}

impl Router {
    /// Routes one incoming notification at `now`.
    pub fn submit(&mut self, submission: Submission, prefs: &Preferences, now: Millis) -> Outcome {
        let Submission {
            notification,
            deliver_at,
            cancel_key,
            throttle,
        } = submission;
        if let Some(key) = &cancel_key {
            if self
                .schedule
                .tombstone(key)
                .is_some_and(|t| notification.created_at <= t.cancelled_at)
            {
                return Outcome::Cancelled;
            }
        }
        if let Some(due) = deliver_at.filter(|&due| due > now) {
            let stage = match throttle {
                Some(throttle) => Stage::ScheduledThrottled { throttle },
                None => Stage::Scheduled,
            };
            let pending = Pending {
                stage,
                ..Pending::new(notification, due, cancel_key)
            };
            return match self.schedule.add(pending) {
                None => Outcome::Scheduled { until: due },
                Some(_) => Outcome::Cancelled,
            };
        }
        self.route(notification, cancel_key, throttle.as_ref(), prefs, now)
    }

    /// Runs [`decide`] and files the item accordingly.
    fn route(
        &mut self,
        notification: Notification,
        cancel_key: Option<String>,
        throttle: Option<&KeyedThrottle>,
        prefs: &Preferences,
        now: Millis,
    ) -> Outcome {
        let throttle = throttle.map(|t| (t.key.as_str(), t.throttle));
        match decide(&notification, prefs, throttle, &mut self.throttles, now) {
            Decision::Deliver => Outcome::Deliver { notification },
            Decision::Drop { reason } => Outcome::Dropped { reason },
            Decision::Digest { key, until } => {
                self.digests.fold(&key, until, notification);
                Outcome::Digested { key, until }
            }
            // A full schedule (a shopper with busy topics and long quiet hours) holds the
            // rest folded into one digest per category, released at the same time: the
            // held state stays bounded and nothing is lost.
            Decision::Defer { until } if self.schedule.len() >= MAX_HELD => {
                let key = format!("quiet-hours:{}", notification.category.as_str());
                self.digests.fold(&key, until, notification);
                Outcome::Digested { key, until }
            }
            Decision::Defer { until } => {
                let pending = Pending {
                    stage: Stage::Deferred,
                    ..Pending::new(notification, until, cancel_key)
                };
                match self.schedule.add(pending) {
                    None => Outcome::Deferred { until },
                    Some(_) => Outcome::Cancelled,
                }
            }
        }
    }

    /// Cancels waiting items with `key` created at or before `cancelled_at`
    /// (see [`Schedule::cancel`]); returns the ones removed.
    pub fn cancel(&mut self, key: &str, cancelled_at: Millis, now: Millis) -> Vec<Pending> {
        self.schedule.cancel(key, cancelled_at, now)
    }

    /// Releases what is due at `now`: scheduled items (decided now, with their
    /// throttle), deferred items (decided again without throttle) and digest
    /// summaries (decided without throttle). Items may go back to waiting, e.g.
    /// a digest released during quiet hours is deferred.
    pub fn poll(&mut self, prefs: &Preferences, now: Millis) -> Released {
        let mut released = Released::default();
        self.throttles.prune(now);
        for pending in self.schedule.take_due(now) {
            let Pending {
                notification,
                cancel_key,
                stage,
                ..
            } = pending;
            let throttle = match &stage {
                Stage::ScheduledThrottled { throttle } => Some(throttle),
                Stage::Scheduled | Stage::Deferred => None,
            };
            let id = notification.id.clone();
            match self.route(notification, cancel_key, throttle, prefs, now) {
                Outcome::Deliver { notification } => released.deliver.push(notification),
                Outcome::Dropped { reason } => released.dropped.push((id, reason)),
                _ => {}
            }
        }
        for summary in self.digests.take_due(now) {
            let id = summary.id.clone();
            match self.route(summary, None, None, prefs, now) {
                Outcome::Deliver { notification } => released.deliver.push(notification),
                Outcome::Dropped { reason } => released.dropped.push((id, reason)),
                _ => {}
            }
        }
        released
    }

    /// When the Durable Object should next call [`Router::poll`]: the earliest
    /// of the schedule and the digests. `None` means no alarm is needed.
    pub fn next_wakeup(&self) -> Option<Millis> {
        match (self.schedule.next_wakeup(), self.digests.next_release()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::{Localized, ReadState};
    use crate::prefs::QuietHours;
    use crate::testing::test;
    use crate::time::parse_rfc3339;

    pub(super) fn note(id: &str, category: Category, created_at: Millis) -> Notification {
        Notification {
            id: id.into(),
            seq: 0,
            kind: format!("{}.test", category.as_str()),
            category,
            priority: Priority::Normal,
            title: Localized {
                en: format!("en {id}"),
                zh: format!("zh {id}"),
            },
            body: Localized::default(),
            link: Some(format!("/items/{id}")),
            created_at,
            expires_at: None,
            collapse_key: None,
            state: ReadState::Unread,
            ingested_at: created_at,
        }
    }

    fn at(text: &str) -> Millis {
        parse_rfc3339(text).unwrap()
    }

    /// Quiet 22:00–07:00 UTC, promo muted, and security "muted" (which must not hold).
    fn prefs() -> Preferences {
        Preferences {
            muted: [Category::Promo, Category::Security].into(),
            quiet_hours: Some(QuietHours {
                start_minute: 22 * 60,
                end_minute: 7 * 60,
            }),
            ..Default::default()
        }
    }

    const SIX_HOURS: Throttle = Throttle {
        limit: 1,
        per: 6 * HOUR,
    };

    #[test]
    fn parses_throttles() {
        assert_eq!(Throttle::parse("1 per 6h"), Ok(SIX_HOURS));
        assert_eq!(Throttle::parse("  1 per 6h per recipient "), Ok(SIX_HOURS));
        assert_eq!(
            Throttle::parse("5 per 1h 30m"),
            Ok(Throttle {
                limit: 5,
                per: 90 * MINUTE
            })
        );
        for bad in [
            "",
            "per 6h",
            "1 per",
            "1/6h",
            "one per 6h",
            "-1 per 6h",
            "+1 per 6h",
            "1 per 6 hours",
            "1 per per recipient",
            "1 per 6h per user",
            "99999999999 per 6h",
        ] {
            let e = Throttle::parse(bad).unwrap_err();
            assert!(e.contains("throttle"), "{bad}: {e}");
        }
        assert!(Throttle::parse("0 per 6h")
            .unwrap_err()
            .contains("at least 1"));
        assert!(Throttle::parse("1 per 0s").unwrap_err().contains("zero"));
        for text in ["1 per 6h", "3 per 90m", "2 per 1500ms", "4 per 2w"] {
            assert_eq!(Throttle::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn precedence_expired_then_muted_then_throttle_then_quiet() {
        let p = prefs();
        let night = at("2026-11-22T23:00:00Z");
        let mut st = ThrottleState::default();
        // Fill the window so the throttle would fold.
        assert_eq!(st.admit("promo", SIX_HOURS, night), Ok(()));
        assert_eq!(st.admit("price", SIX_HOURS, night), Ok(()));

        // Expired beats muted, throttle and quiet.
        let mut n = note("a", Category::Promo, night);
        n.expires_at = Some(night);
        let d = decide(&n, &p, Some(("promo", SIX_HOURS)), &mut st, night);
        assert_eq!(
            d,
            Decision::Drop {
                reason: DropReason::Expired
            }
        );
        // Muted beats throttle and quiet.
        n.expires_at = Some(night + 1);
        let d = decide(&n, &p, Some(("promo", SIX_HOURS)), &mut st, night);
        assert_eq!(
            d,
            Decision::Drop {
                reason: DropReason::Muted {
                    category: Category::Promo
                }
            }
        );
        // Throttle beats quiet hours.
        let n = note("b", Category::Price, night);
        let d = decide(&n, &p, Some(("price", SIX_HOURS)), &mut st, night);
        assert_eq!(
            d,
            Decision::Digest {
                key: "price".into(),
                until: night + 6 * HOUR
            }
        );
        // Quiet hours defer until 07:00.
        let d = decide(&n, &p, None, &mut st, night);
        assert_eq!(
            d,
            Decision::Defer {
                until: at("2026-11-23T07:00:00Z")
            }
        );
        // Urgent is never deferred; security is never muted.
        let mut u = note("c", Category::Security, night);
        u.priority = Priority::Urgent;
        assert_eq!(decide(&u, &p, None, &mut st, night), Decision::Deliver);
        // Daytime, unthrottled: deliver.
        let noon = at("2026-11-23T12:00:00Z");
        assert_eq!(decide(&n, &p, None, &mut st, noon), Decision::Deliver);
    }

    #[test]
    fn dropped_items_do_not_use_throttle_slots() {
        let p = prefs();
        let noon = at("2026-11-22T12:00:00Z");
        let mut st = ThrottleState::default();
        let mut expired = note("x", Category::Price, noon);
        expired.expires_at = Some(noon - 1);
        decide(&expired, &p, Some(("k", SIX_HOURS)), &mut st, noon);
        assert!(st.is_empty());
        let ok = note("y", Category::Price, noon);
        assert_eq!(
            decide(&ok, &p, Some(("k", SIX_HOURS)), &mut st, noon),
            Decision::Deliver
        );
    }

    #[test]
    fn fixed_windows_open_at_the_first_pass_and_prune() {
        let mut st = ThrottleState::default();
        let t = Throttle {
            limit: 2,
            per: HOUR,
        };
        assert_eq!(st.admit("k", t, 1_000), Ok(()));
        assert_eq!(st.admit("k", t, 2_000), Ok(()));
        assert_eq!(st.admit("k", t, 3_000), Err(1_000 + HOUR));
        assert_eq!(st.admit("other", t, 3_000), Ok(()));
        // Exactly at the close a new window opens.
        assert_eq!(st.admit("k", t, 1_000 + HOUR), Ok(()));
        assert_eq!(st.window("k").unwrap().opened_at, 1_000 + HOUR);
        st.prune(3_000 + HOUR);
        assert_eq!(st.len(), 1);
        // Degenerate throttles: zero window never holds, zero limit always does.
        assert_eq!(st.admit("z", Throttle { limit: 0, per: 0 }, 0), Ok(()));
        assert_eq!(st.admit("z", Throttle { limit: 0, per: 10 }, 0), Err(10));
    }

    #[test]
    fn digest_summary_in_english_and_chinese() {
        let mut buf = DigestBuffer::default();
        for (i, t) in [(1, 300), (2, 100), (3, 200)] {
            let mut n = note(&format!("p{i}"), Category::Price, t);
            n.priority = if i == 2 {
                Priority::High
            } else {
                Priority::Low
            };
            buf.fold("price-drop", 5_000, n);
        }
        buf.fold("stock", 9_000, note("s1", Category::Stock, 0));
        assert_eq!(buf.next_release(), Some(5_000));
        assert!(buf.take_due(4_999).is_empty());
        let out = buf.take_due(5_000);
        assert_eq!(out.len(), 1);
        let d = &out[0];
        assert_eq!(d.title.en, "3 more price drops");
        assert_eq!(d.title.zh, "另有 3 个降价");
        assert_eq!(d.body.en, "Latest: en p1");
        assert_eq!(d.body.zh, "最新：zh p1");
        assert_eq!(d.link.as_deref(), Some("/items/p1"));
        assert_eq!(d.category, Category::Price);
        assert_eq!(d.priority, Priority::High);
        assert_eq!(d.collapse_key.as_deref(), Some("digest:price-drop"));
        assert_eq!(d.id, notification_id("x", Some("digest:price-drop")));
        assert_eq!(d.kind, "digest");
        assert_eq!(buf.len(), 1);
        let s = buf.take_due(10_000);
        assert_eq!(s[0].title.en, "1 more stock alert");
        assert_eq!(s[0].title.zh, "另有 1 条到货提醒");
        assert!(buf.is_empty() && buf.next_release().is_none());
    }

    #[test]
    fn schedule_takes_in_due_order_and_cancels_by_key() {
        let mut s = Schedule::default();
        for (id, due, key) in [("a", 30, None), ("b", 10, Some("k")), ("c", 10, None)] {
            assert!(s
                .add(Pending::new(
                    note(id, Category::Order, 0),
                    due,
                    key.map(String::from)
                ))
                .is_none());
        }
        assert_eq!(s.next_wakeup(), Some(10));
        let removed = s.cancel("k", 5, 5);
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].notification.id, "b");
        let ids = |v: Vec<Pending>| v.into_iter().map(|p| p.notification.id).collect::<Vec<_>>();
        assert!(s.take_due(9).is_empty());
        assert_eq!(ids(s.take_due(100)), vec!["c", "a"]);
        assert!(s.is_empty() && s.next_wakeup().is_none());
    }

    #[test]
    fn tombstones_refuse_late_items_created_before_the_cancel_only() {
        let mut s = Schedule::default();
        assert!(s.cancel("cart:1", 1_000, 1_000).is_empty());
        let late = Pending::new(
            note("old", Category::Order, 900),
            5_000,
            Some("cart:1".into()),
        );
        assert_eq!(s.add(late).map(|p| p.notification.id), Some("old".into()));
        let fresh = Pending::new(
            note("new", Category::Order, 1_001),
            5_000,
            Some("cart:1".into()),
        );
        assert!(s.add(fresh).is_none());
        // A pending item created after the cancel survives a repeat of it.
        assert!(s.cancel("cart:1", 1_000, 2_000).is_empty());
        assert_eq!(s.len(), 1);
        // Tombstones are forgotten after the TTL.
        s.prune(2_000 + TOMBSTONE_TTL);
        assert!(s.tombstone("cart:1").is_none());
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut r = Router::default();
        let p = prefs();
        let now = at("2026-11-22T23:00:00Z");
        let mut sub = Submission::now(note("a", Category::Price, now));
        sub.throttle = Some(KeyedThrottle {
            key: "price-drop".into(),
            throttle: SIX_HOURS,
        });
        r.submit(sub.clone(), &p, now);
        r.submit(sub, &p, now);
        r.cancel("cart:1", now, now);
        assert!(!r.schedule.is_empty() && !r.digests.is_empty() && !r.throttles.is_empty());
        let json = serde_json::to_string(&r).unwrap();
        let back: Router = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let empty: Router = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, Router::default());
        let d = serde_json::to_value(Decision::Defer { until: 5 }).unwrap();
        assert_eq!(d, serde_json::json!({"decision": "defer", "until": 5}));
    }

    // ---- Deterministic simulation: a driver owning the clock (quinn-proto style). ----

    /// One recipient's Inbox as the Durable Object runs it: the router state is
    /// persisted (round-tripped through JSON) after every step, and the alarm is
    /// the router's `next_wakeup`.
    struct Sim {
        now: Millis,
        prefs: Preferences,
        router: Router,
        /// What reached the shopper, with the time it was pushed.
        delivered: Vec<(Millis, Notification)>,
        dropped: Vec<(String, DropReason)>,
    }

    impl Sim {
        fn new(start: &str) -> Sim {
            Sim {
                now: at(start),
                prefs: prefs(),
                router: Router::default(),
                delivered: Vec::new(),
                dropped: Vec::new(),
            }
        }

        fn persist(&mut self) {
            let json = serde_json::to_string(&self.router).unwrap();
            self.router = serde_json::from_str(&json).unwrap();
        }

        fn submit(&mut self, sub: Submission) -> Outcome {
            let out = self.router.submit(sub, &self.prefs, self.now);
            match &out {
                Outcome::Deliver { notification } => {
                    self.delivered.push((self.now, notification.clone()))
                }
                Outcome::Dropped { reason } => self.dropped.push(("submitted".into(), *reason)),
                _ => {}
            }
            self.persist();
            out
        }

        fn cancel(&mut self, key: &str) -> Vec<Pending> {
            let removed = self.router.cancel(key, self.now, self.now);
            self.persist();
            removed
        }

        /// Advances the clock to `until`, firing every alarm on the way at its time.
        fn run_until(&mut self, until: Millis) {
            while let Some(alarm) = self.router.next_wakeup() {
                if alarm > until {
                    break;
                }
                self.now = self.now.max(alarm);
                let released = self.router.poll(&self.prefs, self.now);
                assert!(
                    self.router.next_wakeup().is_none_or(|w| w > self.now),
                    "poll left due work behind"
                );
                self.delivered
                    .extend(released.deliver.into_iter().map(|n| (self.now, n)));
                self.dropped.extend(released.dropped);
                self.persist();
            }
            self.now = self.now.max(until);
        }

        fn advance(&mut self, by: Millis) {
            self.run_until(self.now + by);
        }

        fn delivered_ids(&self) -> Vec<&str> {
            self.delivered.iter().map(|(_, n)| n.id.as_str()).collect()
        }
    }

    #[test]
    fn sim_quiet_hours_defer_then_release_at_seven() {
        let mut sim = Sim::new("2026-11-22T23:00:00Z");
        let out = sim.submit(Submission::now(note("shipped", Category::Order, sim.now)));
        let seven = at("2026-11-23T07:00:00Z");
        assert_eq!(out, Outcome::Deferred { until: seven });
        assert_eq!(sim.router.next_wakeup(), Some(seven));
        sim.run_until(seven - 1);
        assert!(sim.delivered.is_empty());
        sim.advance(1);
        assert_eq!(sim.delivered_ids(), vec!["shipped"]);
        assert_eq!(sim.delivered[0].0, seven);
        assert_eq!(sim.router.next_wakeup(), None);
    }

    #[test]
    fn quiet_hours_past_the_held_cap_fold_into_a_digest_released_with_the_rest() {
        let mut sim = Sim::new("2026-11-22T23:00:00Z");
        let seven = at("2026-11-23T07:00:00Z");
        for i in 0..MAX_HELD + 3 {
            let out = sim.submit(Submission::now(note(
                &format!("o{i}"),
                Category::Order,
                sim.now,
            )));
            if i < MAX_HELD {
                assert_eq!(out, Outcome::Deferred { until: seven });
            } else {
                assert_eq!(
                    out,
                    Outcome::Digested {
                        key: "quiet-hours:order".into(),
                        until: seven
                    }
                );
            }
        }
        assert_eq!(sim.router.schedule.len(), MAX_HELD);
        assert_eq!(sim.router.digests.len(), 1);
        sim.run_until(seven);
        assert_eq!(sim.delivered.len(), MAX_HELD + 1);
        let digest = &sim.delivered.last().unwrap().1;
        assert_eq!(digest.title.en, "3 more order updates");
        assert!(sim.router.schedule.is_empty() && sim.router.digests.is_empty());
    }

    #[test]
    fn sim_burst_of_price_drops_becomes_one_plus_a_digest_of_nine() {
        let mut sim = Sim::new("2026-11-22T10:00:00Z");
        let start = sim.now;
        let throttle = KeyedThrottle {
            key: "price-drop".into(),
            throttle: Throttle::parse("1 per 6h per recipient").unwrap(),
        };
        for i in 0..10 {
            let mut sub = Submission::now(note(&format!("drop{i}"), Category::Price, sim.now));
            sub.throttle = Some(throttle.clone());
            let out = sim.submit(sub);
            if i == 0 {
                assert!(matches!(out, Outcome::Deliver { .. }), "{out:?}");
            } else {
                assert_eq!(
                    out,
                    Outcome::Digested {
                        key: "price-drop".into(),
                        until: start + 6 * HOUR
                    }
                );
            }
            sim.advance(MINUTE);
        }
        assert_eq!(sim.delivered_ids(), vec!["drop0"]);
        sim.run_until(start + 6 * HOUR - 1);
        assert_eq!(sim.delivered.len(), 1);
        sim.run_until(start + 6 * HOUR);
        assert_eq!(sim.delivered.len(), 2);
        let (when, digest) = &sim.delivered[1];
        assert_eq!(*when, start + 6 * HOUR);
        assert_eq!(digest.title.en, "9 more price drops");
        assert_eq!(digest.title.zh, "另有 9 个降价");
        assert_eq!(digest.link.as_deref(), Some("/items/drop9"));
        assert_eq!(digest.collapse_key.as_deref(), Some("digest:price-drop"));
        // The next drop opens a fresh window and is delivered at once.
        let mut sub = Submission::now(note("drop10", Category::Price, sim.now));
        sub.throttle = Some(throttle);
        assert!(matches!(sim.submit(sub), Outcome::Deliver { .. }));
        sim.advance(DAY);
        assert_eq!(sim.delivered.len(), 3);
    }

    #[test]
    fn sim_cart_reminder_cancelled_by_order_ten_minutes_later() {
        let mut sim = Sim::new("2026-11-22T12:00:00Z");
        let mut reminder = Submission::now(note("cart-reminder", Category::Order, sim.now));
        reminder.deliver_at = Some(sim.now + HOUR);
        reminder.cancel_key = Some("cart:c1".into());
        assert_eq!(
            sim.submit(reminder.clone()),
            Outcome::Scheduled {
                until: sim.now + HOUR
            }
        );
        sim.advance(10 * MINUTE);
        let removed = sim.cancel("cart:c1");
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].notification.id, "cart-reminder");
        sim.submit(Submission::now(note(
            "order-placed",
            Category::Order,
            sim.now,
        )));
        // A retried copy of the cart webhook arriving after the order is refused.
        assert_eq!(sim.submit(reminder), Outcome::Cancelled);
        sim.advance(2 * HOUR);
        assert_eq!(sim.delivered_ids(), vec!["order-placed"]);
        assert_eq!(sim.router.next_wakeup(), None);
    }

    #[test]
    fn sim_reminder_landing_in_quiet_hours_is_deferred_and_still_cancellable() {
        let mut sim = Sim::new("2026-11-22T21:30:00Z");
        let mut reminder = Submission::now(note("cart-reminder", Category::Order, sim.now));
        reminder.deliver_at = Some(sim.now + HOUR);
        reminder.cancel_key = Some("cart:c2".into());
        sim.submit(reminder);
        sim.advance(2 * HOUR); // due at 22:30, deferred to 07:00
        assert!(sim.delivered.is_empty());
        assert_eq!(sim.router.next_wakeup(), Some(at("2026-11-23T07:00:00Z")));
        sim.run_until(at("2026-11-23T06:00:00Z"));
        assert_eq!(sim.cancel("cart:c2").len(), 1);
        sim.advance(DAY);
        assert!(sim.delivered.is_empty());
    }

    #[test]
    fn sim_urgent_in_quiet_hours_goes_at_once() {
        let mut sim = Sim::new("2026-11-22T23:30:00Z");
        let mut n = note("payment-failed", Category::Payment, sim.now);
        n.priority = Priority::Urgent;
        assert!(matches!(
            sim.submit(Submission::now(n)),
            Outcome::Deliver { .. }
        ));
        assert_eq!(sim.delivered[0].0, at("2026-11-22T23:30:00Z"));
        assert_eq!(sim.router.next_wakeup(), None);
    }

    #[test]
    fn sim_muted_promo_dropped_security_not() {
        let mut sim = Sim::new("2026-11-22T12:00:00Z");
        let out = sim.submit(Submission::now(note("sale", Category::Promo, sim.now)));
        assert_eq!(
            out,
            Outcome::Dropped {
                reason: DropReason::Muted {
                    category: Category::Promo
                }
            }
        );
        let out = sim.submit(Submission::now(note(
            "new-login",
            Category::Security,
            sim.now,
        )));
        assert!(matches!(out, Outcome::Deliver { .. }));
        assert_eq!(sim.delivered_ids(), vec!["new-login"]);
    }

    #[test]
    fn sim_digest_released_in_quiet_hours_waits_for_morning_and_expired_items_drop() {
        let mut sim = Sim::new("2026-11-22T18:00:00Z");
        let throttle = KeyedThrottle {
            key: "restock".into(),
            throttle: SIX_HOURS,
        };
        for i in 0..3 {
            let mut sub = Submission::now(note(&format!("r{i}"), Category::Stock, sim.now));
            sub.throttle = Some(throttle.clone());
            sim.submit(sub);
        }
        // A scheduled item that expires before it is due.
        let mut n = note("flash", Category::Order, sim.now);
        n.expires_at = Some(sim.now + HOUR);
        let mut sub = Submission::now(n);
        sub.deliver_at = Some(sim.now + 2 * HOUR);
        sim.submit(sub);
        sim.run_until(at("2026-11-23T06:59:59Z"));
        assert_eq!(sim.delivered_ids(), vec!["r0"]);
        assert_eq!(sim.dropped, vec![("flash".into(), DropReason::Expired)]);
        sim.run_until(at("2026-11-23T08:00:00Z"));
        assert_eq!(sim.delivered.len(), 2);
        assert_eq!(sim.delivered[1].0, at("2026-11-23T07:00:00Z"));
        assert_eq!(sim.delivered[1].1.title.en, "2 more stock alerts");
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::tests::note;
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[derive(Debug, Clone)]
    enum Op {
        /// Add an item due `due` after now, created `age` before now, with key index.
        Add {
            due: i64,
            age: i64,
            key: Option<u8>,
        },
        Cancel {
            key: u8,
        },
        Take {
            advance: i64,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (-50i64..200, -20i64..50, prop::option::of(0u8..3))
                .prop_map(|(due, age, key)| Op::Add { due, age, key }),
            1 => (0u8..3).prop_map(|key| Op::Cancel { key }),
            2 => (0i64..120).prop_map(|advance| Op::Take { advance }),
        ]
    }

    proptest! {
        #[test]
        fn audience_from_text_parses_like_parse(text in "(user|topic|segment|users|)(:)?[a-z:é]{0,5}") {
            prop_assert_eq!(Audience::from_text(text.clone()), Audience::parse(&text), "{:?}", text);
        }
    }

    proptest! {
        /// Every added item comes out exactly once (taken, cancelled, or refused
        /// at the door by a tombstone); takes are in nondecreasing due order and
        /// never before due.
        #[test]
        fn every_item_comes_out_exactly_once(ops in prop::collection::vec(op(), 1..120)) {
            let mut s = Schedule::default();
            let mut now: Millis = 1_000;
            let mut added = BTreeSet::new();
            let mut out: Vec<String> = Vec::new();
            let check_take = |taken: Vec<Pending>, now: Millis, out: &mut Vec<String>| -> Result<(), TestCaseError> {
                let mut last = Millis::MIN;
                for p in taken {
                    prop_assert!(p.due <= now, "taken before due");
                    prop_assert!(p.due >= last, "out of due order");
                    last = p.due;
                    out.push(p.notification.id);
                }
                Ok(())
            };
            for (i, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Add { due, age, key } => {
                        let id = format!("n{i}");
                        added.insert(id.clone());
                        let p = Pending::new(
                            note(&id, Category::Order, now - age),
                            now + due,
                            key.map(|k| format!("k{k}")),
                        );
                        if let Some(back) = s.add(p) {
                            out.push(back.notification.id);
                        }
                    }
                    Op::Cancel { key } => {
                        let key = format!("k{key}");
                        for p in s.cancel(&key, now, now) {
                            prop_assert_eq!(p.cancel_key.as_deref(), Some(key.as_str()));
                            prop_assert!(p.notification.created_at <= now);
                            out.push(p.notification.id);
                        }
                    }
                    Op::Take { advance } => {
                        now += advance;
                        let taken = s.take_due(now);
                        check_take(taken, now, &mut out)?;
                    }
                }
                prop_assert!(s.next_wakeup() == s.iter().map(|p| p.due).min());
            }
            let taken = s.take_due(Millis::MAX);
            check_take(taken, Millis::MAX, &mut out)?;
            prop_assert!(s.is_empty());
            let unique: BTreeSet<String> = out.iter().cloned().collect();
            prop_assert_eq!(unique.len(), out.len(), "an item came out twice");
            prop_assert_eq!(unique, added);
        }

        /// The router conserves items: whatever the mix of categories, throttles,
        /// delays, quiet hours and cancels, each submitted item is delivered,
        /// dropped, cancelled, or counted in exactly one delivered digest.
        #[test]
        fn router_accounts_for_every_item(
            items in prop::collection::vec((0usize..8, 0i64..3 * HOUR, prop::option::of(0i64..3 * HOUR), any::<bool>(), any::<bool>()), 1..60),
            quiet in any::<bool>(),
        ) {
            let prefs = Preferences {
                muted: [Category::Promo].into(),
                quiet_hours: quiet.then_some(crate::prefs::QuietHours { start_minute: 60, end_minute: 300 }),
                ..Default::default()
            };
            let mut r = Router::default();
            let mut now: Millis = 0;
            let (mut delivered, mut dropped, mut cancelled, mut digested) = (0u64, 0u64, 0u64, 0u64);
            let tally = |rel: Released, delivered: &mut u64, digested: &mut u64, dropped: &mut u64| {
                for n in rel.deliver {
                    if n.kind == "digest" {
                        *digested += u64::from(n.title.en.split(' ').next().unwrap().parse::<u32>().unwrap());
                    } else {
                        *delivered += 1;
                    }
                }
                *dropped += rel.dropped.len() as u64;
            };
            let n_items = items.len() as u64;
            for (i, (cat, gap, delay, throttled, cancel)) in items.into_iter().enumerate() {
                now += gap;
                let rel = r.poll(&prefs, now);
                tally(rel, &mut delivered, &mut digested, &mut dropped);
                let category = Category::ALL[cat];
                let mut sub = Submission::now(note(&format!("n{i}"), category, now));
                sub.deliver_at = delay.map(|d| now + d);
                sub.cancel_key = Some(format!("k{}", i % 3));
                if throttled {
                    sub.throttle = Some(KeyedThrottle { key: category.as_str().into(), throttle: Throttle { limit: 2, per: HOUR } });
                }
                match r.submit(sub, &prefs, now) {
                    Outcome::Deliver { .. } => delivered += 1,
                    Outcome::Dropped { .. } => dropped += 1,
                    Outcome::Cancelled => cancelled += 1,
                    Outcome::Scheduled { until } | Outcome::Deferred { until } | Outcome::Digested { until, .. } => {
                        prop_assert!(until > now);
                        prop_assert!(r.next_wakeup().is_some_and(|w| w <= until));
                    }
                }
                if cancel {
                    cancelled += r.cancel(&format!("k{}", i % 3), now, now).len() as u64;
                }
            }
            // Drain: follow alarms until nothing waits.
            while let Some(w) = r.next_wakeup() {
                prop_assert!(w >= now);
                now = w;
                let rel = r.poll(&prefs, now);
                tally(rel, &mut delivered, &mut digested, &mut dropped);
            }
            prop_assert_eq!(delivered + dropped + cancelled + digested, n_items);
        }
    }
}
