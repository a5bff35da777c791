//! Calls into Durable Objects over the plain JavaScript `fetch` of their stub.
//!
//! workers-rs's `Stub::fetch_with_request` wraps both ends: building a
//! `worker::Request` reads the request's `cf` properties, the answer becomes a
//! `worker::Response` whose body is read chunk by chunk through a stream
//! reader, and turning it back into a `web_sys::Response` builds a new one. On
//! the ingest path that is several JavaScript round trips per Inbox call; a
//! CPU profile under load put those wrappers at about a tenth of the Worker's
//! time (BENCHMARKS.md). Here the request is a `web_sys::Request` with a text
//! body and the answer is read with one `text()` promise.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::js_sys::Promise;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{web_sys, worker_sys, Env, Result};

/// A Durable Object's answer: its status and body text.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body as text.
    pub text: String,
}

/// POSTs `body` to `url` on the object named `name` of the namespace bound as `binding`.
pub async fn post(env: &Env, binding: &str, name: &str, url: &str, body: &str) -> Result<Answer> {
    let namespace = env.durable_object(binding)?;
    let namespace: &worker_sys::DurableObjectNamespace = namespace.as_ref().unchecked_ref();
    let stub = namespace.get_by_name(name)?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    let request = web_sys::Request::new_with_str_and_init(url, &init)?;
    let answer: web_sys::Response = JsFuture::from(stub.fetch_with_request(&request)?)
        .await?
        .dyn_into()?;
    let text: Promise = answer.text()?;
    let text = JsFuture::from(text).await?.as_string().unwrap_or_default();
    Ok(Answer {
        status: answer.status(),
        text,
    })
}

/// POSTs `body` as JSON and reads a JSON answer; any status but 200 is an
/// error naming the object's answer.
pub async fn post_json<T: DeserializeOwned>(
    env: &Env,
    binding: &str,
    name: &str,
    url: &str,
    body: &impl Serialize,
) -> Result<T> {
    let answer = post(env, binding, name, url, &serde_json::to_string(body)?).await?;
    if answer.status != 200 {
        return Err(worker::Error::RustError(format!(
            "{url} answered {}: {}",
            answer.status, answer.text
        )));
    }
    serde_json::from_str(&answer.text).map_err(|e| {
        worker::Error::RustError(format!("{url} answered JSON of an unexpected shape: {e}"))
    })
}
