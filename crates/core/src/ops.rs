//! The operators' live view: what the edge pushes to the ops page, and the
//! page's model of it.
//!
//! An ops socket first gets an [`OpsFrame::Snapshot`]: per-second counts for
//! the last 15 minutes and per-minute counts for the same span, by event type
//! and rejection code, deliveries, latency percentiles, open sockets, the
//! last [`RECENT_REJECTED`] rejected events (payloads already redacted by
//! [`crate::redact`]) and every alert's status. After that, once a second, an
//! [`OpsFrame::Tick`] carries only the seconds completed since the previous
//! frame. [`OpsView`] applies both, so the page keeps a full 15-minute window
//! while the wire carries a few hundred bytes a second.
//!
//! Snapshots end at the last *completed* second, and their current minute
//! excludes the second in progress, so adding later ticks never counts a
//! second twice.
//!
//! [`polyline`] turns a series into SVG points, so the page draws its charts
//! without a chart library.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::alerts::AlertStatus;
use crate::stats::{Counters, LatencySummary, Resolution, Stats, LATENCY_WINDOW};
use crate::time::{Millis, MINUTE, SECOND};

/// Seconds in the per-second window (15 minutes).
pub const OPS_SECONDS: usize = 900;
/// Minutes in the per-minute window.
pub const OPS_MINUTES: usize = 15;
/// Rejected events kept for the table.
pub const RECENT_REJECTED: usize = 50;
/// Most seconds one tick carries; after a longer gap the edge sends a snapshot.
pub const MAX_TICK_SECONDS: usize = 60;

/// One rejected event, as the ops table shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedEvent {
    /// When it was rejected (unix ms).
    pub at: Millis,
    /// Where it came from: `events`, `shopify`, `stripe` or `woocommerce`.
    pub source: String,
    /// Its id, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Machine code (`unknown_type`, `signature_mismatch`, …).
    pub code: String,
    /// JSON path of the problem.
    #[serde(default)]
    pub path: String,
    /// What was wrong.
    pub message: String,
    /// The payload as redacted, bounded text (empty when not kept).
    #[serde(default)]
    pub payload: String,
    /// Numbered by the edge as it records them, so two identical rejections stay two rows.
    #[serde(default)]
    pub seq: u64,
}

/// The last few items, newest first, bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recent<T> {
    items: VecDeque<T>,
    cap: usize,
}

impl<T: Clone> Recent<T> {
    /// Keeps at most `cap` items.
    pub fn new(cap: usize) -> Self {
        Recent {
            items: VecDeque::with_capacity(cap.min(1024)),
            cap,
        }
    }

    /// Adds the newest item, dropping the oldest past the cap.
    pub fn push(&mut self, item: T) {
        self.items.push_front(item);
        self.items.truncate(self.cap);
    }

    /// Newest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    /// Newest first, as a list.
    pub fn to_vec(&self) -> Vec<T> {
        self.items.iter().cloned().collect()
    }

    /// How many are kept.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// `true` when none are kept.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Counts in equal buckets from `start`, `step` apart, by label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    /// Start of the first bucket (unix ms).
    pub start: Millis,
    /// Bucket width (ms).
    pub step: Millis,
    /// Buckets in every list below.
    pub len: usize,
    /// Events accepted, by type (types with no count in the window are left out).
    pub events: BTreeMap<String, Vec<u64>>,
    /// Notification frames delivered.
    pub deliveries: Vec<u64>,
    /// Rejections, by code.
    pub rejections: BTreeMap<String, Vec<u64>>,
}

/// Longest series a frame may carry (an hour of seconds).
pub const MAX_SERIES_LEN: usize = 3600;

impl Series {
    /// Start of the last bucket.
    pub fn last_bucket(&self) -> Millis {
        let steps = Millis::try_from(self.len.saturating_sub(1)).unwrap_or(Millis::MAX);
        self.start.saturating_add(steps.saturating_mul(self.step))
    }

