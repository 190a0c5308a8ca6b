//! The ledger through the server: a mixed run (local, remote, escalated, a streamed remote
//! answer, a failed remote, a refusal while it cools down) leaves one row per call, with the
//! request's id (the `x-request-id` header), its tags, tokens, cost and baseline, and the
//! escalation's parent; `/metrics` counts the rows written.

use std::sync::Arc;

use hearth_anthropic::fake::Fault;
use hearth_router::hearth_ledger::{Call, Ledger, LedgerConfig, SqliteStore, Status, Store};
use serde_json::json;

use crate::routing::{app_with, chat, config_text, fake, header};
use crate::support::{KEY, post, send};

const ROUTES: &str = r#"
    [[routes]]
    tasks = ["classify"]
    target = "small"
    [[routes]]
    tasks = ["translate"]
    target = "small"
    escalate_to = "claude"
    min_mean_logprob = 0.0
    [[routes]]
    tasks = ["reason"]
    target = "claude"
"#;

fn rows(ledger: &Ledger, path: &std::path::Path) -> Vec<Call> {
    ledger.flush().unwrap();
    SqliteStore::open(path).unwrap().calls_since(0).unwrap()
}

#[tokio::test]
async fn every_call_of_a_mixed_run_gets_its_row() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let ledger = Arc::new(Ledger::open(&path, &LedgerConfig::default()).unwrap());
    let text = config_text(&fake.base_url(), 0, ROUTES);
    let Some((app, _)) = app_with(&text, Some(Arc::clone(&ledger))) else { return };

    // Local, with tags from metadata and a header.
    let mut body = chat("classify", "Spam or not: WIN A PRIZE");
    body["metadata"]["feature"] = json!("inbox");
    body["user"] = json!("u-42");
    let mut req = crate::support::request("POST", "/v1/chat/completions", Some(&body), Some(KEY));
    req.headers_mut().insert("x-hearth-tag-team", "billing".parse().unwrap());
    let local = send(&app, req).await;
    assert_eq!(local.status, 200, "{}", local.body);
    let local_id = header(&local, "x-request-id").to_owned();
    // Remote.
    let remote = post(&app, "/v1/chat/completions", chat("reason", "Why is the sky blue?")).await;
    assert_eq!(remote.status, 200, "{}", remote.body);
    // Escalated: the translate route's threshold is above any answer's.
    let escalated =
        post(&app, "/v1/chat/completions", chat("translate", "Translate to French: good morning")).await;
    assert_eq!(escalated.status, 200, "{}", escalated.body);
    // A streamed remote answer: its row has the stream's usage and cost.
    let mut body = chat("reason", "Why do cats purr?");
    body["stream"] = json!(true);
    let streamed = post(&app, "/v1/chat/completions", body).await;
    assert_eq!(streamed.status, 200, "{}", streamed.body);
    // A failed remote with no fallback: 502.
    fake.push_fault(Fault::ServerError);
    let failed = post(&app, "/v1/chat/completions", chat("reason", "Why is water wet?")).await;
    assert_eq!(failed.status, 502, "{}", failed.body);
    // The remote is now cooling down (one failure is enough here): refused, still a row.
    let refused = post(&app, "/v1/chat/completions", chat("reason", "Why?")).await;
    assert_eq!(refused.status, 503, "{}", refused.body);

    let rows = rows(&ledger, &path);
    let summary: Vec<(&str, &str, &str, Status)> = rows
        .iter()
        .map(|c| (c.task.as_deref().unwrap_or(""), c.route.as_str(), c.reason.as_str(), c.status))
        .collect();
    assert_eq!(
        summary,
        [
            ("classify", "small", "task", Status::Ok),
            ("reason", "claude", "task", Status::Ok),
            ("translate", "small", "task", Status::Escalated),
            ("translate", "claude", "low_confidence", Status::Ok),
            ("reason", "claude", "task", Status::Ok),
            ("reason", "claude", "task", Status::Error),
            ("reason", "claude", header(&refused, "x-hearth-reason"), Status::Error),
        ],
        "{rows:#?}"
    );
    let [local_row, remote_row, escalated_row, up_row, streamed_row, failed_row, refused_row] = &rows[..]
    else {
        unreachable!()
    };

    assert_eq!(local_row.request_id, local_id, "the x-request-id header names the row");
    assert_eq!(local_row.tags.get("feature").map(String::as_str), Some("inbox"));
    assert_eq!(local_row.tags.get("user").map(String::as_str), Some("u-42"));
    assert_eq!(local_row.tags.get("team").map(String::as_str), Some("billing"));
    assert!(!local_row.tags.contains_key("task"), "the task has its own column");
    assert!(local_row.local && local_row.provider == "hearth" && local_row.cost_usd == 0.0);
    assert!(local_row.input_tokens.unwrap() > 0 && local_row.output_tokens.unwrap() > 0, "{local_row:?}");
    assert!(local_row.baseline_cost_usd.unwrap() > 0.0, "claude's price of the local tokens");

    assert_eq!((remote_row.provider.as_str(), remote_row.local), ("anthropic", false));
    assert_eq!(remote_row.response_model.as_deref(), Some("claude-haiku-4-5"));
    let paid: f64 = header(&remote, "x-hearth-cost-usd").parse().unwrap();
    assert!((remote_row.cost_usd - paid).abs() < 1e-6, "{remote_row:?} vs {paid}");
    assert!(remote_row.upstream_request_id.is_some(), "the upstream's request id is kept");

    assert!(escalated_row.mean_logprob.is_some(), "the probe's evidence is recorded");
    assert_eq!(escalated_row.baseline_cost_usd, Some(0.0), "the baseline is the served call's, counted once");
    assert_eq!(up_row.escalation_parent.as_deref(), Some(escalated_row.request_id.as_str()));
    assert_eq!(up_row.request_id, header(&escalated, "x-request-id"));

    assert_eq!(failed_row.error_type.as_deref(), Some("upstream_error"));
    assert!(failed_row.error_message.as_deref().unwrap().contains("500"), "{failed_row:?}");

    assert!(streamed_row.streamed);
    assert!(streamed_row.output_tokens.unwrap() > 0 && streamed_row.cost_usd > 0.0, "{streamed_row:?}");
    assert!(streamed_row.time_to_first_token_ms.is_some());

    assert_eq!(refused_row.error_type.as_deref(), Some("remote_unavailable"));

    let m = send(&app, crate::support::request("GET", "/metrics", None, Some(KEY))).await;
    assert!(m.body.contains("hearth_ledger_rows_written_total 7"), "{}", m.body);
    assert!(m.body.contains("hearth_ledger_rows_dropped_total 0"), "{}", m.body);
}
