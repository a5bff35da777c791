//! Alert rules as data, evaluated over the live [`Stats`].
//!
//! Operators write alerts beside the notification rules
//! (`rules/alerts.toml`, [`DEFAULT_ALERTS_TOML`]): a metric, a threshold
//! (`above` or `below`), a window (`over`) and the text of the notification.
//! The edge calls [`AlertEngine::evaluate`] with its statistics and `now`
//! whenever figures change and on a timer; each state change comes back as an
//! [`AlertChange`], which [`AlertEngine::event_for`] turns into an
//! `ops.alert_fired` / `ops.alert_resolved` event. The rules file routes those
//! to `segment:ops` with the collapse key `alert:<name>`, so the resolved
//! notice replaces the firing one in every operator's notification center.
//!
//! Evaluation is a pure function of (rules, previous states, statistics,
//! `now`); the states are plain data the edge persists ([`AlertStates`]) so a
//! firing alert is still resolved after a restart.
//!
//! # Readings
//! - Rates and latencies with fewer than `min_count` samples in the window
//!   are *quiet*: they do not fire, and a firing alert resolves (no traffic
//!   means no rejections).
//! - A `below` alert needs statistics covering its whole window (the edge
//!   passes when it started observing); before that its reading is
//!   *unknown* and its state does not change.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::json;
use toml::Value;

use crate::event::Event;
use crate::stats::Stats;
use crate::template::suggest;
use crate::time::{parse_duration, Millis, HOUR, MINUTE, SECOND};

/// The alert rules Tidings ships with.
pub const DEFAULT_ALERTS_TOML: &str = include_str!("../rules/alerts.toml");
/// Event type of an alert that starts firing.
pub const FIRED_TYPE: &str = "ops.alert_fired";
/// Event type of an alert that resolves.
pub const RESOLVED_TYPE: &str = "ops.alert_resolved";
/// Longest window an alert may use (the statistics keep one hour).
pub const MAX_WINDOW: Millis = HOUR;

/// What an alert watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Rejected ÷ (accepted + rejected) events in the window, 0…1.
    RejectionRate,
    /// Median ingest → socket latency in the window, ms.
    LatencyP50,
    /// 90th percentile latency, ms.
    LatencyP90,
    /// 99th percentile latency, ms.
    LatencyP99,
    /// Events accepted in the window.
    Events,
    /// Events rejected in the window.
    Rejections,
    /// Notification frames delivered in the window.
    Deliveries,
    /// WebSocket connections open now.
    Sockets,
}

const METRIC_NAMES: [&str; 8] = [
    "rejection_rate",
    "latency_p50",
    "latency_p90",
    "latency_p99",
    "events",
    "rejections",
    "deliveries",
    "sockets",
];

impl Metric {
    fn parse(name: &str) -> Option<Metric> {
        Some(match name {
            "rejection_rate" => Metric::RejectionRate,
            "latency_p50" => Metric::LatencyP50,
            "latency_p90" => Metric::LatencyP90,
            "latency_p99" => Metric::LatencyP99,
            "events" => Metric::Events,
            "rejections" => Metric::Rejections,
            "deliveries" => Metric::Deliveries,
            "sockets" => Metric::Sockets,
            _ => return None,
        })
    }

    fn quantile(self) -> Option<f64> {
        match self {
            Metric::LatencyP50 => Some(0.5),
            Metric::LatencyP90 => Some(0.9),
            Metric::LatencyP99 => Some(0.99),
            _ => None,
        }
    }

    /// `value` as an operator reads it: `12.5 %`, `143 ms`, `42`.
    pub fn format(self, value: f64) -> String {
        match self {
            Metric::RejectionRate => format!("{:.1} %", value * 100.0),
            Metric::LatencyP50 | Metric::LatencyP90 | Metric::LatencyP99 if value < 10.0 => {
                format!("{value:.1} ms")
            }
            Metric::LatencyP50 | Metric::LatencyP90 | Metric::LatencyP99 => {
                format!("{value:.0} ms")
            }
            _ => format!("{value:.0}"),
        }
    }
}

