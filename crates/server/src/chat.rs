//! `POST /v1/chat/completions`: messages rendered with the model's chat template; one JSON
//! `chat.completion`, or SSE `chat.completion.chunk`s with `stream: true`.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use hearth_engine::{Completion, Message, TokenEvent};
use hearth_tokenizer::Tokenizer;

use crate::generate::{self, Live, Step};
use crate::request::{self, GenerationBody, MessageContent};
use crate::response::with_warnings;
use crate::response::{
    AssistantMessage, ChatChoice, ChatChunk, ChatCompletion, ChatLogprobs, ChunkChoice, Delta, FINGERPRINT,
    Head, Usage, finish_reason, json, json_response, token_logprob,
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
        return Ok(crate::route::chat(state, routing, &headers, parsed, &body, arrived).await);
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
    let valid = validate_body(&parsed, Endpoint::Chat, lease.ready().model_shape())?;
    let live = generate::start(&state, lease, valid.request, "messages", arrived).await?;
    let out = Out {
        id: state.new_id("chatcmpl"),
        created: unix_now(),
        model: live.model().to_owned(),
        logprobs: valid.logprobs.is_some(),
        include_usage: valid.include_usage,
    };
    let resp = if valid.stream { sse::respond(live, out) } else { complete(out, live).await? };
    Ok(with_warnings(resp, &valid.warnings))
}

/// The request's messages, checked: text content only; `developer` is taken as `system`.
pub(crate) fn messages(body: &GenerationBody) -> Result<Vec<Message>, ApiError> {
    let Some(msgs) = &body.messages else {
        return Err(ApiError::invalid(Some("messages"), "`messages` is required"));
    };
    if msgs.is_empty() {
        return Err(ApiError::invalid(Some("messages"), "`messages` must have at least one message"));
    }
    let mut out = Vec::with_capacity(msgs.len());
    for (i, m) in msgs.iter().enumerate() {
        let role = match m.role.as_str() {
            "developer" => "system",
            r @ ("system" | "user" | "assistant" | "tool") => r,
            other => {
                return Err(ApiError::invalid(
                    Some(&format!("messages[{i}].role")),
                    format!("unknown role {other:?}: expected system, developer, user, assistant or tool"),
                ));
            }
        };
        let content = match &m.content {
            None => String::new(),
            Some(MessageContent::Text(t)) => t.clone(),
            Some(MessageContent::Parts(parts)) => {
                let mut texts = Vec::with_capacity(parts.len());
                for (j, p) in parts.iter().enumerate() {
                    match (p.kind.as_str(), &p.text) {
                        ("text", Some(t)) => texts.push(t.as_str()),
                        ("text", None) => {
                            return Err(ApiError::invalid(
                                Some(&format!("messages[{i}].content[{j}].text")),
                                "a text part needs `text`",
                            ));
                        }
                        (kind, _) => {
                            return Err(ApiError::invalid(
                                Some(&format!("messages[{i}].content[{j}].type")),
                                format!(
                                    "content parts of type {kind:?} are not supported: this model takes text only"
                                ),
                            ));
                        }
                    }
                }
                texts.join("\n")
            }
        };
        out.push(Message::new(role, content));
    }
    Ok(out)
}

/// What every response of one request shares.
#[derive(Debug)]
struct Out {
    id: String,
    created: u64,
    model: String,
    logprobs: bool,
    include_usage: bool,
}

impl Out {
    fn head(&self, object: &'static str) -> Head<'_> {
        Head {
            id: &self.id,
            object,
            created: self.created,
            model: &self.model,
            system_fingerprint: FINGERPRINT,
        }
    }

    fn chunk(
        &self,
        delta: Delta,
        logprobs: Option<ChatLogprobs>,
        finish_reason: Option<&'static str>,
    ) -> String {
        json(&ChatChunk {
            head: self.head("chat.completion.chunk"),
            choices: vec![ChunkChoice { index: 0, delta, logprobs, finish_reason }],
            usage: self.include_usage.then_some(None),
        })
    }
}

async fn complete(out: Out, mut live: Live) -> Result<Response, ApiError> {
    let mut logprobs = out.logprobs.then(ChatLogprobs::default);
    loop {
        match live.next().await {
            Some(Step::Token(ev)) => {
                if let Some(lp) = &mut logprobs {
                    lp.content.extend(token_logprob(live.tokenizer(), &ev));
                }
            }
            Some(Step::Done(c)) => {
                let body = ChatCompletion {
                    head: out.head("chat.completion"),
                    choices: [ChatChoice {
                        index: 0,
                        message: AssistantMessage { role: "assistant", content: c.text, refusal: None },
                        logprobs,
                        finish_reason: finish_reason(c.stop_reason).unwrap_or("stop"),
                    }],
                    usage: Usage::new(c.prompt_tokens, c.completion_tokens, c.cached_tokens),
                };
                return Ok(json_response(&body));
            }
            Some(Step::Failed(e)) => return Err(e),
            None => return Err(ApiError::internal("the generation ended without a result")),
        }
    }
}

impl sse::Chunks for Out {
    fn start(&mut self) -> Vec<String> {
        let delta = Delta { role: Some("assistant"), content: Some(String::new()) };
        vec![self.chunk(delta, None, None)]
    }

    fn token(&mut self, tok: &Tokenizer, ev: &TokenEvent) -> Option<String> {
        let lp = if self.logprobs { token_logprob(tok, ev) } else { None };
        if ev.text.is_empty() && lp.is_none() {
            return None;
        }
        let logprobs = lp.map(|l| ChatLogprobs { content: vec![l], refusal: None });
        Some(self.chunk(Delta { role: None, content: Some(ev.text.clone()) }, logprobs, None))
    }

    fn done(&mut self, c: &Completion) -> Vec<String> {
        let mut v =
            vec![self.chunk(Delta::default(), None, Some(finish_reason(c.stop_reason).unwrap_or("stop")))];
        if self.include_usage {
            v.push(json(&ChatChunk {
                head: self.head("chat.completion.chunk"),
                choices: Vec::new(),
                usage: Some(Some(Usage::new(c.prompt_tokens, c.completion_tokens, c.cached_tokens))),
            }));
        }
        v
    }
}
