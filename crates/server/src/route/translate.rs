//! OpenAI chat bodies ↔ the Anthropic Messages API: a `chat.completions` request becomes a
//! [`MessagesRequest`] (system and developer messages → top-level `system`, consecutive
//! same-role turns merged so roles alternate, `max_tokens` always set, `stop` →
//! `stop_sequences`, `response_format` json_schema → `output_config.format`, tools and tool
//! turns as `translate_tools.rs` says); a [`Message`] becomes a `chat.completion`; stream
//! events become `chat.completion.chunk`s.

use hearth_anthropic::types::{
    ContentBlock, ContentDelta, Message, MessageContent, MessageParam, MessagesRequest, OutputConfig,
    OutputFormat, Role, StopReason, StreamEvent, SystemPrompt, Usage,
};
use serde_json::{Value, json};

use super::translate_tools::{self, ToolCallDeltas};
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
    let mut turns: Vec<(Role, Vec<ContentBlock>)> = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let text = || ContentBlock::text(content_text(m.get("content")));
        let (role, blocks) = match m.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => {
                system.push(content_text(m.get("content")));
                continue;
            }
            Some("user") => (Role::User, vec![text()]),
            Some("tool") => (Role::User, vec![translate_tools::tool_result_block(m, i)?]),
            Some("assistant") => {
                let mut blocks = vec![text()];
                blocks.extend(translate_tools::tool_use_blocks(m, i)?);
                (Role::Assistant, blocks)
            }
            other => {
                return Err(ApiError::invalid(
                    Some(&format!("messages[{i}].role")),
                    format!("unknown role {other:?}: expected system, developer, user, assistant or tool"),
                ));
            }
        };
        match turns.last_mut() {
            Some((r, b)) if *r == role => b.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    // The API wants the first turn from the user.
    if turns.first().is_none_or(|(r, _)| *r != Role::User) {
        turns.insert(0, (Role::User, vec![ContentBlock::text("(continue)")]));
    }
    let messages = turns
        .into_iter()
        .map(|(role, blocks)| MessageParam { role, content: turn_content(blocks) })
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
    req.tools = translate_tools::tools(body)?;
    req.tool_choice = translate_tools::tool_choice(body)?;
    if let Some(schema) = body.pointer("/response_format/json_schema/schema") {
        req.output_config = Some(OutputConfig {
            format: Some(OutputFormat::JsonSchema { schema: schema.clone() }),
            ..OutputConfig::default()
        });
    }
    Ok(req)
}

/// A merged turn's content: text only, the texts joined by blank lines; with tool blocks,
/// the blocks, `tool_result`s first (the API wants them at the start of their turn) and empty
/// texts dropped (the API refuses them).
fn turn_content(blocks: Vec<ContentBlock>) -> MessageContent {
    if blocks.iter().all(|b| b.as_text().is_some()) {
        return MessageContent::Text(
            blocks.iter().filter_map(ContentBlock::as_text).collect::<Vec<_>>().join("\n\n"),
        );
    }
    let (mut first, rest): (Vec<_>, Vec<_>) = blocks
        .into_iter()
        .filter(|b| b.as_text() != Some(""))
        .partition(|b| matches!(b, ContentBlock::ToolResult(_)));
    first.extend(rest);
    MessageContent::Blocks(first)
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
    let text = msg.text();
    let calls = translate_tools::tool_calls(msg);
    let mut message = json!({"role": "assistant", "content": text, "refusal": null});
    if !calls.is_empty() {
        if text.is_empty() {
            message["content"] = Value::Null;
        }
        message["tool_calls"] = Value::Array(calls);
    }
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
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
    tools: ToolCallDeltas,
}

