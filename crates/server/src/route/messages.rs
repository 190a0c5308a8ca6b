//! `POST /v1/messages` through the router: the same [`hearth_router::Policy::decide`] as
//! `/v1/chat/completions`, answered in Anthropic's shapes whichever target serves.
//!
//! The decision's input:
//! - `model`: `auto` routes; a local model or remote name goes straight there (`explicit`).
//!   Claude clients send real model ids (`claude-haiku-4-5`): an id that is no configured name
//!   but is the `model` of a `[[remotes]]` entry goes to that remote, as `explicit`; any other
//!   name is a 404 `not_found_error` listing the names served.
//! - the task: the `X-Hearth-Task` header, else `metadata.task` (a hearth extension: the API
//!   accepts only `metadata.user_id`, so it is removed before a request goes upstream), else
//!   the policy's guess.
//! - the routing text: the system prompt and the messages' text.
//!
//! Then:
//! - a local target answers as `/v1/messages` without routing does (`messages::serve_local`);
//!   with `escalate_to`, the answer is generated with log-probabilities and judged first
//!   (`messages_escalate.rs`);
//! - an Anthropic remote gets the request as sent, `model` replaced by the remote's `model`,
//!   `metadata.task` removed, the system prompt marked cacheable when long enough
//!   (`prompt_caching`); its JSON message or its SSE events (`messages_sse.rs`) are relayed with
//!   its usage (cache reads and writes apart) and its `request-id`. The cost goes to [`Spend`].
//!   An upstream refusal of the request itself (400, 404, 413, 422) reaches the client with its
//!   status and message; any other failure is recorded in [`Health`] and served by the route's
//!   local fallback (reason `remote_unavailable`), else answered 429 / 529 (as upstream) or 502
//!   `api_error` naming the upstream's error;
//! - an OpenAI remote is not served here: a 400 says so.
//!
//! Every answer has `request-id`, `x-hearth-route`, `x-hearth-reason` and `x-hearth-cost-usd`;
//! a non-streamed message also has the `hearth` object.
//!
//! [`Spend`]: hearth_router::Spend
//! [`Health`]: hearth_router::Health

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use hearth_anthropic::types::{Message as ApiMessage, MessagesRequest};
use hearth_router::{Cause, CompleteError, RemoteError, RouterConfig, Usage};

use super::headers::RouteInfo;
use super::messages_backends::{MessagesBackends, MessagesRouted};
use super::{Routing, finish};
use crate::{ApiError, AppState, anthropic_error};

/// What the steps of one routed `/v1/messages` request share.
pub(super) struct MessagesCtx {
    pub state: AppState,
    pub routing: Arc<Routing>,
    pub req: MessagesRequest,
    pub arrived: Instant,
    pub stream: bool,
    /// hearth's `request-id` (`req_…`), for answers not from upstream.
    pub request_id: String,
    /// Where a streamed remote answer's ledger row waits for the stream's end.
    pub slot: super::LedgerSlot,
}

/// `POST /v1/messages` through the router; every answer is in Anthropic's shapes.
pub(crate) async fn serve(
    state: AppState,
    routing: Arc<Routing>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    request_id: &str,
) -> Response {
    let arrived = Instant::now();
    let req: MessagesRequest = match crate::request::body_bytes(body).and_then(|b| crate::messages::parse(&b))
    {
        Ok(r) => r,
        Err(e) => return anthropic_error::respond(&e, request_id),
    };
    let stream = req.stream == Some(true);
    let ctx = MessagesCtx {
        state,
        routing: Arc::clone(&routing),
        req,
        arrived,
        stream,
        request_id: request_id.to_owned(),
        slot: super::LedgerSlot::default(),
    };
    let routed = MessagesRouted::new(routing.config(), headers, &ctx);
    let backends = MessagesBackends { ctx: &ctx };
    let mut result = routing.router().complete(&backends, &routed).await;
    if let Ok(r) = &mut result {
        ctx.slot.fill(r.pending.take());
    }
    routing.account(&ctx.state, &result);
    let (resp, info, decision) = match result {
        Ok(r) => {
            let info = RouteInfo { route: r.route, reason: r.reason.as_str(), cost_usd: r.cost_usd };
            (r.answer, info, r.decision)
        }
        Err(CompleteError::UnknownModel(e)) => {
            let e = ApiError::not_found(e.to_string(), "model_not_found");
            return anthropic_error::respond(&e, request_id);
        }
        Err(CompleteError::Failed(f)) => {
            let resp = match f.cause {
                Cause::Refused { status, message } => reject(&ctx, status, &message),
                Cause::Local(e) | Cause::Request(e) => anthropic_error::respond(&e, request_id),
                Cause::Upstream { message, reply } => {
                    let e = reply.unwrap_or_else(|| {
                        ApiError::new(StatusCode::BAD_GATEWAY, "server_error", message)
                            .with_code("upstream_error")
                    });
                    anthropic_error::respond(&e, request_id)
                }
            };
            let info = RouteInfo { route: f.route, reason: f.reason.as_str(), cost_usd: 0.0 };
            (resp, info, f.decision)
        }
    };
    let mut resp = finish(resp, &info, &decision, stream).await;
    if !resp.headers().contains_key("request-id") {
        resp = crate::messages::with_request_id(resp, request_id);
    }
    resp
}

