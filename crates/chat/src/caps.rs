//! What a template does with tools, found as llama.cpp finds it (`common/jinja/caps.cpp`):
//! render small probe conversations and watch which values the template reads.
//!
//! llama.cpp's engine marks every value a template touches (a member access, a test, a
//! filter; `tojson` marks the whole value it serializes). Here the probe conversation is
//! built from [`Tracked`] objects that log each key a template reads, which is the same
//! signal: reading `tools[0].function.name` means the template describes tools, reading
//! `messages[1].tool_calls` means it renders calls, and reading into
//! `tool_calls[0].function.arguments` (`arguments.arg`) means it wants the arguments as an
//! object rather than as the JSON string.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Environment, Value};
use serde_json::json;

use crate::environment::{self, TEMPLATE_NAME};

/// What a template renders natively, as llama.cpp's `jinja::caps` reports it.
///
/// [`crate::RenderOptions::tool_fallback`] writes tools, calls and results into the
/// conversation as text for a template where [`ToolCaps::supports_tools`] or
/// [`ToolCaps::supports_tool_calls`] is false.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ToolCaps {
    /// The template prints the `tools` definitions (reads `tools[i].function.name`).
    pub supports_tools: bool,
    /// The template renders an assistant turn's `tool_calls`.
    pub supports_tool_calls: bool,
    /// The template renders every call of a turn, not just the first.
    pub supports_parallel_tool_calls: bool,
    /// The template reads into `function.arguments`, so it gets the arguments as a JSON
    /// object (parsed from the call's string) instead of the string.
    pub supports_object_arguments: bool,
    /// The template prints a leading `system` message.
    pub supports_system_role: bool,
}

impl Default for ToolCaps {
    /// llama.cpp's defaults, before any probe: everything but object arguments.
    fn default() -> ToolCaps {
        ToolCaps {
            supports_tools: true,
            supports_tool_calls: true,
            supports_parallel_tool_calls: true,
            supports_object_arguments: false,
            supports_system_role: true,
        }
    }
}

