//! Tool calling on the local models, OpenAI side: `tools`, `tool_choice` and
//! `parallel_tool_calls` read into a [`ToolSet`] (a tool whose schema cannot be enforced is a
//! 400 naming the tool and the keyword), the prompt rendered with the tools, the output
//! constrained by the model family's call grammar ([`hearth_tools::grammar`]) and parsed back
//! into `message.tool_calls`.

use hearth_engine::{Message, Prompt};
use hearth_tools::{CallSyntax, Parsed, ToolChoice, ToolDef, ToolSet, ToolsError};
use serde_json::{Value, json};

use crate::ApiError;
use crate::request::GenerationBody;

/// The tools of a validated request and the syntax the served model writes calls in.
#[derive(Clone, Debug)]
pub(crate) struct ToolCalling {
    pub set: ToolSet,
    pub syntax: CallSyntax,
}

/// The OpenAI request's tools, checked; `None` when it has none.
pub(crate) fn openai_tool_set(body: &GenerationBody) -> Result<Option<ToolSet>, ApiError> {
    let tools = body.tools.as_deref().unwrap_or_default();
    let choice = openai_choice(body.tool_choice.as_ref())?;
    if tools.is_empty() {
        return without_tools(&choice);
    }
    let mut defs = Vec::with_capacity(tools.len());
    for (i, t) in tools.iter().enumerate() {
        let param = |p: &str| format!("tools[{i}]{p}");
        match t.get("type").and_then(Value::as_str) {
            Some("function") => {}
            other => {
                return Err(ApiError::invalid(
                    Some(&param(".type")),
                    format!("tools of type {other:?} are not supported: use `\"type\": \"function\"`"),
                ));
            }
        }
        let Some(f) = t.get("function").and_then(Value::as_object) else {
            return Err(ApiError::invalid(
                Some(&param(".function")),
                "a function tool needs a `function` object",
            ));
        };
        let Some(name) = f.get("name").and_then(Value::as_str) else {
            return Err(ApiError::invalid(
                Some(&param(".function.name")),
                "a function needs a `name` string",
            ));
        };
        let description = f.get("description").and_then(Value::as_str).map(str::to_owned);
        let parameters = f.get("parameters").filter(|p| !p.is_null()).cloned();
        defs.push(ToolDef::new(name, description, parameters));
    }
    let parallel = body.parallel_tool_calls.unwrap_or(true);
    ToolSet::new(defs, choice, parallel)
        .map(Some)
        .map_err(|e| tools_error(e, "function.name", "function.parameters"))
}

/// A request without tools: fine unless its `tool_choice` asks for a call.
fn without_tools(choice: &ToolChoice) -> Result<Option<ToolSet>, ApiError> {
    match choice {
        ToolChoice::Required | ToolChoice::Function(_) => Err(ApiError::invalid(
            Some("tool_choice"),
            "`tool_choice` asks for a tool call but no `tools` were given",
        )),
        ToolChoice::Auto | ToolChoice::None => Ok(None),
    }
}

/// A [`ToolsError`] as a 400 naming the field (`tools[i].<name_field>` / `<schema_field>`).
pub(crate) fn tools_error(e: ToolsError, name_field: &str, schema_field: &str) -> ApiError {
    let param = match &e {
        ToolsError::BadName { index, .. } | ToolsError::DuplicateName { index, .. } => {
            format!("tools[{index}].{name_field}")
        }
        ToolsError::NotAnObject { index, .. } | ToolsError::Schema { index, .. } => {
            format!("tools[{index}].{schema_field}")
        }
        ToolsError::UnknownChoice(_) | ToolsError::NoTools => "tool_choice".to_owned(),
    };
    ApiError::invalid(Some(&param), e.to_string())
}

fn openai_choice(v: Option<&Value>) -> Result<ToolChoice, ApiError> {
    let bad = || {
        ApiError::invalid(
            Some("tool_choice"),
            "`tool_choice` must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ..}}",
        )
    };
    Ok(match v {
        None | Some(Value::Null) => ToolChoice::Auto,
        Some(Value::String(s)) => match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => return Err(bad()),
        },
        Some(Value::Object(o)) => match o.get("function").and_then(|f| f.get("name")).and_then(Value::as_str)
        {
            Some(name) if o.get("type").is_none_or(|t| t == "function") => {
                ToolChoice::Function(name.to_owned())
            }
            _ => return Err(bad()),
        },
        Some(_) => return Err(bad()),
    })
}