/// When an alert fires.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// While the value is greater than this.
    Above(f64),
    /// While the value is less than this.
    Below(f64),
}

impl Condition {
    fn holds(self, value: f64) -> bool {
        match self {
            Condition::Above(t) => value > t,
            Condition::Below(t) => value < t,
        }
    }

    fn threshold(self) -> f64 {
        match self {
            Condition::Above(t) | Condition::Below(t) => t,
        }
    }
}

/// One text in English and Chinese (Chinese falls back to English).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Text {
    /// English.
    pub en: String,
    /// Chinese.
    pub zh: String,
}

/// One alert rule, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// Unique name (part of the collapse key).
    pub name: String,
    /// What is watched, for people.
    pub label: Text,
    /// The metric.
    pub metric: Metric,
    /// The threshold and its direction.
    pub condition: Condition,
    /// The window.
    pub over: Millis,
    /// Samples needed before a rate or latency can fire.
    pub min_count: u64,
    /// Body while firing (`{value}`, `{threshold}`, `{over}`).
    pub firing: Text,
    /// Body once resolved.
    pub resolved: Text,
}

/// A problem in an alerts file, naming the alert and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertError {
    /// The alert's name (`#2` when it has none; empty for the whole file).
    pub alert: String,
    /// The field (`over`, `firing.zh`, …); empty when none applies.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for AlertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.alert.is_empty(), self.field.is_empty()) {
            (true, _) => write!(f, "alerts file: {}", self.message),
            (false, true) => write!(f, "alert `{}`: {}", self.alert, self.message),
            (false, false) => write!(
                f,
                "alert `{}`, field `{}`: {}",
                self.alert, self.field, self.message
            ),
        }
    }
}

const KEYS: [&str; 10] = [
    "name",
    "label",
    "metric",
    "above",
    "below",
    "over",
    "min_count",
    "firing",
    "resolved",
    "description",
];
const PLACEHOLDERS: [&str; 3] = ["value", "threshold", "over"];

/// A validated set of alert rules.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertRules {
    rules: Vec<AlertRule>,
}

struct Loader {
    errors: Vec<AlertError>,
    alert: String,
}

impl Loader {
    fn err(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(AlertError {
            alert: self.alert.clone(),
            field: field.to_owned(),
            message: message.into(),
        });
    }

    fn text(&mut self, table: &toml::Table, key: &str, required: bool) -> Text {
        let mut out = Text::default();
        match table.get(key) {
            None if required => self.err(key, "missing; give at least `en`"),
            None => {}
            Some(Value::Table(t)) => {
                for (lang, v) in t {
                    let field = format!("{key}.{lang}");
                    let Some(s) = v.as_str() else {
                        self.err(&field, "must be a string");
                        continue;
                    };
                    match lang.as_str() {
                        "en" => out.en = s.to_owned(),
                        "zh" => out.zh = s.to_owned(),
                        _ => self.err(&field, "unknown language; use en or zh"),
                    }
                }
                if out.en.trim().is_empty() && required {
                    self.err(
                        &format!("{key}.en"),
                        "missing or empty; English is required",
                    );
                }
            }
            Some(Value::String(s)) => out.en = s.clone(),
            Some(_) => self.err(key, "must be a table such as `{ en = \"…\", zh = \"…\" }`"),
        }
        out
    }

