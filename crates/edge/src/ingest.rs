//! `POST /v1/events`: verify → decode → rules → inboxes → one verdict per event.
//!
//! A bad event never spoils the batch: it gets a `rejected` verdict naming
//! its code, path and what to fix, while the good ones are stored. A bad
//! signature stores nothing (401).

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use tidings_core::event::Event;
use tidings_core::ingest::{decode_batch, BatchError, Limits, Rejection, Verdict};
use tidings_core::route::Audience;
use tidings_core::rules::RuleSet;
use tidings_core::signature;
use worker::{Context, Env, Request, Response, Result};

use crate::config::{self, names};
use crate::http::{error, json};
use crate::inbox::{DeliverRequest, DeliverResponse, Delivery};
use crate::now_ms;
use crate::stats::{self, Report};
use tidings_core::time::Millis;

/// The source name of `POST /v1/events` in the ops view.
const SOURCE: &str = "events";

/// The 202 body: one verdict per event, in order.
#[derive(Debug, Serialize, Deserialize)]
pub struct IngestResponse {
    /// Verdicts, in the order of the batch.
    pub results: Vec<Verdict>,
    /// How many were accepted.
    pub accepted: usize,
    /// How many were duplicates.
    pub duplicates: usize,
    /// How many were rejected.
    pub rejected: usize,
}

/// Handles `POST /v1/events`.
pub async fn own_format(req: &mut Request, env: &Env, ctx: &Context) -> Result<Response> {
    let limits = Limits::default();
    let body = match crate::http::body_within(req, limits.max_body_bytes).await? {
        Ok(body) => body,
        Err(size) => return too_large(env, ctx, size, &limits),
    };
    let Some(secret) = config::secret(env, names::INGEST) else {
        return error(
            500,
            "not_configured",
            "TIDINGS_INGEST_SECRET is not set; add it with `wrangler secret put`",
        );
    };
    let now = now_ms();
    let header = req.headers().get("Tidings-Signature")?;
    if let Err(e) =
        signature::verify_tidings(secret.as_bytes(), header.as_deref(), &body, now / 1000)
    {
        // An unsigned body is not kept, not even redacted.
        let msg = e.to_string();
        stats::report_after(ctx, env, Report::refused(SOURCE, e.code(), &msg, None, now));
        return error(401, e.code(), &msg);
    }
    if let Some(refusal) = crate::rules::current(env).refusal() {
        return refusal;
    }
    let items = match decode_batch(&body, &limits) {
        Ok(items) => items,
        Err(e) => {
            let msg = e.to_string();
            stats::report_after(
                ctx,
                env,
                Report::refused(SOURCE, e.code(), &msg, Some(&body), now),
            );
            let status = if matches!(e, BatchError::BodyTooLarge { .. }) {
                413
            } else {
                400
            };
            return error(status, e.code(), &msg);
        }
    };
    let events: Vec<std::result::Result<Event, Verdict>> = items
        .into_iter()
        .map(|item| item.map_err(|(id, reason)| Verdict::rejected(id, reason)))
        .collect();
    let (results, mut report) = route_events(events, env, now).await?;
    note_rejections(&mut report, SOURCE, &results, &body, now);
    stats::report_after(ctx, env, report);
    let count = |f: fn(&Verdict) -> bool| results.iter().filter(|v| f(v)).count();
    let body = IngestResponse {
        accepted: count(|v| matches!(v, Verdict::Accepted { .. })),
        duplicates: count(|v| matches!(v, Verdict::Duplicate { .. })),
        rejected: count(|v| matches!(v, Verdict::Rejected { .. })),
        results,
    };
    json(202, &body)
}

/// Counts each rejected verdict and keeps a redacted sample of its payload
/// (for `POST /v1/events`, `events[i]` of the body, found by the verdict's
/// position; for a webhook, the whole body).
pub fn note_rejections(
    report: &mut Report,
    source: &str,
    verdicts: &[Verdict],
    body: &[u8],
    now: Millis,
) {
    if !verdicts
        .iter()
        .any(|v| matches!(v, Verdict::Rejected { .. }))
    {
        return;
    }
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    for (i, v) in verdicts.iter().enumerate() {
        if let Verdict::Rejected { id, reason } = v {
            let item = parsed
                .as_ref()
                .and_then(|b| b.get("events").and_then(|e| e.get(i)))
                .map(|item| serde_json::to_vec(item).unwrap_or_default());
            let payload = if source == SOURCE {
                item.as_deref()
            } else {
                Some(body)
            };
            report.reject(source, id.clone(), reason, payload, now);
        }
    }
}

