//! The protocol's JSON, written and read by hand, without serde.
//!
//! The notification center ships as WebAssembly, and every serializer it links is download
//! size: `serde_json` with the derived (de)serializers of the protocol's types was about a
//! seventh of its code. [`ToJson`] writes exactly the text `serde_json::to_string` writes for
//! the same value (byte for byte: field order, skipped `None`s, escapes; property-tested), so
//! the edge and the center can use either. [`FromJson`] reads what the derived `Deserialize`
//! reads: the same values from the same text, and the same refusals (a required field
//! missing, a wrong type, an integer out of range, a float where an integer belongs), with
//! three differences, all on text no edge writes: a repeated member is read last-wins where
//! the derive refuses it; a struct written as an array of its fields (`"prefs": []`), which
//! the derive takes, is refused; and text that is not strict JSON as a whole (nesting deeper
//! than 32, a lone surrogate escape, even in a member nobody reads) is refused where the
//! derive skips what it does not read.
//!
//! The edge keeps serde for reading what clients send (`ClientFrame::decode`, which refuses
//! unknown fields) and for its own storage.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::data::{strict_json, Json};
use crate::notification::{Category, Locale, Localized, Notification, Priority, ReadState};
use crate::prefs::{Preferences, QuietHours};
use crate::protocol::{ClientFrame, ServerFrame};

/// Why JSON text is not the value asked for; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WireError(String);

impl WireError {
    fn expected(what: &str) -> WireError {
        WireError(format!("expected {what}"))
    }

    /// The same error, inside member `field`.
    fn within(self, field: &str) -> WireError {
        WireError(format!("{field}: {}", self.0))
    }
}

/// Parses `text` as one strict JSON value, whitespace around it allowed.
pub fn parse(text: &str) -> Result<Json<'_>, WireError> {
    strict_json(text).ok_or_else(|| WireError("not valid JSON".into()))
}

/// Reads `T` from JSON text (see the module's notes on what it accepts).
pub fn from_text<T: FromJson>(text: &str) -> Result<T, WireError> {
    T::from_json(parse(text)?)
}

/// A value written as `serde_json::to_string` writes it.
pub trait ToJson {
    /// Appends the value's JSON to `out`.
    fn write_json(&self, out: &mut String);

    /// The value's JSON text.
    fn to_json(&self) -> String {
        let mut out = String::with_capacity(64);
        self.write_json(&mut out);
        out
    }
}

/// A value read from JSON as its derived `Deserialize` reads it.
pub trait FromJson: Sized {
    /// Reads the value from `v`.
    fn from_json(v: Json<'_>) -> Result<Self, WireError>;
}

// ---- writing ----

/// Writes an object member by member, as serde's derive does (no spaces, declared order).
struct Object<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> Object<'o> {
    fn new(out: &'o mut String) -> Self {
        out.push('{');
        Object { out, first: true }
    }

    /// An internally tagged enum's variant: `{"type":"<kind>"` then its fields.
    fn tagged(out: &'o mut String, kind: &str) -> Self {
        let mut o = Object::new(out);
        o.field("type", kind);
        o
    }

    fn field<T: ToJson + ?Sized>(&mut self, key: &str, value: &T) -> &mut Self {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
        value.write_json(self.out);
        self
    }

    /// A member that serde skips when it is `None`.
    fn some<T: ToJson>(&mut self, key: &str, value: &Option<T>) -> &mut Self {
        if let Some(v) = value {
            self.field(key, v);
        }
        self
    }

    fn end(&mut self) {
        self.out.push('}');
    }
}

impl ToJson for str {
    fn write_json(&self, out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push('"');
        let mut start = 0;
        for (i, b) in self.bytes().enumerate() {
            let short = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0x00..=0x1f => "",
                _ => continue,
            };
            out.push_str(&self[start..i]);
            if short.is_empty() {
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            } else {
                out.push_str(short);
            }
            start = i + 1;
        }
        out.push_str(&self[start..]);
        out.push('"');
    }
}