    fn check_placeholders(&mut self, field: &str, text: &str) {
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                self.err(field, "a `{` is never closed");
                return;
            };
            let name = &after[..close];
            if !PLACEHOLDERS.contains(&name) {
                let hint = suggest(name, &PLACEHOLDERS)
                    .map(|s| format!(" (did you mean `{{{s}}}`?)"))
                    .unwrap_or_default();
                self.err(
                    field,
                    format!(
                        "unknown placeholder `{{{}}}`{hint}; use {{value}}, {{threshold}} or {{over}}",
                        name.chars().take(32).collect::<String>()
                    ),
                );
            }
            rest = &after[close + 1..];
        }
    }

    fn number(&mut self, table: &toml::Table, key: &str) -> Option<f64> {
        match table.get(key)? {
            Value::Integer(i) => Some(*i as f64),
            Value::Float(f) if f.is_finite() => Some(*f),
            _ => {
                self.err(key, "must be a number");
                None
            }
        }
    }

    fn rule(&mut self, index: usize, table: &toml::Table) -> Option<AlertRule> {
        self.alert = match table.get("name").and_then(Value::as_str) {
            Some(n) => n.to_owned(),
            None => format!("#{}", index + 1),
        };
        for key in table.keys() {
            if !KEYS.contains(&key.as_str()) {
                let hint = suggest(key, &KEYS)
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                self.err(
                    key,
                    format!("unknown key; {hint}known keys are {}", KEYS.join(", ")),
                );
            }
        }
        let name = match table.get("name") {
            Some(Value::String(n))
                if !n.is_empty()
                    && n.len() <= 64
                    && n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
            {
                Some(n.clone())
            }
            Some(_) => {
                self.err("name", "use 1 to 64 lowercase letters, digits and dashes");
                None
            }
            None => {
                self.err("name", "missing; every alert needs a unique name");
                None
            }
        };
        let label = self.text(table, "label", true);
        let metric = match table.get("metric") {
            Some(Value::String(m)) => match Metric::parse(m) {
                Some(m) => Some(m),
                None => {
                    let hint = suggest(m, &METRIC_NAMES)
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    self.err(
                        "metric",
                        format!("unknown metric{hint}; use {}", METRIC_NAMES.join(", ")),
                    );
                    None
                }
            },
            Some(_) => {
                self.err("metric", "must be a string");
                None
            }
            None => {
                self.err("metric", "missing");
                None
            }
        };
        let above = self.number(table, "above");
        let below = self.number(table, "below");
        let condition = match (
            above,
            below,
            table.contains_key("above") || table.contains_key("below"),
        ) {
            (Some(a), None, _) => Some(Condition::Above(a)),
            (None, Some(b), _) => Some(Condition::Below(b)),
            (Some(_), Some(_), _) => {
                self.err("above", "give `above` or `below`, not both");
                None
            }
            (None, None, false) => {
                self.err(
                    "above",
                    "missing; give a threshold as `above = …` or `below = …`",
                );
                None
            }
            (None, None, true) => None,
        };
        let over = match table.get("over") {
            Some(Value::String(s)) => match parse_duration(s) {
                Ok(ms) if (SECOND..=MAX_WINDOW).contains(&ms) => Some(ms),
                Ok(_) => {
                    self.err(
                        "over",
                        "must be between 1s and 1h (the statistics keep one hour)",
                    );
                    None
                }
                Err(e) => {
                    self.err("over", format!("{e}; write e.g. \"1m\", \"5m\" or \"10m\""));
                    None
                }
            },
            Some(_) => {
                self.err("over", "must be a duration string such as \"5m\"");
                None
            }
            None => {
                self.err("over", "missing; give the window, e.g. \"5m\"");
                None
            }
        };
        let min_count = match table.get("min_count") {
            None => 1,
            Some(Value::Integer(n)) if *n >= 0 => *n as u64,
            Some(_) => {
                self.err("min_count", "must be a whole number ≥ 0");
                1
            }
        };
        let firing = self.text(table, "firing", true);
        let resolved = self.text(table, "resolved", true);
        for (key, text) in [("firing", &firing), ("resolved", &resolved)] {
            self.check_placeholders(&format!("{key}.en"), &text.en);
            self.check_placeholders(&format!("{key}.zh"), &text.zh);
        }
        Some(AlertRule {
            name: name?,
            label,
            metric: metric?,
            condition: condition?,
            over: over?,
            min_count,
            firing,
            resolved,
        })
    }
}

