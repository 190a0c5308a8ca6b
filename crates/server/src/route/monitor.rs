//! The quality monitor in the server (`[monitor]`): the [`Judge`] that reaches the remotes
//! through their clients and the local models through the pool, the worker that judges
//! sampled answers beside the requests (started with the server), the replayable copy of a
//! chat request ([`sampled_request`]), `GET /v1/hearth/routes` and the `/metrics` lines.
//!
//! Only non-streamed `/v1/chat/completions` answers without tool calls are sampled (the
//! router's [`hearth_router::Watch`] contract); the rest are served as always.

use std::fmt::Write as _;
use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use hearth_monitor::remote::{self, RemoteClient as JudgeClient};
use hearth_monitor::{Judge, JudgeError, JudgeReply, Monitor, Tier};
use hearth_router::{Remote, SampledRequest, Turn};
use serde_json::{Value, json};

use super::remote::RemoteClient;
use super::translate::content_text;
use crate::AppState;

/// The models a monitor in the server calls: the remotes through the routing's clients, the
/// local models through the pool. [`crate::Server::serve`] runs the monitor's worker with it;
/// tests and embedders can drive [`Monitor::judge_pending`] with it.
pub struct ServerJudge {
    state: AppState,
    /// With `[monitor] batch`: the judge's calls go through Message Batches.
    batcher: Option<hearth_monitor::batch::Batcher>,
}

impl std::fmt::Debug for ServerJudge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerJudge")
    }
}

impl ServerJudge {
    /// The judge of the server with `state`; with `[monitor] batch = true` it starts a
    /// batcher on the current runtime for the Anthropic judge.
    pub fn new(state: AppState) -> ServerJudge {
        let routing = state.config().routing.clone();
        let batcher = routing.as_ref().and_then(|r| {
            let m = r.monitor()?.config();
            let Some(RemoteClient::Anthropic(client)) = r.remotes.get(&m.judge).filter(|_| m.batch) else {
                return None;
            };
            let settings = hearth_monitor::batch::BatchSettings::new(
                std::time::Duration::from_secs(m.batch_max_wait_secs),
                std::time::Duration::from_secs(m.batch_poll_secs.max(1)),
            );
            Some(hearth_monitor::batch::Batcher::start(client.clone(), settings))
        });
        ServerJudge { state, batcher }
    }
}

impl Judge for ServerJudge {
    async fn ask(&self, remote: &Remote, request: &SampledRequest) -> Result<JudgeReply, JudgeError> {
        if let Some(batcher) = &self.batcher {
            return batcher.ask(remote, request).await;
        }
        let routing = self.state.config().routing.clone().ok_or_else(|| JudgeError::new("no routing"))?;
        let client = match routing.remotes.get(&remote.name) {
            Some(RemoteClient::Anthropic(c)) => JudgeClient::Anthropic(c.clone()),
            Some(RemoteClient::OpenAi(c)) => JudgeClient::OpenAi(c.clone()),
            None => return Err(JudgeError::new(format!("remote {:?} has no client", remote.name))),
        };
        remote::ask(&client, remote, request).await
    }

    async fn local(&self, model: &str, request: &SampledRequest) -> Result<JudgeReply, JudgeError> {
        let mut messages = Vec::new();
        if let Some(system) = &request.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        for t in &request.messages {
            messages.push(json!({"role": t.role, "content": t.text}));
        }
        let mut body = json!({"model": model, "messages": messages, "temperature": 0});
        if let Some(max) = request.max_tokens {
            body["max_tokens"] = json!(max);
        }
        if let Some(schema) = &request.schema {
            body["response_format"] =
                json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}});
        }
        let parsed = serde_json::from_value(body)
            .map_err(|e| JudgeError::new(format!("replaying the request: {e}")))?;
        let resp = crate::chat::serve_local(self.state.clone(), parsed, Some(model), Instant::now())
            .await
            .map_err(|e| JudgeError::new(format!("local model {model:?}: {}", e.message)))?;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .map_err(|e| JudgeError::new(format!("local model {model:?}: {e}")))?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|_| JudgeError::new(format!("local model {model:?} answered {status} without JSON")))?;
        if !status.is_success() {
            return Err(JudgeError::new(format!("local model {model:?} answered {status}: {v}")));
        }
        let n = |k: &str| v.pointer(&format!("/usage/{k}")).and_then(Value::as_u64).unwrap_or(0);
        Ok(JudgeReply {
            text: super::answer_text(&v).unwrap_or_default(),
            usage: hearth_router::Usage {
                input_tokens: n("prompt_tokens"),
                output_tokens: n("completion_tokens"),
                ..hearth_router::Usage::default()
            },
            upstream_id: None,
            model: Some(model.to_owned()),
            batch: false,
        })
    }
}

/// Starts the monitor's worker when the server routes with a `[monitor]`.
pub(crate) fn spawn(state: &AppState) {
    let Some(monitor) = state.config().routing.as_ref().and_then(|r| r.monitor().cloned()) else { return };
    tracing::info!(judge = monitor.config().judge, "quality monitor started");
    tokio::spawn(monitor.run(ServerJudge::new(state.clone())));
}

