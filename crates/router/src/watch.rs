//! [`Watch`]: what a router tells the one who watches its answers (the quality monitor,
//! `hearth-monitor`), and what it asks back.
//!
//! # Contract
//!
//! - [`Watch::demoted`] is asked once per routed request, before the decision; the task types
//!   it returns (lowercase) are served by their route's `escalate_to` (reason `demoted`)
//!   unless the route is `pinned`. It must be cheap (a lock and a clone).
//! - [`Watch::answered`] is called once per request the router answered, after the answer is
//!   complete and before it goes back to the caller, on the caller's task. It must not block
//!   or wait on anything slow: a watcher that wants to judge the answer takes what it needs
//!   (the text, and — only when it samples this request — [`SampledRequest`] through
//!   `request`) and does the slow work elsewhere. Whatever it does, the caller's answer is
//!   unchanged and never delayed by more than that hand-over.
//! - Streamed answers, tool-calling answers and answers whose text the backend did not report
//!   come with `text: None`; a watcher skips them.

use std::collections::BTreeSet;
use std::fmt::Debug;

use serde::{Deserialize, Serialize};

use crate::reason::Reason;

/// Watches a router's answers (`Router::with_watch`).
pub trait Watch: Send + Sync + Debug {
    /// Task types (lowercase) whose routes now serve from `escalate_to`.
    fn demoted(&self) -> BTreeSet<String>;

    /// A request was answered (see the module's contract). `request` gives an owned copy of
    /// the request for a judge; `None` when it cannot be replayed (tools, images).
    fn answered(&self, answered: &Answered<'_>, request: &dyn Fn() -> Option<SampledRequest>);
}

/// An answered request, as the watcher sees it.
#[derive(Debug, Clone, Copy)]
pub struct Answered<'a> {
    /// hearth's id of the request (its ledger row's `request_id`).
    pub request_id: &'a str,
    /// The task type (lowercase).
    pub task: &'a str,
    /// The index of the `[[routes]]` entry used.
    pub route: usize,
    /// The route's own target (the local model the monitor judges).
    pub route_target: &'a str,
    /// Who answered.
    pub served_by: &'a str,
    /// Whether a local model answered.
    pub local: bool,
    /// Why it answered: `task` (the route's target), `demoted` (the monitor's move), or
    /// another reason (escalations, fallbacks), which a monitor does not sample.
    pub reason: Reason,
    /// The route is pinned: the monitor reports but never moves it.
    pub pinned: bool,
    /// The answer's text; `None` for streams, tool calls, or when the backend did not say.
    pub text: Option<&'a str>,
}

/// A request replayed for a judge: its text parts, owned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampledRequest {
    /// The system prompt, if any.
    pub system: Option<String>,
    /// The turns, in order (`user` / `assistant`), as text.
    pub messages: Vec<Turn>,
    /// The JSON schema the answer had to follow (`response_format`), if any.
    pub schema: Option<serde_json::Value>,
    /// The answer's token limit the client asked for, if any.
    pub max_tokens: Option<u32>,
}

/// One turn of a [`SampledRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// `user` or `assistant`.
    pub role: String,
    /// The turn's text.
    pub text: String,
}

impl Turn {
    /// A user turn.
    pub fn user(text: impl Into<String>) -> Turn {
        Turn { role: "user".into(), text: text.into() }
    }

    /// An assistant turn.
    pub fn assistant(text: impl Into<String>) -> Turn {
        Turn { role: "assistant".into(), text: text.into() }
    }
}
