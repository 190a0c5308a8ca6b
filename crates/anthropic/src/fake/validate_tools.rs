//! The fake's checks of tools, `tool_choice` and tool turns, in the real API's words (its 400
//! `invalid_request_error` messages as clients report them):
//! - a custom tool (no `type`, or `custom`) has a `name` matching [`NAME_PATTERN`] and an
//!   `input_schema` that is an object with `type: "object"`; names are unique across `tools`
//!   (server tools included);
//! - `tool_choice.type` is `auto`, `any`, `tool` or `none`; a `tool` choice names one of
//!   `tools`; `any` and `tool` need tools;
//! - every `tool_use` id of an assistant turn is answered by a `tool_result` at the start of
//!   the next turn; every `tool_result` answers a `tool_use` of the turn just before; a
//!   `tool_use` block's `input` is an object.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::validate::Reject;

/// What a custom tool's name must match (the API's pattern).
pub(crate) const NAME_PATTERN: &str = "^[a-zA-Z0-9_-]{1,128}$";

/// The `tool_choice` types the API knows.
const CHOICE_TYPES: &[&str] = &["auto", "any", "tool", "none"];

/// Checks `tools`, `tool_choice` and the tool turns of `messages` in a request body whose
/// messages are otherwise valid.
pub(crate) fn check(object: &Map<String, Value>) -> Result<(), Reject> {
    let names = check_tools(object.get("tools"))?;
    check_tool_choice(object.get("tool_choice"), &names)?;
    match object.get("messages") {
        Some(Value::Array(messages)) => check_turns(messages),
        _ => Ok(()),
    }
}

/// Whether `name` matches [`NAME_PATTERN`].
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The tools' names, once each tool is checked.
fn check_tools(tools: Option<&Value>) -> Result<Vec<&str>, Reject> {
    let tools = match tools {
        None => return Ok(Vec::new()),
        Some(Value::Array(tools)) => tools,
        Some(_) => return Err(Reject::invalid("tools: Input should be a valid list")),
    };
    let mut names = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        let Some(tool) = tool.as_object() else {
            return Err(Reject::invalid(format!("tools.{i}: Input should be a valid dictionary")));
        };
        let name = tool.get("name").and_then(Value::as_str);
        if tool.get("type").and_then(Value::as_str).is_none_or(|t| t == "custom") {
            check_custom_tool(tool, name, &format!("tools.{i}.custom"))?;
        }
        names.extend(name);
    }
    let mut seen = HashSet::new();
    if !names.iter().all(|n| seen.insert(*n)) {
        return Err(Reject::invalid("tools: Tool names must be unique."));
    }
    Ok(names)
}

fn check_custom_tool(tool: &Map<String, Value>, name: Option<&str>, path: &str) -> Result<(), Reject> {
    match name {
        None => return Err(Reject::invalid(format!("{path}.name: Field required"))),
        Some(name) if !valid_name(name) => {
            return Err(Reject::invalid(format!(
                "{path}.name: String should match pattern '{NAME_PATTERN}'"
            )));
        }
        Some(_) => {}
    }
    match tool.get("input_schema") {
        None => Err(Reject::invalid(format!("{path}.input_schema: Field required"))),
        Some(Value::Object(schema)) => match schema.get("type") {
            None => Err(Reject::invalid(format!("{path}.input_schema.type: Field required"))),
            Some(t) if t != "object" => {
                Err(Reject::invalid(format!("{path}.input_schema.type: Input should be 'object'")))
            }
            Some(_) => Ok(()),
        },
        Some(_) => Err(Reject::invalid(format!("{path}.input_schema: Input should be a valid dictionary"))),
    }
}

