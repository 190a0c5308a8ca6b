//! `POST /v1/messages` and `POST /v1/messages/count_tokens`: Anthropic's Messages API served
//! by the local model, so clients written for Claude (the `anthropic` SDKs, Claude Code with
//! `ANTHROPIC_BASE_URL`) work against hearth unchanged, as llama.cpp's server, Ollama and
//! vLLM serve it. Bodies and answers are the wire types of `hearth-anthropic`.
//!
//! The request maps onto the engine exactly as `/v1/chat/completions` does (the same chat
//! template, sampling and stop-string code, [`validate_fields`]): `system` (a string or text
//! blocks) becomes a leading system turn; `max_tokens` (required), `stop_sequences`,
//! `temperature` (0 to 1, as the API), `top_p`, `top_k` and `output_config.format`
//! (structured output: the JSON schema is enforced by hearth's grammar) are honoured;
//! `metadata` is accepted and ignored. Content must be text: image, document and tool blocks,
//! and `tools`, are a 400 `invalid_request_error` (local tool calling is a separate issue).
//!
//! Unknown top-level fields are tolerated, as llama.cpp and Ollama do (the API itself rejects
//! them), so that a client sending newer fields (`thinking`, `service_tier`,
//! `context_management`) still gets an answer; they are named in `X-Hearth-Warning`.
//!
//! Answers: a [`Message`] (`msg_…` id, one text block, `stop_reason` `end_turn`,
//! `max_tokens` or `stop_sequence` with the sequence, usage), or with `stream: true` the API's
//! event sequence (`messages_stream`). Errors are in Anthropic's shape (`anthropic_error`);
//! every answer has a `request-id`, `x-hearth-route` and `x-hearth-reason`.
//!
//! With [`crate::ServerConfig::routing`] set, `POST /v1/messages` is decided by the router
//! first (`route::messages`): a local target is answered here ([`serve_local`]), an Anthropic
//! remote gets the request passed through.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hearth_anthropic::types::{
    ContentBlock, CountTokensRequest, Message as ApiMessage, MessageContent, MessageParam, MessagesRequest,
    OutputFormat, Role, StopReason as ApiStopReason, SystemPrompt, TokenCount, ToolResultContent,
    ToolUseBlock, Usage,
};
use hearth_engine::{Completion, Message, StopReason, ToolCall};
use hearth_tokenizer::Tokenizer;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::generate::{self, Live, Step};
use crate::request::{self, GenerationBody, JsonSchemaSpec, ResponseFormat, StopInput};
use crate::response::with_warnings;
use crate::tools::ToolCalling;
use crate::validate::{Endpoint, ModelShape, validate_fields};
use crate::{ApiError, AppState, anthropic_error, messages_stream};

/// `POST /v1/messages`: through the router when [`crate::ServerConfig::routing`] is set
/// (`route::messages`), else by the local model.
pub(crate) async fn handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request_id = anthropic_id(&state, "req");
    if let Some(routing) = state.config().routing.clone() {
        return crate::route::messages::serve(state, routing, &headers, body, &request_id).await;
    }
    match create(&state, body).await {
        Ok(resp) => with_request_id(resp, &request_id),
        Err(e) => anthropic_error::respond(&e, &request_id),
    }
}

/// `POST /v1/messages/count_tokens`: with routing, counted by the target the router picks
/// (`route::messages_count`).
pub(crate) async fn count_tokens(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request_id = anthropic_id(&state, "req");
    if let Some(routing) = state.config().routing.clone() {
        return crate::route::messages_count::serve(state, routing, &headers, body, &request_id).await;
    }
    match count(&state, body).await {
        Ok(resp) => with_request_id(resp, &request_id),
        Err(e) => anthropic_error::respond(&e, &request_id),
    }
}

async fn create(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let body = request::body_bytes(body)?;
    let req: MessagesRequest = parse(&body)?;
    serve_local(state, &req, &req.model, arrived).await
}

