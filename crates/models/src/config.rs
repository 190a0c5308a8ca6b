//! `Config`: every hyper-parameter a forward pass needs, parsed from GGUF metadata in exactly
//! one place.

use std::collections::HashSet;

use hearth_gguf::GgufFile;
use hearth_kernels::ops::RopeMode;

use crate::ModelError;

/// The supported architectures. Each owns its metadata key prefix and RoPE convention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// Llama 2/3, Mistral, SmolLM2: RMSNorm, SwiGLU, NORM RoPE, optional `rope_freqs`.
    Llama,
    /// Qwen2 / Qwen2.5: as llama plus Q/K/V biases, NEOX RoPE.
    Qwen2,
    /// Gemma 3: Q/K norms, post-attention/post-FFN norms, GeGLU, scaled embeddings,
    /// interleaved local (sliding-window) and global layers with their own RoPE bases.
    Gemma3,
}

impl Arch {
    /// Parses `general.architecture`.
    pub fn from_name(name: &str) -> Result<Arch, ModelError> {
        match name {
            "llama" => Ok(Arch::Llama),
            "qwen2" => Ok(Arch::Qwen2),
            "gemma3" => Ok(Arch::Gemma3),
            other => Err(ModelError::UnsupportedArch(other.to_owned())),
        }
    }

    /// The metadata key prefix (`llama.`, `qwen2.`, `gemma3.`).
    pub fn prefix(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Gemma3 => "gemma3",
        }
    }

    /// The RoPE pairing. Getting this wrong does not crash: it silently scrambles attention,
    /// which is why it is decided here, by architecture, and nowhere else. llama rotates
    /// adjacent pairs (GGML NORM); qwen2 and gemma rotate halves (GGML NEOX).
    pub fn rope_mode(self) -> RopeMode {
        match self {
            Arch::Llama => RopeMode::Norm,
            Arch::Qwen2 | Arch::Gemma3 => RopeMode::Neox,
        }
    }
}

/// RoPE scaling as the GGUF declares it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RopeScaling {
    /// `1 / rope.scaling.factor` (1 when unscaled).
    pub freq_scale: f32,
    /// YaRN's extrapolation mix: 1 for `yarn`, else 0.
    pub ext_factor: f32,
    /// `rope.scaling.attn_factor` (1 when absent).
    pub attn_factor: f32,
    /// `rope.scaling.original_context_length` (training context when absent).
    pub n_ctx_orig: usize,
}

/// Hyper-parameters of one model.
#[derive(Clone, Debug)]
pub struct Config {
    /// Architecture.
    pub arch: Arch,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Residual stream width.
    pub n_embd: usize,
    /// FFN hidden width.
    pub n_ff: usize,
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads (grouped-query attention when fewer than `n_head`).
    pub n_head_kv: usize,
    /// Key (and query) head size.
    pub head_dim: usize,
    /// Value head size.
    pub head_dim_v: usize,
    /// Rotated dimensions per head.
    pub n_rot: usize,
    /// Vocabulary size (rows of the embedding table).
    pub n_vocab: usize,
    /// Context length the model was trained with.
    pub n_ctx_train: usize,
    /// RMSNorm epsilon.
    pub rms_eps: f32,
    /// RoPE base of global layers.
    pub rope_base: f32,
    /// RoPE base of sliding-window layers (Gemma 3: 10 000 unless the GGUF says otherwise).
    pub rope_base_swa: f32,
    /// RoPE scaling.
    pub rope_scaling: RopeScaling,
    /// Sliding-window size (`attention.sliding_window`), 0 when none.
    pub sliding_window: usize,
    /// Per layer: does it attend through the sliding window?
    pub swa_layers: Vec<bool>,
    /// Multiplier applied to queries before attention (`1/sqrt(head_dim)` for most).
    pub attn_scale: f32,
    /// Final-logit soft-capping (`tanh(x / c) * c`), 0 when off.
    pub final_softcap: f32,
    /// Multiplier of the input embeddings (Gemma: `sqrt(n_embd)`).
    pub embd_scale: f32,
}

