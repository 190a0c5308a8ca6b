//! What a request offers: the tools ([`ToolDef`]), which of them the model may or must call
//! ([`ToolChoice`]), and whether several calls may come in one turn ([`ToolSet`]).

use hearth_grammar::check_json_schema;
use serde_json::{Value, json};

use crate::ToolsError;

/// One function tool.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolDef {
    /// The function's name (OpenAI's `function.name`, Anthropic's `name`).
    pub name: String,
    /// What it does, for the model.
    pub description: Option<String>,
    /// The JSON Schema of its arguments object (`{"type": "object", "properties": {}}` when the
    /// request gave none).
    pub parameters: Value,
}

impl ToolDef {
    /// A tool; `parameters: None` is a function without arguments.
    pub fn new(name: impl Into<String>, description: Option<String>, parameters: Option<Value>) -> ToolDef {
        ToolDef {
            name: name.into(),
            description,
            parameters: parameters.unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        }
    }

    /// This tool in OpenAI's `tools[]` shape, the shape chat templates read
    /// (`{"type": "function", "function": {"name", "description", "parameters"}}`).
    pub fn to_openai(&self) -> Value {
        let mut f = serde_json::Map::new();
        f.insert("name".into(), Value::String(self.name.clone()));
        if let Some(d) = &self.description {
            f.insert("description".into(), Value::String(d.clone()));
        }
        f.insert("parameters".into(), self.parameters.clone());
        json!({"type": "function", "function": f})
    }
}

/// Which calls the model may make.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum ToolChoice {
    /// Text or calls, as the model decides (the default when tools are given).
    #[default]
    Auto,
    /// No calls: text only (the tools are still shown to the model).
    None,
    /// At least one call (OpenAI's `required`, Anthropic's `any`).
    Required,
    /// Exactly this function (OpenAI's `{"type": "function", "function": {"name"}}`,
    /// Anthropic's `{"type": "tool", "name"}`).
    Function(String),
}

/// The tools of one request, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolSet {
    tools: Vec<ToolDef>,
    choice: ToolChoice,
    parallel: bool,
}

/// Longest tool name (OpenAI's and Anthropic's limit).
const MAX_NAME: usize = 64;

impl ToolSet {
    /// Checks `tools` and `choice`: valid unique names, object schemas the grammar engine can
    /// enforce, a named choice that exists. `parallel`: several calls may come in one turn.
    pub fn new(tools: Vec<ToolDef>, choice: ToolChoice, parallel: bool) -> Result<ToolSet, ToolsError> {
        for (index, t) in tools.iter().enumerate() {
            let name_ok = !t.name.is_empty()
                && t.name.len() <= MAX_NAME
                && t.name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if !name_ok {
                return Err(ToolsError::BadName { index, name: t.name.clone() });
            }
            if tools[..index].iter().any(|o| o.name == t.name) {
                return Err(ToolsError::DuplicateName { index, name: t.name.clone() });
            }
            check_parameters(index, t)?;
        }
        match &choice {
            ToolChoice::Function(n) if !tools.iter().any(|t| &t.name == n) => {
                return Err(ToolsError::UnknownChoice(n.clone()));
            }
            ToolChoice::Function(_) | ToolChoice::Required if tools.is_empty() => {
                return Err(ToolsError::NoTools);
            }
            _ => {}
        }
        Ok(ToolSet { tools, choice, parallel })
    }

    /// The tools, in the request's order.
    pub fn tools(&self) -> &[ToolDef] {
        &self.tools
    }

    /// The tool named `name`.
    pub fn get(&self, name: &str) -> Option<&ToolDef> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// Which calls the model may make.
    pub fn choice(&self) -> &ToolChoice {
        &self.choice
    }

    /// Several calls may come in one turn.
    pub fn parallel(&self) -> bool {
        self.parallel
    }

    /// True when the output is constrained to calls or text (any choice but `none`, with at
    /// least one tool).
    pub fn may_call(&self) -> bool {
        !self.tools.is_empty() && self.choice != ToolChoice::None
    }

