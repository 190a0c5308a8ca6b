//! `Weights`: the model's tensors, immutable and shared. Matrices stay in the mmap (quantized,
//! never dequantized wholesale); only the small f32 vectors (norms, biases) are copied out.

use hearth_gguf::{GgufFile, TensorInfo};
use hearth_kernels::{DType, QMatrix};

use crate::repacked::Repacked;
use crate::{Config, ModelError};

/// One transformer block. Matrices are [`QMatrix`] views into the mapped file, `[rows, cols]`
/// of the product `out = W · x` (ggml dims `[cols, rows]`), resolved and checked once at load.
#[derive(Clone, Debug)]
pub struct Layer<'a> {
    /// `[n_embd]` pre-attention RMSNorm weight.
    pub attn_norm: Vec<f32>,
    /// `[n_head · head_dim, n_embd]` query projection.
    pub wq: QMatrix<'a>,
    /// `[n_head_kv · head_dim, n_embd]` key projection.
    pub wk: QMatrix<'a>,
    /// `[n_head_kv · head_dim, n_embd]` value projection.
    pub wv: QMatrix<'a>,
    /// `[n_head · head_dim]` query bias (qwen2).
    pub bq: Option<Vec<f32>>,
    /// `[n_head_kv · head_dim]` key bias (qwen2).
    pub bk: Option<Vec<f32>>,
    /// `[n_head_kv · head_dim]` value bias (qwen2).
    pub bv: Option<Vec<f32>>,
    /// `[head_dim]` per-head query RMSNorm (gemma3: every block has it).
    pub q_norm: Option<Vec<f32>>,
    /// `[head_dim]` per-head key RMSNorm (gemma3: every block has it).
    pub k_norm: Option<Vec<f32>>,
    /// `[n_embd, n_head · head_dim]` attention output projection.
    pub wo: QMatrix<'a>,
    /// `[n_embd]` norm of the attention output before the residual add (gemma3).
    pub post_attn_norm: Option<Vec<f32>>,
    /// `[n_embd]` pre-FFN RMSNorm weight.
    pub ffn_norm: Vec<f32>,
    /// `[n_ff, n_embd]` gate projection.
    pub w_gate: QMatrix<'a>,
    /// `[n_ff, n_embd]` up projection.
    pub w_up: QMatrix<'a>,
    /// `[n_embd, n_ff]` down projection.
    pub w_down: QMatrix<'a>,
    /// `[n_embd]` norm of the FFN output before the residual add (gemma3).
    pub post_ffn_norm: Option<Vec<f32>>,
}

/// All weights of a model, borrowed from the file they were loaded from (immutable, shared;
/// [`Model`](crate::Model) keeps the file and its weights together).
#[derive(Clone, Debug)]
pub struct Weights<'a> {
    /// `[n_vocab, n_embd]` token embeddings (rows dequantized on lookup).
    pub token_embd: QMatrix<'a>,
    /// Transformer blocks.
    pub layers: Vec<Layer<'a>>,
    /// `[n_embd]` final RMSNorm weight.
    pub output_norm: Vec<f32>,
    /// `[n_vocab, n_embd]` LM head (the embedding table when tied).
    pub output: QMatrix<'a>,
    /// `[n_rot / 2]` Llama 3 RoPE frequency factors.
    pub rope_freqs: Option<Vec<f32>>,
}

/// Finds tensors by name and checks their shapes and types (shared with the embedders).
pub(crate) struct Loader<'a> {
    pub(crate) file: &'a GgufFile,
    /// Matrices repacked for the kernel table, used instead of the file's bytes.
    pub(crate) repacked: Option<&'a Repacked>,
}

impl<'a> Loader<'a> {
    pub(crate) fn info(&self, name: &str) -> Result<&'a TensorInfo, ModelError> {
        self.file.tensor(name).ok_or_else(|| ModelError::MissingTensor { name: name.to_owned() })
    }

    pub(crate) fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<QMatrix<'a>, ModelError> {
        let t = self.info(name)?;
        if t.dims != [cols as u64, rows as u64] {
            return Err(ModelError::BadShape {
                name: name.to_owned(),
                dims: t.dims.clone(),
                expected: vec![cols as u64, rows as u64],
            });
        }
        let dtype = t.ty;
        if !hearth_kernels::supported_weight_types().any(|s| s == dtype) {
            return Err(ModelError::UnsupportedType { name: name.to_owned(), ty: dtype.name().to_owned() });
        }
        let m = match self.repacked.and_then(|r| r.get(name)) {
            Some(bytes) => QMatrix::interleaved(dtype, rows, cols, bytes),
            None => QMatrix::new(dtype, rows, cols, self.file.data(t)),
        };
        m.map_err(|e| ModelError::Tensor { name: name.to_owned(), reason: e.to_string() })
    }

    pub(crate) fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>, ModelError> {
        let t = self.info(name)?;
        if t.n_elements != len as u64 || t.dims.len() != 1 {
            return Err(ModelError::BadShape {
                name: name.to_owned(),
                dims: t.dims.clone(),
                expected: vec![len as u64],
            });
        }
        let bytes = self.file.data(t);
        let mut out = vec![0.0f32; len];
        match t.ty {
            DType::F32 => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
            }
            DType::F16 | DType::BF16 => hearth_kernels::dequantize_row(t.ty, bytes, &mut out),
            other => {
                return Err(ModelError::UnsupportedType {
                    name: name.to_owned(),
                    ty: other.name().to_owned(),
                });
            }
        }
        Ok(out)
    }

    pub(crate) fn opt_vector(&self, name: &str, len: usize) -> Result<Option<Vec<f32>>, ModelError> {
        if self.file.tensor(name).is_none() {
            return Ok(None);
        }
        self.vector(name, len).map(Some)
    }
}

