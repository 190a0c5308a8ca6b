//! The one error type of this crate: what is wrong with a GGUF's tokenizer metadata.

/// Why a tokenizer could not be built from GGUF metadata.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A key is missing or has the wrong type (the GGUF layer names the key).
    #[error("tokenizer metadata: {0}")]
    Metadata(#[from] hearth_gguf::GgufError),
    /// `tokenizer.ggml.model` names a tokenizer hearth does not implement.
    #[error("tokenizer model '{model}' is not supported: {reason}")]
    UnsupportedModel {
        /// The `tokenizer.ggml.model` value.
        model: String,
        /// What it is and what hearth supports instead.
        reason: &'static str,
    },
    /// `tokenizer.ggml.pre` names a pre-tokenizer hearth does not know.
    #[error("pre-tokenizer '{0}' (tokenizer.ggml.pre) is not supported")]
    UnsupportedPreTokenizer(String),
    /// A pre-tokenizer expression failed to compile (a bug in hearth's translation).
    #[error("pre-tokenizer '{pre}': {message}")]
    Regex {
        /// The pre-tokenizer name.
        pre: String,
        /// The expression and the compiler's message.
        message: String,
    },
    /// `tokenizer.ggml.tokens` is empty.
    #[error("tokenizer.ggml.tokens is empty")]
    EmptyVocab,
    /// More tokens than ids can address.
    #[error("tokenizer.ggml.tokens has {0} entries, more than a u32 id can address")]
    TooManyTokens(usize),
    /// A per-token array is shorter than the token list.
    #[error("{key} has {len} entries, fewer than the {n_tokens} tokens")]
    ArrayTooShort {
        /// The metadata key.
        key: &'static str,
        /// Its length.
        len: usize,
        /// The number of tokens.
        n_tokens: usize,
    },
    /// The same text appears twice in the token list (llama.cpp refuses such a vocab too).
    #[error("token {id} {text:?} duplicates token {first} in tokenizer.ggml.tokens")]
    DuplicateToken {
        /// The later id.
        id: u32,
        /// The earlier id.
        first: u32,
        /// The token text.
        text: String,
    },
}
