//! An event's `data`: its JSON text as it arrived, read on demand.
//!
//! Building a `serde_json::Value` tree for every event cost a B-tree node and
//! an owned key and value per field (a dozen allocations for a typical event),
//! only for a rule to read three of them once. [`Data`] keeps the text (one
//! allocation) and, for an object, where each top-level member starts and
//! ends (a second one), so `data.order_number` is a short compare over the
//! members and a slice of the text. [`Json`] is a view of one value inside.
//!
//! Values read the way a `serde_json::Value` of the same text reads them:
//! the last of repeated keys wins, strings are unescaped, numbers print as
//! `serde_json::Number` prints them, objects and arrays print as compact JSON
//! (a property test holds the two to the same answers).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The name `serde_json` gives a raw value in its data model (see [`Data`]'s `Deserialize`).
const RAW_TOKEN: &str = "$serde_json::private::RawValue";

/// The `data` of an event: valid JSON text (usually an object), and where
/// its top-level members are.
#[derive(Clone)]
pub struct Data {
    /// Valid JSON text, no whitespace around it.
    raw: Box<str>,
    /// For an object: each member's key (the text between its quotes) and
    /// value, as byte ranges of `raw`, in order.
    members: Vec<Member>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Member {
    key: (u32, u32),
    value: (u32, u32),
    /// The key has a backslash escape, so it is compared unescaped.
    escaped: bool,
    /// The value is a string with a backslash escape.
    value_escaped: bool,
}

/// Why text is not usable as `data`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data is not valid JSON: {0}")]
pub struct DataError(String);

impl Default for Data {
    /// The empty object `{}`.
    fn default() -> Self {
        Data::trusted("{}".to_owned())
    }
}

impl Data {
    /// Parses JSON text (any value; rules only look inside objects).
    pub fn parse(text: &str) -> Result<Data, DataError> {
        let raw: &RawValue = serde_json::from_str(text).map_err(|e| DataError(e.to_string()))?;
        Ok(Data::trusted(raw.get().to_owned()))
    }

    /// `text` is known to be valid JSON without surrounding whitespace (it
    /// comes from `serde_json`, which checked it).
    pub(crate) fn trusted(text: String) -> Data {
        let members = index_members(&text);
        Data {
            raw: text.into_boxed_str(),
            members,
        }
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The whole value as a view.
    pub fn as_json(&self) -> Json<'_> {
        Json::classify(&self.raw)
    }

    /// The member `key` of the top-level object (the last one, if repeated).
    pub fn get(&self, key: &str) -> Option<Json<'_>> {
        let text: &str = &self.raw;
        let bytes = text.as_bytes();
        let m = self.members.iter().rev().find(|m| {
            let (a, b) = (m.key.0 as usize, m.key.1 as usize);
            if m.escaped {
                unescape(slice(text, m.key)) == key
            } else {
                // Most members differ in length: no slicing, no compare.
                b - a == key.len() && bytes.get(a..b) == Some(key.as_bytes())
            }
        })?;
        Some(Json::classify_known(slice(text, m.value), m.value_escaped))
    }

    /// Follows `keys` from the top: object members by name, array items by
    /// index (`index` is the key's value as a number, when it is one).
    pub fn pointer<'k>(
        &self,
        mut keys: impl Iterator<Item = (&'k str, Option<usize>)>,
    ) -> Option<Json<'_>> {
        let Some((first, index)) = keys.next() else {
            return Some(self.as_json());
        };
        let mut v = if self.members.is_empty() {
            self.as_json().step(first, index)?
        } else {
            self.get(first)?
        };
        for (key, index) in keys {
            v = v.step(key, index)?;
        }
        Some(v)
    }

    /// The value as a `serde_json::Value` tree.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.raw).unwrap_or(Value::Null)
    }

    /// `true` for `{}` and `null`.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && matches!(self.as_json(), Json::Object(_) | Json::Null)
    }
}

impl From<Value> for Data {
    fn from(v: Value) -> Self {
        Data::from(&v)
    }
}

impl From<&Value> for Data {
    fn from(v: &Value) -> Self {
        Data::trusted(v.to_string())
    }
}

