//! `Call`: one row of the ledger, one call that hearth served or made.
//!
//! A request answered by one model is one call. An escalated request is several calls: each
//! attempt gets its own `request_id` and the later one names the earlier in
//! `escalation_parent`. The router's `Routed`/`Attempt` and the server's request data fill it;
//! fields the caller does not know stay `None`.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    /// It answered and its answer was served.
    #[default]
    Ok,
    /// It answered, but the answer fell short and the request was escalated to another call.
    Escalated,
    /// It failed (see `error_type` / `error_message`).
    Error,
}

impl Status {
    /// The stored value (`ok`, `escalated`, `error`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Escalated => "escalated",
            Status::Error => "error",
        }
    }

    /// The status stored as `s`, if it is one.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "ok" => Some(Status::Ok),
            "escalated" => Some(Status::Escalated),
            "error" => Some(Status::Error),
            _ => None,
        }
    }
}

/// One call. Column names are in the crate docs; token counts follow OpenTelemetry GenAI:
/// `input_tokens` *includes* the cache read and cache creation tokens.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Call {
    /// When the call started, milliseconds since the Unix epoch ([`now_unix_ms`]).
    pub time_unix_ms: i64,
    /// hearth's id of this call (the id returned to the client, or one per attempt).
    pub request_id: String,
    /// The upstream's id for the call (Anthropic `msg_…`, OpenAI `chatcmpl-…`); `None` locally.
    pub upstream_request_id: Option<String>,
    /// The operation (`chat`, `text_completion`, `embeddings`, …).
    pub operation: String,
    /// The task type (`classify`, `extract`, …) when known.
    pub task: Option<String>,
    /// Tags: the request's `metadata`, `user` and `X-Hearth-Tag-*` headers (stored as a JSON
    /// object).
    pub tags: BTreeMap<String, String>,
    /// The target that answered (the `x-hearth-route` header).
    pub route: String,
    /// Why (the `x-hearth-reason` header).
    pub reason: String,
    /// Who ran the model: `hearth` for local models, else the remote's provider
    /// (`anthropic`, `openai`, …).
    pub provider: String,
    /// The model the request asked for (`auto`, a local name, a remote name).
    pub request_model: String,
    /// The model that answered, as the upstream names it.
    pub response_model: Option<String>,
    /// A local model answered.
    pub local: bool,
    /// The answer was streamed.
    pub streamed: bool,
    /// Input tokens, including cache reads and writes (OpenTelemetry's meaning).
    pub input_tokens: Option<u64>,
    /// Output tokens.
    pub output_tokens: Option<u64>,
    /// Input tokens read from the provider's prompt cache.
    pub cache_read_tokens: Option<u64>,
    /// Input tokens written to the provider's prompt cache.
    pub cache_creation_tokens: Option<u64>,
    /// Answered from hearth's semantic cache (no model ran).
    pub semantic_cache_hit: bool,
    /// Wall time of the call, milliseconds.
    pub latency_ms: u64,
    /// Time to the first streamed token, milliseconds.
    pub time_to_first_token_ms: Option<u64>,
    /// Local decode speed, tokens per second.
    pub local_tokens_per_s: Option<f64>,
    /// The router's complexity score for the request.
    pub complexity: Option<f64>,
    /// Mean log-probability of the answer's tokens (local, probed).
    pub mean_logprob: Option<f64>,
    /// Lowest log-probability among the answer's tokens.
    pub min_logprob: Option<f64>,
    /// Label answers: chosen label's probability minus the runner-up's.
    pub label_margin: Option<f64>,
    /// USD this call cost (remote: the price table; local: the box's cost per busy hour).
    pub cost_usd: f64,
    /// USD the configured baseline remote model would have charged for the same call.
    pub baseline_cost_usd: Option<f64>,
    /// The `request_id` of the call this one escalated from.
    pub escalation_parent: Option<String>,
    /// How it ended.
    pub status: Status,
    /// The class of error (OpenTelemetry `error.type`: `timeout`, `429`, `remote_unavailable`, …).
    pub error_type: Option<String>,
    /// The error's message.
    pub error_message: Option<String>,
    /// Which hearth node wrote the row (OpenTelemetry `service.instance.id`; for fleets).
    pub service_instance_id: Option<String>,
}

/// Milliseconds since the Unix epoch now (0 if the clock is before 1970).
pub fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_and_rejects_unknown() {
        for s in [Status::Ok, Status::Escalated, Status::Error] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("OK"), None);
    }

    #[test]
    fn now_is_after_2025() {
        assert!(now_unix_ms() > 1_735_689_600_000);
    }
}
