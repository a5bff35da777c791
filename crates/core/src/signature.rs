//! Webhook signature schemes, all HMAC-SHA256 over the raw request bytes and
//! all compared in constant time.
//!
//! | scheme | header | value |
//! |---|---|---|
//! | Tidings | `Tidings-Signature` | `t=<unix>,v1=<hex hmac(secret, "<t>.<body>")>` |
//! | Stripe | `Stripe-Signature` | `t=<unix>,v1=<hex>[,v1=…][,v0=…]`, same message |
//! | Shopify | `X-Shopify-Hmac-Sha256` | base64 hmac(secret, body) |
//! | WooCommerce | `X-WC-Webhook-Signature` | base64 hmac(secret, body) |
//!
//! The body is never re-serialized: one changed byte (a space, a trailing
//! newline) must fail verification.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far (seconds) a timestamped signature may be from `now`, either way.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused. Every variant means "401, nothing stored".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature header is absent.
    #[error("the {0} header is missing; sign the request as described in the README")]
    Missing(&'static str),
    /// The header could not be parsed.
    #[error("the signature header is malformed: {0}")]
    Malformed(&'static str),
    /// The timestamp is too far from the edge's clock (replay or clock skew).
    #[error("the signature timestamp is {skew_secs} s away from now, more than the {tolerance_secs} s allowed; sign with the current time")]
    Expired {
        /// Signed time minus now, in seconds.
        skew_secs: i64,
        /// Allowed skew.
        tolerance_secs: i64,
    },
    /// No signature matched the body and the secret.
    #[error("the signature does not match the body; check the secret and sign the raw body bytes")]
    Mismatch,
}

impl SignatureError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::Missing(_) => "signature_missing",
            SignatureError::Malformed(_) => "signature_malformed",
            SignatureError::Expired { .. } => "signature_expired",
            SignatureError::Mismatch => "signature_mismatch",
        }
    }
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    HmacSha256::new_from_slice(secret).expect("HMAC takes any key length")
}

/// Raw HMAC-SHA256 of `parts` concatenated.
pub fn hmac_sha256(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = mac(secret);
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn verify_parts(secret: &[u8], parts: &[&[u8]], expected: &[u8]) -> bool {
    let mut m = mac(secret);
    for p in parts {
        m.update(p);
    }
    m.verify_slice(expected).is_ok()
}

/// Signs `body` at unix second `t` in Tidings' scheme; returns the header value.
pub fn sign_tidings(secret: &[u8], t: i64, body: &[u8]) -> String {
    let ts = t.to_string();
    format!(
        "t={ts},v1={}",
        hex::encode(hmac_sha256(secret, &[ts.as_bytes(), b".", body]))
    )
}

/// A parsed `t=…,v1=…` header (Tidings and Stripe share the layout).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Timestamped<'a> {
    t: i64,
    t_text: &'a str,
    v1: Vec<&'a str>,
}

fn parse_timestamped(header: &str) -> Result<Timestamped<'_>, SignatureError> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" => t = Some(v),
            "v1" => v1.push(v),
            _ => {} // v0 and unknown schemes are ignored, as Stripe's SDKs do.
        }
    }
    let t_text = t.ok_or(SignatureError::Malformed("no `t=` timestamp"))?;
    let t = t_text
        .parse::<i64>()
        .map_err(|_| SignatureError::Malformed("`t=` is not unix seconds"))?;
    if v1.is_empty() {
        return Err(SignatureError::Malformed("no `v1=` signature"));
    }
    Ok(Timestamped { t, t_text, v1 })
}

/// Verifies a `t=…,v1=…` header (Tidings and Stripe): any `v1` may match,
/// and `t` must be within `tolerance_secs` of `now_secs`.
pub fn verify_timestamped(
    secret: &[u8],
    header: Option<&str>,
    header_name: &'static str,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<i64, SignatureError> {
    let parsed = parse_timestamped(header.ok_or(SignatureError::Missing(header_name))?)?;
    let matched = parsed.v1.iter().any(|sig| match hex::decode(sig) {
        Ok(bytes) => verify_parts(secret, &[parsed.t_text.as_bytes(), b".", body], &bytes),
        Err(_) => false,
    });
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    let skew = parsed.t.saturating_sub(now_secs);
    if skew.saturating_abs() > tolerance_secs {
        return Err(SignatureError::Expired {
            skew_secs: skew,
            tolerance_secs,
        });
    }
    Ok(parsed.t)
}

/// Verifies Tidings' `Tidings-Signature` header; returns the signed unix second.
pub fn verify_tidings(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<i64, SignatureError> {
    verify_timestamped(
        secret,
        header,
        "Tidings-Signature",
        body,
        now_secs,
        DEFAULT_TOLERANCE_SECS,
    )
}

/// Verifies Stripe's `Stripe-Signature` header (secret is the whole `whsec_…` string).
pub fn verify_stripe(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<i64, SignatureError> {
    verify_timestamped(
        secret,
        header,
        "Stripe-Signature",
        body,
        now_secs,
        DEFAULT_TOLERANCE_SECS,
    )
}

/// Signs a body for a base64-over-body scheme (Shopify, WooCommerce).
pub fn sign_base64(secret: &[u8], body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret, &[body]))
}

fn verify_base64(
    secret: &[u8],
    header: Option<&str>,
    header_name: &'static str,
    body: &[u8],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing(header_name))?;
    let expected = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .map_err(|_| SignatureError::Malformed("not standard base64"))?;
    if verify_parts(secret, &[body], &expected) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Verifies Shopify's `X-Shopify-Hmac-Sha256` header.
pub fn verify_shopify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    verify_base64(secret, header, "X-Shopify-Hmac-Sha256", body)
}