/// `req` answered by the local `model` of the pool, as JSON or (`stream`) SSE.
pub(crate) async fn serve_local(
    state: &AppState,
    req: &MessagesRequest,
    model: &str,
    arrived: Instant,
) -> Result<Response, ApiError> {
    let lease = state.acquire(Some(model)).await?;
    let local = to_engine(req, lease.ready().model_shape())?;
    let tools = local.tools;
    let live = generate::start(state, lease, local.request, "messages", arrived).await?;
    let reply = Reply {
        id: anthropic_id(state, "msg"),
        model: live.model().to_owned(),
        stops: local.stops,
        prompt_tokens: live.prompt_tokens(),
        tools,
    };
    let model = reply.model.clone();
    let resp =
        if local.stream { messages_stream::respond(live, reply) } else { complete(reply, live).await? };
    Ok(with_route(with_warnings(resp, &local.warnings), &model))
}

async fn count(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let body = request::body_bytes(body)?;
    let req: CountTokensRequest = parse(&body)?;
    count_local(state, &req, &req.model).await
}

/// The tokens of `req`'s prompt for the local `model` of the pool, as its chat template
/// renders it.
pub(crate) async fn count_local(
    state: &AppState,
    req: &CountTokensRequest,
    model: &str,
) -> Result<Response, ApiError> {
    let set = crate::tools::anthropic_tool_set(req.tools.as_deref(), req.tool_choice.as_ref())?;
    let prompt = crate::tools::prompt(prompt(req.system.as_ref(), &req.messages)?, set.as_ref());
    let lease = state.acquire(Some(model)).await?;
    let model = lease.name().to_owned();
    let ready = Arc::clone(lease.ready());
    let ids = tokio::task::spawn_blocking(move || ready.engine.tokenize_prompt(&prompt))
        .await
        .map_err(|e| ApiError::internal(format!("counting the tokens failed: {e}")))?
        .map_err(|e| ApiError::from_engine(e, "messages"))?;
    drop(lease);
    let resp = crate::response::json_response(&TokenCount { input_tokens: ids.len() as u64 });
    Ok(with_route(resp, &model))
}

/// The request id (`req_…`) or message id (`msg_…`), unique within this server's life.
pub(crate) fn anthropic_id(state: &AppState, prefix: &str) -> String {
    state.new_id(prefix).replacen('-', "_", 1)
}

pub(crate) fn with_request_id(mut resp: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("request-id", v);
    }
    resp
}

/// Sets `x-hearth-route` (the local model that answered) and `x-hearth-reason`. Without
/// routing, a request is served by the model it names, which is the `explicit` reason of
/// issue 10 (routed answers get the router's headers over these).
pub(crate) fn with_route(mut resp: Response, local_model: &str) -> Response {
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(local_model) {
        headers.insert("x-hearth-route", v);
    }
    headers.insert("x-hearth-reason", HeaderValue::from_static("explicit"));
    resp
}

/// Parses a JSON object body; a mistake is a 400 naming the field (`messages[0].role`).
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid(None, "the request body must be a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::invalid(None, format!("the request body is not valid JSON: {inner}"))
        } else if path == "." {
            ApiError::invalid(None, inner.to_string())
        } else {
            ApiError::invalid(Some(&path), inner.to_string())
        }
    })
}

/// A messages request turned into the engine's terms.
#[derive(Debug)]
pub(crate) struct Local {
    /// What the engine runs.
    pub request: hearth_engine::Request,
    /// `stream: true`.
    pub stream: bool,
    /// `stop_sequences`, to name the one that ended the answer.
    pub stops: Vec<String>,
    /// Ignored fields, for `X-Hearth-Warning`.
    pub warnings: Vec<String>,
    /// The tools the answer may call.
    pub tools: Option<ToolCalling>,
}

