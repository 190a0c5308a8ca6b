//! The model shapes: architecture, hyper-parameters, vocab and chat template of each
//! real model [`SHAPES`] imitates.

/// The shapes `cargo xtask test` generates before running the tests (the 1B/1.5B ones are
/// for benchmarks only).
pub const BIG: [&str; 3] = ["mistral-7b", "llama3.2-3b", "qwen2.5-coder-7b"];

/// The two architectures of the shapes (metadata prefix and per-arch tensors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// `llama` (Mistral, Llama 3.x): `rope.dimension_count` and `vocab_size` keys.
    Llama,
    /// `qwen2`: adds `attn_{q,k,v}.bias`.
    Qwen2,
}

impl Arch {
    pub(super) fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
        }
    }

    /// `attention.layer_norm_rms_epsilon` of the real models.
    pub(super) fn rms_eps(self) -> f32 {
        match self {
            Arch::Llama => 1e-5,
            Arch::Qwen2 => 1e-6,
        }
    }
}

/// Where the chat template comes from.
#[derive(Clone, Copy, Debug)]
pub enum Template {
    /// The vocab GGUF's own `tokenizer.chat_template`, if it has one.
    Vocab,
    /// A template of llama.cpp's collection, unpacked by `cargo xtask fixtures` into
    /// `$HEARTH_FIXTURES/templates/`.
    Cached(&'static str),
    /// The real model's template text.
    Inline(&'static str),
}

/// One model shape.
#[derive(Clone, Debug)]
pub struct Shape {
    /// File stem: `<name>-q4_k_m.gguf`.
    pub name: &'static str,
    /// Architecture.
    pub arch: Arch,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Residual width.
    pub n_embd: usize,
    /// FFN hidden width.
    pub n_ff: usize,
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads.
    pub n_head_kv: usize,
    /// Embedding rows (the token list is padded to this).
    pub n_vocab: usize,
    /// `rope.freq_base`.
    pub rope_base: f32,
    /// Output projection shares the embedding table (no `output.weight`).
    pub tied: bool,
    /// `context_length`.
    pub n_ctx_train: u32,
    /// llama.cpp vocab suite the tokenizer is copied from (`ggml-vocab-<vocab>.gguf`).
    pub vocab: &'static str,
    /// Llama 3 RoPE scaling: a `rope_freqs.weight` tensor (factor 32, low/high frequency
    /// factors 1/4, original context 8192).
    pub llama3_rope: bool,
    /// The HF config has `head_dim`, so the converter writes `attention.key_length` and
    /// `attention.value_length`.
    pub head_dim_keys: bool,
    /// The chat template.
    pub template: Template,
}

impl Shape {
    pub(super) fn head_dim(&self) -> usize {
        self.n_embd / self.n_head
    }

    /// File name in the output folder.
    pub fn file_name(&self) -> String {
        format!("{}-q4_k_m.gguf", self.name)
    }
}

/// Mistral-7B-Instruct-v0.2's chat template (as in llama.cpp's `tests/test-chat-template.cpp`);
/// llama.cpp's `llama-spm` vocab carries none.
const MISTRAL_V02_TEMPLATE: &str = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

/// Llama 3.2 1B and 3B Instruct share this template.
const LLAMA32_TEMPLATE: &str = "meta-llama-Llama-3.2-3B-Instruct.jinja";

/// The public shapes (`../shared/FIXTURES.md`).
pub const SHAPES: [Shape; 5] = [
    Shape {
        name: "mistral-7b",
        arch: Arch::Llama,
        n_layer: 32,
        n_embd: 4096,
        n_ff: 14336,
        n_head: 32,
        n_head_kv: 8,
        n_vocab: 32000,
        rope_base: 1e6,
        tied: false,
        n_ctx_train: 32768,
        vocab: "llama-spm",
        llama3_rope: false,
        head_dim_keys: false,
        template: Template::Inline(MISTRAL_V02_TEMPLATE),
    },
    Shape {
        name: "llama3.2-3b",
        arch: Arch::Llama,
        n_layer: 28,
        n_embd: 3072,
        n_ff: 8192,
        n_head: 24,
        n_head_kv: 8,
        n_vocab: 128256,
        rope_base: 5e5,
        tied: true,
        n_ctx_train: 131072,
        vocab: "llama-bpe",
        llama3_rope: true,
        head_dim_keys: true,
        template: Template::Cached(LLAMA32_TEMPLATE),
    },
    Shape {
        name: "llama3.2-1b",
        arch: Arch::Llama,
        n_layer: 16,
        n_embd: 2048,
        n_ff: 8192,
        n_head: 32,
        n_head_kv: 8,
        n_vocab: 128256,
        rope_base: 5e5,
        tied: true,
        n_ctx_train: 131072,
        vocab: "llama-bpe",
        llama3_rope: true,
        head_dim_keys: true,
        template: Template::Cached(LLAMA32_TEMPLATE),
    },
    Shape {
        name: "qwen2.5-coder-7b",
        arch: Arch::Qwen2,
        n_layer: 28,
        n_embd: 3584,
        n_ff: 18944,
        n_head: 28,
        n_head_kv: 4,
        n_vocab: 152064,
        rope_base: 1e6,
        tied: false,
        n_ctx_train: 32768,
        vocab: "qwen2",
        llama3_rope: false,
        head_dim_keys: false,
        template: Template::Vocab,
    },
    Shape {
        name: "qwen2.5-coder-1.5b",
        arch: Arch::Qwen2,
        n_layer: 28,
        n_embd: 1536,
        n_ff: 8960,
        n_head: 12,
        n_head_kv: 2,
        n_vocab: 151936,
        rope_base: 1e6,
        tied: true,
        n_ctx_train: 32768,
        vocab: "qwen2",
        llama3_rope: false,
        head_dim_keys: false,
        template: Template::Vocab,
    },
];