impl AlertRules {
    /// Parses and validates an alerts file; every problem comes back at once.
    pub fn from_toml(text: &str) -> Result<AlertRules, Vec<AlertError>> {
        let mut loader = Loader {
            errors: Vec::new(),
            alert: String::new(),
        };
        let doc: toml::Table = match text.parse() {
            Ok(doc) => doc,
            Err(e) => {
                loader.err("", format!("not valid TOML: {e}"));
                return Err(loader.errors);
            }
        };
        let mut rules = Vec::new();
        for key in doc.keys().filter(|k| k.as_str() != "alert") {
            loader.err(key, "unknown key; the file holds only `[[alert]]` entries");
        }
        match doc.get("alert") {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Table(t) => {
                            if let Some(rule) = loader.rule(i, t) {
                                if rules.iter().any(|r: &AlertRule| r.name == rule.name) {
                                    loader.err("name", "another alert has this name");
                                } else {
                                    rules.push(rule);
                                }
                            }
                        }
                        _ => {
                            loader.alert = format!("#{}", i + 1);
                            loader.err("", "each `[[alert]]` must be a table");
                        }
                    }
                }
            }
            Some(_) => loader.err("alert", "write alerts as `[[alert]]` tables"),
        }
        if loader.errors.is_empty() {
            Ok(AlertRules { rules })
        } else {
            Err(loader.errors)
        }
    }

    /// The alerts Tidings ships with.
    pub fn default_rules() -> AlertRules {
        // A unit test loads this file, so this cannot fail in a release.
        AlertRules::from_toml(DEFAULT_ALERTS_TOML).unwrap_or_default()
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[AlertRule] {
        &self.rules
    }
}

/// What a metric reads at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading {
    /// A value.
    Value(f64),
    /// Too few samples to judge: counts as "not firing".
    Quiet,
    /// The statistics do not cover the window yet: state stays as it is.
    Unknown,
}

/// Reads `rule`'s metric from `stats`; `observed_since` is when the
/// statistics started (a `below` alert needs its whole window covered).
pub fn read(rule: &AlertRule, stats: &Stats, observed_since: Millis, now: Millis) -> Reading {
    let window = rule.over;
    let sum = |c: &crate::stats::Counters<String>| -> u64 {
        c.iter().map(|(_, c)| c.count(window, now)).sum()
    };
    let reading = match rule.metric {
        Metric::RejectionRate => {
            let rejected = sum(stats.rejections());
            let total = rejected + sum(stats.events());
            if total == 0 || total < rule.min_count {
                return Reading::Quiet;
            }
            Reading::Value(rejected as f64 / total as f64)
        }
        m @ (Metric::LatencyP50 | Metric::LatencyP90 | Metric::LatencyP99) => {
            let sketch = stats.latency().over(window, now);
            if sketch.count() == 0 || sketch.count() < rule.min_count {
                return Reading::Quiet;
            }
            match m.quantile().and_then(|q| sketch.quantile(q)) {
                Some(v) => Reading::Value(v),
                None => Reading::Quiet,
            }
        }
        Metric::Events => Reading::Value(sum(stats.events()) as f64),
        Metric::Rejections => Reading::Value(sum(stats.rejections()) as f64),
        Metric::Deliveries => Reading::Value(stats.deliveries().count(window, now) as f64),
        Metric::Sockets => Reading::Value(stats.sockets() as f64),
    };
    if matches!(rule.condition, Condition::Below(_)) && now.saturating_sub(observed_since) < window
    {
        return Reading::Unknown;
    }
    reading
}

/// The remembered state of one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    /// Firing now.
    pub firing: bool,
    /// When it last changed (unix ms).
    pub since: Millis,
    /// The value at that change, when there was one.
    #[serde(default)]
    pub value: Option<f64>,
}

/// Every alert's state by name: what the edge persists between evaluations.
pub type AlertStates = BTreeMap<String, AlertState>;

/// An alert started or stopped firing.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertChange {
    /// The alert's name.
    pub alert: String,
    /// `true`: started firing; `false`: resolved.
    pub firing: bool,
    /// The reading that caused it (`None` when it resolved for lack of samples).
    pub value: Option<f64>,
    /// When (unix ms).
    pub at: Millis,
}

