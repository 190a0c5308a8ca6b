//! [`Constraint`]: what a request asks the output to be, and its translation into an
//! llguidance grammar.

use llguidance::api::TopLevelGrammar;
use serde_json::{Value, json};

use crate::GrammarError;
use crate::limits::{check_choices, check_regex_constraint};
use crate::schema_check::check_schema;

/// What the generated text must be.
#[derive(Clone, Debug, PartialEq)]
pub enum Constraint {
    /// Any JSON object (OpenAI's `response_format: {"type": "json_object"}`).
    JsonObject,
    /// A JSON value valid against this JSON Schema (what llguidance supports; a keyword it
    /// cannot enforce is an error, see [`GrammarError::UnsupportedKeyword`]).
    ///
    /// Output is compact JSON with `", "` and `": "` separators and properties in schema
    /// order. An `"x-guidance"` object at the schema's root overrides the layout with
    /// llguidance's `JsonCompileOptions` (e.g. `{"whitespace_flexible": true}`); options that
    /// would relax the schema (`lenient`, `coerce_one_of`) are refused.
    JsonSchema(Value),
    /// Text matching this regular expression as a whole (a leading `^` and trailing `$` are
    /// accepted and ignored).
    Regex(String),
    /// Text derived from this Lark grammar (llguidance's dialect: `start: ...`, `/regex/`
    /// terminals, `%json {...}` for embedded schemas).
    Lark(String),
    /// Exactly one of these strings, verbatim (no JSON quoting).
    Choices(Vec<String>),
}

impl Constraint {
    /// Short name for messages and logs: `json_object`, `json_schema`, `regex`, `lark`, `choices`.
    pub fn kind(&self) -> &'static str {
        match self {
            Constraint::JsonObject => "json_object",
            Constraint::JsonSchema(_) => "json_schema",
            Constraint::Regex(_) => "regex",
            Constraint::Lark(_) => "lark",
            Constraint::Choices(_) => "choices",
        }
    }

    /// Size of the constraint's text in bytes (the schema serialized), for the size limit.
    pub(crate) fn text_len(&self) -> usize {
        match self {
            Constraint::JsonObject => 0,
            Constraint::JsonSchema(v) => serde_json::to_string(v).map_or(usize::MAX, |s| s.len()),
            Constraint::Regex(s) | Constraint::Lark(s) => s.len(),
            Constraint::Choices(c) => c.iter().map(|s| s.len() + 1).sum(),
        }
    }

    /// The llguidance grammar, after the checks that need no tokenizer.
    pub(crate) fn to_grammar(&self) -> Result<TopLevelGrammar, GrammarError> {
        Ok(match self {
            Constraint::JsonObject => {
                TopLevelGrammar::from_json_schema(with_layout(json!({"type": "object"}))?)
            }
            Constraint::JsonSchema(schema) => {
                check_schema(schema)?;
                TopLevelGrammar::from_json_schema(with_layout(schema.clone())?)
            }
            Constraint::Regex(rx) => {
                check_regex_constraint(rx)?;
                TopLevelGrammar::from_regex(strip_anchors(rx))
            }
            Constraint::Lark(src) => {
                if src.trim().is_empty() {
                    return Err(GrammarError::Lark("the grammar is empty".into()));
                }
                TopLevelGrammar::from_lark(src.clone())
            }
            Constraint::Choices(choices) => {
                if choices.is_empty() {
                    return Err(GrammarError::EmptyChoices);
                }
                check_choices(choices)?;
                let alts: Vec<String> = choices.iter().map(|c| format!("(?:{})", regex::escape(c))).collect();
                TopLevelGrammar::from_regex(&alts.join("|"))
            }
        })
    }

    /// The error for a message from llguidance about this constraint: work limits and
    /// grammars that admit nothing are classified, the rest is this constraint's kind of error.
    pub(crate) fn error(&self, msg: &str) -> GrammarError {
        GrammarError::from_llguidance(msg, |m| self.malformed(m))
    }

    /// The error for a message from llguidance saying the constraint is malformed.
    fn malformed(&self, msg: String) -> GrammarError {
        // llguidance suggests an option that hearth refuses (it would relax the schema).
        if msg.contains("oneOf constraints are not supported") {
            return GrammarError::Schema(
                "`oneOf` whose branches may overlap cannot be enforced (exactly one must match); make the \
                 branches provably disjoint (e.g. a different `const` or `type` in each, written inline rather \
                 than behind `$ref`) or use `anyOf`"
                    .into(),
            );
        }
        match self {
            Constraint::JsonObject | Constraint::JsonSchema(_) => GrammarError::Schema(msg),
            Constraint::Regex(_) | Constraint::Choices(_) => GrammarError::Regex(msg),
            Constraint::Lark(_) => GrammarError::Lark(msg),
        }
    }
}

