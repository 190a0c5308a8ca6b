//! Messages and tool definitions as llama.cpp hands them to a Jinja template
//! (`common/chat.cpp`: `common_chat_msg::to_json_oaicompat`,
//! `common_chat_tools_parse_oaicompat` + `common_chat_tools_to_json_oaicompat`, and the
//! `func_args_not_string` workaround), so that a render is byte-exact with llama.cpp's.
//!
//! - A message is `{role, content}` (`content` always a string, `""` when empty), then
//!   `name`, `tool_call_id` and `tool_calls` when set, in that key order. Each call is
//!   `{type: "function", function: {name, arguments}, id}` (`id` left out when empty).
//! - `arguments` is the JSON string, except for templates that read into the arguments
//!   object ([`ToolCaps::supports_object_arguments`], e.g. Qwen2.5's
//!   `tool_call.arguments | tojson`): those get it parsed, so it prints as an object.
//! - A tool definition is rebuilt as `{type: "function", function: {name, description,
//!   parameters}}`: `description` defaults to `""`, `parameters` to `{}`, other keys
//!   (`strict`, ...) are dropped; key order inside `parameters` is the caller's.

use serde_json::{Map, Value, json};

use crate::caps::ToolCaps;
use crate::error::ChatError;
use crate::message::Message;

/// The `messages` variable for a template with capabilities `caps`.
pub(crate) fn template_messages(messages: &[Message], caps: &ToolCaps) -> Result<Vec<Value>, ChatError> {
    messages.iter().map(|m| template_message(m, caps.supports_object_arguments)).collect()
}

/// One message in llama.cpp's layout; `object_arguments` parses each call's arguments.
pub(crate) fn template_message(m: &Message, object_arguments: bool) -> Result<Value, ChatError> {
    let mut out = Map::new();
    out.insert("role".into(), Value::String(m.role.clone()));
    out.insert("content".into(), Value::String(m.content.clone()));
    if let Some(name) = m.name.as_ref().filter(|n| !n.is_empty()) {
        out.insert("name".into(), Value::String(name.clone()));
    }
    if let Some(id) = m.tool_call_id.as_ref().filter(|id| !id.is_empty()) {
        out.insert("tool_call_id".into(), Value::String(id.clone()));
    }
    if !m.tool_calls.is_empty() {
        let mut calls = Vec::with_capacity(m.tool_calls.len());
        for call in &m.tool_calls {
            let arguments = if object_arguments {
                parse_arguments(&call.function.name, &call.function.arguments)?
            } else {
                Value::String(call.function.arguments.clone())
            };
            let mut c = Map::new();
            c.insert("type".into(), Value::String("function".into()));
            c.insert("function".into(), json!({"name": call.function.name, "arguments": arguments}));
            if !call.id.is_empty() {
                c.insert("id".into(), Value::String(call.id.clone()));
            }
            calls.push(Value::Object(c));
        }
        out.insert("tool_calls".into(), Value::Array(calls));
    }
    Ok(Value::Object(out))
}

/// A call's arguments text as a JSON value.
pub(crate) fn parse_arguments(name: &str, arguments: &str) -> Result<Value, ChatError> {
    serde_json::from_str(arguments)
        .map_err(|e| ChatError::ToolArguments { name: name.to_owned(), detail: e.to_string() })
}

/// The `tools` variable: `None` when there are none (the template then sees `none`).
pub(crate) fn template_tools(tools: Option<&[Value]>) -> Result<Option<Vec<Value>>, ChatError> {
    let Some(tools) = tools.filter(|t| !t.is_empty()) else { return Ok(None) };
    tools.iter().enumerate().map(|(i, t)| normalize_tool(i, t)).collect::<Result<Vec<_>, _>>().map(Some)
}

/// One OpenAI tool definition, checked and rebuilt as llama.cpp rebuilds it.
fn normalize_tool(index: usize, tool: &Value) -> Result<Value, ChatError> {
    let bad = |detail: &str| ChatError::InvalidTool { index, detail: detail.to_owned() };
    let obj = tool.as_object().ok_or_else(|| bad("a tool must be an object"))?;
    match obj.get("type") {
        Some(Value::String(t)) if t == "function" => {}
        Some(_) => return Err(bad("only tools of type \"function\" are supported")),
        None => return Err(bad("missing \"type\" (expected \"function\")")),
    }
    let function =
        obj.get("function").and_then(Value::as_object).ok_or_else(|| bad("missing \"function\" object"))?;
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("missing \"function.name\" string"))?;
    let description = match function.get("description") {
        None => "",
        Some(Value::String(d)) => d,
        Some(_) => return Err(bad("\"function.description\" must be a string")),
    };
    let parameters = match function.get("parameters") {
        None => Value::Object(Map::new()),
        Some(p @ Value::Object(_)) => p.clone(),
        Some(_) => return Err(bad("\"function.parameters\" must be a JSON Schema object")),
    };
    Ok(json!({
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ToolCall;

    fn call() -> Message {
        Message::assistant_tool_calls("", vec![ToolCall::function("c1", "add", r#"{"a": 1, "b": 2}"#)])
    }

    #[test]
    fn tool_calls_use_llama_cpp_key_order_and_string_arguments() {
        let v = template_message(&call(), false).unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"role":"assistant","content":"","tool_calls":[{"type":"function","function":{"name":"add","arguments":"{\"a\": 1, \"b\": 2}"},"id":"c1"}]}"#
        );
    }

    #[test]
    fn object_arguments_are_parsed_in_order() {
        let v = template_message(&call(), true).unwrap();
        assert_eq!(v["tool_calls"][0]["function"]["arguments"].to_string(), r#"{"a":1,"b":2}"#);
    }

    #[test]
    fn bad_arguments_are_a_typed_error_when_parsed() {
        let m = Message::assistant_tool_calls("", vec![ToolCall::function("", "f", "{oops")]);
        assert!(template_message(&m, false).is_ok());
        assert!(
            matches!(template_message(&m, true), Err(ChatError::ToolArguments { name, .. }) if name == "f")
        );
    }

    #[test]
    fn tool_message_carries_name_and_call_id() {
        let v = template_message(&Message::tool("c1", "3").with_name("add"), false).unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"role":"tool","content":"3","name":"add","tool_call_id":"c1"}"#
        );
    }

    #[test]
    fn tools_are_rebuilt_with_defaults() {
        let t = json!({"type": "function", "function": {"name": "now", "strict": true}});
        let got = template_tools(Some(&[t])).unwrap().unwrap();
        assert_eq!(
            serde_json::to_string(&got[0]).unwrap(),
            r#"{"type":"function","function":{"name":"now","description":"","parameters":{}}}"#
        );
        assert_eq!(template_tools(Some(&[])).unwrap(), None);
        assert_eq!(template_tools(None).unwrap(), None);
    }

    #[test]
    fn malformed_tools_name_their_index() {
        for bad in [
            json!("f"),
            json!({"function": {"name": "f"}}),
            json!({"type": "retrieval"}),
            json!({"type": "function"}),
            json!({"type": "function", "function": {"description": "x"}}),
            json!({"type": "function", "function": {"name": "f", "parameters": "x"}}),
        ] {
            let ok = json!({"type": "function", "function": {"name": "ok"}});
            let err = template_tools(Some(&[ok, bad.clone()])).unwrap_err();
            assert!(matches!(err, ChatError::InvalidTool { index: 1, .. }), "{bad}: {err}");
        }
    }
}
