//! What a template is rendered from: the conversation and the render options.
//!
//! Messages have OpenAI's chat shape, tool calls included: an assistant turn may carry
//! `tool_calls` (each `{id, type: "function", function: {name, arguments}}`, `arguments` a
//! JSON string), and a `tool` turn answers one call by its `tool_call_id`. How these reach
//! the template (llama.cpp's layout, arguments as a string or an object) is `tools.rs`'s job.

use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize};

/// One chat message, as an OpenAI-style `{"role": .., "content": .., ..}` object.
///
/// Deserializing accepts OpenAI requests: `content` may be `null` or absent (an assistant
/// turn that only calls tools), `tool_calls[].function.arguments` may be a JSON string (the
/// OpenAI form) or an object (stored as its compact JSON text, as llama.cpp does); fields it
/// does not know are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool` (any other role is passed to the template
    /// unchanged).
    pub role: String,
    /// The message text; empty for an assistant turn that only calls tools.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub content: String,
    /// The tool calls of an assistant turn, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// On a `tool` turn: the id of the call this message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// On a `tool` turn: the name of the function that produced it (some templates print it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Message {
    /// A message with the given role and text.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Message {
        Message { role: role.into(), content: content.into(), ..Message::default() }
    }

    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Message {
        Message::new("system", content)
    }

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Message {
        Message::new("user", content)
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<String>) -> Message {
        Message::new("assistant", content)
    }

    /// An `assistant` turn that calls tools (`content` is often empty).
    pub fn assistant_tool_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> Message {
        Message { tool_calls: calls, ..Message::assistant(content) }
    }

    /// A `tool` turn: the result of the call `tool_call_id`.
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<String>) -> Message {
        Message { tool_call_id: Some(tool_call_id.into()), ..Message::new("tool", content) }
    }

    /// This message with `name` set (the function name on a `tool` turn).
    pub fn with_name(mut self, name: impl Into<String>) -> Message {
        self.name = Some(name.into());
        self
    }
}

/// One call in an assistant turn's `tool_calls`, in OpenAI's shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's id, which the `tool` turn answering it repeats; may be empty (llama.cpp
    /// then leaves it out of what the template sees).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Always `"function"`; the field is written out because OpenAI requires it.
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    /// Which function, with which arguments.
    pub function: FunctionCall,
}

impl ToolCall {
    /// A function call: `arguments` is the arguments object as JSON text, e.g.
    /// `{"city": "Paris"}`.
    pub fn function(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> ToolCall {
        ToolCall {
            id: id.into(),
            kind: function_type(),
            function: FunctionCall { name: name.into(), arguments: arguments.into() },
        }
    }
}

/// The `function` of a [`ToolCall`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function's name, as in the tool definition.
    pub name: String,
    /// The arguments object as JSON text (OpenAI sends a string; an object in a request is
    /// kept as its compact JSON).
    #[serde(deserialize_with = "string_or_json_text")]
    pub arguments: String,
}

fn function_type() -> String {
    "function".to_owned()
}

/// `null` reads as the empty string, as llama.cpp reads a `null` content.
fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// A JSON string is taken as is; any other JSON value becomes its compact text (llama.cpp's
/// `args.dump()`).
fn string_or_json_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        other => Ok(other.to_string()),
    }
}

/// Everything a render takes besides the messages.
///
/// The template context is built as Hugging Face's `apply_chat_template` builds it:
/// `messages`, `add_generation_prompt`, `bos_token`, `eos_token`, `tools` (`none` when not
/// given or empty), `documents` (`none`) and the function `strftime_now`, then every entry of
/// [`RenderOptions::extra`] on top, so `extra` can set template switches such as
/// `enable_thinking` or `date_string`, or override any of the above.
///
/// Tools and tool messages reach the template as llama.cpp passes them (see
/// [`crate::ChatTemplate::render_with`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RenderOptions {
    /// Append the header of the assistant's next turn (what a completion continues from).
    pub add_generation_prompt: bool,
    /// Tool definitions: OpenAI `tools[]` objects (`{"type": "function", "function": {"name",
    /// "description", "parameters"}}`), passed as the `tools` variable.
    pub tools: Option<Vec<serde_json::Value>>,
    /// Apply the tool fallback ([`crate::ChatTemplate::tool_caps`] says when it is needed):
    /// for a template that does not render tool definitions, tool calls or tool results,
    /// write them into the conversation as text instead (minja's polyfill: the tools as JSON
    /// in the system prompt, calls and results as JSON message text). Off, a render is
    /// byte-exact with llama.cpp, which has no such fallback and lets the template drop what
    /// it does not render.
    pub tool_fallback: bool,
    /// Further template variables; these win over the built-in ones.
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// The clock `strftime_now(..)` reads (UTC); `None` is the system clock. Fixing it
    /// makes renders of date-printing templates (Llama 3.x, Granite, gpt-oss) reproducible.
    pub now: Option<SystemTime>,
}

impl RenderOptions {
    /// Options with only `add_generation_prompt` set.
    pub fn generation_prompt(add_generation_prompt: bool) -> RenderOptions {
        RenderOptions { add_generation_prompt, ..RenderOptions::default() }
    }

    /// These options with `tools` set (`None` when `tools` is empty).
    pub fn with_tools(mut self, tools: Vec<serde_json::Value>) -> RenderOptions {
        self.tools = (!tools.is_empty()).then_some(tools);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_assistant_tool_call_deserializes() {
        let m: Message = serde_json::from_str(
            r#"{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
                "function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]}"#,
        )
        .unwrap();
        assert_eq!(m.content, "");
        assert_eq!(m.tool_calls, vec![ToolCall::function("call_1", "get_weather", r#"{"city": "Paris"}"#)]);
    }

    #[test]
    fn object_arguments_become_compact_json_text() {
        let m: Message = serde_json::from_str(
            r#"{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":{"a": [1, 2]}}}]}"#,
        )
        .unwrap();
        assert_eq!(m.tool_calls[0].function.arguments, r#"{"a":[1,2]}"#);
        assert_eq!(m.tool_calls[0].id, "");
        assert_eq!(m.content, "");
    }

    #[test]
    fn tool_message_round_trips() {
        let m = Message::tool("call_1", "18 C").with_name("get_weather");
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"role":"tool","content":"18 C","tool_call_id":"call_1","name":"get_weather"}"#);
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), m);
    }

    #[test]
    fn plain_messages_serialize_as_before() {
        assert_eq!(serde_json::to_string(&Message::user("hi")).unwrap(), r#"{"role":"user","content":"hi"}"#);
    }

    #[test]
    fn with_tools_drops_an_empty_list() {
        assert_eq!(RenderOptions::default().with_tools(vec![]).tools, None);
        let t = serde_json::json!({"type": "function", "function": {"name": "f"}});
        assert_eq!(RenderOptions::default().with_tools(vec![t.clone()]).tools, Some(vec![t]));
    }
}
