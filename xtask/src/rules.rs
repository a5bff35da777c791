//! `cargo xtask rules check <file.toml>`: loads a rules file the way the edge
//! does (`TIDINGS_RULES`) and prints every problem with its rule and field,
//! so a broken file never reaches `wrangler deploy`.
//! `cargo xtask rules try <file.toml> <events.json>`: what each event becomes.

use tidings_core::ingest::{decode_batch, Limits};
use tidings_core::rules::RuleSet;

use crate::Res;

/// Cloudflare's limit for one variable's value (`TIDINGS_RULES`).
const VAR_LIMIT: usize = 5 * 1024;

/// Event types the edge itself emits; a file without a rule for them refuses them.
const EDGE_TYPES: [(&str, &str); 2] = [
    ("ops.alert_fired", "operators' alerts"),
    ("ops.alert_resolved", "operators' alert resolutions"),
];

const USAGE: &str =
    "usage: cargo xtask rules check <rules.toml> | cargo xtask rules try <rules.toml> <events.json>";

/// Runs `rules check <file>` or `rules try <file> <events>`.
pub fn run(args: &[String]) -> Res {
    match args {
        [command, path] if command == "check" => check(path),
        [command, path, events] if command == "try" => try_events(path, events),
        _ => Err(USAGE.into()),
    }
}

/// Loads a rules file, or lists every problem in it.
fn load(path: &str) -> Res<(String, RuleSet)> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let set = RuleSet::from_toml(&text).map_err(|errors| {
        let list: Vec<String> = errors.iter().map(|e| format!("  - {e}")).collect();
        format!(
            "{path}: {} problem{}:\n{}\nfix them and run this again",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            list.join("\n")
        )
    })?;
    Ok((text, set))
}

/// `rules try`: what each event of a file (one event, a list, or a `{"events": […]}` batch;
/// missing ids and times filled in as by `send`) becomes under the rules, as the edge would
/// decide it now.
fn try_events(path: &str, events_path: &str) -> Res {
    let (_, set) = load(path)?;
    let text = std::fs::read_to_string(events_path)
        .map_err(|e| format!("cannot read {events_path}: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{events_path} is not JSON: {e}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    // As `cargo xtask send` does: missing ids and times are filled in.
    let batch = crate::send::fill(value, now);
    let body = serde_json::to_vec(&batch).map_err(|e| e.to_string())?;
    let items = decode_batch(&body, &Limits::default())
        .map_err(|e| format!("{events_path}: {e} ({})", e.code()))?;
    for (i, item) in items.into_iter().enumerate() {
        let event = match item {
            Ok(event) => event,
            Err((_, why)) => {
                println!(
                    "events[{i}]: rejected `{}` at {}: {}",
                    why.code, why.path, why.message
                );
                continue;
            }
        };
        if !set.matches_any(&event.kind) {
            println!(
                "events[{i}] `{}`: rejected `unknown_type`: no rule handles `{}`",
                event.id, event.kind
            );
            continue;
        }
        let applied = set.apply(&event, now as i64);
        for outcome in &applied.outcomes {
            let shown = serde_json::to_string_pretty(outcome).map_err(|e| e.to_string())?;
            println!(
                "events[{i}] `{}` → rule `{}`:\n{shown}",
                event.id, outcome.rule
            );
        }
        for e in &applied.errors {
            println!("events[{i}] `{}`: {e}", event.id);
        }
        if applied.outcomes.is_empty() && applied.errors.is_empty() {
            println!(
                "events[{i}] `{}`: accepted; no rule's conditions hold, nobody is notified",
                event.id
            );
        }
    }
    Ok(())
}

/// `rules check`: every problem, and notes on what the edge will make of the file.
fn check(path: &str) -> Res {
    let (text, set) = load(path)?;
    println!("{path}: {} rules load", set.len());
    for missing in set.missing_translations() {
        println!("note: {missing}");
    }
    for (kind, what) in EDGE_TYPES {
        if !set.matches_any(kind) {
            println!("note: no rule handles `{kind}`: {what} will be refused (copy the ops rules from crates/core/rules/default.toml)");
        }
    }
    if text.len() > VAR_LIMIT {
        println!(
            "note: {} bytes is over the 5 KB a Cloudflare variable holds: too big for TIDINGS_RULES; deploy it as the built-in rules (crates/core/rules/default.toml) instead",
            text.len()
        );
    }
    Ok(())
}