/// The prompt for `messages` with `set`'s tools; a conversation with tool calls or results
/// but no tools is rendered the same way, so a template without tool support still sees them.
pub(crate) fn prompt(messages: Vec<Message>, set: Option<&ToolSet>) -> Prompt {
    let has_tool_turns = messages.iter().any(|m| !m.tool_calls.is_empty() || m.role == "tool");
    match set {
        Some(set) => Prompt::MessagesWithTools { messages, tools: set.template_tools() },
        None if has_tool_turns => Prompt::MessagesWithTools { messages, tools: Vec::new() },
        None => Prompt::Messages(messages),
    }
}

/// The response header that marks a local answer whose tool-enabled output is not a valid
/// call (it is returned as text): the router's escalation reads it as invalid output.
pub(crate) const INVALID_TOOL_CALL: &str = "x-hearth-tool-call-invalid";

/// The output parsed into text and calls, or why it does not parse (an output cut short by
/// `max_tokens` inside its first call): the caller then returns it as plain text, marked
/// [`INVALID_TOOL_CALL`]. An output `cut` by the token limit after complete calls keeps them
/// (an unfinished call after them is dropped).
pub(crate) fn parse_output(calling: &ToolCalling, text: &str, cut: bool) -> Result<Parsed, String> {
    let parse = if cut { hearth_tools::parse_cut } else { hearth_tools::parse };
    parse(text, calling.syntax, &calling.set).map_err(|e| {
        tracing::warn!(error = %e, "a tool-enabled output is not a valid call; returned as text");
        e.to_string()
    })
}

/// `resp` marked with [`INVALID_TOOL_CALL`] when `error` is set.
pub(crate) fn mark_invalid(
    mut resp: axum::response::Response,
    error: Option<&str>,
) -> axum::response::Response {
    if let Some(v) = error.and_then(|e| axum::http::HeaderValue::from_str(&e.replace(['\r', '\n'], " ")).ok())
    {
        resp.headers_mut().insert(INVALID_TOOL_CALL, v);
    }
    resp
}

/// OpenAI's `message.tool_calls`, with ids from `new_id`.
pub(crate) fn openai_calls(parsed: &Parsed, mut new_id: impl FnMut() -> String) -> Vec<Value> {
    parsed
        .calls
        .iter()
        .map(|c| json!({"id": new_id(), "type": "function", "function": {"name": c.name, "arguments": c.arguments_json()}}))
        .collect()
}

/// The Messages API request's tools, checked; `None` when it has none. Server tools (a
/// versioned `type` such as `web_search_20250305`) run at Anthropic, not on a local model:
/// a 400 naming the tool.
pub(crate) fn anthropic_tool_set(
    tools: Option<&[hearth_anthropic::types::Tool]>,
    choice: Option<&hearth_anthropic::types::ToolChoice>,
) -> Result<Option<ToolSet>, ApiError> {
    use hearth_anthropic::types::ToolChoice as Wire;
    let tools = tools.unwrap_or_default();
    let (choice, one_call) = match choice {
        None | Some(Wire::Auto { disable_parallel_tool_use: None }) => (ToolChoice::Auto, false),
        Some(Wire::Auto { disable_parallel_tool_use: Some(d) }) => (ToolChoice::Auto, *d),
        Some(Wire::Any { disable_parallel_tool_use: d }) => (ToolChoice::Required, d.unwrap_or(false)),
        Some(Wire::Tool { name, disable_parallel_tool_use: d }) => {
            (ToolChoice::Function(name.clone()), d.unwrap_or(false))
        }
        Some(Wire::None) => (ToolChoice::None, false),
    };
    if tools.is_empty() {
        return without_tools(&choice);
    }
    let mut defs = Vec::with_capacity(tools.len());
    for (i, t) in tools.iter().enumerate() {
        if let Some(kind) = t.kind.as_deref().filter(|k| *k != "custom") {
            return Err(ApiError::invalid(
                Some(&format!("tools[{i}].type")),
                format!(
                    "tools[{i}] ({}): server tools ({kind:?}) run at Anthropic, not on a local model; route this \
                     request to a Claude remote or send custom tools only",
                    t.name
                ),
            ));
        }
        let Some(schema) = &t.input_schema else {
            return Err(ApiError::invalid(
                Some(&format!("tools[{i}].input_schema")),
                "a custom tool needs `input_schema`",
            ));
        };
        defs.push(ToolDef::new(t.name.clone(), t.description.clone(), Some(schema.clone())));
    }
    ToolSet::new(defs, choice, !one_call).map(Some).map_err(|e| tools_error(e, "name", "input_schema"))
}
