//! The tool fallback for templates that do not render tools: the conversation is rewritten
//! so that tool definitions, calls and results reach the model as text, following minja's
//! polyfills (`google/minja`, `include/minja/chat-template.hpp`, `chat_template::apply`),
//! which llama.cpp used before its own Jinja engine replaced minja.
//!
//! The pinned llama.cpp (October 2026) has no fallback: a template that ignores `tools` or
//! `tool_calls` simply drops them. [`crate::RenderOptions::tool_fallback`] opts into this
//! rewrite instead; it applies only to the parts the template lacks
//! ([`crate::ToolCaps`]):
//!
//! - tools, when the template does not print them: a system message (merged into a leading
//!   one after a blank line) saying `You can call any of the following tools to satisfy the
//!   user's requests: ` + the tool list as indented JSON, followed by
//!   `\n\nExample tool call syntax:\n\n{example}\n\n` where `{example}` is what this
//!   template renders for a sample call (found by rendering with and without it, as minja
//!   does);
//! - tool calls, when the template does not render them: the assistant text becomes
//!   `{"tool_calls": [{"name", "arguments" (an object), "id"}], "content"}` as indented
//!   JSON (`content` only when non-empty);
//! - tool results, in the same case: a `user` turn whose text is
//!   `{"tool_response": {"tool" (the name), "content", "tool_call_id"}}` as indented JSON.
//!
//! JSON is written as `json.dumps(x, indent=2, ensure_ascii=False)` writes it (nlohmann's
//! `dump(2)`, which minja used, is the same for non-empty containers).

use serde_json::{Map, Value, json};

use crate::caps::ToolCaps;
use crate::error::ChatError;
use crate::message::Message;
use crate::tojson::{JsonStyle, to_python_json};
use crate::tools::{parse_arguments, template_message};

/// Which rewrites a conversation needs under `caps`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Describe the tools in the system prompt.
    pub tools: bool,
    /// Write tool calls and tool results as JSON text.
    pub calls: bool,
}

impl Plan {
    /// The rewrites `messages` + `has_tools` need on a template with `caps`.
    pub(crate) fn new(caps: &ToolCaps, messages: &[Message], has_tools: bool) -> Plan {
        let has_calls = messages.iter().any(|m| !m.tool_calls.is_empty() || m.role == "tool");
        Plan { tools: has_tools && !caps.supports_tools, calls: has_calls && !caps.supports_tool_calls }
    }

    /// Nothing to rewrite.
    pub(crate) fn is_empty(self) -> bool {
        !self.tools && !self.calls
    }
}

/// The messages, rewritten by `plan`, in the layout templates get ([`template_message`]).
/// `tools` is the normalized tool list; `example` the template's rendering of a sample
/// call (see [`example_call`]), if one was found.
pub(crate) fn rewrite(
    messages: &[Message],
    caps: &ToolCaps,
    plan: Plan,
    tools: &[Value],
    example: Option<&str>,
) -> Result<Vec<Value>, ChatError> {
    let mut out = Vec::with_capacity(messages.len() + 1);
    for m in messages {
        let mut v = template_message(m, caps.supports_object_arguments && !plan.calls)?;
        if plan.calls && !m.tool_calls.is_empty() {
            v["content"] = Value::String(calls_text(m)?);
            if let Some(obj) = v.as_object_mut() {
                obj.remove("tool_calls");
            }
        }
        if plan.calls && m.role == "tool" {
            v["role"] = Value::String("user".into());
            v["content"] = Value::String(tool_result(m));
            if let Some(obj) = v.as_object_mut() {
                obj.remove("name");
            }
        }
        out.push(v);
    }
    if plan.tools {
        let mut text = format!(
            "You can call any of the following tools to satisfy the user's requests: {}",
            dump(&Value::Array(tools.to_vec()))
        );
        if let Some(example) = example {
            text.push_str(&format!("\n\nExample tool call syntax:\n\n{example}\n\n"));
        }
        match out.first_mut() {
            Some(first) if first["role"] == "system" => {
                let existing = first["content"].as_str().unwrap_or_default();
                *first = json!({"role": "system", "content": format!("{existing}\n\n{text}")});
            }
            _ => out.insert(0, json!({"role": "system", "content": text})),
        }
    }
    Ok(out)
}

/// An assistant turn's calls (and text) as minja's JSON.
fn calls_text(m: &Message) -> Result<String, ChatError> {
    let mut calls = Vec::with_capacity(m.tool_calls.len());
    for call in &m.tool_calls {
        let mut c = Map::new();
        c.insert("name".into(), Value::String(call.function.name.clone()));
        // minja keeps a string it cannot parse as it is.
        let arguments = parse_arguments(&call.function.name, &call.function.arguments)
            .unwrap_or_else(|_| Value::String(call.function.arguments.clone()));
        c.insert("arguments".into(), arguments);
        if !call.id.is_empty() {
            c.insert("id".into(), Value::String(call.id.clone()));
        }
        calls.push(Value::Object(c));
    }
    let mut obj = Map::new();
    obj.insert("tool_calls".into(), Value::Array(calls));
    if !m.content.is_empty() {
        obj.insert("content".into(), Value::String(m.content.clone()));
    }
    Ok(dump(&Value::Object(obj)))
}

/// A `tool` turn's text as minja's JSON (the turn itself becomes a `user` turn).
fn tool_result(m: &Message) -> String {
    let mut r = Map::new();
    if let Some(name) = &m.name {
        r.insert("tool".into(), Value::String(name.clone()));
    }
    r.insert("content".into(), Value::String(m.content.clone()));
    if let Some(id) = &m.tool_call_id {
        r.insert("tool_call_id".into(), Value::String(id.clone()));
    }
    dump(&json!({"tool_response": Value::Object(r)}))
}

