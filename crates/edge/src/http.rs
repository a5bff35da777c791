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

/// Adds CORS headers when `origin` is allowed.
pub fn with_cors(mut resp: Response, origin: Option<&str>, allowed: &[String]) -> Response {
    if let Some(origin) = origin {
        if allowed.iter().any(|a| a == origin || a == "*") {
            let h: &mut Headers = resp.headers_mut();
            let _ = h.set("Access-Control-Allow-Origin", origin);
            let _ = h.set("Vary", "Origin");
            let _ = h.set(
                "Access-Control-Allow-Headers",
                "Authorization, Content-Type",
            );
            let _ = h.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        }
    }
    resp
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
