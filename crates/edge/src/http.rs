//! JSON responses and errors with a code, a sentence and what to do next.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Headers, Request, Response, Result};

/// A request's JSON body, parsed in Rust: one `text()` promise, then `serde_json`.
/// workers-rs's `Request::json` runs `JSON.parse` and then converts the JavaScript
/// object field by field across the wasm boundary, a measurable share of every
/// Durable Object call (BENCHMARKS.md).
pub async fn request_json<T: DeserializeOwned>(req: &mut Request) -> Result<T> {
    let text = req.text().await?;
    serde_json::from_str(&text)
        .map_err(|e| worker::Error::RustError(format!("the body is not the expected JSON: {e}")))
}

/// A JSON response with a status.
pub fn json<T: Serialize>(status: u16, body: &T) -> Result<Response> {
    Ok(Response::from_json(body)?.with_status(status))
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

/// `{"error":{"code","message"}}` with a status.
pub fn error(status: u16, code: &str, message: &str) -> Result<Response> {
    json(
        status,
        &ErrorBody {
            error: ErrorDetail { code, message },
        },
    )
}

/// Adds CORS headers when `origin` is allowed. A response passed through from a Durable
/// Object has immutable headers: it gets a copy of them that takes the CORS ones.
pub fn with_cors(mut resp: Response, origin: Option<&str>, allowed: &[String]) -> Response {
    let Some(origin) = origin.filter(|o| allowed.iter().any(|a| a == o || a == "*")) else {
        return resp;
    };
    if set_cors(resp.headers_mut(), origin).is_err() {
        let copy = Headers::new();
        for (name, value) in resp.headers().entries() {
            let _ = copy.set(&name, &value);
        }
        let _ = set_cors(&copy, origin);
        resp = resp.with_headers(copy);
    }
    resp
}

fn set_cors(h: &Headers, origin: &str) -> Result<()> {
    h.set("Access-Control-Allow-Origin", origin)?;
    h.set("Vary", "Origin")?;
    h.set(
        "Access-Control-Allow-Headers",
        "Authorization, Content-Type",
    )?;
    h.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
}

/// The request's body, or `Err(size)` when it is over `limit` bytes; a declared
/// `Content-Length` over the limit is refused before the body is read.
pub async fn body_within(
    req: &mut Request,
    limit: usize,
) -> Result<std::result::Result<Vec<u8>, usize>> {
    let declared = req
        .headers()
        .get("Content-Length")?
        .and_then(|l| l.parse::<usize>().ok());
    if let Some(len) = declared.filter(|len| *len > limit) {
        return Ok(Err(len));
    }
    let body = req.bytes().await?;
    Ok(if body.len() > limit {
        Err(body.len())
    } else {
        Ok(body)
    })
}
