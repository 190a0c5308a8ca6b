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
    /// The constraint admits no output at all (e.g. a `$ref` cycle with no way out, such as
    /// `{"$ref": "#"}`: no finite JSON value is valid).
    #[error("the constraint admits no output: {0}")]
    Unsatisfiable(String),
    /// The constraint is over the work limits that keep hostile schemas cheap (a literal or
    /// a regex run too long to force, too many parser items or lexer states).
    #[error("the constraint is too complex to enforce within the grammar engine's work limits: {0}")]
    TooComplex(String),
    /// The matcher failed while generating (a token it could not accept, an internal error
    /// turned into an error state); the generation must end.
    #[error("grammar matcher: {0}")]
    Matcher(String),
}

impl GrammarError {
    /// True when the constraint itself is at fault (the caller's mistake: HTTP 400), false
    /// for failures of the grammar engine or the vocabulary ([`GrammarError::Setup`],
    /// [`GrammarError::NoEndToken`], [`GrammarError::Matcher`]).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, GrammarError::Setup(_) | GrammarError::NoEndToken | GrammarError::Matcher(_))
    }

    /// The error for a message from llguidance: work limits become [`TooComplex`], a grammar
    /// with no way to extend the output becomes [`Unsatisfiable`], anything else `other`.
    /// llguidance's `<non-verbose/>` marker is dropped.
    ///
    /// [`TooComplex`]: GrammarError::TooComplex
    /// [`Unsatisfiable`]: GrammarError::Unsatisfiable
    pub(crate) fn from_llguidance(msg: &str, other: impl FnOnce(String) -> GrammarError) -> GrammarError {
        let msg = clean(msg);
        if msg.contains("NoExtensionBias") {
            return GrammarError::Unsatisfiable(
                "no output can complete it (a `$ref` cycle with no way out, such as `{\"$ref\": \"#\"}`?)"
                    .into(),
            );
        }
        if WORK_LIMITS.iter().any(|m| msg.contains(m)) {
            return GrammarError::TooComplex(msg);
        }
        other(msg)
    }
}

/// What llguidance's messages say when a work limit stops it.
const WORK_LIMITS: [&str; 8] = [
    "too many expressions constructed",
    "Too many items",
    "items; max is",
    "too many states",
    "fuel exhausted",
    "DNF too large",
    "lexer precomputation failed",
    "too big (limit",
];

/// `msg` without llguidance's `<non-verbose/>` marker and surrounding whitespace.
pub(crate) fn clean(msg: &str) -> String {
    msg.replace("<non-verbose/>", "").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llguidance_messages_are_classified_and_cleaned() {
        let e = GrammarError::from_llguidance(
            "grammar matcher: NoExtensionBias\n<non-verbose/>",
            GrammarError::Matcher,
        );
        assert!(matches!(e, GrammarError::Unsatisfiable(_)), "{e:?}");
        assert!(e.is_client_error());
        let e = GrammarError::from_llguidance(
            "lexer error: too many expressions constructed\n<non-verbose/>",
            GrammarError::Matcher,
        );
        assert_eq!(e, GrammarError::TooComplex("lexer error: too many expressions constructed".into()));
        let e = GrammarError::from_llguidance("token not allowed\n<non-verbose/>", GrammarError::Matcher);
        assert_eq!(e, GrammarError::Matcher("token not allowed".into()));
        assert!(!e.is_client_error());
        assert!(!GrammarError::Setup(String::new()).is_client_error());
        assert!(GrammarError::Schema(String::new()).is_client_error());
    }
}
