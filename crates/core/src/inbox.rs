//! The inbox model and its query engine, shared by the edge's history API
//! (`GET /v1/inbox?category=&state=&q=&sort=&min_priority=&limit=&cursor=`)
//! and the browser's notification center.
//!
//! One engine serves both so that a filter means the same thing whether the
//! panel answers it from memory or the edge answers it from the log. The
//! browser filters and sorts up to ~50,000 items on every keystroke, so the
//! engine is built to be cheap per query:
//!
//! - [`Inbox`] keeps, for every item, its search text already normalized
//!   ([`normalize`]), so a text query is a byte substring search per item;
//! - a query allocates one vector of candidates and nothing per item;
//! - only the requested page is fully sorted (a selection finds it first).
//!
//! Callers that keep items elsewhere (the edge's [`crate::log::InboxLog`], a
//! plain `Vec` in the browser) use [`query_items`], which normalizes text on
//! the fly into one reused buffer, or [`query_prepared`] with text they keep
//! from [`search_text`].
//!
//! Pagination is by [`Cursor`]: the position of the last item returned,
//! encoded as its sort fields plus its id. A cursor therefore stays valid
//! while items arrive, change state or disappear: the next page is "every
//! match that sorts after this position", never an offset that shifts.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::notification::{Category, Notification, Priority, ReadState};
use crate::time::Millis;

/// Page size when the request names none.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest page the history API serves.
pub const MAX_LIMIT: usize = 200;
/// Longest cursor text accepted; anything longer was not issued by us.
const MAX_CURSOR_LEN: usize = 2048;

// ---------------------------------------------------------------------------
// Text normalization
// ---------------------------------------------------------------------------

/// Folds text for case- and accent-insensitive search.
///
/// Lowercases, strips common Latin diacritics (Latin-1 Supplement and Latin
/// Extended-A: `é→e`, `ü→u`, `ñ→n`, `ç→c`, `ø→o`, `å→a`, `ß→ss`, `œ→oe`, …),
/// drops combining marks, maps full-width ASCII (`ＡＢＣ１`) to ASCII,
/// collapses every run of whitespace (including the ideographic space) to one
/// space and trims both ends. Chinese and other scripts pass through, so a
/// substring of the folded text is a substring of the text.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normalize_into(text, &mut out);
    out
}

/// [`normalize`], appending to `out` (which the caller may reuse).
fn normalize_into(text: &str, out: &mut String) {
    let start = out.len();
    let mut pending_space = false;
    for c in text.chars() {
        let c = match c as u32 {
            // Full-width ASCII variants sit at a fixed offset from ASCII.
            cp @ 0xFF01..=0xFF5E => char::from_u32(cp - 0xFEE0).unwrap_or(c),
            _ => c,
        };
        if c.is_whitespace() {
            pending_space = out.len() > start;
            continue;
        }
        if c.is_control() || is_combining(c) {
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            for l in c.to_lowercase() {
                fold(l, out);
            }
        }
    }
}

fn is_combining(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F)
}

/// Pushes the base letter(s) of a lowercased character.
fn fold(c: char, out: &mut String) {
    let base = match c {
        'à'..='å' => 'a',
        'æ' => return out.push_str("ae"),
        'ç' => 'c',
        'è'..='ë' => 'e',
        'ì'..='ï' => 'i',
        'ð' => 'd',
        'ñ' => 'n',
        'ò'..='ö' | 'ø' => 'o',
        'ù'..='ü' => 'u',
        'ý' | 'ÿ' => 'y',
        'þ' => return out.push_str("th"),
        'ß' => return out.push_str("ss"),
        '\u{0100}'..='\u{017F}' => match fold_extended_a(c) {
            Fold::One(b) => b,
            Fold::Two(s) => return out.push_str(s),
        },
        c if is_combining(c) => return,
        c => c,
    };
    out.push(base);
}

enum Fold {
    One(char),
    Two(&'static str),
}

/// Base letters of Latin Extended-A (U+0100–U+017F), upper and lower case.
fn fold_extended_a(c: char) -> Fold {
    Fold::One(match c as u32 {
        0x0100..=0x0105 => 'a',
        0x0106..=0x010D => 'c',
        0x010E..=0x0111 => 'd',
        0x0112..=0x011B => 'e',
        0x011C..=0x0123 => 'g',
        0x0124..=0x0127 => 'h',
        0x0128..=0x0131 => 'i',
        0x0132..=0x0133 => return Fold::Two("ij"),
        0x0134..=0x0135 => 'j',
        0x0136..=0x0138 => 'k',
        0x0139..=0x0142 => 'l',
        0x0143..=0x014B => 'n',
        0x014C..=0x0151 => 'o',
        0x0152..=0x0153 => return Fold::Two("oe"),
        0x0154..=0x0159 => 'r',
        0x015A..=0x0161 | 0x017F => 's',
        0x0162..=0x0167 => 't',
        0x0168..=0x0173 => 'u',
        0x0174..=0x0175 => 'w',
        0x0176..=0x0178 => 'y',
        0x0179..=0x017E => 'z',
        _ => c,
    })
}

/// The searchable text of a notification: title and body in every locale,
/// each [`normalize`]d, joined by `\n` (which a normalized query never
/// contains, so no match spans two fields).
///
/// [`Inbox`] keeps this per item; a caller of [`query_prepared`] keeps it
/// alongside its own items.
pub fn search_text(n: &Notification) -> String {
    let mut out = String::with_capacity(
        n.title.en.len() + n.title.zh.len() + n.body.en.len() + n.body.zh.len() + 3,
    );
    for field in searchable_fields(n) {
        if !field.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            normalize_into(field, &mut out);
        }
    }
    out
}

fn searchable_fields(n: &Notification) -> [&str; 4] {
    [&n.title.en, &n.title.zh, &n.body.en, &n.body.zh]
}

// ---------------------------------------------------------------------------
// Query
// ---------------------------------------------------------------------------

/// Which read states a query shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateFilter {
    /// The inbox view: unread and read, not archived.
    #[default]
    Inbox,
    /// Only unread.
    Unread,
    /// Only read.
    Read,
    /// Only archived.
    Archived,
    /// Everything, archived included.
    All,
}

