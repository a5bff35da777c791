//! The rule set the edge applies: the TOML text of the `TIDINGS_RULES`
//! variable when it is set, else the default rules shipped in
//! `crates/core/rules/default.toml`.
//!
//! A storefront changes what its events become without forking the code:
//! `wrangler deploy --var "TIDINGS_RULES:$(cat rules.toml)"` (or a multi-line
//! string under `[vars]`), after `cargo xtask rules check rules.toml`.
//! Variables only change with a deploy, which starts new isolates, so the
//! set is loaded once per isolate. An invalid set is never half-applied:
//! ingest answers `500 rules_invalid` listing every problem (the platforms
//! retry), `GET /v1/health` answers 503 with their number and the Worker's log has them.

use std::rc::Rc;

use serde::Serialize;
use tidings_core::rules::{RuleError, RuleSet};
use worker::{Env, Response, Result};

use crate::config;

/// The variable holding a custom rules file.
pub const VAR: &str = "TIDINGS_RULES";

/// The variable raising or lowering the limit on a notification's text (bytes; default
/// `tidings_core::rules::MAX_NOTIFICATION_TEXT`). Past about 1 MB, Durable Object storage
/// refuses the row: such an event is then answered 503, stored nowhere, never half-stored.
pub const TEXT_LIMIT_VAR: &str = "TIDINGS_MAX_NOTIFICATION_BYTES";

/// Where the rules came from and whether they loaded.
pub struct Loaded {
    /// `TIDINGS_RULES` or `default`.
    pub source: &'static str,
    /// The set, or every problem the loader found.
    pub set: std::result::Result<RuleSet, Vec<RuleError>>,
}

thread_local! {
    static LOADED: std::cell::OnceCell<Rc<Loaded>> = const { std::cell::OnceCell::new() };
}

/// The rules of this isolate, loaded on first use.
pub fn current(env: &Env) -> Rc<Loaded> {
    LOADED.with(|cell| {
        cell.get_or_init(|| {
            let (source, set) = match config::secret(env, VAR) {
                Some(text) => (VAR, RuleSet::from_toml(&text).and_then(non_empty)),
                None => ("default", Ok(RuleSet::default_rules())),
            };
            let loaded = Rc::new(Loaded {
                source,
                set: set.and_then(|set| text_limit(env, set)),
            });
            if let Some(why) = loaded.problem() {
                worker::console_error!("{why}");
            }
            loaded
        })
        .clone()
    })
}

/// An empty custom set is most likely a wrong path in `$(cat …)`: refuse rather than
/// reject every event.
fn non_empty(set: RuleSet) -> std::result::Result<RuleSet, Vec<RuleError>> {
    if set.is_empty() {
        return Err(vec![RuleError {
            rule: String::new(),
            field: String::new(),
            message: "there are no rules in it (is it the rules file?)".into(),
        }]);
    }
    Ok(set)
}

/// Applies [`TEXT_LIMIT_VAR`] when it is set.
fn text_limit(env: &Env, set: RuleSet) -> std::result::Result<RuleSet, Vec<RuleError>> {
    let Some(text) = config::secret(env, TEXT_LIMIT_VAR) else {
        return Ok(set);
    };
    match text.trim().parse::<usize>() {
        Ok(limit) => Ok(set.with_text_limit(limit)),
        Err(_) => Err(vec![RuleError {
            rule: String::new(),
            field: TEXT_LIMIT_VAR.into(),
            message: format!("`{text}` is not a whole number of bytes"),
        }]),
    }
}

impl Loaded {
    /// One line naming every problem, and what to do about it.
    pub fn problem(&self) -> Option<String> {
        let errors = self.set.as_ref().err()?;
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        Some(format!(
            "{} is invalid ({} problem{}): {}; fix it (check with `cargo xtask rules check <file>`) and deploy again",
            self.source,
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            list.join("; ")
        ))
    }

    /// The `500 rules_invalid` answer, when the rules did not load.
    pub fn refusal(&self) -> Option<Result<Response>> {
        self.problem()
            .map(|why| crate::http::error(500, "rules_invalid", &why))
    }

    /// What `GET /v1/health` (public) says about the rules: counts only; the problems
    /// themselves go to signed senders (the `500` answer) and to the Worker's log.
    pub fn health(&self) -> Health<'_> {
        match &self.set {
            Ok(set) => Health {
                source: self.source,
                rules: set.len(),
                problems: 0,
            },
            Err(errors) => Health {
                source: self.source,
                rules: 0,
                problems: errors.len(),
            },
        }
    }
}

/// The rules part of `GET /v1/health`.
#[derive(Debug, Serialize)]
pub struct Health<'a> {
    /// `TIDINGS_RULES` or `default`.
    pub source: &'a str,
    /// How many rules loaded.
    pub rules: usize,
    /// How many problems kept them from loading.
    #[serde(skip_serializing_if = "is_zero")]
    pub problems: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