/// Checks `req` as the API does and builds the engine request with the same code as
/// `/v1/chat/completions`; every mistake is a 400 naming the field.
pub(crate) fn to_engine(req: &MessagesRequest, shape: ModelShape) -> Result<Local, ApiError> {
    let set = crate::tools::anthropic_tool_set(req.tools.as_deref(), req.tool_choice.as_ref())?;
    let prompt = crate::tools::prompt(prompt(req.system.as_ref(), &req.messages)?, set.as_ref());
    if let Some(t) = req.temperature
        && !(t.is_finite() && (0.0..=1.0).contains(&t))
    {
        return Err(ApiError::invalid(
            Some("temperature"),
            format!("`temperature` must be between 0 and 1, got {t}"),
        ));
    }
    let stops = req.stop_sequences.clone().unwrap_or_default();
    let response_format = req.output_config.as_ref().and_then(|o| o.format.as_ref()).map(
        |OutputFormat::JsonSchema { schema }| ResponseFormat::JsonSchema {
            json_schema: JsonSchemaSpec { name: None, schema: Some(schema.clone()), strict: None },
        },
    );
    let body = GenerationBody {
        max_tokens: Some(req.max_tokens),
        temperature: req.temperature.map(|t| t as f32),
        top_p: req.top_p.map(|p| p as f32),
        top_k: req.top_k,
        stop: (!stops.is_empty()).then(|| StopInput::Many(stops.clone())),
        stream: req.stream,
        response_format,
        ..GenerationBody::default()
    };
    let mut valid = validate_fields(&body, Endpoint::Chat, prompt, shape).map_err(|mut e| {
        // The shared validation names OpenAI's fields.
        if let Some(p) = &e.param {
            e.param =
                Some(p.replacen("stop", "stop_sequences", 1).replacen("response_format", "output_config", 1));
            e.message = e.message.replace("`stop`", "`stop_sequences`");
        }
        e
    })?;
    if let Some(set) = set {
        crate::validate::with_tools(&mut valid, set, shape.tool_syntax, "output_config")?;
    }
    let mut warnings = valid.warnings;
    let ignored: Vec<&str> = req.extra.keys().map(String::as_str).collect();
    if !ignored.is_empty() {
        warnings.push(format!("ignored fields not used by local models: {}", ignored.join(", ")));
    }
    Ok(Local { request: valid.request, stream: valid.stream, stops, warnings, tools: valid.tools })
}

/// The conversation for the chat template: `system` first, then the turns: text, an
/// assistant's `tool_use` blocks as its tool calls, a user's `tool_result` blocks as `tool`
/// turns (before the user's text, as the API orders them).
pub(crate) fn prompt(
    system: Option<&SystemPrompt>,
    turns: &[MessageParam],
) -> Result<Vec<Message>, ApiError> {
    if turns.is_empty() {
        return Err(ApiError::invalid(Some("messages"), "`messages` must have at least one message"));
    }
    let mut out = Vec::with_capacity(turns.len() + 1);
    if let Some(s) = system {
        out.push(Message::new("system", s.text()));
    }
    for (i, turn) in turns.iter().enumerate() {
        let role = match turn.role {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => {
                return Err(ApiError::invalid(
                    Some(&format!("messages[{i}].role")),
                    "roles are `user` or `assistant`; give the system prompt in the top-level `system` field",
                ));
            }
        };
        let mut calls = Vec::new();
        let text = match &turn.content {
            MessageContent::Text(t) => t.clone(),
            MessageContent::Blocks(blocks) => {
                let mut text = String::new();
                for (j, block) in blocks.iter().enumerate() {
                    match block {
                        ContentBlock::Text(b) => text.push_str(&b.text),
                        ContentBlock::ToolUse(u) if role == "assistant" => {
                            calls.push(ToolCall::function(u.id.clone(), u.name.clone(), u.input.to_string()));
                        }
                        ContentBlock::ToolResult(r) if role == "user" => {
                            let content = match &r.content {
                                None => String::new(),
                                Some(ToolResultContent::Text(t)) => t.clone(),
                                Some(ToolResultContent::Blocks(b)) => b
                                    .iter()
                                    .filter_map(|b| match b {
                                        ContentBlock::Text(t) => Some(t.text.as_str()),
                                        _ => None,
                                    })
                                    .collect::<Vec<_>>()
                                    .join("\n"),
                            };
                            let content =
                                if r.is_error == Some(true) { format!("Error: {content}") } else { content };
                            out.push(Message::tool(r.tool_use_id.clone(), content));
                        }
                        other => {
                            let kind = serde_json::to_value(other)
                                .ok()
                                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
                                .unwrap_or_else(|| "unknown".into());
                            return Err(ApiError::invalid(
                                Some(&format!("messages[{i}].content[{j}].type")),
                                format!(
                                    "content blocks of type {kind:?} are not supported by hearth's local \
                                     models, which take text blocks only"
                                ),
                            ));
                        }
                    }
                }
                text
            }
        };
        if role == "user" && text.is_empty() && matches!(&turn.content, MessageContent::Blocks(_)) {
            // A turn of tool results only.
            if out.last().is_some_and(|m: &Message| m.role == "tool") {
                continue;
            }
        }
        out.push(Message { tool_calls: calls, ..Message::new(role, text) });
    }
    Ok(out)
}

