//! Tidings' own ingest format: a signed batch of events, one verdict per item.
//!
//! ```json
//! {"events":[{"id":"evt-1","type":"order.shipped","occurred_at":"2026-11-22T10:00:00Z",
//!             "user_id":"u42","data":{"order_number":"#1001"}}]}
//! ```
//!
//! A batch with one bad event still accepts the good ones: [`decode_batch`]
//! fails as a whole only when the body itself is unusable, and otherwise
//! returns one `Result` per item, in order, each rejection naming its code,
//! the JSON path and a sentence a store engineer can act on.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::data::{self, Data};
use crate::event::Event;
use crate::time::{from_unix_seconds, parse_rfc3339};

/// Size and count limits of the ingest API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Most events in one batch.
    pub max_events: usize,
    /// Largest single event (its JSON text), in bytes.
    pub max_event_bytes: usize,
    /// Longest event id, in characters.
    pub max_id_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_events: 500,
            max_event_bytes: 32 * 1024,
            max_id_chars: 128,
        }
    }
}

/// Why a whole request was refused (nothing in it is stored).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The body is larger than [`Limits::max_body_bytes`]; split it into several batches.
    #[error("body is {size} bytes, more than the limit of {limit}; split it into smaller batches")]
    BodyTooLarge {
        /// Size of the body received.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is not JSON at all.
    #[error("body is not valid JSON: {0}")]
    MalformedJson(String),
    /// The body is JSON but not `{"events":[…]}`.
    #[error("body must be an object with an `events` array, like {{\"events\":[{{…}}]}}")]
    NotABatch,
    /// The batch holds more than [`Limits::max_events`] events.
    #[error("batch has {count} events, more than the limit of {limit}; split it")]
    TooManyEvents {
        /// Events in the batch.
        count: usize,
        /// The limit.
        limit: usize,
    },
}

impl BatchError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            BatchError::BodyTooLarge { .. } => "body_too_large",
            BatchError::MalformedJson(_) => "malformed_json",
            BatchError::NotABatch => "not_a_batch",
            BatchError::TooManyEvents { .. } => "too_many_events",
        }
    }
}

/// Why one event of a batch was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Stable machine-readable code, e.g. `missing_field`.
    pub code: String,
    /// A sentence saying what is wrong and how to fix it.
    pub message: String,
    /// JSON path of the offending value, e.g. `events[2].occurred_at`.
    pub path: String,
}

impl Rejection {
    /// Builds a rejection.
    pub fn new(code: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Rejection {
            code: code.to_owned(),
            message: message.into(),
            path: path.into(),
        }
    }
}

/// The outcome for one event, reported back to its producer in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    /// Stored and routed.
    Accepted {
        /// The event id.
        id: String,
        /// What else its rules wanted and could not make (a second rule's template naming a
        /// field the event lacks): the event was delivered by the rules that worked.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<Rejection>,
    },
    /// An event with the same id was seen before; it is not delivered again.
    Duplicate {
        /// The event id.
        id: String,
    },
    /// Not accepted; nothing was stored for it.
    Rejected {
        /// The event id, when one could be read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// What was wrong.
        #[serde(flatten)]
        reason: Rejection,
    },
}

impl Verdict {
    /// An accepted event, with nothing to warn about.
    pub fn accepted(id: impl Into<String>) -> Self {
        Verdict::Accepted {
            id: id.into(),
            warnings: Vec::new(),
        }
    }

    /// A rejection verdict.
    pub fn rejected(id: Option<String>, reason: Rejection) -> Self {
        Verdict::Rejected { id, reason }
    }
}

#[derive(Deserialize)]
struct Batch<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

/// One decoded item of a batch: the event, or why it was refused.
pub type Item = Result<Event, (Option<String>, Rejection)>;

/// Decodes a batch in Tidings' own format into one [`Item`] per event, in order.
pub fn decode_batch(body: &[u8], limits: &Limits) -> Result<Vec<Item>, BatchError> {
    if body.len() > limits.max_body_bytes {
        return Err(BatchError::BodyTooLarge {
            size: body.len(),
            limit: limits.max_body_bytes,
        });
    }
    if let Some(items) = std::str::from_utf8(body)
        .ok()
        .and_then(|text| decode_batch_one_pass(text, limits))
    {
        return Ok(items);
    }
    decode_batch_two_pass(body, limits)
}

