//! Rules as data: a TOML file, edited by storefront engineers without
//! touching code, that says which events become which notifications for whom.
//!
//! The file is checked completely when it loads ([`RuleSet::from_toml`]):
//! every problem, not just the first, comes back as a [`RuleError`] naming the
//! rule and the field, so one edit-reload cycle fixes them all. Templates are
//! compiled and durations parsed once, there; applying a rule to an event
//! ([`RuleSet::apply`]) is then a hash lookup by event type and a walk over
//! precompiled pieces, because the edge decodes and routes on the order of a
//! million events per second per core.
//!
//! # Format
//! ```toml
//! [[rule]]
//! name = "order-shipped"            # unique
//! on = "order.shipped"              # exact type, or `order.*` for a family
//! when = { path = "data.total", op = "gt", value = 100 }   # optional, see below
//! to = "user:{user_id}"             # user:…, topic:…, segment:…
//! category = "order"                # order|payment|stock|price|promo|account|security|ops
//! priority = "high"                 # low|normal (default)|high|urgent
//! collapse = "order:{data.order_id}"
//! expires = "30d"
//! title.en = "Order {data.order_number} has shipped"
//! title.zh = "订单 {data.order_number} 已发货"
//! body.en = "Carrier {data.carrier|our courier}"
//! link = "/orders/{data.order_id}"  # `/path` or `https://…`
//! delay = "1h"                      # or deliver_at = "data.send_at" (RFC 3339 or unix seconds)
//! cancel_key = "cart:{data.cart_id}" # a later event may cancel the delayed item by this key
//! cancels = ["cart:{data.cart_id}"]  # keys of pending items this event cancels
//! throttle = "1 per 6h per recipient"  # per collapse key too, when the rule has one
//! ```
//!
//! **Conditions.** `when` is one condition table or an array of them; all
//! must hold. Each is `{ path, op, value }` with `op` one of `eq`, `ne`
//! (strings, numbers, booleans; numeric strings such as `"19.99"` compare as
//! numbers), `gt`, `gte`, `lt`, `lte` (numbers), `in` (value is an array),
//! `contains` (substring of a string, or element of an array), and `exists` /
//! `missing` (no value). A missing or `null` field fails every test except
//! `missing`, so `ne` never matches an absent field.
//!
//! **What a rule does.** A rule with `title.en` notifies (it then needs a
//! `category`). A rule with only `cancels` is cancel-only. A rule with neither
//! is an error.
//!
//! **At apply time.** A rule whose `to` refers to a value the event lacks (or
//! has empty) does not apply: no outcome, no error — `topic:stock:` is never
//! addressed. Keys in `cancels` that cannot be built are skipped (nothing to
//! cancel). Any other missing value, an unsafe rendered link, or an unreadable
//! `deliver_at` turns that rule's output into a [`RuleError`] in
//! [`Applied::errors`]; other rules still apply.

use std::collections::{HashMap, HashSet};

use crate::fnv::Fnv;
use std::fmt;
use std::sync::OnceLock;

use crate::data::Json;
use serde::{Deserialize, Serialize};
use toml::Value;

use crate::event::{Event, Lookup, Memo};
use crate::ingest::is_event_type;
use crate::notification::{
    notification_id, Category, Localized, Notification, Priority, ReadState,
};
use crate::route::{Audience, KeyedThrottle, Submission, Throttle};
use crate::template::{check_path, suggest, Template, TemplateError};
use crate::time::{from_unix_seconds, parse_duration, parse_rfc3339, Millis, EARLIEST, LATEST};

/// The rules Tidings ships with, covering every canonical event type.
pub const DEFAULT_RULES_TOML: &str = include_str!("../rules/default.toml");

/// Longest link a rule may render.
const MAX_LINK: usize = 2048;

/// At most this many bytes of text in one rendered notification (titles and bodies in both
/// languages, link, id and keys): far more than a panel shows. A rule whose event renders
/// more is refused for that event (`notification_too_large`) instead of reaching an Inbox,
/// where one oversized row would fail the write of the whole delivery.
pub const MAX_NOTIFICATION_TEXT: usize = 16 * 1024;

/// One problem with a rules file (at load) or with applying a rule (at apply time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleError {
    /// The rule's name, `#3` for the third rule when it has no name, or empty
    /// for problems of the file as a whole (such as TOML syntax).
    pub rule: String,
    /// The field, e.g. `expires`, `title.zh` or `when[1].op`; empty when none applies.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl RuleError {
    fn new(rule: &str, field: &str, message: impl Into<String>) -> RuleError {
        RuleError {
            rule: rule.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.rule.is_empty(), self.field.is_empty()) {
            (false, false) => write!(
                f,
                "rule `{}`, field `{}`: {}",
                self.rule, self.field, self.message
            ),
            (false, true) => write!(f, "rule `{}`: {}", self.rule, self.message),
            (true, false) => write!(f, "rules file, key `{}`: {}", self.field, self.message),
            (true, true) => write!(f, "rules file: {}", self.message),
        }
    }
}

impl std::error::Error for RuleError {}

/// What one matching rule decided for one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The rule's name.
    pub rule: String,
    /// Whom it reaches.
    pub audience: Audience,
    /// The notification to deliver (with `seq` 0), or `None` for a cancel-only rule.
    pub notification: Option<Notification>,
    /// Hold the notification until then (unix ms) instead of delivering now.
    pub deliver_at: Option<Millis>,
    /// Key under which the held notification can be cancelled.
    pub cancel_key: Option<String>,
    /// Keys of held notifications (of the same audience) this event cancels.
    pub cancels: Vec<String>,
    /// At most this many per recipient per window; the rest fold into a digest.
    pub throttle: Option<Throttle>,
}

impl Outcome {
    /// What to hand the router for one recipient of this outcome: the
    /// notification with its schedule, cancel key and throttle (keyed by the
    /// rule's name and, when the rule collapses, by the collapse key: a shopper
    /// watching two products hears of each one's restock, and a throttle holds back
    /// repeats of the same one). `None` for a cancel-only rule.
    /// The notification moves into it (no copy of its texts).
    pub fn into_submission(self) -> Option<Submission> {
        let notification = self.notification?;
        let rule = self.rule;
        let throttle = self.throttle.map(|throttle| KeyedThrottle {
            key: match &notification.collapse_key {
                Some(collapse) => format!("{rule}|{collapse}"),
                None => rule,
            },
            throttle,
        });
        Some(Submission {
            notification,
            deliver_at: self.deliver_at,
            cancel_key: self.cancel_key,
            throttle,
        })
    }
}

/// Everything [`RuleSet::apply`] decided for one event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    /// One per rule that matched and rendered, in file order.
    pub outcomes: Vec<Outcome>,
    /// One per rule that matched but could not render (a missing value, an
    /// unsafe link, an unreadable `deliver_at`), naming rule and field.
    pub errors: Vec<RuleError>,
}

/// A loaded, checked set of rules, ready to apply.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Exact event type → indexes of every rule it triggers (wildcards
    /// included), in file order.
    by_type: HashMap<String, Vec<usize>, Fnv>,
    /// `order.` for `order.*`, with the rule index, in file order.
    wildcards: Vec<(String, usize)>,
    /// [`MAX_NOTIFICATION_TEXT`] unless set by [`RuleSet::with_text_limit`].
    text_limit: Option<usize>,
}

#[derive(Debug, Clone)]
struct Rule {
    name: String,
    when: Vec<Condition>,
    to: Template,
    message: Option<Message>,
    cancels: Vec<Template>,
}

#[derive(Debug, Clone)]
struct Message {
    category: Category,
    priority: Priority,
    title_en: Template,
    title_zh: Option<Template>,
    body_en: Option<Template>,
    body_zh: Option<Template>,
    link: Option<Template>,
    collapse: Option<Template>,
    expires: Option<Millis>,
    schedule: Schedule,
    cancel_key: Option<Template>,
    throttle: Option<Throttle>,
}

#[derive(Debug, Clone)]
enum Schedule {
    Now,
    Delay(Millis),
    At(String),
}

#[derive(Debug, Clone)]
struct Condition {
    /// The dotted path, split once at load time.
    path: crate::event::Path,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    Eq(Literal),
    Ne(Literal),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    Exists,
    Missing,
    In(Vec<Literal>),
    Contains(Literal),
}

#[derive(Debug, Clone)]
enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
}

impl Literal {
    fn matches(&self, v: Lookup<'_>) -> bool {
        match (self, v) {
            (Literal::Str(s), Lookup::Str(x)) => s == x,
            (Literal::Str(s), Lookup::Json(Json::String(x))) => *s == x.text(),
            (Literal::Str(s), Lookup::Json(Json::Number(n))) => *s == Json::number_text(n),
            (Literal::Str(s), Lookup::Int(i)) => *s == i.to_string(),
            (Literal::Num(n), v) => v.as_f64() == Some(*n),
            (Literal::Bool(b), Lookup::Json(Json::Bool(x))) => *b == x,
            _ => false,
        }
    }
}