/// What the answer to one request shares.
#[derive(Debug)]
pub(crate) struct Reply {
    /// `msg_…`.
    pub id: String,
    /// The local model that answered.
    pub model: String,
    /// `stop_sequences`.
    pub stops: Vec<String>,
    /// The prompt's length in tokens.
    pub prompt_tokens: usize,
    /// The tools the answer may call: its output is parsed into `tool_use` blocks.
    pub tools: Option<ToolCalling>,
}

impl Reply {
    /// The message shell: no content yet when streaming (`message_start`).
    pub fn message(
        &self,
        content: Vec<ContentBlock>,
        stop: Option<(ApiStopReason, Option<String>)>,
        output_tokens: usize,
    ) -> ApiMessage {
        let (stop_reason, stop_sequence) = match stop {
            Some((r, s)) => (Some(r), s),
            None => (None, None),
        };
        ApiMessage {
            id: self.id.clone(),
            role: Role::Assistant,
            content,
            model: self.model.clone(),
            stop_reason,
            stop_sequence,
            usage: Usage {
                input_tokens: self.prompt_tokens as u64,
                output_tokens: output_tokens as u64,
                cache_creation_input_tokens: Some(0),
                cache_read_input_tokens: Some(0),
                service_tier: Some("standard".into()),
            },
        }
    }

    /// The content of the finished output `text`: a text block (when not empty, or when
    /// there are no calls) and, with tools, a `tool_use` block per call (ids `toolu_…`); and
    /// why the output is not a valid call when it should have been (it is then all text).
    /// `cut`: the output ended at the token limit.
    pub fn content(&self, text: String, cut: bool) -> (Vec<ContentBlock>, Option<String>) {
        let parsed = self.tools.as_ref().map(|t| crate::tools::parse_output(t, &text, cut));
        match parsed {
            Some(Ok(p)) if !p.calls.is_empty() => {
                let mut blocks = Vec::with_capacity(p.calls.len() + 1);
                if !p.content.is_empty() {
                    blocks.push(ContentBlock::text(p.content));
                }
                let suffix = self.id.trim_start_matches("msg_");
                for (i, c) in p.calls.into_iter().enumerate() {
                    let id = format!("toolu_{suffix}_{}", i + 1);
                    blocks.push(ContentBlock::ToolUse(ToolUseBlock::new(
                        id,
                        c.name,
                        Value::Object(c.arguments),
                    )));
                }
                (blocks, None)
            }
            Some(Err(e)) => (vec![ContentBlock::text(text)], Some(e)),
            _ => (vec![ContentBlock::text(text)], None),
        }
    }

    /// Why `c` ended, in the API's terms, with the stop sequence that matched.
    pub fn stop(&self, tok: &Tokenizer, c: &Completion) -> (ApiStopReason, Option<String>) {
        match c.stop_reason {
            StopReason::Length => (ApiStopReason::MaxTokens, None),
            StopReason::Stop => {
                let raw = tok.decode(&c.ids, false);
                (ApiStopReason::StopSequence, matched_stop(&raw, &c.text, &self.stops))
            }
            StopReason::Eos | StopReason::Cancelled => (ApiStopReason::EndTurn, None),
        }
    }
}

/// The stop sequence that ended a generation whose tokens decode to `raw` and whose answer
/// (stop sequence cut off) is `text`: the one `raw` continues with after `text`, the
/// shortest when several do (it completed first); else the one that ends first in `raw`.
pub(crate) fn matched_stop(raw: &str, text: &str, stops: &[String]) -> Option<String> {
    let rest = raw.strip_prefix(text).unwrap_or(raw);
    let at_cut = stops.iter().filter(|s| rest.starts_with(s.as_str())).min_by_key(|s| s.len());
    let first_in_raw =
        || stops.iter().filter_map(|s| raw.find(s.as_str()).map(|i| (i + s.len(), s))).min().map(|(_, s)| s);
    at_cut.or_else(first_in_raw).or(stops.first()).cloned()
}

