//! Redaction of secrets and personal data from payloads shown to operators.
//!
//! The ops page lists recently rejected events with their payload, so an
//! operator can see what a producer sent wrong. Those payloads come from
//! store backends and often carry a shopper's email, phone, name or address,
//! and sometimes a token. [`payload_excerpt`] turns a raw body into a short
//! text in which such values are replaced by [`REDACTED`]:
//!
//! - in JSON, the value of every key that names a secret or a personal field
//!   (`email`, `phone`, `password`, `token`, `secret`, `signature`, `address…`,
//!   `first_name`, `card…`, …, compared without case, `_` or `-`), whatever its
//!   type, and `name` inside a person-like object (`customer`, `billing`,
//!   `shipping`, `billing_details`, …); email addresses and `+`-prefixed phone
//!   numbers inside any other string;
//! - in text that is not JSON, email addresses, phone numbers and long digit
//!   runs (card numbers).
//!
//! The result is cut to a bounded number of characters. Redaction errs on
//! the side of hiding: a product called "Email Marketing Kit" keeps its name,
//! but its `email_template` field would be hidden.

use serde_json::Value;

/// What replaces a redacted value.
pub const REDACTED: &str = "[redacted]";
/// Default length of a payload excerpt, in characters.
pub const EXCERPT_CHARS: usize = 2048;

/// Key fragments (lowercase, without `_`/`-`) whose values are always hidden.
const SENSITIVE: [&str; 22] = [
    "email",
    "phone",
    "password",
    "passwd",
    "secret",
    "token",
    "signature",
    "apikey",
    "authorization",
    "cookie",
    "card",
    "cvc",
    "cvv",
    "iban",
    "ssn",
    "address",
    "firstname",
    "lastname",
    "fullname",
    "zip",
    "postcode",
    "postalcode",
];

/// Objects that describe a person: their `name` is personal too.
const PERSON_OBJECTS: [&str; 14] = [
    "customer",
    "billing",
    "shipping",
    "billingdetails",
    "customerdetails",
    "shippingdetails",
    "owner",
    "recipient",
    "destination",
    "buyer",
    "contact",
    "user",
    "holder",
    "accountholder",
];

/// `…name` keys that name things, not people (`product_name`, `shop_name`, …).
const THING_NAMES: [&str; 24] = [
    "product",
    "item",
    "variant",
    "sku",
    "shop",
    "store",
    "carrier",
    "event",
    "topic",
    "plan",
    "price",
    "tax",
    "discount",
    "service",
    "file",
    "host",
    "domain",
    "brand",
    "category",
    "collection",
    "vendor",
    "method",
    "gateway",
    "coupon",
];

/// A `…name` key other than `name` itself that is not a thing's name
/// (`customer_name`, `account_holder_name`, `username`, `display_name`).
fn is_person_name_key(normalized: &str) -> bool {
    match normalized.strip_suffix("name") {
        Some(prefix) if !prefix.is_empty() => !THING_NAMES.iter().any(|t| prefix.ends_with(t)),
        _ => false,
    }
}