    /// Checks what a decoder cannot: a positive step, a bounded length, and
    /// every list exactly that long.
    pub fn validate(&self) -> Result<(), String> {
        if self.step <= 0 {
            return Err(format!("series step must be positive, got {}", self.step));
        }
        if self.len == 0 || self.len > MAX_SERIES_LEN {
            return Err(format!(
                "series length must be 1 to {MAX_SERIES_LEN}, got {}",
                self.len
            ));
        }
        let lists = self
            .events
            .values()
            .chain(self.rejections.values())
            .chain(std::iter::once(&self.deliveries));
        for list in lists {
            if list.len() != self.len {
                return Err(format!(
                    "a series list has {} buckets, not {}",
                    list.len(),
                    self.len
                ));
            }
        }
        Ok(())
    }
}

/// Counts of one completed second.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondCounts {
    /// Start of the second (unix ms).
    pub at: Millis,
    /// Events accepted, by type (non-zero only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub events: BTreeMap<String, u64>,
    /// Frames delivered.
    #[serde(default)]
    pub deliveries: u64,
    /// Rejections, by code (non-zero only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rejections: BTreeMap<String, u64>,
}

/// Gauges sent with every frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gauges {
    /// Latency over the last minute.
    pub latency_1m: LatencySummary,
    /// Latency over the last five minutes.
    pub latency_5m: LatencySummary,
    /// Open WebSocket connections.
    pub sockets: u64,
    /// Every alert's status.
    pub alerts: Vec<AlertStatus>,
}

/// Frames the edge sends on an ops socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OpsFrame {
    /// Everything, on connect (and after a gap).
    Snapshot {
        /// When it was taken.
        at: Millis,
        /// Per second, the last 15 minutes up to the last completed second.
        seconds: Series,
        /// Per minute, the last 15 minutes; the last (current) minute excludes
        /// the second in progress.
        minutes: Series,
        /// Latency, sockets, alerts.
        gauges: Gauges,
        /// The last rejected events, newest first.
        rejected: Vec<RejectedEvent>,
    },
    /// Once a second: what changed.
    Tick {
        /// When it was sent.
        at: Millis,
        /// Seconds completed since the previous frame, oldest first.
        seconds: Vec<SecondCounts>,
        /// Latency, sockets, alerts.
        gauges: Gauges,
        /// Events rejected since the previous frame, newest first.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rejected: Vec<RejectedEvent>,
    },
}

impl OpsFrame {
    /// Decodes a frame; a clear error, never a panic.
    pub fn decode(text: &str) -> Result<OpsFrame, String> {
        let frame: OpsFrame =
            serde_json::from_str(text).map_err(|e| format!("bad ops frame: {e}"))?;
        match &frame {
            OpsFrame::Snapshot {
                seconds, minutes, ..
            } => {
                seconds
                    .validate()
                    .map_err(|e| format!("bad ops frame: {e}"))?;
                minutes
                    .validate()
                    .map_err(|e| format!("bad ops frame: {e}"))?;
            }
            OpsFrame::Tick { seconds, .. } if seconds.len() > MAX_SERIES_LEN => {
                return Err(format!(
                    "bad ops frame: a tick carries at most {MAX_SERIES_LEN} seconds"
                ));
            }
            OpsFrame::Tick { .. } => {}
        }
        Ok(frame)
    }

