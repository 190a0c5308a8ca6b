//! The grammar that makes a tool call always parse: the model family's call syntax around a
//! JSON object that names a callable tool and carries arguments valid against its schema.
//!
//! Written in llguidance's Lark dialect, with each call's JSON as an embedded `%json` schema
//! (an `anyOf` of one object per callable tool: `name` fixed by `const`, the arguments by the
//! tool's own schema). Under `auto` the grammar is `TEXT | calls`, where `TEXT` is any text
//! that does not open a call (Hermes: holds no `<tool_call>` at all; the JSON syntaxes: does
//! not start with `{`), so a model that starts a call must
//! finish it correctly and a model that answers in prose is left alone. JSON is laid out as
//! hearth's structured output lays it out (`", "` and `": "` separators, no free whitespace),
//! which is also how the templates show calls to the model.

use hearth_grammar::Constraint;
use serde_json::{Value, json};

use crate::{CallSyntax, ToolChoice, ToolSet};

/// The constraint for a request's output, or `None` when it may not call a tool (`none`, or
/// no tools): then the output is free text.
pub fn grammar(set: &ToolSet, syntax: CallSyntax) -> Option<Constraint> {
    if !set.may_call() {
        return None;
    }
    let call = call_schema(set, syntax);
    let (calls, opener) = match syntax {
        CallSyntax::Hermes => {
            let more = if set.parallel() { " (\"\\n\" call)*" } else { "" };
            (
                format!(
                    "calls: call{more}\ncall: \"<tool_call>\\n\" body \"\\n</tool_call>\"\nbody: %json {call}\n"
                ),
                "<tool_call>",
            )
        }
        CallSyntax::Llama3 => (format!("calls: body\nbody: %json {call}\n"), "\\{"),
        CallSyntax::Json => {
            let mut items = json!({"type": "array", "items": call, "minItems": 1});
            if !set.parallel() {
                items["maxItems"] = json!(1);
            }
            let turn = with_layout(json!({
                "type": "object",
                "properties": {"tool_calls": items},
                "required": ["tool_calls"],
                "additionalProperties": false,
            }));
            (format!("calls: body\nbody: %json {turn}\n"), "\\{")
        }
    };
    let start = match set.choice() {
        // Hermes text may not hold `<tool_call>` anywhere (the parser would read a call in
        // it); JSON-style text only may not start with `{` (prose and code use braces).
        ToolChoice::Auto if syntax == CallSyntax::Hermes => {
            format!("start: TEXT | calls\nTEXT: /(.|\\n)+/ & ~/(.|\\n)*{opener}(.|\\n)*/\n")
        }
        ToolChoice::Auto => {
            format!("start: TEXT | calls\nTEXT: /(.|\\n)+/ & ~/[ \\t\\r\\n]*{opener}(.|\\n)*/\n")
        }
        ToolChoice::Required | ToolChoice::Function(_) => "start: calls\n".to_owned(),
        ToolChoice::None => unreachable!("may_call() is false for `none`"),
    };
    Some(Constraint::Lark(format!("%llguidance {{}}\n{start}{calls}")))
}

/// The JSON Schema of one call: an object naming one of the callable tools, with that
/// tool's arguments (an `anyOf` when there are several).
fn call_schema(set: &ToolSet, syntax: CallSyntax) -> Value {
    let key = syntax.arguments_key();
    let callable: Vec<_> = set.callable().collect();
    let root = match syntax {
        CallSyntax::Json => "#/properties/tool_calls/items",
        CallSyntax::Hermes | CallSyntax::Llama3 => "#",
    };
    let mut variants: Vec<Value> = callable
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let at = match callable.len() {
                1 => format!("{root}/properties/{key}"),
                _ => format!("{root}/anyOf/{i}/properties/{key}"),
            };
            json!({
                "type": "object",
                "properties": {"name": {"const": t.name}, key: relocate_refs(t.parameters.clone(), &at)},
                "required": ["name", key],
                "additionalProperties": false,
            })
        })
        .collect();
    let schema = if variants.len() == 1 { variants.remove(0) } else { json!({"anyOf": variants}) };
    match syntax {
        // Embedded in the fallback's `tool_calls` array, whose schema carries the layout.
        CallSyntax::Json => schema,
        CallSyntax::Hermes | CallSyntax::Llama3 => with_layout(schema),
    }
}

/// `schema` with its local `$ref`s (`#`, `#/$defs/x`) pointing into its new place `at` (a
/// JSON pointer fragment such as `#/anyOf/1/properties/arguments`) inside the call's schema.
fn relocate_refs(schema: Value, at: &str) -> Value {
    match schema {
        Value::Object(obj) => Value::Object(
            obj.into_iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("$ref", Value::String(r)) if r == "#" || r.starts_with("#/") => {
                        let moved = format!("{at}{}", &r[1..]);
                        (k, Value::String(moved))
                    }
                    // `const`, `enum` and `default` hold data, not schemas.
                    ("const" | "enum" | "default" | "examples", v) => (k, v),
                    (_, v) => (k, relocate_refs(v, at)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| relocate_refs(v, at)).collect()),
        other => other,
    }
}

/// `schema` with hearth's JSON layout (compact, `", "` and `": "`), as structured output.
fn with_layout(mut schema: Value) -> Value {
    schema["x-guidance"] =
        json!({"whitespace_flexible": false, "item_separator": ", ", "key_separator": ": "});
    schema
}
