//! `EmbedConfig`: the hyper-parameters of a BERT-family embedder, parsed from GGUF metadata
//! in one place and checked against the file's tensors before anything is sized by them.

use hearth_gguf::GgufFile;

use crate::ModelError;
use crate::config::Check;

/// The embedding architectures. Each owns its metadata key prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbedArch {
    /// BERT (all-MiniLM, bge): learned position embeddings, separate Q/K/V with biases,
    /// GELU FFN with biases (`bert`).
    Bert,
    /// nomic-bert (nomic-embed-text v1/v1.5): no position table but NEOX RoPE, fused QKV,
    /// SwiGLU FFN, no biases (`nomic-bert`).
    NomicBert,
}

impl EmbedArch {
    /// Parses `general.architecture`; `None` for architectures that are not embedders.
    pub fn from_name(name: &str) -> Option<EmbedArch> {
        match name {
            "bert" => Some(EmbedArch::Bert),
            "nomic-bert" => Some(EmbedArch::NomicBert),
            _ => None,
        }
    }

    /// The metadata key prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            EmbedArch::Bert => "bert",
            EmbedArch::NomicBert => "nomic-bert",
        }
    }
}

/// How a sequence's token states become one vector (`<arch>.pooling_type`, llama.cpp's
/// `llama_pooling_type` numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// The mean of all token states (1: sentence-transformers' MiniLM, nomic-embed-text).
    Mean,
    /// The first token's state, `[CLS]` (2: bge).
    Cls,
    /// The last token's state (3).
    Last,
}

impl Pooling {
    /// From the GGUF number. `0` (none: one vector per token) and `4` (rank: a classifier
    /// head) are not sentence embeddings and are refused.
    pub fn from_gguf(key: &str, value: u32) -> Result<Pooling, ModelError> {
        match value {
            1 => Ok(Pooling::Mean),
            2 => Ok(Pooling::Cls),
            3 => Ok(Pooling::Last),
            other => Err(ModelError::BadMetadata {
                key: key.to_owned(),
                value: other.to_string(),
                reason: match other {
                    0 => "pooling 'none' gives a vector per token; hearth embeds whole texts (mean 1, cls 2, last 3)".into(),
                    4 => "pooling 'rank' is a reranker's classifier head, not an embedding".into(),
                    _ => "unknown pooling type (mean 1, cls 2, last 3)".into(),
                },
            }),
        }
    }

    /// Name as the OpenAI-style APIs and llama.cpp's `--pooling` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Last => "last",
        }
    }
}

/// Hyper-parameters of one embedding model.
#[derive(Clone, Debug)]
pub struct EmbedConfig {
    /// Architecture.
    pub arch: EmbedArch,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Hidden width, and the width of the output vectors.
    pub n_embd: usize,
    /// FFN hidden width.
    pub n_ff: usize,
    /// Attention heads (BERT has no grouped-query attention: as many key/value heads).
    pub n_head: usize,
    /// Head size (`n_embd / n_head`).
    pub head_dim: usize,
    /// Vocabulary size (rows of the token embedding table).
    pub n_vocab: usize,
    /// Longest input in tokens (`context_length`: BERT's position table has this many rows).
    pub n_ctx_train: usize,
    /// LayerNorm epsilon (`attention.layer_norm_epsilon`).
    pub norm_eps: f32,
    /// RoPE base (nomic-bert; 10 000 when absent).
    pub rope_base: f32,
    /// Pooling of the token states into one vector (mean when the file does not say).
    pub pooling: Pooling,
    /// `1/sqrt(head_dim)`.
    pub attn_scale: f32,
}

