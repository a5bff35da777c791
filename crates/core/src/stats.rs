//! Real-time statistics for operators: windowed counters and latency
//! percentiles, fed with explicit timestamps.
//!
//! The edge records what happens (events accepted by type, notifications by
//! category, rejections by code, frames delivered, ingest-to-delivery latency)
//! and serves a [`Snapshot`] from `GET /v1/stats`, or the same numbers as
//! Prometheus text ([`prometheus_text`]). Nothing here reads a clock: every
//! call takes `now`, so rollover and expiry are tested by moving a number.
//!
//! Memory is constant per key:
//! - a [`Counter`] is two ring buffers of tumbling windows, 900 one-second
//!   buckets (the last 15 minutes) and 60 one-minute buckets (the last hour),
//!   plus a lifetime total for Prometheus counters;
//! - a [`LatencySketch`] is a log-linear histogram of 1,024 buckets over
//!   microseconds (exact below 32 µs, then 32 sub-buckets per power of two),
//!   so any quantile is within 1/64 (~1.6 %) of the true value, and two
//!   sketches merge by adding buckets;
//! - [`WindowedLatency`] keeps one sketch per minute for the last hour, so
//!   "p99 over the last 5 minutes" merges five of them.
//!
//! Label values that come from producers (event types, rejection codes) are
//! capped in length and number, so a misbehaving producer cannot grow the
//! statistics without bound: past [`MAX_LABELS`] distinct values, new ones
//! are counted under `other`.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::notification::Category;
use crate::time::{Millis, MINUTE, SECOND};

/// One-second buckets kept: the last 15 minutes.
pub const SECOND_BUCKETS: usize = 900;
/// One-minute buckets kept: the last hour.
pub const MINUTE_BUCKETS: usize = 60;
/// Distinct event types (or rejection codes) tracked before new ones are
/// counted under [`OTHER_LABEL`].
pub const MAX_LABELS: usize = 100;
/// The label that absorbs event types or codes past [`MAX_LABELS`].
pub const OTHER_LABEL: &str = "other";
/// Longest label kept; longer ones are cut.
const MAX_LABEL_CHARS: usize = 64;
/// The window of the latency percentiles in a [`Snapshot`].
pub const LATENCY_WINDOW: Millis = 5 * MINUTE;

// ---------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------

/// Bucket width of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// One-second buckets over the last 15 minutes.
    Second,
    /// One-minute buckets over the last hour.
    Minute,
}

impl Resolution {
    /// Width of one bucket.
    pub fn width(self) -> Millis {
        match self {
            Resolution::Second => SECOND,
            Resolution::Minute => MINUTE,
        }
    }

    /// Number of buckets kept.
    pub fn buckets(self) -> usize {
        match self {
            Resolution::Second => SECOND_BUCKETS,
            Resolution::Minute => MINUTE_BUCKETS,
        }
    }

    /// Time covered by the buckets kept.
    pub fn span(self) -> Millis {
        self.width() * self.buckets() as Millis
    }
}

/// Tumbling-window counts in a ring buffer. `head` is the newest bucket
/// number (`at.div_euclid(width)`); slots older than `head - len` are stale.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ring {
    width: Millis,
    head: Option<i64>,
    counts: Vec<u64>,
}

impl Ring {
    fn new(resolution: Resolution) -> Ring {
        Ring {
            width: resolution.width(),
            head: None,
            counts: vec![0; resolution.buckets()],
        }
    }

    fn len(&self) -> i64 {
        self.counts.len() as i64
    }

    fn slot(&self, bucket: i64) -> usize {
        bucket.rem_euclid(self.len().max(1)) as usize
    }

    fn add(&mut self, at: Millis, n: u64) {
        let bucket = at.div_euclid(self.width);
        let len = self.len();
        match self.head {
            None => self.head = Some(bucket),
            Some(head) if bucket > head => {
                // Zero the slots between the old head and the new one (all of
                // them after a gap longer than the ring).
                let steps = bucket.saturating_sub(head).min(len);
                for i in 1..=steps {
                    let slot = self.slot(head + i);
                    if let Some(c) = self.counts.get_mut(slot) {
                        *c = 0;
                    }
                }
                self.head = Some(bucket);
            }
            // Too old for the ring (a late record from a skewed clock).
            Some(head) if head.saturating_sub(bucket) >= len => return,
            Some(_) => {}
        }
        let slot = self.slot(bucket);
        if let Some(c) = self.counts.get_mut(slot) {
            *c = c.saturating_add(n);
        }
    }

    fn get(&self, bucket: i64) -> u64 {
        match self.head {
            Some(head) if bucket <= head && head.saturating_sub(bucket) < self.len() => {
                self.counts.get(self.slot(bucket)).copied().unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// The `k` buckets ending with the one holding `now`, oldest first.
    fn last(&self, k: i64, now: Millis) -> impl Iterator<Item = (i64, u64)> + '_ {
        let end = now.div_euclid(self.width);
        let start = end.saturating_sub(k.saturating_sub(1));
        (start..=end).map(move |b| (b, self.get(b)))
    }
}

/// One windowed counter: per-second counts for 15 minutes, per-minute counts
/// for an hour, and a lifetime total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    seconds: Ring,
    minutes: Ring,
    total: u64,
}

impl Default for Counter {
    fn default() -> Self {
        Counter::new()
    }
}

impl Counter {
    /// A counter with nothing recorded.
    pub fn new() -> Counter {
        Counter {
            seconds: Ring::new(Resolution::Second),
            minutes: Ring::new(Resolution::Minute),
            total: 0,
        }
    }

    /// Counts one occurrence at `now`.
    pub fn record(&mut self, now: Millis) {
        self.add(1, now);
    }

