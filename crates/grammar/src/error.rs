//! Errors of constraint compilation and matching: each says what was wrong with the request.

/// What went wrong building a token environment, compiling a constraint or running a matcher.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrammarError {
    /// The vocabulary has no end-of-generation token, so a constrained generation could
    /// never end.
    #[error("the vocabulary has no end-of-generation token; constrained generation needs one")]
    NoEndToken,
    /// The token environment or parser factory could not be built.
    #[error("cannot build the grammar engine for this vocabulary: {0}")]
    Setup(String),
    /// The JSON Schema uses a keyword the grammar engine cannot enforce.
    #[error(
        "JSON Schema keyword `{keyword}` at `{path}` is not supported (it cannot be enforced while generating); remove it or express it with supported keywords"
    )]
    UnsupportedKeyword {
        /// The keyword, e.g. `uniqueItems`.
        keyword: String,
        /// JSON pointer of the schema object using it, e.g. `/properties/tags`.
        path: String,
    },
    /// The JSON Schema is invalid or cannot be enforced (the engine's message says why).
    #[error("JSON Schema: {0}")]
    Schema(String),
    /// The compiled grammar would enforce less than asked (the engine's warnings say what);
    /// treated as an error so that nothing is silently relaxed.
    #[error("constraint not fully enforceable: {0}")]
    NotEnforced(String),
    /// A malformed regular expression.
    #[error("regex: {0}")]
    Regex(String),
    /// A malformed Lark grammar.
    #[error("Lark grammar: {0}")]
    Lark(String),
    /// `Choices` with an empty list.
    #[error("choices: the list is empty")]
    EmptyChoices,
    /// The constraint is larger than the configured limit.
    #[error("the constraint is {len} bytes; at most {max} are accepted")]
    TooLarge {
        /// Size of the constraint's text.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The matcher failed while generating (a token it could not accept, work limits hit,
    /// an internal error turned into an error state); the generation must end.
    #[error("grammar matcher: {0}")]
    Matcher(String),
}
