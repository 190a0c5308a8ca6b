//! OpenAI chat bodies ↔ the Anthropic Messages API: a `chat.completions` request becomes a
//! [`MessagesRequest`] (system and developer messages → top-level `system`, consecutive
//! same-role turns merged so roles alternate, `max_tokens` always set, `stop` →
//! `stop_sequences`, `response_format` json_schema → `output_config.format`); a [`Message`]
//! becomes a `chat.completion`; stream events become `chat.completion.chunk`s.

use hearth_anthropic::types::{
    ContentDelta, Message, MessageParam, MessagesRequest, OutputConfig, OutputFormat, Role, StopReason,
    StreamEvent, SystemPrompt, Usage,
};
use serde_json::{Value, json};

use crate::ApiError;

/// The text of an OpenAI message's `content` (a string, or text parts joined by newlines).
pub(crate) fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    }
}

/// The text the router judges: every message's text, in order, one per line.
pub(crate) fn routing_text(body: &Value) -> String {
    let Some(msgs) = body.get("messages").and_then(Value::as_array) else { return String::new() };
    msgs.iter().map(|m| content_text(m.get("content"))).collect::<Vec<_>>().join("\n")
}

/// `body` as a Messages API request for `model`; `default_max_tokens` when the body sets
/// neither `max_tokens` nor `max_completion_tokens` (the remote's `max_tokens` key).
pub(crate) fn to_anthropic(
    body: &Value,
    model: &str,
    default_max_tokens: u32,
) -> Result<MessagesRequest, ApiError> {
    let Some(msgs) = body.get("messages").and_then(Value::as_array) else {
        return Err(ApiError::invalid(Some("messages"), "`messages` is required"));
    };
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<(Role, String)> = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let text = content_text(m.get("content"));
        let role = match m.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => {
                system.push(text);
                continue;
            }
            Some("user" | "tool") => Role::User,
            Some("assistant") => Role::Assistant,
            other => {
                return Err(ApiError::invalid(
                    Some(&format!("messages[{i}].role")),
                    format!("unknown role {other:?}: expected system, developer, user, assistant or tool"),
                ));
            }
        };
        match turns.last_mut() {
            Some((r, t)) if *r == role => {
                t.push_str("\n\n");
                t.push_str(&text);
            }
            _ => turns.push((role, text)),
        }
    }
    // The API wants the first turn from the user.
    if turns.first().is_none_or(|(r, _)| *r != Role::User) {
        turns.insert(0, (Role::User, "(continue)".to_owned()));
    }
    let messages = turns
        .into_iter()
        .map(|(r, t)| if r == Role::User { MessageParam::user(t) } else { MessageParam::assistant(t) })
        .collect();
    let max_tokens = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64))
        .map_or(default_max_tokens, |n| n.clamp(1, u64::from(u32::MAX)) as u32);
    let mut req = MessagesRequest::new(model, max_tokens, messages);
    if !system.is_empty() {
        req.system = Some(SystemPrompt::Text(system.join("\n\n")));
    }
    req.stop_sequences = match body.get("stop") {
        Some(Value::String(s)) => Some(vec![s.clone()]),
        Some(Value::Array(a)) => Some(a.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
        _ => None,
    };
    req.temperature = body.get("temperature").and_then(Value::as_f64).map(|t| t.clamp(0.0, 1.0));
    req.top_p = body.get("top_p").and_then(Value::as_f64);
    if let Some(schema) = body.pointer("/response_format/json_schema/schema") {
        req.output_config = Some(OutputConfig {
            format: Some(OutputFormat::JsonSchema { schema: schema.clone() }),
            ..OutputConfig::default()
        });
    }
    Ok(req)
}

/// OpenAI's `finish_reason` for an Anthropic stop reason.
pub(crate) fn finish_reason(stop: Option<&StopReason>) -> &'static str {
    match stop {
        Some(StopReason::MaxTokens | StopReason::ModelContextWindowExceeded) => "length",
        Some(StopReason::ToolUse) => "tool_calls",
        Some(StopReason::Refusal) => "content_filter",
        _ => "stop",
    }
}

/// OpenAI's `usage` for Anthropic's: prompt tokens count cache reads and writes, the reads
/// also in `prompt_tokens_details.cached_tokens`.
pub(crate) fn usage_json(u: &Usage) -> Value {
    let read = u.cache_read_input_tokens.unwrap_or(0);
    let write = u.cache_creation_input_tokens.unwrap_or(0);
    let prompt = u.input_tokens + read + write;
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": u.output_tokens,
        "total_tokens": prompt + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": read},
    })
}