/// An alert as the ops page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertStatus {
    /// The alert's name.
    pub name: String,
    /// What is watched.
    pub label: Text,
    /// Firing now.
    pub firing: bool,
    /// Since when (unix ms; 0 when it never changed).
    pub since: Millis,
    /// The current reading, formatted (`None` when quiet or unknown).
    pub value: Option<String>,
    /// The condition, formatted: `> 5.0 % over 1m`.
    pub condition: String,
}

/// Alert rules plus their states: the evaluator.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertEngine {
    rules: AlertRules,
    states: AlertStates,
}

fn window_text(ms: Millis, zh: bool) -> String {
    let (n, en, cn) = if ms % HOUR == 0 {
        (ms / HOUR, "h", " 小时")
    } else if ms % MINUTE == 0 {
        (ms / MINUTE, " min", " 分钟")
    } else {
        (ms / SECOND, " s", " 秒")
    };
    if zh {
        format!("{n}{cn}")
    } else {
        format!("{n}{en}")
    }
}

fn fill(template: &str, value: &str, threshold: &str, over: &str) -> String {
    template
        .replace("{value}", value)
        .replace("{threshold}", threshold)
        .replace("{over}", over)
}

impl AlertEngine {
    /// An engine with no alert firing.
    pub fn new(rules: AlertRules) -> AlertEngine {
        AlertEngine {
            rules,
            states: AlertStates::new(),
        }
    }

    /// An engine resuming from persisted states (states of alerts no longer
    /// in the rules are dropped).
    pub fn with_states(rules: AlertRules, mut states: AlertStates) -> AlertEngine {
        states.retain(|name, _| rules.rules.iter().any(|r| &r.name == name));
        AlertEngine { rules, states }
    }

    /// The states to persist.
    pub fn states(&self) -> &AlertStates {
        &self.states
    }

    /// The rules.
    pub fn rules(&self) -> &AlertRules {
        &self.rules
    }

    /// Evaluates every alert at `now`; returns the changes, in rule order.
    pub fn evaluate(
        &mut self,
        stats: &Stats,
        observed_since: Millis,
        now: Millis,
    ) -> Vec<AlertChange> {
        let mut changes = Vec::new();
        for rule in &self.rules.rules {
            let reading = read(rule, stats, observed_since, now);
            let firing = self.states.get(&rule.name).is_some_and(|s| s.firing);
            let (holds, value) = match reading {
                Reading::Value(v) => (rule.condition.holds(v), Some(v)),
                Reading::Quiet => (false, None),
                Reading::Unknown => continue,
            };
            if holds != firing {
                self.states.insert(
                    rule.name.clone(),
                    AlertState {
                        firing: holds,
                        since: now,
                        value,
                    },
                );
                changes.push(AlertChange {
                    alert: rule.name.clone(),
                    firing: holds,
                    value,
                    at: now,
                });
            }
        }
        changes
    }

    /// Every alert with its current reading, for the ops page.
    pub fn statuses(&self, stats: &Stats, observed_since: Millis, now: Millis) -> Vec<AlertStatus> {
        self.rules
            .rules
            .iter()
            .map(|rule| {
                let state = self.states.get(&rule.name);
                let value = match read(rule, stats, observed_since, now) {
                    Reading::Value(v) => Some(rule.metric.format(v)),
                    Reading::Quiet | Reading::Unknown => None,
                };
                AlertStatus {
                    name: rule.name.clone(),
                    label: rule.label.clone(),
                    firing: state.is_some_and(|s| s.firing),
                    since: state.map_or(0, |s| s.since),
                    value,
                    condition: condition_text(rule),
                }
            })
            .collect()
    }

