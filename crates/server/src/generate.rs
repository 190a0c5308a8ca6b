//! The bridge between a handler and the engine thread: tokenize the prompt (off the async
//! threads), submit to the [`hearth_engine::Scheduler`] with a sink that forwards events into
//! a tokio channel, wait for admission, then hand out tokens.
//!
//! Dropping a [`Live`] (the client went away: axum drops the handler future or the SSE body)
//! drops the channel's receiver; the sink then returns `false` and the engine thread cancels
//! the generation and frees its slot.

use std::sync::Arc;
use std::time::Instant;

use hearth_engine::{Completion, Event, Request, Sink, StopReason, SubmitError, TokenEvent};
use tokio::sync::mpsc;

use crate::pool::Lease;
use crate::state::Ready;
use crate::{ApiError, AppState};

/// What a running generation yields next.
#[derive(Debug)]
pub(crate) enum Step {
    Token(TokenEvent),
    Done(Completion),
    Failed(ApiError),
}

/// A generation that got a slot.
#[derive(Debug)]
pub(crate) struct Live {
    rx: mpsc::UnboundedReceiver<Event>,
    state: AppState,
    pub ready: Arc<Ready>,
    /// Keeps the model loaded until the generation ends (its last byte, or the client left).
    lease: Lease,
    arrived: Instant,
    last_token: Option<Instant>,
    finished: bool,
    /// The prompt's length in tokens (known once admitted).
    prompt_tokens: usize,
}

/// Prepares `request` for the model `lease` holds (tokenizes and validates the prompt, compiles its constraint) on a
/// blocking thread, at most [`Ready::preparing`] at a time, then queues it and waits until it
/// is admitted. Errors are answered before any response byte: 400 for the prompt
/// (`prompt_param` names it) or a constraint, 503 when the queue is full.
pub(crate) async fn start(
    state: &AppState,
    lease: Lease,
    request: Request,
    prompt_param: &'static str,
    arrived: Instant,
) -> Result<Live, ApiError> {
    let ready = Arc::clone(lease.ready());
    let prepared = {
        let _permit =
            ready.preparing.acquire().await.map_err(|_| ApiError::internal("the server is shutting down"))?;
        let r = Arc::clone(&ready);
        tokio::task::spawn_blocking(move || r.scheduler.prepare(&request))
            .await
            .map_err(|e| ApiError::internal(format!("preparing the request failed: {e}")))?
    };
    let prepared = prepared.map_err(|e| match e {
        SubmitError::Invalid(e) => ApiError::from_engine(e, prompt_param),
        other => ApiError::from_submit(other),
    })?;

    let (tx, mut rx) = mpsc::unbounded_channel();
    ready.scheduler.enqueue(prepared, ChannelSink(tx)).map_err(ApiError::from_submit)?;
    match rx.recv().await {
        Some(Event::Started { prompt_tokens, .. }) => Ok(Live {
            rx,
            state: state.clone(),
            ready,
            lease,
            arrived,
            last_token: None,
            finished: false,
            prompt_tokens,
        }),
        Some(Event::Error(e)) => Err(ApiError::from_engine(e, prompt_param)),
        Some(other) => {
            Err(ApiError::internal(format!("the engine answered {other:?} before starting the request")))
        }
        None => Err(ApiError::internal("the engine stopped before starting the request")),
    }
}

/// Forwards engine events into a tokio channel; stops listening when the receiver (the
/// handler, or the SSE body) is gone, which frees a queued request's place at once.
struct ChannelSink(mpsc::UnboundedSender<Event>);

impl Sink for ChannelSink {
    fn send(&mut self, event: Event) -> bool {
        self.0.send(event).is_ok()
    }

    fn is_listening(&self) -> bool {
        !self.0.is_closed()
    }
}

impl Live {
    /// The next token, the end, or a failure; `None` after the end.
    pub async fn next(&mut self) -> Option<Step> {
        if self.finished {
            return None;
        }
        let step = match self.rx.recv().await {
            Some(Event::Token(ev)) => {
                let now = Instant::now();
                let m = self.state.metrics();
                match self.last_token {
                    None => {
                        m.observe_ttft(now - self.arrived);
                        m.observe_token(None);
                    }
                    Some(prev) => m.observe_token(Some(now - prev)),
                }
                self.last_token = Some(now);
                return Some(Step::Token(ev));
            }
            Some(Event::Done(c)) if c.stop_reason == StopReason::Cancelled => {
                Step::Failed(ApiError::internal("the generation was cancelled by the server"))
            }
            Some(Event::Done(c)) => Step::Done(c),
            Some(Event::Error(e)) => Step::Failed(ApiError::from_engine(e, "prompt")),
            Some(Event::Started { .. }) => {
                Step::Failed(ApiError::internal("the engine started the request twice"))
            }
            None => Step::Failed(ApiError::internal("the engine stopped during the generation")),
        };
        self.finished = true;
        self.state.metrics().observe_request(self.arrived.elapsed());
        Some(step)
    }

    /// The name of the model generating, as reported to the client.
    pub fn model(&self) -> &str {
        self.lease.name()
    }

    /// The prompt's length in tokens.
    pub fn prompt_tokens(&self) -> usize {
        self.prompt_tokens
    }

    /// The tokenizer, for logprob entries.
    pub fn tokenizer(&self) -> &hearth_tokenizer::Tokenizer {
        self.ready.engine.tokenizer()
    }
}