impl ChunkWriter {
    /// A writer for one response.
    pub fn new(id: String, created: u64, model: String, include_usage: bool) -> Self {
        ChunkWriter {
            id,
            created,
            model,
            include_usage,
            usage: Usage::default(),
            stop: None,
            tools: ToolCallDeltas::default(),
        }
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

    /// The tool calls streamed so far.
    pub fn tool_calls(&self) -> usize {
        self.tools.count()
    }

    /// The chunks `ev` becomes (none for pings, block stops, text block starts).
    pub fn event(&mut self, ev: &StreamEvent) -> Vec<String> {
        match ev {
            StreamEvent::MessageStart { message } => {
                self.usage = message.usage.clone();
                vec![self.chunk(json!({"role": "assistant", "content": ""}), None)]
            }
            StreamEvent::ContentBlockDelta { delta: ContentDelta::TextDelta { text }, .. } => {
                vec![self.chunk(json!({"content": text}), None)]
            }
            StreamEvent::ContentBlockStart { index, content_block: ContentBlock::ToolUse(call) } => {
                let delta = self.tools.start(*index, call);
                vec![self.chunk(delta, None)]
            }
            StreamEvent::ContentBlockDelta {
                index,
                delta: ContentDelta::InputJsonDelta { partial_json },
            } => {
                self.tools.arguments(*index, partial_json).map(|d| self.chunk(d, None)).into_iter().collect()
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
    fn tool_calls_and_tool_messages_become_tool_use_and_one_tool_result_turn() {
        let call = |id: &str, city: &str| {
            json!({"id": id, "type": "function",
                "function": {"name": "weather", "arguments": format!("{{\"city\": \"{city}\"}}")}})
        };
        let body = json!({
            "messages": [
                {"role": "user", "content": "Paris or Rome?"},
                {"role": "assistant", "content": null, "tool_calls": [call("call_1", "Paris"), call("call_2", "Rome")]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                {"role": "tool", "tool_call_id": "call_2", "content": "24C"},
                {"role": "user", "content": "Which is warmer?"},
            ],
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
            "tool_choice": "auto",
            "parallel_tool_calls": false,
        });
        let v = serde_json::to_value(to_anthropic(&body, "m", 10).unwrap()).unwrap();
        let tool_use = |id: &str, city: &str| json!({"type": "tool_use", "id": id, "name": "weather", "input": {"city": city}});
        let result =
            |id: &str, text: &str| json!({"type": "tool_result", "tool_use_id": id, "content": text});
        assert_eq!(
            v["messages"],
            json!([
                {"role": "user", "content": "Paris or Rome?"},
                {"role": "assistant", "content": [tool_use("call_1", "Paris"), tool_use("call_2", "Rome")]},
                {"role": "user", "content": [result("call_1", "18C"), result("call_2", "24C"),
                    {"type": "text", "text": "Which is warmer?"}]},
            ])
        );
        assert_eq!(v["tools"], json!([{"name": "weather", "input_schema": {"type": "object"}}]));
        assert_eq!(v["tool_choice"], json!({"type": "auto", "disable_parallel_tool_use": true}));
    }

    #[test]
    fn bad_arguments_are_a_400_naming_the_call() {
        let body = json!({"messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]},
        ]});
        let e = to_anthropic(&body, "m", 10).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[1].tool_calls[0].function.arguments"));
        assert_eq!(e.status, 400);
    }

    fn tool_use_message(text: &str) -> Message {
        let mut content =
            vec![json!({"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}})];
        if !text.is_empty() {
            content.insert(0, json!({"type": "text", "text": text}));
        }
        serde_json::from_value(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": content,
            "stop_reason": "tool_use", "stop_sequence": null, "usage": {"input_tokens": 5, "output_tokens": 7},
        }))
        .unwrap()
    }

    #[test]
    fn tool_use_blocks_become_tool_calls_with_json_text_arguments() {
        let v = completion("chatcmpl-1", 1, "claude", &tool_use_message(""));
        let choice = &v["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], Value::Null, "no text: null content");
        assert_eq!(
            choice["message"]["tool_calls"],
            json!([{"id": "toolu_1", "type": "function",
                "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}])
        );
        let v = completion("chatcmpl-1", 1, "claude", &tool_use_message("Let me look."));
        assert_eq!(v["choices"][0]["message"]["content"], "Let me look.");
        let plain = completion("chatcmpl-1", 1, "claude", &serde_json::from_value(json!({
            "id": "m", "type": "message", "role": "assistant", "model": "m", "content": [{"type": "text", "text": "Hi"}],
            "stop_reason": "end_turn", "stop_sequence": null, "usage": {"input_tokens": 1, "output_tokens": 1}})).unwrap());
        assert!(plain["choices"][0]["message"].get("tool_calls").is_none());
    }

    #[test]
    fn a_streamed_tool_use_becomes_tool_call_chunks_indexed_by_call() {
        let mut w = ChunkWriter::new("c".into(), 1, "claude".into(), false);
        let ev = |v: Value| serde_json::from_value::<StreamEvent>(v).unwrap();
        let deltas: Vec<Value> = [
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Sure."}}),
            json!({"type": "content_block_start", "index": 1,
                   "content_block": {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"ci"}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "ty\": 1}"}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
            json!({"type": "message_stop"}),
        ]
        .into_iter()
        .flat_map(|e| w.event(&ev(e)))
        .map(|c| serde_json::from_str::<Value>(&c).unwrap()["choices"][0].clone())
        .collect();
        assert_eq!(deltas[0]["delta"], json!({"content": "Sure."}));
        assert_eq!(
            deltas[1]["delta"],
            json!({"tool_calls": [{"index": 0, "id": "toolu_1", "type": "function",
                "function": {"name": "weather", "arguments": ""}}]})
        );
        assert_eq!(
            deltas[2]["delta"],
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"ci"}}]})
        );
        assert_eq!(deltas[3]["delta"]["tool_calls"][0]["function"]["arguments"], "ty\": 1}");
        assert_eq!(deltas[4]["finish_reason"], "tool_calls");
        assert_eq!(w.tool_calls(), 1);
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
