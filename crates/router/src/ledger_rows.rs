//! The ledger rows of one routed request: one [`Call`] per [`Attempt`] (an escalated request
//! is two rows, the second naming the first in `escalation_parent`), or one row for a request
//! that was refused before anything ran (a spend cap, a remote cooling down, an unknown
//! model). Pure: [`rows`] maps what [`crate::Router::complete`] returned; the router writes
//! them when it has a ledger ([`crate::Router::with_ledger`]).
//!
//! Per row: `route` is the model or remote called, `reason` why it was called (the
//! decision's reason for the first attempt; the escalation's reason, or
//! `remote_unavailable` for a fallback, for the next); `status` `ok` / `escalated` / `error`.
//! Cost: a remote's price table times its usage; a local call's wall time times
//! `[budget] local_usd_per_hour`. Baseline: what the reference remote (`[budget] compare_to`,
//! else the first remote) charges for the served call's tokens; 0 for an escalated or failed
//! attempt (it stood in for nothing), so a request's baseline is counted once and the wasted
//! attempt's cost counts against the savings. Token counts follow OpenTelemetry:
//! `input_tokens` includes cache reads and writes. An answer that calls tools is tagged
//! `tool_calls` = how many ([`TOOL_CALLS_TAG`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use hearth_ledger::{Call, Ledger, Status};

use crate::complete::{Attempt, AttemptOutcome, Cause, CompleteError, Routed};
use crate::config::{Remote, RouterConfig};
use crate::cost::{Usage, remote_cost_usd};
use crate::policy::Decision;

/// What the router cannot read from the request itself, for its ledger rows
/// ([`crate::Request::call_info`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallInfo {
    /// The id of the request (the one the client sees, e.g. `chatcmpl-…`); empty: the router
    /// makes one. Attempts other than the one served get it with `-1`, `-2`, … appended.
    pub request_id: String,
    /// The operation (`chat`, `text_completion`, `messages`, …); empty: `chat`.
    pub operation: String,
    /// The request's tags ([`hearth_ledger::tags::collect`]).
    pub tags: BTreeMap<String, String>,
    /// Which hearth node serves (`service.instance.id`), if the caller sets one.
    pub instance: Option<String>,
}

/// What one request looked like, besides its result.
#[derive(Debug, Clone)]
pub struct RequestFacts<'a> {
    /// From [`crate::Request::call_info`], with the id filled in.
    pub info: &'a CallInfo,
    /// The `model` the request asked for.
    pub requested_model: &'a str,
    /// Whether the client asked for a stream.
    pub streamed: bool,
    /// When the request started, ms since the Unix epoch.
    pub started_unix_ms: i64,
}

/// An id for a request whose caller gave none: `req_` + the start time and a counter, in hex.
pub fn new_request_id(started_unix_ms: i64) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("req_{started_unix_ms:x}{:06x}", NEXT.fetch_add(1, Relaxed) & 0xff_ffff)
}

/// The rows of a request: one per attempt; one for a request refused or unknown.
pub fn rows<A, E>(
    config: &RouterConfig,
    facts: &RequestFacts<'_>,
    result: &Result<Routed<A>, CompleteError<E>>,
) -> Vec<Call> {
    match result {
        Ok(r) => attempt_rows(config, facts, &r.decision, &r.attempts, None),
        Err(CompleteError::Failed(f)) if f.attempts.is_empty() => {
            let (error_type, message) = cause_error(&f.cause);
            let mut call = base(facts, Some(&f.decision));
            call.request_id = facts.info.request_id.clone();
            call.route = f.route.clone();
            call.reason = f.reason.as_str().to_owned();
            call.local = config.local(&f.route).is_some();
            call.provider = provider(config, &f.route);
            call.status = Status::Error;
            call.error_type = Some(error_type.to_owned());
            call.error_message = Some(message);
            vec![call]
        }
        Err(CompleteError::Failed(f)) => {
            attempt_rows(config, facts, &f.decision, &f.attempts, Some(cause_error(&f.cause)))
        }
        Err(CompleteError::UnknownModel(e)) => {
            let mut call = base(facts, None);
            call.request_id = facts.info.request_id.clone();
            call.route = e.name.clone();
            call.reason = "unknown_model".to_owned();
            call.provider = "hearth".to_owned();
            call.status = Status::Error;
            call.error_type = Some("model_not_found".to_owned());
            call.error_message = Some(e.to_string());
            vec![call]
        }
    }
}

/// `error.type` and message of a failed request's cause.
fn cause_error<E>(cause: &Cause<E>) -> (&'static str, String) {
    let kind = match cause {
        Cause::Refused { status: 429, .. } => "budget_exceeded",
        Cause::Refused { .. } => "remote_unavailable",
        Cause::Local(_) => "local_error",
        Cause::Request(_) => "invalid_request",
        Cause::Upstream { .. } => "upstream_error",
    };
    (kind, cause.to_string())
}

