//! A shape-alike nomic-embed-text: nomic-bert with the real model's metadata (width 768, 12
//! heads, FFN 3072, context 2048, RoPE base 1000, mean pooling, LayerNorm epsilon 1e-12),
//! its tensor names, fused QKV and f16 types as llama.cpp's converter writes them, but only
//! two blocks and random weights, and MiniLM's WordPiece vocabulary (the same
//! bert-base-uncased vocabulary nomic-embed-text uses).
//!
//! No nomic-bert weights are reachable here (Hugging Face is blocked); this file is what the
//! nomic-bert path of `hearth_models::Embedder` is checked against llama.cpp on
//! (`tests/golden/embeddings_nomic-bert-tiny.json`). Reproducible: every tensor has its own
//! seeded RNG, so the bytes are the same on every machine; a stamp naming the generator and
//! the vocabulary's source skips the work once written.

use std::fs::{self, File};
use std::path::Path;

use anyhow::{Context, Result};
use hearth_dtype::f32_to_f16;
use hearth_gguf::{DType, GgufFile, GgufWriter, Value};

use crate::shapes::random::{Fnv, Rng};

/// Bump whenever the bytes written change.
const GENERATOR: &str = "hearth nomic-bert-tiny 1";
/// File stem under `models/` (`hearth_testkit::NOMIC_BERT_TINY`).
pub const NAME: &str = "nomic-bert-tiny";

const N_LAYER: u32 = 2;
const N_EMBD: u64 = 768;
const N_FF: u64 = 3072;
const N_HEAD: u32 = 12;
const N_CTX: u32 = 2048;

/// Writes `models/nomic-bert-tiny.gguf` from the converted MiniLM's tokenizer, unless its
/// stamp says it is up to date.
pub fn ensure(cache: &Path, vocab_source: &str) -> Result<()> {
    let models = cache.join("models");
    let path = models.join(format!("{NAME}.gguf"));
    let stamp_path = models.join(format!("{NAME}.gguf.stamp"));
    let expected = format!("{GENERATOR}\nvocab {vocab_source}\n");
    if let (Ok(stamp), Ok(meta)) = (fs::read_to_string(&stamp_path), fs::metadata(&path))
        && stamp == format!("{expected}bytes {}\n", meta.len())
    {
        return Ok(());
    }
    let _ = fs::remove_file(&stamp_path);
    let minilm = models.join("all-minilm-l6-v2.gguf");
    let vocab = GgufFile::open(&minilm).with_context(|| format!("opening {}", minilm.display()))?;
    let part = path.with_extension("gguf.part");
    write(&vocab, &part).with_context(|| format!("writing {}", part.display()))?;
    fs::rename(&part, &path)?;
    let bytes = fs::metadata(&path)?.len();
    fs::write(&stamp_path, format!("{expected}bytes {bytes}\n"))?;
    eprintln!("fixtures: wrote {} ({:.1} MB, random weights)", path.display(), bytes as f64 / 1e6);
    Ok(())
}

/// How a tensor is filled.
#[derive(Clone, Copy)]
enum Fill {
    /// f16 weights, uniform with standard deviation `std`.
    Weights(f32),
    /// f32 LayerNorm weight around 1.
    Norm,
    /// f32 small values (LayerNorm biases, the token-type table).
    Small,
}

