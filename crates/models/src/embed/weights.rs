//! `EmbedWeights`: a BERT-family encoder's tensors, immutable and shared. Matrices stay in
//! the mmap ([`QMatrix`] views, any type the kernels dot: f32, f16, quantized); the small
//! vectors (norms, biases, the type-0 embedding) are copied out as f32.

use hearth_gguf::GgufFile;
use hearth_kernels::QMatrix;

use crate::ModelError;
use crate::embed::{EmbedArch, EmbedConfig};
use crate::weights::Loader;

/// The FFN of one block.
#[derive(Clone, Debug)]
pub enum Ffn<'a> {
    /// BERT: `down · gelu(up · x + b_up) + b_down`.
    Gelu {
        /// `[n_ff, n_embd]` up projection.
        w_up: QMatrix<'a>,
        /// `[n_ff]` up bias.
        b_up: Option<Vec<f32>>,
    },
    /// nomic-bert: `down · (silu(gate · x) ⊙ (up · x))`.
    SwiGlu {
        /// `[n_ff, n_embd]` gate projection.
        w_gate: QMatrix<'a>,
        /// `[n_ff, n_embd]` up projection.
        w_up: QMatrix<'a>,
    },
}

/// One encoder block (post-norm: the norms come after each residual add).
#[derive(Clone, Debug)]
pub struct EmbedLayer<'a> {
    /// `[n_embd, n_embd]` query projection (a third of `attn_qkv` when the file fuses them).
    pub wq: QMatrix<'a>,
    /// `[n_embd, n_embd]` key projection.
    pub wk: QMatrix<'a>,
    /// `[n_embd, n_embd]` value projection.
    pub wv: QMatrix<'a>,
    /// `[n_embd]` query bias (BERT).
    pub bq: Option<Vec<f32>>,
    /// `[n_embd]` key bias (BERT).
    pub bk: Option<Vec<f32>>,
    /// `[n_embd]` value bias (BERT).
    pub bv: Option<Vec<f32>>,
    /// `[n_embd, n_embd]` attention output projection.
    pub wo: QMatrix<'a>,
    /// `[n_embd]` its bias (BERT).
    pub bo: Option<Vec<f32>>,
    /// `[n_embd]` LayerNorm weight after the attention residual.
    pub attn_norm: Vec<f32>,
    /// `[n_embd]` LayerNorm bias after the attention residual.
    pub attn_norm_b: Vec<f32>,
    /// The feed-forward network's input side.
    pub ffn: Ffn<'a>,
    /// `[n_embd, n_ff]` down projection.
    pub w_down: QMatrix<'a>,
    /// `[n_embd]` its bias (BERT).
    pub b_down: Option<Vec<f32>>,
    /// `[n_embd]` LayerNorm weight after the FFN residual.
    pub out_norm: Vec<f32>,
    /// `[n_embd]` LayerNorm bias after the FFN residual.
    pub out_norm_b: Vec<f32>,
}

/// All weights of an embedder, borrowed from its file.
#[derive(Clone, Debug)]
pub struct EmbedWeights<'a> {
    /// `[n_vocab, n_embd]` token embeddings (rows dequantized on lookup).
    pub token_embd: QMatrix<'a>,
    /// `[n_embd]` the "sentence A" token-type embedding, added to every token (llama.cpp
    /// always uses type 0); absent in files without `token_types.weight`.
    pub token_type0: Option<Vec<f32>>,
    /// `[n_ctx_train, n_embd]` learned absolute positions (BERT; nomic-bert rotates instead).
    pub position_embd: Option<QMatrix<'a>>,
    /// `[n_embd]` LayerNorm weight of the summed embeddings.
    pub embd_norm: Vec<f32>,
    /// `[n_embd]` LayerNorm bias of the summed embeddings.
    pub embd_norm_b: Vec<f32>,
    /// Encoder blocks.
    pub layers: Vec<EmbedLayer<'a>>,
}

