//! The adapter between `/v1/messages` and [`hearth_router::Router::complete`], as `chat.rs` is
//! for chat completions: the request as the router reads it ([`MessagesRouted`]) and the
//! [`Backends`] that answer in Anthropic's shapes — a local model (probed for evidence by
//! `messages_escalate.rs`), or an Anthropic remote with the request passed through.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::Response;
use hearth_router::{Backends, LocalAnswer, Probe, Remote, RemoteAnswer, RemoteError, RouterConfig};

use super::messages::{
    MessagesCtx, failed, message_response, remote_message, routing_text, set_request_id, task_hint, upstream,
};
use super::{messages_escalate, messages_sse};
use crate::ApiError;

/// A `/v1/messages` request as the router reads it.
pub(super) struct MessagesRouted {
    requested: String,
    hint: Option<String>,
    text: String,
    stream: bool,
    info: hearth_router::CallInfo,
}

impl MessagesRouted {
    /// What the router reads of `ctx.req` (a Claude model id names the remote that sends it).
    pub fn new(config: &RouterConfig, headers: &HeaderMap, ctx: &MessagesCtx) -> MessagesRouted {
        MessagesRouted {
            requested: super::messages::requested_model(config, &ctx.req.model),
            hint: task_hint(headers, &ctx.req),
            text: routing_text(&ctx.req),
            stream: ctx.stream,
            info: {
                let metadata = ctx.req.metadata.as_ref().and_then(|m| serde_json::to_value(m).ok());
                let metadata = metadata.as_ref().and_then(serde_json::Value::as_object);
                super::call_info(ctx.request_id.clone(), "chat", metadata, None, headers)
            },
        }
    }
}

impl hearth_router::Request for MessagesRouted {
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

/// The pool's local models and the Anthropic remotes' clients, for one request.
pub(super) struct MessagesBackends<'a> {
    pub ctx: &'a MessagesCtx,
}

impl Backends for MessagesBackends<'_> {
    type Request = MessagesRouted;
    type Answer = Response;
    type Error = ApiError;

    async fn local(
        &self,
        model: &str,
        _req: &MessagesRouted,
        probe: Probe,
    ) -> Result<LocalAnswer<Response>, ApiError> {
        let ctx = self.ctx;
        if probe.evidence {
            return messages_escalate::probed(ctx, model, probe).await;
        }
        let answer = crate::messages::serve_local(&ctx.state, &ctx.req, model, ctx.arrived).await?;
        Ok(super::local_answer(answer).await)
    }

    async fn remote(
        &self,
        remote: &Remote,
        _req: &MessagesRouted,
        buffered: bool,
    ) -> Result<RemoteAnswer<Response>, RemoteError<ApiError>> {
        let ctx = self.ctx;
        let target = remote.name.as_str();
        if !ctx.stream || buffered {
            let (msg, request_id, usage) = remote_message(ctx, target).await?;
            let answer = if ctx.stream {
                messages_escalate::answer(ctx, &msg, request_id.as_deref())
            } else {
                message_response(&msg, request_id.as_deref())
            };
            let tool_calls = super::tool_use_count(&msg);
            return Ok(RemoteAnswer::new(answer, Some(usage))
                .with_upstream_id(request_id)
                .with_tool_calls(tool_calls));
        }
        let (client, up) = upstream(ctx, target).map_err(RemoteError::Request)?;
        match client.messages_stream(&up).await {
            Ok(events) => {
                // The cost is known at the stream's end; `messages_sse` records it then.
                let request_id = events.request_id().map(str::to_owned);
                let resp = messages_sse::relay(
                    Arc::clone(&ctx.routing),
                    target.to_owned(),
                    events,
                    ctx.slot.clone(),
                );
                let answer = set_request_id(resp, request_id.as_deref());
                Ok(RemoteAnswer::new(answer, None).with_upstream_id(request_id))
            }
            Err(e) => Err(failed(target, &e)),
        }
    }
}