impl Config {
    /// Parses the metadata of a model file and checks every count against the tensors the
    /// file holds, before anything is sized by it: a hostile `block_count` of 2^32 - 1 is an
    /// error naming the key, not a 2 TB allocation.
    pub fn from_gguf(file: &GgufFile) -> Result<Config, ModelError> {
        let meta = file.metadata();
        let arch = Arch::from_name(meta.architecture()?)?;
        let p = arch.prefix();
        let key = |s: &str| format!("{p}.{s}");
        let bad = |s: String| ModelError::Config(s);
        let check = Check { file };

        let n_layer = meta.usize(&key("block_count"))?;
        check.blocks(&key("block_count"), n_layer)?;

        // token_embd is [n_embd, n_vocab]: it fixes both.
        let embd = check.dims2("token_embd.weight")?;
        let n_embd = meta.usize(&key("embedding_length"))?;
        check.equal(&key("embedding_length"), n_embd, embd[0], "token_embd.weight has {} columns")?;
        let n_vocab = match meta.opt_usize(&key("vocab_size"))? {
            Some(n) => n,
            None => meta.str_array("tokenizer.ggml.tokens")?.len(),
        };
        if let Some(tokens) = meta.opt_str_array("tokenizer.ggml.tokens")?
            && tokens.len() != n_vocab
        {
            return Err(ModelError::BadMetadata {
                key: key("vocab_size"),
                value: n_vocab.to_string(),
                reason: format!("tokenizer.ggml.tokens holds {} tokens", tokens.len()),
            });
        }
        check.equal(&key("vocab_size"), n_vocab, embd[1], "token_embd.weight has {} rows")?;

        let n_head = meta.usize(&key("attention.head_count"))?;
        let n_head_kv = meta.opt_usize(&key("attention.head_count_kv"))?.unwrap_or(n_head);
        check.nonzero(&key("attention.head_count"), n_head)?;
        check.nonzero(&key("attention.head_count_kv"), n_head_kv)?;
        if n_head % n_head_kv != 0 {
            return Err(ModelError::BadMetadata {
                key: key("attention.head_count_kv"),
                value: n_head_kv.to_string(),
                reason: format!("does not divide attention.head_count ({n_head})"),
            });
        }
        let key_length = meta.opt_usize(&key("attention.key_length"))?;
        let value_length = meta.opt_usize(&key("attention.value_length"))?;
        if (key_length.is_none() || value_length.is_none()) && n_embd % n_head != 0 {
            return Err(ModelError::BadMetadata {
                key: key("attention.head_count"),
                value: n_head.to_string(),
                reason: format!(
                    "does not divide embedding_length ({n_embd}) and no key/value length is given"
                ),
            });
        }
        let head_dim = key_length.unwrap_or(n_embd / n_head);
        let head_dim_v = value_length.unwrap_or(n_embd / n_head);
        let n_rot = meta.opt_usize(&key("rope.dimension_count"))?.unwrap_or(head_dim);
        if head_dim == 0 || n_rot > head_dim || n_rot % 2 != 0 || head_dim_v != head_dim {
            return Err(bad(format!(
                "unsupported head shape: key {head_dim}, value {head_dim_v}, rotary {n_rot}"
            )));
        }
        // The first block's projections fix the head shapes (Weights::load checks every block).
        let q = check.dims2("blk.0.attn_q.weight")?;
        let k = check.dims2("blk.0.attn_k.weight")?;
        let heads = |n: usize| n.checked_mul(head_dim).map_or(u64::MAX, |d| d as u64);
        if heads(n_head) != q[1] {
            return Err(ModelError::BadMetadata {
                key: key("attention.head_count"),
                value: n_head.to_string(),
                reason: format!(
                    "{n_head} heads of {head_dim} need {} query rows, blk.0.attn_q.weight has {}",
                    n_head as u128 * head_dim as u128,
                    q[1]
                ),
            });
        }
        if heads(n_head_kv) != k[1] {
            return Err(ModelError::BadMetadata {
                key: key("attention.head_count_kv"),
                value: n_head_kv.to_string(),
                reason: format!(
                    "{n_head_kv} heads of {head_dim} need {} key rows, blk.0.attn_k.weight has {}",
                    n_head_kv as u128 * head_dim as u128,
                    k[1]
                ),
            });
        }
        let n_ff = meta.usize(&key("feed_forward_length"))?;
        let up = check.dims2("blk.0.ffn_up.weight")?;
        check.equal(&key("feed_forward_length"), n_ff, up[1], "blk.0.ffn_up.weight has {} rows")?;

        let n_ctx_train = meta.usize(&key("context_length"))?;
        check.nonzero(&key("context_length"), n_ctx_train)?;
        let rms_eps = meta.f32(&key("attention.layer_norm_rms_epsilon"))?;
        let rope_base = meta.opt_f32(&key("rope.freq_base"))?.unwrap_or(10_000.0);
        let rope_base_swa = meta.opt_f32(&key("rope.freq_base_swa"))?.unwrap_or(10_000.0);

        let scaling_type = meta.opt_str(&key("rope.scaling.type"))?.unwrap_or("linear");
        let factor = match meta.opt_f32(&key("rope.scaling.factor"))? {
            Some(f) => f,
            None => meta.opt_f32(&key("rope.scale_linear"))?.unwrap_or(0.0),
        };
        let rope_scaling = RopeScaling {
            freq_scale: if factor == 0.0 { 1.0 } else { 1.0 / factor },
            ext_factor: match scaling_type {
                "yarn" => 1.0,
                "none" | "linear" => 0.0,
                other => return Err(bad(format!("rope scaling type '{other}' is not supported"))),
            },
            attn_factor: meta.opt_f32(&key("rope.scaling.attn_factor"))?.unwrap_or(1.0),
            n_ctx_orig: meta.opt_usize(&key("rope.scaling.original_context_length"))?.unwrap_or(n_ctx_train),
        };

        let sliding_window = meta.opt_usize(&key("attention.sliding_window"))?.unwrap_or(0);
        let swa_layers = if sliding_window == 0 {
            vec![false; n_layer]
        } else {
            match meta.get(&key("attention.sliding_window_pattern")) {
                Some(hearth_gguf::Value::Array(hearth_gguf::Array::Bool(v))) if v.len() == n_layer => {
                    v.clone()
                }
                Some(v) => {
                    let n = v.as_int().ok_or_else(|| {
                        bad(format!("{}: unsupported value {v}", key("attention.sliding_window_pattern")))
                    })?;
                    pattern(n_layer, n as usize)
                }
                // Gemma 3: five local layers, then one global; llama (Mistral): every layer.
                None if arch == Arch::Gemma3 => pattern(n_layer, 6),
                None => vec![true; n_layer],
            }
        };

        let (attn_scale, final_softcap, embd_scale) = match arch {
            Arch::Llama | Arch::Qwen2 => (1.0 / (head_dim as f32).sqrt(), 0.0, 1.0),
            Arch::Gemma3 => {
                // gemma_pytorch: the 27B scales queries by 1/sqrt(n_embd / n_head), the others
                // by 1/sqrt(head_dim).
                let scale = if n_layer == 62 {
                    1.0 / ((n_embd / n_head) as f32).sqrt()
                } else {
                    1.0 / (head_dim as f32).sqrt()
                };
                let softcap = meta.opt_f32(&key("final_logit_softcapping"))?.unwrap_or(0.0);
                (scale, softcap, (n_embd as f32).sqrt())
            }
        };

        Ok(Config {
            arch,
            n_layer,
            n_embd,
            n_ff,
            n_head,
            n_head_kv,
            head_dim,
            head_dim_v,
            n_rot,
            n_vocab,
            n_ctx_train,
            rms_eps,
            rope_base,
            rope_base_swa,
            rope_scaling,
            sliding_window,
            swa_layers,
            attn_scale,
            final_softcap,
            embd_scale,
        })
    }