impl<'a> EmbedWeights<'a> {
    /// Finds and checks every tensor `cfg` needs (`cfg` from [`EmbedConfig::from_gguf`] of
    /// the same file).
    pub fn load(file: &'a GgufFile, cfg: &EmbedConfig) -> Result<EmbedWeights<'a>, ModelError> {
        let l = Loader { file, repacked: None };
        let (d, ff) = (cfg.n_embd, cfg.n_ff);
        let token_embd = l.matrix("token_embd.weight", cfg.n_vocab, d)?;
        let token_type0 = match file.tensor("token_types.weight") {
            Some(t) => {
                // At least one row, or the shape check below refuses the tensor.
                let types = t.dims.get(1).copied().unwrap_or(1).max(1) as usize;
                let m = l.matrix("token_types.weight", types, d)?;
                let mut row = vec![0.0; d];
                m.dequantize_row(0, &mut row);
                Some(row)
            }
            None => None,
        };
        let position_embd = match cfg.arch {
            EmbedArch::Bert => Some(l.matrix("position_embd.weight", cfg.n_ctx_train, d)?),
            EmbedArch::NomicBert => None,
        };
        let layers = (0..cfg.n_layer)
            .map(|i| {
                let n = |s: &str| format!("blk.{i}.{s}");
                let (wq, wk, wv) = qkv(&l, i, d)?;
                let (bq, bk, bv) = match l.opt_vector(&n("attn_qkv.bias"), 3 * d)? {
                    Some(b) => (Some(b[..d].to_vec()), Some(b[d..2 * d].to_vec()), Some(b[2 * d..].to_vec())),
                    None => (
                        l.opt_vector(&n("attn_q.bias"), d)?,
                        l.opt_vector(&n("attn_k.bias"), d)?,
                        l.opt_vector(&n("attn_v.bias"), d)?,
                    ),
                };
                let ffn = match cfg.arch {
                    EmbedArch::Bert => Ffn::Gelu {
                        w_up: l.matrix(&n("ffn_up.weight"), ff, d)?,
                        b_up: l.opt_vector(&n("ffn_up.bias"), ff)?,
                    },
                    EmbedArch::NomicBert => Ffn::SwiGlu {
                        w_gate: l.matrix(&n("ffn_gate.weight"), ff, d)?,
                        w_up: l.matrix(&n("ffn_up.weight"), ff, d)?,
                    },
                };
                Ok(EmbedLayer {
                    wq,
                    wk,
                    wv,
                    bq,
                    bk,
                    bv,
                    wo: l.matrix(&n("attn_output.weight"), d, d)?,
                    bo: l.opt_vector(&n("attn_output.bias"), d)?,
                    attn_norm: l.vector(&n("attn_output_norm.weight"), d)?,
                    attn_norm_b: l.vector(&n("attn_output_norm.bias"), d)?,
                    ffn,
                    w_down: l.matrix(&n("ffn_down.weight"), d, ff)?,
                    b_down: l.opt_vector(&n("ffn_down.bias"), d)?,
                    out_norm: l.vector(&n("layer_output_norm.weight"), d)?,
                    out_norm_b: l.vector(&n("layer_output_norm.bias"), d)?,
                })
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        Ok(EmbedWeights {
            token_embd,
            token_type0,
            position_embd,
            embd_norm: l.vector("token_embd_norm.weight", d)?,
            embd_norm_b: l.vector("token_embd_norm.bias", d)?,
            layers,
        })
    }
}

/// Block `i`'s query, key and value projections: three tensors, or thirds of the fused
/// `attn_qkv.weight` (`[3·n_embd, n_embd]`, rows Q then K then V, as llama.cpp's
/// `build_qkv` views it).
fn qkv<'a>(
    l: &Loader<'a>,
    i: usize,
    d: usize,
) -> Result<(QMatrix<'a>, QMatrix<'a>, QMatrix<'a>), ModelError> {
    let name = format!("blk.{i}.attn_qkv.weight");
    if l.file.tensor(&name).is_none() {
        let n = |s: &str| format!("blk.{i}.{s}");
        return Ok((
            l.matrix(&n("attn_q.weight"), d, d)?,
            l.matrix(&n("attn_k.weight"), d, d)?,
            l.matrix(&n("attn_v.weight"), d, d)?,
        ));
    }
    let fused = l.matrix(&name, 3 * d, d)?;
    let bytes = l.file.data(l.info(&name)?);
    let third = bytes.len() / 3;
    let part = |k: usize| {
        QMatrix::new(fused.dtype(), d, d, &bytes[k * third..(k + 1) * third])
            .map_err(|e| ModelError::Tensor { name: name.clone(), reason: e.to_string() })
    };
    Ok((part(0)?, part(1)?, part(2)?))
}
