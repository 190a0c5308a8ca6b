//! The golden files: llama.cpp's token ids, greedy steps with top-5 logits, and rendered chat
//! prompts for the fixture models (see `tests/golden/README.md`).

use serde::Deserialize;

/// One `golden/<model>.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Golden {
    /// GGUF file name the reference ran on.
    pub model: String,
    /// sha256 of that GGUF.
    pub sha256: String,
    /// Whether the GGUF adds BOS to raw prompts.
    pub add_bos: bool,
    /// Tokenizer cases (no BOS added).
    pub tokenize: Vec<TokenizeCase>,
    /// Raw-prompt greedy completions.
    pub completions: Vec<Completion>,
    /// Chat-template renders and greedy completions.
    pub chats: Vec<Chat>,
}

/// `tokenize[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenizeCase {
    /// Input text.
    pub text: String,
    /// Whether special-token text is parsed into special ids.
    pub parse_special: bool,
    /// Expected ids.
    pub ids: Vec<u32>,
}

/// One generated step: llama.cpp's top-5 `(id, logit)`; the greedy token is `top5[0].0`.
#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    /// Top five candidates, best first.
    pub top5: Vec<(u32, f32)>,
}

/// `completions[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Completion {
    /// The raw prompt.
    pub prompt: String,
    /// Its ids (BOS only where the GGUF says so).
    pub prompt_ids: Vec<u32>,
    /// Generated steps until EOS or 32 tokens.
    pub steps: Vec<Step>,
}

/// A chat message.
#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Message text.
    pub content: String,
}

/// `chats[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Chat {
    /// The conversation.
    pub messages: Vec<Message>,
    /// The template's output with `add_generation_prompt = true`.
    pub rendered: String,
    /// Ids of `rendered` with special tokens parsed.
    pub prompt_ids: Vec<u32>,
    /// Generated steps.
    pub steps: Vec<Step>,
}

impl Golden {
    /// Loads `tests/golden/<model>.json`.
    pub fn load(model: &str) -> Golden {
        let path = crate::golden_dir().join(format!("{model}.json"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
    }
}

/// One `golden/embeddings_<model>.json`: llama.cpp's `llama-embedding` vectors of a set of
/// texts (written by `cargo xtask embed-goldens`).
#[derive(Debug, Clone, Deserialize)]
pub struct EmbedGolden {
    /// How the vectors were made (llama.cpp build, flags).
    pub reference: String,
    /// GGUF file name the reference ran on.
    pub model: String,
    /// sha256 of that GGUF.
    pub sha256: String,
    /// The model's pooling (`mean`, `cls`, `last`).
    pub pooling: String,
    /// Vector length.
    pub dim: usize,
    /// The texts, embedded as they are (no prefixes added).
    pub texts: Vec<String>,
    /// One L2-normalised vector per text.
    pub embeddings: Vec<Vec<f32>>,
}

impl EmbedGolden {
    /// Loads `tests/golden/embeddings_<model>.json`.
    pub fn load(model: &str) -> EmbedGolden {
        let path = crate::golden_dir().join(format!("embeddings_{model}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("reading {}: {e} (cargo xtask embed-goldens writes it)", path.display())
        });
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
    }
}
