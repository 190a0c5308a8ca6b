//! The request bodies of `/v1/chat/completions` and `/v1/completions`, as they come over the
//! wire, and their parsing: unknown fields are ignored; a field of the wrong type is a 400
//! naming it (`messages[1].content`).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use serde::Deserialize;
use serde_json::Value;

use crate::ApiError;

/// Every field either endpoint reads (`messages` for chat, `prompt` for completions).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct GenerationBody {
    /// The model: with a pool, a configured name or `auto`; the single-model server takes
    /// any name (and reports its own).
    pub model: Option<String>,
    pub messages: Option<Vec<WireMessage>>,
    pub prompt: Option<PromptInput>,
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
    pub min_p: Option<f32>,
    pub repetition_penalty: Option<f32>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub logit_bias: Option<HashMap<String, f32>>,
    pub stop: Option<StopInput>,
    pub seed: Option<Seed>,
    pub stream: Option<bool>,
    pub stream_options: Option<StreamOptions>,
    pub logprobs: Option<LogprobsInput>,
    pub top_logprobs: Option<u32>,
    pub response_format: Option<ResponseFormat>,
    pub n: Option<u32>,
    pub best_of: Option<u32>,
    pub echo: Option<bool>,
    /// Extension (as llama-server): keep generating past end-of-generation tokens, to
    /// `max_tokens` (benchmarks, load tests).
    pub ignore_eos: Option<bool>,
    /// Accepted for compatibility; not used.
    #[allow(dead_code)]
    pub user: Option<String>,
    /// Function tools (`{"type": "function", "function": {"name", "description", "parameters"}}`).
    pub tools: Option<Vec<Value>>,
    /// `auto`, `none`, `required` or `{"type": "function", "function": {"name"}}`.
    pub tool_choice: Option<Value>,
    /// Several calls may come in one turn (default true).
    pub parallel_tool_calls: Option<bool>,
}

/// One chat message.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WireMessage {
    pub role: String,
    pub content: Option<MessageContent>,
    /// An assistant turn's calls (`arguments` a JSON string, or an object).
    pub tool_calls: Option<Vec<hearth_engine::ToolCall>>,
    /// A `tool` turn: the call it answers.
    pub tool_call_id: Option<String>,
    /// A `tool` turn: the function's name (optional).
    pub name: Option<String>,
}

/// A message's content: text, or an array of parts of which only text parts are supported.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

/// One part of a message's content.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
}

/// `prompt`: a string, an array of one string, or token ids.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum PromptInput {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

/// `stop`: one string or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum StopInput {
    One(String),
    Many(Vec<String>),
}

/// `seed`: any 64-bit integer.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Seed {
    Unsigned(u64),
    Signed(i64),
}

impl Seed {
    pub fn bits(&self) -> u64 {
        match *self {
            Seed::Unsigned(u) => u,
            Seed::Signed(i) => i as u64,
        }
    }
}

/// `logprobs`: a boolean for chat, a count for completions.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum LogprobsInput {
    Flag(bool),
    Count(u32),
}

/// `stream_options`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct StreamOptions {
    pub include_usage: Option<bool>,
}

/// `response_format`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaSpec },
}

/// `response_format.json_schema`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct JsonSchemaSpec {
    #[allow(dead_code)]
    pub name: Option<String>,
    pub schema: Option<Value>,
    /// hearth always enforces the schema exactly (or refuses it with a 400); `strict: true`
    /// also refuses a `format` it cannot enforce, which is otherwise ignored with a warning.
    pub strict: Option<bool>,
}

/// The body bytes, or the error for a body that could not be read (413 when too large).
pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rej| {
        let status = rej.status();
        let mut e = ApiError::invalid(None, rej.body_text());
        e.status = status;
        if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            e.message = "the request body is larger than the server accepts (--max-body-bytes)".into();
            e.code = Some("request_too_large");
        }
        e
    })
}

/// Parses a request body; errors name the parameter at fault.
pub(crate) fn parse(bytes: &[u8]) -> Result<GenerationBody, ApiError> {
    // serde would take an array as the struct's fields in order.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => ApiError::invalid(None, "the request body must be a JSON object"),
            Err(e) => ApiError::invalid(None, format!("the request body is not valid JSON: {e}")),
        });
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            return ApiError::invalid(None, format!("the request body is not valid JSON: {inner}"));
        }
        if path == "." || path.is_empty() {
            return ApiError::invalid(None, format!("invalid request body: {inner}"));
        }
        ApiError::invalid(Some(&path), format!("invalid `{path}`: {}", explain(&path, &inner.to_string())))
    })
}

/// A readable message for a field whose type is a choice (serde only says "did not match").
fn explain(path: &str, serde_msg: &str) -> String {
    if !serde_msg.contains("did not match any variant") {
        return serde_msg.to_owned();
    }
    let field = path.rsplit('.').next().unwrap_or(path);
    let want = match field {
        "prompt" => "a string, an array of one string, or an array of token ids",
        "stop" => "a string or an array of strings",
        "seed" => "an integer",
        "logprobs" => "a boolean (chat) or an integer (completions)",
        f if f.ends_with("content") => "a string or an array of {\"type\": \"text\", \"text\": ...} parts",
        _ => return serde_msg.to_owned(),
    };
    format!("expected {want}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> ApiError {
        parse(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let b = parse(br#"{"prompt":"hi","tools":[],"whatever":{"x":1}}"#).unwrap();
        assert!(matches!(b.prompt, Some(PromptInput::Text(_))));
    }

    #[test]
    fn type_errors_name_the_parameter() {
        assert_eq!(err(r#"{"temperature":"hot"}"#).param.as_deref(), Some("temperature"));
        assert_eq!(err(r#"{"max_tokens":-1}"#).param.as_deref(), Some("max_tokens"));
        let e = err(r#"{"messages":[{"role":"user","content":5}]}"#);
        assert_eq!(e.param.as_deref(), Some("messages[0].content"));
        assert!(e.message.contains("a string or an array"), "{}", e.message);
        let e = err(r#"{"response_format":{"type":"xml"}}"#);
        assert_eq!(e.param.as_deref(), Some("response_format.type"), "{e:?}");
        assert_eq!(err("[1]").message, "the request body must be a JSON object");
        assert!(err("{").message.starts_with("the request body is not valid JSON"));
    }
}
