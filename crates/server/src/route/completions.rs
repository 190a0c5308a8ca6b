//! `POST /v1/completions` through [`hearth_router::Router::complete`]: `"model": "auto"`
//! follows the routes (the task from `metadata.task` or `X-Hearth-Task`, the complexity of the
//! prompt), so a code-completion client lands on the route's local model (a coder for
//! `complete`/`code` tasks, say) and every answer carries the routing headers.
//!
//! Local models only: raw-prompt completion has no counterpart in the Messages API, so a
//! decision for a remote is a 400 that says so and what to send instead. A local answer is
//! final (no escalation: there is no remote to escalate a completion to).

use std::borrow::Cow;
use std::time::Instant;

use axum::http::HeaderMap;
use axum::response::Response;
use hearth_router::{Backends, LocalAnswer, Probe, Remote, RemoteAnswer, RemoteError};
use serde_json::Value;

use crate::request::{GenerationBody, PromptInput};
use crate::{ApiError, AppState};

/// A completion request as the router reads it.
pub(super) struct CompletionRequest {
    parsed: GenerationBody,
    requested: String,
    hint: Option<String>,
    text: String,
    pub stream: bool,
    info: hearth_router::CallInfo,
}

impl CompletionRequest {
    /// The request: `parsed` from the body `raw`; the task hint from `metadata.task`, else the
    /// `X-Hearth-Task` header; the routing text is the prompt (none for token ids).
    pub fn new(
        parsed: GenerationBody,
        raw: &Value,
        headers: &HeaderMap,
        request_id: String,
    ) -> CompletionRequest {
        let hint = super::chat::task_hint(raw, headers);
        let text = match &parsed.prompt {
            Some(PromptInput::Text(t)) => t.clone(),
            Some(PromptInput::Texts(ts)) => ts.join("\n"),
            Some(PromptInput::Tokens(_) | PromptInput::TokenLists(_)) | None => String::new(),
        };
        CompletionRequest {
            requested: parsed.model.clone().unwrap_or_else(|| "auto".to_owned()),
            stream: parsed.stream.unwrap_or(false),
            text,
            hint,
            parsed,
            info: super::call_info(
                request_id,
                "text_completion",
                raw.get("metadata").and_then(Value::as_object),
                raw.get("user").and_then(Value::as_str),
                headers,
            ),
        }
    }
}

impl hearth_router::Request for CompletionRequest {
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
}

/// The pool's local models, for one request.
pub(super) struct CompletionBackends<'a> {
    pub state: &'a AppState,
    pub arrived: Instant,
}

impl Backends for CompletionBackends<'_> {
    type Request = CompletionRequest;
    type Answer = Response;
    type Error = ApiError;

    async fn local(
        &self,
        model: &str,
        req: &CompletionRequest,
        _probe: Probe,
    ) -> Result<LocalAnswer<Response>, ApiError> {
        let answer = crate::completions::serve_local(
            self.state.clone(),
            req.parsed.clone(),
            Some(model),
            self.arrived,
        )
        .await?;
        // Not probed: the answer is final.
        Ok(super::local_answer(answer).await)
    }

    async fn remote(
        &self,
        remote: &Remote,
        _req: &CompletionRequest,
        _buffered: bool,
    ) -> Result<RemoteAnswer<Response>, RemoteError<ApiError>> {
        Err(RemoteError::Request(ApiError::invalid(
            Some("model"),
            format!(
                "the route chose remote {:?}, and /v1/completions is served by local models only (a raw \
                 prompt has no Messages API form): send the request to /v1/chat/completions, or name a \
                 local model in `model`",
                remote.name
            ),
        )))
    }
}