/// Verifies WooCommerce's `X-WC-Webhook-Signature` header.
pub fn verify_woocommerce(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    verify_base64(secret, header, "X-WC-Webhook-Signature", body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;

    const SHOPIFY_PHP: &[u8] =
        include_bytes!("../../../fixtures/vectors/shopify_php_sdk_body.json");
    const SHOPIFY_JS: &[u8] = include_bytes!("../../../fixtures/vectors/shopify_js_sdk_body.json");
    const STRIPE_DOTNET: &[u8] =
        include_bytes!("../../../fixtures/vectors/stripe_dotnet_event_test_signature.json");
    const STRIPE_ODOO: &[u8] =
        include_bytes!("../../../fixtures/vectors/stripe_odoo_checkout_session_body.json");
    const WOO_378: &[u8] =
        include_bytes!("../../../fixtures/vectors/woocommerce_docs_delivery378_body.json");
    const WOO_380: &[u8] =
        include_bytes!("../../../fixtures/vectors/woocommerce_docs_delivery380_body.json");

    #[test]
    fn shopify_official_vectors() {
        verify_shopify(
            b"steffi",
            Some("/Redz4YXHLnSmmSN8grr5/Jl/Ua3d7yX3iWbjb8R8wo="),
            SHOPIFY_PHP,
        )
        .unwrap();
        verify_shopify(
            b"test_secret_key",
            Some("B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="),
            SHOPIFY_JS,
        )
        .unwrap();
        // The two bodies differ by one space: each signature fails on the other body.
        assert_eq!(
            verify_shopify(
                b"test_secret_key",
                Some("B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="),
                SHOPIFY_PHP
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_shopify(b"steffi", None, SHOPIFY_PHP),
            Err(SignatureError::Missing("X-Shopify-Hmac-Sha256"))
        );
        assert_eq!(
            verify_shopify(b"steffi", Some("%%%"), SHOPIFY_PHP)
                .unwrap_err()
                .code(),
            "signature_malformed"
        );
    }

    #[test]
    fn stripe_official_vectors() {
        let h = "t=1533204620,v1=2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7,v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef";
        assert_eq!(
            verify_stripe(b"webhook_secret", Some(h), STRIPE_DOTNET, 1533204620 + 100),
            Ok(1533204620)
        );
        assert_eq!(
            verify_stripe(b"webhook_secret", Some(h), STRIPE_DOTNET, 1533204620 + 400)
                .unwrap_err()
                .code(),
            "signature_expired"
        );
        // Dropping the trailing newline must break it: the raw bytes are signed.
        let trimmed = &STRIPE_DOTNET[..STRIPE_DOTNET.len() - 1];
        assert_eq!(
            verify_stripe(b"webhook_secret", Some(h), trimmed, 1533204620),
            Err(SignatureError::Mismatch)
        );
        let odoo = "t=1591264652,v1=1f0d3e035d8de956396b1d91727267fbbf483253e7702e46357b4d2bfa078ba4,v0=20d76342f4704d49f8f89db03acff7cf04afa48ca70a22d608b4649b332c1f51";
        verify_stripe(
            b"whsec_vG1fL6CMUouQ7cObF2VJprLVXT5jBLxB",
            Some(odoo),
            STRIPE_ODOO,
            1591264652,
        )
        .unwrap();
        // An extra unreadable v1 (secret rolling) still verifies.
        let rolled = format!("t=1591264652,v1=bad_signature,{}", &odoo[13..]);
        verify_stripe(
            b"whsec_vG1fL6CMUouQ7cObF2VJprLVXT5jBLxB",
            Some(&rolled),
            STRIPE_ODOO,
            1591264652,
        )
        .unwrap();
    }

    #[test]
    fn woocommerce_official_vectors() {
        verify_woocommerce(
            b"my-super-secret-private-key",
            Some("geC1akFhCtsO7fbXz5XiGUsMsRa4Mt0IJsZ96nTaHjI="),
            WOO_378,
        )
        .unwrap();
        verify_woocommerce(
            b"my-super-secret-private-key",
            Some("st4egVCTwG1JMfxmxe7MZYEuj9Y6Euge4SOTNfCUCWY="),
            WOO_380,
        )
        .unwrap();
        assert!(verify_woocommerce(
            b"other",
            Some("st4egVCTwG1JMfxmxe7MZYEuj9Y6Euge4SOTNfCUCWY="),
            WOO_380
        )
        .is_err());
    }

    #[test]
    fn tidings_round_trip_and_failures() {
        let body = br#"{"events":[]}"#;
        let h = sign_tidings(b"s3cret", 1_000, body);
        assert_eq!(verify_tidings(b"s3cret", Some(&h), body, 1_000), Ok(1_000));
        assert_eq!(verify_tidings(b"s3cret", Some(&h), body, 1_299), Ok(1_000));
        assert_eq!(
            verify_tidings(b"s3cret", Some(&h), body, 1_301)
                .unwrap_err()
                .code(),
            "signature_expired"
        );
        assert_eq!(
            verify_tidings(b"s3cret", Some(&h), body, 699)
                .unwrap_err()
                .code(),
            "signature_expired"
        );
        assert_eq!(
            verify_tidings(b"wrong", Some(&h), body, 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_tidings(b"s3cret", Some(&h), b"{}", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_tidings(b"s3cret", Some("v1=00"), body, 1_000)
                .unwrap_err()
                .code(),
            "signature_malformed"
        );
        assert_eq!(
            verify_tidings(b"s3cret", Some("t=1"), body, 1_000)
                .unwrap_err()
                .code(),
            "signature_malformed"
        );
        assert_eq!(
            verify_tidings(b"s3cret", None, body, 1_000)
                .unwrap_err()
                .code(),
            "signature_missing"
        );
    }
}
