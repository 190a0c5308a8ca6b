//! Tool calling across the OpenAI ↔ Anthropic translation (`translate.rs`).
//!
//! Out: function tools become custom tools (`parameters` → `input_schema`, `{"type":
//! "object"}` when absent; `strict` kept); `tool_choice` `auto`/`none`/`required`/a named
//! function becomes `auto`/`none`/`any`/`tool`, and `parallel_tool_calls: false` its
//! `disable_parallel_tool_use: true`; an assistant message's `tool_calls` become `tool_use`
//! blocks (the `arguments` text parsed: it must be a JSON object) and a `tool` message a
//! `tool_result` block answering `tool_call_id`.
//!
//! Back: `tool_use` blocks become `message.tool_calls` (`arguments` the input as compact
//! JSON text) and, streamed, `delta.tool_calls` chunks ([`ToolCallDeltas`]) numbered by tool
//! call, not by content block, as OpenAI's `ChoiceDeltaToolCall.index` is.

use hearth_anthropic::types::{
    ContentBlock, Message, Tool, ToolChoice, ToolResultBlock, ToolResultContent, ToolUseBlock,
};
use serde_json::{Map, Value, json};

use super::translate::content_text;
use crate::ApiError;

/// The request's function tools as Anthropic tools; `None` when it has none.
pub(crate) fn tools(body: &Value) -> Result<Option<Vec<Tool>>, ApiError> {
    let tools = match body.get("tools") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(tools)) if tools.is_empty() => return Ok(None),
        Some(Value::Array(tools)) => tools,
        Some(_) => {
            return Err(ApiError::invalid(Some("tools"), "`tools` must be an array of function tools"));
        }
    };
    tools.iter().enumerate().map(|(i, t)| tool(t, i)).collect::<Result<Vec<_>, _>>().map(Some)
}

fn tool(t: &Value, i: usize) -> Result<Tool, ApiError> {
    let kind = t.get("type").and_then(Value::as_str);
    if kind.is_some_and(|k| k != "function") {
        return Err(ApiError::invalid(
            Some(&format!("tools[{i}].type")),
            format!("tool type {kind:?} cannot be sent to Claude: only `function` tools can"),
        ));
    }
    let f = t.get("function").unwrap_or(&Value::Null);
    let Some(name) = f.get("name").and_then(Value::as_str) else {
        return Err(ApiError::invalid(
            Some(&format!("tools[{i}].function.name")),
            "a function tool needs `function.name`",
        ));
    };
    let schema = f.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    let mut tool = Tool::custom(name, "", schema);
    tool.description = f.get("description").and_then(Value::as_str).map(str::to_owned);
    if let Some(strict) = f.get("strict").filter(|s| s.is_boolean()) {
        tool.extra.insert("strict".to_owned(), strict.clone());
    }
    Ok(tool)
}

/// Anthropic's `tool_choice` for the request's `tool_choice` and `parallel_tool_calls`;
/// `None` when the request has no tools or leaves both at their defaults.
pub(crate) fn tool_choice(body: &Value) -> Result<Option<ToolChoice>, ApiError> {
    let has_tools = body.get("tools").and_then(Value::as_array).is_some_and(|t| !t.is_empty());
    if !has_tools {
        return Ok(None);
    }
    let one = (body.get("parallel_tool_calls") == Some(&Value::Bool(false))).then_some(true);
    let bad = |what: &str| {
        ApiError::invalid(
            Some("tool_choice"),
            format!(
                "{what}: expected \"auto\", \"none\", \"required\" or {{\"type\": \"function\", \"function\": \
                 {{\"name\": ...}}}}"
            ),
        )
    };
    let choice = match body.get("tool_choice") {
        None | Some(Value::Null) => one.map(|_| ToolChoice::Auto { disable_parallel_tool_use: one }),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Some(ToolChoice::Auto { disable_parallel_tool_use: one }),
            "required" => Some(ToolChoice::Any { disable_parallel_tool_use: one }),
            "none" => Some(ToolChoice::None),
            other => return Err(bad(&format!("unknown tool_choice {other:?}"))),
        },
        Some(Value::Object(o)) if o.get("type").and_then(Value::as_str) == Some("function") => {
            let Some(name) = o.get("function").and_then(|f| f.get("name")).and_then(Value::as_str) else {
                return Err(bad("a function tool_choice needs `function.name`"));
            };
            Some(ToolChoice::Tool { name: name.to_owned(), disable_parallel_tool_use: one })
        }
        Some(other) => return Err(bad(&format!("tool_choice {other} cannot be sent to Claude"))),
    };
    Ok(choice)
}