impl StateFilter {
    /// The name used in URLs (`inbox`, `unread`, `read`, `archived`, `all`).
    pub fn as_str(self) -> &'static str {
        match self {
            StateFilter::Inbox => "inbox",
            StateFilter::Unread => "unread",
            StateFilter::Read => "read",
            StateFilter::Archived => "archived",
            StateFilter::All => "all",
        }
    }

    /// Parses a name from [`StateFilter::as_str`].
    pub fn parse(name: &str) -> Option<StateFilter> {
        [
            StateFilter::Inbox,
            StateFilter::Unread,
            StateFilter::Read,
            StateFilter::Archived,
            StateFilter::All,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// Whether an item in `state` is shown.
    pub fn admits(self, state: ReadState) -> bool {
        match self {
            StateFilter::Inbox => state != ReadState::Archived,
            StateFilter::Unread => state == ReadState::Unread,
            StateFilter::Read => state == ReadState::Read,
            StateFilter::Archived => state == ReadState::Archived,
            StateFilter::All => true,
        }
    }
}

/// The order of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Newest first: `created_at` descending, then the later seq.
    #[default]
    Newest,
    /// Highest priority first, then newest.
    Priority,
    /// Soonest `expires_at` first, items that never expire last, then newest.
    ExpiringSoon,
}

impl Sort {
    /// The name used in URLs (`newest`, `priority`, `expiring`).
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Priority => "priority",
            Sort::ExpiringSoon => "expiring",
        }
    }

    /// Parses a name from [`Sort::as_str`].
    pub fn parse(name: &str) -> Option<Sort> {
        [Sort::Newest, Sort::Priority, Sort::ExpiringSoon]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

fn priority_name(p: Priority) -> &'static str {
    match p {
        Priority::Low => "low",
        Priority::Normal => "normal",
        Priority::High => "high",
        Priority::Urgent => "urgent",
    }
}

/// A filter, an order and a page window over an inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Categories shown; empty shows all.
    pub categories: Vec<Category>,
    /// Read states shown.
    pub state: StateFilter,
    /// Lowest priority shown.
    pub min_priority: Option<Priority>,
    /// Text to find in title or body (any locale); matched after [`normalize`].
    /// Empty or blank text filters nothing.
    pub text: Option<String>,
    /// Order of the result.
    pub sort: Sort,
    /// Most items returned (0 is treated as 1). The history API accepts
    /// 1..=[`MAX_LIMIT`]; in-process callers may ask for more.
    pub limit: usize,
    /// Continue after this position (from [`Page::next`]).
    pub cursor: Option<Cursor>,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            categories: Vec::new(),
            state: StateFilter::Inbox,
            min_priority: None,
            text: None,
            sort: Sort::Newest,
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

/// Why the parameters of a history request were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A parameter has a value this API does not understand.
    #[error("`{param}={value}` is not valid: expected {expected}")]
    Invalid {
        /// The parameter name.
        param: &'static str,
        /// The offending value (cut to 64 characters).
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// A parameter that takes a single value was given more than once.
    #[error("`{param}` was given more than once; pass it once")]
    Repeated {
        /// The parameter name.
        param: &'static str,
    },
    /// The `cursor` (or `after`) parameter is not one this API issued.
    #[error("`cursor` is not valid ({0}); drop it to start again from the first page")]
    Cursor(#[from] CursorError),
}

fn invalid(param: &'static str, value: &str, expected: &'static str) -> QueryError {
    QueryError::Invalid {
        param,
        value: value.chars().take(64).collect(),
        expected,
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, param: &'static str) -> Result<(), QueryError> {
    if slot.is_some() {
        return Err(QueryError::Repeated { param });
    }
    *slot = Some(value);
    Ok(())
}

impl Query {
    /// Reads the query parameters of `GET /v1/inbox`, already percent-decoded
    /// (as `url::Url::query_pairs` or `URLSearchParams` yield them).
    ///
    /// - `category=order,payment` (repeatable; values accumulate)
    /// - `state=inbox|unread|read|archived|all` (default `inbox`)
    /// - `min_priority=low|normal|high|urgent`
    /// - `q=<text>`
    /// - `sort=newest|priority|expiring` (default `newest`)
    /// - `limit=1..=200` (default 50)
    /// - `cursor=<from the previous page>` (`after` is accepted as a synonym)
    ///
    /// An empty value counts as absent; unknown parameters are ignored so the
    /// shell may pass the whole query string.
    pub fn from_params<I, K, V>(params: I) -> Result<Query, QueryError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut q = Query::default();
        let (mut state, mut min_priority, mut text, mut sort, mut limit, mut cursor) =
            (None, None, None, None, None, None);
        for (key, value) in params {
            let value = value.as_ref();
            if value.is_empty() {
                continue;
            }
            match key.as_ref() {
                "category" => {
                    for name in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        let c = Category::parse(name).ok_or_else(|| {
                            invalid(
                                "category",
                                name,
                                "a comma-separated list of order, payment, stock, price, promo, account, security, ops",
                            )
                        })?;
                        if !q.categories.contains(&c) {
                            q.categories.push(c);
                        }
                    }
                }
                "state" => {
                    let s = StateFilter::parse(value).ok_or_else(|| {
                        invalid("state", value, "one of inbox, unread, read, archived, all")
                    })?;
                    set_once(&mut state, s, "state")?;
                }
                "min_priority" => {
                    let p = Priority::parse(value).ok_or_else(|| {
                        invalid("min_priority", value, "one of low, normal, high, urgent")
                    })?;
                    set_once(&mut min_priority, p, "min_priority")?;
                }
                "q" => set_once(&mut text, value.to_owned(), "q")?,
                "sort" => {
                    let s = Sort::parse(value).ok_or_else(|| {
                        invalid("sort", value, "one of newest, priority, expiring")
                    })?;
                    set_once(&mut sort, s, "sort")?;
                }
                "limit" => {
                    let n = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| invalid("limit", value, "a whole number from 1 to 200"))?;
                    set_once(&mut limit, n, "limit")?;
                }
                "cursor" | "after" => set_once(&mut cursor, Cursor::parse(value)?, "cursor")?,
                _ => {}
            }
        }
        q.state = state.unwrap_or_default();
        q.min_priority = min_priority;
        q.text = text;
        q.sort = sort.unwrap_or_default();
        q.limit = limit.unwrap_or(DEFAULT_LIMIT);
        q.cursor = cursor;
        Ok(q)
    }

    /// The parameters that [`Query::from_params`] reads back as this query
    /// (not percent-encoded); defaults are left out.
    pub fn to_params(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !self.categories.is_empty() {
            let names: Vec<&str> = self.categories.iter().map(|c| c.as_str()).collect();
            out.push(("category", names.join(",")));
        }
        if self.state != StateFilter::default() {
            out.push(("state", self.state.as_str().to_owned()));
        }
        if let Some(p) = self.min_priority {
            out.push(("min_priority", priority_name(p).to_owned()));
        }
        if let Some(t) = self.text.as_ref().filter(|t| !t.is_empty()) {
            out.push(("q", t.clone()));
        }
        if self.sort != Sort::default() {
            out.push(("sort", self.sort.as_str().to_owned()));
        }
        if self.limit != DEFAULT_LIMIT {
            out.push(("limit", self.limit.to_string()));
        }
        if let Some(c) = &self.cursor {
            out.push(("cursor", c.to_string()));
        }
        out
    }
}