fn check_tool_choice(choice: Option<&Value>, names: &[&str]) -> Result<(), Reject> {
    let Some(choice) = choice else { return Ok(()) };
    let Some(choice) = choice.as_object() else {
        return Err(Reject::invalid("tool_choice: Input should be a valid dictionary"));
    };
    let kind = match choice.get("type").and_then(Value::as_str) {
        None => return Err(Reject::invalid("tool_choice: Unable to extract tag using discriminator 'type'")),
        Some(k) if !CHOICE_TYPES.contains(&k) => {
            return Err(Reject::invalid(format!(
                "tool_choice: Input tag '{k}' found using 'type' does not match any of the expected tags: \
                 'auto', 'any', 'tool', 'none'"
            )));
        }
        Some(k) => k,
    };
    if choice.get("disable_parallel_tool_use").is_some_and(|v| !v.is_boolean()) {
        return Err(Reject::invalid(format!(
            "tool_choice.{kind}.disable_parallel_tool_use: Input should be a valid boolean"
        )));
    }
    if kind == "tool" {
        match choice.get("name").and_then(Value::as_str) {
            None => return Err(Reject::invalid("tool_choice.tool.name: Field required")),
            Some(name) if !names.contains(&name) => {
                return Err(Reject::invalid(format!("tool_choice.name: tool '{name}' is not in tools")));
            }
            Some(_) => {}
        }
    }
    if matches!(kind, "any" | "tool") && names.is_empty() {
        return Err(Reject::invalid("tool_choice: requires tools"));
    }
    Ok(())
}

