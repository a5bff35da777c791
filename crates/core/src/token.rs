//! Subscriber tokens: standard JWTs signed with HS256.
//!
//! A store backend mints one per shopper session with any JWT library
//! (`{"sub":"<user id>","exp":<unix seconds>}`, HS256, the shared
//! `TIDINGS_SUBSCRIBER_SECRET`); the edge verifies it on every connect and
//! every HTTP call. Only HS256 is accepted: `alg: none` and every other
//! algorithm are refused, whatever the signature says.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::signature::hmac_sha256;

/// Claims Tidings reads from a subscriber token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id the token speaks for.
    pub sub: String,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Optional audience; when the edge is configured with one, it must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Optional role, e.g. `ops` for the operators' view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// Why a token was refused. Every variant means "401, sign in again".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts, or a part is not JSON.
    #[error("token is not a well-formed JWT")]
    Malformed,
    /// The header names an algorithm other than HS256 (including `none`).
    #[error("token algorithm `{0}` is not accepted; sign with HS256")]
    Algorithm(String),
    /// The signature does not match the secret.
    #[error("token signature does not match")]
    BadSignature,
    /// `exp` is in the past.
    #[error("token expired; mint a new one")]
    Expired,
    /// `aud` does not match the configured audience.
    #[error("token audience does not match")]
    Audience,
    /// `sub` is empty.
    #[error("token has an empty `sub`")]
    NoSubject,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

/// Mints an HS256 JWT for `claims`.
pub fn mint(secret: &[u8], claims: &Claims) -> String {
    let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    // Serializing a struct of strings and integers cannot fail.
    let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let signing_input = format!("{header}.{payload}");
    let sig = B64.encode(hmac_sha256(secret, &[signing_input.as_bytes()]));
    format!("{signing_input}.{sig}")
}

/// Verifies an HS256 JWT at `now_secs`; `audience` must match `aud` when given.
pub fn verify(
    secret: &[u8],
    token: &str,
    now_secs: i64,
    audience: Option<&str>,
) -> Result<Claims, TokenError> {
    let mut parts = token.trim().split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: Header = B64
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)?;
    if header.alg != "HS256" {
        return Err(TokenError::Algorithm(header.alg.chars().take(16).collect()));
    }
    let sig = B64.decode(s).map_err(|_| TokenError::Malformed)?;
    let signing_input_len = h.len() + 1 + p.len();
    let signing_input = &token.trim()[..signing_input_len];
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(secret)
        .expect("HMAC takes any key length");
    hmac::Mac::update(&mut mac, signing_input.as_bytes());
    hmac::Mac::verify_slice(mac, &sig).map_err(|_| TokenError::BadSignature)?;
    let claims: Claims = B64
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)?;
    if claims.sub.is_empty() {
        return Err(TokenError::NoSubject);
    }
    if claims.exp <= now_secs {
        return Err(TokenError::Expired);
    }
    if let Some(want) = audience {
        if claims.aud.as_deref() != Some(want) {
            return Err(TokenError::Audience);
        }
    }
    Ok(claims)
}

/// The `sub` of a token *without* verifying it: only for naming local
/// storage in the browser, never for authorization.
pub fn peek_subject(token: &str) -> Option<String> {
    peek_claim(token, "sub")
}

/// Reads the `role` claim **without verifying** the token: for a client
/// choosing which view to show (the edge verifies every use).
pub fn peek_role(token: &str) -> Option<String> {
    peek_claim(token, "role")
}

/// A string claim of an unverified token, read without serde (this runs in the browser).
fn peek_claim(token: &str, name: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let text = String::from_utf8(B64.decode(payload).ok()?).ok()?;
    let claims = crate::wire::parse(&text).ok()?;
    claims.get(name)?.as_str().map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "u1".into(),
            exp,
            aud: None,
            role: None,
        }
    }

    #[test]
    fn round_trip() {
        let t = mint(b"k", &claims(100));
        assert_eq!(verify(b"k", &t, 99, None).unwrap().sub, "u1");
        assert_eq!(verify(b"k", &t, 100, None), Err(TokenError::Expired));
        assert_eq!(verify(b"other", &t, 0, None), Err(TokenError::BadSignature));
        assert_eq!(verify(b"k", &t, 0, Some("shop")), Err(TokenError::Audience));
        let with_aud = mint(
            b"k",
            &Claims {
                aud: Some("shop".into()),
                ..claims(100)
            },
        );
        assert!(verify(b"k", &with_aud, 0, Some("shop")).is_ok());
        assert_eq!(peek_subject(&t).as_deref(), Some("u1"));
        assert_eq!(peek_subject("junk"), None);
        assert_eq!(peek_role(&t), None);
        let ops = mint(
            b"k",
            &Claims {
                role: Some("ops".into()),
                ..claims(10)
            },
        );
        assert_eq!(peek_role(&ops).as_deref(), Some("ops"));
    }

    #[test]
    fn verifies_a_token_from_jwt_io() {
        // The well-known example token of jwt.io, secret "your-256-bit-secret".
        let t = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        // It has no `exp`, so it is malformed for Tidings, but only after the signature held.
        assert_eq!(
            verify(b"your-256-bit-secret", t, 0, None),
            Err(TokenError::Malformed)
        );
        assert_eq!(verify(b"wrong", t, 0, None), Err(TokenError::BadSignature));
    }

    #[test]
    fn refuses_other_algorithms() {
        let payload = B64.encode(br#"{"sub":"u1","exp":9999999999}"#);
        for alg in ["none", "HS512", "RS256"] {
            let header = B64.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
            let t = format!("{header}.{payload}.");
            assert_eq!(
                verify(b"k", &t, 0, None),
                Err(TokenError::Algorithm(alg.into()))
            );
        }
        for junk in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(verify(b"k", junk, 0, None), Err(TokenError::Malformed));
        }
    }
}
