//! Text templates for rules: `"Order {data.order_number} has shipped"`.
//!
//! Storefront engineers write these in the rules file, so a mistake must be
//! found when the file loads, not when the first shopper's event arrives.
//! [`Template::compile`] therefore parses a template once into literal text and
//! placeholders, checks every placeholder path against what
//! [`Event::lookup`] can resolve, and reports *every* problem it finds.
//! Rendering is then a walk over precompiled segments: no parsing, no regex.
//!
//! # Syntax
//! - `{path}` prints a value of the event. Allowed roots are `id`, `type`,
//!   `user_id`, `occurred_at` and `data.…` (any depth; array items by
//!   number, e.g. `data.items.0.sku`).
//! - `{path|fallback}` prints `fallback` when the event has no such value;
//!   `{path|}` prints nothing. The fallback is plain text (no braces).
//! - `{{` and `}}` print a literal brace.
//!
//! # A missing value is an error, not an empty string
//! A placeholder without a fallback whose value is missing (or JSON `null`)
//! makes rendering fail with [`MissingValue`]: "Order  has shipped" is worse
//! than no notification, and the error names the path the producer forgot.
//! Where a value is genuinely optional, the template says so with a fallback.

use std::fmt::Write as _;

use crate::data::Json;

use crate::event::{Event, Lookup, Memo, Path};

/// The first word of every path a template may use, as [`Event::lookup`] knows them.
pub const ROOTS: [&str; 5] = ["id", "type", "user_id", "occurred_at", "data"];

/// A compiled template: literal text and placeholders, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
    /// Bytes to reserve when rendering: the literal text plus a typical value
    /// per placeholder, so most renders allocate once.
    capacity: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Value {
        path: String,
        /// `path`, split once at compile time.
        parsed: Path,
        fallback: Option<String>,
    },
}

/// Why a template (or a bare path in a rule) cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A `{` with no `}` after it.
    #[error("`{{` at character {at} is never closed; write `{{{{` for a literal brace")]
    Unclosed {
        /// 1-based character position of the `{`.
        at: usize,
    },
    /// A `}` that closes nothing.
    #[error("`}}` at character {at} closes nothing; write `}}}}` for a literal brace")]
    StrayClose {
        /// 1-based character position of the `}`.
        at: usize,
    },
    /// `{}` or `{|x}`: a placeholder without a path.
    #[error("empty placeholder at character {at}; name a value like `{{data.order_number}}`")]
    Empty {
        /// 1-based character position of the `{`.
        at: usize,
    },
    /// The path has characters other than letters, digits, `_`, `-` and single dots.
    #[error("`{path}` is not a dotted path; use letters, digits, `_` and `-` between single dots, like `data.order_number`")]
    BadPath {
        /// The offending path, shortened.
        path: String,
    },
    /// The path starts with something events do not have.
    #[error("`{path}` starts with unknown `{root}`; paths start with id, type, user_id, occurred_at or data.<field>{hint}")]
    UnknownRoot {
        /// The whole path, shortened.
        path: String,
        /// Its first word.
        root: String,
        /// A suggestion such as " (did you mean `data`?)", or nothing.
        hint: String,
    },
    /// `user_id.x`: a plain field has nothing inside it.
    #[error("`{path}`: `{root}` is a plain value with no fields inside; write `{root}` alone")]
    FieldOfPlain {
        /// The whole path, shortened.
        path: String,
        /// Its first word.
        root: String,
    },
    /// `data` alone would print the whole payload.
    #[error("`data` alone is the whole payload; name a field inside it, like `data.order_id`")]
    BareData,
}

/// A placeholder's value was missing from the event at render time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the event has no value at `{path}`; send it, or give the placeholder a fallback like `{{{path}|…}}`")]
pub struct MissingValue {
    /// The path that had no value (or was `null`, or empty where a key is built).
    pub path: String,
}

/// How placeholder values are written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Shopper-facing text: values as they are.
    Text,
    /// Keys and addresses (audience, collapse, cancel keys): an empty value
    /// counts as missing, so `topic:stock:` or `order:` can never be built.
    Key,
    /// Links: a value that starts the template is inserted as it is (a whole
    /// URL); values after literal text are percent-encoded, so data can fill
    /// a path segment but never change the scheme or host.
    Url,
}

fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

/// Checks a dotted path such as `data.order_number` against what events carry.
pub fn check_path(path: &str) -> Result<(), TemplateError> {
    let well_formed = !path.is_empty()
        && path.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if !well_formed {
        return Err(TemplateError::BadPath {
            path: shorten(path),
        });
    }
    let (root, rest) = match path.split_once('.') {
        Some((root, rest)) => (root, Some(rest)),
        None => (path, None),
    };
    match (root, rest) {
        ("data", Some(_)) => Ok(()),
        ("data", None) => Err(TemplateError::BareData),
        ("id" | "type" | "user_id" | "occurred_at", None) => Ok(()),
        ("id" | "type" | "user_id" | "occurred_at", Some(_)) => Err(TemplateError::FieldOfPlain {
            path: shorten(path),
            root: root.to_owned(),
        }),
        _ => Err(TemplateError::UnknownRoot {
            path: shorten(path),
            root: shorten(root),
            hint: suggest(root, &ROOTS)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default(),
        }),
    }
}

/// The candidate closest to `word` by edit distance, when it is close enough
/// to be a likely typo (`titel` → `title`, `dat` → `data`).
pub(crate) fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if word.len() > 64 {
        return None;
    }
    let mut best: Option<(usize, &'a str)> = None;
    for &c in candidates {
        let d = edit_distance(word, c);
        if d <= 2 && d < c.len() && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

impl Template {
    /// Parses and checks `source`, reporting every problem found in it.
    pub fn compile(source: &str) -> Result<Template, Vec<TemplateError>> {
        let mut segments = Vec::new();
        let mut errors = Vec::new();
        let mut text = String::new();
        let mut chars = source.chars().enumerate().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                    chars.next();
                    text.push('{');
                }
                '{' => {
                    let mut inner = String::new();
                    let mut closed = false;
                    while let Some(&(_, n)) = chars.peek() {
                        if n == '{' {
                            break;
                        }
                        chars.next();
                        if n == '}' {
                            closed = true;
                            break;
                        }
                        inner.push(n);
                    }
                    if !closed {
                        errors.push(TemplateError::Unclosed { at: i + 1 });
                        continue;
                    }
                    let (path, fallback) = match inner.split_once('|') {
                        Some((p, f)) => (p, Some(f.to_owned())),
                        None => (inner.as_str(), None),
                    };
                    if path.is_empty() {
                        errors.push(TemplateError::Empty { at: i + 1 });
                        continue;
                    }
                    if let Err(e) = check_path(path) {
                        errors.push(e);
                        continue;
                    }
                    if !text.is_empty() {
                        segments.push(Segment::Text(std::mem::take(&mut text)));
                    }
                    segments.push(Segment::Value {
                        path: path.to_owned(),
                        parsed: Path::parse(path),
                        fallback,
                    });
                }
                '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                    chars.next();
                    text.push('}');
                }
                '}' => errors.push(TemplateError::StrayClose { at: i + 1 }),
                _ => text.push(c),
            }
        }
        if !text.is_empty() {
            segments.push(Segment::Text(text));
        }
        if errors.is_empty() {
            let capacity = segments
                .iter()
                .map(|s| match s {
                    Segment::Text(t) => t.len(),
                    Segment::Value { .. } => 24,
                })
                .sum();
            Ok(Template { segments, capacity })
        } else {
            Err(errors)
        }
    }

    /// Renders shopper-facing text (titles, bodies).
    pub fn render(&self, event: &Event) -> Result<String, MissingValue> {
        self.render_as(&mut Memo::new(event), Mode::Text)
    }

    /// [`render`](Self::render) with lookups shared between the templates of one rule.
    pub fn render_memo<'p>(&'p self, memo: &mut Memo<'_, 'p>) -> Result<String, MissingValue> {
        self.render_as(memo, Mode::Text)
    }

    /// Renders a key or address (audience, collapse or cancel key): like
    /// [`render`](Self::render), but an empty value also counts as missing.
    pub fn render_key(&self, event: &Event) -> Result<String, MissingValue> {
        self.render_as(&mut Memo::new(event), Mode::Key)
    }

    /// [`render_key`](Self::render_key) with lookups shared between the templates of one rule.
    pub fn render_key_memo<'p>(&'p self, memo: &mut Memo<'_, 'p>) -> Result<String, MissingValue> {
        self.render_as(memo, Mode::Key)
    }

    /// Renders a link: a placeholder at the very start is inserted as it is
    /// (a whole URL from the event); every later value is percent-encoded, so
    /// `/orders/{data.order_id}` stays on the store's own path whatever the id holds.
    /// The caller still checks the result (scheme, host).
    pub fn render_url(&self, event: &Event) -> Result<String, MissingValue> {
        self.render_as(&mut Memo::new(event), Mode::Url)
    }

    /// [`render_url`](Self::render_url) with lookups shared between the templates of one rule.
    pub fn render_url_memo<'p>(&'p self, memo: &mut Memo<'_, 'p>) -> Result<String, MissingValue> {
        self.render_as(memo, Mode::Url)
    }

    fn render_as<'p>(
        &'p self,
        memo: &mut Memo<'_, 'p>,
        mode: Mode,
    ) -> Result<String, MissingValue> {
        let mut out = String::with_capacity(self.capacity);
        for (index, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Text(t) => out.push_str(t),
                Segment::Value {
                    path,
                    parsed,
                    fallback,
                } => {
                    let written = match memo.lookup(parsed) {
                        Some(Lookup::Json(Json::Null)) => false,
                        Some(value) if mode == Mode::Url && index > 0 => {
                            percent_encode(&mut out, &value.to_text());
                            true
                        }
                        Some(value) => {
                            let before = out.len();
                            write_value(&mut out, value);
                            mode != Mode::Key || out.len() > before
                        }
                        None => false,
                    };
                    if !written {
                        match fallback {
                            // A key's part is never empty, from the event or its fallback:
                            // `topic:stock:{data.sku|}` without a SKU addresses nobody.
                            Some(f) if mode != Mode::Key || !f.is_empty() => out.push_str(f),
                            _ => return Err(MissingValue { path: path.clone() }),
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The literal text before the first placeholder (the whole text when there is none).
    pub fn literal_prefix(&self) -> &str {
        match self.segments.first() {
            Some(Segment::Text(t)) => t,
            _ => "",
        }
    }

    /// `true` when the template has no placeholders.
    pub fn is_literal(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Text(_)))
    }

    /// The literal (non-placeholder) parts, in order.
    pub fn literal_parts(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Text(t) => Some(t.as_str()),
            Segment::Value { .. } => None,
        })
    }

    /// The placeholder paths, in order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Value { path, .. } => Some(path.as_str()),
            Segment::Text(_) => None,
        })
    }
}

