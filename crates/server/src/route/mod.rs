//! The router in the server: with [`crate::ServerConfig::routing`] set, every
//! `POST /v1/chat/completions` goes through [`hearth_router::Router::complete`] — the same
//! flow a service linking hearth in runs — with `chat.rs` as its adapter: the request as the
//! router reads it (`model` as asked, the task from `metadata.task` or the `X-Hearth-Task`
//! header, the messages' text) and the backends that answer in OpenAI's shapes: a local model
//! of the pool (as without routing; `escalate.rs` when the answer must be probed) or a remote
//! (`remote.rs` holds its client; `translate.rs` the OpenAI ↔ Anthropic shapes and
//! `translate_tools.rs` their tools and tool calls; `openai.rs` relays to OpenAI-compatible
//! remotes, tools included, untouched).
//!
//! Every response carries `x-hearth-route`, `x-hearth-reason` and `x-hearth-cost-usd`
//! (`headers.rs`); a non-streamed JSON body also gets a top-level `hearth` object. The router
//! decides refusals (429 past a cap, 503 cooling down), fallbacks (reason
//! `remote_unavailable`), escalations (`low_confidence`, `invalid_output`) and accounting;
//! a remote that failed with nothing local to serve is a 502 naming the upstream's error and
//! request-id. A streamed remote answer's cost is recorded at the stream's end.
//!
//! `POST /v1/messages` goes through the same decision (`messages.rs`): a local model answers
//! in Anthropic's shapes, an Anthropic remote gets the request passed through (tools and
//! tool turns as sent).
//!
//! A row whose answer calls tools is tagged `tool_calls` = how many in the ledger.

pub(crate) mod cache;
mod chat;
mod completions;
pub(crate) mod escalate;
mod headers;
pub(crate) mod messages;
mod messages_backends;
pub(crate) mod messages_count;
mod messages_escalate;
mod messages_sse;
pub(crate) mod monitor;
mod openai;
mod remote;
mod stream;
mod translate;
mod translate_tools;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hearth_router::{
    Cause, CompleteError, Decision, Policy, RemoteAnswer, RemoteError, RouteInput, Routed, Router,
    RouterConfig, Spend,
};
use serde_json::Value;

use crate::request::GenerationBody;
use crate::{ApiError, AppState};
use headers::RouteInfo;
use remote::RemoteClient;

/// A config the router cannot start with (a remote without its API key, a `base_url` that is
/// not an http(s) URL): reported at start-up, naming the `[[remotes]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RoutingError(pub String);

/// The router's state in the server: [`hearth_router::Router`] (the policy, spend against the
/// caps, remote health) and one client per remote.
#[derive(Debug)]
pub struct Routing {
    router: Router,
    remotes: HashMap<String, RemoteClient>,
    /// The response cache (`[cache]`), when configured.
    cache: Option<Arc<hearth_cache::Cache>>,
    /// The quality monitor (`[monitor]`), when configured.
    monitor: Option<Arc<hearth_monitor::Monitor>>,
}

