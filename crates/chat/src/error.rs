//! The crate's error type.

/// Why a chat template could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// A GGUF metadata key the template needs has the wrong type.
    #[error("reading chat template metadata: {0}")]
    Metadata(#[from] hearth_gguf::GgufError),
    /// `tokenizer.ggml.{bos,eos}_token_id` points past the vocabulary.
    #[error("{key} = {id} is out of range for a vocabulary of {n_vocab} tokens")]
    TokenIdOutOfRange {
        /// The metadata key.
        key: &'static str,
        /// Its value.
        id: i64,
        /// Length of `tokenizer.ggml.tokens`.
        n_vocab: usize,
    },
    /// The template does not parse (minijinja's message, with the line).
    #[error("chat template does not compile: {detail}")]
    Syntax {
        /// What the parser said, including where.
        detail: String,
    },
    /// The template called `raise_exception(message)`, as templates do to reject a
    /// conversation they cannot format (e.g. roles that do not alternate).
    #[error("chat template raised an exception: {message}")]
    Raised {
        /// The template's own message.
        message: String,
    },
    /// Rendering failed for another reason: an unsupported construct, a type error, or the
    /// template exceeding its step budget.
    #[error("chat template failed to render: {detail}")]
    Render {
        /// What the engine said, including where.
        detail: String,
    },
    /// A tool definition in [`crate::RenderOptions::tools`] is not an OpenAI function tool.
    #[error("tools[{index}] is not a valid function tool: {detail}")]
    InvalidTool {
        /// Its position in the list.
        index: usize,
        /// What is wrong with it.
        detail: String,
    },
    /// A tool call's `arguments` is not JSON, and the template (or the tool fallback) needs
    /// it as an object.
    #[error("the arguments of the call to `{name}` are not valid JSON: {detail}")]
    ToolArguments {
        /// The called function.
        name: String,
        /// The JSON parser's message.
        detail: String,
    },
}
