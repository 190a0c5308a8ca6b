//! How a model family writes a tool call, read off its chat template.

/// A model family's tool-call syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallSyntax {
    /// Qwen2.5 / Hermes 2 Pro (and their fine-tunes): each call on its own lines,
    /// `<tool_call>\n{"name": "f", "arguments": {..}}\n</tool_call>`, several separated by a
    /// newline; text may come before the first call.
    Hermes,
    /// Llama 3.1–3.3's JSON call: the whole turn is `{"name": "f", "parameters": {..}}`; one
    /// call per turn (Meta's templates render only one).
    Llama3,
    /// hearth's fallback for templates that do not render tools: the whole turn is
    /// `{"tool_calls": [{"name": "f", "arguments": {..}}]}`, the shape the tool fallback of
    /// `hearth-chat` (minja's polyfill) shows the model in its system prompt.
    Json,
}

impl CallSyntax {
    /// The syntax the template at `source` teaches: Hermes when it writes `<tool_call>`,
    /// Llama 3 when it asks for `{"name": .., "parameters": ..}` JSON, the fallback
    /// otherwise (a template that ignores tools, or one whose syntax hearth does not know).
    pub fn detect(source: &str) -> CallSyntax {
        if source.contains("<tool_call>") {
            CallSyntax::Hermes
        } else if source.contains("\"parameters\": dictionary of argument name") {
            CallSyntax::Llama3
        } else {
            CallSyntax::Json
        }
    }

    /// Name for logs and the `X-Hearth-Tool-Syntax` header: `hermes`, `llama3`, `json`.
    pub fn name(self) -> &'static str {
        match self {
            CallSyntax::Hermes => "hermes",
            CallSyntax::Llama3 => "llama3",
            CallSyntax::Json => "json",
        }
    }

    /// The key of a call's arguments object.
    pub(crate) fn arguments_key(self) -> &'static str {
        match self {
            CallSyntax::Llama3 => "parameters",
            CallSyntax::Hermes | CallSyntax::Json => "arguments",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_families_by_their_templates() {
        let qwen = r#"{{- '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>' }}"#;
        assert_eq!(CallSyntax::detect(qwen), CallSyntax::Hermes);
        let llama = r#"Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}."#;
        assert_eq!(CallSyntax::detect(llama), CallSyntax::Llama3);
        assert_eq!(
            CallSyntax::detect("{% for m in messages %}{{ m.content }}{% endfor %}"),
            CallSyntax::Json
        );
    }
}