impl Routing {
    /// The router for a validated `config`, reading API keys with `env` (a remote's
    /// `api_key_env` variable unset is an error naming it).
    pub fn new(config: RouterConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<Routing, RoutingError> {
        let remotes = remote::clients(&config, env)?;
        Ok(Routing { router: Router::new(config), remotes, cache: None, monitor: None })
    }

    /// The same routing, writing one ledger row per call ([`hearth_router::ledger_rows`]).
    pub fn with_ledger(self, ledger: Arc<hearth_router::hearth_ledger::Ledger>) -> Routing {
        Routing { router: self.router.with_ledger(ledger), ..self }
    }

    /// The same routing with the response cache in front of `/v1/chat/completions`.
    pub fn with_cache(self, cache: Arc<hearth_cache::Cache>) -> Routing {
        Routing { cache: Some(cache), ..self }
    }

    /// The same routing watched by the quality monitor: it samples answers, and the task
    /// types it moves up are served by their route's `escalate_to`. The server starts its
    /// worker ([`crate::Server::serve`]).
    pub fn with_monitor(self, monitor: Arc<hearth_monitor::Monitor>) -> Routing {
        let watch: Arc<dyn hearth_router::Watch> = monitor.clone();
        Routing { router: self.router.with_watch(watch), monitor: Some(monitor), ..self }
    }

    /// The quality monitor, when configured.
    pub fn monitor(&self) -> Option<&Arc<hearth_monitor::Monitor>> {
        self.monitor.as_ref()
    }

    /// The response cache, when configured.
    pub fn cache(&self) -> Option<&Arc<hearth_cache::Cache>> {
        self.cache.as_ref()
    }

    /// [`Routing::new`] with the process environment.
    pub fn from_env(config: RouterConfig) -> Result<Routing, RoutingError> {
        Routing::new(config, &|v| std::env::var(v).ok())
    }

    /// The Anthropic client of remote `name`; `None` when there is no such remote or it is
    /// not an Anthropic one (`/v1/messages` passes requests through to these only).
    pub fn anthropic_client(&self, name: &str) -> Option<&hearth_anthropic::Client> {
        match self.remotes.get(name)? {
            RemoteClient::Anthropic(client) => Some(client),
            RemoteClient::OpenAi(_) => None,
        }
    }

    /// The client of remote `name` when it is a `provider = "openai"` remote.
    pub fn openai_client(&self, name: &str) -> Option<&hearth_openai::Client> {
        match self.remotes.get(name)? {
            RemoteClient::OpenAi(client) => Some(client),
            RemoteClient::Anthropic(_) => None,
        }
    }

    /// The router: policy, spend, health.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The policy (and through it the config).
    pub fn policy(&self) -> &Policy {
        self.router.policy()
    }

    fn config(&self) -> &RouterConfig {
        self.router.config()
    }

    /// Remote spend so far.
    pub fn spend(&self) -> Spend {
        self.router.spend()
    }

    /// Sets the spend so far (e.g. restored from a ledger, or in tests).
    pub fn set_spend(&self, spend: Spend) {
        self.router.set_spend(spend);
    }

    fn decide(&self, input: &RouteInput<'_>) -> Result<Decision, hearth_router::UnknownModel> {
        self.router.decide(input)
    }

    /// Records a successful call to `remote` with `usage`; its cost in USD.
    fn record_success(&self, remote: &str, usage: &hearth_router::Usage) -> f64 {
        self.router.record_success(remote, usage)
    }

    fn record_failure(&self, remote: &str, error: &str) {
        self.router.record_failure(remote, error);
    }

    /// Counts a routed request in `/metrics` (`hearth_routed_requests_total`,
    /// `hearth_cost_usd_total`, `hearth_saved_usd_total`); an unknown model is not counted.
    pub(super) fn account<A, E>(&self, state: &AppState, result: &Result<Routed<A>, CompleteError<E>>) {
        let (decision, route, reason, cost, saved) = match result {
            Ok(r) => (&r.decision, &r.route, r.reason, r.cost_usd, self.saved_usd(&r.attempts)),
            Err(CompleteError::Failed(f)) => (&f.decision, &f.route, f.reason, 0.0, 0.0),
            Err(CompleteError::UnknownModel(_)) => return,
        };
        let task = self.task_label(&decision.task.name);
        state.metrics().record_routed(task, route, reason.as_str(), cost, saved);
    }

    /// A task as a metrics label: a known task or one a route lists, else `other` (clients
    /// name tasks freely; labels must stay few).
    fn task_label<'a>(&self, task: &'a str) -> &'a str {
        let known = hearth_router::task::KNOWN_TASKS.contains(&task)
            || self.config().routes.iter().any(|r| r.lists(task));
        if known { task } else { "other" }
    }

    /// What the reference remote would have charged for the local answers served (those
    /// whose usage is known).
    fn saved_usd(&self, attempts: &[hearth_router::Attempt]) -> f64 {
        let reference = self.config().reference_remote();
        attempts
            .iter()
            .filter(|a| a.local && a.outcome == hearth_router::AttemptOutcome::Served)
            .filter_map(|a| a.usage)
            .map(|u| hearth_router::cost::local_call(reference, &u).saved_usd)
            .sum()
    }

    /// The local model serving `decision`'s route when its remote failed.
    fn fallback(&self, decision: &Decision) -> Option<String> {
        self.router.fallback(decision)
    }
}