/// The general decoder: a first pass finds each event's text, a second reads each event.
fn decode_batch_two_pass(body: &[u8], limits: &Limits) -> Result<Vec<Item>, BatchError> {
    let value: Batch<'_> = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) if e.is_syntax() || e.is_eof() => {
            return Err(BatchError::MalformedJson(e.to_string()))
        }
        Err(_) => return Err(BatchError::NotABatch),
    };
    if value.events.len() > limits.max_events {
        return Err(BatchError::TooManyEvents {
            count: value.events.len(),
            limit: limits.max_events,
        });
    }
    Ok(value
        .events
        .iter()
        .enumerate()
        .map(|(i, raw)| match decode_valid(raw.get(), limits) {
            Some(event) => Ok(event),
            None => decode_event(raw.get(), &format!("events[{i}]"), limits),
        })
        .collect())
}

/// The fast path for a well-formed event: one typed pass without building a
/// map of the top-level fields. `None` for anything it is unsure about (a
/// duplicate or odd field, a failed check), which then goes through
/// [`decode_event`] for the exact rejection; both agree on every valid event.
fn decode_valid(raw: &str, limits: &Limits) -> Option<Event> {
    if raw.len() > limits.max_event_bytes {
        return None;
    }
    if let Some((event, len)) = scan_valid(raw, limits) {
        if raw[len..]
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .is_empty()
        {
            return Some(event);
        }
    }
    serde_json::from_str::<Valid<'_>>(raw)
        .ok()?
        .into_event(limits)
}

/// One pass over a batch of the usual shape, `{"events": [ … ]}`: each event is read straight
/// into its typed fields while its text span is noted, instead of a first pass that only finds
/// the spans. `None` when the body has any other shape (more keys, a syntax error, too many
/// events): [`decode_batch_two_pass`] then gives the exact answer. Where it answers, it answers
/// item for item as the two-pass decoder does (property-tested).
fn decode_batch_one_pass(body: &str, limits: &Limits) -> Option<Vec<Item>> {
    fn ws(s: &str) -> &str {
        s.trim_start_matches([' ', '\t', '\n', '\r'])
    }
    let ends_batch = |after: &str| {
        ws(after)
            .strip_prefix('}')
            .is_some_and(|r| ws(r).is_empty())
    };
    let mut rest = ws(body).strip_prefix('{')?;
    rest = ws(rest).strip_prefix("\"events\"")?;
    rest = ws(rest).strip_prefix(':')?;
    rest = ws(ws(rest).strip_prefix('[')?);
    // Room for every event the body can hold (the shortest valid event is over 32 bytes), so
    // the items are not moved as the vector grows: growing it was 3 % of a 500-event batch.
    let mut items = Vec::with_capacity(limits.max_events.min(body.len() / 32 + 1));
    if let Some(after) = rest.strip_prefix(']') {
        return ends_batch(after).then_some(items);
    }
    loop {
        if items.len() == limits.max_events {
            return None;
        }
        let mut typed = serde_json::Deserializer::from_str(rest).into_iter::<Valid<'_>>();
        let scanned = scan_valid(rest, limits);
        let (event, len) = match scanned {
            Some((event, len)) => (Some(event), len),
            None => match typed.next() {
                Some(Ok(v)) => {
                    let len = typed.byte_offset();
                    let event = (len <= limits.max_event_bytes)
                        .then(|| v.into_event(limits))
                        .flatten();
                    (event, len)
                }
                _ => {
                    let mut raw = serde_json::Deserializer::from_str(rest).into_iter::<&RawValue>();
                    raw.next()?.ok()?;
                    (None, raw.byte_offset())
                }
            },
        };
        items.push(match event {
            Some(event) => Ok(event),
            None => decode_event(&rest[..len], &format!("events[{}]", items.len()), limits),
        });
        rest = ws(&rest[len..]);
        match rest.strip_prefix(',') {
            Some(after) => rest = ws(after),
            None => return ends_batch(rest.strip_prefix(']')?).then_some(items),
        }
    }
}

