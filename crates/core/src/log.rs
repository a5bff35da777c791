//! The per-user log: an ordered, durable sequence of notifications, as a
//! state machine with no storage of its own.
//!
//! Only the Inbox assigns sequence numbers, and only through [`InboxLog::append`].
//! Each method returns what changed ([`Appended`], [`Change`]) so the shell
//! (the Inbox Durable Object) can write exactly those rows before it sends a
//! single frame; reloading the rows with [`InboxLog::restore`] gives back the
//! same state.
//!
//! Invariants, checked by the property tests below:
//! - seqs are strictly increasing and never reused;
//! - replay after any cursor yields exactly the kept items newer than it, in order;
//! - at most one item per id (so one per collapse key);
//! - a cursor older than what retention trimmed gets [`Replay::Reset`], and so does a cursor
//!   past the newest seq ever assigned (a client that synced with a log since lost or replaced:
//!   without the reset it would wait for seqs it already counts as seen).

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::notification::{Notification, ReadState};
use crate::time::{Millis, DAY};

/// Limits of one user's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// Most notifications kept; older ones are trimmed.
    pub retention: usize,
    /// How long an event id is remembered for de-duplication.
    pub dedup_window: Millis,
    /// How many read-state changes are kept for resuming devices.
    pub change_history: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            retention: 1000,
            dedup_window: 7 * DAY,
            change_history: 256,
        }
    }
}

/// What [`InboxLog::append`] did, for the shell to persist.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    /// The stored notification, with its seq.
    pub notification: Notification,
    /// The seq of an older item with the same id that this one replaced.
    pub superseded: Option<u64>,
    /// Seqs dropped by retention or expiry.
    pub evicted: Vec<u64>,
}

/// A read-state change, ordered by `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Read-state version after this change.
    pub version: u64,
    /// Ids whose state changed.
    pub ids: Vec<String>,
    /// The new state.
    pub state: ReadState,
}

/// The answer to a resume request.
#[derive(Debug, Clone, PartialEq)]
pub enum Replay<'a> {
    /// The items newer than the cursor (at most `limit`), and whether more follow.
    Items {
        /// Items in seq order.
        items: Vec<&'a Notification>,
        /// `true` when the page was cut by `limit`.
        more: bool,
    },
    /// The cursor is older than retention: the client must drop what it has
    /// and resync from `oldest`.
    Reset {
        /// Oldest seq still kept.
        oldest: u64,
    },
}

/// Persistable scalar state of a log (everything but the items and changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LogMeta {
    /// Highest seq ever assigned.
    pub head: u64,
    /// Highest seq dropped by retention (not by supersession or expiry).
    pub trimmed_through: u64,
    /// Current read-state version.
    pub version: u64,
}

/// One user's log.
#[derive(Debug, Clone, Default)]
pub struct InboxLog {
    config: LogConfig,
    meta: LogMeta,
    items: BTreeMap<u64, Notification>,
    by_id: HashMap<String, u64>,
    changes: VecDeque<Change>,
    seen: HashMap<String, Millis>,
}

impl InboxLog {
    /// An empty log.
    pub fn new(config: LogConfig) -> Self {
        InboxLog {
            config,
            ..Default::default()
        }
    }

    /// Rebuilds a log from persisted rows. The head is at least the newest item's seq,
    /// so a meta row older than the items cannot hand out a seq twice.
    pub fn restore(
        config: LogConfig,
        meta: LogMeta,
        items: impl IntoIterator<Item = Notification>,
        changes: impl IntoIterator<Item = Change>,
        seen: impl IntoIterator<Item = (String, Millis)>,
    ) -> Self {
        let mut log = InboxLog::new(config);
        log.meta = meta;
        for n in items {
            log.by_id.insert(n.id.clone(), n.seq);
            log.items.insert(n.seq, n);
        }
        // The head is at least the newest stored item, so a shell may leave the meta
        // unwritten on a plain append (the row itself records the new head).
        if let Some(&newest) = log.items.keys().next_back() {
            log.meta.head = log.meta.head.max(newest);
        }
        let mut changes: Vec<Change> = changes.into_iter().collect();
        changes.sort_by_key(|c| c.version);
        log.changes = changes.into();
        log.seen = seen.into_iter().collect();
        log
    }

    /// Scalar state to persist.
    pub fn meta(&self) -> LogMeta {
        self.meta
    }

    /// Highest seq assigned.
    pub fn head(&self) -> u64 {
        self.meta.head
    }