/// The blocks of a message's `content` (none for a string).
fn blocks(message: &Value) -> &[Value] {
    message.get("content").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn block_type(block: &Value) -> Option<&str> {
    block.get("type").and_then(Value::as_str)
}

/// Each turn's `tool_result` blocks answer the previous turn's `tool_use` blocks, first thing.
fn check_turns(messages: &[Value]) -> Result<(), Reject> {
    // The tool_use ids of the assistant turn just before, and its index.
    let mut open: Vec<&str> = Vec::new();
    let mut open_at = 0;
    for (i, message) in messages.iter().enumerate() {
        let blocks = blocks(message);
        for (k, block) in blocks.iter().enumerate() {
            if block_type(block) == Some("tool_result") {
                let id = block.get("tool_use_id").and_then(Value::as_str).unwrap_or_default();
                if !open.contains(&id) {
                    return Err(Reject::invalid(format!(
                        "messages.{i}.content.{k}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. \
                         Each `tool_result` block must have a corresponding `tool_use` block in the previous \
                         message."
                    )));
                }
            }
        }
        let answered: Vec<&str> = blocks
            .iter()
            .take_while(|b| block_type(b) == Some("tool_result"))
            .filter_map(|b| b.get("tool_use_id").and_then(Value::as_str))
            .collect();
        unanswered(&open, &answered, open_at)?;
        open.clear();
        if message.get("role").and_then(Value::as_str) == Some("assistant") {
            for (k, block) in blocks.iter().enumerate().filter(|(_, b)| block_type(b) == Some("tool_use")) {
                if !block.get("input").is_some_and(Value::is_object) {
                    return Err(Reject::invalid(format!(
                        "messages.{i}.content.{k}.tool_use.input: Input should be a valid dictionary"
                    )));
                }
                open.extend(block.get("id").and_then(Value::as_str));
            }
            open_at = i;
        }
    }
    unanswered(&open, &[], open_at)
}

/// The API's error for `tool_use` ids of turn `at` that `answered` leaves without a result.
fn unanswered(open: &[&str], answered: &[&str], at: usize) -> Result<(), Reject> {
    let missing: Vec<&str> = open.iter().copied().filter(|id| !answered.contains(id)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Reject::invalid(format!(
        "messages.{at}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each \
         `tool_use` block must have a corresponding `tool_result` block in the next message.",
        missing.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn message(v: Value) -> String {
        check(&body(v)).unwrap_err().message
    }

    fn tool(name: &str) -> Value {
        json!({"name": name, "description": "d", "input_schema": {"type": "object"}})
    }

    fn turns(messages: Value) -> Value {
        json!({"tools": [tool("calc")], "messages": messages})
    }

    #[test]
    fn tool_definitions_are_checked_as_the_api_does() {
        assert!(
            check(&body(json!({"tools": [tool("get_weather-2"), {"type": "web_search_20250305",
            "name": "web_search", "max_uses": 3}]})))
            .is_ok()
        );
        assert_eq!(
            message(json!({"tools": [tool("calc"), tool("a.b")]})),
            "tools.1.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'"
        );
        assert!(!valid_name(&"x".repeat(129)) && valid_name(&"x".repeat(128)) && !valid_name(""));
        assert_eq!(
            message(json!({"tools": [{"name": "t", "input_schema": {"properties": {}}}]})),
            "tools.0.custom.input_schema.type: Field required"
        );
        assert_eq!(
            message(json!({"tools": [{"name": "t", "type": "custom", "input_schema": {"type": "array"}}]})),
            "tools.0.custom.input_schema.type: Input should be 'object'"
        );
        assert_eq!(message(json!({"tools": [{"name": "t"}]})), "tools.0.custom.input_schema: Field required");
        assert_eq!(message(json!({"tools": [tool("t"), tool("t")]})), "tools: Tool names must be unique.");
    }

    #[test]
    fn tool_choice_is_checked_against_the_tools() {
        for choice in [
            json!({"type": "auto"}),
            json!({"type": "none"}),
            json!({"type": "any"}),
            json!({"type": "tool", "name": "calc", "disable_parallel_tool_use": true}),
        ] {
            assert!(check(&body(json!({"tools": [tool("calc")], "tool_choice": choice}))).is_ok());
        }
        assert!(
            message(json!({"tools": [tool("calc")], "tool_choice": {"type": "required"}}))
                .starts_with("tool_choice: Input tag 'required' found using 'type'")
        );
        assert_eq!(
            message(json!({"tools": [tool("calc")], "tool_choice": {"type": "tool", "name": "other"}})),
            "tool_choice.name: tool 'other' is not in tools"
        );
        assert_eq!(
            message(json!({"tools": [tool("calc")], "tool_choice": {"type": "tool"}})),
            "tool_choice.tool.name: Field required"
        );
        assert_eq!(message(json!({"tool_choice": {"type": "any"}})), "tool_choice: requires tools");
        assert_eq!(
            message(json!({"tools": [tool("calc")],
                "tool_choice": {"type": "auto", "disable_parallel_tool_use": "yes"}})),
            "tool_choice.auto.disable_parallel_tool_use: Input should be a valid boolean"
        );
    }

    #[test]
    fn each_tool_use_is_answered_first_thing_in_the_next_turn() {
        let call = |id: &str| json!({"type": "tool_use", "id": id, "name": "calc", "input": {"x": 1}});
        let result = |id: &str| json!({"type": "tool_result", "tool_use_id": id, "content": "2"});
        let ok = turns(json!([
            {"role": "user", "content": "add"},
            {"role": "assistant", "content": [{"type": "text", "text": "Sure."}, call("t1"), call("t2")]},
            {"role": "user", "content": [result("t2"), result("t1"), {"type": "text", "text": "thanks"}]},
        ]));
        assert!(check(&body(ok)).is_ok());

        let stray = turns(json!([
            {"role": "user", "content": "add"},
            {"role": "assistant", "content": [call("t1")]},
            {"role": "user", "content": [result("t1"), result("t9")]},
        ]));
        assert_eq!(
            message(stray),
            "messages.2.content.1: unexpected `tool_use_id` found in `tool_result` blocks: t9. Each \
             `tool_result` block must have a corresponding `tool_use` block in the previous message."
        );
        let late = turns(json!([
            {"role": "user", "content": "add"},
            {"role": "assistant", "content": [call("t1"), call("t2")]},
            {"role": "user", "content": [result("t1"), {"type": "text", "text": "and"}, result("t2")]},
        ]));
        assert_eq!(
            message(late),
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: t2. Each \
             `tool_use` block must have a corresponding `tool_result` block in the next message."
        );
        let unanswered = turns(json!([
            {"role": "user", "content": "add"},
            {"role": "assistant", "content": [call("t1")]},
            {"role": "user", "content": "never mind"},
        ]));
        assert!(message(unanswered).starts_with("messages.1: `tool_use` ids were found without"));
        let last = turns(
            json!([{"role": "user", "content": "add"}, {"role": "assistant", "content": [call("t1")]}]),
        );
        assert!(message(last).starts_with("messages.1: `tool_use` ids were found without"));
        let no_call = turns(json!([{"role": "user", "content": [result("t1")]}]));
        assert!(message(no_call).starts_with("messages.0.content.0: unexpected `tool_use_id`"));
        let bad_input = turns(json!([
            {"role": "user", "content": "add"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "calc", "input": "[1]"}]},
            {"role": "user", "content": [result("t1")]},
        ]));
        assert_eq!(
            message(bad_input),
            "messages.1.content.0.tool_use.input: Input should be a valid dictionary"
        );
    }
}