/// The hand-read fast path for an event written the plain way: exactly the
/// fields `id`, `type`, `occurred_at`, `user_id` and `data` (each at most once,
/// strings without escapes, `occurred_at` an RFC 3339 string or whole seconds,
/// `data` strict JSON read by [`data::strict_object`] while its members are
/// indexed). Returns the event and how many bytes of `text` it spans, or
/// `None` for anything else, which the serde paths then decide; where it
/// answers, it answers as they do (property-tested).
fn scan_valid(text: &str, limits: &Limits) -> Option<(Event, usize)> {
    let b = text.as_bytes();
    if b.first() != Some(&b'{') {
        return None;
    }
    let plain = |i: usize| -> Option<(&str, usize)> {
        let (end, escaped) = data::strict_string_end(b, i)?;
        (!escaped)
            .then(|| text.get(i + 1..end - 1))
            .flatten()
            .map(|s| (s, end))
    };
    let (mut id, mut kind, mut at, mut user, mut payload) = (None, None, None, None, None);
    let mut i = data::skip_ws(b, 1);
    loop {
        let (key, key_end) = plain(i)?;
        i = data::skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = data::skip_ws(b, i + 1);
        let null = b.get(i..i + 4) == Some(b"null");
        i = match key {
            "id" if id.is_none() => {
                let (s, end) = plain(i)?;
                id = Some(s);
                end
            }
            "type" if kind.is_none() => {
                let (s, end) = plain(i)?;
                kind = Some(s);
                end
            }
            "occurred_at" if at.is_none() => {
                if b.get(i) == Some(&b'"') {
                    let (s, end) = plain(i)?;
                    at = Some(Stamp::Text(s));
                    end
                } else {
                    let end = data::strict_number_end(b, i)?;
                    let digits = text.get(i..end)?;
                    // Whole seconds only: serde_json reads `-0`, fractions and exponents as
                    // floats, which the serde path answers.
                    if digits == "-0" || digits.contains(['.', 'e', 'E']) {
                        return None;
                    }
                    at = Some(Stamp::Seconds(digits.parse().ok()?));
                    end
                }
            }
            "user_id" if user.is_none() && null => {
                user = Some(None);
                i + 4
            }
            "user_id" if user.is_none() => {
                let (s, end) = plain(i)?;
                user = Some(Some(s));
                end
            }
            "data" if payload.is_none() && null => {
                payload = Some(None);
                i + 4
            }
            "data" if payload.is_none() => {
                let (end, members) = data::strict_object(text, i)?;
                payload = Some(Some((text.get(i..end)?, members)));
                end
            }
            _ => return None,
        };
        i = data::skip_ws(b, i);
        match b.get(i) {
            Some(b',') => i = data::skip_ws(b, i + 1),
            Some(b'}') => break,
            _ => return None,
        }
    }
    let len = i + 1;
    let (id, kind) = (id?, kind?);
    let user_id = user.flatten();
    let occurred_at = match at? {
        Stamp::Text(s) => parse_rfc3339(s).ok()?,
        Stamp::Seconds(s) => from_unix_seconds(s)?,
    };
    let ok = len <= limits.max_event_bytes
        && !id.is_empty()
        && (id.len() <= limits.max_id_chars || id.chars().count() <= limits.max_id_chars)
        && is_event_type(kind)
        && user_id.is_none_or(|u| !u.is_empty() && u.len() <= 256);
    if !ok {
        return None;
    }
    let data = match payload.flatten() {
        Some((text, members)) => data::from_strict_object(text, members),
        None => Data::default(),
    };
    Some((
        Event {
            id: id.to_owned(),
            kind: kind.to_owned(),
            occurred_at,
            user_id: user_id.map(str::to_owned),
            data,
        },
        len,
    ))
}

/// A well-formed event's fields as written; [`Valid::into_event`] checks them.
#[derive(Deserialize)]
struct Valid<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow)]
    occurred_at: Stamp<'a>,
    #[serde(default)]
    user_id: Option<String>,
    /// Kept as text: [`Data`] reads it on demand.
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

/// `occurred_at` as written: a borrowed RFC 3339 string or unix seconds. Anything else
/// (an escaped string, a float) fails here and gets its precise error from the slow path.
/// A visitor instead of `#[serde(untagged)]`, which buffers the value and builds an error
/// message for every variant it tries (a third of the decode time of a seconds stamp).
enum Stamp<'a> {
    Text(&'a str),
    Seconds(i64),
}
impl<'de: 'a, 'a> Deserialize<'de> for Stamp<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StampVisitor;
        impl<'de> serde::de::Visitor<'de> for StampVisitor {
            type Value = Stamp<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an RFC 3339 string or unix seconds")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Stamp<'de>, E> {
                Ok(Stamp::Text(s))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Stamp<'de>, E> {
                Ok(Stamp::Seconds(n))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Stamp<'de>, E> {
                i64::try_from(n)
                    .map(Stamp::Seconds)
                    .map_err(|_| E::custom("seconds out of range"))
            }
        }
        d.deserialize_any(StampVisitor)
    }
}

