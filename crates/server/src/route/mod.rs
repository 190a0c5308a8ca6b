//! The router in the server: with [`crate::ServerConfig::routing`] set, every
//! `POST /v1/chat/completions` is decided by [`hearth_router::Policy::decide`] — `model` as
//! asked, the task from `metadata.task` or the `X-Hearth-Task` header, the messages' text —
//! and then served by a local model of the pool (as without routing) or by a remote
//! (`remote.rs` holds its client; `translate.rs` the OpenAI ↔ Anthropic shapes; `openai.rs`
//! relays to OpenAI-compatible remotes).
//!
//! Every response carries `x-hearth-route`, `x-hearth-reason` and `x-hearth-cost-usd`
//! (`headers.rs`); a non-streamed JSON body also gets a top-level `hearth` object.
//!
//! - A remote failure (after the client's retries) is recorded in [`Health`] (cooldowns);
//!   the route's `fallback` local model (else its target if local) then serves with reason
//!   `remote_unavailable`, else the client gets 502 naming the upstream's error and
//!   request-id. A successful remote call's cost goes to [`Spend`].
//! - `POST /v1/messages` goes through the same decision (`messages.rs`): a local model answers
//!   in Anthropic's shapes, an Anthropic remote gets the request passed through.
//! - Escalation (`escalate.rs`): when the decision carries `escalate_to`, the local answer is
//!   generated with log-probabilities, judged with [`hearth_router::should_escalate`], and
//!   replaced by the remote's when it falls short; the cost covers both attempts.