    /// The frame as JSON text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

fn second_of(t: Millis) -> Millis {
    t.div_euclid(SECOND) * SECOND
}

fn minute_of(t: Millis) -> Millis {
    t.div_euclid(MINUTE) * MINUTE
}

/// The last completed second before `now` (its start).
pub fn last_complete_second(now: Millis) -> Millis {
    second_of(now) - SECOND
}

fn labelled(
    counters: &Counters<String>,
    resolution: Resolution,
    k: usize,
    end: Millis,
) -> BTreeMap<String, Vec<u64>> {
    counters
        .iter()
        .map(|(label, c)| {
            let series = c.series(resolution, end);
            let tail = series.len().saturating_sub(k);
            (
                label.clone(),
                series[tail..].iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            )
        })
        .filter(|(_, v)| v.iter().any(|n| *n > 0))
        .collect()
}

/// Latency, sockets and alerts at `now`.
pub fn gauges(stats: &Stats, alerts: Vec<AlertStatus>, now: Millis) -> Gauges {
    let summary = |window: Millis| {
        let s = stats.latency().over(window, now);
        LatencySummary {
            window_ms: window,
            count: s.count(),
            p50_ms: s.quantile(0.5),
            p90_ms: s.quantile(0.9),
            p99_ms: s.quantile(0.99),
            max_ms: s.max_ms(),
        }
    };
    Gauges {
        latency_1m: summary(MINUTE),
        latency_5m: summary(LATENCY_WINDOW),
        sockets: stats.sockets(),
        alerts,
    }
}

/// The full view at `now` (see the module documentation for its boundaries).
pub fn snapshot(
    stats: &Stats,
    gauges: Gauges,
    rejected: Vec<RejectedEvent>,
    now: Millis,
) -> OpsFrame {
    let end = last_complete_second(now);
    let seconds = Series {
        start: end - (OPS_SECONDS as Millis - 1) * SECOND,
        step: SECOND,
        len: OPS_SECONDS,
        events: labelled(stats.events(), Resolution::Second, OPS_SECONDS, end),
        deliveries: {
            let s = stats.deliveries().series(Resolution::Second, end);
            s[s.len().saturating_sub(OPS_SECONDS)..]
                .iter()
                .map(|(_, n)| *n)
                .collect()
        },
        rejections: labelled(stats.rejections(), Resolution::Second, OPS_SECONDS, end),
    };
    // Minutes up to `end`'s minute; the second in progress is subtracted when
    // it falls in that minute, so ticks can add it later.
    let in_progress = second_of(now);
    let current_minute = minute_of(end);
    let trim = |label_counts: &mut Vec<u64>, second_count: u64| {
        if minute_of(in_progress) == current_minute {
            if let Some(last) = label_counts.last_mut() {
                *last = last.saturating_sub(second_count);
            }
        }
    };
    let minutes_of = |counters: &Counters<String>| {
        let mut by_label = labelled(counters, Resolution::Minute, OPS_MINUTES, end);
        for (label, counts) in by_label.iter_mut() {
            let now_count = counters
                .get(label)
                .map_or(0, |c| c.bucket(Resolution::Second, in_progress));
            trim(counts, now_count);
        }
        by_label
    };
    let events = minutes_of(stats.events());
    let rejections = minutes_of(stats.rejections());
    let mut deliveries: Vec<u64> = {
        let s = stats.deliveries().series(Resolution::Minute, end);
        s[s.len().saturating_sub(OPS_MINUTES)..]
            .iter()
            .map(|(_, n)| *n)
            .collect()
    };
    trim(
        &mut deliveries,
        stats.deliveries().bucket(Resolution::Second, in_progress),
    );
    let minutes = Series {
        start: current_minute - (OPS_MINUTES as Millis - 1) * MINUTE,
        step: MINUTE,
        len: OPS_MINUTES,
        events,
        deliveries,
        rejections,
    };
    OpsFrame::Snapshot {
        at: now,
        seconds,
        minutes,
        gauges,
        rejected,
    }
}

/// The completed seconds after `after` (a second start) up to the last
/// completed one before `now`, oldest first; at most [`MAX_TICK_SECONDS`]
/// (`None` when more are missing: send a snapshot instead).
pub fn seconds_since(stats: &Stats, after: Millis, now: Millis) -> Option<Vec<SecondCounts>> {
    let end = last_complete_second(now);
    let first = second_of(after) + SECOND;
    if end < first {
        return Some(Vec::new());
    }
    let n = ((end - first) / SECOND + 1) as usize;
    if n > MAX_TICK_SECONDS {
        return None;
    }
    let by_label = |c: &Counters<String>, at: Millis| -> BTreeMap<String, u64> {
        c.iter()
            .map(|(l, c)| (l.clone(), c.bucket(Resolution::Second, at)))
            .filter(|(_, n)| *n > 0)
            .collect()
    };
    Some(
        (0..n)
            .map(|i| {
                let at = first + i as Millis * SECOND;
                SecondCounts {
                    at,
                    events: by_label(stats.events(), at),
                    deliveries: stats.deliveries().bucket(Resolution::Second, at),
                    rejections: by_label(stats.rejections(), at),
                }
            })
            .collect(),
    )
}

/// Which figure a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Events accepted per second, by type.
    Events,
    /// Frames delivered per second.
    Deliveries,
    /// Rejections per second, by code.
    Rejections,
}

/// One line of a chart: a label and values per second.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Event type, rejection code, or `deliveries`.
    pub label: String,
    /// Per-second rate in each bucket, oldest first.
    pub values: Vec<f64>,
    /// Sum of the counts in the window.
    pub total: u64,
}

