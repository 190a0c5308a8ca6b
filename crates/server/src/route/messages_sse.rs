//! Server-sent events of routed `/v1/messages` requests, in Anthropic's event shapes:
//! - [`relay`]: a remote's stream passed on event by event (unknown event types included),
//!   its usage followed (`message_start`, then the cumulative `message_delta`) so that the
//!   cost is recorded at `message_stop`; a failure after the `200` ends the stream with an
//!   `error` event naming the remote, and is recorded in the remote's health;
//! - [`replay`]: a finished message (a buffered local answer, or a remote's answer to an
//!   escalated request) as the event sequence a stream would have sent.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::{Stream, StreamExt};
use hearth_anthropic::sse::encode;
use hearth_anthropic::types::{
    ContentBlock, ContentDelta, ErrorObject, Message, MessageDelta, MessageDeltaUsage, StreamEvent, Usage,
};
use hearth_anthropic::{Error, EventStream};

use super::translate::router_usage;
use super::{LedgerSlot, Routing};

/// An SSE response of `events`.
fn sse(events: impl Stream<Item = StreamEvent> + Send + 'static) -> Response {
    let body = events.map(|ev| Ok::<_, Infallible>(Bytes::from(encode(&ev))));
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

struct Relay {
    routing: Arc<Routing>,
    target: String,
    events: EventStream,
    usage: Usage,
    /// `tool_use` blocks started so far.
    tool_calls: usize,
    done: bool,
    slot: LedgerSlot,
}

/// The SSE response passing on `events` from remote `target`; its ledger row (in `slot`) is
/// finished at the stream's end.
pub(super) fn relay(
    routing: Arc<Routing>,
    target: String,
    events: EventStream,
    slot: LedgerSlot,
) -> Response {
    let st = Relay { routing, target, events, usage: Usage::default(), tool_calls: 0, done: false, slot };
    sse(futures_util::stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        let ev = match st.events.next().await {
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                st.done = true;
                st.routing.record_failure(&st.target, &e.to_string());
                let kind = match &e {
                    Error::Stream(api) => api.kind.clone(),
                    Error::Timeout { .. } => "timeout_error".to_owned(),
                    _ => "api_error".to_owned(),
                };
                let message = format!("remote {:?} failed mid-stream: {e}", st.target);
                st.slot.finish(Some(&router_usage(&st.usage)), Some(&message));
                return Some((StreamEvent::Error { error: ErrorObject::new(kind, message) }, st));
            }
            None => {
                let message = format!("remote {:?} ended its stream before message_stop", st.target);
                st.slot.finish(Some(&router_usage(&st.usage)), Some(&message));
                return None;
            }
        };
        match &ev {
            StreamEvent::MessageStart { message } => st.usage = message.usage.clone(),
            StreamEvent::MessageDelta { usage, .. } => follow(&mut st.usage, usage),
            StreamEvent::ContentBlockDelta { .. } => st.slot.first_token(),
            StreamEvent::ContentBlockStart { content_block: ContentBlock::ToolUse(_), .. } => {
                st.tool_calls += 1
            }
            StreamEvent::MessageStop => {
                st.done = true;
                let usage = router_usage(&st.usage);
                st.routing.record_success(&st.target, &usage);
                st.slot.tool_calls(st.tool_calls);
                st.slot.finish(Some(&usage), None);
            }
            _ => {}
        }
        Some((ev, st))
    }))
}

/// Folds a `message_delta`'s cumulative usage into `usage`.
fn follow(usage: &mut Usage, delta: &MessageDeltaUsage) {
    usage.output_tokens = delta.output_tokens;
    if let Some(n) = delta.input_tokens {
        usage.input_tokens = n;
    }
    if let Some(n) = delta.cache_creation_input_tokens {
        usage.cache_creation_input_tokens = Some(n);
    }
    if let Some(n) = delta.cache_read_input_tokens {
        usage.cache_read_input_tokens = Some(n);
    }
}

