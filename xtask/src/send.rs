//! `cargo xtask send <file.json>`: signs a file of events with the dev ingest
//! secret (from `crates/edge/.dev.vars`) and posts it to the local edge.
//!
//! The file holds a batch (`{"events":[…]}`), an array of events, or one
//! event. Events without an `id` get a fresh one and events without
//! `occurred_at` get the current time, so a demo file can be sent again and
//! again without being de-duplicated.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::{root, Res};

/// Reads `NAME=value` from `crates/edge/.dev.vars`.
pub(crate) fn dev_var(name: &str) -> Res<String> {
    let path = root().join("crates/edge/.dev.vars");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().to_owned())
        .ok_or_else(|| format!("{name} is not set in {}", path.display()))
}

pub(crate) fn run(args: &[String]) -> Res {
    let mut file = None;
    let mut edge = "http://127.0.0.1:8787".to_owned();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--edge" => edge = it.next().ok_or("--edge needs a URL")?.clone(),
            f if file.is_none() => file = Some(f.to_owned()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let file = file.ok_or("usage: cargo xtask send <file.json> [--edge URL]")?;
    let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("{file} is not JSON: {e}"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    let body = serde_json::to_vec(&fill(value, now.as_millis())).map_err(|e| e.to_string())?;
    let secret = dev_var("TIDINGS_INGEST_SECRET")?;
    let header =
        tidings_core::signature::sign_tidings(secret.as_bytes(), now.as_secs() as i64, &body);
    let url = format!("{}/v1/events", edge.trim_end_matches('/'));
    let resp = ureq::post(&url)
        .set("Content-Type", "application/json")
        .set("Tidings-Signature", &header)
        .send_bytes(&body);
    let (status, text) = match resp {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => {
            return Err(format!(
                "could not reach the edge at {url}: {e}; is `cargo xtask dev` running?"
            ))
        }
    };
    println!("{status} {text}");
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("the edge answered {status}"))
    }
}

/// Normalizes the file to a batch and fills missing ids and times.
pub(crate) fn fill(value: Value, now_ms: u128) -> Value {
    let events = match value {
        Value::Object(mut o) if o.contains_key("events") => {
            o.remove("events").unwrap_or(Value::Null)
        }
        Value::Array(a) => Value::Array(a),
        other => Value::Array(vec![other]),
    };
    let events = match events {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, mut e)| {
                if let Value::Object(o) = &mut e {
                    o.entry("id")
                        .or_insert_with(|| json!(format!("send-{now_ms}-{i}")));
                    o.entry("occurred_at")
                        .or_insert_with(|| json!((now_ms / 1000) as u64));
                }
                e
            })
            .collect(),
        other => other,
    };
    json!({ "events": events })
}
