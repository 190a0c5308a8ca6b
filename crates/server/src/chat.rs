//! `POST /v1/chat/completions`: messages rendered with the model's chat template; one JSON
//! `chat.completion`, or SSE `chat.completion.chunk`s with `stream: true`.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use hearth_engine::{Completion, Message, StopReason, TokenEvent};
use hearth_tokenizer::Tokenizer;

use crate::generate::{self, Live, Step};
use crate::request::{self, GenerationBody, MessageContent};
use crate::response::with_warnings;
use crate::response::{
    AssistantMessage, ChatChoice, ChatChunk, ChatCompletion, ChatLogprobs, ChunkChoice, Delta, FINGERPRINT,
    Head, Usage, finish_reason, json, json_response, token_logprob,
};
use crate::state::unix_now;
use crate::tools::ToolCalling;
use crate::validate::{Endpoint, validate_body};
use crate::{ApiError, AppState, sse};
use hearth_tools::{CallDetector, Opening};

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
        detector: valid.tools.as_ref().map(|t| CallDetector::new(t.syntax)),
        tools: valid.tools,
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
        let mut msg = Message::new(role, content);
        match role {
            "assistant" => msg.tool_calls = m.tool_calls.clone().unwrap_or_default(),
            "tool" => {
                let Some(id) = &m.tool_call_id else {
                    return Err(ApiError::invalid(
                        Some(&format!("messages[{i}].tool_call_id")),
                        "a `tool` message needs the `tool_call_id` of the call it answers",
                    ));
                };
                msg.tool_call_id = Some(id.clone());
                msg.name = m.name.clone();
            }
            _ => {}
        }
        out.push(msg);
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
    /// The request's tools: the output is parsed into calls.
    tools: Option<ToolCalling>,
    /// Streaming with tools: holds back what may be a call.
    detector: Option<CallDetector>,
}

impl Out {
    /// The text and calls of a finished output: with tools and an output that parses, its
    /// text part (`None` when empty) and its calls; else all of it as text.
    /// `cut`: the output ended at the token limit.
    fn split_output(
        &self,
        text: String,
        cut: bool,
    ) -> (Option<String>, Vec<serde_json::Value>, Option<String>) {
        let parsed = self.tools.as_ref().map(|t| crate::tools::parse_output(t, &text, cut));
        match parsed {
            Some(Ok(p)) if !p.calls.is_empty() => {
                let mut n = 0;
                let suffix = self.id.trim_start_matches("chatcmpl-");
                let calls = crate::tools::openai_calls(&p, || {
                    n += 1;
                    format!("call_{suffix}_{n}")
                });
                ((!p.content.is_empty()).then_some(p.content), calls, None)
            }
            Some(Err(e)) => (Some(text), Vec::new(), Some(e)),
            _ => (Some(text), Vec::new(), None),
        }
    }

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
                let (content, tool_calls, invalid) =
                    out.split_output(c.text, c.stop_reason == StopReason::Length);
                let finish = if tool_calls.is_empty() {
                    finish_reason(c.stop_reason).unwrap_or("stop")
                } else {
                    "tool_calls"
                };
                let body = ChatCompletion {
                    head: out.head("chat.completion"),
                    choices: [ChatChoice {
                        index: 0,
                        message: AssistantMessage { role: "assistant", content, refusal: None, tool_calls },
                        logprobs,
                        finish_reason: finish,
                    }],
                    usage: Usage::new(c.prompt_tokens, c.completion_tokens, c.cached_tokens),
                };
                return Ok(crate::tools::mark_invalid(json_response(&body), invalid.as_deref()));
            }
            Some(Step::Failed(e)) => return Err(e),
            None => return Err(ApiError::internal("the generation ended without a result")),
        }
    }
}

impl sse::Chunks for Out {
    fn start(&mut self) -> Vec<String> {
        let delta = Delta { role: Some("assistant"), content: Some(String::new()), tool_calls: None };
        vec![self.chunk(delta, None, None)]
    }

    fn token(&mut self, tok: &Tokenizer, ev: &TokenEvent) -> Option<String> {
        let lp = if self.logprobs { token_logprob(tok, ev) } else { None };
        let text = match &mut self.detector {
            // With tools, text is sent once it is clearly not a call; a call waits for the end.
            Some(d) => d.push(&ev.text).to_owned(),
            None => ev.text.clone(),
        };
        if text.is_empty() && lp.is_none() {
            return None;
        }
        let logprobs = lp.map(|l| ChatLogprobs { content: vec![l], refusal: None });
        Some(self.chunk(Delta { content: Some(text), ..Delta::default() }, logprobs, None))
    }

    fn done(&mut self, c: &Completion) -> Vec<String> {
        let mut v = Vec::new();
        let mut finish = finish_reason(c.stop_reason).unwrap_or("stop");
        if let Some(d) = self.detector.take() {
            let unsent = d.unsent().to_owned();
            let (content, calls, _) = if d.opening() == Opening::Text {
                (Some(unsent), Vec::new(), None)
            } else {
                self.split_output(d.text().to_owned(), c.stop_reason == StopReason::Length)
            };
            if let Some(text) = content.filter(|t| !t.is_empty()) {
                v.push(self.chunk(Delta { content: Some(text), ..Delta::default() }, None, None));
            }
            for (index, call) in calls.iter().enumerate() {
                // OpenAI's shape: the call's id and name with empty arguments, then the arguments.
                let head = serde_json::json!([{"index": index, "id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}]);
                let args = serde_json::json!([{"index": index, "function": {"arguments": call["function"]["arguments"]}}]);
                v.push(self.chunk(
                    Delta {
                        tool_calls: Some(head.as_array().cloned().unwrap_or_default()),
                        ..Delta::default()
                    },
                    None,
                    None,
                ));
                v.push(self.chunk(
                    Delta {
                        tool_calls: Some(args.as_array().cloned().unwrap_or_default()),
                        ..Delta::default()
                    },
                    None,
                    None,
                ));
                finish = "tool_calls";
            }
        }
        v.push(self.chunk(Delta::default(), None, Some(finish)));
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
