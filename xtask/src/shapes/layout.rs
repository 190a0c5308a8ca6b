//! The header of a shape's file: metadata keys, and the tensor list in llama.cpp's names,
//! shapes, order and Q4_K_M type mix, with how each tensor is filled.

use std::fmt::Write as _;

use anyhow::{Result, bail};
use hearth_gguf::{DType, GgufWriter, Value};

use super::catalog::{Arch, Shape};
use super::inputs::Inputs;

/// `general.file_type` of Q4_K_M (`LLAMA_FTYPE_MOSTLY_Q4_K_M`).
pub(super) const FTYPE_Q4_K_M: u32 = 15;

/// `general.quantization_version` (`GGML_QNT_VERSION`).
const QNT_VERSION: u32 = 2;

/// How a tensor's bytes are made.
#[derive(Debug)]
pub(super) enum Fill {
    /// Random Q4_K / Q6_K blocks with small finite scales.
    Quant,
    /// F32 RMSNorm weight: `1 ± 0.1`.
    Norm,
    /// F32 bias: `± 0.05`.
    Bias,
    /// F32 values computed here.
    Values(Vec<f32>),
}

/// The metadata and tensor list of a shape, and how to fill each tensor (same order).
pub(super) fn layout(shape: &Shape, inputs: &Inputs) -> Result<(GgufWriter, Vec<Fill>)> {
    let arch = shape.arch.name();
    let key = |k: &str| format!("{arch}.{k}");
    let u32_of = |n: usize| Value::U32(n as u32);
    let mut w = GgufWriter::new();
    w.set("general.architecture", Value::String(arch.into()))
        .set("general.type", Value::String("model".into()))
        .set("general.name", Value::String(format!("{} shape-alike (random weights)", shape.name)))
        .set(key("block_count"), u32_of(shape.n_layer))
        .set(key("context_length"), Value::U32(shape.n_ctx_train))
        .set(key("embedding_length"), u32_of(shape.n_embd))
        .set(key("feed_forward_length"), u32_of(shape.n_ff))
        .set(key("attention.head_count"), u32_of(shape.n_head))
        .set(key("attention.head_count_kv"), u32_of(shape.n_head_kv))
        .set(key("rope.freq_base"), Value::F32(shape.rope_base))
        .set(key("attention.layer_norm_rms_epsilon"), Value::F32(shape.arch.rms_eps()));
    if shape.head_dim_keys {
        w.set(key("attention.key_length"), u32_of(shape.head_dim()));
        w.set(key("attention.value_length"), u32_of(shape.head_dim()));
    }
    w.set("general.file_type", Value::U32(FTYPE_Q4_K_M));
    if shape.arch == Arch::Llama {
        w.set(key("vocab_size"), u32_of(shape.n_vocab));
        w.set(key("rope.dimension_count"), u32_of(shape.head_dim()));
    }
    for (k, v) in &inputs.tokenizer {
        w.set(k.clone(), v.clone());
    }
    w.set("general.quantization_version", Value::U32(QNT_VERSION));

    let mut tensors = Vec::new();
    for (name, dims, fill) in tensor_list(shape) {
        let layer = layer_of(&name);
        let ty = q4_k_m_type(&name, &dims, layer, shape.n_layer, shape.tied)?;
        tensors.push((layer, name, ty, dims, fill));
    }
    // llama-quantize writes tensors in its loader's order: non-block tensors by name, then
    // blocks by number, each block's tensors by name.
    tensors.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut fills = Vec::with_capacity(tensors.len());
    for (_, name, ty, dims, fill) in tensors {
        w.add_tensor(name, ty, &dims)?;
        fills.push(fill);
    }
    Ok((w, fills))
}