// ---------------------------------------------------------------------------
// Cursor
// ---------------------------------------------------------------------------

/// A position in a sorted result: "after this item". Opaque to clients; its
/// text form is URL-safe base64 and round-trips through
/// [`Cursor::to_string`](ToString::to_string) and [`Cursor::parse`].
///
/// It holds every field any [`Sort`] orders by, plus the id as the final
/// tiebreak, so the position is exact and stable under the sort even as the
/// inbox changes between pages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    created_at: Millis,
    priority: Priority,
    expires_at: Option<Millis>,
    seq: u64,
    id: String,
}

/// Why a cursor text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// Longer than any cursor this API issues.
    #[error("too long to be a cursor")]
    TooLong,
    /// Not URL-safe base64.
    #[error("not URL-safe base64")]
    NotBase64,
    /// Decodes, but not to a cursor of this version.
    #[error("not a cursor this server issued")]
    Malformed,
}

const CURSOR_VERSION: &str = "1";

impl Cursor {
    /// The position just after `n`.
    pub fn after(n: &Notification) -> Cursor {
        Cursor {
            created_at: n.created_at,
            priority: n.priority,
            expires_at: n.expires_at,
            seq: n.seq,
            id: n.id.clone(),
        }
    }

    /// Id of the item the cursor points after.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Reads a cursor from its text form.
    pub fn parse(text: &str) -> Result<Cursor, CursorError> {
        if text.len() > MAX_CURSOR_LEN {
            return Err(CursorError::TooLong);
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| CursorError::NotBase64)?;
        let plain = String::from_utf8(bytes).map_err(|_| CursorError::Malformed)?;
        let mut parts = plain.splitn(6, '|');
        let mut next = || parts.next().ok_or(CursorError::Malformed);
        if next()? != CURSOR_VERSION {
            return Err(CursorError::Malformed);
        }
        let created_at = next()?.parse().map_err(|_| CursorError::Malformed)?;
        let priority = match next()? {
            "0" => Priority::Low,
            "1" => Priority::Normal,
            "2" => Priority::High,
            "3" => Priority::Urgent,
            _ => return Err(CursorError::Malformed),
        };
        let expires_at = match next()? {
            "" => None,
            e => Some(e.parse().map_err(|_| CursorError::Malformed)?),
        };
        let seq = next()?.parse().map_err(|_| CursorError::Malformed)?;
        let id = next()?.to_owned();
        Ok(Cursor {
            created_at,
            priority,
            expires_at,
            seq,
            id,
        })
    }

    fn key(&self, sort: Sort) -> Key<'_> {
        Key::new(
            sort,
            self.created_at,
            self.priority,
            self.expires_at,
            self.seq,
            &self.id,
        )
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let priority = match self.priority {
            Priority::Low => 0,
            Priority::Normal => 1,
            Priority::High => 2,
            Priority::Urgent => 3,
        };
        let expires = self.expires_at.map(|e| e.to_string()).unwrap_or_default();
        let plain = format!(
            "{CURSOR_VERSION}|{}|{priority}|{expires}|{}|{}",
            self.created_at, self.seq, self.id
        );
        f.write_str(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(plain))
    }
}

impl FromStr for Cursor {
    type Err = CursorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cursor::parse(s)
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        Cursor::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Sort key: compared ascending, field by field. Descending fields are
/// stored bitwise-negated (`!x` reverses the order of `i64` and `u64`
/// without overflow). The id makes the order total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key<'a> {
    a: i64,
    b: i64,
    c: i64,
    seq: u64,
    id: &'a str,
}

impl<'a> Key<'a> {
    fn new(
        sort: Sort,
        created_at: Millis,
        priority: Priority,
        expires_at: Option<Millis>,
        seq: u64,
        id: &'a str,
    ) -> Key<'a> {
        let newest = !created_at;
        let (a, b, c) = match sort {
            Sort::Newest => (newest, 0, 0),
            Sort::Priority => (!(priority as i64), newest, 0),
            Sort::ExpiringSoon => match expires_at {
                Some(e) => (0, e, newest),
                None => (1, 0, newest),
            },
        };
        Key {
            a,
            b,
            c,
            seq: !seq,
            id,
        }
    }

    fn of(sort: Sort, n: &'a Notification) -> Key<'a> {
        Key::new(sort, n.created_at, n.priority, n.expires_at, n.seq, &n.id)
    }
}

// ---------------------------------------------------------------------------
// Engine
// ---------------------------------------------------------------------------

/// An item with its sort key, as the engine selects and sorts them.
type Hit<'a> = (Key<'a>, &'a Notification);

/// The one comparison of [`Hit`]s (a named function, so every caller shares one
/// instantiation of the selection and sort code).
fn by_key(x: &Hit<'_>, y: &Hit<'_>) -> std::cmp::Ordering {
    x.0.cmp(&y.0)
}

/// One page of a query's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<'a> {
    /// The items, in the query's order.
    pub items: Vec<&'a Notification>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
    /// How many items match the filter in all (every page, not just this one).
    pub total_matching: usize,
}

/// A query compiled for the per-item loop.
struct Plan {
    categories: u16,
    state: StateFilter,
    min_priority: Option<Priority>,
    /// The normalized search text, with a substring searcher built once per query
    /// (`memchr`'s, vectorised natively and under wasm `simd128`).
    needle: Option<memchr::memmem::Finder<'static>>,
    now: Millis,
}

impl Plan {
    fn new(q: &Query, now: Millis) -> Plan {
        let categories = if q.categories.is_empty() {
            u16::MAX
        } else {
            q.categories.iter().fold(0, |m, c| m | category_bit(*c))
        };
        let needle = q
            .text
            .as_deref()
            .map(normalize)
            .filter(|t| !t.is_empty())
            .map(|t| memchr::memmem::Finder::new(t.as_bytes()).into_owned());
        Plan {
            categories,
            state: q.state,
            min_priority: q.min_priority,
            needle,
            now,
        }
    }

    /// Every test but the text one, cheapest first.
    fn admits(&self, n: &Notification) -> bool {
        self.categories & category_bit(n.category) != 0
            && self.state.admits(n.state)
            && self.min_priority.is_none_or(|p| n.priority >= p)
            && !n.is_expired(self.now)
    }
}

fn category_bit(c: Category) -> u16 {
    1 << (c as u16)
}

/// Text of an item for matching: prepared by the caller, or computed on the
/// fly into a scratch buffer.
enum Text<'a> {
    Prepared(&'a str),
    Fields,
}

