//! The finished output of a tool-enabled generation, split into text and calls.

use serde_json::{Map, Value};

use crate::{CallSyntax, ParseError, ToolChoice, ToolSet};

/// One call the model made.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedCall {
    /// The tool's name (one of the set's).
    pub name: String,
    /// The arguments object, valid against the tool's schema.
    pub arguments: Map<String, Value>,
}

impl ParsedCall {
    /// The arguments as compact JSON text (OpenAI's `function.arguments`).
    pub fn arguments_json(&self) -> String {
        Value::Object(self.arguments.clone()).to_string()
    }
}

/// An output: its text (what came before the calls; all of it when there are none) and its
/// calls, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    /// The text part (empty when the turn is only calls).
    pub content: String,
    /// The calls.
    pub calls: Vec<ParsedCall>,
}

/// Splits `text`, generated for `set` in `syntax`, into text and calls, and checks the calls:
/// known tools, arguments valid against their schemas, the tool choice honoured. Without
/// tools to call (`none`), the whole text is content.
pub fn parse(text: &str, syntax: CallSyntax, set: &ToolSet) -> Result<Parsed, ParseError> {
    parse_inner(text, syntax, set, false)
}

/// [`parse`] for an output cut by the token limit: the calls completed before the cut are
/// kept and an unfinished call after them is dropped (small models given parallel calls may
/// repeat a call until the limit). An output cut inside its first call is still
/// [`ParseError::Incomplete`]. Only the Hermes syntax holds several call blocks; the JSON
/// syntaxes' single object is either whole or incomplete.
pub fn parse_cut(text: &str, syntax: CallSyntax, set: &ToolSet) -> Result<Parsed, ParseError> {
    parse_inner(text, syntax, set, true)
}

fn parse_inner(text: &str, syntax: CallSyntax, set: &ToolSet, cut: bool) -> Result<Parsed, ParseError> {
    if !set.may_call() {
        return Ok(Parsed { content: text.to_owned(), calls: Vec::new() });
    }
    let parsed = match syntax {
        CallSyntax::Hermes => hermes(text, syntax, cut)?,
        CallSyntax::Llama3 => match json_turn(text)? {
            None => Parsed { content: text.to_owned(), calls: Vec::new() },
            Some(v) => Parsed { content: String::new(), calls: vec![call(0, v, syntax)?] },
        },
        CallSyntax::Json => match json_turn(text)? {
            None => Parsed { content: text.to_owned(), calls: Vec::new() },
            Some(v) => fallback_turn(v, syntax)?,
        },
    };
    check(&parsed, set)?;
    Ok(parsed)
}

/// `<tool_call>\n{..}\n</tool_call>` blocks, after optional text; with `cut`, an
/// unfinished block after complete ones is dropped.
fn hermes(text: &str, syntax: CallSyntax, cut: bool) -> Result<Parsed, ParseError> {
    const OPEN: &str = "<tool_call>";
    const CLOSE: &str = "</tool_call>";
    let Some(first) = text.find(OPEN) else {
        return Ok(Parsed { content: text.to_owned(), calls: Vec::new() });
    };
    let content = text[..first].trim_end().to_owned();
    let mut calls = Vec::new();
    let mut rest = &text[first..];
    while let Some(after) = rest.trim_start().strip_prefix(OPEN) {
        let index = calls.len();
        let Some(end) = after.find(CLOSE) else {
            if cut && index > 0 {
                return Ok(Parsed { content, calls });
            }
            return Err(ParseError::Incomplete { index, why: format!("no `{CLOSE}` after the call") });
        };
        let value = serde_json::from_str(after[..end].trim())
            .map_err(|e| ParseError::Malformed { index, why: format!("its JSON does not parse: {e}") })?;
        calls.push(call(index, value, syntax)?);
        rest = &after[end + CLOSE.len()..];
    }
    if !rest.trim().is_empty() {
        let index = calls.len();
        return Err(ParseError::Malformed {
            index,
            why: format!("text after the calls: {:?}", clip(rest.trim())),
        });
    }
    Ok(Parsed { content, calls })
}

