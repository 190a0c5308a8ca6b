//! Errors of the generation layer: each names what was wrong and what to do.

/// What went wrong loading or generating.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)]
pub enum EngineError {
    #[error(transparent)]
    Model(#[from] hearth_models::ModelError),
    #[error(transparent)]
    Gguf(#[from] hearth_gguf::GgufError),
    #[error("tokenizer: {0}")]
    Tokenizer(#[from] hearth_tokenizer::TokenizerError),
    #[error("chat template: {0}")]
    Chat(#[from] hearth_chat::ChatError),
    #[error("sampling parameters: {0}")]
    Sampling(#[from] hearth_sampler::SamplerError),
    #[error(
        "the prompt is {prompt_tokens} tokens but the context holds {n_ctx}; shorten the prompt or raise --ctx-size"
    )]
    ContextOverflow { prompt_tokens: usize, n_ctx: usize },
    #[error("the prompt is empty")]
    EmptyPrompt,
    #[error("prompt token id {id} is outside the vocabulary (0..{n_vocab})")]
    BadPromptToken { id: u32, n_vocab: usize },
    #[error("cannot start the thread pool: {0}")]
    Threads(std::io::Error),
    #[error("invalid option: {0}")]
    Invalid(String),
    /// The request's constraint could not be compiled, or its matcher failed while
    /// generating (the generation ends with this error).
    #[error(transparent)]
    Grammar(#[from] hearth_grammar::GrammarError),
}
