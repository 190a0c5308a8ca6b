//! The fake's deterministic answers: the same request always gets the same content.
//!
//! - Text: `echo: <the last user turn's text>`; with `output_config.format` a JSON value of
//!   the schema's shape. Tool calls ([`tool_calls`]): `tool_choice` `tool` calls the named
//!   tool, `any` the tools the last user turn names (else the first tool), `auto` (or none
//!   given) the tools the last user turn names after an `echo` text block; each input has
//!   its schema's shape, `stop_reason` is `tool_use`. A tool result's text counts as the user
//!   turn's text, so the answer after a tool call echoes the result.
//! - `stop_sequences` cut the text at the first match (`stop_reason: "stop_sequence"`),
//!   `max_tokens` cut it at `max_tokens * 4` characters (`"max_tokens"`).
//! - Tokens are characters / 4, rounded up ([`crate::cache::estimate_tokens`]). A cache mark
//!   (top level, tool, system block or message block) whose prefix reaches the model's
//!   minimum ([`crate::cache::min_cacheable_tokens`]) writes the prefix to the fake's cache the
//!   first time (`cache_creation_input_tokens`) and reads it after (`cache_read_input_tokens`).

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{Map, Value, json};

use crate::cache::{estimate_tokens, min_cacheable_tokens};
use crate::sse;
use crate::types::{
    ContentBlock, ContentDelta, CountTokensRequest, ErrorObject, Message, MessageContent, MessageDelta,
    MessageDeltaUsage, MessageParam, MessagesRequest, OutputFormat, Role, StopReason, StreamEvent,
    SystemBlock, SystemPrompt, TextBlock, Tool, ToolChoice, ToolResultContent, ToolUseBlock, Usage,
};

/// The complete answer to a messages request.
pub(crate) fn answer(req: &MessagesRequest, id: &str, cache: &mut HashSet<u64>) -> Message {
    let (content, stop_reason, stop_sequence) = content(req, id);
    let output_chars: usize = content
        .iter()
        .map(|block| match block {
            ContentBlock::Text(t) => t.text.chars().count(),
            ContentBlock::ToolUse(t) => t.input.to_string().len(),
            _ => 0,
        })
        .sum();
    let usage = usage(req, estimate_tokens(output_chars).max(1), cache);
    Message {
        id: id.to_owned(),
        role: Role::Assistant,
        content,
        model: req.model.clone(),
        stop_reason: Some(stop_reason),
        stop_sequence,
        usage,
    }
}

/// Makes `message` answer `text` (a test's [`super::Responder`]): one text block, `end_turn`,
/// output tokens counted anew.
pub(crate) fn replace_text(message: &mut Message, text: String) {
    message.usage.output_tokens = estimate_tokens(text.chars().count()).max(1);
    message.content = vec![ContentBlock::text(text)];
    message.stop_reason = Some(StopReason::EndTurn);
    message.stop_sequence = None;
}

/// The token count of a count_tokens request.
pub(crate) fn count(req: &CountTokensRequest) -> u64 {
    let parts = prompt_parts(req.tools.as_deref(), req.system.as_ref(), &req.messages);
    estimate_tokens(parts.iter().map(|(text, _)| text.chars().count()).sum()).max(1)
}