fn run<'a, I>(items: I, q: &Query, now: Millis) -> Page<'a>
where
    I: Iterator<Item = (&'a Notification, Text<'a>)>,
{
    let plan = Plan::new(q, now);
    let after = q.cursor.as_ref().map(|c| c.key(q.sort));
    let mut scratch = String::new();
    let mut total = 0;
    let mut hits: Vec<Hit<'a>> = Vec::new();
    for (n, text) in items {
        if !plan.admits(n) {
            continue;
        }
        if let Some(needle) = &plan.needle {
            let found = match text {
                Text::Prepared(t) => needle.find(t.as_bytes()).is_some(),
                Text::Fields => searchable_fields(n).into_iter().any(|f| {
                    scratch.clear();
                    normalize_into(f, &mut scratch);
                    needle.find(scratch.as_bytes()).is_some()
                }),
            };
            if !found {
                continue;
            }
        }
        total += 1;
        let key = Key::of(q.sort, n);
        if after.is_some_and(|a| key <= a) {
            continue;
        }
        hits.push((key, n));
    }
    let limit = q.limit.max(1);
    let more = hits.len() > limit;
    if more {
        // Move the `limit` smallest to the front in O(n), then sort only those.
        hits.select_nth_unstable_by(limit, by_key);
        hits.truncate(limit);
    }
    hits.sort_unstable_by(by_key);
    let next = if more {
        hits.last().map(|(_, n)| Cursor::after(n))
    } else {
        None
    };
    Page {
        items: hits.into_iter().map(|(_, n)| n).collect(),
        next,
        total_matching: total,
    }
}

/// Runs `q` over any collection of notifications (a slice, the edge's
/// [`crate::log::InboxLog::items`]), normalizing text on the fly.
///
/// Ids should be unique, as they are in a log or an [`Inbox`]. For repeated
/// queries over many items prefer [`Inbox::query`] or [`query_prepared`],
/// which do not re-normalize text on every query.
pub fn query_items<'a, I>(items: I, q: &Query, now: Millis) -> Page<'a>
where
    I: IntoIterator<Item = &'a Notification>,
{
    run(items.into_iter().map(|n| (n, Text::Fields)), q, now)
}

/// Runs `q` over notifications paired with their [`search_text`], for a caller
/// that keeps its own storage and caches the text.
pub fn query_prepared<'a, I>(items: I, q: &Query, now: Millis) -> Page<'a>
where
    I: IntoIterator<Item = (&'a Notification, &'a str)>,
{
    run(
        items.into_iter().map(|(n, t)| (n, Text::Prepared(t))),
        q,
        now,
    )
}

// ---------------------------------------------------------------------------
// Inbox
// ---------------------------------------------------------------------------

/// What [`Inbox::upsert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    /// The id was new.
    Inserted,
    /// An item with the same id and an older (or equal) seq was replaced.
    Replaced,
    /// An item with the same id and a newer seq is kept; the argument was dropped.
    Ignored,
}

#[derive(Debug, Clone)]
struct Entry {
    note: Notification,
    text: String,
}

/// A shopper's notifications keyed by id, with search text prepared and
/// unread counts kept current: the center's in-memory model.
#[derive(Debug, Clone, Default)]
pub struct Inbox {
    entries: Vec<Entry>,
    by_id: HashMap<String, usize>,
    unread: [usize; Category::ALL.len()],
    max_seq: u64,
}

impl Inbox {
    /// An empty inbox.
    pub fn new() -> Self {
        Inbox::default()
    }

    /// Number of items stored (expired ones included until [`Inbox::remove_expired`]).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The item with this id.
    pub fn get(&self, id: &str) -> Option<&Notification> {
        self.by_id
            .get(id)
            .and_then(|&i| self.entries.get(i))
            .map(|e| &e.note)
    }

    /// Every stored item, in no particular order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Notification> {
        self.entries.iter().map(|e| &e.note)
    }

    /// Highest seq ever stored: what the center sends as `hello {after}`.
    pub fn max_seq(&self) -> u64 {
        self.max_seq
    }

    /// Stores `n`. An item with the same id (the same collapse key) is
    /// replaced in place when `n.seq` is at least its seq; an older seq
    /// arriving late is ignored, so replays and races keep the newest.
    pub fn upsert(&mut self, n: Notification) -> Upsert {
        self.max_seq = self.max_seq.max(n.seq);
        let text = search_text(&n);
        match self.by_id.get(&n.id).copied() {
            Some(i) => {
                let Some(slot) = self.entries.get_mut(i) else {
                    return Upsert::Ignored;
                };
                if n.seq < slot.note.seq {
                    return Upsert::Ignored;
                }
                let (category, state) = (n.category, n.state);
                let old = std::mem::replace(slot, Entry { note: n, text });
                self.count_unread(&old.note, false);
                self.bump_unread(category, state, true);
                Upsert::Replaced
            }
            None => {
                self.count_unread(&n, true);
                self.by_id.insert(n.id.clone(), self.entries.len());
                self.entries.push(Entry { note: n, text });
                Upsert::Inserted
            }
        }
    }

    /// Removes the item with this id.
    pub fn remove(&mut self, id: &str) -> Option<Notification> {
        let i = self.by_id.remove(id)?;
        if i >= self.entries.len() {
            return None;
        }
        let entry = self.entries.swap_remove(i);
        if let Some(moved) = self.entries.get(i) {
            if let Some(slot) = self.by_id.get_mut(&moved.note.id) {
                *slot = i;
            }
        }
        self.count_unread(&entry.note, false);
        Some(entry.note)
    }

    /// Sets the read state of the given ids (a `changed` frame, or the
    /// shopper's own action); returns the ids that exist and actually changed.
    pub fn apply_change<I, S>(&mut self, ids: I, state: ReadState) -> Vec<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut changed = Vec::new();
        for id in ids {
            let id = id.as_ref();
            let Some(&i) = self.by_id.get(id) else {
                continue;
            };
            let Some(n) = self.entries.get_mut(i).map(|e| &mut e.note) else {
                continue;
            };
            if n.state == state {
                continue;
            }
            let (category, old) = (n.category, n.state);
            n.state = state;
            self.bump_unread(category, old, false);
            self.bump_unread(category, state, true);
            changed.push(id.to_owned());
        }
        changed
    }

    /// Marks every unread item with seq ≤ `before` read (`mark_all_read`);
    /// returns the ids changed.
    pub fn mark_all_read(&mut self, before: u64) -> Vec<String> {
        let ids: Vec<String> = self
            .entries
            .iter()
            .filter(|e| e.note.state == ReadState::Unread && e.note.seq <= before)
            .map(|e| e.note.id.clone())
            .collect();
        self.apply_change(&ids, ReadState::Read);
        ids
    }

    /// Drops every item expired at `now` and returns them (so the shell can
    /// delete them from storage too).
    pub fn remove_expired(&mut self, now: Millis) -> Vec<Notification> {
        let ids: Vec<String> = self
            .entries
            .iter()
            .filter(|e| e.note.is_expired(now))
            .map(|e| e.note.id.clone())
            .collect();
        ids.iter().filter_map(|id| self.remove(id)).collect()
    }

    /// What retention drops to keep at most `cap` items: archived items first, then read
    /// ones, then unread ones; within each, the oldest (`created_at`, then `seq`) first.
    /// Returns their ids (none when there are `cap` or fewer).
    pub fn over_retention(&self, cap: usize) -> Vec<String> {
        let excess = self.entries.len().saturating_sub(cap);
        if excess == 0 {
            return Vec::new();
        }
        let rank = |s: ReadState| match s {
            ReadState::Archived => 0,
            ReadState::Read => 1,
            ReadState::Unread => 2,
        };
        // The same element type and comparison as a query's page, so that the center links
        // one selection and one sort, not one of each per caller.
        let mut order: Vec<Hit<'_>> = self
            .entries
            .iter()
            .map(|e| {
                let n = &e.note;
                let key = Key {
                    a: rank(n.state),
                    b: n.created_at,
                    c: 0,
                    seq: n.seq,
                    id: &n.id,
                };
                (key, n)
            })
            .collect();
        if excess < order.len() {
            order.select_nth_unstable_by(excess, by_key);
            order.truncate(excess);
        }
        order.sort_unstable_by(by_key);
        order.iter().map(|(_, n)| n.id.clone()).collect()
    }

    /// Unread items stored (the badge).
    pub fn unread(&self) -> usize {
        self.unread.iter().sum()
    }

    /// Unread items stored in one category (a tab's count).
    pub fn unread_in(&self, category: Category) -> usize {
        self.unread.get(category as usize).copied().unwrap_or(0)
    }

    /// Runs `q` at `now`. Expired items never appear, even before
    /// [`Inbox::remove_expired`] drops them.
    pub fn query(&self, q: &Query, now: Millis) -> Page<'_> {
        run(
            self.entries
                .iter()
                .map(|e| (&e.note, Text::Prepared(e.text.as_str()))),
            q,
            now,
        )
    }

    fn count_unread(&mut self, n: &Notification, add: bool) {
        self.bump_unread(n.category, n.state, add);
    }

    fn bump_unread(&mut self, category: Category, state: ReadState, add: bool) {
        if state != ReadState::Unread {
            return;
        }
        if let Some(c) = self.unread.get_mut(category as usize) {
            *c = if add {
                c.saturating_add(1)
            } else {
                c.saturating_sub(1)
            };
        }
    }
}