    /// The event announcing `change`: `ops.alert_fired` or
    /// `ops.alert_resolved`, with the alert's texts filled in; `None` when the
    /// alert is not in the rules.
    pub fn event_for(&self, change: &AlertChange) -> Option<Event> {
        let rule = self.rules.rules.iter().find(|r| r.name == change.alert)?;
        let value = change
            .value
            .map(|v| rule.metric.format(v))
            .unwrap_or_else(|| "—".to_owned());
        let threshold = rule.metric.format(rule.condition.threshold());
        let texts = if change.firing {
            &rule.firing
        } else {
            &rule.resolved
        };
        let en = fill(
            &texts.en,
            &value,
            &threshold,
            &window_text(rule.over, false),
        );
        let zh_template = if texts.zh.is_empty() {
            &texts.en
        } else {
            &texts.zh
        };
        let zh = fill(
            zh_template,
            &value,
            &threshold,
            &window_text(rule.over, true),
        );
        let label_zh = if rule.label.zh.is_empty() {
            &rule.label.en
        } else {
            &rule.label.zh
        };
        let (kind, verb) = if change.firing {
            (FIRED_TYPE, "fired")
        } else {
            (RESOLVED_TYPE, "resolved")
        };
        Some(Event {
            id: format!("alert:{}:{verb}:{}", rule.name, change.at),
            kind: kind.to_owned(),
            occurred_at: change.at,
            user_id: None,
            data: json!({
                "alert": rule.name,
                "label_en": rule.label.en,
                "label_zh": label_zh,
                "message_en": en,
                "message_zh": zh,
                "value": value,
                "threshold": threshold,
                "over": window_text(rule.over, false),
            })
            .into(),
        })
    }
}