impl Condition {
    fn holds(&self, event: &Event) -> bool {
        let value = match event.lookup_path(&self.path) {
            Some(Lookup::Json(Json::Null)) | None => return matches!(self.test, Test::Missing),
            Some(v) => v,
        };
        let num = |cmp: fn(f64, f64) -> bool, rhs: f64| value.as_f64().is_some_and(|x| cmp(x, rhs));
        match &self.test {
            Test::Eq(l) => l.matches(value),
            Test::Ne(l) => !l.matches(value),
            Test::Gt(n) => num(|a, b| a > b, *n),
            Test::Gte(n) => num(|a, b| a >= b, *n),
            Test::Lt(n) => num(|a, b| a < b, *n),
            Test::Lte(n) => num(|a, b| a <= b, *n),
            Test::Exists => true,
            Test::Missing => false,
            Test::In(list) => list.iter().any(|l| l.matches(value)),
            Test::Contains(l) => match (l, value) {
                (Literal::Str(s), Lookup::Str(x)) => x.contains(s.as_str()),
                (Literal::Str(s), Lookup::Json(Json::String(x))) => x.text().contains(s.as_str()),
                (l, Lookup::Json(items @ Json::Array(_))) => {
                    items.items().any(|item| l.matches(Lookup::Json(item)))
                }
                _ => false,
            },
        }
    }
}

const KEYS: [&str; 16] = [
    "name",
    "on",
    "when",
    "to",
    "category",
    "priority",
    "collapse",
    "expires",
    "title",
    "body",
    "link",
    "delay",
    "deliver_at",
    "cancel_key",
    "cancels",
    "throttle",
];

/// Keys that only make sense on a rule that notifies.
const MESSAGE_KEYS: [&str; 11] = [
    "category",
    "priority",
    "collapse",
    "expires",
    "body",
    "link",
    "delay",
    "deliver_at",
    "cancel_key",
    "throttle",
    "title",
];

const CATEGORY_NAMES: &str = "order, payment, stock, price, promo, account, security or ops";

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

fn template_messages(errors: Vec<TemplateError>) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Collects problems for one rule while it is read.
struct Loader<'a> {
    rule: String,
    table: &'a toml::Table,
    errors: &'a mut Vec<RuleError>,
}

impl Loader<'_> {
    fn err(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(RuleError::new(&self.rule, field, message));
    }

    fn string(&mut self, key: &str) -> Option<String> {
        match self.table.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                let message = format!("expected a string, got {}", type_name(other));
                self.err(key, message);
                None
            }
        }
    }

    fn compile(&mut self, field: &str, source: &str) -> Option<Template> {
        match Template::compile(source) {
            Ok(t) => Some(t),
            Err(errors) => {
                self.err(field, template_messages(errors));
                None
            }
        }
    }

    fn template(&mut self, key: &str) -> Option<Template> {
        let source = self.string(key)?;
        self.compile(key, &source)
    }

    fn duration(&mut self, key: &str) -> Option<Millis> {
        let text = self.string(key)?;
        match parse_duration(&text) {
            Ok(ms) if ms > 0 => Some(ms),
            Ok(_) => {
                self.err(key, "must be longer than zero");
                None
            }
            Err(e) => {
                self.err(key, e.to_string());
                None
            }
        }
    }

    /// `title` / `body`: a table with `en` and optionally `zh`.
    fn localized(&mut self, key: &str) -> (bool, Option<Template>, Option<Template>) {
        let Some(value) = self.table.get(key) else {
            return (false, None, None);
        };
        let Value::Table(t) = value else {
            let message = format!(
                "expected `{key}.en = \"…\"` and `{key}.zh = \"…\"`, got {}",
                type_name(value)
            );
            self.err(key, message);
            return (true, None, None);
        };
        let mut out = [None, None];
        for (locale, v) in t {
            let field = format!("{key}.{locale}");
            let slot = match locale.as_str() {
                "en" => 0,
                "zh" => 1,
                other => {
                    let hint = suggest(other, &["en", "zh"])
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    self.err(&field, format!("unknown language{hint}; use en or zh"));
                    continue;
                }
            };
            match v {
                Value::String(s) if s.trim().is_empty() => {
                    self.err(&field, "is empty; write the text or remove the key")
                }
                Value::String(s) => {
                    if let Some(slot) = out.get_mut(slot) {
                        *slot = self.compile(&field, s);
                    }
                }
                other => {
                    let message = format!("expected a string, got {}", type_name(other));
                    self.err(&field, message);
                }
            }
        }
        let [en, zh] = out;
        (true, en, zh)
    }

    fn on(&mut self) -> Option<On> {
        let text = self.string("on")?;
        if let Some(prefix) = text.strip_suffix(".*") {
            let ok = !prefix.is_empty()
                && prefix.split('.').all(|w| {
                    !w.is_empty()
                        && w.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                });
            if ok {
                return Some(On::Prefix(format!("{prefix}.")));
            }
        } else if is_event_type(&text) {
            return Some(On::Exact(text));
        }
        let message = format!(
            "`{}` is not an event type; use dotted lowercase like `order.shipped`, or `order.*` for a family",
            text.chars().take(64).collect::<String>()
        );
        self.err("on", message);
        None
    }

    fn audience(&mut self) -> Option<Template> {
        let t = self.template("to")?;
        let prefix = t.literal_prefix();
        let kind_ok = ["user:", "topic:", "segment:"]
            .iter()
            .any(|k| prefix.starts_with(k));
        if !kind_ok {
            self.err(
                "to",
                "must start with `user:`, `topic:` or `segment:` written out, e.g. `user:{user_id}` or `topic:stock:{data.sku}`",
            );
            return None;
        }
        if t.is_literal() && Audience::parse(prefix).is_none() {
            self.err(
                "to",
                "names no one; add a name after the colon, e.g. `segment:all`",
            );
            return None;
        }
        Some(t)
    }

    fn link(&mut self) -> Option<Template> {
        let t = self.template("link")?;
        let mut problems = Vec::new();
        if t.literal_parts().any(|p| {
            p.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
        }) {
            problems.push("must not contain spaces, control characters or backslashes");
        }
        let prefix = t.literal_prefix();
        if t.is_literal() {
            if let Err(why) = check_link(prefix) {
                problems.push(why);
            }
        } else if !(prefix.is_empty() || starts_https(prefix) || is_local_path(prefix)) {
            problems.push(LINK_RULE);
        }
        if problems.is_empty() {
            Some(t)
        } else {
            self.err("link", problems.join("; "));
            None
        }
    }

    fn deliver_at(&mut self) -> Option<String> {
        let text = self.string("deliver_at")?;
        let path = text
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or(&text);
        match check_path(path) {
            Ok(()) => Some(path.to_owned()),
            Err(e) => {
                let message =
                    format!("{e}; name the event field holding the time, like `data.send_at`");
                self.err("deliver_at", message);
                None
            }
        }
    }

    fn cancels(&mut self) -> Vec<Template> {
        let sources: Vec<String> = match self.table.get("cancels") {
            None => return Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => {
                            let message = format!("expected a string, got {}", type_name(other));
                            self.err(&format!("cancels[{i}]"), message);
                        }
                    }
                }
                out
            }
            Some(other) => {
                let message = format!(
                    "expected a key template or a list of them, got {}",
                    type_name(other)
                );
                self.err("cancels", message);
                return Vec::new();
            }
        };
        if sources.is_empty() && self.table.contains_key("cancels") {
            self.err("cancels", "is empty; list at least one key or remove it");
        }
        sources
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let field = if self.table.get("cancels").is_some_and(Value::is_array) {
                    format!("cancels[{i}]")
                } else {
                    "cancels".to_owned()
                };
                self.compile(&field, s)
            })
            .collect()
    }

    fn conditions(&mut self) -> Vec<Condition> {
        let items: Vec<(String, &toml::Table)> = match self.table.get("when") {
            None => return Vec::new(),
            Some(Value::Table(t)) => vec![("when".to_owned(), t)],
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Table(t) => out.push((format!("when[{i}]"), t)),
                        other => {
                            let message = format!(
                                "expected a condition like {{ path = \"data.total\", op = \"gt\", value = 100 }}, got {}",
                                type_name(other)
                            );
                            self.err(&format!("when[{i}]"), message);
                        }
                    }
                }
                out
            }
            Some(other) => {
                let message = format!(
                    "expected a condition like {{ path = \"data.total\", op = \"gt\", value = 100 }} or a list of them, got {}",
                    type_name(other)
                );
                self.err("when", message);
                return Vec::new();
            }
        };
        items
            .into_iter()
            .filter_map(|(field, t)| self.condition(&field, t))
            .collect()
    }

    fn condition(&mut self, field: &str, t: &toml::Table) -> Option<Condition> {
        let mut ok = true;
        for key in t.keys() {
            if !["path", "op", "value"].contains(&key.as_str()) {
                let hint = suggest(key, &["path", "op", "value"])
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                self.err(
                    &format!("{field}.{key}"),
                    format!("unknown key{hint}; a condition has path, op and value"),
                );
                ok = false;
            }
        }
        let path = match t.get("path") {
            Some(Value::String(p)) => match check_path(p) {
                Ok(()) => Some(p.clone()),
                Err(e) => {
                    self.err(&format!("{field}.path"), e.to_string());
                    None
                }
            },
            Some(other) => {
                let message = format!("expected a string, got {}", type_name(other));
                self.err(&format!("{field}.path"), message);
                None
            }
            None => {
                self.err(
                    &format!("{field}.path"),
                    "missing; name the field to test, like `data.total`",
                );
                None
            }
        };
        let op = match t.get("op") {
            Some(Value::String(op)) => Some(op.as_str()),
            Some(other) => {
                let message = format!("expected a string, got {}", type_name(other));
                self.err(&format!("{field}.op"), message);
                None
            }
            None => {
                self.err(
                    &format!("{field}.op"),
                    "missing; use eq, ne, gt, gte, lt, lte, in, contains, exists or missing",
                );
                None
            }
        };
        let value = t.get("value");
        let test = op.and_then(|op| self.test(field, op, value));
        match (path, test) {
            (Some(path), Some(test)) if ok => Some(Condition {
                path: crate::event::Path::parse(&path),
                test,
            }),
            _ => None,
        }
    }

    fn test(&mut self, field: &str, op: &str, value: Option<&Value>) -> Option<Test> {
        let value_field = format!("{field}.value");
        let number = |v: Option<&Value>| match v {
            Some(Value::Integer(i)) => Some(*i as f64),
            Some(Value::Float(f)) if f.is_finite() => Some(*f),
            _ => None,
        };
        let test = match op {
            "exists" | "missing" => {
                if value.is_some() {
                    self.err(&value_field, format!("`{op}` takes no value; remove it"));
                    return None;
                }
                if op == "exists" {
                    Test::Exists
                } else {
                    Test::Missing
                }
            }
            "gt" | "gte" | "lt" | "lte" => {
                let Some(n) = number(value) else {
                    self.err(
                        &value_field,
                        format!("`{op}` compares numbers; give one, like `value = 100`"),
                    );
                    return None;
                };
                match op {
                    "gt" => Test::Gt(n),
                    "gte" => Test::Gte(n),
                    "lt" => Test::Lt(n),
                    _ => Test::Lte(n),
                }
            }
            "eq" | "ne" | "contains" => {
                let l = self.literal(&value_field, op, value)?;
                match op {
                    "eq" => Test::Eq(l),
                    "ne" => Test::Ne(l),
                    _ => Test::Contains(l),
                }
            }
            "in" => {
                let Some(Value::Array(items)) = value else {
                    self.err(
                        &value_field,
                        "`in` needs a list, like `value = [\"web\", \"app\"]`",
                    );
                    return None;
                };
                let mut list = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    list.push(self.literal(&format!("{value_field}[{i}]"), op, Some(item))?);
                }
                Test::In(list)
            }
            other => {
                let hint = suggest(
                    other,
                    &[
                        "eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists", "missing",
                    ],
                )
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
                self.err(
                    &format!("{field}.op"),
                    format!("unknown operator `{}`{hint}; use eq, ne, gt, gte, lt, lte, in, contains, exists or missing", other.chars().take(32).collect::<String>()),
                );
                return None;
            }
        };
        Some(test)
    }

    fn literal(&mut self, field: &str, op: &str, value: Option<&Value>) -> Option<Literal> {
        match value {
            Some(Value::String(s)) => Some(Literal::Str(s.clone())),
            Some(Value::Integer(i)) => Some(Literal::Num(*i as f64)),
            Some(Value::Float(f)) if f.is_finite() => Some(Literal::Num(*f)),
            Some(Value::Boolean(b)) => Some(Literal::Bool(*b)),
            Some(other) => {
                let message = format!(
                    "`{op}` compares with a string, number or boolean, got {}",
                    type_name(other)
                );
                self.err(field, message);
                None
            }
            None => {
                self.err(
                    field,
                    format!("missing; `{op}` needs a value to compare with"),
                );
                None
            }
        }
    }

    fn throttle(&mut self) -> Option<Throttle> {
        let text = self.string("throttle")?;
        match Throttle::parse(&text) {
            Ok(t) => Some(t),
            Err(message) => {
                self.err("throttle", message);
                None
            }
        }
    }
}

