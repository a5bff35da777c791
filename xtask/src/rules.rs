//! `cargo xtask rules check <file.toml>`: loads a rules file the way the edge
//! does (`TIDINGS_RULES`) and prints every problem with its rule and field,
//! so a broken file never reaches `wrangler deploy`.

use tidings_core::rules::RuleSet;

use crate::Res;

/// Cloudflare's limit for one variable's value (`TIDINGS_RULES`).
const VAR_LIMIT: usize = 5 * 1024;

/// Event types the edge itself emits; a file without a rule for them refuses them.
const EDGE_TYPES: [(&str, &str); 2] = [
    ("ops.alert_fired", "operators' alerts"),
    ("ops.alert_resolved", "operators' alert resolutions"),
];

/// Runs `rules check <file>`.
pub fn run(args: &[String]) -> Res {
    let [command, path] = args else {
        return Err("usage: cargo xtask rules check <rules.toml>".into());
    };
    if command != "check" {
        return Err(format!(
            "unknown `rules {command}`; usage: cargo xtask rules check <rules.toml>"
        ));
    }
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