fn write(vocab: &GgufFile, out: &Path) -> Result<()> {
    let p = "nomic-bert";
    let mut w = GgufWriter::new();
    w.set("general.architecture", Value::String(p.into()))
        .set(
            "general.name",
            Value::String("nomic-embed-text-v1.5 shape-alike (2 blocks, random weights)".into()),
        )
        .set("general.file_type", Value::U32(1))
        .set(format!("{p}.block_count"), Value::U32(N_LAYER))
        .set(format!("{p}.context_length"), Value::U32(N_CTX))
        .set(format!("{p}.embedding_length"), Value::U32(N_EMBD as u32))
        .set(format!("{p}.feed_forward_length"), Value::U32(N_FF as u32))
        .set(format!("{p}.attention.head_count"), Value::U32(N_HEAD))
        .set(format!("{p}.attention.layer_norm_epsilon"), Value::F32(1e-12))
        .set(format!("{p}.attention.causal"), Value::Bool(false))
        .set(format!("{p}.pooling_type"), Value::U32(1))
        .set(format!("{p}.rope.freq_base"), Value::F32(1000.0));
    for (k, v) in vocab.metadata().entries() {
        if k.starts_with("tokenizer.") && k != "tokenizer.ggml.token_type_count" {
            w.set(k.clone(), v.clone());
        }
    }
    w.set("tokenizer.ggml.token_type_count", Value::U32(2));
    let n_vocab = vocab.metadata().str_array("tokenizer.ggml.tokens")?.len() as u64;

    let mut fills = Vec::new();
    let mut add = |w: &mut GgufWriter, name: String, ty: DType, dims: &[u64], fill: Fill| -> Result<()> {
        w.add_tensor(name, ty, dims)?;
        fills.push(fill);
        Ok(())
    };
    add(&mut w, "token_embd.weight".into(), DType::F16, &[N_EMBD, n_vocab], Fill::Weights(0.05))?;
    add(&mut w, "token_types.weight".into(), DType::F32, &[N_EMBD, 2], Fill::Small)?;
    add(&mut w, "token_embd_norm.weight".into(), DType::F32, &[N_EMBD], Fill::Norm)?;
    add(&mut w, "token_embd_norm.bias".into(), DType::F32, &[N_EMBD], Fill::Small)?;
    for i in 0..N_LAYER {
        let n = |s: &str| format!("blk.{i}.{s}");
        add(&mut w, n("attn_qkv.weight"), DType::F16, &[N_EMBD, 3 * N_EMBD], Fill::Weights(0.03))?;
        add(&mut w, n("attn_output.weight"), DType::F16, &[N_EMBD, N_EMBD], Fill::Weights(0.03))?;
        add(&mut w, n("attn_output_norm.weight"), DType::F32, &[N_EMBD], Fill::Norm)?;
        add(&mut w, n("attn_output_norm.bias"), DType::F32, &[N_EMBD], Fill::Small)?;
        add(&mut w, n("ffn_up.weight"), DType::F16, &[N_EMBD, N_FF], Fill::Weights(0.03))?;
        add(&mut w, n("ffn_gate.weight"), DType::F16, &[N_EMBD, N_FF], Fill::Weights(0.03))?;
        add(&mut w, n("ffn_down.weight"), DType::F16, &[N_FF, N_EMBD], Fill::Weights(0.02))?;
        add(&mut w, n("layer_output_norm.weight"), DType::F32, &[N_EMBD], Fill::Norm)?;
        add(&mut w, n("layer_output_norm.bias"), DType::F32, &[N_EMBD], Fill::Small)?;
    }

    let mut file = File::create(out)?;
    w.write(&mut file, |i, spec, out| {
        let mut h = Fnv::new();
        h.write(GENERATOR.as_bytes());
        h.write(b"/");
        h.write(spec.name.as_bytes());
        let mut rng = Rng::new(h.finish());
        let n = spec.dims.iter().product::<u64>() as usize;
        let bytes: Vec<u8> = match fills[i] {
            // uniform on [-a, a) has standard deviation a / sqrt(3)
            Fill::Weights(std) => {
                (0..n).flat_map(|_| f32_to_f16(rng.signed_unit() * std * 3f32.sqrt()).to_le_bytes()).collect()
            }
            Fill::Norm => (0..n).flat_map(|_| (1.0 + 0.1 * rng.signed_unit()).to_le_bytes()).collect(),
            Fill::Small => (0..n).flat_map(|_| (0.02 * rng.signed_unit()).to_le_bytes()).collect(),
        };
        out.write_all(&bytes)
    })?;
    file.sync_all()?;
    Ok(())
}