#[derive(Debug, Clone)]
enum On {
    Exact(String),
    Prefix(String),
}

const LINK_RULE: &str =
    "must start with `/` (a page of this store) or `https://`; other schemes such as javascript:, data: or http: are refused";

fn starts_https(link: &str) -> bool {
    link.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

fn is_local_path(link: &str) -> bool {
    link.starts_with('/') && !link.starts_with("//")
}

/// Checks a rendered link: a store-relative path or an https URL, no spaces,
/// control characters or backslashes (browsers read `/\evil` as `//evil`).
fn check_link(link: &str) -> Result<(), &'static str> {
    if link.len() > MAX_LINK {
        return Err("is longer than 2048 bytes");
    }
    // For ASCII text, whitespace and control characters are exactly the bytes up to the
    // space and DEL; checking bytes skips decoding characters on every notification.
    let bad = if link.is_ascii() {
        link.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'\\')
    } else {
        link.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    };
    if bad {
        return Err("must not contain spaces, control characters or backslashes");
    }
    if is_local_path(link) {
        return Ok(());
    }
    if starts_https(link) {
        let host = link.get(8..).unwrap_or("");
        if host.is_empty() || host.starts_with('/') {
            return Err("needs a host after `https://`");
        }
        return Ok(());
    }
    Err(LINK_RULE)
}

fn read_rule(
    index: usize,
    table: &toml::Table,
    names: &mut HashSet<String>,
    errors: &mut Vec<RuleError>,
) -> Option<(Rule, On)> {
    let label = match table.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => n.clone(),
        _ => format!("#{}", index + 1),
    };
    let mut l = Loader {
        rule: label.clone(),
        table,
        errors,
    };
    match table.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => {
            if !names.insert(n.clone()) {
                l.err(
                    "name",
                    "another rule already has this name; names must be unique",
                );
            }
        }
        Some(Value::String(_)) => l.err(
            "name",
            "is empty; give the rule a unique name like `order-shipped`",
        ),
        Some(other) => {
            let message = format!("expected a string, got {}", type_name(other));
            l.err("name", message);
        }
        None => l.err(
            "name",
            "missing; give the rule a unique name like `order-shipped`",
        ),
    }
    for key in table.keys() {
        if !KEYS.contains(&key.as_str()) {
            let hint = suggest(key, &KEYS)
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            l.err(
                key,
                format!("unknown key; {hint}known keys are {}", KEYS.join(", ")),
            );
        }
    }
    let errors_before = l.errors.len();

    let on = if table.contains_key("on") {
        l.on()
    } else {
        l.err("on", "missing; name the event type, like `order.shipped`");
        None
    };
    let when = l.conditions();
    let to = if table.contains_key("to") {
        l.audience()
    } else {
        l.err("to", "missing; say whom it reaches, like `user:{user_id}`");
        None
    };
    let cancels = l.cancels();

    let notifies = MESSAGE_KEYS.iter().any(|k| table.contains_key(*k));
    let (_, title_en, title_zh) = l.localized("title");
    let (_, body_en, body_zh) = l.localized("body");
    let category = match l.string("category") {
        Some(c) => match Category::parse(&c) {
            Some(c) => Some(c),
            None => {
                let hint = suggest(&c, &Category::ALL.map(Category::as_str))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                l.err(
                    "category",
                    format!("unknown category{hint}; use {CATEGORY_NAMES}"),
                );
                None
            }
        },
        None => {
            if notifies && !table.contains_key("category") {
                l.err(
                    "category",
                    format!("missing; a rule that notifies needs one of {CATEGORY_NAMES}"),
                );
            }
            None
        }
    };
    let priority = match l.string("priority") {
        Some(p) => Priority::parse(&p).or_else(|| {
            l.err(
                "priority",
                "unknown priority; use low, normal, high or urgent",
            );
            None
        }),
        None => Some(Priority::Normal),
    };
    let link = if table.contains_key("link") {
        l.link()
    } else {
        None
    };
    let collapse = l.template("collapse");
    let expires = if table.contains_key("expires") {
        l.duration("expires")
    } else {
        None
    };
    let delay = if table.contains_key("delay") {
        l.duration("delay")
    } else {
        None
    };
    let deliver_at = if table.contains_key("deliver_at") {
        l.deliver_at()
    } else {
        None
    };
    if delay.is_some() && deliver_at.is_some() {
        l.err("deliver_at", "set either `delay` or `deliver_at`, not both");
    }
    let cancel_key = l.template("cancel_key");
    if table.contains_key("cancel_key")
        && !table.contains_key("delay")
        && !table.contains_key("deliver_at")
    {
        l.err(
            "cancel_key",
            "only a held item can be cancelled; add `delay` or `deliver_at`, or remove `cancel_key`",
        );
    }
    let throttle = if table.contains_key("throttle") {
        l.throttle()
    } else {
        None
    };

    if notifies {
        let title_en_missing = match table.get("title") {
            None => true,
            Some(Value::Table(t)) => !t.contains_key("en"),
            Some(_) => false, // already reported as the wrong type
        };
        if title_en_missing {
            l.err(
                "title.en",
                "missing; a rule that notifies needs an English title (a rule with only `cancels` is cancel-only)",
            );
        }
        if table
            .get("body")
            .and_then(Value::as_table)
            .is_some_and(|t| !t.contains_key("en"))
        {
            l.err(
                "body.en",
                "missing; give the English text too (it is the fallback)",
            );
        }
    } else if !table.contains_key("cancels") {
        l.err(
            "title.en",
            "missing; this rule does nothing: give it `title.en` to notify, or `cancels` to cancel held items",
        );
    }

    if l.errors.len() > errors_before {
        return None;
    }
    let name = match table.get("name") {
        Some(Value::String(n)) => n.clone(),
        _ => return None,
    };
    let message = if notifies {
        Some(Message {
            category: category?,
            priority: priority?,
            title_en: title_en?,
            title_zh,
            body_en,
            body_zh,
            link,
            collapse,
            expires,
            schedule: match (delay, deliver_at) {
                (Some(d), _) => Schedule::Delay(d),
                (None, Some(path)) => Schedule::At(path),
                (None, None) => Schedule::Now,
            },
            cancel_key,
            throttle,
        })
    } else {
        None
    };
    Some((
        Rule {
            name,
            when,
            to: to?,
            message,
            cancels,
        },
        on?,
    ))
}