impl FromIterator<Notification> for Inbox {
    fn from_iter<T: IntoIterator<Item = Notification>>(iter: T) -> Self {
        let mut inbox = Inbox::new();
        for n in iter {
            inbox.upsert(n);
        }
        inbox
    }
}

impl Extend<Notification> for Inbox {
    fn extend<T: IntoIterator<Item = Notification>>(&mut self, iter: T) {
        for n in iter {
            self.upsert(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::Localized;
    use crate::testing::test;

    pub(super) fn note(id: &str, seq: u64, created_at: Millis) -> Notification {
        Notification {
            id: id.into(),
            seq,
            kind: "order.shipped".into(),
            category: Category::Order,
            priority: Priority::Normal,
            title: Localized {
                en: format!("Item {id}"),
                zh: String::new(),
            },
            body: Localized::default(),
            link: None,
            created_at,
            expires_at: None,
            collapse_key: None,
            state: ReadState::Unread,
            ingested_at: created_at,
        }
    }

    fn ids(page: &Page<'_>) -> Vec<String> {
        page.items.iter().map(|n| n.id.clone()).collect()
    }

    #[test]
    fn retention_drops_archived_then_oldest_read_then_oldest_unread() {
        let mut inbox = Inbox::new();
        // n0..n9, created in order; n2 and n7 archived, n1, n4 and n8 read.
        for i in 0..10u64 {
            let mut n = note(&format!("n{i}"), i + 1, 1_000 * i as Millis);
            n.state = match i {
                2 | 7 => ReadState::Archived,
                1 | 4 | 8 => ReadState::Read,
                _ => ReadState::Unread,
            };
            inbox.upsert(n);
        }
        assert!(inbox.over_retention(10).is_empty());
        assert!(inbox.over_retention(99).is_empty());
        assert_eq!(inbox.over_retention(9), vec!["n2"]);
        assert_eq!(inbox.over_retention(6), vec!["n2", "n7", "n1", "n4"]);
        assert_eq!(
            inbox.over_retention(3),
            vec!["n2", "n7", "n1", "n4", "n8", "n0", "n3"]
        );
        assert_eq!(inbox.over_retention(0).len(), 10);
        // Same created_at: the lower seq is older.
        let mut tie = Inbox::new();
        tie.upsert(note("late", 9, 5));
        tie.upsert(note("early", 3, 5));
        assert_eq!(tie.over_retention(1), vec!["early"]);
    }

    fn texts(en: &str, zh: &str, body_en: &str, body_zh: &str) -> Notification {
        let mut n = note(en, 1, 0);
        n.title = Localized {
            en: en.into(),
            zh: zh.into(),
        };
        n.body = Localized {
            en: body_en.into(),
            zh: body_zh.into(),
        };
        n
    }

    #[test]
    fn normalize_folds_case_accents_width_and_space() {
        assert_eq!(normalize("Crème BRÛLÉE"), "creme brulee");
        assert_eq!(normalize("Straße"), "strasse");
        assert_eq!(normalize("Ñandú Ça Øre Ålesund"), "nandu ca ore alesund");
        assert_eq!(normalize("Łódź Œuvre Ĳssel ſ"), "lodz oeuvre ijssel s");
        assert_eq!(normalize("ＡＢＣ　１２３！"), "abc 123!");
        assert_eq!(normalize("  a \t\n b  "), "a b");
        assert_eq!(normalize("e\u{301}te\u{301}"), "ete");
        assert_eq!(normalize("您的订单已发货"), "您的订单已发货");
        assert_eq!(normalize("İstanbul"), "istanbul");
        assert_eq!(normalize("ΣΟΦΙΑ"), "σοφια");
    }

    #[test]
    fn text_search_is_case_accent_and_locale_insensitive() {
        let items = vec![
            texts("Your Café order shipped", "您的订单已发货", "", ""),
            texts("Payment failed", "付款失败", "Card declined at Müller", ""),
            texts("Price drop", "", "", "降价了"),
        ];
        let inbox: Inbox = items.iter().cloned().collect();
        let find = |text: &str| {
            let q = Query {
                text: Some(text.into()),
                ..Query::default()
            };
            let mut a = ids(&inbox.query(&q, 0));
            let mut b = ids(&query_items(&items, &q, 0));
            a.sort();
            b.sort();
            assert_eq!(a, b, "inbox and slice engines disagree on {text:?}");
            a
        };
        assert_eq!(find("cafe"), vec!["Your Café order shipped"]);
        assert_eq!(find("CAFÉ"), vec!["Your Café order shipped"]);
        assert_eq!(find("发货"), vec!["Your Café order shipped"]);
        assert_eq!(find("mueller"), Vec::<String>::new());
        assert_eq!(find("muller"), vec!["Payment failed"]);
        assert_eq!(find("降价"), vec!["Price drop"]);
        assert_eq!(find("ｐａｙｍｅｎｔ"), vec!["Payment failed"]);
        // No match spans two fields.
        assert_eq!(find("shipped 您"), Vec::<String>::new());
        // Blank text filters nothing.
        assert_eq!(find("   ").len(), 3);
    }

    #[test]
    fn filters_by_category_state_priority_and_expiry() {
        let mut items = Vec::new();
        for (i, (cat, prio, state, exp)) in [
            (Category::Order, Priority::Low, ReadState::Unread, None),
            (Category::Payment, Priority::Urgent, ReadState::Read, None),
            (Category::Promo, Priority::High, ReadState::Archived, None),
            (
                Category::Order,
                Priority::High,
                ReadState::Unread,
                Some(100),
            ),
            (Category::Order, Priority::Normal, ReadState::Read, Some(50)),
        ]
        .into_iter()
        .enumerate()
        {
            let mut n = note(&format!("n{i}"), i as u64 + 1, i as Millis);
            n.category = cat;
            n.priority = prio;
            n.state = state;
            n.expires_at = exp;
            items.push(n);
        }
        let inbox: Inbox = items.iter().cloned().collect();
        let run = |q: Query, now| {
            let page = inbox.query(&q, now);
            assert_eq!(ids(&query_items(&items, &q, now)), ids(&page));
            (ids(&page), page.total_matching)
        };
        let (got, total) = run(Query::default(), 60);
        assert_eq!(
            (got, total),
            (vec!["n3".into(), "n1".into(), "n0".into()], 3)
        );
        let (got, _) = run(Query::default(), 10);
        assert_eq!(got, vec!["n4", "n3", "n1", "n0"]);
        let (got, _) = run(
            Query {
                state: StateFilter::All,
                categories: vec![Category::Order, Category::Promo],
                ..Query::default()
            },
            0,
        );
        assert_eq!(got, vec!["n4", "n3", "n2", "n0"]);
        let (got, _) = run(
            Query {
                state: StateFilter::Unread,
                ..Query::default()
            },
            0,
        );
        assert_eq!(got, vec!["n3", "n0"]);
        let (got, _) = run(
            Query {
                state: StateFilter::Archived,
                ..Query::default()
            },
            0,
        );
        assert_eq!(got, vec!["n2"]);
        let (got, _) = run(
            Query {
                min_priority: Some(Priority::High),
                state: StateFilter::All,
                ..Query::default()
            },
            0,
        );
        assert_eq!(got, vec!["n3", "n2", "n1"]);
    }

    #[test]
    fn sorts_by_priority_and_expiry() {
        let mut items = Vec::new();
        for (i, (prio, exp)) in [
            (Priority::Normal, None),
            (Priority::Urgent, Some(500)),
            (Priority::Normal, Some(300)),
            (Priority::Urgent, None),
            (Priority::Low, Some(300)),
        ]
        .into_iter()
        .enumerate()
        {
            let mut n = note(&format!("n{i}"), i as u64 + 1, 10 * i as Millis);
            n.priority = prio;
            n.expires_at = exp;
            items.push(n);
        }
        let q = |sort| Query {
            sort,
            ..Query::default()
        };
        let sorted = |sort| ids(&query_items(&items, &q(sort), 0));
        assert_eq!(sorted(Sort::Newest), vec!["n4", "n3", "n2", "n1", "n0"]);
        assert_eq!(sorted(Sort::Priority), vec!["n3", "n1", "n2", "n0", "n4"]);
        assert_eq!(
            sorted(Sort::ExpiringSoon),
            vec!["n4", "n2", "n1", "n3", "n0"]
        );
    }

    #[test]
    fn pages_with_cursors_and_survives_changes_between_pages() {
        let mut inbox: Inbox = (0..7).map(|i| note(&format!("n{i}"), i + 1, 100)).collect();
        let mut q = Query {
            limit: 3,
            ..Query::default()
        };
        let first = inbox.query(&q, 0);
        assert_eq!(ids(&first), vec!["n6", "n5", "n4"]);
        assert_eq!(first.total_matching, 7);
        let next = first.next.clone().unwrap();
        // Between pages a new item arrives and one already shown is removed:
        // the next page neither repeats nor skips anything.
        inbox.upsert(note("n7", 8, 100));
        inbox.remove("n5");
        q.cursor = Some(Cursor::parse(&next.to_string()).unwrap());
        let second = inbox.query(&q, 0);
        assert_eq!(ids(&second), vec!["n3", "n2", "n1"]);
        q.cursor = second.next.clone();
        let third = inbox.query(&q, 0);
        assert_eq!(ids(&third), vec!["n0"]);
        assert_eq!(third.next, None);
    }

    #[test]
    fn upsert_keeps_one_item_per_id_and_the_newest_seq() {
        let mut inbox = Inbox::new();
        assert_eq!(inbox.upsert(note("c:order:1", 5, 0)), Upsert::Inserted);
        let mut newer = note("c:order:1", 9, 10);
        newer.title.en = "Delivered".into();
        assert_eq!(inbox.upsert(newer), Upsert::Replaced);
        assert_eq!(inbox.upsert(note("c:order:1", 7, 5)), Upsert::Ignored);
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox.get("c:order:1").unwrap().title.en, "Delivered");
        assert_eq!(inbox.max_seq(), 9);
        assert_eq!(inbox.unread(), 1);
        // The replaced item's text is what is searched.
        let q = Query {
            text: Some("deliver".into()),
            ..Query::default()
        };
        assert_eq!(inbox.query(&q, 0).total_matching, 1);
    }

    #[test]
    fn unread_counts_follow_changes_and_removals() {
        let mut inbox = Inbox::new();
        for i in 0..4 {
            let mut n = note(&format!("n{i}"), i + 1, 0);
            if i % 2 == 1 {
                n.category = Category::Payment;
            }
            if i == 3 {
                n.expires_at = Some(50);
            }
            inbox.upsert(n);
        }
        assert_eq!(inbox.unread(), 4);
        assert_eq!(inbox.unread_in(Category::Payment), 2);
        let changed = inbox.apply_change(["n0", "n1", "missing"], ReadState::Read);
        assert_eq!(changed, vec!["n0", "n1"]);
        assert!(inbox.apply_change(["n0"], ReadState::Read).is_empty());
        assert_eq!(
            (
                inbox.unread_in(Category::Order),
                inbox.unread_in(Category::Payment)
            ),
            (1, 1)
        );
        inbox.apply_change(["n1"], ReadState::Unread);
        assert_eq!(inbox.unread_in(Category::Payment), 2);
        let removed = inbox.remove_expired(50);
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].id, "n3");
        assert_eq!(inbox.unread_in(Category::Payment), 1);
        assert_eq!(inbox.get("n2").map(|n| n.id.as_str()), Some("n2"));
        assert_eq!(inbox.mark_all_read(2), vec!["n1"]);
        assert_eq!(inbox.unread(), 1);
        assert_eq!(inbox.len(), 3);
    }