/// The `tool_use` blocks of assistant message `i`'s `tool_calls`.
pub(crate) fn tool_use_blocks(message: &Value, i: usize) -> Result<Vec<ContentBlock>, ApiError> {
    let Some(calls) = message.get("tool_calls").filter(|c| !c.is_null()) else { return Ok(Vec::new()) };
    let Some(calls) = calls.as_array() else {
        return Err(ApiError::invalid(
            Some(&format!("messages[{i}].tool_calls")),
            "`tool_calls` must be an array",
        ));
    };
    let mut blocks = Vec::with_capacity(calls.len());
    for (j, call) in calls.iter().enumerate() {
        let param = |field: &str| format!("messages[{i}].tool_calls[{j}].{field}");
        if let Some(kind) = call.get("type").and_then(Value::as_str).filter(|k| *k != "function") {
            return Err(ApiError::invalid(
                Some(&param("type")),
                format!("tool call type {kind:?} cannot be sent to Claude: only `function` calls can"),
            ));
        }
        let Some(id) = call.get("id").and_then(Value::as_str) else {
            return Err(ApiError::invalid(Some(&param("id")), "a tool call needs its `id`"));
        };
        let Some(name) = call.pointer("/function/name").and_then(Value::as_str) else {
            return Err(ApiError::invalid(
                Some(&param("function.name")),
                "a tool call needs `function.name`",
            ));
        };
        let arguments = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or("");
        let input = parse_arguments(arguments)
            .map_err(|e| ApiError::invalid(Some(&param("function.arguments")), e))?;
        blocks.push(ContentBlock::ToolUse(ToolUseBlock::new(id, name, input)));
    }
    Ok(blocks)
}

/// A call's `arguments` text as the JSON object Claude takes (`""`: no arguments).
fn parse_arguments(arguments: &str) -> Result<Value, String> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(format!(
            "the arguments must be a JSON object (as the model wrote them), not {other}; send the tool call's \
             `arguments` unchanged"
        )),
        Err(e) => Err(format!(
            "the arguments are not JSON ({e}); send the tool call's `arguments` as the model wrote them"
        )),
    }
}

/// Tool message `i` as a `tool_result` block.
pub(crate) fn tool_result_block(message: &Value, i: usize) -> Result<ContentBlock, ApiError> {
    let Some(id) = message.get("tool_call_id").and_then(Value::as_str) else {
        return Err(ApiError::invalid(
            Some(&format!("messages[{i}].tool_call_id")),
            "a tool message needs the `tool_call_id` of the call it answers",
        ));
    };
    let text = content_text(message.get("content"));
    Ok(ContentBlock::ToolResult(ToolResultBlock {
        tool_use_id: id.to_owned(),
        content: (!text.is_empty()).then_some(ToolResultContent::Text(text)),
        is_error: None,
        cache_control: None,
    }))
}

/// `message.tool_calls` of a completion: one entry per `tool_use` block of `msg`.
pub(crate) fn tool_calls(msg: &Message) -> Vec<Value> {
    msg.content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::ToolUse(call) => Some(json!({
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.input.to_string()},
            })),
            _ => None,
        })
        .collect()
}

/// Numbers a stream's tool calls and writes their `delta.tool_calls`.
#[derive(Debug, Default)]
pub(crate) struct ToolCallDeltas {
    /// The content-block index of each tool call so far, in order.
    blocks: Vec<usize>,
}

impl ToolCallDeltas {
    /// Tool calls so far.
    pub fn count(&self) -> usize {
        self.blocks.len()
    }