/// Probes the template registered in `env`.
pub(crate) fn probe(env: &Environment<'static>) -> ToolCaps {
    let mut caps = ToolCaps::default();

    let system = run(
        env,
        json!([{"role": "system", "content": "System message"}, {"role": "user", "content": "User message"}]),
        json!([]),
    );
    if !system.used("messages.0.content") {
        caps.supports_system_role = false;
    }

    let object_args = run(env, tool_conversation(json!({"arg": "value"}), false), probe_tools());
    if object_args.ok {
        if !object_args.used("tools.0.function.name") {
            caps.supports_tools = false;
        }
        if !object_args.used("messages.1.tool_calls") {
            caps.supports_tool_calls = false;
        } else if object_args.used("messages.1.tool_calls.0.function.arguments.arg") {
            caps.supports_object_arguments = true;
        }
    }

    if !caps.supports_object_arguments {
        let string_args = run(env, tool_conversation(json!(r#"{"arg": "value"}"#), false), probe_tools());
        if !string_args.ok {
            caps.supports_tool_calls = false;
            caps.supports_tools = false;
        } else {
            if !string_args.used("tools.0.function.name") {
                caps.supports_tools = false;
            }
            if !string_args.used("messages.1.tool_calls") {
                caps.supports_tool_calls = false;
            }
        }
    }

    let args =
        if caps.supports_object_arguments { json!({"arg": "value"}) } else { json!(r#"{"arg": "value"}"#) };
    let parallel = run(env, tool_conversation(args, true), probe_tools());
    if !parallel.ok || !parallel.used("messages.1.tool_calls.1.function") {
        caps.supports_parallel_tool_calls = false;
    }
    caps
}

/// llama.cpp's probe conversation: a user turn, a call (two when `parallel`), its result,
/// an answer and another user turn.
fn tool_conversation(arguments: serde_json::Value, parallel: bool) -> serde_json::Value {
    let call = |id: &str| json!({"id": id, "type": "function", "function": {"name": "tool1", "arguments": arguments.clone()}});
    let calls =
        if parallel { json!([call("call00001"), call("call00002")]) } else { json!([call("call00001")]) };
    json!([
        {"role": "user", "content": "User message"},
        {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "content": "Tool response", "tool_call_id": "call00001"},
        {"role": "assistant", "content": "The tool response was 'tool response'"},
        {"role": "user", "content": "User message"},
    ])
}

/// llama.cpp's probe tool definition.
fn probe_tools() -> serde_json::Value {
    json!([{
        "name": "tool",
        "type": "function",
        "function": {
            "name": "tool1",
            "description": "Tool description",
            "parameters": {
                "type": "object",
                "properties": {"arg": {"type": "string", "description": "Arg description"}},
                "required": ["arg"],
            },
        },
    }])
}

/// The outcome of one probe render: whether it succeeded, and every path it read.
struct Probe {
    ok: bool,
    read: BTreeSet<String>,
}

impl Probe {
    fn used(&self, path: &str) -> bool {
        self.read.contains(path)
    }
}

/// Renders the template with tracked `messages` and `tools` (llama.cpp's probe context:
/// empty BOS/EOS, `add_generation_prompt`), keeping what it read even when it fails.
fn run(env: &Environment<'static>, messages: serde_json::Value, tools: serde_json::Value) -> Probe {
    let log = Arc::new(Mutex::new(BTreeSet::new()));
    let ctx = Value::from_pairs(vec![
        ("messages".to_owned(), Tracked::wrap(messages, "messages".to_owned(), &log)),
        ("tools".to_owned(), Tracked::wrap(tools, "tools".to_owned(), &log)),
        ("bos_token".to_owned(), Value::from("")),
        ("eos_token".to_owned(), Value::from("")),
        ("add_generation_prompt".to_owned(), Value::from(true)),
        ("documents".to_owned(), Value::from(())),
        ("strftime_now".to_owned(), environment::strftime_now(Some(std::time::UNIX_EPOCH))),
    ]);
    let ok = env.get_template(TEMPLATE_NAME).and_then(|t| t.render(ctx)).is_ok();
    let read = std::mem::take(&mut *log.lock().unwrap_or_else(PoisonError::into_inner));
    Probe { ok, read }
}

/// A JSON object or array that logs the path of every element a template reads.
#[derive(Debug)]
struct Tracked {
    value: serde_json::Value,
    path: String,
    log: Arc<Mutex<BTreeSet<String>>>,
}

impl Tracked {
    /// Objects and arrays become tracked values; scalars are plain values.
    fn wrap(value: serde_json::Value, path: String, log: &Arc<Mutex<BTreeSet<String>>>) -> Value {
        match value {
            serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
                Value::from_object(Tracked { value, path, log: Arc::clone(log) })
            }
            scalar => Value::from(minijinja::value::Serde(scalar)),
        }
    }

    fn child(&self, key: String, value: &serde_json::Value) -> Value {
        let path = format!("{}.{key}", self.path);
        self.log.lock().unwrap_or_else(PoisonError::into_inner).insert(path.clone());
        Tracked::wrap(value.clone(), path, &self.log)
    }
}

impl Object for Tracked {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        if self.value.is_array() { ObjectRepr::Seq } else { ObjectRepr::Map }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match &self.value {
            serde_json::Value::Object(map) => {
                let k = key.as_str()?;
                map.get(k).map(|v| self.child(k.to_owned(), v))
            }
            serde_json::Value::Array(items) => {
                let i = usize::try_from(key.as_i64()?).ok()?;
                items.get(i).map(|v| self.child(i.to_string(), v))
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match &self.value {
            serde_json::Value::Object(map) => {
                Enumerator::Values(map.keys().map(|k| Value::from(k.as_str())).collect())
            }
            serde_json::Value::Array(items) => Enumerator::Seq(items.len()),
            _ => Enumerator::Empty,
        }
    }

    /// Printing a whole object or list reads nothing into it (as in llama.cpp, where only
    /// `tojson`, `string` and member access mark what is inside).
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result
    where
        Self: Sized + 'static,
    {
        write!(f, "{}", self.value)
    }

    fn is_true(self: &Arc<Self>) -> bool {
        match &self.value {
            serde_json::Value::Object(map) => !map.is_empty(),
            serde_json::Value::Array(items) => !items.is_empty(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps_of(source: &str) -> ToolCaps {
        probe(&environment::build(source.to_owned()).unwrap())
    }

    #[test]
    fn template_without_tools_supports_none() {
        let caps = caps_of("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}");
        assert!(!caps.supports_tools && !caps.supports_tool_calls && !caps.supports_parallel_tool_calls);
        assert!(caps.supports_system_role && !caps.supports_object_arguments);
    }

    #[test]
    fn tojson_of_arguments_reads_into_them() {
        let caps = caps_of(
            "{% for t in tools %}{{ t | tojson }}{% endfor %}{% for m in messages %}{% for c in m.tool_calls %}\
             {{ c.function.name }}{{ c.function.arguments | tojson }}{% endfor %}{% endfor %}",
        );
        assert!(caps.supports_tools && caps.supports_tool_calls && caps.supports_parallel_tool_calls);
        assert!(caps.supports_object_arguments);
    }

    #[test]
    fn printing_the_argument_string_keeps_it_a_string() {
        let caps = caps_of(
            "{% for m in messages %}{% if m.tool_calls %}{{ m.tool_calls[0].function.arguments }}{% endif %}{% endfor %}",
        );
        assert!(!caps.supports_tools && caps.supports_tool_calls);
        assert!(!caps.supports_object_arguments && !caps.supports_parallel_tool_calls);
    }

    #[test]
    fn a_template_that_drops_system_messages_is_seen() {
        let caps = caps_of(
            "{% for m in messages %}{% if m.role != 'system' %}{{ m.content }}{% endif %}{% endfor %}",
        );
        assert!(!caps.supports_system_role);
    }

    #[test]
    fn a_failing_template_supports_no_tools() {
        let caps = caps_of(
            "{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no') }}{% endif %}{% endfor %}",
        );
        assert!(!caps.supports_tools && !caps.supports_tool_calls && !caps.supports_parallel_tool_calls);
    }
}