impl Valid<'_> {
    /// The event, when every field passes its checks.
    fn into_event(self, limits: &Limits) -> Option<Event> {
        let occurred_at = match self.occurred_at {
            Stamp::Text(s) => parse_rfc3339(s).ok()?,
            Stamp::Seconds(s) => from_unix_seconds(s)?,
        };
        let ok = !self.id.is_empty()
            && self.id.chars().count() <= limits.max_id_chars
            && is_event_type(&self.kind)
            && self
                .user_id
                .as_ref()
                .is_none_or(|u| !u.is_empty() && u.len() <= 256);
        if !ok {
            return None;
        }
        let data = match self.data {
            None => Data::default(),
            // Anything but an object gets its precise error from the slow path.
            Some(raw) if raw.get().starts_with('{') => Data::trusted(raw.get().to_owned()),
            Some(_) => return None,
        };
        Some(Event {
            id: self.id,
            kind: self.kind,
            occurred_at,
            user_id: self.user_id,
            data,
        })
    }
}

/// Decodes one event object; `path` prefixes the JSON paths in rejections.
pub fn decode_event(raw: &str, path: &str, limits: &Limits) -> Item {
    if let Some(event) = decode_valid(raw, limits) {
        return Ok(event);
    }
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| (None, Rejection::new("malformed_json", path, e.to_string())))?;
    let Value::Object(mut obj) = value else {
        return Err((
            None,
            Rejection::new(
                "not_an_object",
                path,
                format!("each event must be a JSON object, got {}", kind_of(&value)),
            ),
        ));
    };
    let id = take_string(&mut obj, "id", path)?;
    let with_id = |r: Rejection| (Some(id.clone()), r);
    if id.is_empty() {
        return Err(with_id(Rejection::new(
            "empty_id",
            format!("{path}.id"),
            "`id` must not be empty",
        )));
    }
    let id_chars = id.chars().count();
    if id_chars > limits.max_id_chars {
        return Err(with_id(Rejection::new(
            "id_too_long",
            format!("{path}.id"),
            format!(
                "`id` is {id_chars} characters, more than the limit of {}",
                limits.max_id_chars
            ),
        )));
    }
    if raw.len() > limits.max_event_bytes {
        return Err(with_id(Rejection::new(
            "event_too_large",
            path,
            format!(
                "event is {} bytes, more than the limit of {}; move bulky data out of `data`",
                raw.len(),
                limits.max_event_bytes
            ),
        )));
    }
    let kind = take_string(&mut obj, "type", path).map_err(|(_, r)| with_id(r))?;
    if !is_event_type(&kind) {
        return Err(with_id(Rejection::new(
            "bad_type",
            format!("{path}.type"),
            format!(
                "`type` must be dotted lowercase words like `order.shipped`, got `{}`",
                clip(&kind)
            ),
        )));
    }
    let occurred_at = match obj.remove("occurred_at") {
        Some(Value::String(s)) => parse_rfc3339(&s).map_err(|e| {
            with_id(Rejection::new(
                "bad_timestamp",
                format!("{path}.occurred_at"),
                e.to_string(),
            ))
        })?,
        Some(Value::Number(n)) => match n.as_i64().and_then(from_unix_seconds) {
            Some(ms) => ms,
            None => {
                return Err(with_id(Rejection::new(
                    "bad_timestamp",
                    format!("{path}.occurred_at"),
                    "`occurred_at` as a number must be whole unix seconds from year 0 to 9999",
                )))
            }
        },
        Some(other) => {
            return Err(with_id(Rejection::new(
                "wrong_type",
                format!("{path}.occurred_at"),
                format!(
                    "`occurred_at` must be an RFC 3339 string or unix seconds, got {}",
                    kind_of(&other)
                ),
            )))
        }
        None => return Err(with_id(missing(path, "occurred_at"))),
    };
    let user_id = match obj.remove("user_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => Some(s),
        Some(Value::String(_)) => {
            return Err(with_id(Rejection::new(
                "bad_user_id",
                format!("{path}.user_id"),
                "`user_id` must be 1 to 256 bytes long",
            )))
        }
        Some(other) => {
            return Err(with_id(Rejection::new(
                "wrong_type",
                format!("{path}.user_id"),
                format!("`user_id` must be a string, got {}", kind_of(&other)),
            )))
        }
    };
    let data = match obj.remove("data") {
        None | Some(Value::Null) => Data::default(),
        Some(v @ Value::Object(_)) => Data::from(v),
        Some(other) => {
            return Err(with_id(Rejection::new(
                "wrong_type",
                format!("{path}.data"),
                format!("`data` must be an object, got {}", kind_of(&other)),
            )))
        }
    };
    Ok(Event {
        id,
        kind,
        occurred_at,
        user_id,
        data,
    })
}