    /// The delta opening the tool call that content block `block` starts: its index, id,
    /// name and the arguments so far (`""`; the input, if the start already carries one).
    pub fn start(&mut self, block: usize, call: &ToolUseBlock) -> Value {
        let index = self.blocks.len();
        self.blocks.push(block);
        let empty = call.input.as_object().is_some_and(Map::is_empty);
        let arguments = if empty { String::new() } else { call.input.to_string() };
        json!({"tool_calls": [{
            "index": index, "id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": arguments},
        }]})
    }

    /// The delta adding `partial_json` to the arguments of the tool call in content block
    /// `block`; `None` when that block is no tool call.
    pub fn arguments(&self, block: usize, partial_json: &str) -> Option<Value> {
        let index = self.blocks.iter().position(|b| *b == block)?;
        Some(json!({"tool_calls": [{"index": index, "function": {"arguments": partial_json}}]}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_tools_become_custom_tools() {
        let body = json!({"tools": [
            {"type": "function", "function": {"name": "get_weather", "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": true}},
            {"type": "function", "function": {"name": "now"}},
        ]});
        let v = serde_json::to_value(tools(&body).unwrap().unwrap()).unwrap();
        assert_eq!(
            v,
            json!([
                {"name": "get_weather", "description": "Weather", "strict": true,
                 "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
                {"name": "now", "input_schema": {"type": "object", "properties": {}}},
            ])
        );
        assert_eq!(tools(&json!({"tools": []})).unwrap(), None);
        let e = tools(&json!({"tools": [{"type": "custom", "custom": {"name": "x"}}]})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tools[0].type"));
        let e = tools(&json!({"tools": [{"type": "function", "function": {}}]})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tools[0].function.name"));
    }

    #[test]
    fn tool_choice_and_parallel_calls_map_to_anthropics_choice() {
        let tools = json!([{"type": "function", "function": {"name": "f"}}]);
        let choice = |c: Value, parallel: Option<bool>| {
            let mut body = json!({"tools": tools, "tool_choice": c});
            if let Some(p) = parallel {
                body["parallel_tool_calls"] = json!(p);
            }
            tool_choice(&body).map(|c| serde_json::to_value(c).unwrap())
        };
        assert_eq!(choice(json!("auto"), None).unwrap(), json!({"type": "auto"}));
        assert_eq!(choice(json!("none"), Some(false)).unwrap(), json!({"type": "none"}));
        assert_eq!(
            choice(json!("required"), Some(false)).unwrap(),
            json!({"type": "any", "disable_parallel_tool_use": true})
        );
        assert_eq!(
            choice(json!({"type": "function", "function": {"name": "f"}}), Some(true)).unwrap(),
            json!({"type": "tool", "name": "f"})
        );
        assert_eq!(
            choice(Value::Null, Some(false)).unwrap(),
            json!({"type": "auto", "disable_parallel_tool_use": true})
        );
        assert_eq!(choice(Value::Null, None).unwrap(), Value::Null);
        assert_eq!(choice(json!("sometimes"), None).unwrap_err().param.as_deref(), Some("tool_choice"));
        assert_eq!(
            choice(json!({"type": "allowed_tools"}), None).unwrap_err().param.as_deref(),
            Some("tool_choice")
        );
        assert_eq!(tool_choice(&json!({"tool_choice": "required"})).unwrap(), None, "no tools, no choice");
    }

    #[test]
    fn tool_calls_become_tool_use_blocks_with_parsed_arguments() {
        let message = json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": [1, 2]}"}},
            {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": ""}},
        ]});
        let v = serde_json::to_value(tool_use_blocks(&message, 3).unwrap()).unwrap();
        assert_eq!(
            v,
            json!([
                {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": [1, 2]}},
                {"type": "tool_use", "id": "call_2", "name": "g", "input": {}},
            ])
        );
        for bad in ["{\"a\": ", "[1]"] {
            let message = json!({"tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "d", "type": "function", "function": {"name": "f", "arguments": bad}}]});
            let e = tool_use_blocks(&message, 2).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("messages[2].tool_calls[1].function.arguments"), "{bad}");
        }
    }

    #[test]
    fn a_tool_message_answers_its_call() {
        let m =
            json!({"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "18C"}]});
        assert_eq!(
            serde_json::to_value(tool_result_block(&m, 4).unwrap()).unwrap(),
            json!({"type": "tool_result", "tool_use_id": "call_1", "content": "18C"})
        );
        let e = tool_result_block(&json!({"role": "tool", "content": "x"}), 4).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[4].tool_call_id"));
    }

    #[test]
    fn stream_deltas_number_tool_calls_not_blocks() {
        let call = |id: &str| ToolUseBlock::new(id, "f", json!({}));
        let mut d = ToolCallDeltas::default();
        assert_eq!(d.arguments(0, "x"), None, "block 0 is text");
        assert_eq!(
            d.start(1, &call("toolu_a")),
            json!({"tool_calls": [{"index": 0, "id": "toolu_a", "type": "function",
                "function": {"name": "f", "arguments": ""}}]})
        );
        assert_eq!(d.start(2, &call("toolu_b"))["tool_calls"][0]["index"], 1);
        assert_eq!(
            d.arguments(2, "{\"a\""),
            Some(json!({"tool_calls": [{"index": 1, "function": {"arguments": "{\"a\""}}]}))
        );
        assert_eq!(d.count(), 2);
    }
}