/// The name to decide with: `model` itself when it is `auto` or a configured name, else the
/// remote whose upstream `model` it is, else `model` (which the policy refuses, naming what
/// is served).
pub(super) fn requested_model(config: &RouterConfig, model: &str) -> String {
    let configured = model == "auto" || config.local(model).is_some() || config.remote(model).is_some();
    if configured {
        return model.to_owned();
    }
    config.remotes.iter().find(|r| r.model == model).map_or_else(|| model.to_owned(), |r| r.name.clone())
}

/// The task hint: the `X-Hearth-Task` header, else `metadata.task`.
pub(super) fn task_hint(headers: &HeaderMap, req: &MessagesRequest) -> Option<String> {
    let header = headers.get("x-hearth-task").and_then(|v| v.to_str().ok()).map(str::to_owned);
    header.or_else(|| req.metadata.as_ref()?.extra.get("task").and_then(|v| v.as_str()).map(str::to_owned))
}

/// The text the complexity score reads: the system prompt, then each message's text.
pub(super) fn routing_text(req: &MessagesRequest) -> String {
    req.system
        .iter()
        .map(|s| s.text())
        .chain(req.messages.iter().map(|m| m.content.text()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A refused request (a spend cap: 429 naming it; a remote cooling down: 503).
fn reject(ctx: &MessagesCtx, status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let code = if status == StatusCode::TOO_MANY_REQUESTS { "budget_exceeded" } else { "remote_unavailable" };
    let e = ApiError::new(status, "server_error", message).with_code(code);
    anthropic_error::respond(&e, &ctx.request_id)
}

/// Remote `target`'s message for `ctx.req` (never streamed), its `request-id` and its usage.
pub(super) async fn remote_message(
    ctx: &MessagesCtx,
    target: &str,
) -> Result<(ApiMessage, Option<String>, Usage), RemoteError<ApiError>> {
    let (client, up) = upstream(ctx, target).map_err(RemoteError::Request)?;
    let answer = client.messages(&up).await.map_err(|e| failed(target, &e))?;
    let usage = super::translate::router_usage(&answer.body.usage);
    Ok((answer.body, answer.request_id, usage))
}

/// The client of remote `target` and the request it gets.
pub(super) fn upstream<'a>(
    ctx: &'a MessagesCtx,
    target: &str,
) -> Result<(&'a hearth_anthropic::Client, MessagesRequest), ApiError> {
    let config = ctx.routing.config();
    let Some(remote) = config.remote(target) else {
        return Err(ApiError::internal(format!("remote {target:?} is not configured")));
    };
    let Some(client) = ctx.routing.anthropic_client(target) else {
        return Err(ApiError::invalid(
            Some("model"),
            format!(
                "the route chose remote {target:?} (provider {:?}), which /v1/messages does not serve: \
                 only provider \"anthropic\" remotes are passed through; send this request to \
                 /v1/chat/completions, or name a local model or an anthropic remote in `model`",
                remote.provider.as_str()
            ),
        ));
    };
    Ok((client, upstream_request(&ctx.req, remote)))
}

/// `req` as sent upstream: the remote's `model`, no `stream` (the client sets it), no
/// `metadata.task`, the stable prefix marked cacheable when the remote caches.
pub(super) fn upstream_request(req: &MessagesRequest, remote: &hearth_router::Remote) -> MessagesRequest {
    let mut up = req.clone();
    up.model = remote.model.clone();
    up.stream = None;
    if let Some(m) = &mut up.metadata {
        m.extra.remove("task");
        if m.user_id.is_none() && m.extra.is_empty() {
            up.metadata = None;
        }
    }
    if remote.prompt_caching {
        let min = hearth_anthropic::cache::min_cacheable_tokens(&up.model);
        hearth_anthropic::cache::mark_cacheable(&mut up, min, None);
    }
    up
}

/// What a failed call means for the client: an upstream refusal of the request itself (400,
/// 404, 413, 422) keeps its status and message and leaves the remote healthy; anything else is
/// an upstream failure (the router records it) whose reply, if nothing local serves, is 429 or
/// 529 (as upstream, after the retries, with its `retry-after`) or 502.
pub(super) fn failed(target: &str, e: &hearth_anthropic::Error) -> RemoteError<ApiError> {
    let text = e.to_string();
    if let hearth_anthropic::Error::Api(api) = e
        && matches!(api.status, 400 | 404 | 413 | 422)
    {
        let status = StatusCode::from_u16(api.status).unwrap_or(StatusCode::BAD_REQUEST);
        let id = api.request_id.as_deref().map(|id| format!(", request-id {id}")).unwrap_or_default();
        let message = format!("{} (remote {target:?}{id})", api.message);
        return RemoteError::Request(ApiError::new(status, "invalid_request_error", message));
    }
    let message = match e.request_id() {
        Some(id) if !text.contains(id) => format!("remote {target:?} failed: {text} (request-id {id})"),
        _ => format!("remote {target:?} failed: {text}"),
    };
    let mut reply = match e {
        hearth_anthropic::Error::Api(api) if matches!(api.status, 429 | 529) => {
            let status = StatusCode::from_u16(api.status).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut error = ApiError::new(status, "server_error", message);
            error.retry_after = api.retry_after.map(|d| d.as_secs_f64().ceil() as u64);
            error
        }
        _ => ApiError::new(StatusCode::BAD_GATEWAY, "server_error", message),
    };
    reply.code = Some("upstream_error");
    RemoteError::Upstream { error: text, request_id: e.request_id().map(str::to_owned), reply: Some(reply) }
}

/// A message as the JSON answer, with the upstream's `request-id` when there is one.
pub(super) fn message_response(msg: &ApiMessage, request_id: Option<&str>) -> Response {
    let mut resp = crate::response::json_response(msg);
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    set_request_id(resp, request_id)
}

pub(super) fn set_request_id(resp: Response, request_id: Option<&str>) -> Response {
    match request_id {
        Some(id) => crate::messages::with_request_id(resp, id),
        None => resp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CONFIG: &str = r#"
        [[models]]
        name = "small"
        [[remotes]]
        name = "claude"
        provider = "anthropic"
        model = "claude-haiku-4-5"
        input_per_mtok = 1.0
        output_per_mtok = 5.0
    "#;

    fn req(v: serde_json::Value) -> MessagesRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_claude_model_id_names_the_remote_that_sends_it() {
        let config = RouterConfig::from_toml_str(CONFIG).unwrap();
        assert_eq!(requested_model(&config, "auto"), "auto");
        assert_eq!(requested_model(&config, "small"), "small");
        assert_eq!(requested_model(&config, "claude"), "claude");
        assert_eq!(requested_model(&config, "claude-haiku-4-5"), "claude");
        assert_eq!(requested_model(&config, "claude-opus-4-1"), "claude-opus-4-1");
    }

    #[test]
    fn the_upstream_request_swaps_the_model_and_drops_hearths_fields() {
        let config = RouterConfig::from_toml_str(CONFIG).unwrap();
        let remote = config.remote("claude").unwrap();
        let r = req(json!({
            "model": "auto", "max_tokens": 9, "stream": true, "system": "Be brief.",
            "metadata": {"user_id": "u", "task": "reason"}, "stop_sequences": ["END"], "temperature": 0.2,
            "messages": [{"role": "user", "content": "Hi"}],
        }));
        let v = serde_json::to_value(upstream_request(&r, remote)).unwrap();
        assert_eq!(v["model"], "claude-haiku-4-5");
        assert_eq!(v["metadata"], json!({"user_id": "u"}));
        assert_eq!((v["max_tokens"].clone(), v["system"].clone()), (json!(9), json!("Be brief.")));
        assert_eq!(v["stop_sequences"], json!(["END"]));
        assert_eq!(v["temperature"], 0.2);
        assert!(v.get("stream").is_none());
        let only_task = req(json!({"model": "a", "max_tokens": 1, "metadata": {"task": "x"},
            "messages": [{"role": "user", "content": "Hi"}]}));
        assert!(upstream_request(&only_task, remote).metadata.is_none());
    }

    #[test]
    fn a_long_system_prompt_is_marked_cacheable() {
        let config = RouterConfig::from_toml_str(CONFIG).unwrap();
        let remote = config.remote("claude").unwrap();
        let r = req(json!({"model": "auto", "max_tokens": 9, "system": "word ".repeat(5000),
            "messages": [{"role": "user", "content": "Hi"}]}));
        let v = serde_json::to_value(upstream_request(&r, remote)).unwrap();
        assert_eq!(v["system"][0]["cache_control"], json!({"type": "ephemeral"}));
    }

    #[test]
    fn the_routing_text_is_system_then_messages() {
        let r = req(json!({"model": "a", "max_tokens": 1, "system": [{"type": "text", "text": "S"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "U"}]},
                         {"role": "assistant", "content": "A"}]}));
        assert_eq!(routing_text(&r), "S\nU\nA");
    }

    #[test]
    fn the_header_names_the_task_before_metadata() {
        let r = req(json!({"model": "a", "max_tokens": 1, "metadata": {"task": "classify"},
            "messages": [{"role": "user", "content": "x"}]}));
        assert_eq!(task_hint(&HeaderMap::new(), &r).as_deref(), Some("classify"));
        let mut h = HeaderMap::new();
        h.insert("x-hearth-task", HeaderValue::from_static("reason"));
        assert_eq!(task_hint(&h, &r).as_deref(), Some("reason"));
    }
}
