//! The adapter between `/v1/chat/completions` and [`hearth_router::Router::complete`]: the
//! request as the router reads it ([`ChatRequest`]) and the [`Backends`] that answer it in
//! OpenAI's shapes — a local model of the pool, probed for evidence when the router asks
//! (`escalate.rs`), or a remote through its client (`super::call_remote`).

use std::borrow::Cow;

use axum::http::HeaderMap;
use axum::response::Response;
use hearth_router::{Backends, LocalAnswer, Probe, Remote, RemoteAnswer, RemoteError};
use serde_json::Value;

use super::{Ctx, call_remote, escalate, translate};
use crate::ApiError;
use crate::request::GenerationBody;

/// The task hint of an OpenAI-shaped request: `metadata.task`, else the `X-Hearth-Task` header.
pub(super) fn task_hint(raw: &Value, headers: &HeaderMap) -> Option<String> {
    let header = || headers.get("x-hearth-task").and_then(|v| v.to_str().ok()).map(str::to_owned);
    raw.pointer("/metadata/task").and_then(Value::as_str).map(str::to_owned).or_else(header)
}

/// A chat request as the router reads it.
pub(super) struct ChatRequest {
    parsed: GenerationBody,
    requested: String,
    hint: Option<String>,
    text: String,
    pub stream: bool,
    info: hearth_router::CallInfo,
    /// The replayable copy the quality monitor's judge gets (set when a monitor runs).
    pub sampled: Option<hearth_router::SampledRequest>,
}

impl ChatRequest {
    /// The request: `parsed` from the body `raw`; the task hint from `metadata.task`, else the
    /// `X-Hearth-Task` header.
    pub fn new(parsed: GenerationBody, raw: &Value, headers: &HeaderMap, request_id: String) -> ChatRequest {
        let hint = task_hint(raw, headers);
        ChatRequest {
            requested: parsed.model.clone().unwrap_or_else(|| "auto".to_owned()),
            stream: parsed.stream.unwrap_or(false),
            text: translate::routing_text(raw),
            hint,
            parsed,
            info: super::call_info(
                request_id,
                "chat",
                raw.get("metadata").and_then(Value::as_object),
                raw.get("user").and_then(Value::as_str),
                headers,
            ),
            sampled: None,
        }
    }
}

impl hearth_router::Request for ChatRequest {
    fn model(&self) -> &str {
        &self.requested
    }

    fn task_hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    fn routing_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.text)
    }

    fn stream(&self) -> bool {
        self.stream
    }

    fn call_info(&self) -> hearth_router::CallInfo {
        self.info.clone()
    }

    fn sampled(&self) -> Option<hearth_router::SampledRequest> {
        self.sampled.clone()
    }
}

/// The pool's local models and the remotes' clients, for one request.
pub(super) struct ChatBackends<'a> {
    pub ctx: &'a Ctx,
}

impl Backends for ChatBackends<'_> {
    type Request = ChatRequest;
    type Answer = Response;
    type Error = ApiError;

    async fn local(
        &self,
        model: &str,
        req: &ChatRequest,
        probe: Probe,
    ) -> Result<LocalAnswer<Response>, ApiError> {
        if probe.evidence {
            return escalate::probed(self.ctx, req.parsed.clone(), model, probe).await;
        }
        let ctx = self.ctx;
        let answer =
            crate::chat::serve_local(ctx.state.clone(), req.parsed.clone(), Some(model), ctx.arrived).await?;
        Ok(super::local_answer(answer).await)
    }

    async fn remote(
        &self,
        remote: &Remote,
        _req: &ChatRequest,
        buffered: bool,
    ) -> Result<RemoteAnswer<Response>, RemoteError<ApiError>> {
        let ctx = self.ctx;
        let mut a = call_remote(ctx, &remote.name, ctx.stream && !buffered).await?;
        if buffered {
            a.answer = escalate::buffered(ctx, a.answer).await;
        }
        Ok(a)
    }
}