    #[test]
    fn parses_http_parameters() {
        let q = Query::from_params([
            ("category", "order, payment"),
            ("category", "order"),
            ("state", "unread"),
            ("min_priority", "high"),
            ("q", "发货"),
            ("sort", "expiring"),
            ("limit", "20"),
            ("token", "ignored"),
            ("cursor", ""),
        ])
        .unwrap();
        assert_eq!(q.categories, vec![Category::Order, Category::Payment]);
        assert_eq!(q.state, StateFilter::Unread);
        assert_eq!(q.min_priority, Some(Priority::High));
        assert_eq!(q.text.as_deref(), Some("发货"));
        assert_eq!(q.sort, Sort::ExpiringSoon);
        assert_eq!(q.limit, 20);
        assert_eq!(q.cursor, None);
        assert_eq!(Query::from_params(q.to_params()).unwrap(), q);
        assert_eq!(
            Query::from_params(Vec::<(&str, &str)>::new()).unwrap(),
            Query::default()
        );
        let c = Cursor::after(&note("x", 3, 4));
        let q = Query::from_params([("after", c.to_string())]).unwrap();
        assert_eq!(q.cursor, Some(c));
    }

    #[test]
    fn rejects_bad_parameters_naming_them() {
        for (params, name) in [
            (vec![("category", "order,shoes")], "category"),
            (vec![("state", "new")], "state"),
            (vec![("min_priority", "max")], "min_priority"),
            (vec![("sort", "oldest")], "sort"),
            (vec![("limit", "0")], "limit"),
            (vec![("limit", "201")], "limit"),
            (vec![("limit", "-1")], "limit"),
            (vec![("cursor", "!!!")], "cursor"),
            (vec![("sort", "newest"), ("sort", "priority")], "sort"),
            (vec![("cursor", "MQ"), ("after", "MQ")], "cursor"),
        ] {
            let err = Query::from_params(params.clone()).unwrap_err();
            assert!(err.to_string().contains(name), "{params:?}: {err}");
        }
        assert!(matches!(
            Query::from_params([("limit", "abc")]),
            Err(QueryError::Invalid { param: "limit", .. })
        ));
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let mut n = note("id|with|bars", 42, -7);
        n.expires_at = Some(99);
        n.priority = Priority::Urgent;
        let c = Cursor::after(&n);
        let text = c.to_string();
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(Cursor::parse(&text), Ok(c.clone()));
        assert_eq!(c.id(), "id|with|bars");
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Cursor>(&json).unwrap(), c);
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        assert_eq!(Cursor::parse("a+b/"), Err(CursorError::NotBase64));
        assert_eq!(Cursor::parse(&"A".repeat(5000)), Err(CursorError::TooLong));
        for bad in [
            "",
            "2|1|1||1|x",
            "1|x|1||1|x",
            "1|1|9||1|x",
            "1|1|1|z|1|x",
            "1|1|1||1",
        ] {
            assert_eq!(
                Cursor::parse(&enc(bad)),
                Err(CursorError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn page_serializes_for_the_history_api() {
        let items = vec![note("a", 1, 1), note("b", 2, 2)];
        let q = Query {
            limit: 1,
            ..Query::default()
        };
        let page = query_items(&items, &q, 0);
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(json["items"][0]["id"], "b");
        assert_eq!(json["total_matching"], 2);
        let next: Cursor = serde_json::from_value(json["next"].clone()).unwrap();
        assert_eq!(next.id(), "b");
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::tests::note;
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    fn arb_note() -> impl Strategy<Value = Notification> {
        (
            0u8..30,
            1u64..1000,
            0i64..20,
            0usize..8,
            0u8..4,
            0u8..3,
            prop::option::of(0i64..30),
            prop::sample::select(vec!["Café", "発送", "已发货", "ORDER", "Straße", "sale"]),
        )
            .prop_map(|(id, seq, created, cat, prio, state, exp, word)| {
                let mut n = note(&format!("n{id}"), seq, created);
                n.category = Category::ALL[cat];
                n.priority = [
                    Priority::Low,
                    Priority::Normal,
                    Priority::High,
                    Priority::Urgent,
                ][prio as usize];
                n.state = [ReadState::Unread, ReadState::Read, ReadState::Archived][state as usize];
                n.expires_at = exp;
                n.body.en = format!("{word} {id}");
                n
            })
    }

    fn arb_query() -> impl Strategy<Value = Query> {
        (
            prop::collection::vec(0usize..8, 0..3),
            0u8..5,
            prop::option::of(0u8..4),
            prop::option::of(prop::sample::select(vec![
                "cafe", "发货", "order", "SS", "x", "",
            ])),
            0u8..3,
            1usize..9,
        )
            .prop_map(|(cats, state, prio, text, sort, limit)| {
                let mut categories: Vec<Category> =
                    cats.into_iter().map(|c| Category::ALL[c]).collect();
                categories.dedup();
                Query {
                    categories,
                    state: [
                        StateFilter::Inbox,
                        StateFilter::Unread,
                        StateFilter::Read,
                        StateFilter::Archived,
                        StateFilter::All,
                    ][state as usize],
                    min_priority: prio.map(|p| {
                        [
                            Priority::Low,
                            Priority::Normal,
                            Priority::High,
                            Priority::Urgent,
                        ][p as usize]
                    }),
                    text: text.map(str::to_owned),
                    sort: [Sort::Newest, Sort::Priority, Sort::ExpiringSoon][sort as usize],
                    limit,
                    cursor: None,
                }
            })
    }

    /// The specification, written independently of the engine.
    fn reference<'a>(items: &'a [Notification], q: &Query, now: Millis) -> Vec<&'a Notification> {
        let needle = q.text.as_deref().map(normalize).unwrap_or_default();
        let mut out: Vec<&Notification> = items
            .iter()
            .filter(|n| q.categories.is_empty() || q.categories.contains(&n.category))
            .filter(|n| match q.state {
                StateFilter::Inbox => n.state != ReadState::Archived,
                StateFilter::Unread => n.state == ReadState::Unread,
                StateFilter::Read => n.state == ReadState::Read,
                StateFilter::Archived => n.state == ReadState::Archived,
                StateFilter::All => true,
            })
            .filter(|n| q.min_priority.is_none_or(|p| n.priority >= p))
            .filter(|n| n.expires_at.is_none_or(|e| e > now))
            .filter(|n| {
                needle.is_empty()
                    || [&n.title.en, &n.title.zh, &n.body.en, &n.body.zh]
                        .iter()
                        .any(|f| normalize(f).contains(&needle))
            })
            .collect();
        let newest = |a: &Notification, b: &Notification| {
            b.created_at.cmp(&a.created_at).then(b.seq.cmp(&a.seq))
        };
        out.sort_by(|a, b| {
            let primary = match q.sort {
                Sort::Newest => Ordering::Equal,
                Sort::Priority => b.priority.cmp(&a.priority),
                Sort::ExpiringSoon => match (a.expires_at, b.expires_at) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                },
            };
            primary.then(newest(a, b)).then(a.id.cmp(&b.id))
        });
        out
    }

    proptest! {
        /// Every page is exactly the next slice of the specified result, and
        /// following cursors yields each match once, in order.
        #[test]
        fn pages_are_the_specified_result(
            notes in prop::collection::vec(arb_note(), 0..60),
            mut q in arb_query(),
            now in 0i64..30,
        ) {
            let inbox: Inbox = notes.iter().cloned().collect();
            let stored: Vec<Notification> = inbox.iter().cloned().collect();
            let want: Vec<String> = reference(&stored, &q, now).iter().map(|n| n.id.clone()).collect();
            let mut got = Vec::new();
            let mut pages = 0;
            loop {
                let page = inbox.query(&q, now);
                let slice = query_items(&stored, &q, now);
                let prepared_text: Vec<String> = stored.iter().map(search_text).collect();
                let prepared = query_prepared(stored.iter().zip(prepared_text.iter().map(String::as_str)), &q, now);
                prop_assert_eq!(&page, &slice);
                prop_assert_eq!(&page, &prepared);
                prop_assert_eq!(page.total_matching, want.len());
                prop_assert!(page.items.len() <= q.limit);
                got.extend(page.items.iter().map(|n| n.id.clone()));
                pages += 1;
                prop_assert!(pages <= want.len() + 1);
                match page.next {
                    Some(c) => {
                        prop_assert_eq!(page.items.len(), q.limit);
                        q.cursor = Some(Cursor::parse(&c.to_string()).unwrap());
                    }
                    None => break,
                }
            }
            prop_assert_eq!(got, want);
        }

        /// Upsert keeps exactly one item per id: the one with the highest seq
        /// (the later arrival among equal seqs), and unread counts agree.
        #[test]
        fn upsert_keeps_one_per_id(notes in prop::collection::vec(arb_note(), 0..60)) {
            let inbox: Inbox = notes.iter().cloned().collect();
            let mut want: std::collections::BTreeMap<String, Notification> = Default::default();
            for n in &notes {
                if want.get(&n.id).is_none_or(|old| n.seq >= old.seq) {
                    want.insert(n.id.clone(), n.clone());
                }
            }
            prop_assert_eq!(inbox.len(), want.len());
            for (id, n) in &want {
                prop_assert_eq!(inbox.get(id), Some(n));
            }
            let unread = want.values().filter(|n| n.state == ReadState::Unread).count();
            prop_assert_eq!(inbox.unread(), unread);
            for c in Category::ALL {
                let want_c = want.values().filter(|n| n.state == ReadState::Unread && n.category == c).count();
                prop_assert_eq!(inbox.unread_in(c), want_c);
            }
        }

        /// Parameters round-trip, and no text makes the parsers panic.
        #[test]
        fn params_round_trip(q in arb_query(), junk in "\\PC{0,40}", key in "(category|state|min_priority|sort|limit|cursor|q)") {
            let q = Query { text: q.text.filter(|t| !t.is_empty()), ..q };
            prop_assert_eq!(Query::from_params(q.to_params()).unwrap(), q);
            let _ = Query::from_params([(key.as_str(), junk.as_str())]);
            let _ = Cursor::parse(&junk);
        }

        /// Normalizing is idempotent, so prepared text and needles agree.
        #[test]
        fn normalize_is_idempotent(s in "\\PC{0,40}") {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once.clone());
            prop_assert!(!once.contains('\n'));
        }
    }