impl ToJson for String {
    fn write_json(&self, out: &mut String) {
        self.as_str().write_json(out)
    }
}

/// Decimal digits of `n`, without `core::fmt`.
fn write_unsigned(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&d| d as char));
}

macro_rules! integers {
    ($($t:ty => $write:expr),*) => {$(
        impl ToJson for $t {
            fn write_json(&self, out: &mut String) {
                $write(out, *self)
            }
        }

        impl FromJson for $t {
            fn from_json(v: Json<'_>) -> Result<Self, WireError> {
                match v {
                    // `-0` and `-0.…` are floats to serde_json.
                    Json::Number(n) if !n.starts_with("-0") => n.parse().map_err(|_| {
                        WireError::expected(concat!("an integer that fits ", stringify!($t)))
                    }),
                    _ => Err(WireError::expected("an integer")),
                }
            }
        }
    )*};
}

fn write_signed(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    write_unsigned(out, n.unsigned_abs())
}

integers!(
    u64 => write_unsigned,
    u32 => |out, n| write_unsigned(out, u64::from(n)),
    u16 => |out, n| write_unsigned(out, u64::from(n)),
    i64 => write_signed,
    i16 => |out, n| write_signed(out, i64::from(n))
);

/// `[a,b,…]`, as serde writes any sequence.
fn write_array<'a, T: ToJson + 'a>(out: &mut String, items: impl Iterator<Item = &'a T>) {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        item.write_json(out);
    }
    out.push(']');
}

impl<T: ToJson> ToJson for [T] {
    fn write_json(&self, out: &mut String) {
        write_array(out, self.iter())
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out)
    }
}

impl<T: ToJson> ToJson for BTreeSet<T> {
    fn write_json(&self, out: &mut String) {
        write_array(out, self.iter())
    }
}

// ---- reading ----