    /// Counts `n` occurrences at `now`. A time older than a ring's span
    /// (relative to the newest time seen) only counts towards the total.
    pub fn add(&mut self, n: u64, now: Millis) {
        self.seconds.add(now, n);
        self.minutes.add(now, n);
        self.total = self.total.saturating_add(n);
    }

    /// Every occurrence ever counted (a Prometheus counter).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// All buckets of `resolution` ending with the one holding `now`, oldest
    /// first, each as (bucket start, count): 900 points for seconds, 60 for
    /// minutes.
    pub fn series(&self, resolution: Resolution, now: Millis) -> Vec<(Millis, u64)> {
        let ring = self.ring(resolution);
        ring.last(ring.len(), now)
            .map(|(b, c)| (b.saturating_mul(ring.width), c))
            .collect()
    }

    /// The count of the one bucket of `resolution` holding time `at` (0 when
    /// it is outside what the ring keeps).
    pub fn bucket(&self, resolution: Resolution, at: Millis) -> u64 {
        let ring = self.ring(resolution);
        ring.get(at.div_euclid(ring.width))
    }

    /// Occurrences in the last `window` (at most an hour), counting whole
    /// buckets up to and including the current one: one-second buckets for
    /// windows up to 15 minutes, one-minute buckets beyond.
    pub fn count(&self, window: Millis, now: Millis) -> u64 {
        if window <= 0 {
            return 0;
        }
        let resolution = resolution_for(window);
        let ring = self.ring(resolution);
        let k = ceil_div(window, ring.width).min(ring.len());
        ring.last(k, now)
            .fold(0u64, |sum, (_, c)| sum.saturating_add(c))
    }

    /// Occurrences per second over the last `window` (at most an hour): see
    /// [`Counter::count`].
    pub fn rate(&self, window: Millis, now: Millis) -> f64 {
        if window <= 0 {
            return 0.0;
        }
        let window = window.min(Resolution::Minute.span());
        self.count(window, now) as f64 * SECOND as f64 / window as f64
    }

    fn ring(&self, resolution: Resolution) -> &Ring {
        match resolution {
            Resolution::Second => &self.seconds,
            Resolution::Minute => &self.minutes,
        }
    }
}

/// `a / b` rounded up, for `b > 0` (signed `div_ceil` is not stable).
fn ceil_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0)
}

fn resolution_for(window: Millis) -> Resolution {
    if window <= Resolution::Second.span() {
        Resolution::Second
    } else {
        Resolution::Minute
    }
}

/// Windowed counters by key (event type, category, rejection code, …), with
/// a cap on how many keys are tracked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters<K> {
    counters: BTreeMap<K, Counter>,
    max_keys: usize,
    overflow: Option<K>,
}

impl<K: Ord + Clone> Counters<K> {
    /// Counters tracking at most `max_keys` keys; records for further keys are dropped.
    pub fn new(max_keys: usize) -> Self {
        Counters {
            counters: BTreeMap::new(),
            max_keys,
            overflow: None,
        }
    }

    /// Counters tracking at most `max_keys` keys; records for further keys
    /// are counted under `overflow` (which may make one key more).
    pub fn with_overflow(max_keys: usize, overflow: K) -> Self {
        Counters {
            overflow: Some(overflow),
            ..Counters::new(max_keys)
        }
    }

    /// Counts one occurrence of `key` at `now`; see [`Counters::add`].
    pub fn record<Q>(&mut self, key: &Q, now: Millis) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        self.add(key, 1, now)
    }

    /// Counts `n` occurrences of `key` at `now`. Returns `false` when the key
    /// was new and the cap was reached: then the occurrences went to the
    /// overflow key, or were dropped when there is none.
    pub fn add<Q>(&mut self, key: &Q, n: u64, now: Millis) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(c) = self.counters.get_mut(key) {
            c.add(n, now);
            return true;
        }
        if self.counters.len() < self.max_keys {
            self.counters.entry(key.to_owned()).or_default().add(n, now);
            return true;
        }
        if let Some(other) = &self.overflow {
            self.counters.entry(other.clone()).or_default().add(n, now);
        }
        false
    }

    /// The counter of `key`, when anything was recorded for it.
    pub fn get<Q>(&self, key: &Q) -> Option<&Counter>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.counters.get(key)
    }

    /// [`Counter::series`] of `key` (all zeros for an unknown key).
    pub fn series<Q>(&self, key: &Q, resolution: Resolution, now: Millis) -> Vec<(Millis, u64)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match self.get(key) {
            Some(c) => c.series(resolution, now),
            None => Counter::new().series(resolution, now),
        }
    }

    /// [`Counter::count`] of `key`.
    pub fn count<Q>(&self, key: &Q, window: Millis, now: Millis) -> u64
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.get(key).map_or(0, |c| c.count(window, now))
    }

    /// [`Counter::rate`] of `key`.
    pub fn rate<Q>(&self, key: &Q, window: Millis, now: Millis) -> f64
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.get(key).map_or(0.0, |c| c.rate(window, now))
    }

    /// Every key with its counter, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &Counter)> {
        self.counters.iter()
    }

    /// Number of keys tracked.
    pub fn len(&self) -> usize {
        self.counters.len()
    }

    /// `true` when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }
}

// ---------------------------------------------------------------------------
// Latency
// ---------------------------------------------------------------------------

/// Sub-buckets per power of two, as bits: 2^5 = 32, so a bucket spans at
/// most 1/32 of its lower bound and its midpoint is within 1/64 of any value
/// in it.
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Highest exponent tracked: values up to 2^36 µs (~19 hours).
const MAX_EXP: u32 = 35;
const MAX_US: u64 = (1 << (MAX_EXP + 1)) - 1;
/// Number of buckets: 32 exact ones, then 32 per octave from 2^5 to 2^35.
const BUCKETS: usize = (SUB + (MAX_EXP - SUB_BITS + 1) as u64 * SUB) as usize;