/// `msg` as a stream: `message_start` (no content, no output yet), `ping`, each block as
/// `content_block_start` / delta / `content_block_stop` (text as one `text_delta`, a tool call's
/// input as one `input_json_delta`, other blocks whole in their start), `message_delta` (stop
/// reason, usage), `message_stop`.
pub(super) fn replay(msg: &Message) -> Response {
    sse(futures_util::stream::iter(replay_events(msg)))
}

fn replay_events(msg: &Message) -> VecDeque<StreamEvent> {
    let mut shell = msg.clone();
    shell.content = Vec::new();
    shell.stop_reason = None;
    shell.stop_sequence = None;
    shell.usage.output_tokens = 0;
    let mut out = VecDeque::from([StreamEvent::MessageStart { message: shell }, StreamEvent::Ping]);
    for (index, block) in msg.content.iter().enumerate() {
        let (start, delta) = match block {
            ContentBlock::Text(b) => {
                (ContentBlock::text(""), Some(ContentDelta::TextDelta { text: b.text.clone() }))
            }
            ContentBlock::ToolUse(b) => {
                let mut empty = b.clone();
                empty.input = serde_json::json!({});
                let partial_json = b.input.to_string();
                (ContentBlock::ToolUse(empty), Some(ContentDelta::InputJsonDelta { partial_json }))
            }
            other => (other.clone(), None),
        };
        out.push_back(StreamEvent::ContentBlockStart { index, content_block: start });
        if let Some(delta) = delta {
            out.push_back(StreamEvent::ContentBlockDelta { index, delta });
        }
        out.push_back(StreamEvent::ContentBlockStop { index });
    }
    out.push_back(StreamEvent::MessageDelta {
        delta: MessageDelta {
            stop_reason: msg.stop_reason.clone(),
            stop_sequence: msg.stop_sequence.clone(),
        },
        usage: MessageDeltaUsage {
            output_tokens: msg.usage.output_tokens,
            input_tokens: Some(msg.usage.input_tokens),
            cache_creation_input_tokens: msg.usage.cache_creation_input_tokens,
            cache_read_input_tokens: msg.usage.cache_read_input_tokens,
        },
    });
    out.push_back(StreamEvent::MessageStop);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_replayed_message_has_the_apis_event_order() {
        let msg: Message = serde_json::from_value(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": "Hi"},
                        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 5, "output_tokens": 7, "cache_read_input_tokens": 3},
        }))
        .unwrap();
        let events = replay_events(&msg);
        let names: Vec<&str> = events.iter().map(StreamEvent::event_name).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        let v: Vec<serde_json::Value> = events.iter().map(|e| serde_json::to_value(e).unwrap()).collect();
        assert_eq!(v[0]["message"]["content"], json!([]));
        assert_eq!(v[0]["message"]["usage"]["input_tokens"], 5);
        assert_eq!(v[3]["delta"], json!({"type": "text_delta", "text": "Hi"}));
        assert_eq!(v[5]["content_block"]["input"], json!({}));
        assert_eq!(v[6]["delta"], json!({"type": "input_json_delta", "partial_json": "{\"a\":1}"}));
        assert_eq!(v[8]["delta"]["stop_reason"], "tool_use");
        assert_eq!(v[8]["usage"]["output_tokens"], 7);
        assert_eq!(v[8]["usage"]["cache_read_input_tokens"], 3);
    }

    #[test]
    fn a_delta_usage_is_cumulative() {
        let mut u = Usage { input_tokens: 10, output_tokens: 1, ..Usage::default() };
        follow(
            &mut u,
            &MessageDeltaUsage { output_tokens: 8, cache_read_input_tokens: Some(4), ..Default::default() },
        );
        assert_eq!((u.input_tokens, u.output_tokens, u.cache_read_input_tokens), (10, 8, Some(4)));
    }
}