impl From<Map<String, Value>> for Data {
    fn from(m: Map<String, Value>) -> Self {
        Data::from(Value::Object(m))
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Display for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl PartialEq for Data {
    /// Equal when the JSON values are equal (not only the texts).
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw || self.to_value() == other.to_value()
    }
}

impl Serialize for Data {
    /// As `serde_json`'s `RawValue` does: `serde_json` writes the text as it
    /// is; other formats see a one-field struct (read back by `Deserialize`).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct(RAW_TOKEN, 1)?;
        st.serialize_field(RAW_TOKEN, &*self.raw)?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for Data {
    /// From `serde_json` text without building a tree (it hands a raw value
    /// over as a one-entry map under its private name); from any other
    /// deserializer (a `Value`, JavaScript objects) through a `Value`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DataVisitor;
        impl<'de> Visitor<'de> for DataVisitor {
            type Value = Data;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Data, A::Error> {
                let Some(first) = map.next_key::<Cow<'de, str>>()? else {
                    return Ok(Data::default());
                };
                if first == RAW_TOKEN {
                    let text: Cow<'de, str> = map.next_value()?;
                    return Data::parse(&text).map_err(de::Error::custom);
                }
                let mut out = Map::new();
                out.insert(first.into_owned(), map.next_value()?);
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.insert(k, v);
                }
                Ok(Data::from(out))
            }
            fn visit_newtype_struct<D2: Deserializer<'de>>(self, d: D2) -> Result<Data, D2::Error> {
                let v = Value::deserialize(d)?;
                // A raw value that went through a non-JSON format comes back as its token map.
                if let Value::Object(m) = &v {
                    if let (1, Some(Value::String(text))) = (m.len(), m.get(RAW_TOKEN)) {
                        return Data::parse(text).map_err(de::Error::custom);
                    }
                }
                Ok(Data::from(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Data, E> {
                Ok(Data::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Data, E> {
                Ok(Data::default())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Data, E> {
                Ok(Data::from(Value::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Data, E> {
                Ok(Data::from(Value::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Data, E> {
                Ok(Data::from(Value::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Data, E> {
                Ok(Data::from(Value::from(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Data, E> {
                Ok(Data::from(Value::from(v)))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Data, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element::<Value>()? {
                    items.push(v);
                }
                Ok(Data::from(Value::Array(items)))
            }
        }
        d.deserialize_newtype_struct(RAW_TOKEN, DataVisitor)
    }
}

/// One JSON value inside [`Data`], as a view of its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Json<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written.
    Number(&'a str),
    /// A string, as written between its quotes (escapes not yet resolved).
    String(JsonStr<'a>),
    /// An array, as written (brackets included).
    Array(&'a str),
    /// An object, as written (braces included).
    Object(&'a str),
}

/// A JSON string's text between its quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonStr<'a> {
    raw: &'a str,
    escaped: bool,
}

impl<'a> JsonStr<'a> {
    /// The string with its escapes resolved (borrowed when it has none).
    pub fn text(&self) -> Cow<'a, str> {
        if self.escaped {
            Cow::Owned(unescape(self.raw))
        } else {
            Cow::Borrowed(self.raw)
        }
    }
}

impl<'a> Json<'a> {
    /// Views valid JSON text without surrounding whitespace.
    fn classify(text: &'a str) -> Json<'a> {
        Json::classify_known(text, text.contains('\\'))
    }

    /// [`Json::classify`] when whether a string value has escapes is known.
    fn classify_known(text: &'a str, escaped: bool) -> Json<'a> {
        match text.as_bytes().first() {
            Some(b'n') => Json::Null,
            Some(b't') => Json::Bool(true),
            Some(b'f') => Json::Bool(false),
            Some(b'"') => {
                let raw = text.get(1..text.len().saturating_sub(1)).unwrap_or("");
                Json::String(JsonStr { raw, escaped })
            }
            Some(b'[') => Json::Array(text),
            Some(b'{') => Json::Object(text),
            _ => Json::Number(text),
        }
    }

    /// The string's text, when this is a string.
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        match self {
            Json::String(s) => Some(s.text()),
            _ => None,
        }
    }

    /// The number, or a string holding one (platforms send prices like `"19.99"`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            // As `serde_json` reads it, so a condition sees the value a `Value` would hold.
            Json::Number(n) => serde_json::from_str::<serde_json::Number>(n).ok()?.as_f64(),
            // A number written as text; "NaN" and "inf" parse as floats but are no amount.
            Json::String(s) => s
                .text()
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite()),
            _ => None,
        }
    }

    /// A number as `serde_json` prints it (`19.50` prints as `19.5`).
    pub fn number_text(n: &str) -> Cow<'_, str> {
        let digits = n.strip_prefix('-').unwrap_or(n);
        let plain = !digits.is_empty()
            && digits.len() <= 18
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'))
            && n != "-0";
        if plain {
            Cow::Borrowed(n)
        } else {
            match serde_json::from_str::<serde_json::Number>(n) {
                Ok(num) => Cow::Owned(num.to_string()),
                Err(_) => Cow::Borrowed(n),
            }
        }
    }

    /// The value as text, the way a template prints it (`null` as nothing,
    /// objects and arrays as compact JSON).
    pub fn to_text(&self) -> Cow<'a, str> {
        match self {
            Json::Null => Cow::Borrowed(""),
            Json::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Json::Number(n) => Json::number_text(n),
            Json::String(s) => s.text(),
            Json::Array(t) | Json::Object(t) => Cow::Owned(
                serde_json::from_str::<Value>(t)
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
            ),
        }
    }

    /// The member `key` of an object (the last one, if repeated).
    pub fn get(&self, key: &str) -> Option<Json<'a>> {
        let Json::Object(text) = *self else {
            return None;
        };
        let mut found = None;
        for_each_member(text, |k, escaped, value| {
            let same = if escaped {
                unescape(k) == key
            } else {
                k == key
            };
            if same {
                found = Some(value);
            }
        });
        found.map(Json::classify)
    }

    /// Calls `f(key, value)` for each member of an object, in order (nothing for any
    /// other value).
    pub fn for_each_member(&self, mut f: impl FnMut(Cow<'a, str>, Json<'a>)) {
        if let Json::Object(text) = *self {
            for_each_member(text, |k, escaped, value| {
                let key = if escaped {
                    Cow::Owned(unescape(k))
                } else {
                    Cow::Borrowed(k)
                };
                f(key, Json::classify(value))
            });
        }
    }

    /// Item `i` of an array.
    pub fn index(&self, i: usize) -> Option<Json<'a>> {
        self.items().nth(i)
    }

    /// The items of an array (nothing for any other value).
    pub fn items(&self) -> impl Iterator<Item = Json<'a>> + 'a {
        let text = match *self {
            Json::Array(t) => t,
            _ => "",
        };
        Items {
            text,
            at: if text.is_empty() { 0 } else { 1 },
        }
    }

    /// One step of a path: a member of an object, an item of an array.
    fn step(&self, key: &str, index: Option<usize>) -> Option<Json<'a>> {
        match self {
            Json::Object(_) => self.get(key),
            Json::Array(_) => self.index(index?),
            _ => None,
        }
    }
}

/// Iterates over the items of an array's text.
struct Items<'a> {
    text: &'a str,
    /// Where the next item (or the closing bracket) starts, after whitespace; 0 when done.
    at: usize,
}

impl<'a> Iterator for Items<'a> {
    type Item = Json<'a>;
    fn next(&mut self) -> Option<Json<'a>> {
        if self.at == 0 {
            return None;
        }
        let b = self.text.as_bytes();
        let start = skip_ws(b, self.at);
        if matches!(b.get(start), Some(b']') | None) {
            self.at = 0;
            return None;
        }
        let end = value_end(b, start);
        let after = skip_ws(b, end);
        self.at = if b.get(after) == Some(&b',') {
            after + 1
        } else {
            0
        };
        self.text.get(start..end).map(Json::classify)
    }
}

fn slice(text: &str, (a, b): (u32, u32)) -> &str {
    text.get(a as usize..b as usize).unwrap_or("")
}

/// A JSON string's inner text (valid JSON, as checked by `serde_json` or the strict reader)
/// with its escapes resolved; a lone surrogate, which neither lets through, reads as U+FFFD.
pub(crate) fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let b = &rest.as_bytes()[at..];
        let (ch, used) = match b.get(1) {
            Some(b'n') => ('\n', 2),
            Some(b't') => ('\t', 2),
            Some(b'r') => ('\r', 2),
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'u') => match hex4(b, 2) {
                Some(high @ 0xD800..=0xDBFF) => match (b.get(6..8), hex4(b, 8)) {
                    (Some(b"\\u"), Some(low @ 0xDC00..=0xDFFF)) => {
                        let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                        (char::from_u32(c).unwrap_or('\u{fffd}'), 12)
                    }
                    _ => ('\u{fffd}', 6),
                },
                Some(c) => (char::from_u32(c).unwrap_or('\u{fffd}'), 6),
                None => ('\u{fffd}', b.len().min(6)),
            },
            Some(&c) if c.is_ascii() => (c as char, 2),
            _ => ('\\', 1),
        };
        out.push(ch);
        rest = rest.get(at + used..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// The four hex digits at `b[i..i + 4]` as a number.
fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let digits = std::str::from_utf8(b.get(i..i + 4)?).ok()?;
    if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

/// The top-level members of `text` when it is an object.
fn index_members(text: &str) -> Vec<Member> {
    if !text.starts_with('{') {
        return Vec::new();
    }
    // Room for the usual handful of fields without growing.
    let mut members = Vec::with_capacity(8);
    for_each_member_span(text, |key, escaped, value, value_escaped| {
        members.push(Member {
            key,
            value,
            escaped,
            value_escaped,
        })
    });
    members
}

/// Calls `f(key, key_is_escaped, value_text)` for each member of an object's text.
fn for_each_member<'a>(text: &'a str, mut f: impl FnMut(&'a str, bool, &'a str)) {
    for_each_member_span(text, |key, escaped, value, _| {
        f(slice(text, key), escaped, slice(text, value))
    })
}

/// Calls `f(key span, key escaped, value span, value is an escaped string)`
/// for each member of an object's text; spans are byte ranges of `text`.
fn for_each_member_span(text: &str, mut f: impl FnMut((u32, u32), bool, (u32, u32), bool)) {
    let b = text.as_bytes();
    if b.len() > u32::MAX as usize {
        return;
    }
    let mut i = 1;
    loop {
        i = skip_ws(b, i);
        if b.get(i) != Some(&b'"') {
            return;
        }
        let (key_end, escaped) = string_end(b, i);
        let key = (i as u32 + 1, key_end.saturating_sub(1) as u32);
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return;
        }
        let start = skip_ws(b, i + 1);
        let (end, value_escaped) = match b.get(start) {
            Some(b'"') => string_end(b, start),
            _ => (value_end(b, start), false),
        };
        if end > b.len() || start >= end {
            return;
        }
        f(key, escaped, (start as u32, end as u32), value_escaped);
        i = skip_ws(b, end);
        if b.get(i) != Some(&b',') {
            return;
        }
        i += 1;
    }
}

/// [`Data`] from the text of an object already read by [`strict_object`].
pub(crate) fn from_strict_object(text: &str, members: Vec<StrictMember>) -> Data {
    Data {
        raw: text.into(),
        members: members.into_iter().map(|m| m.0).collect(),
    }
}

/// A member found by [`strict_object`], as byte ranges of the object's own text.
pub(crate) struct StrictMember(Member);

/// Deepest nesting [`strict_object`] reads; deeper text is left to `serde_json`.
const STRICT_DEPTH: u32 = 32;

/// Reads the object starting at `text[start]` as strict JSON, noting where
/// its top-level members are. `Some(end)` only for text `serde_json` accepts
/// as well (the caller's fallback); it refuses — `None` — anything it is
/// unsure about: `\u` escapes, nesting deeper than 32, and of course every
/// syntax error. Property-tested against `serde_json`.
pub(crate) fn strict_object(text: &str, start: usize) -> Option<(usize, Vec<StrictMember>)> {
    if text.len() > u32::MAX as usize {
        return None;
    }
    let mut members = Vec::with_capacity(8);
    let rel = |i: usize| (i - start) as u32;
    let end = strict_members::<false>(
        text.as_bytes(),
        start,
        1,
        &mut |key, escaped, value, value_escaped| {
            members.push(StrictMember(Member {
                key: (rel(key.0), rel(key.1)),
                value: (rel(value.0), rel(value.1)),
                escaped,
                value_escaped,
            }))
        },
    )?;
    Some((end, members))
}

/// The strict object at `b[i]`: calls `on_member(key span, key escaped, value span, value
/// is an escaped string)` for each member (spans are byte ranges of `b`, the key's between
/// its quotes) and returns the index after the closing brace.
fn strict_members<const UNICODE: bool>(
    b: &[u8],
    i: usize,
    depth: u32,
    on_member: &mut impl FnMut((usize, usize), bool, (usize, usize), bool),
) -> Option<usize> {
    if b.get(i) != Some(&b'{') || depth > STRICT_DEPTH {
        return None;
    }
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b'}') {
        return Some(j + 1);
    }
    loop {
        let (key_end, escaped) = string_end_in::<UNICODE>(b, j)?;
        let key = (j + 1, key_end - 1);
        j = skip_ws(b, key_end);
        if b.get(j) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws(b, j + 1);
        let (value_end, value_escaped) = match b.get(value_start) {
            Some(b'"') => string_end_in::<UNICODE>(b, value_start)?,
            _ => (strict_value_end::<UNICODE>(b, value_start, depth)?, false),
        };
        on_member(key, escaped, (value_start, value_end), value_escaped);
        j = skip_ws(b, value_end);
        match b.get(j)? {
            b',' => j = skip_ws(b, j + 1),
            b'}' => return Some(j + 1),
            _ => return None,
        }
    }
}

/// The index after the strict JSON value at `b[i]` (see [`strict_object`]).
fn strict_value_end<const UNICODE: bool>(b: &[u8], i: usize, depth: u32) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end_in::<UNICODE>(b, i).map(|(end, _)| end),
        b'{' | b'[' if depth >= STRICT_DEPTH => None,
        b'{' => strict_members::<UNICODE>(b, i, depth + 1, &mut |_, _, _, _| {}),
        b'[' => {
            let mut j = skip_ws(b, i + 1);
            if b.get(j) == Some(&b']') {
                return Some(j + 1);
            }
            loop {
                j = skip_ws(b, strict_value_end::<UNICODE>(b, j, depth + 1)?);
                match b.get(j)? {
                    b',' => j = skip_ws(b, j + 1),
                    b']' => return Some(j + 1),
                    _ => return None,
                }
            }
        }
        b't' => literal(b, i, b"true"),
        b'f' => literal(b, i, b"false"),
        b'n' => literal(b, i, b"null"),
        _ => strict_number_end(b, i),
    }
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    (b.get(i..i + word.len())? == word).then_some(i + word.len())
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` starting at `b[i]`.
pub(crate) fn strict_number_end(b: &[u8], i: usize) -> Option<usize> {
    let digits = |mut j: usize| {
        let from = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        (j > from).then_some(j)
    };
    let mut j = i;
    if b.get(j) == Some(&b'-') {
        j += 1;
    }
    j = match b.get(j)? {
        b'0' => j + 1,
        b'1'..=b'9' => digits(j)?,
        _ => return None,
    };
    if b.get(j) == Some(&b'.') {
        j = digits(j + 1)?;
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        j += 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        j = digits(j)?;
    }
    Some(j)
}

/// `b[i]` should open a string: the index after its closing quote and
/// whether it has escapes; `None` for a control character, a bad escape or a
/// `\u` escape (left to `serde_json`).
pub(crate) fn strict_string_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
    string_end_in::<false>(b, i)
}

/// [`strict_string_end`], and with `UNICODE` also `\u` escapes as `serde_json` reads them
/// into a string: four hex digits, a high surrogate only with its low one after it.
#[inline(always)]
fn string_end_in<const UNICODE: bool>(b: &[u8], i: usize) -> Option<(usize, bool)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        // Eight bytes at a time up to the first quote, backslash or control character.
        while let Some(chunk) = b.get(j..j + 8) {
            let care = care_mask(u64::from_le_bytes(chunk.try_into().ok()?));
            if care != 0 {
                j += (care.trailing_zeros() / 8) as usize;
                break;
            }
            j += 8;
        }
        match *b.get(j)? {
            b'"' => return Some((j + 1, escaped)),
            b'\\' => {
                j += match b.get(j + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                    b'u' if UNICODE => match hex4(b, j + 2)? {
                        0xD800..=0xDBFF => match (b.get(j + 6..j + 8), hex4(b, j + 8)) {
                            (Some(b"\\u"), Some(0xDC00..=0xDFFF)) => 12,
                            _ => return None,
                        },
                        0xDC00..=0xDFFF => return None,
                        _ => 6,
                    },
                    _ => return None,
                };
                escaped = true;
            }
            0x00..=0x1f => return None,
            _ => j += 1,
        }
    }
}

/// The whole of `text` as one strict JSON value (whitespace around it allowed, `\u`
/// escapes too, nesting up to 32 deep), or `None` if it is not exactly that.
pub(crate) fn strict_json(text: &str) -> Option<Json<'_>> {
    let b = text.as_bytes();
    let start = skip_ws(b, 0);
    let end = strict_value_end::<true>(b, start, 1)?;
    (skip_ws(b, end) == b.len()).then(|| Json::classify(&text[start..end]))
}

/// The high bit of each of the eight bytes of `w` (little-endian) that is `"`, `\\` or below
/// 0x20, exact up to and including the lowest one (the classic "has zero byte" / "has byte
/// less than" tricks: a borrow only runs upwards from a true match), so `trailing_zeros() / 8`
/// is the index of the first such byte, and 0 means none.
fn care_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_bytes = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    below_space
        | zero_bytes(w ^ (ONES * u64::from(b'"')))
        | zero_bytes(w ^ (ONES * u64::from(b'\\')))
}

pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
        i += 1;
    }
    i
}

/// `b[i]` is an opening quote: the index after the closing one, and whether
/// an escape was seen.
fn string_end(b: &[u8], i: usize) -> (usize, bool) {
    let mut j = i + 1;
    let mut escaped = false;
    while let Some(&c) = b.get(j) {
        match c {
            b'"' => return (j + 1, escaped),
            b'\\' => {
                escaped = true;
                j += 2;
            }
            _ => j += 1,
        }
    }
    (b.len(), escaped)
}

/// The index just after the value starting at `b[i]`.
fn value_end(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => string_end(b, i).0,
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while let Some(&c) = b.get(j) {
                match c {
                    b'"' => {
                        j = string_end(b, j).0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            b.len()
        }
        Some(_) => {
            let mut j = i;
            while !matches!(
                b.get(j),
                None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
            ) {
                j += 1;
            }
            j
        }
        None => i,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;
    use serde_json::json;

    #[test]
    fn reads_members_like_a_value() {
        let d = Data::parse(
            r#"{"a": "x\"y", "n": 19.50, "i": -3, "b": true, "z": null,
            "o": {"k": [1, {"s": "t"}], "k2": "v"}, "a": "last", "e\u0301": 1}"#,
        )
        .unwrap();
        assert_eq!(d.get("a").unwrap().to_text(), "last");
        assert_eq!(d.get("n").unwrap().to_text(), "19.5");
        assert_eq!(d.get("n").unwrap().as_f64(), Some(19.5));
        let odd = Data::parse(r#"{"nan": "NaN", "inf": " inf", "big": "1e400", "ok": " 42.5 "}"#)
            .unwrap();
        for k in ["nan", "inf", "big"] {
            assert_eq!(
                odd.get(k).unwrap().as_f64(),
                None,
                "{k} is no number a condition compares"
            );
        }
        assert_eq!(odd.get("ok").unwrap().as_f64(), Some(42.5));
        assert_eq!(d.get("i").unwrap().to_text(), "-3");
        assert_eq!(d.get("b").unwrap(), Json::Bool(true));
        assert_eq!(d.get("z").unwrap(), Json::Null);
        assert_eq!(
            d.get("o").unwrap().to_text(),
            r#"{"k":[1,{"s":"t"}],"k2":"v"}"#
        );
        let keys = ["o", "k", "1", "s"].map(|k| (k, k.parse().ok()));
        assert_eq!(d.pointer(keys.into_iter()).unwrap().to_text(), "t");
        assert_eq!(d.get("e\u{301}").unwrap().to_text(), "1");
        assert!(d.get("missing").is_none());
        assert_eq!(d.to_value()["o"]["k2"], "v");
    }

    #[test]
    fn round_trips_through_serde_json_and_values() {
        let d = Data::parse(r#"{"b":[1,2],"a":"x"}"#).unwrap();
        let text = serde_json::to_string(&d).unwrap();
        assert_eq!(text, r#"{"b":[1,2],"a":"x"}"#);
        let back: Data = serde_json::from_str(&text).unwrap();
        assert_eq!(back.as_str(), d.as_str());
        let via_value: Data = serde_json::from_value(json!({"a": "x", "b": [1, 2]})).unwrap();
        assert_eq!(via_value, d);
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"a": "x", "b": [1, 2]})
        );
        let null: Data = serde_json::from_str("null").unwrap();
        assert!(null.is_empty());
        assert!(Data::parse("{").is_err());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;
    use serde_json::value::RawValue;

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[a-c\"\\\\é发 ]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-c\"]{0,2}", inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    /// A `serde_json::Value`'s reading of `path`, for comparison.
    fn value_at<'v>(v: &'v Value, path: &[(String, Option<usize>)]) -> Option<&'v Value> {
        let mut v = v;
        for (k, i) in path {
            v = match v {
                Value::Object(m) => m.get(k)?,
                Value::Array(a) => a.get((*i)?)?,
                _ => return None,
            };
        }
        Some(v)
    }

    fn text_of(v: &Value) -> String {
        match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// `strict_string_end` one byte at a time, as it was before the eight-byte steps.
    fn string_end_bytewise(b: &[u8], i: usize) -> Option<(usize, bool)> {
        let (mut j, mut escaped) = (i + 1, false);
        loop {
            match *b.get(j)? {
                b'"' => return Some((j + 1, escaped)),
                b'\\' => {
                    if !matches!(
                        b.get(j + 1)?,
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't'
                    ) {
                        return None;
                    }
                    escaped = true;
                    j += 2;
                }
                0x00..=0x1f => return None,
                _ => j += 1,
            }
        }
    }

    proptest! {
        #[test]
        fn eight_bytes_at_a_time_find_the_first_byte_one_at_a_time_finds(
            bytes in prop::array::uniform8(prop_oneof![
                any::<u8>(), Just(b'"'), Just(b'\\'), 0x1eu8..0x23, 0x5bu8..0x5e, 0x7fu8..0x82,
            ])
        ) {
            let first = bytes.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
            let care = care_mask(u64::from_le_bytes(bytes));
            prop_assert_eq!((care != 0).then(|| (care.trailing_zeros() / 8) as usize), first);
        }

        #[test]
        fn string_ends_are_found_as_one_byte_at_a_time_finds_them(
            body in "[a-z \"\\\\\u{1}\u{1f}\u{e9}\u{4e2d}ntu/]{0,40}", lead in 0usize..3,
        ) {
            let text = format!("{}\"{body}", " ".repeat(lead));
            let b = text.as_bytes();
            prop_assert_eq!(strict_string_end(b, lead), string_end_bytewise(b, lead));
        }

        #[test]
        fn reads_what_a_value_reads(v in json(), pretty in any::<bool>(),
                                    path in prop::collection::vec("[a-c\"]{0,2}|[0-3]", 0..4)) {
            let text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { v.to_string() };
            let d = Data::parse(&text).unwrap();
            // What decoding the same text into a `Value` reads (serde_json's float parsing
            // does not always give back the generated float).
            let v: Value = serde_json::from_str(&text).unwrap();
            let path: Vec<(String, Option<usize>)> =
                path.into_iter().map(|k| { let i = k.parse().ok(); (k, i) }).collect();
            let got = d.pointer(path.iter().map(|(k, i)| (k.as_str(), *i)));
            let want = value_at(&v, &path);
            prop_assert_eq!(got.map(|j| j.to_text().into_owned()), want.map(text_of));
            if let (Some(j), Some(w)) = (got, want) {
                prop_assert_eq!(j.as_f64(), match w {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
                    _ => None,
                });
            }
            prop_assert_eq!(d.to_value(), v);
        }

        #[test]
        fn the_strict_reader_accepts_only_json_and_indexes_it_alike(
            v in json(), pretty in any::<bool>(), cut in any::<usize>(), junk in r#"[ ,:{}\[\]"\\0-9a-z.eE+-]{0,3}"#,
        ) {
            let mut text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { v.to_string() };
            let touched = cut % 3 == 0;
            if touched {
                let at = cut % (text.len() + 1);
                if text.is_char_boundary(at) {
                    text.insert_str(at, &junk);
                }
            }
            match strict_object(&text, 0) {
                Some((end, members)) => {
                    let object = &text[..end];
                    prop_assert!(serde_json::from_str::<&RawValue>(object).is_ok(), "{}", object);
                    let strict: Vec<Member> = members.into_iter().map(|m| m.0).collect();
                    prop_assert_eq!(strict, index_members(object));
                }
                // serde_json's own objects are refused only for what the reader leaves alone.
                None if !touched && v.is_object() => {
                    prop_assert!(text.contains("\\u"), "{}", text);
                }
                None => {}
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            if let Ok(d) = Data::parse(&text) {
                let _ = d.get("a").map(|j| j.to_text());
                let _ = d.as_json().items().count();
            }
        }
    }
}
