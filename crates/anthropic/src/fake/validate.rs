//! The fake's request checks, in the order and words of the real API where its answers are
//! known (authentication, then headers, then the body; body errors name the field as
//! `path: problem`, e.g. `max_tokens: Field required`, `foo: Extra inputs are not permitted`).
//!
//! Tools, `tool_choice` and tool turns are checked in `validate_tools.rs`.
//!
//! Stricter than today's API on one point, on purpose: consecutive turns of the same role are
//! refused (the API now merges them) so that hearth's OpenAI → Anthropic translation is tested
//! to produce alternating roles; [`super::FakeConfig::strict_roles`] turns this off.

use axum::http::HeaderMap;
use serde_json::{Map, Value};

use super::FakeConfig;
use crate::types::{ContentBlock, CountTokensRequest, MessagesRequest};

/// Top-level fields of `POST /v1/messages`: SDK 2.16's `MessageCreateParams` plus the
/// sampling fields older SDKs send.
const MESSAGES_FIELDS: &[&str] = &[
    "model",
    "max_tokens",
    "messages",
    "system",
    "stop_sequences",
    "temperature",
    "top_p",
    "top_k",
    "metadata",
    "stream",
    "tools",
    "tool_choice",
    "output_config",
    "cache_control",
    "thinking",
    "service_tier",
    "container",
    "inference_geo",
    "speed",
    "diagnostics",
];

/// Top-level fields of `POST /v1/messages/count_tokens` (SDK `MessageCountTokensParams`).
const COUNT_TOKENS_FIELDS: &[&str] = &[
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "output_config",
    "cache_control",
    "thinking",
    "speed",
];

/// Input block types the API accepts in a message.
const INPUT_BLOCK_TYPES: &[&str] = &[
    "text",
    "image",
    "document",
    "search_result",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
    "server_tool_use",
    "web_search_tool_result",
    "container_upload",
];

/// A refused request: status, `error.type`, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reject {
    pub status: u16,
    pub kind: &'static str,
    pub message: String,
}

impl Reject {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Reject { status: 400, kind: "invalid_request_error", message: message.into() }
    }
}

/// Checks the credentials and `anthropic-version`, the part every endpoint shares.
pub(crate) fn check_headers(headers: &HeaderMap, config: &FakeConfig) -> Result<(), Reject> {
    check_auth(headers, config)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let json = header("content-type").is_some_and(|ct| {
        ct.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    });
    if !json {
        return Err(Reject::invalid("content-type: must be application/json"));
    }
    Ok(())
}

/// The credentials and `anthropic-version` every request needs (a `GET` has no body, so no
/// content type).
pub(crate) fn check_auth(headers: &HeaderMap, config: &FakeConfig) -> Result<(), Reject> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let bearer = header("authorization").and_then(|v| v.strip_prefix("Bearer "));
    let Some(key) = header("x-api-key").or(bearer) else {
        return Err(Reject {
            status: 401,
            kind: "authentication_error",
            message: "x-api-key header is required".into(),
        });
    };
    if key != config.api_key {
        return Err(Reject {
            status: 401,
            kind: "authentication_error",
            message: "invalid x-api-key".into(),
        });
    }
    match header("anthropic-version") {
        None => return Err(Reject::invalid("anthropic-version: header is required")),
        Some(v) if !config.versions.iter().any(|known| known == v) => {
            return Err(Reject::invalid(format!("anthropic-version: '{v}' is not a valid version")));
        }
        Some(_) => {}
    }
    Ok(())
}

/// Checks a `/v1/messages` body and returns it typed.
pub(crate) fn messages_body(body: &[u8], config: &FakeConfig) -> Result<MessagesRequest, Reject> {
    let object = parse_object(body)?;
    check_fields(&object, MESSAGES_FIELDS)?;
    required_string(&object, "model")?;
    match object.get("max_tokens") {
        None => return Err(Reject::invalid("max_tokens: Field required")),
        Some(v) if v.as_u64().is_none_or(|n| n > u64::from(u32::MAX)) => {
            return Err(Reject::invalid("max_tokens: Input should be a valid non-negative integer"));
        }
        Some(_) => {}
    }
    check_messages(&object, config)?;
    check_system(&object)?;
    for (field, max) in [("temperature", 1.0), ("top_p", 1.0)] {
        if let Some(v) = object.get(field).and_then(Value::as_f64)
            && !(0.0..=max).contains(&v)
        {
            return Err(Reject::invalid(format!("{field}: Input should be between 0 and {max}")));
        }
    }
    super::validate_tools::check(&object)?;
    typed(object)
}

/// Checks a `/v1/messages/count_tokens` body and returns it typed.
pub(crate) fn count_tokens_body(body: &[u8], config: &FakeConfig) -> Result<CountTokensRequest, Reject> {
    let object = parse_object(body)?;
    check_fields(&object, COUNT_TOKENS_FIELDS)?;
    required_string(&object, "model")?;
    check_messages(&object, config)?;
    check_system(&object)?;
    super::validate_tools::check(&object)?;
    typed(object)
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Reject> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Reject::invalid("body: Input should be an object")),
        Err(e) => Err(Reject::invalid(format!("body: invalid JSON: {e}"))),
    }
}

fn check_fields(object: &Map<String, Value>, allowed: &[&str]) -> Result<(), Reject> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(Reject::invalid(format!("{extra}: Extra inputs are not permitted"))),
        None => Ok(()),
    }
}