/// The tensors of the real model as llama.cpp's converter names them: `(name, dims
/// innermost first, fill)`.
pub(super) fn tensor_list(shape: &Shape) -> Vec<(String, Vec<u64>, Fill)> {
    let (d, ff, v) = (shape.n_embd as u64, shape.n_ff as u64, shape.n_vocab as u64);
    let q = (shape.n_head * shape.head_dim()) as u64;
    let kv = (shape.n_head_kv * shape.head_dim()) as u64;
    let mut t = vec![
        ("token_embd.weight".to_owned(), vec![d, v], Fill::Quant),
        ("output_norm.weight".to_owned(), vec![d], Fill::Norm),
    ];
    if !shape.tied {
        t.push(("output.weight".to_owned(), vec![d, v], Fill::Quant));
    }
    if shape.llama3_rope {
        let factors = llama3_rope_factors(shape.head_dim(), shape.rope_base);
        t.push(("rope_freqs.weight".to_owned(), vec![factors.len() as u64], Fill::Values(factors)));
    }
    for i in 0..shape.n_layer {
        let n = |s: &str| format!("blk.{i}.{s}");
        t.push((n("attn_norm.weight"), vec![d], Fill::Norm));
        t.push((n("attn_q.weight"), vec![d, q], Fill::Quant));
        t.push((n("attn_k.weight"), vec![d, kv], Fill::Quant));
        t.push((n("attn_v.weight"), vec![d, kv], Fill::Quant));
        if shape.arch == Arch::Qwen2 {
            t.push((n("attn_q.bias"), vec![q], Fill::Bias));
            t.push((n("attn_k.bias"), vec![kv], Fill::Bias));
            t.push((n("attn_v.bias"), vec![kv], Fill::Bias));
        }
        t.push((n("attn_output.weight"), vec![q, d], Fill::Quant));
        t.push((n("ffn_norm.weight"), vec![d], Fill::Norm));
        t.push((n("ffn_gate.weight"), vec![d, ff], Fill::Quant));
        t.push((n("ffn_up.weight"), vec![d, ff], Fill::Quant));
        t.push((n("ffn_down.weight"), vec![ff, d], Fill::Quant));
    }
    t
}