/// The relative error bound of [`LatencySketch::quantile`].
pub const RELATIVE_ERROR: f64 = 1.0 / 64.0;

fn bucket_of(us: u64) -> usize {
    let v = us.min(MAX_US);
    if v < SUB {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros();
    let shift = exp - SUB_BITS;
    let mantissa = v >> shift;
    (SUB + u64::from(shift) * SUB + (mantissa - SUB)) as usize
}

/// The value reported for a bucket: its midpoint, in microseconds.
fn bucket_value(index: usize) -> f64 {
    let i = index as u64;
    if i < SUB {
        return i as f64;
    }
    let j = i - SUB;
    let shift = j / SUB;
    let lo = (j % SUB + SUB) << shift;
    let width = 1u64 << shift;
    lo as f64 + (width - 1) as f64 / 2.0
}

fn to_micros(latency_ms: f64) -> u64 {
    if latency_ms.is_finite() && latency_ms > 0.0 {
        // `as` saturates; the histogram clamps separately.
        (latency_ms * 1000.0).round() as u64
    } else {
        0
    }
}

/// A latency histogram with bounded relative error, constant memory and
/// exact merging. Values are milliseconds (negative or NaN count as 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LatencySketch {
    /// Empty until the first record, then [`BUCKETS`] long.
    counts: Vec<u64>,
    count: u64,
    sum_us: u64,
    min_us: u64,
    max_us: u64,
}

impl LatencySketch {
    /// An empty sketch (allocates on the first record).
    pub fn new() -> Self {
        LatencySketch::default()
    }

    /// Records one latency in milliseconds.
    pub fn record(&mut self, latency_ms: f64) {
        let us = to_micros(latency_ms);
        if self.counts.len() != BUCKETS {
            self.counts = vec![0; BUCKETS];
        }
        if let Some(c) = self.counts.get_mut(bucket_of(us)) {
            *c = c.saturating_add(1);
        }
        if self.count == 0 {
            (self.min_us, self.max_us) = (us, us);
        } else {
            self.min_us = self.min_us.min(us);
            self.max_us = self.max_us.max(us);
        }
        self.count = self.count.saturating_add(1);
        self.sum_us = self.sum_us.saturating_add(us);
    }

    /// Latencies recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Sum of the latencies recorded, in milliseconds.
    pub fn sum_ms(&self) -> f64 {
        self.sum_us as f64 / 1000.0
    }

    /// Smallest latency recorded, in milliseconds.
    pub fn min_ms(&self) -> Option<f64> {
        (self.count > 0).then(|| self.min_us as f64 / 1000.0)
    }

    /// Largest latency recorded, in milliseconds.
    pub fn max_ms(&self) -> Option<f64> {
        (self.count > 0).then(|| self.max_us as f64 / 1000.0)
    }

    /// The `q`-quantile (0.5 = median, 0.99 = p99) in milliseconds, by
    /// nearest rank, within [`RELATIVE_ERROR`] of the exact value (for
    /// latencies up to ~19 hours). `None` when empty or `q` is NaN; `q` is
    /// clamped to 0..=1.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || q.is_nan() {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        // The extremes are known exactly.
        if rank == self.count {
            return Some(self.max_us as f64 / 1000.0);
        }
        if rank == 1 {
            return Some(self.min_us as f64 / 1000.0);
        }
        let mut seen = 0u64;
        let mut value = self.max_us as f64;
        for (i, c) in self.counts.iter().enumerate() {
            seen = seen.saturating_add(*c);
            if seen >= rank {
                value = bucket_value(i);
                break;
            }
        }
        let value = value.clamp(self.min_us as f64, self.max_us as f64);
        Some(value / 1000.0)
    }

    /// Adds every latency of `other` to this sketch.
    pub fn merge(&mut self, other: &LatencySketch) {
        if other.count == 0 {
            return;
        }
        if self.counts.len() != BUCKETS {
            self.counts = vec![0; BUCKETS];
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        if self.count == 0 {
            (self.min_us, self.max_us) = (other.min_us, other.max_us);
        } else {
            self.min_us = self.min_us.min(other.min_us);
            self.max_us = self.max_us.max(other.max_us);
        }
        self.count = self.count.saturating_add(other.count);
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
    }
}

/// Latency sketches per minute for the last hour, so percentiles can be
/// computed over any recent window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowedLatency {
    slots: Vec<(Option<i64>, LatencySketch)>,
    head: Option<i64>,
}

impl Default for WindowedLatency {
    fn default() -> Self {
        WindowedLatency::new()
    }
}

impl WindowedLatency {
    /// Nothing recorded.
    pub fn new() -> Self {
        WindowedLatency {
            slots: vec![(None, LatencySketch::new()); MINUTE_BUCKETS],
            head: None,
        }
    }

    /// Records one latency (milliseconds) observed at `now`. Records more than
    /// an hour older than the newest one are dropped.
    pub fn record(&mut self, latency_ms: f64, now: Millis) {
        let minute = now.div_euclid(MINUTE);
        let len = MINUTE_BUCKETS as i64;
        if self.head.is_some_and(|h| h.saturating_sub(minute) >= len) {
            return;
        }
        self.head = Some(self.head.map_or(minute, |h| h.max(minute)));
        let Some((stamp, sketch)) = self.slots.get_mut(minute.rem_euclid(len) as usize) else {
            return;
        };
        if *stamp != Some(minute) {
            *stamp = Some(minute);
            *sketch = LatencySketch::new();
        }
        sketch.record(latency_ms);
    }