/// Appends the value as text (the caller has already treated `null` as missing).
fn write_value(out: &mut String, value: Lookup<'_>) {
    match value {
        Lookup::Str(s) => out.push_str(s),
        Lookup::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Lookup::Json(other) => out.push_str(&other.to_text()),
    }
}

fn percent_encode(out: &mut String, raw: &str) {
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;
    use serde_json::json;

    fn event() -> Event {
        Event {
            id: "e1".into(),
            kind: "order.shipped".into(),
            occurred_at: 1_000,
            user_id: Some("u1".into()),
            data: json!({
                "order_number": 1001,
                "carrier": "SF Express",
                "empty": "",
                "gone": null,
                "paid": true,
                "items": [{"sku": "A-1"}],
                "id": "a/b?c=d",
                "url": "https://track.example/x?y=1",
            })
            .into(),
        }
    }

    #[test]
    fn renders_values_and_escapes() {
        let t = Template::compile("Order {data.order_number} via {data.carrier} {{ok}} {type}")
            .unwrap();
        assert_eq!(
            t.render(&event()).unwrap(),
            "Order 1001 via SF Express {ok} order.shipped"
        );
        let t =
            Template::compile("{user_id}@{occurred_at}:{data.items.0.sku}:{data.paid}").unwrap();
        assert_eq!(t.render(&event()).unwrap(), "u1@1000:A-1:true");
        assert_eq!(t.paths().count(), 4);
        assert!(!t.is_literal());
        assert!(Template::compile("plain }} text").unwrap().is_literal());
    }

    #[test]
    fn missing_values_fail_unless_a_fallback_is_given() {
        let t = Template::compile("by {data.courier}").unwrap();
        assert_eq!(
            t.render(&event()),
            Err(MissingValue {
                path: "data.courier".into()
            })
        );
        // null counts as missing
        assert!(Template::compile("{data.gone}")
            .unwrap()
            .render(&event())
            .is_err());
        let t = Template::compile("by {data.courier|our courier}, {data.gone|}.").unwrap();
        assert_eq!(t.render(&event()).unwrap(), "by our courier, .");
        // an empty string is fine in text, missing in a key
        let t = Template::compile("x{data.empty}").unwrap();
        assert_eq!(t.render(&event()).unwrap(), "x");
        assert!(t.render_key(&event()).is_err());
        // and so is an empty fallback; a written one stands in, in a key too
        let t = Template::compile("stock:{data.gone|}").unwrap();
        assert!(t.render_key(&event()).is_err());
        let t = Template::compile("stock:{data.gone|any}").unwrap();
        assert_eq!(t.render_key(&event()).unwrap(), "stock:any");
    }

    #[test]
    fn urls_encode_values_after_literal_text() {
        let t = Template::compile("/orders/{data.id}").unwrap();
        assert_eq!(t.render_url(&event()).unwrap(), "/orders/a%2Fb%3Fc%3Dd");
        assert_eq!(t.literal_prefix(), "/orders/");
        let t = Template::compile("{data.url}").unwrap();
        assert_eq!(
            t.render_url(&event()).unwrap(),
            "https://track.example/x?y=1"
        );
        assert_eq!(t.literal_prefix(), "");
    }

    #[test]
    fn reports_every_problem() {
        let errs = Template::compile("{dat.x} {user_id.x} {} { data.x } {data} {open").unwrap_err();
        assert!(
            matches!(&errs[0], TemplateError::UnknownRoot { root, hint, .. } if root == "dat" && hint.contains("data")),
            "{errs:?}"
        );
        assert!(matches!(&errs[1], TemplateError::FieldOfPlain { .. }));
        assert!(matches!(&errs[2], TemplateError::Empty { at: 21 }));
        assert!(matches!(&errs[3], TemplateError::BadPath { .. }));
        assert_eq!(errs[4], TemplateError::BareData);
        assert!(matches!(&errs[5], TemplateError::Unclosed { at: 42 }));
        assert_eq!(errs.len(), 6);
        let errs = Template::compile("a } b {x{data.y}").unwrap_err();
        assert_eq!(
            errs,
            vec![
                TemplateError::StrayClose { at: 3 },
                TemplateError::Unclosed { at: 7 }
            ]
        );
        assert!(errs[0].to_string().contains("`}}`"));
    }

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(suggest("titel", &["title", "body"]), Some("title"));
        assert_eq!(suggest("zzzzzz", &["title", "body"]), None);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        /// Any text compiles or is rejected, and whatever compiles renders, without panicking.
        #[test]
        fn compile_and_render_never_panic(source in "\\PC{0,80}", mixed in "[{}|a-z_.0-9 ]{0,40}") {
            let e = Event {
                id: "e".into(),
                kind: "a.b".into(),
                occurred_at: 0,
                user_id: None,
                data: json!({"a": {"b": [1, "x", null]}, "x": ""}).into(),
            };
            for s in [source.as_str(), mixed.as_str()] {
                if let Ok(t) = Template::compile(s) {
                    let _ = t.render(&e);
                    let _ = t.render_key(&e);
                    let _ = t.render_url(&e);
                    // a template without placeholders renders to its literal text
                    if t.is_literal() {
                        prop_assert_eq!(t.render(&e).unwrap(), t.literal_prefix());
                    }
                }
            }
        }
    }
}