    /// The tools a call may name under the choice: all of them, or the one named.
    pub fn callable(&self) -> impl Iterator<Item = &ToolDef> {
        let only = match &self.choice {
            ToolChoice::Function(n) => Some(n.as_str()),
            _ => None,
        };
        self.tools.iter().filter(move |t| only.is_none_or(|n| t.name == n))
    }

    /// The tools in OpenAI's `tools[]` shape, for the chat template's `tools` variable.
    pub fn template_tools(&self) -> Vec<Value> {
        self.tools.iter().map(ToolDef::to_openai).collect()
    }
}

fn check_parameters(index: usize, t: &ToolDef) -> Result<(), ToolsError> {
    let not_object = |why: String| ToolsError::NotAnObject { index, name: t.name.clone(), why };
    let Some(obj) = t.parameters.as_object() else {
        return Err(not_object(format!("got {}", short(&t.parameters))));
    };
    if let Some(ty) = obj.get("type")
        && ty != "object"
    {
        return Err(not_object(format!("got `\"type\": {}`", short(ty))));
    }
    check_json_schema(&t.parameters).map_err(|source| ToolsError::Schema {
        index,
        name: t.name.clone(),
        source,
    })
}

/// A value's JSON text, cut to 60 characters for messages.
fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, params: Value) -> ToolDef {
        ToolDef::new(name, None, Some(params))
    }

    #[test]
    fn a_good_set_is_accepted() {
        let set = ToolSet::new(
            vec![
                tool("get_weather", json!({"type": "object", "properties": {"city": {"type": "string"}}})),
                ToolDef::new("now", None, None),
            ],
            ToolChoice::Function("now".into()),
            true,
        )
        .unwrap();
        assert_eq!(set.callable().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["now"]);
        assert_eq!(
            set.template_tools()[1],
            json!({"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}})
        );
    }

    #[test]
    fn bad_names_duplicates_and_choices_are_refused() {
        let e = ToolSet::new(vec![tool("get weather", json!({}))], ToolChoice::Auto, true).unwrap_err();
        assert!(matches!(e, ToolsError::BadName { index: 0, .. }), "{e}");
        let e = ToolSet::new(vec![tool("a", json!({})), tool("a", json!({}))], ToolChoice::Auto, true)
            .unwrap_err();
        assert!(matches!(e, ToolsError::DuplicateName { index: 1, .. }), "{e}");
        let e = ToolSet::new(vec![tool("a", json!({}))], ToolChoice::Function("b".into()), true).unwrap_err();
        assert_eq!(e, ToolsError::UnknownChoice("b".into()));
        assert_eq!(ToolSet::new(vec![], ToolChoice::Required, true).unwrap_err(), ToolsError::NoTools);
        assert!(ToolSet::new(vec![], ToolChoice::Auto, true).is_ok_and(|s| !s.may_call()));
    }

    #[test]
    fn parameters_must_be_an_enforceable_object_schema() {
        let e = ToolSet::new(vec![tool("a", json!({"type": "string"}))], ToolChoice::Auto, true).unwrap_err();
        assert!(matches!(e, ToolsError::NotAnObject { index: 0, .. }), "{e}");
        let e = ToolSet::new(vec![tool("a", json!([1]))], ToolChoice::Auto, true).unwrap_err();
        assert!(matches!(e, ToolsError::NotAnObject { .. }), "{e}");
        let schema =
            json!({"type": "object", "properties": {"tags": {"type": "array", "uniqueItems": true}}});
        let e = ToolSet::new(vec![tool("ok", json!({})), tool("tagger", schema)], ToolChoice::Auto, true)
            .unwrap_err();
        assert_eq!(e.keyword(), Some("uniqueItems"));
        assert_eq!(e.index(), Some(1));
        assert!(e.to_string().contains("tools[1] (tagger)") && e.to_string().contains("uniqueItems"), "{e}");
    }
}