/// `POST /v1/chat/completions` through the router.
pub(crate) async fn chat(
    state: AppState,
    routing: Arc<Routing>,
    headers: &HeaderMap,
    parsed: GenerationBody,
    body: &Bytes,
    arrived: Instant,
) -> Response {
    let raw: Value = serde_json::from_slice(body).unwrap_or_default();
    let id = state.new_id("req");
    let mut req = chat::ChatRequest::new(parsed, &raw, headers, id.clone());
    if routing.monitor().is_some() {
        req.sampled = monitor::sampled_request(&raw);
    }
    let stream = req.stream;
    let looked = match routing.cache() {
        Some(cache) if !stream => cache::lookup(&state, &routing, cache, &req, &raw, headers).await,
        _ => cache::Looked::Bypass,
    };
    let pending = match looked {
        cache::Looked::Hit(resp) => return with_request_id(resp, &id),
        cache::Looked::Miss(p) => Some(p),
        cache::Looked::Bypass => None,
    };
    let slot = LedgerSlot::default();
    let ctx = Ctx { state, routing: Arc::clone(&routing), raw, arrived, stream, slot };
    let backends = chat::ChatBackends { ctx: &ctx };
    let mut result = routing.router.complete(&backends, &req).await;
    if let Ok(r) = &mut result {
        ctx.slot.fill(r.pending.take());
    }
    let resp = respond(&ctx.state, &routing, result, stream).await;
    let resp = match (pending, routing.cache().is_some()) {
        (Some(p), _) => cache::store(p, resp).await,
        (None, true) => cache::bypass(resp),
        (None, false) => resp,
    };
    with_request_id(resp, &id)
}

/// `POST /v1/completions` through the router (local models only: `completions.rs`).
pub(crate) async fn completions(
    state: AppState,
    routing: Arc<Routing>,
    headers: &HeaderMap,
    parsed: GenerationBody,
    body: &Bytes,
    arrived: Instant,
) -> Response {
    let raw: Value = serde_json::from_slice(body).unwrap_or_default();
    let id = state.new_id("req");
    let req = completions::CompletionRequest::new(parsed, &raw, headers, id.clone());
    let backends = completions::CompletionBackends { state: &state, arrived };
    let result = routing.router.complete(&backends, &req).await;
    with_request_id(respond(&state, &routing, result, req.stream).await, &id)
}

/// A routed OpenAI-API request's response: the answer, or the error in OpenAI's shape (429
/// `budget_exceeded`, 503 `remote_unavailable`, 502 `upstream_error`, the backend's own), with
/// the routing headers and, for JSON, the `hearth` object.
async fn respond(
    state: &AppState,
    routing: &Routing,
    result: Result<Routed<Response>, CompleteError<ApiError>>,
    stream: bool,
) -> Response {
    routing.account(state, &result);
    match result {
        Ok(r) => {
            let info = RouteInfo { route: r.route, reason: r.reason.as_str(), cost_usd: r.cost_usd };
            finish(r.answer, &info, &r.decision, stream).await
        }
        Err(CompleteError::UnknownModel(e)) => {
            ApiError::not_found(e.to_string(), "model_not_found").into_response()
        }
        Err(CompleteError::Failed(f)) => {
            let resp = match f.cause {
                Cause::Refused { status, message } => {
                    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                    let code = if status == StatusCode::TOO_MANY_REQUESTS {
                        "budget_exceeded"
                    } else {
                        "remote_unavailable"
                    };
                    ApiError::new(status, "server_error", message).with_code(code).into_response()
                }
                Cause::Local(e) | Cause::Request(e) => e.into_response(),
                Cause::Upstream { message, reply } => reply
                    .unwrap_or_else(|| {
                        ApiError::new(StatusCode::BAD_GATEWAY, "server_error", message)
                            .with_code("upstream_error")
                    })
                    .into_response(),
            };
            let info = RouteInfo { route: f.route, reason: f.reason.as_str(), cost_usd: 0.0 };
            finish(resp, &info, &f.decision, stream).await
        }
    }
}

/// A local JSON answer as the router records it: its usage (`usage.prompt_tokens` /
/// `completion_tokens`, or Anthropic's `input_tokens` / `output_tokens`) and its tool calls
/// ([`answer_tool_calls`]); a stream or an error is returned as is, without usage.
async fn local_answer(resp: Response) -> hearth_router::LocalAnswer<Response> {
    let (resp, usage, tool_calls, text) = with_local_usage(resp).await;
    hearth_router::LocalAnswer::new(resp).with_usage(usage).with_tool_calls(tool_calls).with_text(text)
}