impl RuleSet {
    /// Loads and checks a rules file, returning every problem found.
    ///
    /// A TOML syntax error is returned alone (with an empty `rule`), since
    /// nothing after it can be read reliably.
    pub fn from_toml(text: &str) -> Result<RuleSet, Vec<RuleError>> {
        let doc: toml::Table = match toml::from_str(text) {
            Ok(doc) => doc,
            Err(e) => {
                return Err(vec![RuleError::new(
                    "",
                    "",
                    format!("TOML syntax: {}", e.to_string().trim_end()),
                )])
            }
        };
        let mut errors = Vec::new();
        for key in doc.keys() {
            if key != "rule" {
                errors.push(RuleError::new(
                    "",
                    key,
                    "unknown key; the file holds only `[[rule]]` entries",
                ));
            }
        }
        let tables: Vec<&toml::Table> = match doc.get("rule") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match item {
                    Value::Table(t) => Some(t),
                    other => {
                        errors.push(RuleError::new(
                            &format!("#{}", i + 1),
                            "",
                            format!("expected a `[[rule]]` table, got {}", type_name(other)),
                        ));
                        None
                    }
                })
                .collect(),
            Some(other) => {
                errors.push(RuleError::new(
                    "",
                    "rule",
                    format!(
                        "expected `[[rule]]` entries (double brackets), got {}",
                        type_name(other)
                    ),
                ));
                Vec::new()
            }
        };
        let mut names = HashSet::new();
        let mut set = RuleSet::default();
        for (i, table) in tables.into_iter().enumerate() {
            if let Some((rule, on)) = read_rule(i, table, &mut names, &mut errors) {
                let index = set.rules.len();
                set.rules.push(rule);
                match on {
                    On::Exact(kind) => set.by_type.entry(kind).or_default().push(index),
                    On::Prefix(prefix) => set.wildcards.push((prefix, index)),
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Fold wildcards into each exact type they also cover, so a known type
        // needs a single lookup at apply time.
        for (kind, indexes) in &mut set.by_type {
            for (prefix, index) in &set.wildcards {
                if kind.starts_with(prefix.as_str()) {
                    indexes.push(*index);
                }
            }
            indexes.sort_unstable();
        }
        Ok(set)
    }

    /// The same rules with another limit on a notification's text (bytes; see
    /// [`MAX_NOTIFICATION_TEXT`]).
    pub fn with_text_limit(mut self, bytes: usize) -> RuleSet {
        self.text_limit = Some(bytes);
        self
    }

    /// The rules Tidings ships with ([`DEFAULT_RULES_TOML`]).
    ///
    /// The file is part of the crate and a test proves it loads, so the
    /// panic below cannot happen in a released build.
    pub fn default_rules() -> RuleSet {
        static DEFAULT: OnceLock<RuleSet> = OnceLock::new();
        DEFAULT
            .get_or_init(|| match RuleSet::from_toml(DEFAULT_RULES_TOML) {
                Ok(set) => set,
                Err(errors) => panic!("rules/default.toml is invalid: {errors:?}"),
            })
            .clone()
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// `true` when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Rule names, in file order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.name.as_str())
    }

    /// `true` when some rule listens for events of type `kind`; the edge
    /// rejects other types with code `unknown_type`.
    pub fn matches_any(&self, kind: &str) -> bool {
        self.by_type.contains_key(kind)
            || self
                .wildcards
                .iter()
                .any(|(prefix, _)| kind.starts_with(prefix.as_str()))
    }

    /// Rules whose notification lacks Chinese text (`title.zh`, or `body.zh`
    /// when there is an English body). The shipped rules have none; a store
    /// can run this as a lint over its own file.
    pub fn missing_translations(&self) -> Vec<RuleError> {
        let mut out = Vec::new();
        for rule in &self.rules {
            let Some(m) = &rule.message else { continue };
            if m.title_zh.is_none() {
                out.push(RuleError::new(
                    &rule.name,
                    "title.zh",
                    "missing Chinese title",
                ));
            }
            if m.body_en.is_some() && m.body_zh.is_none() {
                out.push(RuleError::new(
                    &rule.name,
                    "body.zh",
                    "missing Chinese body",
                ));
            }
        }
        out
    }

    /// Applies every rule listening for `event.kind`, in file order.
    ///
    /// `now` is when the edge ingested the event (it becomes
    /// `ingested_at`); every other time derives from `event.occurred_at`, so
    /// applying the same event twice gives the same result.
    pub fn apply(&self, event: &Event, now: Millis) -> Applied {
        let mut applied = Applied::default();
        let scanned: Vec<usize>;
        let indexes: &[usize] = match self.by_type.get(event.kind.as_str()) {
            Some(list) => list,
            None if self.wildcards.is_empty() => return applied,
            None => {
                scanned = self
                    .wildcards
                    .iter()
                    .filter(|(prefix, _)| event.kind.starts_with(prefix.as_str()))
                    .map(|(_, i)| *i)
                    .collect();
                &scanned
            }
        };
        // Usually one rule per type: room for exactly that many outcomes, not Vec's first four.
        applied.outcomes.reserve_exact(indexes.len());
        let mut unaddressed: Option<&Rule> = None;
        for rule in indexes.iter().filter_map(|i| self.rules.get(*i)) {
            if !rule.when.iter().all(|c| c.holds(event)) {
                continue;
            }
            let mut memo = Memo::new(event);
            // An audience that cannot be built: this rule reaches nobody (another rule for the
            // type may, as for Shopify's stock events without a SKU).
            let Some(audience) = rule
                .to
                .render_key_memo(&mut memo)
                .ok()
                .and_then(Audience::from_text)
            else {
                unaddressed.get_or_insert(rule);
                continue;
            };
            let limit = self.text_limit.unwrap_or(MAX_NOTIFICATION_TEXT);
            match rule.outcome(&mut memo, now, audience, &applied.outcomes, limit) {
                Ok(outcome) => applied.outcomes.push(outcome),
                Err(e) => applied.errors.push(e),
            }
        }
        // Nobody at all: say so (the edge rejects the event with `no_recipient`).
        if let (true, Some(rule)) = (applied.outcomes.is_empty(), unaddressed) {
            let needs: Vec<String> = rule.to.paths().map(|p| format!("`{p}`")).collect();
            applied.errors.push(RuleError::new(
                &rule.name,
                "to",
                format!(
                    "names nobody for this event: {} is missing or empty",
                    needs.join(" or ")
                ),
            ));
        }
        applied
    }
}

impl Rule {
    fn outcome<'p>(
        &'p self,
        memo: &mut Memo<'_, 'p>,
        now: Millis,
        audience: Audience,
        earlier: &[Outcome],
        text_limit: usize,
    ) -> Result<Outcome, RuleError> {
        let event = memo.event();
        let err = |field: &str, message: String| RuleError::new(&self.name, field, message);
        let text = |memo: &mut Memo<'_, 'p>, field: &str, t: &'p Template| {
            t.render_memo(memo).map_err(|e| err(field, e.to_string()))
        };
        let key = |memo: &mut Memo<'_, 'p>, field: &str, t: &'p Template| {
            t.render_key_memo(memo)
                .map_err(|e| err(field, e.to_string()))
        };
        // A cancel key that cannot be built names nothing to cancel.
        let cancels = self
            .cancels
            .iter()
            .filter_map(|t| t.render_key_memo(memo).ok())
            .collect();
        let Some(m) = &self.message else {
            return Ok(Outcome {
                rule: self.name.clone(),
                audience,
                notification: None,
                deliver_at: None,
                cancel_key: None,
                cancels,
                throttle: None,
            });
        };
        let title = Localized {
            en: text(memo, "title.en", &m.title_en)?,
            zh: m
                .title_zh
                .as_ref()
                .map(|t| text(memo, "title.zh", t))
                .transpose()?
                .unwrap_or_default(),
        };
        let body = Localized {
            en: m
                .body_en
                .as_ref()
                .map(|t| text(memo, "body.en", t))
                .transpose()?
                .unwrap_or_default(),
            zh: m
                .body_zh
                .as_ref()
                .map(|t| text(memo, "body.zh", t))
                .transpose()?
                .unwrap_or_default(),
        };
        let link = match &m.link {
            Some(t) => {
                let url = t
                    .render_url_memo(memo)
                    .map_err(|e| err("link", e.to_string()))?;
                check_link(&url).map_err(|why| {
                    let shown: String = url.chars().take(80).collect();
                    err("link", format!("rendered `{shown}`, which {why}"))
                })?;
                Some(url)
            }
            None => None,
        };
        let collapse_key = m
            .collapse
            .as_ref()
            .map(|t| key(memo, "collapse", t))
            .transpose()?;
        let cancel_key = m
            .cancel_key
            .as_ref()
            .map(|t| key(memo, "cancel_key", t))
            .transpose()?;
        let deliver_at = match &m.schedule {
            Schedule::Now => None,
            Schedule::Delay(d) => Some(
                event
                    .occurred_at
                    .checked_add(*d)
                    .filter(|at| *at <= LATEST)
                    .ok_or_else(|| {
                        err(
                            "delay",
                            "occurred_at plus delay is past year 9999".to_owned(),
                        )
                    })?,
            ),
            Schedule::At(path) => Some(read_time(event, path).map_err(|m| err("deliver_at", m))?),
        };
        // `expires` counts from when the shopper gets the item: an event that
        // reaches us late (a retried webhook, a replay after an outage) still
        // stays in the inbox for the whole period.
        let shown_at = event
            .occurred_at
            .max(now)
            .max(deliver_at.unwrap_or(Millis::MIN));
        let expires_at = m
            .expires
            .map(|d| {
                shown_at.checked_add(d).ok_or_else(|| {
                    err(
                        "expires",
                        "the time shown plus expires is out of range".to_owned(),
                    )
                })
            })
            .transpose()?;
        let mut id = notification_id(&event.id, collapse_key.as_deref());
        if collapse_key.is_none()
            && earlier
                .iter()
                .any(|o| o.notification.as_ref().is_some_and(|n| n.id == id))
        {
            // Several rules notify about one event: keep their ids apart.
            id = notification_id(&format!("{}#{}", event.id, self.name), None);
        }
        let size = [&title.en, &title.zh, &body.en, &body.zh, &id]
            .into_iter()
            .chain(&link)
            .chain(&collapse_key)
            .chain(&cancel_key)
            .map(|t| t.len())
            .sum::<usize>();
        if size > text_limit {
            return Err(err(
                "size",
                format!(
                    "renders {size} bytes of text, more than the {text_limit} a notification \
                     may hold; shorten the event's fields that its templates use"
                ),
            ));
        }
        Ok(Outcome {
            rule: self.name.clone(),
            audience,
            notification: Some(Notification {
                id,
                seq: 0,
                kind: event.kind.clone(),
                category: m.category,
                priority: m.priority,
                title,
                body,
                link,
                created_at: event.occurred_at,
                expires_at,
                collapse_key,
                state: ReadState::Unread,
                ingested_at: now,
            }),
            deliver_at,
            cancel_key,
            cancels,
            throttle: m.throttle,
        })
    }
}