    /// Width of one position's keys (and values) across kv heads.
    pub fn kv_dim(&self) -> usize {
        self.n_head_kv * self.head_dim
    }

    /// Width of all query heads.
    pub fn q_dim(&self) -> usize {
        self.n_head * self.head_dim
    }

    /// Query heads per kv head.
    pub fn gqa(&self) -> usize {
        self.n_head / self.n_head_kv
    }
}

/// Checks of metadata counts against the tensors of the file (shared with the embedders'
/// [`EmbedConfig`](crate::EmbedConfig)).
pub(crate) struct Check<'a> {
    pub(crate) file: &'a GgufFile,
}

impl Check<'_> {
    /// `block_count` must be the number of blocks the file holds tensors for (`blk.N.*`).
    /// Counting distinct indices (not taking the largest) keeps one `blk.4000000000.x` tensor
    /// from vouching for four billion blocks.
    pub(crate) fn blocks(&self, key: &str, n_layer: usize) -> Result<(), ModelError> {
        let blocks: HashSet<&str> = self
            .file
            .tensors()
            .iter()
            .filter_map(|t| t.name.strip_prefix("blk.")?.split_once('.').map(|(i, _)| i))
            .collect();
        if n_layer == 0 || n_layer != blocks.len() {
            return Err(ModelError::BadMetadata {
                key: key.to_owned(),
                value: n_layer.to_string(),
                reason: format!("the file holds tensors for {} blocks", blocks.len()),
            });
        }
        Ok(())
    }

    /// The dims of a 2-D tensor.
    pub(crate) fn dims2(&self, name: &str) -> Result<[u64; 2], ModelError> {
        let t = self.file.tensor(name).ok_or_else(|| ModelError::MissingTensor { name: name.to_owned() })?;
        match t.dims[..] {
            [cols, rows] => Ok([cols, rows]),
            _ => Err(ModelError::BadShape {
                name: name.to_owned(),
                dims: t.dims.clone(),
                expected: vec![0, 0],
            }),
        }
    }

    /// `value` must be `found`; `what` says where `found` comes from (`{}` marks the number).
    pub(crate) fn equal(&self, key: &str, value: usize, found: u64, what: &str) -> Result<(), ModelError> {
        if value == 0 || value as u64 != found {
            return Err(ModelError::BadMetadata {
                key: key.to_owned(),
                value: value.to_string(),
                reason: what.replace("{}", &found.to_string()),
            });
        }
        Ok(())
    }

    pub(crate) fn nonzero(&self, key: &str, value: usize) -> Result<(), ModelError> {
        if value == 0 {
            return Err(ModelError::BadMetadata {
                key: key.to_owned(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// llama.cpp's `set_swa_pattern(n, dense_first = false)`: in every group of `n` layers the
/// last is global, the others use the sliding window (`n = 0`: all layers slide).
fn pattern(n_layer: usize, n: usize) -> Vec<bool> {
    (0..n_layer).map(|il| n == 0 || il % n < n - 1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemma_pattern_has_every_sixth_layer_global() {
        let p = pattern(18, 6);
        let global: Vec<usize> = (0..18).filter(|&i| !p[i]).collect();
        assert_eq!(global, vec![5, 11, 17]);
    }
}