/// The ops page's model: applies frames, answers what to draw.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OpsView {
    seconds: Option<Series>,
    minutes: Option<Series>,
    gauges: Option<Gauges>,
    rejected: Vec<RejectedEvent>,
    at: Millis,
}

fn advance(series: &mut Series, bucket: Millis) {
    let last = series.last_bucket();
    if bucket <= last || series.step <= 0 {
        return;
    }
    let shift = usize::try_from(bucket.saturating_sub(last) / series.step).unwrap_or(usize::MAX);
    let shift_vec = |v: &mut Vec<u64>, len: usize| {
        if shift >= len {
            v.iter_mut().for_each(|n| *n = 0);
        } else {
            v.drain(..shift);
            v.extend(std::iter::repeat_n(0, shift));
        }
    };
    let len = series.len;
    series.events.values_mut().for_each(|v| shift_vec(v, len));
    series
        .rejections
        .values_mut()
        .for_each(|v| shift_vec(v, len));
    shift_vec(&mut series.deliveries, len);
    series.events.retain(|_, v| v.iter().any(|n| *n > 0));
    series.rejections.retain(|_, v| v.iter().any(|n| *n > 0));
    let moved = Millis::try_from(shift).unwrap_or(Millis::MAX);
    series.start = series
        .start
        .saturating_add(moved.saturating_mul(series.step));
}

fn add_at(series: &mut Series, bucket: Millis, counts: &SecondCounts) {
    advance(series, bucket);
    if bucket < series.start || series.step <= 0 {
        return;
    }
    let i =
        usize::try_from(bucket.saturating_sub(series.start) / series.step).unwrap_or(usize::MAX);
    if i >= series.len {
        return;
    }
    let len = series.len;
    let add = |map: &mut BTreeMap<String, Vec<u64>>, label: &str, n: u64| {
        let v = map.entry(label.to_owned()).or_insert_with(|| vec![0; len]);
        if let Some(slot) = v.get_mut(i) {
            *slot = slot.saturating_add(n);
        }
    };
    for (label, n) in &counts.events {
        add(&mut series.events, label, *n);
    }
    for (label, n) in &counts.rejections {
        add(&mut series.rejections, label, *n);
    }
    if let Some(slot) = series.deliveries.get_mut(i) {
        *slot = slot.saturating_add(counts.deliveries);
    }
}

impl OpsView {
    /// Nothing received yet.
    pub fn new() -> OpsView {
        OpsView::default()
    }

    /// Applies one frame from the edge.
    pub fn apply(&mut self, frame: OpsFrame) {
        match frame {
            OpsFrame::Snapshot {
                at,
                seconds,
                minutes,
                gauges,
                rejected,
            } => {
                self.seconds = Some(seconds);
                self.minutes = Some(minutes);
                self.gauges = Some(gauges);
                self.rejected = rejected;
                self.rejected.truncate(RECENT_REJECTED);
                self.at = at;
            }
            OpsFrame::Tick {
                at,
                seconds,
                gauges,
                rejected,
            } => {
                let (Some(sec), Some(min)) = (self.seconds.as_mut(), self.minutes.as_mut()) else {
                    return; // a tick before any snapshot: nothing to add to
                };
                for counts in seconds {
                    if counts.at <= sec.last_bucket() {
                        continue; // already counted
                    }
                    add_at(sec, counts.at, &counts);
                    add_at(min, minute_of(counts.at), &counts);
                }
                self.gauges = Some(gauges);
                // A rejection can reach both a snapshot and the next tick: keep it once.
                let mut merged: Vec<RejectedEvent> = rejected
                    .into_iter()
                    .filter(|r| !self.rejected.contains(r))
                    .collect();
                merged.append(&mut self.rejected);
                merged.truncate(RECENT_REJECTED);
                self.rejected = merged;
                self.at = at;
            }
        }
    }

    /// `true` once a snapshot arrived.
    pub fn is_ready(&self) -> bool {
        self.seconds.is_some()
    }

    /// When the last frame was sent.
    pub fn at(&self) -> Millis {
        self.at
    }

    /// Latency, sockets and alerts.
    pub fn gauges(&self) -> Option<&Gauges> {
        self.gauges.as_ref()
    }

