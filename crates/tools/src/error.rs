//! Errors: a tool set the request got wrong ([`ToolsError`], a 400), and an output that is
//! not a valid call ([`ParseError`], an escalation signal).

use hearth_grammar::GrammarError;

/// What is wrong with the tools of a request. Each names the tool (by index and name) so the
/// caller can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolsError {
    /// A tool's name is empty, too long or has characters outside `[A-Za-z0-9_.-]`.
    #[error("tools[{index}]: the name {name:?} is not valid: use 1 to 64 letters, digits, `_`, `-` or `.`")]
    BadName {
        /// Position in the list.
        index: usize,
        /// The name given.
        name: String,
    },
    /// Two tools have the same name.
    #[error("tools[{index}]: the name {name:?} is used by an earlier tool; tool names must be unique")]
    DuplicateName {
        /// Position of the second one.
        index: usize,
        /// The name.
        name: String,
    },
    /// The parameters are not an object schema.
    #[error("tools[{index}] ({name}): the parameters must be a JSON Schema of `\"type\": \"object\"`, {why}")]
    NotAnObject {
        /// Position in the list.
        index: usize,
        /// The tool's name.
        name: String,
        /// What was found.
        why: String,
    },
    /// The parameters' schema cannot be enforced.
    #[error("tools[{index}] ({name}): {source}")]
    Schema {
        /// Position in the list.
        index: usize,
        /// The tool's name.
        name: String,
        /// Why: [`GrammarError::UnsupportedKeyword`] names the keyword and where it is.
        source: GrammarError,
    },
    /// `tool_choice` names a function that is not among the tools.
    #[error("tool_choice names the function {0:?}, which is not among `tools`")]
    UnknownChoice(String),
    /// `tool_choice` asks for a call (`required` or a named function) but there are no tools.
    #[error("tool_choice asks for a tool call but no `tools` were given")]
    NoTools,
}

impl ToolsError {
    /// The JSON Schema keyword at fault, when the error is an unsupported keyword.
    pub fn keyword(&self) -> Option<&str> {
        match self {
            ToolsError::Schema { source: GrammarError::UnsupportedKeyword { keyword, .. }, .. } => {
                Some(keyword)
            }
            _ => None,
        }
    }

    /// The index of the tool at fault, if one is.
    pub fn index(&self) -> Option<usize> {
        match self {
            ToolsError::BadName { index, .. }
            | ToolsError::DuplicateName { index, .. }
            | ToolsError::NotAnObject { index, .. }
            | ToolsError::Schema { index, .. } => Some(*index),
            ToolsError::UnknownChoice(_) | ToolsError::NoTools => None,
        }
    }
}

/// Why an output is not a valid tool call (never for output the grammar admitted in full:
/// these come from an output cut short, or from text produced without the grammar).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A call's opening was seen but not its complete JSON (or its closing tag).
    #[error("tool call {index} is incomplete: {why}")]
    Incomplete {
        /// Which call (0-based).
        index: usize,
        /// What is missing.
        why: String,
    },
    /// A call's JSON is not the syntax's object (`name` and `arguments`).
    #[error("tool call {index} is malformed: {why}")]
    Malformed {
        /// Which call (0-based).
        index: usize,
        /// What is wrong.
        why: String,
    },
    /// A call names a function that is not among the tools.
    #[error("tool call {index} names the unknown function {name:?}")]
    UnknownTool {
        /// Which call (0-based).
        index: usize,
        /// The name.
        name: String,
    },
    /// A call's arguments do not validate against its tool's schema.
    #[error("tool call {index} ({name}): the arguments do not match the tool's schema: {why}")]
    Invalid {
        /// Which call (0-based).
        index: usize,
        /// The tool.
        name: String,
        /// The first validation error.
        why: String,
    },
    /// The tool choice demanded a call and there is none, or more calls than allowed.
    #[error("{0}")]
    Choice(String),
}
