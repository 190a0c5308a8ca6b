//! Server-sent events for a running generation: `data: {chunk}\n\n` per event, an error
//! object if the generation fails, then `data: [DONE]\n\n`. The endpoint decides what the
//! chunks look like ([`Chunks`]); this module runs the loop.
//!
//! The stream owns the [`Live`] generation: when the client disconnects, hyper drops the
//! body, the receiver goes with it and the engine cancels the generation.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use hearth_engine::{Completion, TokenEvent};
use hearth_tokenizer::Tokenizer;

use crate::generate::{Live, Step};

/// The chunks of one endpoint's stream, as JSON text.
pub(crate) trait Chunks: Send + 'static {
    /// Chunks sent before any token (chat: the `role` delta).
    fn start(&mut self) -> Vec<String>;
    /// The chunk for one token, if it carries anything (text or logprobs).
    fn token(&mut self, tok: &Tokenizer, ev: &TokenEvent) -> Option<String>;
    /// The closing chunks: `finish_reason`, then the usage chunk when asked for.
    fn done(&mut self, c: &Completion) -> Vec<String>;
}

struct Streaming<C> {
    live: Live,
    chunks: C,
    pending: VecDeque<String>,
    done: bool,
}

/// The SSE response for `live`.
pub(crate) fn respond<C: Chunks>(live: Live, mut chunks: C) -> Response {
    let pending = chunks.start().into();
    let st = Streaming { live, chunks, pending, done: false };
    let events = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(data) = st.pending.pop_front() {
                return Some((Ok::<_, Infallible>(Event::default().data(data)), st));
            }
            if st.done {
                return None;
            }
            match st.live.next().await {
                Some(Step::Token(ev)) => {
                    let tok = std::sync::Arc::clone(st.live.ready.engine.tokenizer());
                    st.pending.extend(st.chunks.token(&tok, &ev));
                }
                Some(Step::Done(c)) => {
                    let closing = st.chunks.done(&c);
                    st.pending.extend(closing);
                    st.pending.push_back("[DONE]".into());
                    st.done = true;
                }
                Some(Step::Failed(e)) => {
                    tracing::warn!(error = %e.message, "generation failed while streaming");
                    st.pending.push_back(e.to_json());
                    st.pending.push_back("[DONE]".into());
                    st.done = true;
                }
                None => st.done = true,
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}