    /// The last rejected events, newest first.
    pub fn rejected(&self) -> &[RejectedEvent] {
        &self.rejected
    }

    /// Start and width of the buckets at `resolution`.
    pub fn axis(&self, resolution: Resolution) -> Option<(Millis, Millis, usize)> {
        let s = match resolution {
            Resolution::Second => self.seconds.as_ref()?,
            Resolution::Minute => self.minutes.as_ref()?,
        };
        Some((s.start, s.step, s.len))
    }

    /// The lines of one chart, in events per second, largest total first; past
    /// `max_lines`, the rest are summed into one line labelled `other`.
    pub fn lines(&self, figure: Figure, resolution: Resolution, max_lines: usize) -> Vec<Line> {
        let Some(series) = (match resolution {
            Resolution::Second => self.seconds.as_ref(),
            Resolution::Minute => self.minutes.as_ref(),
        }) else {
            return Vec::new();
        };
        let per_second = series.step as f64 / SECOND as f64;
        let line = |label: &str, counts: &[u64]| Line {
            label: label.to_owned(),
            values: counts.iter().map(|n| *n as f64 / per_second).collect(),
            total: counts.iter().sum(),
        };
        let mut lines: Vec<Line> = match figure {
            Figure::Deliveries => return vec![line("deliveries", &series.deliveries)],
            Figure::Events => series.events.iter().map(|(l, c)| line(l, c)).collect(),
            Figure::Rejections => series.rejections.iter().map(|(l, c)| line(l, c)).collect(),
        };
        lines.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.label.cmp(&b.label)));
        if max_lines > 0 && lines.len() > max_lines {
            let rest = lines.split_off(max_lines - 1);
            let mut other = Line {
                label: crate::stats::OTHER_LABEL.to_owned(),
                values: vec![0.0; series.len],
                total: 0,
            };
            for l in rest {
                other.total += l.total;
                for (o, v) in other.values.iter_mut().zip(l.values) {
                    *o += v;
                }
            }
            lines.push(other);
        }
        lines
    }
}

/// SVG `points` for `values` drawn in a `width` × `height` box, from 0 at
/// the bottom to `max` at the top (values above `max` are clipped).
pub fn polyline(values: &[f64], width: f64, height: f64, max: f64) -> String {
    let mut out = String::with_capacity(values.len() * 12);
    let n = values.len();
    if n == 0 || max <= 0.0 || !max.is_finite() {
        return out;
    }
    let dx = if n > 1 { width / (n - 1) as f64 } else { 0.0 };
    for (i, v) in values.iter().enumerate() {
        let v = if v.is_finite() {
            v.clamp(0.0, max)
        } else {
            0.0
        };
        let y = height - v / max * height;
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{:.1},{:.1}", i as f64 * dx, y);
    }
    out
}