/// `blk.N.` → `N`; other tensors sort first (llama.cpp's `weight_name_comparer` uses -1).
pub(super) fn layer_of(name: &str) -> i64 {
    name.strip_prefix("blk.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(-1)
}

/// llama.cpp's `use_more_bits(i_layer, n_layers)`: the first and last eighth of the layers
/// and every third layer in between.
fn use_more_bits(i: i64, n: i64) -> bool {
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

/// The type `llama-quantize` gives a tensor of these models for `Q4_K_M`
/// (`llama_tensor_get_type_impl`, dense non-Falcon models, no imatrix, no overrides):
///
/// - 1-D tensors (norms, biases, `rope_freqs`) are not quantized: F32;
/// - `output.weight`, and `token_embd.weight` when the embeddings are tied (no
///   `output.weight`), get the output treatment: Q6_K;
/// - `attn_v.weight` and `ffn_down.weight` of `use_more_bits` layers: Q6_K (for `attn_v`
///   the counter `i_attention_wv` equals the layer index because the loader sorts tensors by
///   layer; the n_gqa / 70B / expert special cases do not apply to Q4_K_M here);
/// - every other matrix, the untied `token_embd.weight` included: Q4_K.
///
/// A row length that is not a multiple of 256 would make llama.cpp fall back to another
/// type; none of these shapes has one, so that is an error here.
pub fn q4_k_m_type(name: &str, dims: &[u64], layer: i64, n_layer: usize, tied: bool) -> Result<DType> {
    if dims.len() < 2 {
        return Ok(DType::F32);
    }
    let more_bits = layer >= 0 && use_more_bits(layer, n_layer as i64);
    let output = name == "output.weight" || (tied && name == "token_embd.weight");
    let sensitive = (name.ends_with(".attn_v.weight") || name.ends_with(".ffn_down.weight")) && more_bits;
    let ty = if output || sensitive { DType::Q6_K } else { DType::Q4_K };
    if !dims[0].is_multiple_of(256) {
        bail!(
            "{name}: row length {} is not a multiple of 256 (llama.cpp would fall back from {ty})",
            dims[0]
        );
    }
    Ok(ty)
}

/// One line naming which tensors got Q6_K.
pub(super) fn type_summary(shape: &Shape, w: &GgufWriter) -> String {
    let q6 = |suffix: &str| -> Vec<String> {
        w.tensors()
            .iter()
            .filter(|t| t.ty == DType::Q6_K && t.name.ends_with(suffix) && t.name.starts_with("blk."))
            .map(|t| layer_of(&t.name).to_string())
            .collect()
    };
    let global: Vec<&str> = w
        .tensors()
        .iter()
        .filter(|t| t.ty == DType::Q6_K && !t.name.starts_with("blk."))
        .map(|t| t.name.as_str())
        .collect();
    let mut s = format!("Q6_K: {}", global.join(", "));
    let _ = write!(s, "; attn_v in layers [{}]", q6(".attn_v.weight").join(","));
    let _ = write!(s, "; ffn_down in layers [{}]; other matrices Q4_K", q6(".ffn_down.weight").join(","));
    if shape.tied {
        s.push_str(" (tied: no output.weight)");
    }
    s
}

/// Llama 3's RoPE frequency factors as `convert_hf_to_gguf.py` computes them
/// (`LlamaModel.generate_extra_tensors`, rope_type `llama3`: factor 32, low_freq_factor 1,
/// high_freq_factor 4, original context 8192), in f32 as torch does.
pub fn llama3_rope_factors(head_dim: usize, base: f32) -> Vec<f32> {
    let (factor, low, high, old_ctx) = (32.0f32, 1.0f32, 4.0f32, 8192.0f32);
    let low_wavelen = old_ctx / low;
    let high_wavelen = old_ctx / high;
    (0..head_dim)
        .step_by(2)
        .map(|i| {
            let freq = 1.0 / base.powf(i as f32 / head_dim as f32);
            let wavelen = 2.0 * std::f32::consts::PI / freq;
            if wavelen < high_wavelen {
                1.0
            } else if wavelen > low_wavelen {
                factor
            } else {
                let smooth = (old_ctx / wavelen - low) / (high - low);
                1.0 / ((1.0 - smooth) / factor + smooth)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shapes::SHAPES;

    fn shape(name: &str) -> &'static Shape {
        SHAPES.iter().find(|s| s.name == name).expect("known shape")
    }

    fn no_inputs() -> Inputs {
        Inputs { tokenizer: Vec::new(), hash: 0 }
    }

    /// Layers whose `suffix` tensor is Q6_K in the Q4_K_M layout of `s`.
    fn q6_layers(s: &Shape, suffix: &str) -> Vec<i64> {
        let (w, _) = layout(s, &no_inputs()).expect("layout");
        w.tensors()
            .iter()
            .filter(|t| t.name.ends_with(suffix) && t.ty == DType::Q6_K)
            .map(|t| layer_of(&t.name))
            .collect()
    }

    fn ty_of(s: &Shape, name: &str) -> Option<DType> {
        let (w, _) = layout(s, &no_inputs()).expect("layout");
        w.tensors().iter().find(|t| t.name == name).map(|t| t.ty)
    }

    #[test]
    fn q4_k_m_mix_follows_llama_quantize() {
        // use_more_bits by hand: n/8 first layers, from 7n/8 on, and (i - n/8) % 3 == 2.
        let l32 = vec![0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31];
        let l28 = vec![0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27];
        let l16 = vec![0, 1, 4, 7, 10, 13, 14, 15];
        for (name, layers) in [
            ("mistral-7b", &l32),
            ("llama3.2-3b", &l28),
            ("llama3.2-1b", &l16),
            ("qwen2.5-coder-7b", &l28),
            ("qwen2.5-coder-1.5b", &l28),
        ] {
            let s = shape(name);
            assert_eq!(&q6_layers(s, ".attn_v.weight"), layers, "{name} attn_v");
            assert_eq!(&q6_layers(s, ".ffn_down.weight"), layers, "{name} ffn_down");
            for other in ["attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"] {
                assert!(q6_layers(s, &format!(".{other}.weight")).is_empty(), "{name} {other}");
            }
            if s.tied {
                assert_eq!(ty_of(s, "output.weight"), None, "{name}");
                assert_eq!(ty_of(s, "token_embd.weight"), Some(DType::Q6_K), "{name}");
            } else {
                assert_eq!(ty_of(s, "output.weight"), Some(DType::Q6_K), "{name}");
                assert_eq!(ty_of(s, "token_embd.weight"), Some(DType::Q4_K), "{name}");
            }
            assert_eq!(ty_of(s, "output_norm.weight"), Some(DType::F32));
            assert_eq!(ty_of(s, "blk.0.attn_norm.weight"), Some(DType::F32));
        }
        assert_eq!(ty_of(shape("qwen2.5-coder-7b"), "blk.3.attn_k.bias"), Some(DType::F32));
        assert_eq!(ty_of(shape("mistral-7b"), "blk.3.attn_k.bias"), None);
        assert_eq!(ty_of(shape("mistral-7b"), "rope_freqs.weight"), None);
        assert_eq!(ty_of(shape("llama3.2-1b"), "rope_freqs.weight"), Some(DType::F32));
    }

    #[test]
    fn tensor_counts_and_order_match_llama_quantize() {
        let (w, _) = layout(shape("qwen2.5-coder-7b"), &no_inputs()).expect("layout");
        // 12 per block (9 matrices/norms + 3 biases), then token_embd, output, output_norm.
        assert_eq!(w.tensors().len(), 28 * 12 + 3);
        let names: Vec<&str> = w.tensors().iter().take(6).map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "output.weight",
                "output_norm.weight",
                "token_embd.weight",
                "blk.0.attn_k.bias",
                "blk.0.attn_k.weight",
                "blk.0.attn_norm.weight"
            ]
        );
        let (w, _) = layout(shape("llama3.2-3b"), &no_inputs()).expect("layout");
        assert_eq!(w.tensors().len(), 28 * 9 + 3);
        let t = w.tensors().iter().find(|t| t.name == "blk.27.ffn_down.weight").expect("ffn_down");
        assert_eq!(t.dims, [8192, 3072]);
        let t = w.tensors().iter().find(|t| t.name == "blk.27.attn_k.weight").expect("attn_k");
        assert_eq!(t.dims, [3072, 1024]);
    }

    #[test]
    fn llama3_rope_factors_match_the_converter() {
        // Reference: convert_hf_to_gguf.py's formula evaluated in numpy float32.
        let f = llama3_rope_factors(128, 5e5);
        assert_eq!(f.len(), 64);
        assert!(f[..29].iter().all(|&x| x == 1.0));
        assert!(f[35..].iter().all(|&x| x == 32.0));
        let band = [1.234_937_1, 1.651_329_3, 2.276_659_5, 3.292_262_8, 5.171_597, 9.666_731];
        for (got, want) in f[29..35].iter().zip(band) {
            assert!((got - want).abs() <= 1e-5 * want, "{got} vs {want}");
        }
        let f = llama3_rope_factors(64, 5e5);
        assert_eq!(f.len(), 32);
        assert!(f[..15].iter().all(|&x| x == 1.0) && f[18..].iter().all(|&x| x == 32.0));
        for (got, want) in f[15..18].iter().zip([1.651_329_3, 3.292_262_8, 9.666_731]) {
            assert!((got - want).abs() <= 1e-5 * want, "{got} vs {want}");
        }
    }
}