    /// Every latency recorded in the last `window` (at most an hour), merged into one sketch.
    /// Latencies are kept per calendar minute, so the window takes in the whole minute it
    /// starts in: at least `window`, at most a minute more; an hour or more is all the ring holds
    /// (the last 59 minutes and the current one). (Counting only whole minutes up to
    /// the current one would leave a one-minute window empty at every minute's start, and an
    /// alert on it flapping.)
    pub fn over(&self, window: Millis, now: Millis) -> LatencySketch {
        let end = now.div_euclid(MINUTE);
        let k = ceil_div(window, MINUTE).clamp(1, MINUTE_BUCKETS as i64 - 1);
        let start = end.saturating_sub(k);
        let mut merged = LatencySketch::new();
        for (stamp, sketch) in &self.slots {
            if stamp.is_some_and(|m| (start..=end).contains(&m)) {
                merged.merge(sketch);
            }
        }
        merged
    }

    /// The `q`-quantile over the last `window`, in milliseconds.
    pub fn quantile(&self, q: f64, window: Millis, now: Millis) -> Option<f64> {
        self.over(window, now).quantile(q)
    }
}

// ---------------------------------------------------------------------------
// Stats and Snapshot
// ---------------------------------------------------------------------------

/// Everything the edge measures, in one value the shell keeps and feeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    events: Counters<String>,
    notifications: Counters<Category>,
    rejections: Counters<String>,
    deliveries: Counter,
    latency: WindowedLatency,
    latency_count: u64,
    latency_sum_us: u64,
    sockets: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

fn label(text: &str) -> &str {
    match text.char_indices().nth(MAX_LABEL_CHARS) {
        Some((cut, _)) => text.get(..cut).unwrap_or(text),
        None => text,
    }
}

impl Stats {
    /// Nothing recorded, no sockets.
    pub fn new() -> Self {
        Stats {
            events: Counters::with_overflow(MAX_LABELS, OTHER_LABEL.to_owned()),
            notifications: Counters::new(Category::ALL.len()),
            rejections: Counters::with_overflow(MAX_LABELS, OTHER_LABEL.to_owned()),
            deliveries: Counter::new(),
            latency: WindowedLatency::new(),
            latency_count: 0,
            latency_sum_us: 0,
            sockets: 0,
        }
    }

    /// An event of type `kind` was accepted at ingest.
    pub fn record_event(&mut self, kind: &str, now: Millis) {
        self.events.record(label(kind), now);
    }

    /// A notification of `category` was created for a recipient.
    pub fn record_notification(&mut self, category: Category, now: Millis) {
        self.notifications.record(&category, now);
    }

    /// An ingest item was rejected with machine code `code`.
    pub fn record_rejection(&mut self, code: &str, now: Millis) {
        self.rejections.record(label(code), now);
    }

    /// `n` notification frames were sent to connected sockets.
    pub fn record_deliveries(&mut self, n: u64, now: Millis) {
        self.deliveries.add(n, now);
    }

    /// One notification reached a socket `latency_ms` after its event was
    /// ingested (`now - notification.ingested_at`).
    pub fn record_latency(&mut self, latency_ms: f64, now: Millis) {
        self.latency.record(latency_ms, now);
        self.latency_count = self.latency_count.saturating_add(1);
        self.latency_sum_us = self.latency_sum_us.saturating_add(to_micros(latency_ms));
    }

    /// Sets the gauge of open WebSocket connections.
    pub fn set_sockets(&mut self, open: u64) {
        self.sockets = open;
    }

    /// Open WebSocket connections.
    pub fn sockets(&self) -> u64 {
        self.sockets
    }

    /// Events accepted, by type.
    pub fn events(&self) -> &Counters<String> {
        &self.events
    }

    /// Notifications created, by category.
    pub fn notifications(&self) -> &Counters<Category> {
        &self.notifications
    }

    /// Ingest rejections, by code.
    pub fn rejections(&self) -> &Counters<String> {
        &self.rejections
    }

    /// Frames delivered to sockets.
    pub fn deliveries(&self) -> &Counter {
        &self.deliveries
    }

    /// Delivery latency per minute.
    pub fn latency(&self) -> &WindowedLatency {
        &self.latency
    }