/// The tool calls of a JSON answer in either API's shape: `choices[0].message.tool_calls`,
/// or the `tool_use` blocks of `content`.
fn answer_tool_calls(v: &Value) -> u32 {
    let n = match v.pointer("/choices/0/message/tool_calls").and_then(Value::as_array) {
        Some(calls) => calls.len(),
        None => v
            .get("content")
            .and_then(Value::as_array)
            .map_or(0, |blocks| blocks.iter().filter(|b| b["type"] == "tool_use").count()),
    };
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The `tool_use` blocks of a message.
fn tool_use_count(msg: &hearth_anthropic::types::Message) -> u32 {
    let n =
        msg.content.iter().filter(|b| matches!(b, hearth_anthropic::types::ContentBlock::ToolUse(_))).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// [`local_answer`]'s parts: the answer (its body read and put back), usage, tool calls.
async fn with_local_usage(resp: Response) -> (Response, Option<hearth_router::Usage>, u32, Option<String>) {
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json || !resp.status().is_success() {
        return (resp, None, 0, None);
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return (ApiError::internal("could not read the local answer").into_response(), None, 0, None);
    };
    let value = serde_json::from_slice::<Value>(&bytes).ok();
    let tool_calls = value.as_ref().map_or(0, answer_tool_calls);
    let text = value.as_ref().and_then(answer_text);
    let usage = value.and_then(|v| {
        let u = v.get("usage")?;
        let n = |a: &str, b: &str| u.get(a).or_else(|| u.get(b)).and_then(Value::as_u64);
        Some(hearth_router::Usage {
            input_tokens: n("prompt_tokens", "input_tokens")?,
            output_tokens: n("completion_tokens", "output_tokens")?,
            ..hearth_router::Usage::default()
        })
    });
    (Response::from_parts(parts, axum::body::Body::from(bytes)), usage, tool_calls, text)
}

/// The text of a JSON answer in either API's shape: `choices[0].message.content`, or the
/// text blocks of `content`.
pub(crate) fn answer_text(v: &Value) -> Option<String> {
    if let Some(choice) = v.pointer("/choices/0") {
        return choice.pointer("/message/content").and_then(Value::as_str).map(str::to_owned);
    }
    let blocks = v.get("content")?.as_array()?;
    Some(blocks.iter().filter(|b| b["type"] == "text").filter_map(|b| b["text"].as_str()).collect())
}

/// What the steps of one routed request share.
pub(crate) struct Ctx {
    state: AppState,
    routing: Arc<Routing>,
    raw: Value,
    arrived: Instant,
    stream: bool,
    /// Where a streamed remote answer's ledger row waits for the stream's end.
    slot: LedgerSlot,
}

/// Where a streamed remote answer's ledger row ([`hearth_router::PendingRow`]) waits for the
/// stream's end: the stream's state holds one end, and the handler fills it with
/// [`hearth_router::Routed::pending`] once `Router::complete` returns (before the body is
/// polled). Dropped unfinished (the client left), the row is written as an error.
#[derive(Debug, Clone, Default)]
pub(crate) struct LedgerSlot(Arc<std::sync::Mutex<Option<hearth_router::PendingRow>>>);

impl LedgerSlot {
    fn fill(&self, row: Option<hearth_router::PendingRow>) {
        if let (Some(row), Ok(mut slot)) = (row, self.0.lock()) {
            *slot = Some(row);
        }
    }

    /// The first token arrived.
    fn first_token(&self) {
        if let Ok(mut slot) = self.0.lock()
            && let Some(row) = slot.as_mut()
        {
            row.set_time_to_first_token();
        }
    }

    /// The streamed answer made `n` tool calls.
    fn tool_calls(&self, n: usize) {
        if let Ok(mut slot) = self.0.lock()
            && let Some(row) = slot.as_mut()
        {
            row.set_tool_calls(u32::try_from(n).unwrap_or(u32::MAX));
        }
    }

    /// The stream ended, with its usage and, if it failed, why.
    fn finish(&self, usage: Option<&hearth_router::Usage>, error: Option<&str>) {
        let row = self.0.lock().ok().and_then(|mut s| s.take());
        if let Some(row) = row {
            row.finish(usage, error);
        }
    }
}

/// The ledger facts of a request: hearth's id for it, the operation, and its tags (the
/// body's `metadata` without `task`, which has its own column; its `user`; the
/// `X-Hearth-Tag-*` headers).
pub(super) fn call_info(
    request_id: String,
    operation: &str,
    metadata: Option<&serde_json::Map<String, Value>>,
    user: Option<&str>,
    headers: &HeaderMap,
) -> hearth_router::CallInfo {
    let metadata = metadata.map(|m| {
        let mut m = m.clone();
        m.remove("task");
        m
    });
    let headers = headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
    hearth_router::CallInfo {
        request_id,
        operation: operation.to_owned(),
        tags: hearth_router::hearth_ledger::tags::collect(metadata.as_ref(), user, headers),
        instance: None,
    }
}

/// Sets `x-request-id` (hearth's id of the request, the ledger's `request_id`) unless the
/// response has one.
fn with_request_id(mut resp: Response, id: &str) -> Response {
    if !resp.headers().contains_key("x-request-id")
        && let Ok(v) = axum::http::HeaderValue::from_str(id)
    {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// What a remote call returns to the router: the answer and, when known, its usage.
type RemoteResult = Result<RemoteAnswer<Response>, RemoteError<ApiError>>;

/// An upstream failure of remote `e`, for the router (which records it and names the
/// remote in the message).
fn upstream(e: &dyn std::fmt::Display, request_id: Option<&str>) -> RemoteError<ApiError> {
    RemoteError::Upstream { error: e.to_string(), request_id: request_id.map(str::to_owned), reply: None }
}

/// Calls remote `target` with the request, as JSON or (`stream`) SSE; the response and, for
/// JSON, its usage (a stream records its own at its end).
async fn call_remote(ctx: &Ctx, target: &str, stream: bool) -> RemoteResult {
    let routing = &*ctx.routing;
    let (Some(remote), Some(client)) = (routing.config().remote(target), routing.remotes.get(target)) else {
        return Err(RemoteError::Request(ApiError::internal(format!("remote {target:?} has no client"))));
    };
    let client = match client {
        RemoteClient::Anthropic(client) => client,
        RemoteClient::OpenAi(client) => return openai::call(ctx, target, remote, client, stream).await,
    };
    let mut req =
        translate::to_anthropic(&ctx.raw, &remote.model, remote.max_tokens).map_err(RemoteError::Request)?;
    if remote.prompt_caching {
        let min = hearth_anthropic::cache::min_cacheable_tokens(&req.model);
        hearth_anthropic::cache::mark_cacheable(&mut req, min, None);
    }
    let id = ctx.state.new_id("chatcmpl");
    let created = crate::state::unix_now();
    if stream {
        let include_usage =
            ctx.raw.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
        return match client.messages_stream(&req).await {
            Ok(events) => {
                // The cost is known only at the end of the stream; it is recorded then.
                let upstream_id = events.request_id().map(str::to_owned);
                let writer = translate::ChunkWriter::new(id, created, remote.model.clone(), include_usage);
                let resp = stream::respond(
                    Arc::clone(&ctx.routing),
                    target.to_owned(),
                    events,
                    writer,
                    ctx.slot.clone(),
                );
                Ok(RemoteAnswer::new(resp, None).with_upstream_id(upstream_id))
            }
            Err(e) => Err(upstream(&e, e.request_id())),
        };
    }
    match client.messages(&req).await {
        Ok(answer) => {
            let usage = translate::router_usage(&answer.body.usage);
            let body = translate::completion(&id, created, &answer.body.model, &answer.body);
            Ok(RemoteAnswer::new(crate::response::json_response(&body), Some(usage))
                .with_text(Some(answer.body.text()))
                .with_upstream_id(answer.request_id)
                .with_tool_calls(tool_use_count(&answer.body)))
        }
        Err(e) => Err(upstream(&e, e.request_id())),
    }
}

/// Puts the routing headers on `resp` and, for a non-streamed JSON body, the `hearth` object.
async fn finish(mut resp: Response, info: &RouteInfo, decision: &Decision, stream: bool) -> Response {
    headers::apply(&mut resp, info);
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if stream || !is_json || !resp.status().is_success() {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::internal("could not read the response body").into_response();
    };
    let mut value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => return Response::from_parts(parts, axum::body::Body::from(bytes)),
    };
    if let Some(obj) = value.as_object_mut() {
        obj.insert("hearth".to_owned(), headers::hearth_object(decision, info));
    }
    let mut parts = parts;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(value.to_string()))
}
