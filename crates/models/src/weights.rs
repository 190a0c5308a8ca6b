//! `Weights`: the model's tensors, immutable and shared. Matrices stay in the mmap (quantized,
//! never dequantized wholesale); only the small f32 vectors (norms, biases) are copied out.

use hearth_gguf::{GgufFile, TensorInfo};
use hearth_kernels::{DType, QMatrix};

use crate::{Config, ModelError};

/// A weight matrix in the mapped file: `rows × cols`, each row `cols` elements of `dtype`.
#[derive(Clone, Debug)]
pub struct Matrix {
    /// Element type.
    pub dtype: DType,
    /// Output features.
    pub rows: usize,
    /// Input features (the row length).
    pub cols: usize,
    offset: usize,
    len: usize,
}

impl Matrix {
    /// The kernel view of this matrix over the file bytes.
    pub fn view<'a>(&self, file: &'a [u8]) -> Result<QMatrix<'a>, ModelError> {
        let data = file
            .get(self.offset..self.offset + self.len)
            .ok_or_else(|| ModelError::Config("matrix outside file".into()))?;
        QMatrix::new(self.dtype, self.rows, self.cols, data).map_err(|e| ModelError::Config(e.to_string()))
    }

    /// Bytes of one row.
    pub fn row_bytes(&self) -> usize {
        self.len / self.rows.max(1)
    }

    /// Total bytes.
    pub fn n_bytes(&self) -> usize {
        self.len
    }
}

/// One transformer block. Shapes are `[rows, cols]` of the matrix product `out = W · x`.
#[derive(Clone, Debug)]
pub struct Layer {
    /// `[n_embd]` pre-attention RMSNorm weight.
    pub attn_norm: Vec<f32>,
    /// `[n_head · head_dim, n_embd]` query projection.
    pub wq: Matrix,
    /// `[n_head_kv · head_dim, n_embd]` key projection.
    pub wk: Matrix,
    /// `[n_head_kv · head_dim, n_embd]` value projection.
    pub wv: Matrix,
    /// `[n_head · head_dim]` query bias (qwen2).
    pub bq: Option<Vec<f32>>,
    /// `[n_head_kv · head_dim]` key bias (qwen2).
    pub bk: Option<Vec<f32>>,
    /// `[n_head_kv · head_dim]` value bias (qwen2).
    pub bv: Option<Vec<f32>>,
    /// `[head_dim]` per-head query RMSNorm (gemma3).
    pub q_norm: Option<Vec<f32>>,
    /// `[head_dim]` per-head key RMSNorm (gemma3).
    pub k_norm: Option<Vec<f32>>,
    /// `[n_embd, n_head · head_dim]` attention output projection.
    pub wo: Matrix,
    /// `[n_embd]` norm of the attention output before the residual add (gemma3).
    pub post_attn_norm: Option<Vec<f32>>,
    /// `[n_embd]` pre-FFN RMSNorm weight.
    pub ffn_norm: Vec<f32>,
    /// `[n_ff, n_embd]` gate projection.
    pub w_gate: Matrix,
    /// `[n_ff, n_embd]` up projection.
    pub w_up: Matrix,
    /// `[n_embd, n_ff]` down projection.
    pub w_down: Matrix,
    /// `[n_embd]` norm of the FFN output before the residual add (gemma3).
    pub post_ffn_norm: Option<Vec<f32>>,
}

/// All weights of a model.
#[derive(Clone, Debug)]
pub struct Weights {
    /// `[n_vocab, n_embd]` token embeddings (rows dequantized on lookup).
    pub token_embd: Matrix,
    /// Transformer blocks.
    pub layers: Vec<Layer>,
    /// `[n_embd]` final RMSNorm weight.
    pub output_norm: Vec<f32>,
    /// `[n_vocab, n_embd]` LM head (the embedding table when tied).
    pub output: Matrix,
    /// `[n_rot / 2]` Llama 3 RoPE frequency factors.
    pub rope_freqs: Option<Vec<f32>>,
}

struct Loader<'a> {
    file: &'a GgufFile,
}

impl Loader<'_> {
    fn info(&self, name: &str) -> Result<&TensorInfo, ModelError> {
        self.file.tensor(name).ok_or_else(|| ModelError::MissingTensor { name: name.to_owned() })
    }

    fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<Matrix, ModelError> {
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
        let offset = (self.file.header().data_offset + t.offset) as usize;
        let m = Matrix { dtype, rows, cols, offset, len: t.n_bytes as usize };
        m.view(self.file.bytes())?;
        Ok(m)
    }

    fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>, ModelError> {
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

    fn opt_vector(&self, name: &str, len: usize) -> Result<Option<Vec<f32>>, ModelError> {
        if self.file.tensor(name).is_none() {
            return Ok(None);
        }
        self.vector(name, len).map(Some)
    }
}

impl Weights {
    /// Finds and checks every tensor `cfg` needs.
    pub fn load(file: &GgufFile, cfg: &Config) -> Result<Weights, ModelError> {
        let l = Loader { file };
        let (d, q, kv, ff) = (cfg.n_embd, cfg.q_dim(), cfg.kv_dim(), cfg.n_ff);
        let token_embd = l.matrix("token_embd.weight", cfg.n_vocab, d)?;
        let output = match file.tensor("output.weight") {
            Some(_) => l.matrix("output.weight", cfg.n_vocab, d)?,
            None => token_embd.clone(),
        };
        let mut layers = Vec::with_capacity(cfg.n_layer);
        for i in 0..cfg.n_layer {
            let n = |s: &str| format!("blk.{i}.{s}");
            layers.push(Layer {
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
            });
        }
        if cfg.arch == crate::Arch::Gemma3 {
            let l0 = &layers[0];
            if l0.q_norm.is_none()
                || l0.k_norm.is_none()
                || l0.post_attn_norm.is_none()
                || l0.post_ffn_norm.is_none()
            {
                return Err(ModelError::MissingTensor {
                    name: "blk.0.attn_q_norm/attn_k_norm/post_*_norm (gemma3)".into(),
                });
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