    /// Current read-state version.
    pub fn version(&self) -> u64 {
        self.meta.version
    }

    /// Number of items kept.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// `true` when nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Items in seq order.
    pub fn items(&self) -> impl DoubleEndedIterator<Item = &Notification> {
        self.items.values()
    }

    /// The item with this id, if kept.
    pub fn get(&self, id: &str) -> Option<&Notification> {
        self.by_id.get(id).and_then(|seq| self.items.get(seq))
    }

    /// Records that event `event_id` was ingested at `now`; returns `false`
    /// when it was already seen within the dedup window (a duplicate).
    pub fn record_event(&mut self, event_id: &str, now: Millis) -> bool {
        match self.seen.get(event_id) {
            Some(at) if now - at < self.config.dedup_window => false,
            _ => {
                self.seen.insert(event_id.to_owned(), now);
                true
            }
        }
    }

    /// `true` when `event_id` was seen within the window.
    pub fn has_seen(&self, event_id: &str, now: Millis) -> bool {
        self.seen
            .get(event_id)
            .is_some_and(|at| now - at < self.config.dedup_window)
    }

    /// Forgets event ids older than the window; returns the forgotten ids.
    pub fn prune_seen(&mut self, now: Millis) -> Vec<String> {
        let window = self.config.dedup_window;
        let old: Vec<String> = self
            .seen
            .iter()
            .filter(|(_, at)| now - **at >= window)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &old {
            self.seen.remove(id);
        }
        old
    }

    /// Appends a notification with the next seq, replacing an older item with
    /// the same id, then applies retention and expiry at `now`. `None`, and nothing
    /// stored, when the item it would replace was created later: a late or held update
    /// ("out for delivery", released after quiet hours) never hides a newer one
    /// ("delivery failed") under the same collapse key. Two exceptions: an item dated
    /// after `now` (a producer's clock ahead) blocks nothing, and a digest, a new summary
    /// dated by the newest item it folds, always replaces the one before.
    pub fn append(&mut self, mut n: Notification, now: Millis) -> Option<Appended> {
        if let Some(held) = self.by_id.get(&n.id).and_then(|seq| self.items.get(seq)) {
            if held.created_at > n.created_at && held.created_at <= now && n.kind != "digest" {
                return None;
            }
        }
        self.meta.head += 1;
        n.seq = self.meta.head;
        let superseded = self.by_id.insert(n.id.clone(), n.seq);
        if let Some(old) = superseded {
            self.items.remove(&old);
        }
        self.items.insert(n.seq, n.clone());
        let mut evicted = self.expire(now);
        while self.items.len() > self.config.retention {
            let (seq, old) = self.items.pop_first().expect("non-empty");
            self.by_id.remove(&old.id);
            self.meta.trimmed_through = self.meta.trimmed_through.max(seq);
            evicted.push(seq);
        }
        Some(Appended {
            notification: n,
            superseded,
            evicted,
        })
    }

    /// Drops expired items; returns their seqs.
    pub fn expire(&mut self, now: Millis) -> Vec<u64> {
        let expired: Vec<u64> = self
            .items
            .values()
            .filter(|n| n.is_expired(now))
            .map(|n| n.seq)
            .collect();
        for seq in &expired {
            if let Some(n) = self.items.remove(seq) {
                self.by_id.remove(&n.id);
            }
        }
        expired
    }