fn required_string(object: &Map<String, Value>, field: &str) -> Result<(), Reject> {
    match object.get(field) {
        None => Err(Reject::invalid(format!("{field}: Field required"))),
        Some(Value::String(s)) if !s.is_empty() => Ok(()),
        Some(_) => Err(Reject::invalid(format!("{field}: Input should be a non-empty string"))),
    }
}

fn typed<T: serde::de::DeserializeOwned>(object: Map<String, Value>) -> Result<T, Reject> {
    serde_json::from_value(Value::Object(object)).map_err(|e| Reject::invalid(format!("body: {e}")))
}

fn check_messages(object: &Map<String, Value>, config: &FakeConfig) -> Result<(), Reject> {
    let messages = match object.get("messages") {
        None => return Err(Reject::invalid("messages: Field required")),
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err(Reject::invalid("messages: Input should be a valid list")),
    };
    if messages.is_empty() {
        return Err(Reject::invalid("messages: at least one message is required"));
    }
    let mut previous: Option<&str> = None;
    for (i, message) in messages.iter().enumerate() {
        let Some(message) = message.as_object() else {
            return Err(Reject::invalid(format!("messages.{i}: Input should be an object")));
        };
        if let Some(extra) = message.keys().find(|k| !matches!(k.as_str(), "role" | "content")) {
            return Err(Reject::invalid(format!("messages.{i}.{extra}: Extra inputs are not permitted")));
        }
        let role = match message.get("role").and_then(Value::as_str) {
            None => return Err(Reject::invalid(format!("messages.{i}.role: Field required"))),
            Some(role @ ("user" | "assistant")) => role,
            Some("system") => {
                return Err(Reject::invalid(format!(
                    "messages.{i}.role: Unexpected role \"system\". The Messages API accepts a top-level \
                     `system` parameter, not \"system\" as an input message role."
                )));
            }
            Some(other) => {
                return Err(Reject::invalid(format!(
                    "messages.{i}.role: Input should be 'user' or 'assistant', not '{other}'"
                )));
            }
        };
        if config.strict_roles {
            if i == 0 && role != "user" {
                return Err(Reject::invalid("messages: first message must use the \"user\" role"));
            }
            if previous == Some(role) {
                return Err(Reject::invalid(format!(
                    "messages: roles must alternate between \"user\" and \"assistant\", but found multiple \
                     \"{role}\" roles in a row"
                )));
            }
        }
        previous = Some(role);
        let last_assistant = role == "assistant" && i + 1 == messages.len();
        check_content(message.get("content"), &format!("messages.{i}.content"), last_assistant)?;
    }
    Ok(())
}

fn check_content(content: Option<&Value>, path: &str, last_assistant: bool) -> Result<(), Reject> {
    let text_end = match content {
        None => return Err(Reject::invalid(format!("{path}: Field required"))),
        Some(Value::String(text)) => {
            if text.is_empty() && !last_assistant {
                return Err(Reject::invalid("messages: text content blocks must be non-empty"));
            }
            Some(text.as_str())
        }
        Some(Value::Array(blocks)) => {
            let mut last_text = None;
            for (j, block) in blocks.iter().enumerate() {
                last_text = check_block(block, &format!("{path}.{j}"))?;
            }
            last_text
        }
        Some(_) => {
            return Err(Reject::invalid(format!("{path}: Input should be a string or a list of blocks")));
        }
    };
    if last_assistant && text_end.is_some_and(|t| t.ends_with(char::is_whitespace)) {
        return Err(Reject::invalid("messages: final assistant content cannot end with trailing whitespace"));
    }
    Ok(())
}

/// Checks one input block; returns its text when it is a text block.
fn check_block<'a>(block: &'a Value, path: &str) -> Result<Option<&'a str>, Reject> {
    let kind = block.get("type").and_then(Value::as_str);
    match kind {
        None => return Err(Reject::invalid(format!("{path}.type: Field required"))),
        Some(t) if !INPUT_BLOCK_TYPES.contains(&t) => {
            return Err(Reject::invalid(format!(
                "{path}.type: Input tag '{t}' found using 'type' does not match any of the expected tags"
            )));
        }
        Some(_) => {}
    }
    match serde_json::from_value::<ContentBlock>(block.clone()) {
        Err(e) => Err(Reject::invalid(format!("{path}: {e}"))),
        Ok(ContentBlock::Text(text)) if text.text.is_empty() => {
            Err(Reject::invalid("messages: text content blocks must be non-empty"))
        }
        Ok(_) => Ok(block.get("text").and_then(Value::as_str).filter(|_| kind == Some("text"))),
    }
}

fn check_system(object: &Map<String, Value>) -> Result<(), Reject> {
    match object.get("system") {
        None | Some(Value::String(_)) => Ok(()),
        Some(Value::Array(blocks)) => {
            for (j, block) in blocks.iter().enumerate() {
                if block.get("type").and_then(Value::as_str) != Some("text") {
                    return Err(Reject::invalid(format!("system.{j}.type: Input should be 'text'")));
                }
                if !block.get("text").is_some_and(Value::is_string) {
                    return Err(Reject::invalid(format!("system.{j}.text: Field required")));
                }
            }
            Ok(())
        }
        Some(_) => Err(Reject::invalid("system: Input should be a string or a list of text blocks")),
    }
}