fn content(req: &MessagesRequest, id: &str) -> (Vec<ContentBlock>, StopReason, Option<String>) {
    let calls = tool_calls(req, id);
    let forced = matches!(req.tool_choice, Some(ToolChoice::Any { .. } | ToolChoice::Tool { .. }));
    if forced && !calls.is_empty() {
        return (calls, StopReason::ToolUse, None);
    }
    let mut text = match req.output_config.as_ref().and_then(|c| c.format.as_ref()) {
        Some(OutputFormat::JsonSchema { schema }) => sample(schema, 0).to_string(),
        None => format!("echo: {}", last_user_text(req)),
    };
    if !calls.is_empty() {
        let mut content = vec![ContentBlock::text(text)];
        content.extend(calls);
        return (content, StopReason::ToolUse, None);
    }
    let mut stop = (StopReason::EndTurn, None);
    let first_stop = req
        .stop_sequences
        .iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()).map(|at| (at, s)))
        .min();
    if let Some((at, sequence)) = first_stop {
        text.truncate(at);
        stop = (StopReason::StopSequence, Some(sequence.clone()));
    }
    let max_chars = req.max_tokens as usize * 4;
    if text.chars().count() > max_chars {
        text = text.chars().take(max_chars).collect();
        stop = (StopReason::MaxTokens, None);
    }
    let content = if text.is_empty() { Vec::new() } else { vec![ContentBlock::text(text)] };
    (content, stop.0, stop.1)
}

/// The tool calls the fake makes: with `tool_choice` `tool`, the named tool; with `auto` (or
/// none given) the tools named in the last user turn's text blocks, in `tools` order, and with
/// `any` those or else the first tool; one call only with `disable_parallel_tool_use`.
/// Each call's input has its schema's shape; ids are `toolu_<serial>_<k>`.
fn tool_calls(req: &MessagesRequest, id: &str) -> Vec<ContentBlock> {
    let tools = req.tools.as_deref().unwrap_or_default();
    let custom = |t: &&Tool| t.kind.as_deref().is_none_or(|k| k == "custom");
    let last_user = req.messages.iter().rev().find(|m| m.role == Role::User);
    let asked = last_user.map(|m| m.content.text()).unwrap_or_default();
    let named: Vec<&Tool> = tools.iter().filter(custom).filter(|t| asked.contains(t.name.as_str())).collect();
    let (chosen, one) = match &req.tool_choice {
        Some(ToolChoice::None) => (Vec::new(), true),
        Some(ToolChoice::Tool { name, disable_parallel_tool_use }) => {
            (tools.iter().filter(|t| &t.name == name).collect(), disable_parallel_tool_use.unwrap_or(false))
        }
        Some(ToolChoice::Any { disable_parallel_tool_use }) => {
            let first = || tools.iter().find(custom).into_iter().collect();
            (if named.is_empty() { first() } else { named }, disable_parallel_tool_use.unwrap_or(false))
        }
        Some(ToolChoice::Auto { disable_parallel_tool_use }) => {
            (named, disable_parallel_tool_use.unwrap_or(false))
        }
        None => (named, false),
    };
    let serial = id.trim_start_matches("msg_");
    chosen
        .into_iter()
        .take(if one { 1 } else { usize::MAX })
        .enumerate()
        .map(|(k, tool)| {
            let input = tool.input_schema.as_ref().map_or_else(|| json!({}), |s| sample(s, 0));
            ContentBlock::ToolUse(ToolUseBlock::new(format!("toolu_{serial}_{k}"), tool.name.clone(), input))
        })
        .collect()
}

/// The text of the last user turn: its text blocks and its tool results' text, so that an
/// answer after a tool call echoes what the tool returned.
fn last_user_text(req: &MessagesRequest) -> String {
    let Some(last) = req.messages.iter().rev().find(|m| m.role == Role::User) else { return String::new() };
    match &last.content {
        MessageContent::Text(text) => text.clone(),
        MessageContent::Blocks(blocks) => blocks
            .iter()
            .map(|b| match b {
                ContentBlock::Text(t) => t.text.clone(),
                ContentBlock::ToolResult(r) => match &r.content {
                    Some(ToolResultContent::Text(text)) => text.clone(),
                    Some(ToolResultContent::Blocks(blocks)) => {
                        blocks.iter().filter_map(ContentBlock::as_text).collect()
                    }
                    None => String::new(),
                },
                _ => String::new(),
            })
            .collect(),
    }
}

