//! hearth-ledger's tests (one binary): rows round-trip, schema migration, reading back, config,
//! the writer (batching, full queue, write errors, retention), the `kill -9` loop, and
//! PostgreSQL (against `cargo xtask postgres start`'s server).

mod config;
mod kill9;
mod mem_store;
mod postgres;
mod reader;
mod roundtrip;
mod writer;

use std::collections::BTreeMap;

use hearth_ledger::{Call, Status};

/// A call with every field set to a non-default value.
pub fn full_call(id: &str, time_unix_ms: i64) -> Call {
    Call {
        time_unix_ms,
        request_id: id.to_owned(),
        upstream_request_id: Some("msg_01XYZ".to_owned()),
        operation: "chat".to_owned(),
        task: Some("extract".to_owned()),
        tags: BTreeMap::from([
            ("feature".to_owned(), "invoices".to_owned()),
            ("user".to_owned(), "u-42".to_owned()),
            ("team".to_owned(), "billing \"ops\"".to_owned()),
        ]),
        route: "claude-haiku".to_owned(),
        reason: "low_confidence".to_owned(),
        provider: "anthropic".to_owned(),
        request_model: "auto".to_owned(),
        response_model: Some("claude-haiku-4-5-20251001".to_owned()),
        local: false,
        streamed: true,
        input_tokens: Some(1200),
        output_tokens: Some(310),
        cache_read_tokens: Some(800),
        cache_creation_tokens: Some(150),
        semantic_cache_hit: true,
        latency_ms: 1234,
        time_to_first_token_ms: Some(210),
        local_tokens_per_s: Some(38.5),
        complexity: Some(0.62),
        mean_logprob: Some(-0.35),
        min_logprob: Some(-4.25),
        label_margin: Some(0.125),
        cost_usd: 0.001_75,
        baseline_cost_usd: Some(0.0062),
        escalation_parent: Some("req-parent".to_owned()),
        status: Status::Error,
        error_type: Some("timeout".to_owned()),
        error_message: Some("upstream timed out after 30 s".to_owned()),
        service_instance_id: Some("node-a".to_owned()),
    }
}

/// A call with only the required fields.
pub fn small_call(id: &str, time_unix_ms: i64) -> Call {
    Call {
        time_unix_ms,
        request_id: id.to_owned(),
        operation: "chat".to_owned(),
        route: "qwen".to_owned(),
        reason: "task".to_owned(),
        provider: "hearth".to_owned(),
        request_model: "auto".to_owned(),
        local: true,
        ..Call::default()
    }
}