impl FromJson for String {
    fn from_json(v: Json<'_>) -> Result<Self, WireError> {
        match v {
            Json::String(s) => Ok(s.text().into_owned()),
            _ => Err(WireError::expected("a string")),
        }
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(v: Json<'_>) -> Result<Self, WireError> {
        if !matches!(v, Json::Array(_)) {
            return Err(WireError::expected("an array"));
        }
        v.items()
            .enumerate()
            .map(|(i, item)| T::from_json(item).map_err(|e| e.within(&format!("[{i}]"))))
            .collect()
    }
}

impl<T: FromJson + Ord> FromJson for BTreeSet<T> {
    fn from_json(v: Json<'_>) -> Result<Self, WireError> {
        // Inserted one by one: `collect` would sort first, which links a stable sort
        // into the center for sets of a handful of items.
        let mut set = BTreeSet::new();
        for item in Vec::<T>::from_json(v)? {
            set.insert(item);
        }
        Ok(set)
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn from_json(v: Json<'_>) -> Result<Self, WireError> {
        match v {
            Json::Null => Ok(None),
            v => T::from_json(v).map(Some),
        }
    }
}

/// The members of the object `v` named in `keys`, by position (the last one, if repeated).
fn members<'a, const N: usize>(
    v: Json<'a>,
    keys: [&str; N],
) -> Result<[Option<Json<'a>>; N], WireError> {
    if !matches!(v, Json::Object(_)) {
        return Err(WireError::expected("an object"));
    }
    let mut found = [None; N];
    v.for_each_member(|key, value| {
        if let Some(i) = keys.iter().position(|k| *k == key) {
            found[i] = Some(value);
        }
    });
    Ok(found)
}

/// A member that must be there.
fn required<T: FromJson>(v: Option<Json<'_>>, field: &str) -> Result<T, WireError> {
    match v {
        Some(v) => T::from_json(v).map_err(|e| e.within(field)),
        None => Err(WireError(format!("missing field `{field}`"))),
    }
}

/// A member that serde fills with its default when it is missing (`#[serde(default)]`).
fn defaulted<T: FromJson + Default>(v: Option<Json<'_>>, field: &str) -> Result<T, WireError> {
    match v {
        Some(v) => T::from_json(v).map_err(|e| e.within(field)),
        None => Ok(T::default()),
    }
}

/// An enum serde writes as its snake_case name.
fn name<T>(v: Json<'_>, parse: impl Fn(&str) -> Option<T>) -> Result<T, WireError> {
    match v {
        Json::String(s) => parse(&s.text()).ok_or_else(|| WireError::expected("a known name")),
        _ => Err(WireError::expected("a string")),
    }
}

// ---- the vocabulary ----

/// `(variant, name)` tables for the enums serde names in snake_case.
const PRIORITIES: [(Priority, &str); 4] = [
    (Priority::Low, "low"),
    (Priority::Normal, "normal"),
    (Priority::High, "high"),
    (Priority::Urgent, "urgent"),
];
const READ_STATES: [(ReadState, &str); 3] = [
    (ReadState::Unread, "unread"),
    (ReadState::Read, "read"),
    (ReadState::Archived, "archived"),
];
const LOCALES: [(Locale, &str); 2] = [(Locale::En, "en"), (Locale::Zh, "zh")];

fn name_of<T: PartialEq + Copy>(table: &[(T, &'static str)], v: T) -> &'static str {
    table.iter().find(|(t, _)| *t == v).map_or("", |(_, n)| n)
}

fn from_table<T: Copy>(table: &[(T, &'static str)], text: &str) -> Option<T> {
    table.iter().find(|(_, n)| *n == text).map(|(t, _)| *t)
}

macro_rules! named {
    ($t:ty, $table:expr) => {
        impl ToJson for $t {
            fn write_json(&self, out: &mut String) {
                name_of(&$table, *self).write_json(out)
            }
        }
        impl FromJson for $t {
            fn from_json(v: Json<'_>) -> Result<Self, WireError> {
                name(v, |n| from_table(&$table, n))
            }
        }
    };
}
named!(Priority, PRIORITIES);
named!(ReadState, READ_STATES);
named!(Locale, LOCALES);

impl ToJson for Category {
    fn write_json(&self, out: &mut String) {
        self.as_str().write_json(out)
    }
}

impl FromJson for Category {
    fn from_json(v: Json<'_>) -> Result<Self, WireError> {
        name(v, Category::parse)
    }
}

impl ToJson for Localized {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("en", &self.en)
            .field("zh", &self.zh)
            .end()
    }
}

impl FromJson for Localized {
    fn from_json(v: Json<'_>) -> Result<Self, WireError> {
        let [en, zh] = members(v, ["en", "zh"])?;
        Ok(Localized {
            en: required(en, "en")?,
            zh: required(zh, "zh")?,
        })
    }
}

impl ToJson for Notification {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("id", &self.id)
            .field("seq", &self.seq)
            .field("type", &self.kind)
            .field("category", &self.category)
            .field("priority", &self.priority)
            .field("title", &self.title)
            .field("body", &self.body)
            .some("link", &self.link)
            .field("created_at", &self.created_at)
            .some("expires_at", &self.expires_at)
            .some("collapse_key", &self.collapse_key)
            .field("state", &self.state)
            .field("ingested_at", &self.ingested_at)
            .end()
    }
}

impl FromJson for Notification {
    fn from_json(v: Json<'_>) -> Result<Self, WireError> {
        let [id, seq, kind, category, priority, title, body, link, created_at, expires_at, collapse_key, state, ingested_at] =
            members(
                v,
                [
                    "id",
                    "seq",
                    "type",
                    "category",
                    "priority",
                    "title",
                    "body",
                    "link",
                    "created_at",
                    "expires_at",
                    "collapse_key",
                    "state",
                    "ingested_at",
                ],
            )?;
        Ok(Notification {
            id: required(id, "id")?,
            seq: defaulted(seq, "seq")?,
            kind: required(kind, "type")?,
            category: required(category, "category")?,
            priority: defaulted(priority, "priority")?,
            title: required(title, "title")?,
            body: defaulted(body, "body")?,
            link: defaulted(link, "link")?,
            created_at: required(created_at, "created_at")?,
            expires_at: defaulted(expires_at, "expires_at")?,
            collapse_key: defaulted(collapse_key, "collapse_key")?,
            state: defaulted(state, "state")?,
            ingested_at: defaulted(ingested_at, "ingested_at")?,
        })
    }
}

impl ToJson for QuietHours {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("start_minute", &self.start_minute)
            .field("end_minute", &self.end_minute)
            .end()
    }
}

impl FromJson for QuietHours {
    fn from_json(v: Json<'_>) -> Result<Self, WireError> {
        let [start, end] = members(v, ["start_minute", "end_minute"])?;
        Ok(QuietHours {
            start_minute: required(start, "start_minute")?,
            end_minute: required(end, "end_minute")?,
        })
    }
}

impl ToJson for Preferences {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("muted", &self.muted)
            .some("quiet_hours", &self.quiet_hours)
            .field("utc_offset_minutes", &self.utc_offset_minutes)
            .some("locale", &self.locale)
            .end()
    }
}

impl FromJson for Preferences {
    fn from_json(v: Json<'_>) -> Result<Self, WireError> {
        let [muted, quiet, offset, locale] =
            members(v, ["muted", "quiet_hours", "utc_offset_minutes", "locale"])?;
        Ok(Preferences {
            muted: defaulted(muted, "muted")?,
            quiet_hours: defaulted(quiet, "quiet_hours")?,
            utc_offset_minutes: defaulted(offset, "utc_offset_minutes")?,
            locale: defaulted(locale, "locale")?,
        })
    }
}

// ---- frames ----

impl ToJson for ClientFrame {
    fn write_json(&self, out: &mut String) {
        match self {
            ClientFrame::Hello {
                v,
                after,
                changes_after,
            } => Object::tagged(out, "hello")
                .field("v", v)
                .field("after", after)
                .field("changes_after", changes_after)
                .end(),
            ClientFrame::Mark { ids, state } => Object::tagged(out, "mark")
                .field("ids", ids)
                .field("state", state)
                .end(),
            ClientFrame::MarkAllRead { before } => Object::tagged(out, "mark_all_read")
                .field("before", before)
                .end(),
            ClientFrame::Prefs { prefs } => {
                Object::tagged(out, "prefs").field("prefs", prefs).end()
            }
            ClientFrame::Watch { topic } => {
                Object::tagged(out, "watch").field("topic", topic).end()
            }
            ClientFrame::Unwatch { topic } => {
                Object::tagged(out, "unwatch").field("topic", topic).end()
            }
            ClientFrame::Ping => Object::tagged(out, "ping").end(),
        }
    }
}

impl ToJson for ServerFrame {
    fn write_json(&self, out: &mut String) {
        match self {
            ServerFrame::Welcome {
                v,
                user,
                head,
                version,
                prefs,
                topics,
            } => Object::tagged(out, "welcome")
                .field("v", v)
                .field("user", user)
                .field("head", head)
                .field("version", version)
                .field("prefs", prefs)
                .field("topics", topics)
                .end(),
            ServerFrame::Notify { notification } => Object::tagged(out, "notify")
                .field("notification", notification)
                .end(),
            ServerFrame::Synced { head } => Object::tagged(out, "synced").field("head", head).end(),
            ServerFrame::Changed {
                ids,
                state,
                version,
            } => Object::tagged(out, "changed")
                .field("ids", ids)
                .field("state", state)
                .field("version", version)
                .end(),
            ServerFrame::Prefs { prefs } => {
                Object::tagged(out, "prefs").field("prefs", prefs).end()
            }
            ServerFrame::Topics { topics } => {
                Object::tagged(out, "topics").field("topics", topics).end()
            }
            ServerFrame::Reset { oldest } => {
                Object::tagged(out, "reset").field("oldest", oldest).end()
            }
            ServerFrame::Error { code, message } => Object::tagged(out, "error")
                .field("code", code)
                .field("message", message)
                .end(),
            ServerFrame::Pong => Object::tagged(out, "pong").end(),
        }
    }
}

impl FromJson for ServerFrame {
    fn from_json(v: Json<'_>) -> Result<Self, WireError> {
        let [kind] = members(v, ["type"])?;
        let kind: Cow<'_, str> = match kind {
            Some(Json::String(s)) => s.text(),
            Some(_) => return Err(WireError::expected("a string").within("type")),
            None => return Err(WireError("missing field `type`".into())),
        };
        Ok(match kind.as_ref() {
            "welcome" => {
                let [ver, user, head, version, prefs, topics] =
                    members(v, ["v", "user", "head", "version", "prefs", "topics"])?;
                ServerFrame::Welcome {
                    v: required(ver, "v")?,
                    user: required(user, "user")?,
                    head: required(head, "head")?,
                    version: required(version, "version")?,
                    prefs: required(prefs, "prefs")?,
                    topics: defaulted(topics, "topics")?,
                }
            }
            "notify" => {
                let [n] = members(v, ["notification"])?;
                ServerFrame::Notify {
                    notification: required(n, "notification")?,
                }
            }
            "synced" => {
                let [head] = members(v, ["head"])?;
                ServerFrame::Synced {
                    head: required(head, "head")?,
                }
            }
            "changed" => {
                let [ids, state, version] = members(v, ["ids", "state", "version"])?;
                ServerFrame::Changed {
                    ids: required(ids, "ids")?,
                    state: required(state, "state")?,
                    version: required(version, "version")?,
                }
            }
            "prefs" => {
                let [prefs] = members(v, ["prefs"])?;
                ServerFrame::Prefs {
                    prefs: required(prefs, "prefs")?,
                }
            }
            "topics" => {
                let [topics] = members(v, ["topics"])?;
                ServerFrame::Topics {
                    topics: required(topics, "topics")?,
                }
            }
            "reset" => {
                let [oldest] = members(v, ["oldest"])?;
                ServerFrame::Reset {
                    oldest: required(oldest, "oldest")?,
                }
            }
            "error" => {
                let [code, message] = members(v, ["code", "message"])?;
                ServerFrame::Error {
                    code: required(code, "code")?,
                    message: required(message, "message")?,
                }
            }
            "pong" => ServerFrame::Pong,
            other => return Err(WireError(format!("unknown frame type `{other}`"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_serde_json_writes() {
        let prefs = Preferences {
            muted: [Category::Promo, Category::Order].into(),
            quiet_hours: Some(QuietHours {
                start_minute: 1320,
                end_minute: 420,
            }),
            utc_offset_minutes: -300,
            locale: Some(Locale::Zh),
        };
        assert_eq!(prefs.to_json(), serde_json::to_string(&prefs).unwrap());
        let text = "quote \" back \\ nl \n tab \t nul \u{0} unit \u{1f} del \u{7f} 发 😀";
        assert_eq!(text.to_json(), serde_json::to_string(text).unwrap());
        for n in [0u64, 7, 10, 99, 1_700_000_000_000, u64::MAX] {
            assert_eq!(n.to_json(), n.to_string());
        }
        for n in [0i64, -1, -10, i64::MIN, i64::MAX] {
            assert_eq!(n.to_json(), n.to_string());
        }
    }

    #[test]
    fn refuses_what_the_derive_refuses() {
        for bad in [
            "1.0",
            "1e3",
            "-0",
            "-1",
            "18446744073709551616",
            "\"1\"",
            "null",
        ] {
            assert!(from_text::<u64>(bad).is_err(), "{bad}");
            assert!(serde_json::from_str::<u64>(bad).is_err(), "{bad}");
        }
        assert!(from_text::<u16>("65536").is_err());
        assert_eq!(from_text::<i16>("-300"), Ok(-300));
        assert!(from_text::<Priority>("\"Urgent\"").is_err());
        assert_eq!(from_text::<Option<String>>("null"), Ok(None));
        let missing = from_text::<Notification>(r#"{"id":"e:1"}"#).unwrap_err();
        assert_eq!(missing.to_string(), "missing field `type`");
        let nested = from_text::<Preferences>(r#"{"muted":["promo",1]}"#).unwrap_err();
        assert_eq!(nested.to_string(), "muted: [1]: expected a string");
        // Not JSON as a whole, however little of it is read.
        for bad in [
            "",
            "{",
            "{} x",
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\udc00"}"#,
            "[1,]",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse(r#" {"a":"\ud83d\ude00 \u00e9"} "#).is_ok());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> + Clone {
        "[a-z \"\\\\/\u{0}\u{8}\u{c}\u{1f}\u{7f}é发😀]{0,10}"
    }

    fn localized() -> impl Strategy<Value = Localized> {
        (text(), text()).prop_map(|(en, zh)| Localized { en, zh })
    }

    fn notification() -> impl Strategy<Value = Notification> {
        (
            (text(), any::<u64>(), text(), 0usize..8, 0usize..4),
            (localized(), localized(), prop::option::of(text())),
            (any::<i64>(), prop::option::of(any::<i64>())),
            (prop::option::of(text()), 0usize..3, any::<i64>()),
        )
            .prop_map(
                |(
                    (id, seq, kind, category, priority),
                    (title, body, link),
                    (created_at, expires_at),
                    (collapse_key, state, ingested_at),
                )| Notification {
                    id,
                    seq,
                    kind,
                    category: Category::ALL[category],
                    priority: PRIORITIES[priority].0,
                    title,
                    body,
                    link,
                    created_at,
                    expires_at,
                    collapse_key,
                    state: READ_STATES[state].0,
                    ingested_at,
                },
            )
    }

    fn prefs() -> impl Strategy<Value = Preferences> {
        (
            prop::collection::btree_set(0usize..8, 0..4),
            prop::option::of((any::<u16>(), any::<u16>())),
            any::<i16>(),
            prop::option::of(any::<bool>()),
        )
            .prop_map(|(muted, quiet, offset, zh)| Preferences {
                muted: muted.into_iter().map(|i| Category::ALL[i]).collect(),
                quiet_hours: quiet.map(|(start_minute, end_minute)| QuietHours {
                    start_minute,
                    end_minute,
                }),
                utc_offset_minutes: offset,
                locale: zh.map(|zh| if zh { Locale::Zh } else { Locale::En }),
            })
    }

    fn server_frame() -> impl Strategy<Value = ServerFrame> {
        let ids = prop::collection::vec(text(), 0..3);
        prop_oneof![
            (
                any::<u32>(),
                text(),
                any::<u64>(),
                any::<u64>(),
                prefs(),
                ids.clone()
            )
                .prop_map(|(v, user, head, version, prefs, topics)| {
                    ServerFrame::Welcome {
                        v,
                        user,
                        head,
                        version,
                        prefs,
                        topics,
                    }
                }),
            notification().prop_map(|notification| ServerFrame::Notify { notification }),
            any::<u64>().prop_map(|head| ServerFrame::Synced { head }),
            (ids.clone(), 0usize..3, any::<u64>()).prop_map(|(ids, s, version)| {
                ServerFrame::Changed {
                    ids,
                    state: READ_STATES[s].0,
                    version,
                }
            }),
            prefs().prop_map(|prefs| ServerFrame::Prefs { prefs }),
            ids.prop_map(|topics| ServerFrame::Topics { topics }),
            any::<u64>().prop_map(|oldest| ServerFrame::Reset { oldest }),
            (text(), text()).prop_map(|(code, message)| ServerFrame::Error { code, message }),
            Just(ServerFrame::Pong),
        ]
    }

    fn client_frame() -> impl Strategy<Value = ClientFrame> {
        prop_oneof![
            (any::<u32>(), any::<u64>(), any::<u64>()).prop_map(|(v, after, changes_after)| {
                ClientFrame::Hello {
                    v,
                    after,
                    changes_after,
                }
            }),
            (prop::collection::vec(text(), 0..3), 0usize..3).prop_map(|(ids, s)| {
                ClientFrame::Mark {
                    ids,
                    state: READ_STATES[s].0,
                }
            }),
            any::<u64>().prop_map(|before| ClientFrame::MarkAllRead { before }),
            prefs().prop_map(|prefs| ClientFrame::Prefs { prefs }),
            text().prop_map(|topic| ClientFrame::Watch { topic }),
            text().prop_map(|topic| ClientFrame::Unwatch { topic }),
            Just(ClientFrame::Ping),
        ]
    }

    proptest! {
        /// The same bytes as serde_json, and read back to the same value by both readers.
        #[test]
        fn server_frames_write_as_serde_and_read_back(frame in server_frame(), pretty in any::<bool>()) {
            let text = frame.to_json();
            prop_assert_eq!(&text, &serde_json::to_string(&frame).unwrap());
            let spaced = if pretty { serde_json::to_string_pretty(&frame).unwrap() } else { text };
            prop_assert_eq!(from_text::<ServerFrame>(&spaced), Ok(frame.clone()));
            prop_assert_eq!(serde_json::from_str::<ServerFrame>(&spaced).ok(), Some(frame));
        }

        #[test]
        fn client_frames_write_as_serde(frame in client_frame()) {
            prop_assert_eq!(frame.to_json(), serde_json::to_string(&frame).unwrap());
        }

        /// A notification with one member removed or replaced is read as the derive reads it.
        #[test]
        fn notifications_read_as_the_derive_reads_them(
            n in notification(), member in 0usize..13, change in 0usize..8,
        ) {
            let serde_json::Value::Object(mut obj) = serde_json::to_value(&n).unwrap() else {
                unreachable!()
            };
            let key = obj.keys().nth(member % obj.len()).cloned().unwrap();
            let replacement = [
                serde_json::json!(null), serde_json::json!(1), serde_json::json!(-1),
                serde_json::json!(1.5), serde_json::json!("read"), serde_json::json!([]),
                serde_json::json!({"en": "a", "zh": "b"}),
            ];
            match replacement.get(change) {
                Some(v) => { obj.insert(key, v.clone()); }
                None => { obj.remove(&key); }
            }
            let text = serde_json::Value::Object(obj).to_string();
            prop_assert_eq!(
                from_text::<Notification>(&text).ok(),
                serde_json::from_str::<Notification>(&text).ok(),
                "{}", text
            );
        }

        /// Escapes resolve as serde_json resolves them, `\u` and surrogate pairs included.
        #[test]
        fn strings_unescape_as_serde_json_does(
            s in "[a-z\"\\\\\u{1}é😀]{0,8}", cp in prop::sample::select(vec![0x41u32, 0xe9, 0x2028, 0x1f600, 0x10ffff]),
        ) {
            let quoted = serde_json::to_string(&s).unwrap();
            let open = quoted.strip_suffix('"').unwrap();
            let mut units = [0u16; 2];
            let extra = char::from_u32(cp).unwrap().encode_utf16(&mut units);
            let pair: String = extra.iter().map(|u| format!("\\u{u:04X}")).collect();
            let text = format!("{open}\\u0000{pair}\\\\\\/\"");
            let want: String = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(from_text::<String>(&text), Ok(want));
        }

        /// Whatever the strict reader accepts, serde_json accepts too.
        #[test]
        fn strict_text_is_json(text in "[ {}\\[\\],:\"a0-9.eE+\\-\\\\u]{0,16}|\"(\\\\u[dD][89a-fA-F]00){0,2}\"") {
            if parse(&text).is_ok() {
                prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "{}", text);
            }
        }
    }
}