fn too_large(env: &Env, ctx: &Context, size: usize, limits: &Limits) -> Result<Response> {
    let e = BatchError::BodyTooLarge {
        size,
        limit: limits.max_body_bytes,
    };
    let msg = e.to_string();
    stats::report_after(
        ctx,
        env,
        Report::refused(SOURCE, e.code(), &msg, None, now_ms()),
    );
    error(413, e.code(), &msg)
}

/// A verdict known now, or one the inboxes will give.
enum Slot {
    Done(Verdict),
    /// The event id, and what its rules could not make (the warnings of its verdict).
    Pending(String, Vec<Rejection>),
}

/// Applies the rules to decoded events and hands each recipient's share to
/// its Inbox; returns one verdict per input, in order, and the statistics
/// report for the caller to send: accepted types only; the caller adds the
/// rejections with [`note_rejections`], which can see their payloads.
pub async fn route_events(
    events: Vec<std::result::Result<Event, Verdict>>,
    env: &Env,
    now: i64,
) -> Result<(Vec<Verdict>, Report)> {
    let mut slots: Vec<Slot> = Vec::with_capacity(events.len());
    // Per user: the deliveries, and for each the index of the event it came from.
    let mut per_user: BTreeMap<String, Vec<(usize, Delivery)>> = BTreeMap::new();
    let mut per_topic: BTreeMap<String, Vec<(usize, Delivery)>> = BTreeMap::new();
    let mut kinds: Vec<String> = Vec::with_capacity(events.len());
    let loaded = crate::rules::current(env);
    let rules = match &loaded.set {
        Ok(set) => set,
        Err(_) => {
            let why = loaded.problem().unwrap_or_default();
            return Err(worker::Error::RustError(why));
        }
    };
    // An id repeated within the batch is the same event sent twice: the later copies are
    // duplicates here (the Inbox cannot tell them from two outcomes of one event). Only an
    // event the rules took counts: one rejected stored nothing, so a corrected copy is new.
    let mut ids_here: std::collections::HashSet<String> =
        std::collections::HashSet::with_capacity(events.len());
    for (index, event) in events.into_iter().enumerate() {
        let event = match event {
            Ok(e) if ids_here.contains(&e.id) => {
                slots.push(Slot::Done(Verdict::Duplicate { id: e.id }));
                kinds.push(String::new());
                continue;
            }
            Ok(e) => e,
            Err(v) => {
                slots.push(Slot::Done(v));
                kinds.push(String::new());
                continue;
            }
        };
        kinds.push(event.kind.clone());
        let id = event.id.clone();
        let slot = plan_event(rules, event, index, now, &mut per_user, &mut per_topic);
        if !matches!(slot, Slot::Done(Verdict::Rejected { .. })) {
            ids_here.insert(id);
        }
        slots.push(slot);
    }
    let calls = per_user.into_iter().map(|(user, deliveries)| async move {
        let indexes: Vec<usize> = deliveries.iter().map(|(i, _)| *i).collect();
        let request = DeliverRequest {
            user,
            deliveries: deliveries.into_iter().map(|(_, d)| d).collect(),
        };
        (indexes, deliver(env, &request).await)
    });
    let topic_calls = per_topic.into_iter().map(|(topic, deliveries)| async move {
        let indexes: Vec<usize> = deliveries.iter().map(|(i, _)| *i).collect();
        let outcome = crate::topics::fanout(
            env,
            &topic,
            deliveries.into_iter().map(|(_, d)| d).collect(),
        )
        .await;
        (indexes, outcome.map(|r| (r.fresh, r.report)))
    });
    let mut fresh = vec![false; slots.len()];
    let mut failed = vec![false; slots.len()];
    let (users, topics) = futures_util::future::join(join_all(calls), join_all(topic_calls)).await;
    let mut delivered = Report::default();
    let results: Vec<_> = users
        .into_iter()
        .map(|(i, o)| {
            (
                i,
                o.map(|r| {
                    delivered.merge(r.report);
                    r.fresh
                }),
            )
        })
        .collect::<Vec<_>>()
        .into_iter()
        .chain(topics.into_iter().map(|(i, o)| {
            (
                i,
                o.map(|(fresh, report)| {
                    delivered.merge(report);
                    fresh
                }),
            )
        }))
        .collect();
    for (indexes, outcome) in results {
        match outcome {
            Ok(f) => indexes.into_iter().zip(f).for_each(|(i, f)| fresh[i] |= f),
            Err(e) => {
                // The details (an object's own answer) go to the log, not to the sender.
                worker::console_error!("storing events failed: {e}");
                indexes.into_iter().for_each(|i| failed[i] = true);
            }
        }
    }
    let verdicts: Vec<Verdict> = slots
        .into_iter()
        .enumerate()
        .map(|(i, slot)| match slot {
            Slot::Done(v) => v,
            Slot::Pending(id, _) if failed[i] => Verdict::rejected(
                Some(id),
                Rejection::new(
                    "storage_unavailable",
                    format!("events[{i}]"),
                    "could not store it just now; retry the event".to_owned(),
                ),
            ),
            Slot::Pending(id, warnings) if fresh[i] => Verdict::Accepted { id, warnings },
            Slot::Pending(id, _) => Verdict::Duplicate { id },
        })
        .collect();
    let mut report = Report {
        events: kinds
            .into_iter()
            .zip(&verdicts)
            .filter(|(_, v)| matches!(v, Verdict::Accepted { .. }))
            .map(|(k, _)| k)
            .collect(),
        ..Default::default()
    };
    report.merge(delivered);
    Ok((verdicts, report))
}

