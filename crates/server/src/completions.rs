//! `POST /v1/completions`: a raw prompt (no chat template; special-token text such as
//! `<|im_start|>` is parsed, as llama-server does); one `text_completion`, or SSE chunks of
//! the same object with `stream: true`.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use hearth_engine::{Completion, Prompt, TokenEvent};
use hearth_tokenizer::Tokenizer;

use crate::generate::{self, Live, Step};
use crate::request::{self, GenerationBody, PromptInput};
use crate::response::{
    FINGERPRINT, Head, LegacyLogprobs, TextChoice, TextCompletion, Usage, finish_reason, json, with_warnings,
};
use crate::state::unix_now;
use crate::validate::{Endpoint, validate_body};
use crate::{ApiError, AppState, sse};

/// The handler.
pub(crate) async fn handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    run(state, headers, body).await.unwrap_or_else(IntoResponse::into_response)
}

async fn run(
    state: AppState,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let body = request::body_bytes(body)?;
    let parsed = request::parse(&body)?;
    if let Some(routing) = state.config().routing.clone() {
        return Ok(crate::route::completions(state, routing, &headers, parsed, &body, arrived).await);
    }
    let model = parsed.model.clone();
    serve_local(state, parsed, model.as_deref(), arrived).await
}

/// Serves `parsed` with the local model `model` names (see [`AppState::acquire`]).
pub(crate) async fn serve_local(
    state: AppState,
    parsed: GenerationBody,
    model: Option<&str>,
    arrived: Instant,
) -> Result<Response, ApiError> {
    let lease = state.acquire(model).await?;
    let valid = validate_body(&parsed, Endpoint::Completions, lease.ready().model_shape())?;
    let echo = match (&valid.request.prompt, valid.echo) {
        (_, false) => String::new(),
        (Prompt::Text { text, .. }, true) => text.clone(),
        (Prompt::Tokens(ids), true) => lease.ready().engine.tokenizer().decode(ids, true),
        (Prompt::Messages(_) | Prompt::MessagesWithTools { .. }, true) => String::new(),
    };
    let live = generate::start(&state, lease, valid.request, "prompt", arrived).await?;
    let out = Out {
        id: state.new_id("cmpl"),
        created: unix_now(),
        model: live.model().to_owned(),
        logprobs: valid.logprobs.is_some(),
        include_usage: valid.include_usage,
        offset: echo.len(),
        echo,
    };
    let resp = if valid.stream { sse::respond(live, out) } else { complete(out, live).await? };
    Ok(with_warnings(resp, &valid.warnings))
}

/// The prompt: one string or one list of token ids (n = 1).
pub(crate) fn prompt(input: Option<&PromptInput>) -> Result<Prompt, ApiError> {
    let text = |t: &str| Prompt::Text { text: t.to_owned(), parse_special: true };
    let one = |n: usize| {
        ApiError::invalid(
            Some("prompt"),
            format!("one prompt per request (hearth returns one choice), got {n}"),
        )
    };
    match input {
        None => Err(ApiError::invalid(Some("prompt"), "`prompt` is required")),
        Some(PromptInput::Text(t)) => Ok(text(t)),
        Some(PromptInput::Texts(v)) => match v.as_slice() {
            [t] => Ok(text(t)),
            [] => Err(ApiError::invalid(Some("prompt"), "`prompt` is an empty array")),
            _ => Err(one(v.len())),
        },
        Some(PromptInput::Tokens(ids)) => Ok(Prompt::Tokens(ids.clone())),
        Some(PromptInput::TokenLists(v)) => match v.as_slice() {
            [ids] => Ok(Prompt::Tokens(ids.clone())),
            _ => Err(one(v.len())),
        },
    }
}

/// What every response of one request shares.
#[derive(Debug)]
struct Out {
    id: String,
    created: u64,
    model: String,
    logprobs: bool,
    include_usage: bool,
    /// The prompt text when `echo`, sent before the completion.
    echo: String,
    /// Bytes of token text so far (echo included), for `text_offset`.
    offset: usize,
}

impl Out {
    fn object(&self, choices: Vec<TextChoice>, usage: Option<Option<Usage>>) -> String {
        let head = Head {
            id: &self.id,
            object: "text_completion",
            created: self.created,
            model: &self.model,
            system_fingerprint: FINGERPRINT,
        };
        json(&TextCompletion { head, choices, usage })
    }

    fn logprobs_of(&mut self, tok: &Tokenizer, ev: &TokenEvent) -> Option<LegacyLogprobs> {
        let mut lp = LegacyLogprobs::default();
        if self.logprobs {
            self.offset += lp.push(tok, ev, self.offset);
        }
        (!lp.is_empty()).then_some(lp)
    }
}

async fn complete(mut out: Out, mut live: Live) -> Result<Response, ApiError> {
    let mut logprobs = LegacyLogprobs::default();
    loop {
        match live.next().await {
            Some(Step::Token(ev)) => {
                if out.logprobs {
                    out.offset += logprobs.push(live.tokenizer(), &ev, out.offset);
                }
            }
            Some(Step::Done(c)) => {
                let choice = TextChoice {
                    text: format!("{}{}", out.echo, c.text),
                    index: 0,
                    logprobs: out.logprobs.then_some(logprobs),
                    finish_reason: Some(finish_reason(c.stop_reason).unwrap_or("stop")),
                };
                let usage = Usage::new(c.prompt_tokens, c.completion_tokens, c.cached_tokens);
                let body = out.object(vec![choice], Some(Some(usage)));
                return Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response());
            }
            Some(Step::Failed(e)) => return Err(e),
            None => return Err(ApiError::internal("the generation ended without a result")),
        }
    }
}

impl sse::Chunks for Out {
    fn start(&mut self) -> Vec<String> {
        if self.echo.is_empty() {
            return Vec::new();
        }
        let text = self.echo.clone();
        let usage = self.include_usage.then_some(None);
        vec![self.object(vec![TextChoice { text, index: 0, logprobs: None, finish_reason: None }], usage)]
    }

    fn token(&mut self, tok: &Tokenizer, ev: &TokenEvent) -> Option<String> {
        let logprobs = self.logprobs_of(tok, ev);
        if ev.text.is_empty() && logprobs.is_none() {
            return None;
        }
        let choice = TextChoice { text: ev.text.clone(), index: 0, logprobs, finish_reason: None };
        Some(self.object(vec![choice], self.include_usage.then_some(None)))
    }

    fn done(&mut self, c: &Completion) -> Vec<String> {
        let fin = TextChoice {
            text: String::new(),
            index: 0,
            logprobs: None,
            finish_reason: Some(finish_reason(c.stop_reason).unwrap_or("stop")),
        };
        let mut v = vec![self.object(vec![fin], self.include_usage.then_some(None))];
        if self.include_usage {
            let usage = Usage::new(c.prompt_tokens, c.completion_tokens, c.cached_tokens);
            v.push(self.object(Vec::new(), Some(Some(usage))));
        }
        v
    }
}
