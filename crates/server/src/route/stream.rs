//! SSE for routed requests: a remote's Anthropic stream translated to
//! `chat.completion.chunk`s as it arrives (cost recorded at `message_stop`; an `error` event
//! or a cut after the 200 becomes an SSE error object, then `[DONE]`), and a buffered local
//! answer (generated in full to be checked for escalation) replayed as chunks.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use hearth_anthropic::EventStream;
use hearth_anthropic::types::StreamEvent;
use serde_json::{Value, json};

use super::translate::{self, ChunkWriter};
use super::{LedgerSlot, Routing};

pub(super) fn sse(events: impl futures_util::Stream<Item = String> + Send + 'static) -> Response {
    let events = events.map(|data| Ok::<_, Infallible>(Event::default().data(data)));
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

pub(super) fn error_object(message: &str, code: &str) -> String {
    json!({"error": {"message": message, "type": "server_error", "param": null, "code": code}}).to_string()
}

struct Remote {
    routing: Arc<Routing>,
    target: String,
    events: EventStream,
    writer: ChunkWriter,
    pending: VecDeque<String>,
    done: bool,
    slot: LedgerSlot,
}

/// The SSE response translating `events` from remote `target`; its ledger row (in `slot`) is
/// finished at the stream's end.
pub(super) fn respond(
    routing: Arc<Routing>,
    target: String,
    events: EventStream,
    writer: ChunkWriter,
    slot: LedgerSlot,
) -> Response {
    let st = Remote { routing, target, events, writer, pending: VecDeque::new(), done: false, slot };
    sse(futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(data) = st.pending.pop_front() {
                return Some((data, st));
            }
            if st.done {
                return None;
            }
            match st.events.next().await {
                Some(Ok(StreamEvent::Error { error })) => {
                    let message = format!(
                        "remote {:?} failed mid-stream: {}: {}",
                        st.target, error.kind, error.message
                    );
                    st.routing.record_failure(&st.target, &message);
                    st.slot.finish(Some(&translate::router_usage(&st.writer.usage)), Some(&message));
                    st.pending.push_back(error_object(&message, "upstream_error"));
                    st.pending.push_back("[DONE]".into());
                    st.done = true;
                }
                Some(Ok(ev)) => {
                    if matches!(ev, StreamEvent::ContentBlockDelta { .. }) {
                        st.slot.first_token();
                    }
                    st.pending.extend(st.writer.event(&ev));
                    if matches!(ev, StreamEvent::MessageStop) {
                        let usage = translate::router_usage(&st.writer.usage);
                        st.routing.record_success(&st.target, &usage);
                        st.slot.tool_calls(st.writer.tool_calls());
                        st.slot.finish(Some(&usage), None);
                        st.pending.push_back("[DONE]".into());
                        st.done = true;
                    }
                }
                Some(Err(e)) => {
                    let message = format!("remote {:?} failed mid-stream: {e}", st.target);
                    st.routing.record_failure(&st.target, &e.to_string());
                    st.slot.finish(Some(&translate::router_usage(&st.writer.usage)), Some(&message));
                    st.pending.push_back(error_object(&message, "upstream_error"));
                    st.pending.push_back("[DONE]".into());
                    st.done = true;
                }
                None => {
                    let message = format!("remote {:?} ended its stream before message_stop", st.target);
                    st.slot.finish(Some(&translate::router_usage(&st.writer.usage)), Some(&message));
                    st.pending.push_back(error_object(&message, "upstream_error"));
                    st.pending.push_back("[DONE]".into());
                    st.done = true;
                }
            }
        }
    }))
}

/// A finished `chat.completion` (a buffered answer) as the chunks a stream would have sent:
/// the role, the content (unless it is null beside tool calls), each tool call whole (its
/// `index`, `id`, `type`, `function.name` and `function.arguments`), the finish reason, the
/// usage when asked, `[DONE]`.
pub(super) fn replay(completion: &Value, include_usage: bool) -> Response {
    let head = |choices: Value| {
        let mut c = json!({
            "id": completion["id"], "object": "chat.completion.chunk", "created": completion["created"],
            "model": completion["model"], "choices": choices,
        });
        if include_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    let delta =
        |delta: Value| head(json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}]));
    let choice = &completion["choices"][0];
    let message = &choice["message"];
    let calls = message["tool_calls"].as_array().map_or(&[][..], Vec::as_slice);
    let mut out = vec![delta(json!({"role": "assistant", "content": ""}))];
    if calls.is_empty() || !message["content"].is_null() {
        out.push(delta(json!({"content": message["content"]})));
    }
    for (index, call) in calls.iter().enumerate() {
        let mut call = call.clone();
        call["index"] = json!(index);
        out.push(delta(json!({"tool_calls": [call]})));
    }
    out.push(head(
        json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": choice["finish_reason"]}]),
    ));
    if include_usage {
        let mut u = head(json!([]));
        u["usage"] = completion["usage"].clone();
        out.push(u);
    }
    let mut data: Vec<String> = out.into_iter().map(|v| v.to_string()).collect();
    data.push("[DONE]".into());
    sse(futures_util::stream::iter(data))
}
