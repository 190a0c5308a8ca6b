//! The server-sent events of `POST /v1/messages` with `stream: true`, in the API's order:
//! `message_start` (the message shell with the input tokens), `content_block_start` (an empty
//! text block), `ping`, one `content_block_delta` (`text_delta`) per piece of text,
//! `content_block_stop`, `message_delta` (stop reason, stop sequence, cumulative usage),
//! `message_stop`. A `ping` is sent whenever no token came for [`PING_EVERY`]; a failure after
//! the `200` ends the stream with an `error` event, as the API does.
//!
//! The stream owns the [`Live`] generation: a client that disconnects drops the body, which
//! cancels the generation and frees its slot.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use hearth_anthropic::sse::encode;
use hearth_anthropic::types::{
    ContentBlock, ContentDelta, MessageDelta, MessageDeltaUsage, StopReason as ApiStopReason, StreamEvent,
    ToolUseBlock,
};
use hearth_engine::StopReason;
use hearth_tools::{CallDetector, Opening};

use crate::anthropic_error;
use crate::generate::{Live, Step};
use crate::messages::Reply;

/// Longest quiet time before a `ping`.
pub(crate) const PING_EVERY: Duration = Duration::from_secs(10);

struct Streaming {
    live: Live,
    reply: Reply,
    pending: VecDeque<StreamEvent>,
    done: bool,
    /// With tools: text is sent as it comes, a call once complete.
    detector: Option<CallDetector>,
}

/// The SSE response for `live`.
pub(crate) fn respond(live: Live, reply: Reply) -> Response {
    let pending = VecDeque::from([
        StreamEvent::MessageStart { message: reply.message(Vec::new(), None, 0) },
        StreamEvent::ContentBlockStart { index: 0, content_block: ContentBlock::text("") },
        StreamEvent::Ping,
    ]);
    let detector = reply.tools.as_ref().map(|t| CallDetector::new(t.syntax));
    let st = Streaming { live, reply, pending, done: false, detector };
    let events = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(ev) = st.pending.pop_front() {
                return Some((Ok::<_, Infallible>(Bytes::from(encode(&ev))), st));
            }
            if st.done {
                return None;
            }
            // `Live::next` is cancel-safe: it only awaits the channel.
            let Ok(step) = tokio::time::timeout(PING_EVERY, st.live.next()).await else {
                st.pending.push_back(StreamEvent::Ping);
                continue;
            };
            match step {
                Some(Step::Token(ev)) => {
                    let text = match &mut st.detector {
                        Some(d) => d.push(&ev.text).to_owned(),
                        None => ev.text,
                    };
                    if !text.is_empty() {
                        let delta = ContentDelta::TextDelta { text };
                        st.pending.push_back(StreamEvent::ContentBlockDelta { index: 0, delta });
                    }
                }
                Some(Step::Done(c)) => {
                    let (mut stop_reason, mut stop_sequence) = st.reply.stop(st.live.tokenizer(), &c);
                    let mut index = 0;
                    if let Some(d) = st.detector.take() {
                        let (blocks, _) = if d.opening() == Opening::Text {
                            (vec![ContentBlock::text(d.unsent().to_owned())], None)
                        } else {
                            st.reply.content(d.text().to_owned(), c.stop_reason == StopReason::Length)
                        };
                        for block in blocks {
                            match block {
                                ContentBlock::Text(t) if !t.text.is_empty() => {
                                    let delta = ContentDelta::TextDelta { text: t.text };
                                    st.pending.push_back(StreamEvent::ContentBlockDelta { index, delta });
                                }
                                ContentBlock::ToolUse(u) => {
                                    // As the API streams a call: the block with empty input, then
                                    // its input as JSON pieces.
                                    st.pending.push_back(StreamEvent::ContentBlockStop { index });
                                    index += 1;
                                    let partial_json = u.input.to_string();
                                    let empty = ToolUseBlock::new(u.id, u.name, serde_json::json!({}));
                                    st.pending.push_back(StreamEvent::ContentBlockStart {
                                        index,
                                        content_block: ContentBlock::ToolUse(empty),
                                    });
                                    let delta = ContentDelta::InputJsonDelta { partial_json };
                                    st.pending.push_back(StreamEvent::ContentBlockDelta { index, delta });
                                    (stop_reason, stop_sequence) = (ApiStopReason::ToolUse, None);
                                }
                                _ => {}
                            }
                        }
                    }
                    st.pending.extend([
                        StreamEvent::ContentBlockStop { index },
                        StreamEvent::MessageDelta {
                            delta: MessageDelta { stop_reason: Some(stop_reason), stop_sequence },
                            usage: MessageDeltaUsage {
                                output_tokens: c.completion_tokens as u64,
                                input_tokens: Some(c.prompt_tokens as u64),
                                cache_creation_input_tokens: Some(0),
                                cache_read_input_tokens: Some(0),
                            },
                        },
                        StreamEvent::MessageStop,
                    ]);
                    st.done = true;
                }
                Some(Step::Failed(e)) => {
                    tracing::warn!(error = %e.message, "generation failed while streaming /v1/messages");
                    st.pending.push_back(anthropic_error::stream_event(&e));
                    st.done = true;
                }
                None => st.done = true,
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(events));
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