mod escalate;
mod headers;
pub(crate) mod messages;
pub(crate) mod messages_count;
mod messages_escalate;
mod messages_sse;
mod openai;
mod remote;
mod stream;
mod translate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hearth_router::{
    Decision, Health, Outcome, Policy, Reason, RouteInput, RouterConfig, RouterState, Spend,
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

/// The router's state in the server: the policy, spend against the caps, remote health and
/// one client per remote.
#[derive(Debug)]
pub struct Routing {
    policy: Policy,
    spend: Mutex<Spend>,
    health: Mutex<Health>,
    remotes: HashMap<String, RemoteClient>,
}

impl Routing {
    /// The router for a validated `config`, reading API keys with `env` (a remote's
    /// `api_key_env` variable unset is an error naming it).
    pub fn new(config: RouterConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<Routing, RoutingError> {
        let remotes = remote::clients(&config, env)?;
        Ok(Routing {
            policy: Policy::new(config),
            spend: Mutex::new(Spend::new()),
            health: Mutex::new(Health::new()),
            remotes,
        })
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

    /// The policy (and through it the config).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Remote spend so far.
    pub fn spend(&self) -> Spend {
        self.spend.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Sets the spend so far (e.g. restored from a ledger, or in tests).
    pub fn set_spend(&self, spend: Spend) {
        if let Ok(mut s) = self.spend.lock() {
            *s = spend;
        }
    }

    fn decide(&self, input: &RouteInput<'_>) -> Result<Decision, hearth_router::UnknownModel> {
        let spend = self.spend();
        let health = self.health.lock().map(|h| h.clone()).unwrap_or_default();
        let state = RouterState { now: SystemTime::now(), spend: &spend, health: &health };
        self.policy.decide(input, &state)
    }

    fn record_success(&self, remote: &str, cost_usd: f64) {
        if let Ok(mut h) = self.health.lock() {
            h.record_success(remote);
        }
        if let Ok(mut s) = self.spend.lock() {
            s.record(cost_usd, SystemTime::now());
        }
    }

    fn record_failure(&self, remote: &str, error: &str) {
        let Some(r) = self.policy.config().remote(remote) else { return };
        if let Ok(mut h) = self.health.lock()
            && let Some(c) = h.record_failure(r, error, SystemTime::now())
        {
            tracing::warn!(remote, failures = c.failures, secs = c.secs_left, "remote cooled down");
        }
    }

    /// The local model serving `decision`'s route when its remote failed: the route's
    /// `fallback`, else its target if local.
    fn fallback(&self, decision: &Decision) -> Option<String> {
        let config = self.policy.config();
        let route = config.routes.get(decision.route?)?;
        route.fallback.iter().chain([&route.target]).find(|n| config.local(n).is_some()).cloned()
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
    let hint = raw
        .pointer("/metadata/task")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| headers.get("x-hearth-task").and_then(|v| v.to_str().ok()).map(str::to_owned));
    let text = translate::routing_text(&raw);
    let requested = parsed.model.clone().unwrap_or_else(|| "auto".to_owned());
    let stream = parsed.stream.unwrap_or(false);
    let input = RouteInput { requested_model: &requested, task_hint: hint.as_deref(), text: &text, stream };
    let decision = match routing.decide(&input) {
        Ok(d) => d,
        Err(e) => return ApiError::not_found(e.to_string(), "model_not_found").into_response(),
    };
    tracing::debug!(target = ?decision.target(), reason = decision.reason.as_str(), "routed");
    let (target, local) = match &decision.outcome {
        Outcome::Serve { target, local } => (target.clone(), *local),
        Outcome::Reject { status, message } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let code = if status == StatusCode::TOO_MANY_REQUESTS {
                "budget_exceeded"
            } else {
                "remote_unavailable"
            };
            let resp = ApiError::new(status, "server_error", message.clone()).with_code(code).into_response();
            let info = RouteInfo {
                route: decision.preferred.clone().unwrap_or_default(),
                reason: decision.reason.as_str(),
                cost_usd: 0.0,
            };
            return finish(resp, &info, &decision, stream).await;
        }
    };
    let ctx = Ctx { state, routing: Arc::clone(&routing), raw, arrived, stream };
    let routing = &*routing;
    let (resp, info) = if !local {
        remote_or_fallback(routing, &ctx, parsed, &decision, &target).await
    } else if decision.escalate_to.is_some() {
        escalate::serve(routing, &ctx, parsed, &decision, &target).await
    } else {
        let info = RouteInfo { route: target.clone(), reason: decision.reason.as_str(), cost_usd: 0.0 };
        (serve_local(&ctx, parsed, &target).await, info)
    };
    finish(resp, &info, &decision, stream).await
}

/// What the steps of one routed request share.
pub(crate) struct Ctx {
    state: AppState,
    routing: Arc<Routing>,
    raw: Value,
    arrived: Instant,
    stream: bool,
}

/// `target`, a local model of the pool, answers as without routing.
async fn serve_local(ctx: &Ctx, parsed: GenerationBody, target: &str) -> Response {
    crate::chat::serve_local(ctx.state.clone(), parsed, Some(target), ctx.arrived)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The remote `target` answers; if it fails, the route's fallback local model, else 502.
async fn remote_or_fallback(
    routing: &Routing,
    ctx: &Ctx,
    parsed: GenerationBody,
    decision: &Decision,
    target: &str,
) -> (Response, RouteInfo) {
    match call_remote(routing, ctx, target, ctx.stream).await {
        Ok((resp, cost_usd)) => {
            (resp, RouteInfo { route: target.to_owned(), reason: decision.reason.as_str(), cost_usd })
        }
        Err(RemoteFailed::Request(e)) => (
            e.into_response(),
            RouteInfo { route: target.to_owned(), reason: decision.reason.as_str(), cost_usd: 0.0 },
        ),
        Err(RemoteFailed::Upstream(message)) => match routing.fallback(decision) {
            Some(local) if decision.reason != Reason::Explicit => {
                tracing::warn!(
                    remote = target,
                    fallback = local,
                    error = message,
                    "remote failed; serving locally"
                );
                let info = RouteInfo {
                    route: local.clone(),
                    reason: Reason::RemoteUnavailable.as_str(),
                    cost_usd: 0.0,
                };
                (serve_local(ctx, parsed, &local).await, info)
            }
            _ => {
                let resp = ApiError::new(StatusCode::BAD_GATEWAY, "server_error", message)
                    .with_code("upstream_error")
                    .into_response();
                (
                    resp,
                    RouteInfo { route: target.to_owned(), reason: decision.reason.as_str(), cost_usd: 0.0 },
                )
            }
        },
    }
}

/// Why a remote call gave no answer.
enum RemoteFailed {
    /// The request cannot be sent (a 400 for the client).
    Request(ApiError),
    /// The upstream failed after its retries (recorded in [`Health`]): what it said.
    Upstream(String),
}

/// Calls remote `target` with the request, as JSON or (`stream`) SSE; the response and its
/// cost in USD.
async fn call_remote(
    routing: &Routing,
    ctx: &Ctx,
    target: &str,
    stream: bool,
) -> Result<(Response, f64), RemoteFailed> {
    let (Some(remote), Some(client)) = (routing.policy.config().remote(target), routing.remotes.get(target))
    else {
        return Err(RemoteFailed::Request(ApiError::internal(format!("remote {target:?} has no client"))));
    };
    let client = match client {
        RemoteClient::Anthropic(client) => client,
        RemoteClient::OpenAi(client) => {
            return openai::call(routing, ctx, target, remote, client, stream).await;
        }
    };
    let mut req =
        translate::to_anthropic(&ctx.raw, &remote.model, remote.max_tokens).map_err(RemoteFailed::Request)?;
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
                let writer = translate::ChunkWriter::new(id, created, remote.model.clone(), include_usage);
                Ok((stream::respond(Arc::clone(&ctx.routing), target.to_owned(), events, writer), 0.0))
            }
            Err(e) => Err(upstream_failed(routing, target, &e, e.request_id())),
        };
    }
    match client.messages(&req).await {
        Ok(answer) => {
            let cost =
                hearth_router::cost::remote_cost_usd(remote, &translate::router_usage(&answer.body.usage));
            routing.record_success(target, cost);
            let body = translate::completion(&id, created, &answer.body.model, &answer.body);
            Ok((crate::response::json_response(&body), cost))
        }
        Err(e) => Err(upstream_failed(routing, target, &e, e.request_id())),
    }
}

/// Records a failed call to remote `target` (error `e`, the upstream's request id if any) and
/// the message naming it for the client.
fn upstream_failed(
    routing: &Routing,
    target: &str,
    e: &dyn std::fmt::Display,
    request_id: Option<&str>,
) -> RemoteFailed {
    let message = match request_id {
        Some(id) if !e.to_string().contains(id) => format!("remote {target:?} failed: {e} (request-id {id})"),
        _ => format!("remote {target:?} failed: {e}"),
    };
    routing.record_failure(target, &e.to_string());
    RemoteFailed::Upstream(message)
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