/// The checks on a JSON Schema that need no tokenizer: keywords the grammar engine cannot
/// enforce ([`GrammarError::UnsupportedKeyword`], naming the keyword and where it is), literal
/// and pattern limits, the schema's shape. A schema that passes may still fail at
/// [`crate::GrammarCompiler::compile`] (work limits, a malformed `$ref`). Used to check a
/// schema embedded in a larger grammar (a tool's parameters) before it is compiled.
pub fn check_json_schema(schema: &Value) -> Result<(), GrammarError> {
    Constraint::JsonSchema(schema.clone()).to_grammar().map(|_| ())
}

/// llguidance's JSON layout options that hearth applies unless the schema sets its own.
fn default_layout() -> Value {
    json!({
        "whitespace_flexible": false,
        "item_separator": ", ",
        "key_separator": ": ",
    })
}

/// `schema` with hearth's layout options under `x-guidance` (a user's own options are kept,
/// but none that would relax the schema).
fn with_layout(schema: Value) -> Result<Value, GrammarError> {
    let mut schema = match schema {
        // `true` accepts any value, as `{}` does; `false` accepts nothing.
        Value::Bool(true) => json!({}),
        Value::Bool(false) => return Err(GrammarError::Schema("the schema `false` accepts no value".into())),
        Value::Object(o) => Value::Object(o),
        other => {
            return Err(GrammarError::Schema(format!(
                "a schema must be an object or a boolean, not {other}"
            )));
        }
    };
    let Some(obj) = schema.as_object_mut() else { unreachable!("made an object above") };
    match obj.get("x-guidance") {
        None => {
            obj.insert("x-guidance".into(), default_layout());
        }
        Some(Value::Object(opts)) => {
            for relaxing in ["lenient", "coerce_one_of"] {
                if opts.get(relaxing).is_some_and(|v| v != &Value::Bool(false)) {
                    return Err(GrammarError::NotEnforced(format!(
                        "x-guidance option `{relaxing}` would silently relax the schema; it is not accepted"
                    )));
                }
            }
        }
        Some(_) => {
            return Err(GrammarError::Schema(
                "`x-guidance` must be an object of llguidance JSON options".into(),
            ));
        }
    }
    Ok(schema)
}

/// `rx` without a leading `^` and an unescaped trailing `$`: the whole output must match
/// anyway.
fn strip_anchors(rx: &str) -> &str {
    let rx = rx.strip_prefix('^').unwrap_or(rx);
    match rx.strip_suffix('$') {
        Some(inner) => {
            let backslashes = inner.bytes().rev().take_while(|&b| b == b'\\').count();
            if backslashes % 2 == 0 { inner } else { rx }
        }
        None => rx,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_stripped_only_when_unescaped() {
        assert_eq!(strip_anchors("^[a-z]+$"), "[a-z]+");
        assert_eq!(strip_anchors(r"a\$"), r"a\$");
        assert_eq!(strip_anchors(r"a\\$"), r"a\\");
        assert_eq!(strip_anchors("abc"), "abc");
    }

    #[test]
    fn layout_is_added_and_relaxing_options_refused() {
        let s = with_layout(json!({"type": "string"})).unwrap();
        assert_eq!(s["x-guidance"]["whitespace_flexible"], json!(false));
        let own =
            with_layout(json!({"type": "string", "x-guidance": {"whitespace_flexible": true}})).unwrap();
        assert_eq!(own["x-guidance"]["whitespace_flexible"], json!(true));
        let err = with_layout(json!({"x-guidance": {"lenient": true}})).unwrap_err();
        assert!(err.to_string().contains("lenient"), "{err}");
        assert!(with_layout(json!(false)).is_err());
        assert_eq!(with_layout(json!(true)).unwrap()["x-guidance"], default_layout());
    }
}