    /// What `GET /v1/stats` returns at `now`.
    pub fn snapshot(&self, now: Millis) -> Snapshot {
        let minutes: Vec<Millis> = self
            .deliveries
            .series(Resolution::Minute, now)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        fn per_minute<K: Ord + Clone>(c: &Counters<K>, now: Millis) -> BTreeMap<K, Vec<u64>> {
            c.iter()
                .map(|(k, c)| {
                    let counts = c.series(Resolution::Minute, now);
                    (
                        k.clone(),
                        counts.into_iter().map(|(_, n)| n).collect::<Vec<_>>(),
                    )
                })
                .filter(|(_, counts)| counts.iter().any(|n| *n > 0))
                .collect()
        }
        fn totals<K: Ord + Clone>(c: &Counters<K>) -> BTreeMap<K, u64> {
            c.iter().map(|(k, c)| (k.clone(), c.total())).collect()
        }
        let recent = self.latency.over(LATENCY_WINDOW, now);
        Snapshot {
            at: now,
            minutes,
            events_per_minute: per_minute(&self.events, now),
            notifications_per_minute: per_minute(&self.notifications, now),
            deliveries_per_minute: self
                .deliveries
                .series(Resolution::Minute, now)
                .into_iter()
                .map(|(_, n)| n)
                .collect(),
            rejections_last_hour: self
                .rejections
                .iter()
                .map(|(k, c)| (k.clone(), c.count(Resolution::Minute.span(), now)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            latency: LatencySummary {
                window_ms: LATENCY_WINDOW,
                count: recent.count(),
                p50_ms: recent.quantile(0.5),
                p90_ms: recent.quantile(0.9),
                p99_ms: recent.quantile(0.99),
                max_ms: recent.max_ms(),
            },
            sockets: self.sockets,
            totals: Totals {
                events: totals(&self.events),
                notifications: totals(&self.notifications),
                rejections: totals(&self.rejections),
                deliveries: self.deliveries.total(),
                latency_count: self.latency_count,
                latency_sum_ms: self.latency_sum_us as f64 / 1000.0,
            },
        }
    }
}

/// Latency percentiles over a recent window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// The window the percentiles cover.
    pub window_ms: Millis,
    /// Deliveries measured in the window.
    pub count: u64,
    /// Median, in milliseconds (`null` when nothing was measured).
    pub p50_ms: Option<f64>,
    /// 90th percentile, in milliseconds.
    pub p90_ms: Option<f64>,
    /// 99th percentile, in milliseconds.
    pub p99_ms: Option<f64>,
    /// Slowest, in milliseconds.
    pub max_ms: Option<f64>,
}

/// Lifetime totals since the statistics were created (Prometheus counters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Totals {
    /// Events accepted, by type.
    pub events: BTreeMap<String, u64>,
    /// Notifications created, by category.
    pub notifications: BTreeMap<Category, u64>,
    /// Ingest rejections, by code.
    pub rejections: BTreeMap<String, u64>,
    /// Frames delivered to sockets.
    pub deliveries: u64,
    /// Latencies measured.
    pub latency_count: u64,
    /// Sum of the latencies measured, in milliseconds.
    pub latency_sum_ms: f64,
}

/// The body of `GET /v1/stats`: the last hour per minute, recent latency,
/// open sockets and lifetime totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When it was taken (unix ms).
    pub at: Millis,
    /// Start of each one-minute bucket, oldest first (60 of them, the last
    /// being the current, partial minute); every per-minute list aligns with it.
    pub minutes: Vec<Millis>,
    /// Events accepted per minute, by type (types seen in the last hour).
    pub events_per_minute: BTreeMap<String, Vec<u64>>,
    /// Notifications created per minute, by category (categories seen in the last hour).
    pub notifications_per_minute: BTreeMap<Category, Vec<u64>>,
    /// Frames delivered per minute.
    pub deliveries_per_minute: Vec<u64>,
    /// Ingest rejections in the last hour, by code.
    pub rejections_last_hour: BTreeMap<String, u64>,
    /// Delivery latency over [`LATENCY_WINDOW`].
    pub latency: LatencySummary,
    /// Open WebSocket connections.
    pub sockets: u64,
    /// Lifetime totals.
    pub totals: Totals,
}

// ---------------------------------------------------------------------------
// Prometheus
// ---------------------------------------------------------------------------

fn prom_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        v.to_string()
    }
}