/// `json.dumps(value, indent=2, ensure_ascii=False)`.
fn dump(value: &Value) -> String {
    let style = JsonStyle { indent: Some("  ".to_owned()), item_sep: ",".to_owned(), ..JsonStyle::default() };
    // Serializing a serde_json value cannot fail (no undefined values, depth is bounded
    // by serde_json's own parser limits); fall back to serde_json's layout just in case.
    to_python_json(&minijinja::Value::from(minijinja::value::Serde(value)), &style)
        .unwrap_or_else(|_| serde_json::to_string_pretty(value).unwrap_or_default())
}

/// minja's sample conversation for the tool-call example: a user turn, and the same plus
/// an assistant turn calling `tool_name` with `{"arg1": "some_value"}`.
pub(crate) fn example_conversations() -> (Vec<Message>, Vec<Message>) {
    let user = Message::user("Hey");
    let call = Message::assistant_tool_calls(
        "",
        vec![crate::message::ToolCall::function("call_1___", "tool_name", r#"{"arg1": "some_value"}"#)],
    );
    (vec![user.clone()], vec![user, call])
}

/// minja's tool-call example: what `full` (the conversation with the sample call, no
/// generation prompt) adds after `prefix` (without it, with the generation prompt), with a
/// trailing EOS (and newline) cut. `None` when it does not show the call.
pub(crate) fn example_call(prefix: &str, full: &str, eos: &str) -> Option<String> {
    let (p, mut f) = (prefix.as_bytes(), full.as_bytes());
    if !eos.is_empty()
        && let Some(last) = full.rfind(eos)
        && (Some(last) == prefix.len().checked_sub(eos.len())
            || (f.last() == Some(&b'\n') && Some(last) == f.len().checked_sub(eos.len() + 1)))
    {
        f = &f[..last];
    }
    let mut common = 0;
    for i in 0..p.len().min(f.len()) {
        if p[i] != f[i] {
            break;
        }
        // DeepSeek R1 opens `<think>` in the prompt but not in past turns: keep a shared `<`.
        if p[i] == b'<' {
            continue;
        }
        common = i + 1;
    }
    let example = String::from_utf8_lossy(&f[common..]).into_owned();
    (example.contains("tool_name") || example.contains("some_value")).then_some(example)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ToolCall;

    fn no_tools() -> ToolCaps {
        ToolCaps {
            supports_tools: false,
            supports_tool_calls: false,
            supports_parallel_tool_calls: false,
            supports_object_arguments: false,
            supports_system_role: true,
        }
    }

    #[test]
    fn plan_follows_caps() {
        let msgs = [Message::user("hi"), Message::tool("c", "r")];
        assert_eq!(Plan::new(&no_tools(), &msgs, true), Plan { tools: true, calls: true });
        assert!(Plan::new(&ToolCaps::default(), &msgs, true).is_empty());
        assert!(Plan::new(&no_tools(), &msgs[..1], false).is_empty());
    }

    #[test]
    fn calls_and_results_become_json_text() {
        let msgs = [
            Message::assistant_tool_calls(
                "Checking.",
                vec![ToolCall::function("c1", "get_weather", r#"{"city": "Paris"}"#)],
            ),
            Message::tool("c1", "18 C").with_name("get_weather"),
        ];
        let out = rewrite(&msgs, &no_tools(), Plan { tools: false, calls: true }, &[], None).unwrap();
        assert_eq!(
            out[0],
            json!({"role": "assistant", "content": "{\n  \"tool_calls\": [\n    {\n      \"name\": \"get_weather\",\n      \"arguments\": {\n        \"city\": \"Paris\"\n      },\n      \"id\": \"c1\"\n    }\n  ],\n  \"content\": \"Checking.\"\n}"})
        );
        assert_eq!(
            out[1],
            json!({"role": "user", "content": "{\n  \"tool_response\": {\n    \"tool\": \"get_weather\",\n    \"content\": \"18 C\",\n    \"tool_call_id\": \"c1\"\n  }\n}", "tool_call_id": "c1"})
        );
    }

    #[test]
    fn tools_go_into_the_system_prompt() {
        let tools =
            [json!({"type": "function", "function": {"name": "f", "description": "", "parameters": {}}})];
        let plan = Plan { tools: true, calls: false };
        let out = rewrite(
            &[Message::system("Be brief."), Message::user("hi")],
            &no_tools(),
            plan,
            &tools,
            Some("EX"),
        )
        .unwrap();
        let expected = "Be brief.\n\nYou can call any of the following tools to satisfy the user's requests: [\n  {\n    \"type\": \"function\",\n    \"function\": {\n      \"name\": \"f\",\n      \"description\": \"\",\n      \"parameters\": {}\n    }\n  }\n]\n\nExample tool call syntax:\n\nEX\n\n";
        assert_eq!(out[0], json!({"role": "system", "content": expected}));
        assert_eq!(out.len(), 2);
        let out = rewrite(&[Message::user("hi")], &no_tools(), plan, &tools, None).unwrap();
        assert_eq!(out[0]["role"], "system");
        assert!(out[0]["content"].as_str().unwrap().ends_with("}\n]"));
        assert_eq!(out[1]["content"], "hi");
    }

    #[test]
    fn example_is_the_added_turn_without_eos() {
        let prefix = "<s>U: Hey\nA: ";
        let full = "<s>U: Hey\nA: {\"name\": \"tool_name\"}</s>\n";
        assert_eq!(example_call(prefix, full, "</s>").as_deref(), Some("{\"name\": \"tool_name\"}"));
        assert_eq!(example_call(prefix, "<s>U: Hey\nA: </s>\n", "</s>"), None);
    }
}
