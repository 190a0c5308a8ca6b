//! The bridge between a handler and the engine thread: tokenize the prompt (off the async
//! threads), submit to the [`hearth_engine::Scheduler`] with a sink that forwards events into
//! a tokio channel, wait for admission, then hand out tokens.
//!
//! Dropping a [`Live`] (the client went away: axum drops the handler future or the SSE body)
//! drops the channel's receiver; the sink then returns `false` and the engine thread cancels
//! the generation and frees its slot.

use std::sync::Arc;
use std::time::Instant;

use hearth_engine::{Completion, EngineError, Event, Prompt, Request, StopReason, TokenEvent};
use tokio::sync::mpsc;

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
    arrived: Instant,
    last_token: Option<Instant>,
    finished: bool,
}

/// Tokenizes `request`'s prompt, checks it fits the context, submits it and waits until it
/// is admitted. Errors are answered before any response byte: 400 for the prompt
/// (`prompt_param` names it) or a constraint, 503 when the queue is full.
pub(crate) async fn start(
    state: &AppState,
    ready: Arc<Ready>,
    mut request: Request,
    prompt_param: &'static str,
    arrived: Instant,
) -> Result<Live, ApiError> {
    let engine = ready.engine.clone();
    let prompt = std::mem::replace(&mut request.prompt, Prompt::Tokens(Vec::new()));
    let ids = tokio::task::spawn_blocking(move || engine.tokenize_prompt(&prompt))
        .await
        .map_err(|e| ApiError::internal(format!("tokenizing the prompt failed: {e}")))?
        .map_err(|e| ApiError::invalid(Some(prompt_param), e.to_string()))?;
    let n_ctx = ready.engine.n_ctx();
    if ids.is_empty() {
        return Err(ApiError::from_engine(EngineError::EmptyPrompt, prompt_param));
    }
    if ids.len() >= n_ctx {
        return Err(ApiError::from_engine(
            EngineError::ContextOverflow { prompt_tokens: ids.len(), n_ctx },
            prompt_param,
        ));
    }
    request.prompt = Prompt::Tokens(ids);

    let (tx, mut rx) = mpsc::unbounded_channel();
    ready
        .scheduler
        .submit(request, Box::new(move |ev| tx.send(ev).is_ok()))
        .map_err(ApiError::from_submit)?;
    match rx.recv().await {
        Some(Event::Started { .. }) => {
            Ok(Live { rx, state: state.clone(), ready, arrived, last_token: None, finished: false })
        }
        Some(Event::Error(e)) => Err(ApiError::from_engine(e, prompt_param)),
        Some(other) => {
            Err(ApiError::internal(format!("the engine answered {other:?} before starting the request")))
        }
        None => Err(ApiError::internal("the engine stopped before starting the request")),
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

    /// The tokenizer, for logprob entries.
    pub fn tokenizer(&self) -> &hearth_tokenizer::Tokenizer {
        self.ready.engine.tokenizer()
    }
}