/// The router's usage (cache reads and writes apart) of an Anthropic usage.
pub(crate) fn router_usage(u: &Usage) -> hearth_router::Usage {
    hearth_router::Usage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cache_read_tokens: u.cache_read_input_tokens.unwrap_or(0),
        cache_write_tokens: u.cache_creation_input_tokens.unwrap_or(0),
    }
}

/// A `chat.completion` of `msg`, reported under `model` (the remote's name).
pub(crate) fn completion(id: &str, created: u64, model: &str, msg: &Message) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": msg.text(), "refusal": null},
            "logprobs": null,
            "finish_reason": finish_reason(msg.stop_reason.as_ref()),
        }],
        "usage": usage_json(&msg.usage),
    })
}

/// Turns Anthropic stream events into `chat.completion.chunk` JSON texts.
#[derive(Debug)]
pub(crate) struct ChunkWriter {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub include_usage: bool,
    /// Usage so far (from `message_start`, updated by `message_delta`).
    pub usage: Usage,
    stop: Option<StopReason>,
}

impl ChunkWriter {
    /// A writer for one response.
    pub fn new(id: String, created: u64, model: String, include_usage: bool) -> Self {
        ChunkWriter { id, created, model, include_usage, usage: Usage::default(), stop: None }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> String {
        let mut c = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if self.include_usage {
            c["usage"] = Value::Null;
        }
        c.to_string()
    }

    /// The chunks `ev` becomes (none for pings, block starts and stops).
    pub fn event(&mut self, ev: &StreamEvent) -> Vec<String> {
        match ev {
            StreamEvent::MessageStart { message } => {
                self.usage = message.usage.clone();
                vec![self.chunk(json!({"role": "assistant", "content": ""}), None)]
            }
            StreamEvent::ContentBlockDelta { delta: ContentDelta::TextDelta { text }, .. } => {
                vec![self.chunk(json!({"content": text}), None)]
            }
            StreamEvent::MessageDelta { delta, usage } => {
                self.usage.apply_delta(usage);
                self.stop = delta.stop_reason.clone();
                Vec::new()
            }
            StreamEvent::MessageStop => {
                let mut out = vec![self.chunk(json!({}), Some(finish_reason(self.stop.as_ref())))];
                if self.include_usage {
                    out.push(
                        json!({
                            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                            "model": self.model, "choices": [], "usage": usage_json(&self.usage),
                        })
                        .to_string(),
                    );
                }
                out
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_goes_top_level_and_roles_alternate() {
        let body = json!({
            "model": "auto", "max_completion_tokens": 50, "stop": "END", "temperature": 0.3,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": "Answer in French."},
                {"role": "user", "content": "Hi"},
                {"role": "user", "content": [{"type": "text", "text": "there"}]},
                {"role": "assistant", "content": "Bonjour"},
                {"role": "user", "content": "Why?"},
            ],
        });
        let req = to_anthropic(&body, "claude-haiku-4-5", 1024).unwrap();
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["system"], "Be brief.\n\nAnswer in French.");
        assert_eq!(v["max_tokens"], 50);
        assert_eq!(v["stop_sequences"], json!(["END"]));
        assert_eq!(req.messages.len(), 3);
        assert_eq!(v["messages"][0]["content"], "Hi\n\nthere");
        assert_eq!(v["messages"][1]["role"], "assistant");
    }

    #[test]
    fn max_tokens_defaults_and_json_schema_becomes_output_config() {
        let body = json!({
            "messages": [{"role": "assistant", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}},
        });
        let req = to_anthropic(&body, "m", 777).unwrap();
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["max_tokens"], 777);
        assert_eq!(v["output_config"]["format"]["type"], "json_schema");
        assert_eq!(v["messages"][0]["role"], "user", "a leading assistant turn gets a user turn first");
    }

    #[test]
    fn usage_keeps_cache_reads_apart() {
        let u = Usage {
            input_tokens: 10,
            output_tokens: 5,
            cache_read_input_tokens: Some(100),
            cache_creation_input_tokens: Some(20),
            ..Usage::default()
        };
        let v = usage_json(&u);
        assert_eq!(v["prompt_tokens"], 130);
        assert_eq!(v["prompt_tokens_details"]["cached_tokens"], 100);
        let r = router_usage(&u);
        assert_eq!((r.cache_read_tokens, r.cache_write_tokens, r.input_tokens), (100, 20, 10));
    }
}