    /// Not a pass/fail test: `cargo test -p tidings-core --release -- --ignored --nocapture bench_50k`.
    #[test]
    #[ignore]
    fn bench_50k() {
        let words = [
            "Your order has shipped",
            "Payment failed",
            "Back in stock",
            "Price drop on Café crème",
        ];
        let inbox: Inbox = (0..50_000u64)
            .map(|i| {
                let mut n = note(&format!("n{i}"), i + 1, (i * 7919 % 100_000) as Millis);
                n.title.en = format!("{} #{i}", words[(i % 4) as usize]);
                n.title.zh = "您的订单已发货".into();
                n.body.en = "Carrier UPS, tracking 1Z999AA10123456784".into();
                n.category = Category::ALL[(i % 8) as usize];
                n.priority = [
                    Priority::Low,
                    Priority::Normal,
                    Priority::High,
                    Priority::Urgent,
                ][(i % 4) as usize];
                n.expires_at = (i % 3 == 0).then_some(200_000 + i as Millis);
                n
            })
            .collect();
        let items: Vec<Notification> = inbox.iter().cloned().collect();
        for (name, q) in [
            ("all newest", Query::default()),
            (
                "priority",
                Query {
                    sort: Sort::Priority,
                    ..Query::default()
                },
            ),
            (
                "expiring",
                Query {
                    sort: Sort::ExpiringSoon,
                    ..Query::default()
                },
            ),
            (
                "text cafe",
                Query {
                    text: Some("cafe".into()),
                    ..Query::default()
                },
            ),
            (
                "text 发货 unread",
                Query {
                    text: Some("发货".into()),
                    state: StateFilter::Unread,
                    ..Query::default()
                },
            ),
            (
                "category",
                Query {
                    categories: vec![Category::Order],
                    ..Query::default()
                },
            ),
        ] {
            let t = std::time::Instant::now();
            let page = inbox.query(&q, 0);
            let inbox_ms = t.elapsed().as_secs_f64() * 1e3;
            let t = std::time::Instant::now();
            let slice = query_items(&items, &q, 0);
            let slice_ms = t.elapsed().as_secs_f64() * 1e3;
            assert_eq!(page.total_matching, slice.total_matching);
            println!(
                "{name}: inbox {inbox_ms:.2} ms, slice {slice_ms:.2} ms, {} matching",
                page.total_matching
            );
        }
    }
}
