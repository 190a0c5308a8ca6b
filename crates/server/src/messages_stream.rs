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
use hearth_anthropic::types::{ContentBlock, ContentDelta, MessageDelta, MessageDeltaUsage, StreamEvent};

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
}

/// The SSE response for `live`.
pub(crate) fn respond(live: Live, reply: Reply) -> Response {
    let pending = VecDeque::from([
        StreamEvent::MessageStart { message: reply.message(Vec::new(), None, 0) },
        StreamEvent::ContentBlockStart { index: 0, content_block: ContentBlock::text("") },
        StreamEvent::Ping,
    ]);
    let st = Streaming { live, reply, pending, done: false };
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
                    if !ev.text.is_empty() {
                        let delta = ContentDelta::TextDelta { text: ev.text };
                        st.pending.push_back(StreamEvent::ContentBlockDelta { index: 0, delta });
                    }
                }
                Some(Step::Done(c)) => {
                    let (stop_reason, stop_sequence) = st.reply.stop(st.live.tokenizer(), &c);
                    st.pending.extend([
                        StreamEvent::ContentBlockStop { index: 0 },
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