/// Decides what one event becomes: a verdict now, or deliveries queued per user.
fn plan_event(
    rules: &RuleSet,
    event: Event,
    index: usize,
    now: i64,
    per_user: &mut BTreeMap<String, Vec<(usize, Delivery)>>,
    per_topic: &mut BTreeMap<String, Vec<(usize, Delivery)>>,
) -> Slot {
    if !rules.matches_any(&event.kind) {
        return Slot::Done(Verdict::rejected(
            Some(event.id.clone()),
            Rejection::new(
                "unknown_type",
                format!("events[{index}].type"),
                format!(
                    "no rule handles events of type `{}`; add a rule or fix the type",
                    event.kind
                ),
            ),
        ));
    }
    let applied = rules.apply(&event, now);
    let mut routed = false;
    for outcome in applied.outcomes {
        let route = match &outcome.audience {
            Audience::User(user) => {
                let user = user.clone();
                let delivery = Delivery::from_outcome(&event, outcome);
                per_user.entry(user).or_default().push((index, delivery));
                routed = true;
                continue;
            }
            Audience::Topic(topic) => format!("topic:{topic}"),
            Audience::Segment(segment) => format!("segment:{segment}"),
        };
        // Through a topic the event is told apart by its route too: a shopper it reaches
        // directly and through a topic they watch gets both, not the first only.
        let mut delivery = Delivery::from_outcome(&event, outcome);
        delivery.event_id = tidings_core::fanout::route_key(&event.id, &route);
        per_topic.entry(route).or_default().push((index, delivery));
        routed = true;
    }
    // Nobody to tell (say, a shopper's event without `user_id`) is the sender's to fix.
    let mut problems = applied.errors.into_iter().map(|e| {
        let code = match e.field.as_str() {
            "to" => "no_recipient",
            "size" => "notification_too_large",
            _ => "render_failed",
        };
        Rejection::new(code, format!("events[{index}]"), e.to_string())
    });
    if routed {
        // Delivered by the rules that worked; the sender still hears what the others lacked.
        return Slot::Pending(event.id, problems.collect());
    }
    match problems.next() {
        Some(reason) => Slot::Done(Verdict::rejected(Some(event.id), reason)),
        None => Slot::Done(Verdict::accepted(event.id)),
    }
}

/// Sends one user's deliveries to their Inbox.
pub async fn deliver(env: &Env, request: &DeliverRequest) -> Result<DeliverResponse> {
    crate::object_call::post_json(
        env,
        crate::router::INBOX_BINDING,
        &request.user,
        "https://inbox/deliver",
        request,
    )
    .await
}