fn normalized(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// `true` when the value under `key` must never be shown.
pub fn is_sensitive_key(key: &str) -> bool {
    let k = normalized(key);
    k == "ip"
        || k == "browserip"
        || SENSITIVE.iter().any(|s| k.contains(s))
        || is_person_name_key(&k)
}

/// Redacts a JSON value in place (see the module documentation).
pub fn redact_json(value: &mut Value) {
    redact_in(value, false, 0);
}

fn redact_in(value: &mut Value, person: bool, depth: usize) {
    // serde_json's parser stops at depth 128; this is a backstop for built values.
    if depth > 256 {
        *value = Value::String(REDACTED.into());
        return;
    }
    match value {
        Value::Object(map) => {
            // A Stripe customer object (`"object": "customer"`) is a person.
            let person = person
                || map
                    .get("object")
                    .and_then(Value::as_str)
                    .is_some_and(|o| o == "customer" || o == "account");
            for (key, v) in map.iter_mut() {
                let k = normalized(key);
                if is_sensitive_key(key) || (person && k == "name") {
                    if !v.is_null() {
                        *v = Value::String(REDACTED.into());
                    }
                } else {
                    let child_person = PERSON_OBJECTS.contains(&k.as_str());
                    redact_in(v, child_person, depth + 1);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| redact_in(v, person, depth + 1)),
        Value::String(s) => {
            let cleaned = redact_emails_and_phones(s);
            if cleaned != *s {
                *s = cleaned;
            }
        }
        _ => {}
    }
}

/// Replaces email addresses and phone numbers (`+` then at least 8 digits,
/// spaces, dashes or parentheses) in free text.
fn redact_emails_and_phones(text: &str) -> String {
    redact_tokens(text, false)
}

/// Redacts free text that is not JSON (a truncated or malformed body): the
/// value after any `"key":` whose key is sensitive — `name` included, as the
/// context is unknown —, then emails, phones and digit runs of 12 or more.
pub fn redact_text(text: &str) -> String {
    redact_tokens(&redact_keyed_values(text), true)
}

/// Replaces the value after each sensitive `"key":` in JSON-like text.
fn redact_keyed_values(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '"' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // A quoted string: copy it, then see whether it is a key.
        let end = string_end(&chars, i);
        let literal: String = chars[i..end].iter().collect();
        out.push_str(&literal);
        i = end;
        let key = literal.trim_matches('"');
        let mut j = i;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        if j < chars.len()
            && chars[j] == ':'
            && (is_sensitive_key(key) || normalized(key) == "name")
        {
            let mut v = j + 1;
            while v < chars.len() && chars[v].is_whitespace() {
                v += 1;
            }
            let value_end = match chars.get(v) {
                Some('"') => string_end(&chars, v),
                Some('{') | Some('[') => bracket_end(&chars, v),
                Some(_) => (v..chars.len())
                    .find(|&k| matches!(chars[k], ',' | '}' | ']' | '\n'))
                    .unwrap_or(chars.len()),
                None => v,
            };
            out.extend(&chars[i..v]);
            out.push('"');
            out.push_str(REDACTED);
            out.push('"');
            i = value_end;
        }
    }
    out
}

/// Index just after the string literal opening at `start` (or the end of the text).
fn string_end(chars: &[char], start: usize) -> usize {
    let mut k = start + 1;
    while k < chars.len() {
        match chars[k] {
            '\\' => k += 2,
            '"' => return k + 1,
            _ => k += 1,
        }
    }
    chars.len()
}

/// Index just after the bracket that closes the one at `start` (or the end of the text).
fn bracket_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0usize;
    let mut k = start;
    while k < chars.len() {
        match chars[k] {
            '"' => {
                k = string_end(chars, k);
                continue;
            }
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
        k += 1;
    }
    chars.len()
}

fn is_email(word: &str) -> bool {
    let word = word.trim_matches(|c: char| !c.is_alphanumeric());
    match word.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        }
        None => false,
    }
}

fn redact_tokens(text: &str, long_digits: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // A phone: `+` followed by digits and separators with at least 8 digits.
        if c == '+' || (long_digits && c.is_ascii_digit()) {
            let start = i + usize::from(c == '+');
            let mut j = start;
            let mut digits = 0;
            while j < chars.len()
                && (chars[j].is_ascii_digit() || matches!(chars[j], ' ' | '-' | '(' | ')'))
            {
                digits += usize::from(chars[j].is_ascii_digit());
                j += 1;
            }
            // Do not swallow a trailing separator.
            while j > start && !chars[j - 1].is_ascii_digit() {
                j -= 1;
            }
            let enough = if c == '+' { digits >= 8 } else { digits >= 12 };
            let starts_word = i == 0 || !chars[i - 1].is_alphanumeric();
            if enough && starts_word {
                out.push_str(REDACTED);
                i = j;
                continue;
            }
        }
        // An email: the whitespace-delimited word around an `@`.
        if !c.is_whitespace() && (i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == '"') {
            let mut j = i;
            while j < chars.len() && !chars[j].is_whitespace() && chars[j] != '"' {
                j += 1;
            }
            let word: String = chars[i..j].iter().collect();
            if word.contains('@') && is_email(&word) {
                // Keep surrounding punctuation such as `<…>` or a trailing comma.
                let lead: String = word.chars().take_while(|c| !c.is_alphanumeric()).collect();
                let trail: String = {
                    let t: Vec<char> = word
                        .chars()
                        .rev()
                        .take_while(|c| !c.is_alphanumeric())
                        .collect();
                    t.into_iter().rev().collect()
                };
                out.push_str(&lead);
                out.push_str(REDACTED);
                out.push_str(&trail);
                i = j;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Cuts `text` to at most `max_chars` characters, marking a cut with `…`.
pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => {
            let mut s = text[..cut].to_owned();
            s.push('…');
            s
        }
        None => text.to_owned(),
    }
}

/// A redacted, bounded text of a raw body: compact JSON with sensitive
/// values replaced when it parses, otherwise redacted text (invalid UTF-8 is
/// shown with replacement characters).
pub fn payload_excerpt(body: &[u8], max_chars: usize) -> String {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            redact_json(&mut value);
            value.to_string()
        }
        Err(_) => redact_text(&String::from_utf8_lossy(body)),
    };
    truncate_chars(&text, max_chars)
}