fn missing(path: &str, field: &str) -> Rejection {
    Rejection::new(
        "missing_field",
        format!("{path}.{field}"),
        format!("`{field}` is required"),
    )
}

fn take_string(
    obj: &mut Map<String, Value>,
    field: &str,
    path: &str,
) -> Result<String, (Option<String>, Rejection)> {
    match obj.remove(field) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err((
            None,
            Rejection::new(
                "wrong_type",
                format!("{path}.{field}"),
                format!("`{field}` must be a string, got {}", kind_of(&other)),
            ),
        )),
        None => Err((None, missing(path, field))),
    }
}

/// `true` for dotted lowercase names like `order.shipped` or `ops.alert_fired`.
pub fn is_event_type(kind: &str) -> bool {
    // One pass over the bytes: words of [a-z0-9_], separated by single dots, at least two.
    let bytes = kind.as_bytes();
    if bytes.len() > 64 || bytes.first() == Some(&b'.') || bytes.last() == Some(&b'.') {
        return false;
    }
    let mut dots = 0;
    let mut prev_dot = true;
    for &b in bytes {
        if b == b'.' {
            if prev_dot {
                return false;
            }
            dots += 1;
            prev_dot = true;
        } else if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' {
            prev_dot = false;
        } else {
            return false;
        }
    }
    dots >= 1 && !prev_dot
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;

    fn decode(body: &str) -> Result<Vec<Item>, BatchError> {
        decode_batch(body.as_bytes(), &Limits::default())
    }

    #[test]
    fn minus_zero_seconds_is_not_a_whole_number_of_seconds() {
        // serde_json reads `-0` as a float; the hand-read path must not accept it as 0.
        let items =
            decode(r#"{"events":[{"id":"e1","type":"order.paid","occurred_at":-0}]}"#).unwrap();
        let (_, rejection) = items[0].clone().unwrap_err();
        assert_eq!(rejection.code, "bad_timestamp");
        assert_eq!(rejection.path, "events[0].occurred_at");
    }

    #[test]
    fn unix_seconds_past_year_9999_are_a_bad_timestamp_and_the_rest_still_decode() {
        // 8.7e12 s would be an alarm past what a JavaScript Date can hold.
        let body = r#"{"events":[
            {"id":"far","type":"cart.abandoned","occurred_at":8700000000000,"user_id":"u1"},
            {"id":"last","type":"order.paid","occurred_at":253402300799,"user_id":"u1"},
            {"id":"first","type":"order.paid","occurred_at":-62167219200,"user_id":"u1"},
            {"id":"before","type":"order.paid","occurred_at":-62167219201,"user_id":"u1"}]}"#;
        let items = decode(body).unwrap();
        let (id, rejection) = items[0].clone().unwrap_err();
        assert_eq!(id.as_deref(), Some("far"));
        assert_eq!(rejection.code, "bad_timestamp");
        assert_eq!(rejection.path, "events[0].occurred_at");
        assert!(rejection.message.contains("9999"), "{}", rejection.message);
        assert_eq!(items[1].clone().unwrap().occurred_at, 253_402_300_799_000);
        assert_eq!(items[2].clone().unwrap().occurred_at, crate::time::EARLIEST);
        assert_eq!(items[3].clone().unwrap_err().1.code, "bad_timestamp");
    }

    #[test]
    fn decodes_a_good_event() {
        let items = decode(r#"{"events":[{"id":"e1","type":"order.shipped","occurred_at":"2026-11-22T10:00:00Z","user_id":"u1","data":{"n":1}}]}"#).unwrap();
        let e = items[0].clone().unwrap();
        assert_eq!(
            (e.id.as_str(), e.kind.as_str(), e.user_id.as_deref()),
            ("e1", "order.shipped", Some("u1"))
        );
        assert_eq!(e.data.to_value()["n"], 1);
    }

    #[test]
    fn one_bad_event_does_not_spoil_the_batch() {
        let items = decode(
            r#"{"events":[
                {"id":"ok","type":"order.paid","occurred_at":1795341600},
                {"id":"bad","type":"order.paid","occurred_at":true},
                {"type":"order.paid","occurred_at":1},
                {"id":"x","type":"Order Paid","occurred_at":1},
                {"id":"y","type":"a.b","occurred_at":1,"data":[1]},
                7
            ]}"#,
        )
        .unwrap();
        assert!(items[0].is_ok());
        let codes: Vec<_> = items[1..]
            .iter()
            .map(|i| i.as_ref().unwrap_err().1.clone())
            .collect();
        assert_eq!(codes[0].code, "wrong_type");
        assert_eq!(codes[0].path, "events[1].occurred_at");
        assert_eq!(items[1].as_ref().unwrap_err().0.as_deref(), Some("bad"));
        assert_eq!(
            (codes[1].code.as_str(), codes[1].path.as_str()),
            ("missing_field", "events[2].id")
        );
        assert_eq!(codes[2].code, "bad_type");
        assert_eq!(
            (codes[3].code.as_str(), codes[3].path.as_str()),
            ("wrong_type", "events[4].data")
        );
        assert_eq!(codes[4].code, "not_an_object");
    }

    #[test]
    fn limits_have_distinct_codes() {
        let long_id = "x".repeat(129);
        let items = decode(&format!(
            r#"{{"events":[{{"id":"{long_id}","type":"a.b","occurred_at":1}}]}}"#
        ))
        .unwrap();
        assert_eq!(items[0].as_ref().unwrap_err().1.code, "id_too_long");
        let big = "y".repeat(33 * 1024);
        let items = decode(&format!(
            r#"{{"events":[{{"id":"e","type":"a.b","occurred_at":1,"data":{{"s":"{big}"}}}}]}}"#
        ))
        .unwrap();
        assert_eq!(items[0].as_ref().unwrap_err().1.code, "event_too_large");
        let many = vec![r#"{"id":"e","type":"a.b","occurred_at":1}"#; 501].join(",");
        assert_eq!(
            decode(&format!(r#"{{"events":[{many}]}}"#))
                .unwrap_err()
                .code(),
            "too_many_events"
        );
        let huge = vec![0u8; 1024 * 1024 + 1];
        assert_eq!(
            decode_batch(&huge, &Limits::default()).unwrap_err().code(),
            "body_too_large"
        );
        assert_eq!(decode("{").unwrap_err().code(), "malformed_json");
        assert_eq!(
            decode(r#"{"events":{}}"#).unwrap_err().code(),
            "not_a_batch"
        );
        assert_eq!(decode(r#"[]"#).unwrap_err().code(), "not_a_batch");
    }

    #[test]
    fn verdicts_serialize_flat() {
        let v = Verdict::rejected(
            Some("e".into()),
            Rejection::new("bad_type", "events[0].type", "m"),
        );
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            serde_json::json!({"status":"rejected","id":"e","code":"bad_type","path":"events[0].type","message":"m"})
        );
        assert_eq!(
            serde_json::to_value(Verdict::accepted("a")).unwrap(),
            serde_json::json!({"status":"accepted","id":"a"})
        );
        let partly = Verdict::Accepted {
            id: "b".into(),
            warnings: vec![Rejection::new("render_failed", "events[1]", "m")],
        };
        assert_eq!(
            serde_json::to_value(&partly).unwrap(),
            serde_json::json!({"status":"accepted","id":"b","warnings":[
                {"code":"render_failed","path":"events[1]","message":"m"}]})
        );
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Pieces of batches: good events, every kind of bad one, and things that are not events.
    const ELEMENTS: [&str; 16] = [
        r#"{"id":"a","type":"order.paid","occurred_at":1700000000,"user_id":"u","data":{"n":1}}"#,
        r#"{"id":"b","type":"order.paid","occurred_at":"2026-01-01T00:00:00Z"}"#,
        r#"{"id":"c","type":"order.paid","occurred_at":"2026-01-01T00:00:00\u005a"}"#,
        r#"{"id":"d","type":"order.paid","occurred_at":1.5}"#,
        r#"{"id":"e","type":"Order","occurred_at":1}"#,
        r#"{"type":"order.paid","occurred_at":1}"#,
        r#"{"id":"f","id":"g","type":"order.paid","occurred_at":1}"#,
        r#"{"id":"hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh","type":"a.b","occurred_at":1}"#,
        r#"{"id":"i","type":"a.b","occurred_at":1,"data":{"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}"#,
        r#"{"id":"j","type":"a.b","occurred_at":1,"user_id":""}"#,
        r#"{"id":"k","type":"a.b","occurred_at":1,"extra":[1,{"x":null}]}"#,
        "5",
        r#""text""#,
        "null",
        "[1,2]",
        r#"{"id":"l","type":"a.b","occurred_at":"#,
    ];

    fn batch_body() -> impl Strategy<Value = String> {
        let ws = prop::sample::select(vec!["", " ", "\n\t", "\r\n  "]);
        (
            prop::collection::vec((0..ELEMENTS.len(), ws.clone()), 0..6),
            ws.clone(),
            0..8usize,
        )
            .prop_map(|(elements, pad, envelope)| {
                let list: Vec<String> = elements
                    .iter()
                    .map(|(i, w)| format!("{w}{}{w}", ELEMENTS[*i]))
                    .collect();
                let list = list.join(",");
                match envelope {
                    0 => format!("{pad}{{\"events\":[{list}]}}{pad}"),
                    1 => format!("{{{pad}\"events\"{pad}:{pad}[{pad}{list}{pad}]{pad}}}"),
                    2 => format!("{{\"events\":[{list}],\"more\":1}}"),
                    3 => format!("{{\"other\":1,\"events\":[{list}]}}"),
                    4 => format!("{{\"events\":[{list}]}}x"),
                    5 => format!("{{\"events\":[{list},]}}"),
                    6 => format!("[[{list}]]"),
                    _ => format!("{{\"events\":[{list}"),
                }
            })
    }

    /// Event texts near the plain shape: fields in any order, odd spacing,
    /// escapes, numbers of every form, nested data, duplicates, strays, cuts.
    fn event_text() -> impl Strategy<Value = String> {
        let ws = prop::sample::select(vec!["", " ", "\n", "\t "]);
        let id = prop::sample::select(vec![
            r#""e1""#,
            r#""e\"1""#,
            r#""""#,
            r#""é发""#,
            "7",
            "null",
        ]);
        let kind =
            prop::sample::select(vec![r#""order.paid""#, r#""Order""#, r#""a.b\u0063""#, "1"]);
        let at = prop::sample::select(vec![
            "1700000000",
            "-5",
            "0",
            "01",
            "-0",
            "1.5",
            "1e3",
            "99999999999999999999",
            r#""2026-01-01T00:00:00Z""#,
            r#""2026-13-01T00:00:00Z""#,
            r#""x""#,
            "null",
            "true",
        ]);
        let user = prop::sample::select(vec![r#""u1""#, r#""""#, "null", "3", r#""u\n""#]);
        let data = prop::sample::select(vec![
            "{}",
            r#"{"a":1}"#,
            r#"{ "a" : [1, 2.5e-3, {"b": null}], "c": "x\ty" }"#,
            r#"{"a":"\u0041"}"#,
            "[1]",
            "null",
            r#""s""#,
            r#"{"a":01}"#,
            r#"{"a":1,}"#,
            r#"{"a":tru}"#,
            r#"{"a":"x"#,
            r#"{"a":-}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":"\q"}"#,
            r#"{"a":[[[[]]]],"a":2}"#,
            "{\"k\":\"\u{1}\"}",
        ]);
        let field = prop_oneof![
            id.prop_map(|v| format!(r#""id":{v}"#)),
            kind.prop_map(|v| format!(r#""type":{v}"#)),
            at.prop_map(|v| format!(r#""occurred_at":{v}"#)),
            user.prop_map(|v| format!(r#""user_id":{v}"#)),
            data.prop_map(|v| format!(r#""data":{v}"#)),
            Just(r#""extra":1"#.to_owned()),
        ];
        (
            prop::collection::vec((field, ws.clone()), 0..7),
            ws,
            0..4usize,
            any::<usize>(),
        )
            .prop_map(|(fields, w, tail, cut)| {
                let body: Vec<String> = fields.iter().map(|(f, w)| format!("{w}{f}{w}")).collect();
                let text = format!("{{{}}}{w}", body.join(","));
                match tail {
                    0 => {
                        let at = cut % (text.len() + 1);
                        let at = (0..=at)
                            .rev()
                            .find(|&i| text.is_char_boundary(i))
                            .unwrap_or(0);
                        text[..at].to_owned()
                    }
                    1 => format!("{text},"),
                    _ => text,
                }
            })
    }

    /// A plain event with every field, in the usual order.
    fn plain_event() -> impl Strategy<Value = String> {
        ("[a-z0-9-]{1,8}", prop::sample::select(vec!["order.paid", "order.shipped"]), 0..2_000_000_000i64, "[a-z0-9]{1,6}")
            .prop_map(|(id, kind, at, user)| {
                format!(r#"{{"id":"{id}","type":"{kind}","occurred_at":{at},"user_id":"{user}","data":{{"order_id":"{id}","n":[1,{{"x":2.5}}]}}}}"#)
            })
    }

    proptest! {
        #[test]
        fn the_hand_read_event_is_the_serde_event(text in prop_oneof![event_text(), plain_event()]) {
            let limits = Limits::default();
            if let Some((event, len)) = scan_valid(&text, &limits) {
                let mut typed = serde_json::Deserializer::from_str(&text).into_iter::<Valid<'_>>();
                let serde = typed.next().and_then(Result::ok).and_then(|v| v.into_event(&limits));
                prop_assert_eq!(Some(&event), serde.as_ref(), "{}", text);
                prop_assert_eq!(len, typed.byte_offset(), "{}", text);
                let serde = serde.unwrap();
                prop_assert_eq!(event.data.as_str(), serde.data.as_str());
            }
        }

        #[test]
        fn plain_events_take_the_hand_read_path(text in plain_event()) {
            prop_assert!(scan_valid(&text, &Limits::default()).is_some(), "{}", text);
        }
    }

    proptest! {
        /// Arbitrary bytes, and a valid batch with bytes flipped or cut off, decode to an error
        /// or to verdicts (never more than the batch limit), never a panic.
        #[test]
        fn arbitrary_and_damaged_batches_never_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..512),
            body in batch_body(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let limits = Limits { max_body_bytes: 4096, max_events: 4, max_event_bytes: 140, max_id_chars: 64 };
            if let Ok(items) = decode_batch(&bytes, &limits) {
                prop_assert!(items.len() <= limits.max_events);
            }
            let mut damaged = body.into_bytes();
            if !damaged.is_empty() {
                for (at, byte) in flips {
                    let i = at.index(damaged.len());
                    damaged[i] = byte;
                }
                damaged.truncate(cut.index(damaged.len() + 1));
            }
            if let Ok(items) = decode_batch(&damaged, &limits) {
                prop_assert!(items.len() <= limits.max_events);
            }
        }
    }

    proptest! {
        #[test]
        fn one_pass_batches_decode_like_two_passes(body in batch_body()) {
            let limits = Limits { max_body_bytes: 4096, max_events: 4, max_event_bytes: 140, max_id_chars: 64 };
            prop_assert_eq!(
                decode_batch(body.as_bytes(), &limits),
                decode_batch_two_pass(body.as_bytes(), &limits),
                "{}", body
            );
        }
    }

    #[test]
    fn the_usual_batch_takes_the_one_pass_path() {
        let body = format!(r#"{{"events":[{},{}]}}"#, ELEMENTS[0], ELEMENTS[4]);
        let items = decode_batch_one_pass(&body, &Limits::default()).expect("one pass");
        assert!(items[0].is_ok());
        assert_eq!(items[1].as_ref().unwrap_err().1.path, "events[1].type");
    }

    /// The definition `is_event_type` implements in one pass.
    fn spec(kind: &str) -> bool {
        !kind.is_empty()
            && kind.len() <= 64
            && kind.split('.').count() >= 2
            && kind.split('.').all(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            })
    }

    proptest! {
        #[test]
        fn event_type_check_matches_its_definition(kind in "[a-c0-9_.A-]{0,8}|[a-z.]{60,70}|.{0,12}") {
            prop_assert_eq!(is_event_type(&kind), spec(&kind), "{:?}", kind);
        }
    }

    #[test]
    fn event_type_examples() {
        for ok in ["order.shipped", "a.b", "ops.alert_1.x"] {
            assert!(is_event_type(ok), "{ok}");
        }
        for bad in [
            "",
            "order",
            ".a.b",
            "a.b.",
            "a..b",
            "Order.shipped",
            "a.b-c",
            "é.b",
        ] {
            assert!(!is_event_type(bad), "{bad}");
        }
    }
}