/// A chat request as a judge replays it: system prompt, text turns, the JSON schema of its
/// `response_format`, its token limit. `None` for what cannot be replayed as text: tools, tool
/// turns, non-text parts.
pub(crate) fn sampled_request(raw: &Value) -> Option<SampledRequest> {
    if raw.get("tools").and_then(Value::as_array).is_some_and(|t| !t.is_empty()) {
        return None;
    }
    let mut system = Vec::new();
    let mut messages = Vec::new();
    for m in raw.get("messages")?.as_array()? {
        let content = m.get("content");
        if content.and_then(Value::as_array).is_some_and(|parts| parts.iter().any(|p| p["type"] != "text")) {
            return None;
        }
        let text = content_text(content);
        match m.get("role")?.as_str()? {
            "system" | "developer" => system.push(text),
            "user" => messages.push(Turn::user(text)),
            "assistant" if m.get("tool_calls").is_none() => messages.push(Turn::assistant(text)),
            _ => return None,
        }
    }
    let schema = match raw.pointer("/response_format/type").and_then(Value::as_str) {
        Some("json_schema") => raw.pointer("/response_format/json_schema/schema").cloned(),
        Some("json_object") => Some(json!({"type": "object"})),
        _ => None,
    };
    let max_tokens = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| raw.get(*k).and_then(Value::as_u64))
        .and_then(|n| u32::try_from(n).ok());
    Some(SampledRequest {
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        messages,
        schema,
        max_tokens,
    })
}

/// `GET /v1/hearth/routes`: every route (tasks, target, `escalate_to`, `pinned`) and, with a
/// monitor, each task type's tier, counts, agreement with its interval, test state and
/// history.
pub(crate) async fn routes(State(state): State<AppState>) -> Response {
    let Some(routing) = state.config().routing.clone() else {
        return crate::ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "invalid_request_error",
            "this server does not route (start it with `hearth serve --config FILE`)",
        )
        .into_response();
    };
    let config = routing.router().config();
    let demoted = routing.router().demoted();
    let routes: Vec<Value> = config
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let up: Vec<&String> =
                r.tasks.iter().filter(|t| demoted.contains(&t.to_ascii_lowercase())).collect();
            json!({
                "index": i,
                "tasks": r.tasks,
                "target": r.target,
                "escalate_to": r.escalate_to,
                "pinned": r.pinned,
                "moved_up": up,
            })
        })
        .collect();
    let monitor = routing.monitor().map(|m| {
        let s = m.state();
        json!({
            "judge": m.config().judge,
            "sample_rate": m.config().sample_rate,
            "agreement_floor": m.config().agreement_floor,
            "agreement_alternative": m.config().agreement_alternative,
            "queued": m.queued(),
            "judge_calls": s.judge_calls,
            "judge_errors": s.judge_errors,
            "judge_usd_today": s.judge_usd_today,
            "judge_usd_total": s.judge_usd_total,
            "dropped_queue": s.dropped_queue,
            "dropped_budget": s.dropped_budget,
            "tasks": hearth_monitor::report::rows(&s, config),
        })
    });
    crate::response::json_response(&json!({"routes": routes, "monitor": monitor}))
}

/// The monitor's `/metrics` lines.
pub(crate) fn metrics(out: &mut String, monitor: &Monitor, config: &hearth_router::RouterConfig) {
    let s = monitor.state();
    let rows = hearth_monitor::report::rows(&s, config);
    let mut family = |name: &str, kind: &str, help: &str, values: &mut dyn Iterator<Item = (String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in values {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    let task = |t: &str| format!("{{task=\"{}\"}}", t.replace(['"', '\\', '\n'], "_"));
    family(
        "hearth_monitor_sampled_total",
        "counter",
        "Answers sampled for the quality monitor's judge, by task type.",
        &mut rows.iter().map(|r| (task(&r.task), r.sampled as f64)),
    );
    family(
        "hearth_monitor_judged_total",
        "counter",
        "Sampled answers with a verdict, by task type.",
        &mut rows.iter().map(|r| (task(&r.task), r.judged as f64)),
    );
    family(
        "hearth_monitor_agreed_total",
        "counter",
        "Verdicts that agreed with the local answer, by task type.",
        &mut rows.iter().map(|r| (task(&r.task), r.agreed as f64)),
    );
    family(
        "hearth_monitor_agreement",
        "gauge",
        "Agreement over the recent verdicts (the window), by task type.",
        &mut rows.iter().filter_map(|r| r.agreement.map(|a| (task(&r.task), a))),
    );
    family(
        "hearth_monitor_moved_up",
        "gauge",
        "1 while the monitor serves the task type from its route's escalate_to.",
        &mut rows.iter().map(|r| (task(&r.task), f64::from(u8::from(r.tier == Tier::Up)))),
    );
    family(
        "hearth_monitor_judge_usd_total",
        "counter",
        "USD spent on judge calls.",
        &mut std::iter::once((String::new(), s.judge_usd_total)),
    );
    family(
        "hearth_monitor_dropped_total",
        "counter",
        "Samples dropped without a verdict: queue full, judge budget spent.",
        &mut [
            ("{reason=\"queue\"}".to_owned(), s.dropped_queue as f64),
            ("{reason=\"budget\"}".to_owned(), s.dropped_budget as f64),
        ]
        .into_iter(),
    );
    family(
        "hearth_monitor_judge_errors_total",
        "counter",
        "Judge calls that failed.",
        &mut std::iter::once((String::new(), s.judge_errors as f64)),
    );
}