fn condition_text(rule: &AlertRule) -> String {
    let (op, t) = match rule.condition {
        Condition::Above(t) => (">", t),
        Condition::Below(t) => ("<", t),
    };
    format!(
        "{op} {} over {}",
        rule.metric.format(t),
        window_text(rule.over, false)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;
    use crate::testing::test;

    const T0: Millis = 1_795_341_600_000;

    fn engine() -> AlertEngine {
        AlertEngine::new(AlertRules::default_rules())
    }

    #[test]
    fn the_shipped_alerts_load() {
        let rules = AlertRules::from_toml(DEFAULT_ALERTS_TOML).expect("alerts.toml is valid");
        let names: Vec<&str> = rules.rules().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["rejection-rate", "delivery-latency", "no-events"]);
        for r in rules.rules() {
            assert!(!r.label.zh.is_empty() && !r.firing.zh.is_empty() && !r.resolved.zh.is_empty());
        }
    }

    #[test]
    fn loading_reports_every_problem_with_alert_and_field() {
        let errors = AlertRules::from_toml(
            r#"
            [[alert]]
            name = "Bad Name"
            label.en = "x"
            metric = "rejection_rat"
            above = 1
            below = 2
            over = "2h"
            firing.en = "{valeu} is high"
            resolved.en = "ok"
            colour = "red"

            [[alert]]
            name = "b"
            label.en = "b"
            metric = "events"
            over = "soon"
            firing.en = "x"
            resolved.fr = "y"
            "#,
        )
        .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let has = |needle: &str| text.iter().any(|t| t.contains(needle));
        assert!(
            has("alert `Bad Name`, field `colour`: unknown key"),
            "{text:?}"
        );
        assert!(has("field `name`: use 1 to 64 lowercase"), "{text:?}");
        assert!(
            has("field `metric`: unknown metric (did you mean `rejection_rate`?)"),
            "{text:?}"
        );
        assert!(
            has("field `above`: give `above` or `below`, not both"),
            "{text:?}"
        );
        assert!(has("field `over`: must be between 1s and 1h"), "{text:?}");
        assert!(
            has("field `firing.en`: unknown placeholder `{valeu}` (did you mean `{value}`?)"),
            "{text:?}"
        );
        assert!(
            has("alert `b`, field `above`: missing; give a threshold"),
            "{text:?}"
        );
        assert!(
            has("alert `b`, field `over`: `soon` is not a duration"),
            "{text:?}"
        );
        assert!(
            has("alert `b`, field `resolved.fr`: unknown language"),
            "{text:?}"
        );
        assert!(
            has("alert `b`, field `resolved.en`: missing or empty"),
            "{text:?}"
        );
        assert_eq!(
            AlertRules::from_toml("[[alert]\n").unwrap_err()[0].alert,
            "",
            "a TOML syntax error names no alert"
        );
    }

    fn traffic(stats: &mut Stats, accepted: u64, rejected: u64, at: Millis) {
        for _ in 0..accepted {
            stats.record_event("order.shipped", at);
        }
        for _ in 0..rejected {
            stats.record_rejection("unknown_type", at);
        }
    }

    #[test]
    fn rejection_rate_fires_over_its_window_and_resolves() {
        let mut e = engine();
        let mut stats = Stats::new();
        traffic(&mut stats, 95, 4, T0);
        assert!(e.evaluate(&stats, T0, T0).is_empty(), "4 % is below 5 %");
        traffic(&mut stats, 0, 3, T0 + 10 * SECOND);
        let changes = e.evaluate(&stats, T0, T0 + 10 * SECOND);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert!(changes[0].firing && changes[0].alert == "rejection-rate");
        assert!((changes[0].value.unwrap() - 7.0 / 102.0).abs() < 1e-9);
        assert!(
            e.evaluate(&stats, T0, T0 + 20 * SECOND).is_empty(),
            "still firing: no new change"
        );
        // A minute later the burst has left the 1-minute window: too few samples → resolved.
        let later = T0 + 75 * SECOND;
        let changes = e.evaluate(&stats, T0, later);
        assert_eq!(changes.len(), 1);
        assert!(!changes[0].firing && changes[0].value.is_none());
        assert!(!e.states()["rejection-rate"].firing);
    }

    #[test]
    fn good_traffic_dilutes_the_rate_until_it_resolves() {
        let mut e = engine();
        let mut stats = Stats::new();
        traffic(&mut stats, 5, 20, T0);
        assert!(e.evaluate(&stats, T0, T0)[0].firing);
        traffic(&mut stats, 500, 0, T0 + SECOND);
        let c = e.evaluate(&stats, T0, T0 + SECOND);
        assert!(!c[0].firing);
        assert!((c[0].value.unwrap() - 20.0 / 525.0).abs() < 1e-9);
    }

    #[test]
    fn a_rate_needs_min_count_samples() {
        let mut e = engine();
        let mut stats = Stats::new();
        traffic(&mut stats, 0, 19, T0);
        assert!(e.evaluate(&stats, T0, T0).is_empty(), "19 < min_count 20");
        traffic(&mut stats, 0, 1, T0);
        assert_eq!(e.evaluate(&stats, T0, T0).len(), 1);
    }

    #[test]
    fn latency_p99_over_five_minutes() {
        let mut e = engine();
        let mut stats = Stats::new();
        for i in 0..100 {
            stats.record_latency(if i < 98 { 5.0 } else { 400.0 }, T0 + i * SECOND);
        }
        let now = T0 + 100 * SECOND;
        let c = e.evaluate(&stats, T0, now);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].alert, "delivery-latency");
        assert!(c[0].value.unwrap() > 100.0);
        // Six minutes on, the slow minute has aged out and nothing new came: quiet → resolved.
        let c = e.evaluate(&stats, T0, now + 6 * MINUTE);
        assert!(
            c.iter().any(|c| c.alert == "delivery-latency" && !c.firing),
            "{c:?}"
        );
    }

    #[test]
    fn no_events_waits_for_a_covered_window() {
        let mut e = engine();
        let stats = Stats::new();
        assert!(
            e.evaluate(&stats, T0, T0 + 9 * MINUTE).is_empty(),
            "the edge has watched for only 9 minutes"
        );
        let c = e.evaluate(&stats, T0, T0 + 10 * MINUTE);
        assert_eq!(c.len(), 1);
        assert!(c[0].firing && c[0].alert == "no-events");
        let mut stats = stats;
        stats.record_event("order.paid", T0 + 11 * MINUTE);
        let c = e.evaluate(&stats, T0, T0 + 11 * MINUTE);
        assert!(!c[0].firing && c[0].value == Some(1.0));
        // Restarted statistics (observed_since moves) leave a state alone.
        let mut e2 = AlertEngine::with_states(
            AlertRules::default_rules(),
            [(
                "no-events".to_owned(),
                AlertState {
                    firing: true,
                    since: T0,
                    value: Some(0.0),
                },
            )]
            .into(),
        );
        assert!(e2.evaluate(&Stats::new(), T0 + HOUR, T0 + HOUR).is_empty());
        assert!(e2.states()["no-events"].firing);
    }

    #[test]
    fn persisted_states_resume_and_forget_removed_alerts() {
        let states: AlertStates = [
            (
                "rejection-rate".to_owned(),
                AlertState {
                    firing: true,
                    since: T0,
                    value: Some(0.5),
                },
            ),
            (
                "gone".to_owned(),
                AlertState {
                    firing: true,
                    since: T0,
                    value: None,
                },
            ),
        ]
        .into();
        let json = serde_json::to_string(&states).unwrap();
        let back: AlertStates = serde_json::from_str(&json).unwrap();
        let mut e = AlertEngine::with_states(AlertRules::default_rules(), back);
        assert!(!e.states().contains_key("gone"));
        let c = e.evaluate(&Stats::new(), T0, T0);
        assert_eq!(c.len(), 1, "a firing alert resolves once the rate is quiet");
        assert!(!c[0].firing);
    }

    #[test]
    fn changes_become_events_the_default_rules_route_to_ops() {
        let mut e = engine();
        let mut stats = Stats::new();
        traffic(&mut stats, 10, 30, T0);
        let fired = e.evaluate(&stats, T0, T0).remove(0);
        let event = e.event_for(&fired).unwrap();
        assert_eq!(event.kind, FIRED_TYPE);
        assert_eq!(event.id, format!("alert:rejection-rate:fired:{T0}"));
        assert_eq!(event.data.to_value()["value"], "75.0 %");
        let rules = RuleSet::default_rules();
        let applied = rules.apply(&event, T0);
        assert!(applied.errors.is_empty(), "{:?}", applied.errors);
        let outcome = &applied.outcomes[0];
        assert_eq!(
            outcome.audience,
            crate::route::Audience::Segment("ops".into())
        );
        let n = outcome.notification.clone().unwrap();
        assert_eq!(n.category, crate::notification::Category::Ops);
        assert_eq!(n.priority, crate::notification::Priority::Urgent);
        assert_eq!(n.collapse_key.as_deref(), Some("alert:rejection-rate"));
        assert!(
            n.body
                .en
                .contains("75.0 % of incoming events were rejected in the last 1 min"),
            "{}",
            n.body.en
        );
        assert!(
            n.body.zh.contains("过去 1 分钟内有 75.0 %"),
            "{}",
            n.body.zh
        );

        traffic(&mut stats, 600, 0, T0 + SECOND);
        let resolved = e.evaluate(&stats, T0, T0 + SECOND).remove(0);
        let event = e.event_for(&resolved).unwrap();
        assert_eq!(event.kind, RESOLVED_TYPE);
        let m = rules.apply(&event, T0 + SECOND).outcomes[0]
            .notification
            .clone()
            .unwrap();
        assert_eq!(m.id, n.id, "the resolved notice replaces the firing one");
        assert!(m.title.en.starts_with("Resolved"), "{}", m.title.en);
        assert!(
            m.body.en.starts_with("Back to normal: 4.7 %"),
            "{}",
            m.body.en
        );
    }

    #[test]
    fn statuses_show_each_alert_with_its_reading() {
        let mut e = engine();
        let mut stats = Stats::new();
        traffic(&mut stats, 10, 30, T0);
        e.evaluate(&stats, T0, T0);
        let s = e.statuses(&stats, T0, T0);
        assert_eq!(s.len(), 3);
        assert!(s[0].firing && s[0].since == T0);
        assert_eq!(s[0].value.as_deref(), Some("75.0 %"));
        assert_eq!(s[0].condition, "> 5.0 % over 1 min");
        assert_eq!(s[1].value, None, "no latency measured yet");
        assert_eq!(s[2].condition, "< 1 over 10 min");
        assert_eq!(s[2].value, None, "not covered yet");
    }
}