/// A JSON value of the schema's shape: the first `enum`/`const`, `""`, `0`, `false`, `[]`,
/// an object with every property; `depth` stops runaway recursion.
fn sample(schema: &Value, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) => {
            types.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null")
        }
        _ if schema.get("properties").is_some() => "object",
        _ => "null",
    };
    match kind {
        "object" => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let object: Map<String, Value> =
                properties.into_iter().flatten().map(|(k, s)| (k.clone(), sample(s, depth + 1))).collect();
            Value::Object(object)
        }
        "array" => Value::Array(Vec::new()),
        "string" => Value::String(String::new()),
        "integer" | "number" => json!(0),
        "boolean" => Value::Bool(false),
        _ => Value::Null,
    }
}

/// The prompt in the order the API caches it (tools, system, messages), as text pieces with
/// whether each ends at a cache mark.
fn prompt_parts(
    tools: Option<&[Tool]>,
    system: Option<&SystemPrompt>,
    messages: &[MessageParam],
) -> Vec<(String, bool)> {
    let mut parts = Vec::new();
    for tool in tools.unwrap_or_default() {
        parts.push((serde_json::to_string(tool).unwrap_or_default(), tool.cache_control.is_some()));
    }
    match system {
        Some(SystemPrompt::Text(text)) => parts.push((text.clone(), false)),
        Some(SystemPrompt::Blocks(blocks)) => {
            for SystemBlock::Text(TextBlock { text, cache_control, .. }) in blocks {
                parts.push((text.clone(), cache_control.is_some()));
            }
        }
        None => {}
    }
    for message in messages {
        match &message.content {
            MessageContent::Text(text) => parts.push((text.clone(), false)),
            MessageContent::Blocks(blocks) => {
                for block in blocks {
                    let text = match block {
                        ContentBlock::Text(t) => t.text.clone(),
                        other => serde_json::to_string(other).unwrap_or_default(),
                    };
                    parts.push((text, block.cache_control().is_some()));
                }
            }
        }
    }
    parts
}

fn usage(req: &MessagesRequest, output_tokens: u64, cache: &mut HashSet<u64>) -> Usage {
    let parts = prompt_parts(req.tools.as_deref(), req.system.as_ref(), &req.messages);
    let total = estimate_tokens(parts.iter().map(|(text, _)| text.chars().count()).sum()).max(1);
    // The cached prefix ends at the last mark (the top-level mark: the whole prompt).
    let prefix_len = if req.cache_control.is_some() {
        parts.len()
    } else {
        parts.iter().rposition(|(_, marked)| *marked).map_or(0, |i| i + 1)
    };
    let prefix = &parts[..prefix_len];
    let prefix_tokens = estimate_tokens(prefix.iter().map(|(text, _)| text.chars().count()).sum());
    let mut usage = Usage {
        input_tokens: total,
        output_tokens,
        cache_creation_input_tokens: Some(0),
        cache_read_input_tokens: Some(0),
        service_tier: Some("standard".into()),
    };
    if prefix_len > 0 && prefix_tokens >= u64::from(min_cacheable_tokens(&req.model)) {
        let mut hasher = DefaultHasher::new();
        req.model.hash(&mut hasher);
        prefix.iter().for_each(|(text, _)| text.hash(&mut hasher));
        let slot = if cache.insert(hasher.finish()) {
            &mut usage.cache_creation_input_tokens
        } else {
            &mut usage.cache_read_input_tokens
        };
        *slot = Some(prefix_tokens);
        usage.input_tokens = total.saturating_sub(prefix_tokens);
    }
    usage
}

/// How a streamed answer ends.
pub(crate) enum StreamEnd {
    /// `message_delta` and `message_stop`.
    Complete,
    /// An `error` event after the first delta.
    Error(ErrorObject),
    /// A cut, unparseable event after `message_start`.
    Malformed,
}

