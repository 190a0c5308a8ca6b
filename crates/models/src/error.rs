//! Errors of model loading and the forward pass.

/// What went wrong loading a model or running it.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)]
pub enum ModelError {
    #[error(transparent)]
    Gguf(#[from] hearth_gguf::GgufError),
    #[error(
        "architecture '{0}' is not supported for generation (hearth runs llama, qwen2 and gemma3; bert and nomic-bert files are embedders: `hearth embed`)"
    )]
    UnsupportedArch(String),
    #[error("architecture '{0}' is not an embedder hearth runs (bert, nomic-bert)")]
    NotAnEmbedder(String),
    #[error("metadata: {0}")]
    Config(String),
    #[error("metadata {key} = {value} does not fit the file: {reason}")]
    BadMetadata { key: String, value: String, reason: String },
    #[error("tensor '{name}' is missing")]
    MissingTensor { name: String },
    #[error("tensor '{name}': dims {dims:?}, expected {expected:?}")]
    BadShape { name: String, dims: Vec<u64>, expected: Vec<u64> },
    #[error("tensor '{name}': {reason}")]
    Tensor { name: String, reason: String },
    #[error("tensor '{name}': type {ty} is not supported by hearth's kernels")]
    UnsupportedType { name: String, ty: String },
    #[error("token id {id} is outside the vocabulary ({n_vocab} tokens)")]
    BadToken { id: u32, n_vocab: usize },
    #[error("context full: {needed} positions needed, the cache holds {capacity}")]
    ContextFull { needed: usize, capacity: usize },
    #[error("empty batch")]
    EmptyBatch,
    #[error("input {index} is {tokens} tokens long; this model embeds at most {max}: shorten or split it")]
    TooLong { index: usize, tokens: usize, max: usize },
    #[error("input {index} has no tokens")]
    EmptyInput { index: usize },
    #[error(transparent)]
    Tokenizer(#[from] hearth_tokenizer::TokenizerError),
    #[error("starting the embedder's threads: {0}")]
    Threads(std::io::Error),
}