pub(crate) async fn complete(reply: Reply, mut live: Live) -> Result<Response, ApiError> {
    loop {
        match live.next().await {
            Some(Step::Token(_)) => {}
            Some(Step::Done(c)) => {
                let mut stop = reply.stop(live.tokenizer(), &c);
                let (content, invalid) = reply.content(c.text.clone(), c.stop_reason == StopReason::Length);
                if content.iter().any(|b| matches!(b, ContentBlock::ToolUse(_))) {
                    stop = (ApiStopReason::ToolUse, None);
                }
                let msg = reply.message(content, Some(stop), c.completion_tokens);
                let resp =
                    crate::tools::mark_invalid(crate::response::json_response(&msg), invalid.as_deref());
                let mut resp = resp;
                resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                return Ok(resp.into_response());
            }
            Some(Step::Failed(e)) => return Err(e),
            None => return Err(ApiError::internal("the generation ended without a result")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: ModelShape =
        ModelShape { n_ctx: 512, n_vocab: 1000, tool_syntax: crate::validate::CallSyntax::Hermes };

    fn req(json: serde_json::Value) -> Result<Local, ApiError> {
        let r: MessagesRequest = parse(json.to_string().as_bytes())?;
        to_engine(&r, SHAPE)
    }

    #[test]
    fn fields_map_onto_the_engine_request() {
        let l = req(serde_json::json!({
            "model": "m", "max_tokens": 7, "system": [{"type": "text", "text": "Be brief."}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                         {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"}],
            "stop_sequences": ["END"], "temperature": 0.5, "top_p": 0.9, "top_k": 4,
            "metadata": {"user_id": "u"}, "stream": true, "thinking": {"type": "disabled"}
        }))
        .unwrap();
        let r = &l.request;
        assert_eq!(r.max_tokens, 7);
        assert_eq!(r.stop, vec!["END".to_owned()]);
        assert_eq!((r.sampling.temperature, r.sampling.top_p, r.sampling.top_k), (0.5, 0.9, 4));
        assert!(l.stream);
        let hearth_engine::Prompt::Messages(m) = &r.prompt else { panic!("not messages") };
        let turns: Vec<(&str, &str)> = m.iter().map(|m| (m.role.as_str(), m.content.as_str())).collect();
        assert_eq!(turns, [("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello"), ("user", "Bye")]);
        assert!(l.warnings.iter().any(|w| w.contains("thinking")), "{:?}", l.warnings);
    }

    #[test]
    fn mistakes_are_400s_naming_the_field() {
        let base = |extra: serde_json::Value| {
            let mut v = serde_json::json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]});
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            v
        };
        for (body, param) in [
            (serde_json::json!({"model": "m", "messages": []}), None),
            (base(serde_json::json!({"messages": []})), Some("messages")),
            (base(serde_json::json!({"max_tokens": 0})), Some("max_tokens")),
            (base(serde_json::json!({"temperature": 1.5})), Some("temperature")),
            (
                base(serde_json::json!({"messages": [{"role": "system", "content": "x"}]})),
                Some("messages[0].role"),
            ),
            (
                base(serde_json::json!({"messages": [{"role": "robot", "content": "x"}]})),
                Some("messages[0].role"),
            ),
            (
                base(
                    serde_json::json!({"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "http://x"}}]}]}),
                ),
                Some("messages[0].content[0].type"),
            ),
            (
                base(
                    serde_json::json!({"tools": [{"name": "t", "input_schema": {"type": "object", "not": {}}}]}),
                ),
                Some("tools[0].input_schema"),
            ),
            (
                base(serde_json::json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}]})),
                Some("tools[0].type"),
            ),
            (base(serde_json::json!({"stop_sequences": ["a", ""]})), Some("stop_sequences[1]")),
        ] {
            let e = req(body.clone()).unwrap_err();
            assert_eq!(e.status, 400, "{body}");
            if let Some(p) = param {
                assert_eq!(e.param.as_deref(), Some(p), "{body}: {}", e.message);
            }
        }
        let missing = req(serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}))
            .unwrap_err();
        assert!(missing.message.contains("max_tokens"), "{}", missing.message);
    }

    #[test]
    fn the_matched_stop_sequence_is_named() {
        let stops = vec!["END".to_owned(), "E".to_owned(), "##".to_owned()];
        assert_eq!(matched_stop("abc##x", "abc", &stops).as_deref(), Some("##"));
        assert_eq!(matched_stop("abcENDx", "abc", &stops).as_deref(), Some("E"));
        assert_eq!(matched_stop("zz##", "abc", &stops).as_deref(), Some("##"));
        assert_eq!(matched_stop("zz", "abc", &stops).as_deref(), Some("END"));
        assert_eq!(matched_stop("zz", "abc", &[]), None);
    }
}