/// The answer as the API streams it: `message_start`, per block start / `ping` (once) /
/// deltas / stop, `message_delta` with the cumulative usage, `message_stop`.
pub(crate) fn stream_body(message: &Message, end: StreamEnd) -> String {
    let mut start = message.clone();
    start.content = Vec::new();
    start.stop_reason = None;
    start.stop_sequence = None;
    start.usage.output_tokens = 1;
    let mut out = sse::encode(&StreamEvent::MessageStart { message: start });
    if matches!(end, StreamEnd::Malformed) {
        out.push_str(
            "event: content_block_start\ndata: {\"type\": \"content_block_start\", \"index\": 0,\n\n",
        );
        return out;
    }
    let mut events = Vec::new();
    for (index, block) in message.content.iter().enumerate() {
        let (shell, deltas) = match block {
            ContentBlock::ToolUse(call) => {
                let shell = ContentBlock::ToolUse(ToolUseBlock { input: json!({}), ..call.clone() });
                let json = call.input.to_string();
                let (a, b) =
                    json.split_at(json.char_indices().nth(json.chars().count() / 2).map_or(0, |(i, _)| i));
                let deltas = [a, b]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| ContentDelta::InputJsonDelta { partial_json: s.to_owned() })
                    .collect();
                (shell, deltas)
            }
            ContentBlock::Text(text) => {
                let deltas = text
                    .text
                    .split_inclusive(' ')
                    .map(|w| ContentDelta::TextDelta { text: w.to_owned() })
                    .collect();
                (ContentBlock::text(""), deltas)
            }
            other => (other.clone(), Vec::new()),
        };
        events.push(StreamEvent::ContentBlockStart { index, content_block: shell });
        if index == 0 {
            events.push(StreamEvent::Ping);
        }
        let mut deltas: Vec<ContentDelta> = deltas;
        if let StreamEnd::Error(error) = &end {
            deltas.truncate(1);
            events.extend(deltas.into_iter().map(|delta| StreamEvent::ContentBlockDelta { index, delta }));
            events.push(StreamEvent::Error { error: error.clone() });
            return out + &events.iter().map(sse::encode).collect::<String>();
        }
        events.extend(deltas.into_iter().map(|delta| StreamEvent::ContentBlockDelta { index, delta }));
        events.push(StreamEvent::ContentBlockStop { index });
    }
    if let StreamEnd::Error(error) = &end {
        events.push(StreamEvent::Error { error: error.clone() });
        return out + &events.iter().map(sse::encode).collect::<String>();
    }
    events.push(StreamEvent::MessageDelta {
        delta: MessageDelta {
            stop_reason: message.stop_reason.clone(),
            stop_sequence: message.stop_sequence.clone(),
        },
        usage: MessageDeltaUsage {
            output_tokens: message.usage.output_tokens,
            input_tokens: Some(message.usage.input_tokens),
            cache_creation_input_tokens: message.usage.cache_creation_input_tokens,
            cache_read_input_tokens: message.usage.cache_read_input_tokens,
        },
    });
    events.push(StreamEvent::MessageStop);
    out + &events.iter().map(sse::encode).collect::<String>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{CacheControl, OutputConfig};

    fn req(text: &str) -> MessagesRequest {
        MessagesRequest::new("claude-sonnet-4-5", 100, vec![MessageParam::user(text)])
    }

    #[test]
    fn the_answer_echoes_the_last_user_turn() {
        let msg = answer(&req("hello there"), "msg_1", &mut HashSet::new());
        assert_eq!(msg.text(), "echo: hello there");
        assert_eq!(msg.stop_reason, Some(StopReason::EndTurn));
        assert_eq!(msg.usage.input_tokens, 3, "11 chars / 4, rounded up");
        assert_eq!(msg.usage.output_tokens, 5, "17 chars / 4, rounded up");
    }

    #[test]
    fn stop_sequences_and_max_tokens_cut_the_text() {
        let mut r = req("one two three");
        r.stop_sequences = Some(vec!["three".into(), "two".into()]);
        let msg = answer(&r, "m", &mut HashSet::new());
        assert_eq!(msg.text(), "echo: one ");
        assert_eq!(msg.stop_sequence.as_deref(), Some("two"));
        let mut r = req("a long prompt indeed");
        r.max_tokens = 2;
        let msg = answer(&r, "m", &mut HashSet::new());
        assert_eq!(msg.text(), "echo: a ");
        assert_eq!(msg.stop_reason, Some(StopReason::MaxTokens));
    }

    #[test]
    fn structured_output_and_forced_tools_follow_the_schema() {
        let schema = json!({"type": "object", "properties": {"label": {"enum": ["spam", "ham"]},
            "score": {"type": "number"}, "tags": {"type": "array"}, "ok": {"type": ["null", "boolean"]}}});
        let mut r = req("classify");
        r.output_config = Some(OutputConfig {
            format: Some(OutputFormat::JsonSchema { schema: schema.clone() }),
            ..OutputConfig::default()
        });
        let text = answer(&r, "m", &mut HashSet::new()).text();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"label": "spam", "score": 0, "tags": [], "ok": false})
        );
        let mut r = req("call it");
        r.tools = Some(vec![Tool::custom("t", "d", schema)]);
        r.tool_choice = Some(ToolChoice::Any { disable_parallel_tool_use: None });
        let msg = answer(&r, "msg_7", &mut HashSet::new());
        assert_eq!(msg.stop_reason, Some(StopReason::ToolUse));
        assert!(matches!(&msg.content[0], ContentBlock::ToolUse(c) if c.name == "t" && c.id == "toolu_7_0"));
    }

    fn with_tools(text: &str, choice: Option<ToolChoice>) -> MessagesRequest {
        let mut r = req(text);
        let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}});
        r.tools = Some(vec![
            Tool::custom("weather", "d", schema),
            Tool::custom("time", "d", json!({"type": "object"})),
        ]);
        r.tool_choice = choice;
        r
    }

    fn calls(msg: &Message) -> Vec<(&str, &str)> {
        msg.content
            .iter()
            .filter_map(|b| match b {
                ContentBlock::ToolUse(c) => Some((c.id.as_str(), c.name.as_str())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn auto_calls_the_tools_the_user_names_after_a_text_block() {
        let msg = answer(&with_tools("weather and time please", None), "msg_3", &mut HashSet::new());
        assert_eq!(msg.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(msg.text(), "echo: weather and time please");
        assert_eq!(calls(&msg), [("toolu_3_0", "weather"), ("toolu_3_1", "time")]);
        assert!(matches!(&msg.content[1], ContentBlock::ToolUse(c) if c.input == json!({"city": ""})));

        let one = Some(ToolChoice::Auto { disable_parallel_tool_use: Some(true) });
        assert_eq!(
            calls(&answer(&with_tools("weather and time", one), "msg_4", &mut HashSet::new())).len(),
            1
        );
        let plain = answer(&with_tools("hello", None), "m", &mut HashSet::new());
        assert_eq!((plain.stop_reason.clone(), calls(&plain).len()), (Some(StopReason::EndTurn), 0));
        let none = answer(&with_tools("weather", Some(ToolChoice::None)), "m", &mut HashSet::new());
        assert_eq!(calls(&none).len(), 0);
        let any = answer(
            &with_tools("hello", Some(ToolChoice::Any { disable_parallel_tool_use: None })),
            "msg_5",
            &mut HashSet::new(),
        );
        assert_eq!(calls(&any), [("toolu_5_0", "weather")]);
        assert_eq!(any.content.len(), 1, "a forced call has no text before it");
    }

    #[test]
    fn the_answer_after_a_tool_call_echoes_its_result() {
        let mut r = with_tools("weather in Paris", None);
        let call = ToolUseBlock::new("toolu_1_0", "weather", json!({"city": "Paris"}));
        r.messages.push(MessageParam::assistant(MessageContent::Blocks(vec![ContentBlock::ToolUse(call)])));
        let result = crate::types::ToolResultBlock {
            tool_use_id: "toolu_1_0".into(),
            content: Some(ToolResultContent::Text("18C, sunny".into())),
            is_error: None,
            cache_control: None,
        };
        r.messages.push(MessageParam::user(MessageContent::Blocks(vec![ContentBlock::ToolResult(result)])));
        let msg = answer(&r, "m", &mut HashSet::new());
        assert_eq!(msg.text(), "echo: 18C, sunny");
        assert_eq!(msg.stop_reason, Some(StopReason::EndTurn), "a tool result names no tool: no new call");
    }

    #[test]
    fn a_streamed_tool_call_starts_empty_and_sends_its_input_as_json_fragments() {
        let msg = answer(&with_tools("weather", None), "msg_9", &mut HashSet::new());
        let body = stream_body(&msg, StreamEnd::Complete);
        let events: Vec<Value> = sse::SseDecoder::new()
            .push(body.as_bytes())
            .unwrap()
            .iter()
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect();
        let start = events.iter().find(|e| e["content_block"]["type"] == "tool_use").unwrap();
        assert_eq!(start["index"], 1, "after the text block");
        assert_eq!(
            start["content_block"],
            json!({"type": "tool_use", "id": "toolu_9_0", "name": "weather", "input": {}})
        );
        let fragments: Vec<&str> = events
            .iter()
            .filter(|e| e["delta"]["type"] == "input_json_delta")
            .map(|e| e["delta"]["partial_json"].as_str().unwrap())
            .collect();
        assert!(fragments.len() > 1, "{fragments:?}");
        assert_eq!(serde_json::from_str::<Value>(&fragments.concat()).unwrap(), json!({"city": ""}));
        let delta = events.iter().find(|e| e["type"] == "message_delta").unwrap();
        assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn a_marked_long_prefix_is_written_then_read() {
        let mut r = req("question");
        let mut block = TextBlock::new("s".repeat(8000));
        block.cache_control = Some(CacheControl::ephemeral());
        r.system = Some(SystemPrompt::Blocks(vec![SystemBlock::Text(block)]));
        let mut cache = HashSet::new();
        let first = answer(&r, "m", &mut cache).usage;
        assert_eq!((first.cache_creation_input_tokens, first.cache_read_input_tokens), (Some(2000), Some(0)));
        assert_eq!(first.input_tokens, 2, "question: 8 chars");
        let second = answer(&r, "m", &mut cache).usage;
        assert_eq!(
            (second.cache_creation_input_tokens, second.cache_read_input_tokens),
            (Some(0), Some(2000))
        );
        // Below the model's minimum: no caching.
        r.model = "claude-haiku-4-5".into();
        let small = answer(&r, "m", &mut cache).usage;
        assert_eq!((small.cache_creation_input_tokens, small.cache_read_input_tokens), (Some(0), Some(0)));
    }

    #[test]
    fn a_stream_carries_the_same_message() {
        let msg = answer(&req("stream me please"), "msg_s", &mut HashSet::new());
        let body = stream_body(&msg, StreamEnd::Complete);
        let events: Vec<StreamEvent> = sse::SseDecoder::new()
            .push(body.as_bytes())
            .unwrap()
            .iter()
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect();
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ContentBlockDelta { delta: ContentDelta::TextDelta { text }, .. } => {
                    Some(text.as_str())
                }
                _ => None,
            })
            .collect();
        assert_eq!(text, msg.text());
        assert!(matches!(events[2], StreamEvent::Ping));
        assert!(matches!(events.last(), Some(StreamEvent::MessageStop)));
        let delta_usage = events.iter().find_map(|e| match e {
            StreamEvent::MessageDelta { usage, .. } => Some(usage.clone()),
            _ => None,
        });
        assert_eq!(delta_usage.unwrap().output_tokens, msg.usage.output_tokens);
    }
}