    /// Items newer than `after` that have not expired by `now`, at most `limit`, or a reset
    /// when `after` is older than what retention kept or newer than any seq this log assigned.
    /// (An expired item stays stored until the next append drops it; it is never replayed.)
    pub fn replay(&self, after: u64, limit: usize, now: Millis) -> Replay<'_> {
        if after < self.meta.trimmed_through || after > self.meta.head {
            return Replay::Reset {
                oldest: self.meta.trimmed_through + 1,
            };
        }
        let mut iter = self
            .items
            .range(after.saturating_add(1)..)
            .map(|(_, n)| n)
            .filter(|n| !n.is_expired(now));
        let items: Vec<&Notification> = iter.by_ref().take(limit).collect();
        let more = iter.next().is_some();
        Replay::Items { items, more }
    }

    /// Sets the state of the given ids; returns the change (only ids that
    /// exist and actually changed), or `None` when nothing changed.
    pub fn mark(&mut self, ids: &[String], state: ReadState) -> Option<Change> {
        let mut changed = Vec::new();
        for id in ids {
            if let Some(n) = self.by_id.get(id).and_then(|seq| self.items.get_mut(seq)) {
                if n.state != state {
                    n.state = state;
                    changed.push(id.clone());
                }
            }
        }
        self.record_change(changed, state)
    }

    /// Marks every unread item with seq ≤ `before` read.
    pub fn mark_all_read(&mut self, before: u64) -> Option<Change> {
        let mut changed = Vec::new();
        for n in self.items.range_mut(..=before).map(|(_, n)| n) {
            if n.state == ReadState::Unread {
                n.state = ReadState::Read;
                changed.push(n.id.clone());
            }
        }
        self.record_change(changed, ReadState::Read)
    }

    fn record_change(&mut self, ids: Vec<String>, state: ReadState) -> Option<Change> {
        if ids.is_empty() {
            return None;
        }
        self.meta.version += 1;
        let change = Change {
            version: self.meta.version,
            ids,
            state,
        };
        self.changes.push_back(change.clone());
        while self.changes.len() > self.config.change_history {
            self.changes.pop_front();
        }
        Some(change)
    }

    /// Read-state changes after `version`, in order. When the history no
    /// longer reaches back that far, returns the current state of every kept
    /// item instead, grouped by state (the client applies both the same way).
    pub fn changes_after(&self, version: u64) -> Vec<Change> {
        if version >= self.meta.version {
            return Vec::new();
        }
        let reaches = self
            .changes
            .front()
            .is_some_and(|c| c.version <= version + 1);
        if reaches {
            return self
                .changes
                .iter()
                .filter(|c| c.version > version)
                .cloned()
                .collect();
        }
        [ReadState::Unread, ReadState::Read, ReadState::Archived]
            .into_iter()
            .filter_map(|state| {
                let ids: Vec<String> = self
                    .items
                    .values()
                    .filter(|n| n.state == state)
                    .map(|n| n.id.clone())
                    .collect();
                (!ids.is_empty()).then_some(Change {
                    version: self.meta.version,
                    ids,
                    state,
                })
            })
            .collect()
    }

    /// Unread items kept.
    pub fn unread(&self) -> usize {
        self.items
            .values()
            .filter(|n| n.state == ReadState::Unread)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::{Category, Localized, Priority};
    use crate::testing::test;

    pub(super) fn note(id: &str, expires_at: Option<Millis>) -> Notification {
        Notification {
            id: id.into(),
            seq: 0,
            kind: "order.shipped".into(),
            category: Category::Order,
            priority: Priority::Normal,
            title: Localized {
                en: id.into(),
                zh: id.into(),
            },
            body: Localized::default(),
            link: None,
            created_at: 0,
            expires_at,
            collapse_key: None,
            state: ReadState::Unread,
            ingested_at: 0,
        }
    }

    fn seqs(r: Replay<'_>) -> Vec<u64> {
        match r {
            Replay::Items { items, .. } => items.iter().map(|n| n.seq).collect(),
            Replay::Reset { oldest } => panic!("unexpected reset to {oldest}"),
        }
    }

    #[test]
    fn appends_in_order_and_replays_after_a_cursor() {
        let mut log = InboxLog::new(LogConfig::default());
        for i in 0..5 {
            assert_eq!(
                log.append(note(&format!("n{i}"), None), 0)
                    .unwrap()
                    .notification
                    .seq,
                i + 1
            );
        }
        assert_eq!(seqs(log.replay(2, 100, 0)), vec![3, 4, 5]);
        assert_eq!(seqs(log.replay(5, 100, 0)), Vec::<u64>::new());
        match log.replay(0, 2, 0) {
            Replay::Items { items, more } => assert_eq!((items.len(), more), (2, true)),
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn collapse_replaces_in_place_with_a_new_seq() {
        let mut log = InboxLog::new(LogConfig::default());
        log.append(note("c:order:1", None), 0);
        log.append(note("other", None), 0);
        let a = log.append(note("c:order:1", None), 0).unwrap();
        assert_eq!((a.notification.seq, a.superseded), (3, Some(1)));
        assert_eq!(log.len(), 2);
        assert_eq!(seqs(log.replay(0, 10, 0)), vec![2, 3]);
    }

    #[test]
    fn an_older_update_never_replaces_a_newer_one() {
        let mut log = InboxLog::new(LogConfig::default());
        let mut failed = note("c:order:1", None);
        (failed.created_at, failed.title.en) = (2_000, "Delivery failed".into());
        log.append(failed, 10_000).unwrap();
        // "Out for delivery", created before the failure, released late (quiet hours).
        let mut out = note("c:order:1", None);
        (out.created_at, out.title.en) = (1_000, "Out for delivery".into());
        assert!(log.append(out, 10_000).is_none());
        assert_eq!(log.head(), 1, "no seq spent on what was not stored");
        let kept = |log: &InboxLog| match log.replay(0, 10, 0) {
            Replay::Items { items, .. } => items.iter().map(|n| n.title.en.clone()).collect(),
            Replay::Reset { .. } => Vec::new(),
        };
        assert_eq!(kept(&log), ["Delivery failed"]);
        // Created at the same time or later, it replaces as before.
        let mut delivered = note("c:order:1", None);
        (delivered.created_at, delivered.title.en) = (2_000, "Delivered".into());
        assert_eq!(log.append(delivered, 10_000).unwrap().superseded, Some(1));
        assert_eq!(kept(&log), ["Delivered"]);
        // An item dated in the future (the producer's clock ahead) blocks nothing.
        let mut ahead = note("c:order:2", None);
        (ahead.created_at, ahead.title.en) = (90_000, "Shipped (clock ahead)".into());
        log.append(ahead, 5_000).unwrap();
        let mut paid = note("c:order:2", None);
        (paid.created_at, paid.title.en) = (4_000, "Refunded".into());
        assert!(log.append(paid, 5_000).is_some());
        // A digest is a new summary: it replaces the last one whatever its items' dates.
        let mut digest = note("d:promo", None);
        (digest.kind, digest.created_at) = ("digest".into(), 3_000);
        log.append(digest.clone(), 5_000).unwrap();
        digest.created_at = 2_500;
        assert!(log.append(digest, 5_000).is_some());
    }

    #[test]
    fn retention_trims_and_old_cursors_reset() {
        let mut log = InboxLog::new(LogConfig {
            retention: 3,
            ..Default::default()
        });
        for i in 0..5 {
            log.append(note(&format!("n{i}"), None), 0);
        }
        assert_eq!(log.len(), 3);
        assert_eq!(log.replay(1, 10, 0), Replay::Reset { oldest: 3 });
        assert_eq!(seqs(log.replay(2, 10, 0)), vec![3, 4, 5]);
    }

    #[test]
    fn a_cursor_past_the_head_resets_to_everything_kept() {
        let mut log = InboxLog::new(LogConfig::default());
        assert_eq!(log.replay(7, 10, 0), Replay::Reset { oldest: 1 });
        for i in 0..3 {
            log.append(note(&format!("n{i}"), None), 0);
        }
        assert_eq!(seqs(log.replay(3, 10, 0)), Vec::<u64>::new());
        assert_eq!(log.replay(4, 10, 0), Replay::Reset { oldest: 1 });
        assert_eq!(seqs(log.replay(0, 10, 0)), vec![1, 2, 3]);
    }

    #[test]
    fn expired_items_are_dropped_without_reset() {
        let mut log = InboxLog::new(LogConfig::default());
        log.append(note("soon", Some(10)), 0);
        let a = log.append(note("later", None), 20).unwrap();
        assert_eq!(a.evicted, vec![1]);
        assert_eq!(seqs(log.replay(0, 10, 20)), vec![2]);
    }

    #[test]
    fn an_expired_item_is_not_replayed_before_the_next_append_drops_it() {
        let mut log = InboxLog::new(LogConfig::default());
        log.append(note("kept", None), 0);
        log.append(note("sale", Some(10)), 0);
        // Nothing appended since the sale ended: it is still stored, but a resume at 20
        // (a device coming back after the sale) must not get it, nor count it as missed.
        assert_eq!(log.items().count(), 2);
        assert_eq!(seqs(log.replay(0, 10, 20)), vec![1]);
        assert_eq!(seqs(log.replay(1, 10, 20)), Vec::<u64>::new());
        assert_eq!(seqs(log.replay(1, 10, 5)), vec![2]);
    }

    #[test]
    fn read_state_changes_are_versioned() {
        let mut log = InboxLog::new(LogConfig {
            change_history: 2,
            ..Default::default()
        });
        for i in 0..3 {
            log.append(note(&format!("n{i}"), None), 0);
        }
        let c1 = log
            .mark(&["n0".into(), "missing".into()], ReadState::Read)
            .unwrap();
        assert_eq!((c1.version, c1.ids.clone()), (1, vec!["n0".to_string()]));
        assert!(
            log.mark(&["n0".into()], ReadState::Read).is_none(),
            "no-op is not a change"
        );
        let c2 = log.mark_all_read(2).unwrap();
        assert_eq!(c2.ids, vec!["n1".to_string()]);
        log.mark(&["n2".into()], ReadState::Archived).unwrap();
        assert_eq!(log.unread(), 0);
        assert_eq!(log.changes_after(2).len(), 1);
        assert_eq!(log.changes_after(3), vec![]);
        // History keeps 2 changes: version 0 is too old, so a snapshot comes back.
        let snap = log.changes_after(0);
        assert!(snap
            .iter()
            .any(|c| c.state == ReadState::Archived && c.ids == vec!["n2".to_string()]));
        assert!(snap
            .iter()
            .any(|c| c.state == ReadState::Read && c.ids.len() == 2));
    }

    #[test]
    fn dedups_event_ids_within_the_window() {
        let mut log = InboxLog::new(LogConfig {
            dedup_window: 100,
            ..Default::default()
        });
        assert!(log.record_event("e1", 0));
        assert!(!log.record_event("e1", 99));
        assert!(log.has_seen("e1", 50));
        assert_eq!(log.prune_seen(100), vec!["e1".to_string()]);
        assert!(log.record_event("e1", 100));
    }

    #[test]
    fn restore_gives_back_the_same_log() {
        let mut log = InboxLog::new(LogConfig {
            retention: 2,
            ..Default::default()
        });
        for i in 0..4 {
            log.append(note(&format!("n{i}"), None), 0);
        }
        log.mark(&["n3".into()], ReadState::Read);
        let back = InboxLog::restore(
            LogConfig {
                retention: 2,
                ..Default::default()
            },
            log.meta(),
            log.items().cloned(),
            log.changes_after(0),
            [],
        );
        assert_eq!(back.head(), 4);
        assert_eq!(back.replay(1, 10, 0), Replay::Reset { oldest: 3 });
        assert_eq!(back.get("n3").unwrap().state, ReadState::Read);
    }

    #[test]
    fn restore_takes_the_head_from_the_newest_row_when_the_meta_is_behind() {
        let mut log = InboxLog::new(LogConfig::default());
        let stale = log.meta();
        for i in 0..3 {
            log.append(note(&format!("n{i}"), None), 0);
        }
        // The shell wrote the rows but not the meta (plain appends).
        let mut back = InboxLog::restore(LogConfig::default(), stale, log.items().cloned(), [], []);
        assert_eq!(back.head(), 3);
        assert_eq!(
            back.append(note("n3", None), 0).unwrap().notification.seq,
            4
        );
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::tests::note;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Replay after any cursor yields exactly the kept items newer than it,
        /// in order, and one item per id.
        #[test]
        fn replay_yields_the_missing_suffix(ids in prop::collection::vec(0u8..12, 1..80), retention in 3usize..40, cursor in 0u64..100) {
            let mut log = InboxLog::new(LogConfig { retention, ..Default::default() });
            let mut latest: BTreeMap<String, u64> = BTreeMap::new();
            for id in &ids {
                let a = log.append(note(&format!("k{id}"), None), 0).unwrap();
                latest.insert(a.notification.id.clone(), a.notification.seq);
            }
            // What a fully synced client should hold: the newest seq of each id, within retention.
            let mut expected: Vec<u64> = latest.values().copied().collect();
            expected.sort();
            let kept: Vec<u64> = expected.iter().rev().take(retention).rev().copied().collect();
            prop_assert_eq!(log.items().map(|n| n.seq).collect::<Vec<_>>(), kept.clone());
            match log.replay(cursor, usize::MAX, 0) {
                Replay::Items { items, more } => {
                    prop_assert!(!more);
                    prop_assert!(cursor >= log.meta().trimmed_through);
                    prop_assert!(cursor <= log.meta().head);
                    let got: Vec<u64> = items.iter().map(|n| n.seq).collect();
                    let want: Vec<u64> = kept.iter().copied().filter(|s| *s > cursor).collect();
                    prop_assert_eq!(got, want);
                }
                Replay::Reset { oldest } => {
                    prop_assert!(cursor < log.meta().trimmed_through || cursor > log.meta().head);
                    prop_assert_eq!(oldest, log.meta().trimmed_through + 1);
                }
            }
            let mut seen = std::collections::HashSet::new();
            prop_assert!(log.items().all(|n| seen.insert(n.id.clone())));
        }
    }
}