impl<'a> Weights<'a> {
    /// Finds and checks every tensor `cfg` needs and resolves the matrix views, so a forward
    /// pass uses them without further checks. `cfg` must come from [`Config::from_gguf`] of
    /// the same file (it checked every count against the file's tensors).
    pub fn load(file: &'a GgufFile, cfg: &Config) -> Result<Weights<'a>, ModelError> {
        Self::load_with(file, None, cfg)
    }

    /// [`Weights::load`], taking the matrices in `repacked` from there.
    pub(crate) fn load_with(
        file: &'a GgufFile,
        repacked: Option<&'a Repacked>,
        cfg: &Config,
    ) -> Result<Weights<'a>, ModelError> {
        let l = Loader { file, repacked };
        let (d, q, kv, ff) = (cfg.n_embd, cfg.q_dim(), cfg.kv_dim(), cfg.n_ff);
        let token_embd = l.matrix("token_embd.weight", cfg.n_vocab, d)?;
        let output = match file.tensor("output.weight") {
            Some(_) => l.matrix("output.weight", cfg.n_vocab, d)?,
            None => token_embd,
        };
        // Collected, not pre-sized: `cfg` is trusted for nothing that allocates.
        let layers = (0..cfg.n_layer)
            .map(|i| {
                let n = |s: &str| format!("blk.{i}.{s}");
                Ok(Layer {
                    attn_norm: l.vector(&n("attn_norm.weight"), d)?,
                    wq: l.matrix(&n("attn_q.weight"), q, d)?,
                    wk: l.matrix(&n("attn_k.weight"), kv, d)?,
                    wv: l.matrix(&n("attn_v.weight"), kv, d)?,
                    bq: l.opt_vector(&n("attn_q.bias"), q)?,
                    bk: l.opt_vector(&n("attn_k.bias"), kv)?,
                    bv: l.opt_vector(&n("attn_v.bias"), kv)?,
                    q_norm: l.opt_vector(&n("attn_q_norm.weight"), cfg.head_dim)?,
                    k_norm: l.opt_vector(&n("attn_k_norm.weight"), cfg.head_dim)?,
                    wo: l.matrix(&n("attn_output.weight"), d, q)?,
                    post_attn_norm: l.opt_vector(&n("post_attention_norm.weight"), d)?,
                    ffn_norm: l.vector(&n("ffn_norm.weight"), d)?,
                    w_gate: l.matrix(&n("ffn_gate.weight"), ff, d)?,
                    w_up: l.matrix(&n("ffn_up.weight"), ff, d)?,
                    w_down: l.matrix(&n("ffn_down.weight"), d, ff)?,
                    post_ffn_norm: l.opt_vector(&n("post_ffw_norm.weight"), d)?,
                })
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        for (i, l) in layers.iter().enumerate() {
            let name = |s: &str| format!("blk.{i}.{s}");
            // Biases come as a set (qwen2): one without the others would be silently ignored.
            let biases = [&l.bq, &l.bk, &l.bv].iter().filter(|b| b.is_some()).count();
            if biases == 1 || biases == 2 {
                let missing = [(&l.bq, "attn_q.bias"), (&l.bk, "attn_k.bias"), (&l.bv, "attn_v.bias")]
                    .into_iter()
                    .find(|(b, _)| b.is_none())
                    .map_or(String::new(), |(_, n)| name(n));
                return Err(ModelError::MissingTensor { name: missing });
            }
            if cfg.arch == crate::Arch::Gemma3 {
                for (t, n) in [
                    (&l.q_norm, "attn_q_norm.weight"),
                    (&l.k_norm, "attn_k_norm.weight"),
                    (&l.post_attn_norm, "post_attention_norm.weight"),
                    (&l.post_ffn_norm, "post_ffw_norm.weight"),
                ] {
                    if t.is_none() {
                        return Err(ModelError::MissingTensor { name: name(n) });
                    }
                }
            }
        }
        Ok(Weights {
            token_embd,
            layers,
            output_norm: l.vector("output_norm.weight", d)?,
            output,
            rope_freqs: l.opt_vector("rope_freqs.weight", cfg.n_rot / 2)?,
        })
    }
}