/// A row with the request's fields and the decision's scores.
fn base(facts: &RequestFacts<'_>, decision: Option<&Decision>) -> Call {
    let info = facts.info;
    Call {
        time_unix_ms: facts.started_unix_ms,
        operation: if info.operation.is_empty() { "chat".to_owned() } else { info.operation.clone() },
        task: decision.map(|d| d.task.name.clone()),
        tags: info.tags.clone(),
        request_model: facts.requested_model.to_owned(),
        streamed: facts.streamed,
        complexity: decision.map(|d| d.complexity.score),
        service_instance_id: info.instance.clone(),
        provider: "hearth".to_owned(),
        ..Call::default()
    }
}

/// `hearth` for a local model, else the remote's provider.
fn provider(config: &RouterConfig, target: &str) -> String {
    config.remote(target).map_or_else(|| "hearth".to_owned(), |r| r.provider.as_str().to_owned())
}

/// One row per attempt; `failure`: the request's error, put on its last attempt.
fn attempt_rows(
    config: &RouterConfig,
    facts: &RequestFacts<'_>,
    decision: &Decision,
    attempts: &[Attempt],
    failure: Option<(&'static str, String)>,
) -> Vec<Call> {
    let id = &facts.info.request_id;
    // The served attempt (or, for a failure, the last) carries the request's own id.
    let main =
        attempts.iter().position(|a| a.outcome == AttemptOutcome::Served).unwrap_or(attempts.len() - 1);
    let ids: Vec<String> =
        (0..attempts.len()).map(|i| if i == main { id.clone() } else { format!("{id}-{}", i + 1) }).collect();
    let reference = config.reference_remote();
    let mut out = Vec::with_capacity(attempts.len());
    for (i, a) in attempts.iter().enumerate() {
        let mut call = base(facts, Some(decision));
        call.request_id = ids[i].clone();
        call.upstream_request_id = a.upstream_id.clone();
        call.route = a.target.clone();
        call.reason = a.reason.as_str().to_owned();
        call.local = a.local;
        let remote = config.remote(&a.target);
        call.provider = provider(config, &a.target);
        call.response_model = Some(remote.map_or_else(|| a.target.clone(), |r| r.model.clone()));
        // A streamed answer is streamed only if it is the one served and the request streams.
        call.streamed = facts.streamed && a.outcome == AttemptOutcome::Served;
        call.latency_ms = a.elapsed_ms;
        if let Some(u) = &a.usage {
            fill_usage(&mut call, u);
            // Only the answer served stands in for a remote call; an escalated or failed
            // attempt replaced nothing (baseline 0), so its cost counts against the savings
            // and a request's baseline is counted once.
            call.baseline_cost_usd = reference.map(|r| match a.outcome {
                AttemptOutcome::Served => baseline_usd(r, u, a.local),
                _ => 0.0,
            });
            if a.local && a.elapsed_ms > 0 && u.output_tokens > 0 {
                call.local_tokens_per_s = Some(u.output_tokens as f64 * 1000.0 / a.elapsed_ms as f64);
            }
        }
        call.cost_usd = if a.local { local_cost_usd(config, a.elapsed_ms) } else { a.cost_usd };
        if let Some(e) = &a.evidence {
            call.mean_logprob = e.mean_logprob;
            call.min_logprob = e.min_logprob;
            call.label_margin = e.label_margin;
        }
        tag_tool_calls(&mut call, a.tool_calls);
        if i > 0 {
            call.escalation_parent = Some(ids[i - 1].clone());
        }
        match &a.outcome {
            AttemptOutcome::Served => call.status = Status::Ok,
            AttemptOutcome::Escalated(_) => call.status = Status::Escalated,
            AttemptOutcome::Failed(message) => {
                call.status = Status::Error;
                let last = i + 1 == attempts.len();
                match (&failure, last) {
                    (Some((kind, msg)), true) => {
                        call.error_type = Some((*kind).to_owned());
                        call.error_message = Some(msg.clone());
                    }
                    _ => {
                        let kind = if a.local { "local_error" } else { "upstream_error" };
                        call.error_type = Some(kind.to_owned());
                        call.error_message = Some(message.clone());
                    }
                }
            }
        }
        out.push(call);
    }
    out
}

/// The tag of an answer served from hearth's response cache: `exact` or `semantic`.
pub const CACHE_TAG: &str = "cache";
/// The tag holding a semantic hit's cosine similarity (4 decimals).
pub const CACHE_SIMILARITY_TAG: &str = "cache_similarity";

/// The row of a request answered from hearth's response cache: no model ran (cost 0); its
/// baseline is what the reference remote would have charged for the cached answer's tokens
/// (`usage`, the stored answer's), so the ledger's savings count the hit. Tagged
/// [`CACHE_TAG`] (and [`CACHE_SIMILARITY_TAG`]); `semantic_cache_hit` is set for both kinds.
pub fn cache_hit_row(
    config: &RouterConfig,
    facts: &RequestFacts<'_>,
    decision: &Decision,
    target: &str,
    hit: (&str, f32),
    usage: Option<&Usage>,
    latency_ms: u64,
) -> Call {
    let mut call = base(facts, Some(decision));
    call.request_id = facts.info.request_id.clone();
    call.route = target.to_owned();
    call.reason = "cache".to_owned();
    call.provider = "hearth".to_owned();
    call.local = true;
    call.response_model = Some(target.to_owned());
    call.semantic_cache_hit = true;
    call.latency_ms = latency_ms;
    call.tags.insert(CACHE_TAG.to_owned(), hit.0.to_owned());
    if hit.0 == "semantic" {
        call.tags.insert(CACHE_SIMILARITY_TAG.to_owned(), format!("{:.4}", hit.1));
    }
    if let Some(u) = usage {
        fill_usage(&mut call, u);
        call.baseline_cost_usd = config.reference_remote().map(|r| baseline_usd(r, u, true));
    }
    call.status = Status::Ok;
    call
}

/// The tag of a call whose answer calls tools: `tool_calls` = how many (so `hearth report
/// --by tag` shows what tool-call turns cost); none for an answer without tool calls.
pub const TOOL_CALLS_TAG: &str = "tool_calls";

fn tag_tool_calls(call: &mut Call, n: u32) {
    if n > 0 {
        call.tags.insert(TOOL_CALLS_TAG.to_owned(), n.to_string());
    }
}

/// Puts `u` in the row, input counted OpenTelemetry's way (cache reads and writes included).
pub fn fill_usage(call: &mut Call, u: &Usage) {
    call.input_tokens = Some(u.input_tokens + u.cache_read_tokens + u.cache_write_tokens);
    call.output_tokens = Some(u.output_tokens);
    call.cache_read_tokens = Some(u.cache_read_tokens);
    call.cache_creation_tokens = Some(u.cache_write_tokens);
}

/// What `reference` charges for the tokens of a call (a local one's input all uncached).
fn baseline_usd(reference: &Remote, u: &Usage, local: bool) -> f64 {
    if local { crate::cost::local_call(Some(reference), u).saved_usd } else { remote_cost_usd(reference, u) }
}

/// A local call's share of the box: its wall time at `[budget] local_usd_per_hour`.
fn local_cost_usd(config: &RouterConfig, elapsed_ms: u64) -> f64 {
    config.budget.local_usd_per_hour.unwrap_or(0.0) * elapsed_ms as f64 / 3_600_000.0
}

/// The row of a streamed remote answer, written when the stream ends: its usage (and so its
/// cost) is known only then. [`PendingRow::finish`] writes it; dropped unfinished (the client
/// left, the stream broke without saying so), it is written as an error with what is known.
#[derive(Debug)]
pub struct PendingRow {
    call: Option<Call>,
    remote: Remote,
    reference: Option<Remote>,
    ledger: Arc<Ledger>,
    started: Instant,
}

impl PendingRow {
    pub(crate) fn new(
        call: Call,
        config: &RouterConfig,
        ledger: Arc<Ledger>,
        started: Instant,
    ) -> Option<PendingRow> {
        let remote = config.remote(&call.route)?.clone();
        let reference = config.reference_remote().cloned();
        Some(PendingRow { call: Some(call), remote, reference, ledger, started })
    }

    /// The stream ended: with its `usage` when it reported one, and `error` when it failed.
    /// Returns the call's cost (USD).
    pub fn finish(mut self, usage: Option<&Usage>, error: Option<&str>) -> f64 {
        self.write(usage, error)
    }

    fn write(&mut self, usage: Option<&Usage>, error: Option<&str>) -> f64 {
        let Some(mut call) = self.call.take() else { return 0.0 };
        call.latency_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Some(u) = usage {
            fill_usage(&mut call, u);
            call.cost_usd = remote_cost_usd(&self.remote, u);
            call.baseline_cost_usd = self.reference.as_ref().map(|r| remote_cost_usd(r, u));
        }
        if let Some(e) = error {
            call.status = Status::Error;
            call.error_type = Some("upstream_error".to_owned());
            call.error_message = Some(e.to_owned());
        }
        let cost = call.cost_usd;
        self.ledger.record(call);
        cost
    }

    /// The stream's answer made `n` tool calls (tagged `tool_calls` when any).
    pub fn set_tool_calls(&mut self, n: u32) {
        if let Some(c) = &mut self.call {
            tag_tool_calls(c, n);
        }
    }

    /// Time to the first token, once known (ms).
    pub fn set_time_to_first_token(&mut self) {
        if let Some(c) = &mut self.call
            && c.time_to_first_token_ms.is_none()
        {
            c.time_to_first_token_ms =
                Some(u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX));
        }
    }
}

impl Drop for PendingRow {
    fn drop(&mut self) {
        self.write(None, Some("the stream ended before its usage was reported (the client left?)"));
    }
}