/// Like [`payload_excerpt`], for a value already parsed.
pub fn value_excerpt(value: &Value, max_chars: usize) -> String {
    let mut value = value.clone();
    redact_json(&mut value);
    truncate_chars(&value.to_string(), max_chars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;
    use serde_json::json;

    #[test]
    fn hides_personal_and_secret_fields_at_any_depth() {
        let mut v = json!({
            "id": "evt-1",
            "type": "order.shipped",
            "data": {
                "order_number": "#1001",
                "customer": {"id": 7, "email": "ann@example.com", "first_name": "Ann",
                             "name": "Ann Lee", "phone": "+1 555 0100 200"},
                "billing_address": {"address1": "1 Main St", "zip": "10001"},
                "line_items": [{"name": "Linen Shirt", "sku": "LS-M"}],
                "api_token": "tok_123",
                "note": "call me at ann@example.com or +44 20 7946 0958, thanks",
                "Customer-Email": null,
            }
        });
        redact_json(&mut v);
        let d = &v["data"];
        assert_eq!(d["order_number"], "#1001");
        assert_eq!(d["customer"]["id"], 7);
        for hidden in [
            &d["customer"]["email"],
            &d["customer"]["first_name"],
            &d["customer"]["name"],
            &d["customer"]["phone"],
            &d["billing_address"],
            &d["api_token"],
        ] {
            assert_eq!(hidden, REDACTED);
        }
        assert_eq!(
            d["line_items"][0]["name"], "Linen Shirt",
            "product names stay"
        );
        assert_eq!(
            d["note"], "call me at [redacted] or [redacted], thanks",
            "emails and phones inside free text"
        );
        assert!(d["Customer-Email"].is_null(), "null stays null");
    }

    #[test]
    fn keeps_ids_and_numbers_that_are_not_personal() {
        let mut v = json!({"admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
                           "total": "42.00", "order_id": 820982911946154508u64});
        let before = v.clone();
        redact_json(&mut v);
        assert_eq!(v, before);
    }

    #[test]
    fn text_that_is_not_json_is_redacted_too() {
        let body = b"{\"events\":[{\"email\":\"bob@shop.test\", card 4242 4242 4242 4242 oops";
        let text = payload_excerpt(body, EXCERPT_CHARS);
        assert!(!text.contains("bob@shop.test"), "{text}");
        assert!(!text.contains("4242 4242"), "{text}");
        assert!(text.contains("card [redacted] oops"), "{text}");
        assert_eq!(redact_text("order 1001 shipped"), "order 1001 shipped");
    }

    #[test]
    fn a_malformed_body_hides_values_after_sensitive_keys() {
        let body = br##"{"events":[{"data":{"customer":{"name":"Ann Lee","address1":"1 Main St"},"api_token":"tok_1","items":[{"sku":"LS-M"}],"shipping_address":{"city":"Oslo","zip":"0150"},"order_number":"#1001""##;
        let text = payload_excerpt(body, EXCERPT_CHARS);
        for secret in ["Ann Lee", "1 Main St", "tok_1", "Oslo", "0150"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(
            text.contains(r#""sku":"LS-M""#) && text.contains("#1001"),
            "{text}"
        );
        assert!(text.contains(r#""name":"[redacted]""#), "{text}");
        // Cut in the middle of a sensitive value: hidden to the end.
        let cut = payload_excerpt(br#"{"email":"ann@exa"#, 100);
        assert_eq!(cut, r#"{"email":"[redacted]""#);
        assert_eq!(
            redact_text(r#"{"phone": 5550100, "ok": 1}"#),
            r#"{"phone": "[redacted]", "ok": 1}"#
        );
    }

    #[test]
    fn names_of_people_are_hidden_names_of_things_are_not() {
        let mut v = json!({
            "object": {"object": "customer", "id": "cus_1", "name": "Ann Lee"},
            "customer_name": "Ann Lee", "account_holder_name": "Ann Lee", "username": "ann",
            "buyer": {"name": "Ann Lee"},
            "product_name": "Linen Shirt", "shop_name": "Harbor", "variant_name": "M",
            "line_items": [{"name": "Linen Shirt"}],
        });
        redact_json(&mut v);
        assert_eq!(v["object"]["name"], REDACTED);
        assert_eq!(v["object"]["id"], "cus_1");
        for k in ["customer_name", "account_holder_name", "username"] {
            assert_eq!(v[k], REDACTED, "{k}");
        }
        assert_eq!(v["buyer"]["name"], REDACTED);
        assert_eq!(v["product_name"], "Linen Shirt");
        assert_eq!(v["shop_name"], "Harbor");
        assert_eq!(v["variant_name"], "M");
        assert_eq!(v["line_items"][0]["name"], "Linen Shirt");
    }

    #[test]
    fn excerpts_are_bounded_and_marked() {
        let body = serde_json::to_vec(&json!({"note": "x".repeat(5000)})).unwrap();
        let text = payload_excerpt(&body, 100);
        assert_eq!(text.chars().count(), 101);
        assert!(text.ends_with('…'));
        assert_eq!(truncate_chars("订单已发货", 2), "订单…");
        assert_eq!(truncate_chars("short", 10), "short");
    }

    #[test]
    fn invalid_utf8_is_shown_not_refused() {
        let text = payload_excerpt(&[0xff, 0xfe, b'h', b'i'], 50);
        assert!(text.ends_with("hi"), "{text}");
    }
}