/// A round axis maximum at or above `peak` (1, 2, 5 × 10ⁿ), at least 1.
pub fn nice_max(peak: f64) -> f64 {
    if !peak.is_finite() || peak <= 1.0 {
        return 1.0;
    }
    let exp = peak.log10().floor();
    let base = 10f64.powf(exp);
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * base >= peak {
            return m * base;
        }
    }
    10.0 * base
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;

    const T0: Millis = 1_795_341_600_000;

    fn gauges_of(stats: &Stats, now: Millis) -> Gauges {
        gauges(stats, Vec::new(), now)
    }

    /// Traffic in seconds `from..to` (each at 10 ms into its second).
    fn record_seconds(s: &mut Stats, from: i64, to: i64) {
        for i in from..to {
            let at = T0 + i * SECOND + 10;
            s.record_event("order.shipped", at);
            if i % 3 == 0 {
                s.record_event("order.paid", at);
                s.record_rejection("unknown_type", at);
            }
            s.record_deliveries(2, at);
        }
    }

    fn stats_with_traffic() -> Stats {
        let mut s = Stats::new();
        record_seconds(&mut s, 0, 120);
        s
    }

    #[test]
    fn snapshot_covers_fifteen_minutes_ending_at_the_last_complete_second() {
        let stats = stats_with_traffic();
        let now = T0 + 119 * SECOND + 500; // second 119 is in progress
        let OpsFrame::Snapshot {
            seconds, minutes, ..
        } = snapshot(&stats, gauges_of(&stats, now), vec![], now)
        else {
            panic!()
        };
        assert_eq!(seconds.len, OPS_SECONDS);
        assert_eq!(seconds.start + 899 * SECOND, T0 + 118 * SECOND);
        let shipped = &seconds.events["order.shipped"];
        assert_eq!(shipped.len(), OPS_SECONDS);
        assert_eq!(
            shipped.iter().sum::<u64>(),
            119,
            "second 119 is not complete"
        );
        assert_eq!(minutes.len, OPS_MINUTES);
        assert_eq!(minutes.start + 14 * MINUTE, T0 + MINUTE);
        let m = &minutes.events["order.shipped"];
        assert_eq!(
            (m[13], m[14]),
            (60, 59),
            "current minute without the second in progress"
        );
        assert_eq!(minutes.deliveries[14], 118);
        assert_eq!(minutes.rejections["unknown_type"].iter().sum::<u64>(), 40);
    }

    #[test]
    fn snapshot_then_ticks_equals_a_later_snapshot() {
        let mut stats = Stats::new();
        record_seconds(&mut stats, 0, 31); // second 30 is in progress at t1
        let mut view = OpsView::new();
        let t1 = T0 + 30 * SECOND + 200;
        view.apply(snapshot(&stats, gauges_of(&stats, t1), vec![], t1));
        let mut last = last_complete_second(t1);
        let mut recorded = 31;
        // Ticks at irregular times, across a minute boundary and after gaps.
        for now in [
            T0 + 31 * SECOND + 5,
            T0 + 32 * SECOND + 999,
            T0 + 38 * SECOND,
            T0 + 95 * SECOND + 1,
            T0 + 119 * SECOND + 500,
        ] {
            let upto = (now - T0) / SECOND + 1; // the second in progress has begun
            record_seconds(&mut stats, recorded, upto);
            recorded = upto;
            let seconds = seconds_since(&stats, last, now).unwrap();
            if let Some(s) = seconds.last() {
                last = s.at;
            }
            view.apply(OpsFrame::Tick {
                at: now,
                seconds,
                gauges: gauges_of(&stats, now),
                rejected: vec![],
            });
        }
        let now = T0 + 119 * SECOND + 500;
        let mut fresh = OpsView::new();
        fresh.apply(snapshot(&stats, gauges_of(&stats, now), vec![], now));
        for fig in [Figure::Events, Figure::Deliveries, Figure::Rejections] {
            for res in [Resolution::Second, Resolution::Minute] {
                assert_eq!(
                    view.lines(fig, res, 0),
                    fresh.lines(fig, res, 0),
                    "{fig:?} {res:?}"
                );
            }
        }
        assert_eq!(
            view.axis(Resolution::Second),
            fresh.axis(Resolution::Second)
        );
        assert_eq!(
            view.axis(Resolution::Minute),
            fresh.axis(Resolution::Minute)
        );
    }

    #[test]
    fn a_long_gap_asks_for_a_snapshot_and_replayed_seconds_count_once() {
        let stats = stats_with_traffic();
        assert!(seconds_since(&stats, T0, T0 + 2 * MINUTE).is_none());
        let mut view = OpsView::new();
        let now = T0 + 10 * SECOND + 1;
        view.apply(snapshot(&stats, gauges_of(&stats, now), vec![], now));
        let before = view.lines(Figure::Events, Resolution::Minute, 0);
        let again = seconds_since(&stats, T0 + 5 * SECOND, now).unwrap();
        assert_eq!(again.len(), 4);
        view.apply(OpsFrame::Tick {
            at: now,
            seconds: again,
            gauges: gauges_of(&stats, now),
            rejected: vec![],
        });
        assert_eq!(view.lines(Figure::Events, Resolution::Minute, 0), before);
    }

    #[test]
    fn lines_are_rates_sorted_by_volume_with_the_rest_as_other() {
        let mut stats = Stats::new();
        for (kind, n) in [("a", 50), ("b", 30), ("c", 20), ("d", 10)] {
            for _ in 0..n {
                stats.record_event(kind, T0);
            }
        }
        let now = T0 + 2 * SECOND;
        let mut view = OpsView::new();
        view.apply(snapshot(&stats, gauges_of(&stats, now), vec![], now));
        let lines = view.lines(Figure::Events, Resolution::Second, 3);
        let labels: Vec<&str> = lines.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["a", "b", "other"]);
        assert_eq!(lines[2].total, 30);
        assert_eq!(lines[0].values[898], 50.0, "50 in one second = 50/s");
        let per_minute = view.lines(Figure::Events, Resolution::Minute, 0);
        assert!(
            (per_minute[0].values[14] - 50.0 / 60.0).abs() < 1e-9,
            "per-minute buckets as /s"
        );
    }

    #[test]
    fn rejected_events_stay_newest_first_and_bounded() {
        let stats = Stats::new();
        let sample = |i: i64| RejectedEvent {
            at: T0 + i,
            source: "events".into(),
            id: Some(format!("e{i}")),
            code: "unknown_type".into(),
            path: "events[0].type".into(),
            message: "no rule".into(),
            payload: "{}".into(),
            seq: i as u64,
        };
        let mut view = OpsView::new();
        let now = T0 + SECOND;
        view.apply(snapshot(
            &stats,
            gauges_of(&stats, now),
            (0..40).rev().map(sample).collect(),
            now,
        ));
        view.apply(OpsFrame::Tick {
            at: now,
            seconds: vec![],
            gauges: gauges_of(&stats, now),
            rejected: (40..60).rev().map(sample).collect(),
        });
        assert_eq!(view.rejected().len(), RECENT_REJECTED);
        // Seen in the snapshot already: not listed twice.
        view.apply(OpsFrame::Tick {
            at: now,
            seconds: vec![],
            gauges: gauges_of(&stats, now),
            rejected: vec![sample(59)],
        });
        assert_eq!(view.rejected()[0].id.as_deref(), Some("e59"));
        assert_eq!(view.rejected()[49].id.as_deref(), Some("e10"));
        let mut recent = Recent::new(2);
        recent.push(1);
        recent.push(2);
        recent.push(3);
        assert_eq!(recent.to_vec(), vec![3, 2]);
    }

    #[test]
    fn frames_round_trip_and_garbage_is_an_error() {
        let stats = stats_with_traffic();
        let now = T0 + 60 * SECOND;
        let frame = snapshot(&stats, gauges_of(&stats, now), vec![], now);
        assert_eq!(OpsFrame::decode(&frame.encode()).unwrap(), frame);
        assert!(OpsFrame::decode("{\"type\":\"tick\"}")
            .unwrap_err()
            .contains("bad ops frame"));
        assert!(OpsFrame::decode("\u{0}").is_err());
        // Shapes a decoder accepts but the model cannot use are refused too.
        let mut text = frame.encode();
        text = text.replacen("\"step\":1000", "\"step\":0", 1);
        assert!(OpsFrame::decode(&text)
            .unwrap_err()
            .contains("step must be positive"));
        let huge = frame.encode().replacen("\"len\":900", "\"len\":999999", 1);
        assert!(OpsFrame::decode(&huge)
            .unwrap_err()
            .contains("length must be"));
        let short = frame
            .encode()
            .replacen("\"deliveries\":[0,", "\"deliveries\":[", 1);
        assert!(OpsFrame::decode(&short)
            .unwrap_err()
            .contains("buckets, not 900"));
        // Extreme timestamps in ticks never overflow.
        let mut view = OpsView::new();
        view.apply(frame.clone());
        for at in [i64::MAX, i64::MIN, 0, i64::MAX - 1] {
            view.apply(OpsFrame::Tick {
                at,
                seconds: vec![SecondCounts {
                    at,
                    events: [("x".to_owned(), 1)].into(),
                    deliveries: 1,
                    rejections: Default::default(),
                }],
                gauges: gauges_of(&stats, now),
                rejected: vec![],
            });
        }
    }

    #[test]
    fn polylines_scale_into_the_box() {
        assert_eq!(
            polyline(&[0.0, 5.0, 10.0, 20.0], 30.0, 10.0, 10.0),
            "0.0,10.0 10.0,5.0 20.0,0.0 30.0,0.0"
        );
        assert_eq!(polyline(&[], 30.0, 10.0, 10.0), "");
        assert_eq!(polyline(&[f64::NAN], 30.0, 10.0, 10.0), "0.0,10.0");
        assert_eq!(nice_max(0.3), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(500.0), 500.0);
    }
}