impl EmbedConfig {
    /// Parses the metadata of an embedding model file and checks every count against the
    /// tensors the file holds (as [`Config::from_gguf`](crate::Config::from_gguf) does).
    pub fn from_gguf(file: &GgufFile) -> Result<EmbedConfig, ModelError> {
        let meta = file.metadata();
        let name = meta.architecture()?;
        let arch = EmbedArch::from_name(name).ok_or_else(|| ModelError::NotAnEmbedder(name.to_owned()))?;
        let p = arch.prefix();
        let key = |s: &str| format!("{p}.{s}");
        let check = Check { file };

        let n_layer = meta.usize(&key("block_count"))?;
        check.blocks(&key("block_count"), n_layer)?;

        let embd = check.dims2("token_embd.weight")?;
        let n_embd = meta.usize(&key("embedding_length"))?;
        check.equal(&key("embedding_length"), n_embd, embd[0], "token_embd.weight has {} columns")?;
        let n_vocab = meta.str_array("tokenizer.ggml.tokens")?.len();
        check.equal("tokenizer.ggml.tokens", n_vocab, embd[1], "token_embd.weight has {} rows")?;

        let n_head = meta.usize(&key("attention.head_count"))?;
        check.nonzero(&key("attention.head_count"), n_head)?;
        if n_embd % n_head != 0 {
            return Err(ModelError::BadMetadata {
                key: key("attention.head_count"),
                value: n_head.to_string(),
                reason: format!("does not divide embedding_length ({n_embd})"),
            });
        }
        if let Some(kv) = meta.opt_usize(&key("attention.head_count_kv"))?
            && kv != n_head
        {
            return Err(ModelError::BadMetadata {
                key: key("attention.head_count_kv"),
                value: kv.to_string(),
                reason: format!("BERT-family models attend with all {n_head} heads"),
            });
        }
        let head_dim = n_embd / n_head;
        if head_dim % 2 != 0 {
            return Err(ModelError::Config(format!("head size {head_dim} is odd")));
        }

        let n_ff = meta.usize(&key("feed_forward_length"))?;
        let up = check.dims2("blk.0.ffn_up.weight")?;
        check.equal(&key("feed_forward_length"), n_ff, up[1], "blk.0.ffn_up.weight has {} rows")?;

        let n_ctx_train = meta.usize(&key("context_length"))?;
        check.nonzero(&key("context_length"), n_ctx_train)?;
        if arch == EmbedArch::Bert {
            let pos = check.dims2("position_embd.weight")?;
            check.equal(&key("context_length"), n_ctx_train, pos[1], "position_embd.weight has {} rows")?;
        }
        if meta.opt_bool(&key("attention.causal"))? == Some(true) {
            return Err(ModelError::BadMetadata {
                key: key("attention.causal"),
                value: "true".into(),
                reason: "hearth's BERT-family encoder attends both ways".into(),
            });
        }
        let norm_eps = meta.f32(&key("attention.layer_norm_epsilon"))?;
        let rope_base = meta.opt_f32(&key("rope.freq_base"))?.unwrap_or(10_000.0);
        let pooling_key = key("pooling_type");
        let pooling = match meta.opt_u32(&pooling_key)? {
            Some(v) => Pooling::from_gguf(&pooling_key, v)?,
            // Files converted before llama.cpp wrote the key (early 2024). Mean is what the
            // sentence-transformers models among them use; a CLS model (bge) needs
            // `Embedder::with_pooling`.
            None => {
                tracing::warn!(key = %pooling_key, "no pooling type in the file: pooling by mean");
                Pooling::Mean
            }
        };

        Ok(EmbedConfig {
            arch,
            n_layer,
            n_embd,
            n_ff,
            n_head,
            head_dim,
            n_vocab,
            n_ctx_train,
            norm_eps,
            rope_base,
            pooling,
            attn_scale: 1.0 / (head_dim as f32).sqrt(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_numbers_are_llama_cpp_s() {
        assert_eq!(Pooling::from_gguf("k", 1).unwrap(), Pooling::Mean);
        assert_eq!(Pooling::from_gguf("k", 2).unwrap(), Pooling::Cls);
        assert_eq!(Pooling::from_gguf("k", 3).unwrap(), Pooling::Last);
        for bad in [0, 4, 7] {
            let e = Pooling::from_gguf("bert.pooling_type", bad).unwrap_err().to_string();
            assert!(e.contains("bert.pooling_type"), "{e}");
            assert_eq!(e.contains("mean 1"), bad != 4, "{e}");
        }
    }

    #[test]
    fn only_bert_family_names_are_embedders() {
        assert_eq!(EmbedArch::from_name("bert"), Some(EmbedArch::Bert));
        assert_eq!(EmbedArch::from_name("nomic-bert"), Some(EmbedArch::NomicBert));
        assert_eq!(EmbedArch::from_name("llama"), None);
    }
}