fn text_time(s: &str) -> Option<Millis> {
    if !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        from_unix_seconds(s.parse().ok()?)
    } else {
        parse_rfc3339(s).ok()
    }
}

/// Reads a time for `deliver_at`: an RFC 3339 string, unix seconds (a number
/// or a string of digits), or the event's own `occurred_at` (milliseconds).
fn read_time(event: &Event, path: &str) -> Result<Millis, String> {
    let bad =
        || format!("`{path}` must be an RFC 3339 time like 2026-11-22T10:00:00Z or unix seconds");
    let from_secs = |s: f64| {
        let ms = (s * 1000.0).round();
        // Within the times an event may carry (years 0 to 9999), so an alarm can be set for it.
        if ms >= EARLIEST as f64 && ms <= LATEST as f64 {
            Ok(ms as Millis)
        } else {
            Err(bad())
        }
    };
    match event.lookup(path) {
        None | Some(Lookup::Json(Json::Null)) => Err(format!("the event has no value at `{path}`")),
        Some(Lookup::Int(ms)) => Ok(ms),
        Some(Lookup::Json(n @ Json::Number(_))) => from_secs(n.as_f64().ok_or_else(bad)?),
        Some(Lookup::Str(s)) => text_time(s).ok_or_else(bad),
        Some(Lookup::Json(Json::String(s))) => text_time(&s.text()).ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::Locale;
    use crate::testing::test;
    use crate::time::{DAY, HOUR, MINUTE};
    use serde_json::json;
    use serde_json::Value as Json;

    const T0: Millis = 1_795_341_600_000;

    fn event(kind: &str, data: Json) -> Event {
        Event {
            id: "evt-1".into(),
            kind: kind.into(),
            occurred_at: T0,
            user_id: Some("u42".into()),
            data: data.into(),
        }
    }

    /// A payload with every field the default rules read.
    fn full_data() -> Json {
        json!({
            "order_id": "o1", "order_number": "#1001", "total": "42.00", "currency": "USD",
            "item_count": 2, "tracking_number": "SF123", "carrier": "SF Express",
            "tracking_url": "https://track.example/SF123", "amount": "42.00",
            "product_title": "Linen Shirt", "old_price": "59.00", "new_price": "45.00",
            "reason": "customer request", "sku": "LS-M", "product_id": "p9",
            "cart_id": "c7", "alert": "edge-5xx", "label_en": "Edge 5xx rate", "label_zh": "边缘 5xx 比例",
            "message": "5xx rate above 2%", "message_en": "5xx rate above 2%", "message_zh": "5xx 比例超过 2%", "value": "2.4 %",
            "inventory_item_id": "ii3",
        })
    }

    fn load(text: &str) -> RuleSet {
        match RuleSet::from_toml(text) {
            Ok(set) => set,
            Err(errors) => panic!("{errors:#?}"),
        }
    }

    fn fields(errors: &[RuleError]) -> Vec<(String, String)> {
        errors
            .iter()
            .map(|e| (e.rule.clone(), e.field.clone()))
            .collect()
    }

    const CANONICAL: [&str; 18] = [
        "order.created",
        "order.paid",
        "order.cancelled",
        "order.shipped",
        "order.in_transit",
        "order.delivered",
        "order.refunded",
        "payment.succeeded",
        "payment.failed",
        "inventory.restocked",
        "product.price_dropped",
        "promo.announced",
        "cart.abandoned",
        "account.password_changed",
        "security.new_login",
        "ops.alert_fired",
        "ops.alert_resolved",
        "order.created",
    ];

    #[test]
    fn default_rules_load_cover_every_type_and_speak_both_languages() {
        let set = RuleSet::default_rules();
        assert!(
            set.missing_translations().is_empty(),
            "{:?}",
            set.missing_translations()
        );
        for kind in CANONICAL {
            assert!(set.matches_any(kind), "{kind}");
            let applied = set.apply(&event(kind, full_data()), T0 + 5);
            assert!(applied.errors.is_empty(), "{kind}: {:?}", applied.errors);
            let n = applied
                .outcomes
                .iter()
                .find_map(|o| o.notification.as_ref())
                .unwrap_or_else(|| panic!("{kind} notifies no one"));
            assert!(!n.title.en.is_empty() && !n.title.zh.is_empty(), "{kind}");
            assert!(
                !n.title.en.contains('{') && !n.body.zh.contains('{'),
                "{kind}"
            );
            assert!(
                n.link.as_deref().is_some_and(|l| l.starts_with('/')),
                "{kind}"
            );
            assert_eq!((n.seq, n.created_at, n.ingested_at), (0, T0, T0 + 5));
        }
        assert!(!set.matches_any("order.exploded"));
        assert!(!set.matches_any("nonsense"));
    }

    #[test]
    fn default_rules_route_topics_segments_and_priorities() {
        let set = RuleSet::default_rules();
        let one = |kind: &str| set.apply(&event(kind, full_data()), T0).outcomes.remove(0);
        assert_eq!(
            one("inventory.restocked").audience,
            Audience::Topic("stock:LS-M".into())
        );
        assert_eq!(
            one("inventory.restocked").throttle,
            Some(Throttle {
                limit: 1,
                per: 6 * HOUR
            })
        );
        assert_eq!(
            one("product.price_dropped").audience,
            Audience::Topic("price:p9".into())
        );
        assert_eq!(
            one("promo.announced").audience,
            Audience::Segment("all".into())
        );
        let alert = one("ops.alert_fired");
        assert_eq!(alert.audience, Audience::Segment("ops".into()));
        let n = alert.notification.unwrap();
        assert_eq!((n.category, n.priority), (Category::Ops, Priority::Urgent));
        assert_eq!(n.id, "c:alert:edge-5xx");
        let n = one("payment.failed").notification.unwrap();
        assert_eq!(
            (n.category, n.priority),
            (Category::Payment, Priority::Urgent)
        );
        let n = one("security.new_login").notification.unwrap();
        assert_eq!(
            (n.category, n.priority),
            (Category::Security, Priority::Urgent)
        );
        let n = one("account.password_changed").notification.unwrap();
        assert_eq!(n.category, Category::Security);
    }

    #[test]
    fn order_lifecycle_is_one_item_whose_text_changes() {
        let set = RuleSet::default_rules();
        let mut seen = Vec::new();
        for kind in ["order.paid", "order.shipped", "order.delivered"] {
            let n = set
                .apply(&event(kind, full_data()), T0)
                .outcomes
                .remove(0)
                .notification
                .unwrap();
            assert_eq!(n.id, "c:order:o1");
            assert_eq!(n.collapse_key.as_deref(), Some("order:o1"));
            assert_eq!(n.expires_at, Some(T0 + 90 * DAY));
            seen.push(n.title.en);
        }
        seen.dedup();
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn a_notification_past_the_text_limit_is_refused_by_its_rule() {
        let set = RuleSet::default_rules();
        // The order number appears in both bodies of `order.created`.
        let long = "#".to_owned() + &"9".repeat(MAX_NOTIFICATION_TEXT / 2);
        let data = json!({"order_id": "o1", "order_number": long, "total": "1", "currency": "USD"});
        let applied = set.apply(&event("order.created", data.clone()), T0);
        assert!(applied.outcomes.is_empty());
        let e = &applied.errors[0];
        assert_eq!(e.field, "size");
        assert!(e.message.contains("more than the 16384"), "{e}");
        // Within the limit it renders; the same event under a raised limit renders too.
        let short =
            json!({"order_id": "o1", "order_number": "#1", "total": "1", "currency": "USD"});
        assert_eq!(
            set.apply(&event("order.created", short), T0).outcomes.len(),
            1
        );
        let raised = set.clone().with_text_limit(MAX_NOTIFICATION_TEXT * 2);
        assert_eq!(
            raised
                .apply(&event("order.created", data), T0)
                .outcomes
                .len(),
            1
        );
    }

    #[test]
    fn renders_english_and_chinese() {
        let set = RuleSet::default_rules();
        let n = set
            .apply(&event("order.shipped", full_data()), T0)
            .outcomes
            .remove(0)
            .notification
            .unwrap();
        assert_eq!(n.title.get(Locale::En), "Order #1001 is on its way!");
        assert_eq!(n.title.get(Locale::Zh), "订单 #1001 已发货！");
        assert_eq!(n.body.en, "Shipped with SF Express, tracking number SF123.");
        assert_eq!(n.body.zh, "承运商：SF Express，运单号：SF123。");
        assert_eq!(n.link.as_deref(), Some("/orders/o1"));
        assert_eq!(n.priority, Priority::High);
        // fallbacks fill in what the carrier did not send yet
        let n = set
            .apply(
                &event(
                    "order.shipped",
                    json!({"order_id": "o1", "order_number": "#1001"}),
                ),
                T0,
            )
            .outcomes
            .remove(0)
            .notification
            .unwrap();
        assert_eq!(
            n.body.en,
            "Shipped with our courier, tracking number coming soon."
        );
        assert_eq!(n.body.zh, "承运商：快递，运单号：稍后更新。");
    }

    #[test]
    fn a_missing_value_is_an_error_naming_rule_and_field_and_others_still_apply() {
        let set = load(
            r#"
            [[rule]]
            name = "a"
            on = "order.shipped"
            to = "user:{user_id}"
            category = "order"
            title.en = "Order {data.order_number}"
            [[rule]]
            name = "b"
            on = "order.shipped"
            to = "user:{user_id}"
            category = "order"
            title.en = "Shipped"
            [[rule]]
            name = "c"
            on = "order.shipped"
            to = "segment:ops"
            category = "ops"
            title.en = "Shipped too"
            "#,
        );
        let applied = set.apply(&event("order.shipped", json!({})), T0);
        assert_eq!(
            fields(&applied.errors),
            vec![("a".into(), "title.en".into())]
        );
        assert!(applied.errors[0].to_string().starts_with(
            "rule `a`, field `title.en`: the event has no value at `data.order_number`"
        ));
        // two notifications from one event keep distinct ids
        let ids: Vec<_> = applied
            .outcomes
            .iter()
            .map(|o| o.notification.as_ref().unwrap().id.clone())
            .collect();
        assert_eq!(ids, vec!["e:evt-1".to_owned(), "e:evt-1#c".to_owned()]);
    }

    #[test]
    fn a_broken_file_reports_every_problem_with_rule_and_field() {
        let text = r#"
            [[rule]]
            name = "order-shipped"
            on = "order.shipped"
            to = "user:{user_id}"
            category = "order"
            priority = "hgh"
            expires = "30 days"
            titel.en = "typo"
            title.en = "Order {dat.order_number}"
            title.fr = "Commande"
            link = "javascript:alert(1)"

            [[rule]]
            name = "order-shipped"
            on = "Order Shipped"
            to = "everyone"
            category = "orders"
            title.en = "ok"
            throttle = "lots"
            delay = "1h"
            deliver_at = "data.when"

            [[rule]]
            on = "cart.abandoned"
            to = "user:{user_id}"
            category = "promo"
            cancel_key = "cart:{data.cart_id}"
            body.en = "no title"
            link = "http://shop.example/cart"
            when = [{ path = "data.total", op = "greater", value = 1 }, { path = "data.x", op = "gt", value = "ten" }, { path = "data.y", op = "exists", value = 1 }]

            [[rule]]
            name = "nothing"
            on = "order.paid"
            to = "topic:{data.sku"
        "#;
        let errors = RuleSet::from_toml(text).unwrap_err();
        let got = fields(&errors);
        let want = [
            ("order-shipped", "titel"),
            ("order-shipped", "title.en"),
            ("order-shipped", "title.fr"),
            ("order-shipped", "priority"),
            ("order-shipped", "link"),
            ("order-shipped", "expires"),
            ("order-shipped", "name"),
            ("order-shipped", "on"),
            ("order-shipped", "to"),
            ("order-shipped", "category"),
            ("order-shipped", "deliver_at"),
            ("order-shipped", "throttle"),
            ("#3", "name"),
            ("#3", "when[0].op"),
            ("#3", "when[1].value"),
            ("#3", "when[2].value"),
            ("#3", "link"),
            ("#3", "cancel_key"),
            ("#3", "title.en"),
            ("nothing", "to"),
            ("nothing", "title.en"),
        ];
        for (rule, field) in want {
            assert!(
                got.contains(&(rule.to_owned(), field.to_owned())),
                "missing ({rule}, {field}) in {errors:#?}"
            );
        }
        assert_eq!(got.len(), want.len(), "{errors:#?}");
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            shown.iter().any(|s| s.starts_with(
                "rule `order-shipped`, field `titel`: unknown key; did you mean `title`?"
            )),
            "{shown:#?}"
        );
        assert!(
            shown.iter().any(|s| s.contains("did you mean `data`?")),
            "{shown:#?}"
        );
        assert!(
            shown.iter().any(|s| s
                .starts_with("rule `order-shipped`, field `expires`: `30 days` is not a duration")),
            "{shown:#?}"
        );
        assert!(
            shown.iter().any(|s| s.contains("(did you mean `order`?)")),
            "{shown:#?}"
        );
    }

    #[test]
    fn syntax_errors_and_stray_top_level_keys() {
        let errors = RuleSet::from_toml("[[rule]\nname = ").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].rule, "");
        assert!(errors[0]
            .to_string()
            .starts_with("rules file: TOML syntax:"));
        let errors = RuleSet::from_toml("version = 2\n[rule]\nname = \"x\"").unwrap_err();
        assert_eq!(
            fields(&errors),
            vec![("".into(), "version".into()), ("".into(), "rule".into())]
        );
        assert!(RuleSet::from_toml("").unwrap().is_empty());
    }

    #[test]
    fn conditions_select_events() {
        let set = load(
            r#"
            [[rule]]
            name = "big"
            on = "order.created"
            to = "segment:ops"
            category = "ops"
            title.en = "Big order {data.total}"
            when = [
              { path = "data.total", op = "gte", value = 100 },
              { path = "data.channel", op = "in", value = ["web", "app"] },
              { path = "data.tags", op = "contains", value = "vip" },
              { path = "data.test", op = "ne", value = true },
              { path = "data.note", op = "missing" },
              { path = "user_id", op = "exists" },
            ]
            "#,
        );
        let hit = |data: Json| {
            !set.apply(&event("order.created", data), T0)
                .outcomes
                .is_empty()
        };
        let base =
            json!({"total": "120.50", "channel": "app", "tags": ["vip", "x"], "test": false});
        assert!(hit(base.clone()));
        let with = |k: &str, v: Json| {
            let mut d = base.clone();
            d[k] = v;
            d
        };
        assert!(!hit(with("total", json!(99.99))));
        assert!(hit(with("total", json!(100))));
        assert!(!hit(with("total", json!("lots"))));
        assert!(!hit(with("channel", json!("pos"))));
        assert!(!hit(with("tags", json!(["x"]))));
        assert!(hit(with("tags", json!("a vip b"))));
        assert!(!hit(with("test", json!(true))));
        assert!(hit(with("note", Json::Null)));
        assert!(!hit(with("note", json!("gift"))));
        let mut no_user = event("order.created", base.clone());
        no_user.user_id = None;
        assert!(set.apply(&no_user, T0).outcomes.is_empty());

        // ne never matches an absent field; eq compares numeric strings as numbers
        let set = load(
            r#"
            [[rule]]
            name = "ne"
            on = "a.b"
            to = "segment:x"
            category = "ops"
            title.en = "t"
            when = { path = "data.v", op = "ne", value = "x" }
            [[rule]]
            name = "eq"
            on = "a.b"
            to = "segment:x"
            category = "ops"
            title.en = "t"
            when = { path = "data.n", op = "eq", value = 5 }
            [[rule]]
            name = "lt"
            on = "a.b"
            to = "segment:x"
            category = "ops"
            title.en = "t"
            when = [{ path = "data.n", op = "lt", value = 6 }, { path = "data.n", op = "lte", value = 5 }, { path = "data.n", op = "gt", value = 4.5 }]
            "#,
        );
        let rules = |data: Json| -> Vec<String> {
            set.apply(&event("a.b", data), T0)
                .outcomes
                .into_iter()
                .map(|o| o.rule)
                .collect()
        };
        assert_eq!(rules(json!({})), Vec::<String>::new());
        assert_eq!(rules(json!({"v": "y", "n": "5"})), vec!["ne", "eq", "lt"]);
        assert_eq!(rules(json!({"v": "x", "n": 5.5})), Vec::<String>::new());
        assert_eq!(rules(json!({"n": 5})), vec!["eq", "lt"]);
        assert_eq!(rules(json!({"v": 1, "n": 4})), vec!["ne"]);
    }

    #[test]
    fn wildcards_match_a_family_in_file_order() {
        let set = load(
            r#"
            [[rule]]
            name = "all-orders"
            on = "order.*"
            to = "segment:ops"
            category = "ops"
            title.en = "{type}"
            [[rule]]
            name = "shipped"
            on = "order.shipped"
            to = "user:{user_id}"
            category = "order"
            title.en = "Shipped"
            [[rule]]
            name = "deep"
            on = "order.return.*"
            to = "segment:ops"
            category = "ops"
            title.en = "Return"
            "#,
        );
        let rules = |kind: &str| -> Vec<String> {
            set.apply(&event(kind, json!({})), T0)
                .outcomes
                .into_iter()
                .map(|o| o.rule)
                .collect()
        };
        assert_eq!(rules("order.shipped"), vec!["all-orders", "shipped"]);
        assert_eq!(rules("order.something_new"), vec!["all-orders"]);
        assert_eq!(rules("order.return.opened"), vec!["all-orders", "deep"]);
        assert!(rules("orders.shipped").is_empty() && rules("order").is_empty());
        assert!(set.matches_any("order.anything") && !set.matches_any("orderx.y"));
        let n = set
            .apply(&event("order.paid", json!({})), T0)
            .outcomes
            .remove(0)
            .notification
            .unwrap();
        assert_eq!(n.title.en, "order.paid");
        assert_eq!(
            set.names().collect::<Vec<_>>(),
            vec!["all-orders", "shipped", "deep"]
        );
    }

    #[test]
    fn cancel_only_rules_and_the_cart_reminder() {
        let set = load(
            r#"
            [[rule]]
            name = "checkout-cancels"
            on = "checkout.completed"
            to = "user:{user_id}"
            cancels = ["cart:{data.cart_id}", "wish:{data.wish_id}"]
            "#,
        );
        let o = set
            .apply(&event("checkout.completed", json!({"cart_id": "c7"})), T0)
            .outcomes
            .remove(0);
        assert_eq!(o.notification, None);
        // a key that cannot be built names nothing to cancel
        assert_eq!(o.cancels, vec!["cart:c7".to_owned()]);

        let defaults = RuleSet::default_rules();
        let reminder = defaults
            .apply(&event("cart.abandoned", full_data()), T0)
            .outcomes
            .remove(0);
        assert_eq!(reminder.deliver_at, Some(T0 + HOUR));
        assert_eq!(reminder.cancel_key.as_deref(), Some("cart:c7"));
        let order = defaults
            .apply(&event("order.created", full_data()), T0)
            .outcomes
            .remove(0);
        assert_eq!(
            order.cancels,
            reminder.cancel_key.into_iter().collect::<Vec<_>>()
        );
        assert!(order.notification.is_some());
        // an order without a cart still notifies, cancelling nothing
        let mut data = full_data();
        data.as_object_mut().unwrap().remove("cart_id");
        let order = defaults.apply(&event("order.created", data.clone()), T0);
        assert!(order.errors.is_empty() && order.outcomes[0].cancels.is_empty());
        // a reminder that could never be cancelled is an error, not a surprise
        let reminder = defaults.apply(&event("cart.abandoned", data), T0);
        assert_eq!(
            fields(&reminder.errors),
            vec![("cart-reminder".into(), "collapse".into())]
        );
    }

    #[test]
    fn an_audience_that_cannot_be_built_means_the_rule_does_not_apply() {
        let set = RuleSet::default_rules();
        let mut data = full_data();
        data.as_object_mut().unwrap().remove("sku");
        let applied = set.apply(&event("inventory.restocked", data.clone()), T0);
        assert!(applied.errors.is_empty());
        let audiences: Vec<_> = applied
            .outcomes
            .iter()
            .map(|o| o.audience.clone())
            .collect();
        assert_eq!(audiences, vec![Audience::Topic("stock:ii3".into())]);
        data.as_object_mut().unwrap().remove("inventory_item_id");
        // Nobody at all is an error naming the audience and the value it lacks.
        let applied = set.apply(&event("inventory.restocked", data), T0);
        assert!(applied.outcomes.is_empty());
        assert_eq!(
            fields(&applied.errors),
            vec![("back-in-stock".into(), "to".into())]
        );
        assert!(
            applied.errors[0].message.contains("`data.sku`"),
            "{:?}",
            applied.errors
        );
        let applied = set.apply(&event("inventory.restocked", json!({"sku": ""})), T0);
        assert!(applied.outcomes.is_empty());
        // a user rule for an event without a user
        let mut e = event("order.shipped", full_data());
        e.user_id = None;
        let applied = set.apply(&e, T0);
        assert!(applied.outcomes.is_empty());
        assert_eq!(
            fields(&applied.errors),
            vec![("order-shipped".into(), "to".into())]
        );
        assert!(
            applied.errors[0].message.contains("`user_id`"),
            "{:?}",
            applied.errors
        );
    }

    #[test]
    fn links_are_checked_at_load_and_after_rendering() {
        let rule = |link: &str| {
            format!("[[rule]]\nname = \"r\"\non = \"a.b\"\nto = \"segment:x\"\ncategory = \"ops\"\ntitle.en = \"t\"\nlink = \"{link}\"\n")
        };
        for bad in [
            "javascript:alert(1)",
            "http://x.example/",
            "data:text/html,hi",
            "//evil.example",
            "/a b",
            "JAVASCRIPT:{data.x}",
            "https://",
            "mailto:{data.x}",
        ] {
            let errors = RuleSet::from_toml(&rule(bad)).unwrap_err();
            assert_eq!(fields(&errors), vec![("r".into(), "link".into())], "{bad}");
        }
        for good in [
            "/orders",
            "https://shop.example/x",
            "HTTPS://shop.example/{data.x}",
            "/p/{data.x}",
            "{data.url}",
        ] {
            assert!(RuleSet::from_toml(&rule(good)).is_ok(), "{good}");
        }
        let set = load(&rule("{data.url}"));
        let link = |url: Json| {
            let a = set.apply(&event("a.b", json!({"url": url})), T0);
            match (a.outcomes.first(), a.errors.first()) {
                (Some(o), _) => Ok(o.notification.clone().unwrap().link.unwrap()),
                (_, Some(e)) => Err(e.clone()),
                _ => panic!("nothing"),
            }
        };
        assert_eq!(
            link(json!("https://track.example/1")),
            Ok("https://track.example/1".into())
        );
        assert_eq!(link(json!("/orders/1")), Ok("/orders/1".into()));
        for bad in [
            "javascript:alert(1)",
            "http://x.example",
            "//evil.example",
            "/\\evil.example",
            "data:x",
            " /x",
        ] {
            let e = link(json!(bad)).unwrap_err();
            assert_eq!((e.rule.as_str(), e.field.as_str()), ("r", "link"), "{bad}");
            assert!(e.message.contains("rendered"), "{e}");
        }
        // values after literal text are encoded, so they cannot escape the path
        let set = load(&rule("/p/{data.url}"));
        let n = set
            .apply(&event("a.b", json!({"url": "../x?y=//evil"})), T0)
            .outcomes
            .remove(0)
            .notification
            .unwrap();
        assert_eq!(n.link.as_deref(), Some("/p/..%2Fx%3Fy%3D%2F%2Fevil"));
    }

    #[test]
    fn a_throttle_holds_back_repeats_of_one_collapse_key_not_other_items() {
        // A watcher of two products hears of each restock at once; the same product's
        // second restock within the window is what the throttle holds back.
        let defaults = RuleSet::default_rules();
        let mut router = crate::route::Router::default();
        let prefs = crate::prefs::Preferences::default();
        let mut restock = |sku: &str, at: Millis| {
            let e = event(
                "inventory.restocked",
                json!({"sku": sku, "product_id": sku, "product_title": sku}),
            );
            let submission = defaults
                .apply(&e, at)
                .outcomes
                .remove(0)
                .into_submission()
                .unwrap();
            router.submit(submission, &prefs, at)
        };
        let delivered =
            |o: &crate::route::Outcome| matches!(o, crate::route::Outcome::Deliver { .. });
        assert!(delivered(&restock("mug", T0)));
        assert!(
            delivered(&restock("lamp", T0 + MINUTE)),
            "another product is news"
        );
        assert!(
            !delivered(&restock("mug", T0 + 2 * MINUTE)),
            "the same one again is held"
        );
    }

    #[test]
    fn throttles_are_read_from_the_rule() {
        let rule = |throttle: &str| {
            format!("[[rule]]\nname = \"r\"\non = \"a.b\"\nto = \"segment:x\"\ncategory = \"ops\"\ntitle.en = \"t\"\nthrottle = \"{throttle}\"\n")
        };
        let throttle = |text: &str| {
            let set = RuleSet::from_toml(&rule(text)).map_err(|e| fields(&e))?;
            let o = set.apply(&event("a.b", json!({})), T0).outcomes.remove(0);
            Ok::<_, Vec<(String, String)>>(o.throttle.unwrap())
        };
        assert_eq!(
            throttle("1 per 6h per recipient"),
            Ok(Throttle {
                limit: 1,
                per: 6 * HOUR
            })
        );
        assert_eq!(throttle("3 per 1d"), Ok(Throttle { limit: 3, per: DAY }));
        assert_eq!(
            throttle("5 per 1h30m"),
            Ok(Throttle {
                limit: 5,
                per: 90 * MINUTE
            })
        );
        for bad in [
            "",
            "lots",
            "0 per 1h",
            "-1 per 1h",
            "1 per 0s",
            "1 per fortnight",
            "1 every 6h",
        ] {
            assert_eq!(
                throttle(bad),
                Err(vec![("r".into(), "throttle".into())]),
                "{bad}"
            );
        }
        // the router gets it keyed by the rule's name
        let set = load(&rule("2 per 1h"));
        let o = set.apply(&event("a.b", json!({})), T0).outcomes.remove(0);
        let submission = o.clone().into_submission().unwrap();
        assert_eq!(
            submission.throttle,
            Some(KeyedThrottle {
                key: "r".into(),
                throttle: Throttle {
                    limit: 2,
                    per: HOUR
                }
            })
        );
        assert_eq!(submission.notification, o.notification.unwrap());
    }

    #[test]
    fn deliver_at_reads_rfc3339_or_unix_seconds() {
        let set = load(
            r#"
            [[rule]]
            name = "later"
            on = "promo.scheduled"
            to = "segment:all"
            category = "promo"
            title.en = "Sale starts"
            deliver_at = "{data.starts_at}"
            cancel_key = "promo:{data.promo_id|default}"
            expires = "2d"
            "#,
        );
        let at = |v: Json| {
            let a = set.apply(&event("promo.scheduled", json!({"starts_at": v})), T0);
            match a.outcomes.first() {
                Some(o) => Ok(o.deliver_at.unwrap()),
                None => Err(a.errors[0].clone()),
            }
        };
        assert_eq!(at(json!("2026-11-22T10:00:00Z")), Ok(T0));
        assert_eq!(at(json!(1_795_341_600)), Ok(T0));
        assert_eq!(at(json!("1795341600")), Ok(T0));
        assert_eq!(at(json!(1_795_341_600.5)), Ok(T0 + 500));
        // Past year 9999 (a time no alarm can be set for) is refused like text that is no time.
        assert_eq!(
            at(json!(253_402_300_799_i64)),
            Ok(crate::time::LATEST - 999)
        );
        for bad in [
            json!("soon"),
            json!(null),
            json!(1e300),
            json!([1]),
            json!(9e12),
            json!(253_402_300_800_u64),
            json!("999999999999"),
        ] {
            let e = at(bad).unwrap_err();
            assert_eq!((e.rule.as_str(), e.field.as_str()), ("later", "deliver_at"));
        }
        let o = set
            .apply(&event("promo.scheduled", json!({"starts_at": 0})), T0)
            .outcomes
            .remove(0);
        assert_eq!(o.cancel_key.as_deref(), Some("promo:default"));
        assert_eq!(o.notification.unwrap().expires_at, Some(T0 + 2 * DAY));
    }

    #[test]
    fn a_delay_that_ends_past_year_9999_is_an_error_of_the_rule() {
        let set = load(
            r#"
            [[rule]]
            name = "remind"
            on = "cart.abandoned"
            to = "user:{user_id}"
            category = "promo"
            title.en = "Your cart misses you"
            delay = "1h"
            "#,
        );
        let mut late = event("cart.abandoned", json!({}));
        late.occurred_at = crate::time::LATEST;
        let applied = set.apply(&late, T0);
        assert!(applied.outcomes.is_empty());
        assert_eq!(applied.errors[0].field, "delay");
        assert!(
            applied.errors[0].to_string().contains("9999"),
            "{}",
            applied.errors[0]
        );
        late.occurred_at = crate::time::LATEST - HOUR;
        assert_eq!(
            set.apply(&late, T0).outcomes[0].deliver_at,
            Some(crate::time::LATEST)
        );
    }

    #[test]
    fn unknown_types_have_no_rules() {
        let set = RuleSet::default_rules();
        let applied = set.apply(&event("order.teleported", full_data()), T0);
        assert_eq!(applied, Applied::default());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #[test]
        fn link_check_of_bytes_is_the_check_of_characters(link in "(/|https://)[ -~\t\n\x0b\x0c\r\x00-\x1f\x7fé\u{2003}]{0,12}") {
            let by_chars = link.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\');
            prop_assert_eq!(check_link(&link).is_err_and(|e| e.starts_with("must not contain")), by_chars);
        }
    }

    fn rule_text() -> impl Strategy<Value = String> {
        let key = prop::sample::select(vec![
            "name",
            "on",
            "to",
            "category",
            "priority",
            "collapse",
            "expires",
            "title.en",
            "title.zh",
            "body.en",
            "link",
            "delay",
            "deliver_at",
            "cancel_key",
            "cancels",
            "throttle",
            "when",
            "titel",
        ]);
        let value = prop::sample::select(vec![
            "\"x\"",
            "\"order.*\"",
            "\"a.b\"",
            "\"user:{user_id}\"",
            "\"{data.a}\"",
            "\"/p/{data.a}\"",
            "\"1h\"",
            "\"1 per 1h\"",
            "\"order\"",
            "\"urgent\"",
            "1",
            "[\"k:{data.a}\"]",
            "{ path = \"data.a\", op = \"eq\", value = 1 }",
            "[{ path = \"data.a\", op = \"in\", value = [1, \"a\"] }]",
            "\"{\"",
            "\"javascript:x\"",
            "true",
            "{}",
        ]);
        prop::collection::vec(
            (
                prop::bool::weighted(0.2),
                prop::collection::vec((key, value), 0..10),
            ),
            0..4,
        )
        .prop_map(|rules| {
            let mut s = String::new();
            for (n, (garbage, fields)) in rules.into_iter().enumerate() {
                s.push_str("[[rule]]\n");
                if !garbage {
                    s.push_str(&format!(
                        "name = \"r{n}\"\non = \"a.b\"\nto = \"segment:s\"\n"
                    ));
                }
                let mut seen = HashSet::new();
                for (k, v) in fields {
                    let root = k.split('.').next().unwrap_or(k);
                    if (!garbage && ["name", "on", "to"].contains(&root)) || !seen.insert(k) {
                        continue;
                    }
                    if k.contains('.') && seen.contains(root) {
                        continue;
                    }
                    s.push_str(&format!("{k} = {v}\n"));
                }
            }
            s
        })
    }

    proptest! {
        /// Whatever the text, loading returns rules or errors, never a panic,
        /// and applying whatever loaded never panics either.
        #[test]
        fn loading_and_applying_never_panic(text in "\\PC{0,200}", structured in rule_text()) {
            let e = Event {
                id: "e".into(),
                kind: "a.b".into(),
                occurred_at: i64::MAX - 10,
                user_id: Some("u".into()),
                data: json!({"a": "javascript:alert(1)"}).into(),
            };
            for t in [text.as_str(), structured.as_str()] {
                match RuleSet::from_toml(t) {
                    Ok(set) => {
                        let applied = set.apply(&e, 0);
                        prop_assert!(applied.outcomes.len() + applied.errors.len() <= set.len());
                    }
                    Err(errors) => prop_assert!(!errors.is_empty()),
                }
            }
        }
    }
}