/// A turn that is one JSON object: `None` when it does not start with `{` (then it is text).
fn json_turn(text: &str) -> Result<Option<Value>, ParseError> {
    let t = text.trim();
    if !t.starts_with('{') {
        return Ok(None);
    }
    serde_json::from_str(t).map(Some).map_err(|e| {
        if e.is_eof() {
            ParseError::Incomplete { index: 0, why: "the JSON ends early".into() }
        } else {
            ParseError::Malformed { index: 0, why: format!("its JSON does not parse: {e}") }
        }
    })
}

/// `{"tool_calls": [..], "content": ".."}`, the fallback's turn.
fn fallback_turn(v: Value, syntax: CallSyntax) -> Result<Parsed, ParseError> {
    let Value::Object(mut obj) = v else { unreachable!("json_turn returns objects only") };
    let Some(Value::Array(list)) = obj.remove("tool_calls") else {
        return Err(ParseError::Malformed { index: 0, why: "no `tool_calls` array".into() });
    };
    let content = match obj.remove("content") {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let calls = list.into_iter().enumerate().map(|(i, c)| call(i, c, syntax)).collect::<Result<_, _>>()?;
    Ok(Parsed { content, calls })
}

/// One call object: `{"name": "f", "arguments": {..}}` (`parameters` for Llama 3).
fn call(index: usize, v: Value, syntax: CallSyntax) -> Result<ParsedCall, ParseError> {
    let malformed = |why: String| ParseError::Malformed { index, why };
    let Value::Object(mut obj) = v else { return Err(malformed("a call must be a JSON object".into())) };
    let Some(Value::String(name)) = obj.remove("name") else {
        return Err(malformed("no `name` string".into()));
    };
    let key = syntax.arguments_key();
    let arguments = match obj.remove(key) {
        Some(Value::Object(a)) => a,
        // Some models write the arguments as a JSON string; accept it if it holds an object.
        Some(Value::String(s)) => match serde_json::from_str(&s) {
            Ok(Value::Object(a)) => a,
            _ => return Err(malformed(format!("`{key}` must be an object"))),
        },
        None => Map::new(),
        Some(_) => return Err(malformed(format!("`{key}` must be an object"))),
    };
    Ok(ParsedCall { name, arguments })
}

/// The calls against the set: known tools, valid arguments, the choice honoured.
fn check(parsed: &Parsed, set: &ToolSet) -> Result<(), ParseError> {
    match set.choice() {
        ToolChoice::Required | ToolChoice::Function(_) if parsed.calls.is_empty() => {
            return Err(ParseError::Choice("the tool choice requires a call and the output has none".into()));
        }
        _ => {}
    }
    if !set.parallel() && parsed.calls.len() > 1 {
        return Err(ParseError::Choice(format!(
            "{} calls in one turn, but parallel tool calls are off",
            parsed.calls.len()
        )));
    }
    for (index, c) in parsed.calls.iter().enumerate() {
        let Some(tool) = set.callable().find(|t| t.name == c.name) else {
            return Err(ParseError::UnknownTool { index, name: c.name.clone() });
        };
        let invalid = |why: String| ParseError::Invalid { index, name: c.name.clone(), why };
        let validator =
            jsonschema::validator_for(&tool.parameters).map_err(|e| invalid(format!("schema: {e}")))?;
        let args = Value::Object(c.arguments.clone());
        if let Some(e) = validator.iter_errors(&args).next() {
            return Err(invalid(format!("{e} (at `{}`)", e.instance_path())));
        }
    }
    Ok(())
}

fn clip(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ToolDef;

    fn set(choice: ToolChoice, parallel: bool) -> ToolSet {
        let weather = json!({"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}}, "required": ["city"]});
        ToolSet::new(
            vec![ToolDef::new("get_weather", None, Some(weather)), ToolDef::new("now", None, None)],
            choice,
            parallel,
        )
        .unwrap()
    }

    #[test]
    fn hermes_calls_and_text() {
        let s = set(ToolChoice::Auto, true);
        let out = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>";
        let p = parse(out, CallSyntax::Hermes, &s).unwrap();
        assert_eq!(p.content, "");
        assert_eq!(p.calls.len(), 2);
        assert_eq!(p.calls[0].arguments_json(), r#"{"city":"Paris"}"#);
        assert_eq!(p.calls[1].name, "now");
        let p = parse("It is sunny.", CallSyntax::Hermes, &s).unwrap();
        assert_eq!((p.content.as_str(), p.calls.len()), ("It is sunny.", 0));
        let p = parse(
            "Let me look.\n<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>",
            CallSyntax::Hermes,
            &s,
        )
        .unwrap();
        assert_eq!((p.content.as_str(), p.calls.len()), ("Let me look.", 1));
    }

    #[test]
    fn a_cut_output_keeps_the_calls_completed_before_the_cut() {
        let s = set(ToolChoice::Auto, true);
        let one = "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>\n";
        let cut = format!("{one}{one}<tool_call>\n{{\"name\": \"no");
        assert!(matches!(parse(&cut, CallSyntax::Hermes, &s), Err(ParseError::Incomplete { index: 2, .. })));
        let p = parse_cut(&cut, CallSyntax::Hermes, &s).unwrap();
        assert_eq!(p.calls.len(), 2);
        let first = "<tool_call>\n{\"name\": \"get_weather\", \"argu";
        assert!(matches!(
            parse_cut(first, CallSyntax::Hermes, &s),
            Err(ParseError::Incomplete { index: 0, .. })
        ));
    }

    #[test]
    fn cut_short_unknown_and_invalid_calls_are_errors() {
        let s = set(ToolChoice::Auto, true);
        let cut = "<tool_call>\n{\"name\": \"get_weather\", \"argu";
        assert!(matches!(parse(cut, CallSyntax::Hermes, &s), Err(ParseError::Incomplete { index: 0, .. })));
        let unknown = "<tool_call>\n{\"name\": \"rm\", \"arguments\": {}}\n</tool_call>";
        assert!(matches!(parse(unknown, CallSyntax::Hermes, &s), Err(ParseError::UnknownTool { .. })));
        let invalid = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"days\": 0}}\n</tool_call>";
        let e = parse(invalid, CallSyntax::Hermes, &s).unwrap_err();
        assert!(matches!(&e, ParseError::Invalid { index: 0, .. }) && e.to_string().contains("days"), "{e}");
        let missing = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>";
        assert!(matches!(parse(missing, CallSyntax::Hermes, &s), Err(ParseError::Invalid { .. })));
    }

    #[test]
    fn the_choice_is_honoured() {
        let call = "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>";
        let two = format!("{call}\n{call}");
        assert!(matches!(
            parse("text", CallSyntax::Hermes, &set(ToolChoice::Required, true)),
            Err(ParseError::Choice(_))
        ));
        assert!(matches!(
            parse(&two, CallSyntax::Hermes, &set(ToolChoice::Auto, false)),
            Err(ParseError::Choice(_))
        ));
        let only_weather = set(ToolChoice::Function("get_weather".into()), true);
        assert!(matches!(
            parse(call, CallSyntax::Hermes, &only_weather),
            Err(ParseError::UnknownTool { .. })
        ));
        let p = parse(call, CallSyntax::Hermes, &set(ToolChoice::None, true)).unwrap();
        assert_eq!((p.content.as_str(), p.calls.len()), (call, 0));
    }

    #[test]
    fn llama3_and_fallback_turns() {
        let s = set(ToolChoice::Auto, true);
        let p = parse(r#"{"name": "get_weather", "parameters": {"city": "Rome"}}"#, CallSyntax::Llama3, &s)
            .unwrap();
        assert_eq!(p.calls[0].arguments["city"], "Rome");
        let p = parse(r#"{"tool_calls": [{"name": "now", "arguments": {}}, {"name": "get_weather", "arguments": {"city": "Lima"}}]}"#, CallSyntax::Json, &s)
            .unwrap();
        assert_eq!(p.calls.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["now", "get_weather"]);
        assert!(matches!(
            parse(r#"{"tool_calls": [{"name": "now""#, CallSyntax::Json, &s),
            Err(ParseError::Incomplete { .. })
        ));
        assert_eq!(parse("plain", CallSyntax::Json, &s).unwrap().content, "plain");
    }
}