fn prom_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn prom_header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The snapshot in the Prometheus text exposition format (version 0.0.4),
/// for `GET /v1/stats?format=prometheus` (content type
/// `text/plain; version=0.0.4`). Counters are lifetime totals; latency is a
/// summary in seconds whose quantiles cover [`LATENCY_WINDOW`].
pub fn prometheus_text(s: &Snapshot) -> String {
    let mut out = String::new();
    let name = "tidings_events_total";
    prom_header(
        &mut out,
        name,
        "counter",
        "Events accepted at ingest, by type.",
    );
    for (kind, n) in &s.totals.events {
        let _ = writeln!(out, "{name}{{type=\"{}\"}} {n}", prom_label(kind));
    }
    let name = "tidings_notifications_total";
    prom_header(
        &mut out,
        name,
        "counter",
        "Notifications created, by category.",
    );
    for c in Category::ALL {
        let n = s.totals.notifications.get(&c).copied().unwrap_or(0);
        let _ = writeln!(out, "{name}{{category=\"{}\"}} {n}", c.as_str());
    }
    let name = "tidings_rejections_total";
    prom_header(
        &mut out,
        name,
        "counter",
        "Ingest items rejected, by machine code.",
    );
    for (code, n) in &s.totals.rejections {
        let _ = writeln!(out, "{name}{{code=\"{}\"}} {n}", prom_label(code));
    }
    let name = "tidings_deliveries_total";
    prom_header(
        &mut out,
        name,
        "counter",
        "Notification frames sent to connected sockets.",
    );
    let _ = writeln!(out, "{name} {}", s.totals.deliveries);
    let name = "tidings_sockets_connected";
    prom_header(&mut out, name, "gauge", "WebSocket connections open now.");
    let _ = writeln!(out, "{name} {}", s.sockets);
    let name = "tidings_delivery_latency_seconds";
    prom_header(
        &mut out,
        name,
        "summary",
        "Ingest-to-delivery latency; quantiles over the last 5 minutes.",
    );
    for (q, v) in [
        ("0.5", s.latency.p50_ms),
        ("0.9", s.latency.p90_ms),
        ("0.99", s.latency.p99_ms),
    ] {
        let v = v.map_or(f64::NAN, |ms| ms / 1000.0);
        let _ = writeln!(out, "{name}{{quantile=\"{q}\"}} {}", prom_float(v));
    }
    let _ = writeln!(
        out,
        "{name}_sum {}",
        prom_float(s.totals.latency_sum_ms / 1000.0)
    );
    let _ = writeln!(out, "{name}_count {}", s.totals.latency_count);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;

    /// Exact nearest-rank quantile of `values` (microseconds), in ms.
    pub(super) fn exact(values: &[u64], q: f64) -> f64 {
        let mut v = values.to_vec();
        v.sort_unstable();
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1] as f64 / 1000.0
    }

    fn check_quantiles(values_us: &[u64]) {
        let mut s = LatencySketch::new();
        for v in values_us {
            s.record(*v as f64 / 1000.0);
        }
        assert_eq!(s.count(), values_us.len() as u64);
        for q in [0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let want = exact(values_us, q);
            let got = s.quantile(q).unwrap();
            let err = (got - want).abs() / want.max(1e-9);
            assert!(
                err <= RELATIVE_ERROR + 1e-9 && RELATIVE_ERROR < 0.02,
                "q={q}: got {got}, want {want}"
            );
        }
    }

    /// A deterministic pseudo-random sequence in 0..1 (tests only).
    fn lcg(seed: u64) -> impl Iterator<Item = f64> {
        let mut x = seed;
        std::iter::from_fn(move || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            Some((x >> 11) as f64 / (1u64 << 53) as f64)
        })
    }

    #[test]
    fn seconds_roll_over_and_old_buckets_expire() {
        let mut c = Counter::new();
        c.record(500);
        c.record(999);
        c.record(1_200);
        let s = c.series(Resolution::Second, 1_500);
        assert_eq!(s.len(), SECOND_BUCKETS);
        assert_eq!(s[SECOND_BUCKETS - 2..], [(0, 2), (1_000, 1)]);
        assert_eq!(c.count(SECOND, 1_500), 1);
        assert_eq!(c.count(2 * SECOND, 1_500), 3);
        // 15 minutes later the first second has left the window...
        let later = 900 * SECOND;
        assert_eq!(c.series(Resolution::Second, later)[0], (SECOND, 1));
        assert_eq!(c.count(15 * MINUTE, later), 1);
        assert_eq!(c.count(15 * MINUTE, later + SECOND), 0);
        // ...and recording into its slot starts it afresh.
        c.record(later + 100);
        assert_eq!(c.count(SECOND, later + 100), 1);
        assert_eq!(
            c.series(Resolution::Second, later + 100)[SECOND_BUCKETS - 1],
            (later, 1)
        );
        assert_eq!(c.total(), 4);
        // Minutes still hold everything of the first minute.
        assert_eq!(c.count(HOUR_FOR_TESTS, later + 100), 4);
    }

    const HOUR_FOR_TESTS: Millis = 60 * MINUTE;

    #[test]
    fn minutes_cover_the_last_hour() {
        let mut c = Counter::new();
        for m in 0..90 {
            c.add(m as u64, m * MINUTE + 30 * SECOND);
        }
        let now = 89 * MINUTE + 59 * SECOND;
        let s = c.series(Resolution::Minute, now);
        assert_eq!(s.len(), MINUTE_BUCKETS);
        assert_eq!(s[0], (30 * MINUTE, 30));
        assert_eq!(s[59], (89 * MINUTE, 89));
        assert_eq!(c.count(60 * MINUTE, now), (30..90).sum::<u64>());
        assert_eq!(c.count(5 * MINUTE, now), 85 + 86 + 87 + 88 + 89);
        assert_eq!(c.total(), (0..90).sum::<u64>());
        // A long silence empties every bucket.
        let quiet = now + 2 * HOUR_FOR_TESTS;
        assert!(c
            .series(Resolution::Minute, quiet)
            .iter()
            .all(|(_, n)| *n == 0));
        c.record(quiet);
        assert_eq!(c.count(60 * MINUTE, quiet), 1);
    }

    #[test]
    fn late_records_land_in_their_bucket_or_only_in_the_total() {
        let mut c = Counter::new();
        c.record(10 * SECOND);
        c.record(3 * SECOND); // slightly late: still in the window
        assert_eq!(
            c.series(Resolution::Second, 10 * SECOND)[SECOND_BUCKETS - 8].1,
            1
        );
        c.record(20 * MINUTE);
        c.record(SECOND); // older than 15 minutes before the head: seconds drop it
        assert_eq!(c.count(15 * MINUTE, 20 * MINUTE), 1);
        assert_eq!(c.count(60 * MINUTE, 20 * MINUTE), 4);
        assert_eq!(c.total(), 4);
    }

    #[test]
    fn rate_is_per_second() {
        let mut c = Counter::new();
        for i in 0..120 {
            c.record(i * 500);
        }
        let now = 59_999;
        assert_eq!(c.count(MINUTE, now), 120);
        assert!((c.rate(MINUTE, now) - 2.0).abs() < 1e-9);
        assert!((c.rate(10 * SECOND, now) - 2.0).abs() < 1e-9);
        assert_eq!(c.rate(0, now), 0.0);
        assert_eq!(c.count(-5, now), 0);
    }

    #[test]
    fn counters_cap_keys_into_overflow() {
        let mut c: Counters<String> = Counters::with_overflow(2, "other".into());
        assert!(c.record("a", 0));
        assert!(c.record("b", 0));
        assert!(!c.record("c", 0));
        assert!(!c.record("d", 0));
        assert!(c.record("a", 0));
        assert_eq!(c.count("a", SECOND, 0), 2);
        assert_eq!(c.count("other", SECOND, 0), 2);
        assert_eq!(c.count("c", SECOND, 0), 0);
        assert_eq!(c.len(), 3);
        assert_eq!(c.series("zzz", Resolution::Minute, 0).len(), MINUTE_BUCKETS);
        let mut dropped: Counters<Category> = Counters::new(1);
        dropped.record(&Category::Order, 0);
        assert!(!dropped.record(&Category::Stock, 0));
        assert_eq!(dropped.len(), 1);
    }

    #[test]
    fn bucket_index_and_value_agree() {
        for v in (0..5000u64).chain([MAX_US - 1, MAX_US, u64::MAX]) {
            let i = bucket_of(v);
            assert!(i < BUCKETS, "{v}");
            if v <= MAX_US {
                let mid = bucket_value(i);
                assert!(
                    (mid - v as f64).abs() <= v as f64 * RELATIVE_ERROR + 0.5,
                    "{v}: {mid}"
                );
            }
        }
        assert_eq!(bucket_of(MAX_US), BUCKETS - 1);
    }

    #[test]
    fn quantiles_are_within_bounds_on_known_distributions() {
        // Uniform 1 ms ..= 10 s.
        check_quantiles(&(1..=10_000).map(|ms| ms * 1000).collect::<Vec<_>>());
        // Exponential, mean 20 ms.
        let exp: Vec<u64> = lcg(7)
            .take(20_000)
            .map(|u| (-(1.0 - u).ln() * 20_000.0) as u64 + 1)
            .collect();
        check_quantiles(&exp);
        // Bimodal: fast path ~3 ms, slow path ~800 ms.
        let bi: Vec<u64> = lcg(9)
            .take(10_000)
            .enumerate()
            .map(|(i, u)| {
                if i % 10 == 0 {
                    800_000 + (u * 50_000.0) as u64
                } else {
                    3_000 + (u * 500.0) as u64
                }
            })
            .collect();
        check_quantiles(&bi);
        // Sub-millisecond and constant.
        check_quantiles(&[7, 7, 7, 31, 32, 33]);
        check_quantiles(&[250_000; 100]);
        let mut s = LatencySketch::new();
        assert_eq!(s.quantile(0.5), None);
        s.record(f64::NAN);
        s.record(-4.0);
        assert_eq!((s.quantile(0.5), s.quantile(f64::NAN)), (Some(0.0), None));
        s.record(f64::INFINITY);
        s.record(1e300);
        assert_eq!(s.count(), 4);
        assert_eq!(s.quantile(2.0), s.quantile(1.0));
        assert!(s.quantile(1.0).unwrap() >= (MAX_US / 1000) as f64);
    }

    #[test]
    fn sketches_merge_like_one() {
        let values: Vec<u64> = lcg(3).take(5_000).map(|u| (u * u * 2e6) as u64).collect();
        let (left, right) = values.split_at(1_234);
        let mut a = LatencySketch::new();
        let mut b = LatencySketch::new();
        let mut all = LatencySketch::new();
        left.iter().for_each(|v| a.record(*v as f64 / 1000.0));
        right.iter().for_each(|v| b.record(*v as f64 / 1000.0));
        values.iter().for_each(|v| all.record(*v as f64 / 1000.0));
        let mut merged = a.clone();
        merged.merge(&b);
        assert_eq!(merged, all);
        let mut empty = LatencySketch::new();
        empty.merge(&a);
        assert_eq!(empty, a);
        a.merge(&LatencySketch::new());
        assert_eq!(a.count(), left.len() as u64);
    }

    #[test]
    fn windowed_latency_covers_recent_minutes_only() {
        let mut w = WindowedLatency::new();
        // Minute m records latency (m + 1) * 10 ms, ten times.
        for m in 0..10 {
            for i in 0..10 {
                w.record(((m + 1) * 10) as f64, m * MINUTE + i * SECOND);
            }
        }
        let now = 9 * MINUTE + 30 * SECOND;
        // The last five minutes began in minute 4: minutes 4 to 9.
        let last5 = w.over(5 * MINUTE, now);
        assert_eq!(last5.count(), 60);
        assert_eq!(last5.min_ms(), Some(50.0));
        assert_eq!(w.quantile(1.0, MINUTE, now), Some(100.0));
        // Just after a minute begins, the last minute is still the one before, not nothing.
        let just_after = 10 * MINUTE + SECOND;
        assert_eq!(w.over(MINUTE, just_after).count(), 10);
        assert_eq!(w.quantile(0.5, MINUTE, just_after), Some(100.0));
        assert_eq!(w.over(HOUR_FOR_TESTS, now).count(), 100);
        // An hour on, the old minutes are gone; a stale record is ignored.
        let later = now + HOUR_FOR_TESTS;
        assert_eq!(w.over(HOUR_FOR_TESTS, later).count(), 0);
        w.record(5.0, later);
        w.record(999.0, MINUTE);
        assert_eq!(w.over(HOUR_FOR_TESTS, later).count(), 1);
        assert_eq!(w.quantile(0.99, 5 * MINUTE, later), Some(5.0));
    }

    fn sample() -> (Stats, Millis) {
        let mut s = Stats::new();
        let t0 = 1_795_341_600_000;
        s.record_event("order.shipped", t0);
        s.record_event("order.shipped", t0 + MINUTE);
        s.record_event("payment.failed", t0 + MINUTE);
        s.record_notification(Category::Order, t0 + MINUTE);
        s.record_rejection("bad \"type\"\n", t0);
        s.record_deliveries(3, t0 + MINUTE);
        for ms in [10.0, 20.0, 30.0, 400.0] {
            s.record_latency(ms, t0 + MINUTE);
        }
        s.set_sockets(2);
        (s, t0 + MINUTE + 5 * SECOND)
    }

    #[test]
    fn snapshot_reports_the_last_hour() {
        let (s, now) = sample();
        let snap = s.snapshot(now);
        assert_eq!(snap.minutes.len(), MINUTE_BUCKETS);
        assert_eq!(snap.minutes[59], now - 5 * SECOND);
        assert_eq!(snap.events_per_minute["order.shipped"][58..], [1, 1]);
        assert_eq!(snap.events_per_minute["payment.failed"][58..], [0, 1]);
        assert_eq!(snap.notifications_per_minute[&Category::Order][59], 1);
        assert_eq!(snap.deliveries_per_minute[59], 3);
        assert_eq!(snap.rejections_last_hour["bad \"type\"\n"], 1);
        assert_eq!(snap.latency.count, 4);
        let p50 = snap.latency.p50_ms.unwrap();
        assert!((p50 - 20.0).abs() <= 20.0 * RELATIVE_ERROR, "{p50}");
        assert_eq!(snap.latency.p99_ms, Some(400.0));
        assert_eq!(snap.sockets, 2);
        assert_eq!(snap.totals.events["order.shipped"], 2);
        assert_eq!(snap.totals.latency_sum_ms, 460.0);
        let json = serde_json::to_string(&snap).unwrap();
        assert!(json.contains("\"order\""), "{json}");
        assert_eq!(serde_json::from_str::<Snapshot>(&json).unwrap(), snap);
        // Two hours later the per-minute view is empty but totals remain.
        let later = s.snapshot(now + 2 * HOUR_FOR_TESTS);
        assert!(later.events_per_minute.is_empty() && later.rejections_last_hour.is_empty());
        assert_eq!((later.latency.count, later.latency.p50_ms), (0, None));
        assert_eq!(later.totals.deliveries, 3);
    }

    #[test]
    fn long_and_many_labels_stay_bounded() {
        let mut s = Stats::new();
        let long = "x".repeat(500);
        s.record_event(&long, 0);
        for i in 0..MAX_LABELS + 20 {
            s.record_event(&format!("t{i}"), 0);
        }
        assert!(s
            .events()
            .iter()
            .all(|(k, _)| k.chars().count() <= MAX_LABEL_CHARS));
        assert_eq!(s.events().len(), MAX_LABELS + 1);
        assert_eq!(s.events().count(OTHER_LABEL, SECOND, 0), 21);
        s.record_rejection("é".repeat(100).as_str(), 0);
        assert_eq!(
            s.rejections().iter().next().unwrap().0.chars().count(),
            MAX_LABEL_CHARS
        );
    }

    #[test]
    fn prometheus_text_is_well_formed() {
        let (s, now) = sample();
        let snap = s.snapshot(now);
        let text = prometheus_text(&snap);
        let p50 = format!(
            "tidings_delivery_latency_seconds{{quantile=\"0.5\"}} {}",
            snap.latency.p50_ms.unwrap() / 1000.0
        );
        for line in [
            p50.as_str(),
            "# HELP tidings_events_total Events accepted at ingest, by type.",
            "# TYPE tidings_events_total counter",
            "tidings_events_total{type=\"order.shipped\"} 2",
            "tidings_notifications_total{category=\"order\"} 1",
            "tidings_notifications_total{category=\"ops\"} 0",
            "tidings_rejections_total{code=\"bad \\\"type\\\"\\n\"} 1",
            "tidings_deliveries_total 3",
            "# TYPE tidings_sockets_connected gauge",
            "tidings_sockets_connected 2",
            "# TYPE tidings_delivery_latency_seconds summary",
            "tidings_delivery_latency_seconds{quantile=\"0.99\"} 0.4",
            "tidings_delivery_latency_seconds_sum 0.46",
            "tidings_delivery_latency_seconds_count 4",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        // Every sample line belongs to a family declared just before it.
        let mut declared = Vec::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                declared.push(rest.split(' ').next().unwrap().to_owned());
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap();
                let base = name.trim_end_matches("_sum").trim_end_matches("_count");
                assert_eq!(declared.last().map(String::as_str), Some(base), "{l}");
            }
        }
        let empty = prometheus_text(&Stats::new().snapshot(0));
        assert!(empty.contains("tidings_delivery_latency_seconds{quantile=\"0.5\"} NaN"));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::tests::exact;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Per-second and per-minute series equal a brute-force count of the
        /// recorded times, for times that only move forward.
        #[test]
        fn series_match_brute_force(steps in prop::collection::vec(0i64..40_000, 1..200), start in -10_000_000i64..10_000_000) {
            let mut c = Counter::new();
            let mut t = start;
            let mut times = Vec::new();
            for s in steps {
                t += s;
                c.record(t);
                times.push(t);
            }
            for res in [Resolution::Second, Resolution::Minute] {
                for (at, n) in c.series(res, t) {
                    let want = times.iter().filter(|x| x.div_euclid(res.width()) * res.width() == at).count() as u64;
                    prop_assert_eq!(n, want);
                }
            }
            prop_assert_eq!(c.total(), times.len() as u64);
        }

        /// Any quantile of any data is within the error bound, and merging
        /// equals recording everything in one sketch.
        #[test]
        fn quantiles_within_bound(values in prop::collection::vec(1u64..50_000_000_000, 1..300), q in 0.0f64..=1.0, cut in 0usize..300) {
            let mut s = LatencySketch::new();
            for v in &values {
                s.record(*v as f64 / 1000.0);
            }
            let want = exact(&values, q);
            let got = s.quantile(q).unwrap();
            prop_assert!((got - want).abs() <= want * RELATIVE_ERROR + 1e-9, "got {} want {}", got, want);
            let (l, r) = values.split_at(cut.min(values.len()));
            let mut a = LatencySketch::new();
            let mut b = LatencySketch::new();
            l.iter().for_each(|v| a.record(*v as f64 / 1000.0));
            r.iter().for_each(|v| b.record(*v as f64 / 1000.0));
            a.merge(&b);
            prop_assert_eq!(a, s);
        }
    }
}
