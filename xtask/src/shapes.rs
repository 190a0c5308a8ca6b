//! `cargo xtask shapes`: shape-alike GGUFs of models too big to download here.
//!
//! Mistral 7B, Llama 3.2 and Qwen2.5-Coder 7B cannot be fetched on the development and CI
//! machines, but speed and memory do not depend on weight values. So this writes, for each
//! [`SHAPES`] entry, `DIR/<name>-q4_k_m.gguf` (default `DIR`: `$HEARTH_FIXTURES/shapes`) with:
//!
//! - the real model's metadata (architecture, hyper-parameters, context length, RMS epsilon,
//!   RoPE base) and tokenizer: every `tokenizer.*` key of llama.cpp's vocab GGUF for that
//!   family, the token list padded to the model's embedding rows where the real file is;
//! - the tensor names, shapes and order llama.cpp's converter and `llama-quantize` produce,
//!   with the Q4_K_M type mix `llama_tensor_get_type` picks (see [`q4_k_m_type`]);
//! - random quantized blocks with small finite f16 scales (weights with a real model's
//!   spread, std ≈ 0.03, so activations stay finite through every layer), norm weights
//!   around 1, small biases, and Llama 3's real `rope_freqs` factors.
//!
//! Reproducible (every tensor has its own seeded RNG, so the bytes are the same on every
//! run and machine) and idempotent: a file is skipped when its `.stamp` names the same
//! generator version, shape and inputs (vocab file, template) and the file has the recorded
//! length. Files are written to `.part`, synced, then renamed. Tensor data is streamed
//! through [`GgufWriter::write`], so a 4 GB file never sits in memory.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use hearth_gguf::{Array, DType, GgufFile, GgufWriter, TensorSpec, Value};
use hearth_hub::Progress;

/// Bump whenever the bytes written for the same shape change (layout, RNG, scales, keys).
const GENERATOR: &str = "hearth-shapes 1";

/// `general.file_type` of Q4_K_M (`LLAMA_FTYPE_MOSTLY_Q4_K_M`).
const FTYPE_Q4_K_M: u32 = 15;

/// `general.quantization_version` (`GGML_QNT_VERSION`).
const QNT_VERSION: u32 = 2;

/// llama.cpp's token type of padding rows (`gguf.TokenType.UNUSED`).
const TOKEN_TYPE_UNUSED: i32 = 5;

/// Quant blocks generated and written per chunk.
const CHUNK_BLOCKS: usize = 8192;

/// The shapes `cargo xtask test` generates before running the tests (the 1B/1.5B ones are
/// for benchmarks only).
pub const BIG: [&str; 3] = ["mistral-7b", "llama3.2-3b", "qwen2.5-coder-7b"];

/// Arguments of `shapes`.
#[derive(clap::Args, Default)]
pub struct Args {
    /// Generate only these shapes (repeat the flag or separate with commas); default all.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Output folder (default `$HEARTH_FIXTURES/shapes`, i.e. ~/.cache/hearth/shapes).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The two architectures of the shapes (metadata prefix and per-arch tensors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// `llama` (Mistral, Llama 3.x): `rope.dimension_count` and `vocab_size` keys.
    Llama,
    /// `qwen2`: adds `attn_{q,k,v}.bias`.
    Qwen2,
}

impl Arch {
    fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
        }
    }

    /// `attention.layer_norm_rms_epsilon` of the real models.
    fn rms_eps(self) -> f32 {
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
    fn head_dim(&self) -> usize {
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

/// Generates the selected shapes; cheap when all are up to date.
pub fn run(args: Args) -> Result<()> {
    let cache = crate::fixtures::cache_dir();
    let out = args.out.unwrap_or_else(|| cache.join("shapes"));
    let shapes = select(&args.only)?;
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let bars = hearth_hub::bars::Bars::prefixed("shapes");
    for shape in shapes {
        let inputs = Inputs::gather(shape, &cache)?;
        let path = out.join(shape.file_name());
        match ensure_file(shape, &inputs, &path, &bars)? {
            Outcome::UpToDate => eprintln!("shapes: {} up to date", path.display()),
            Outcome::Written { bytes, seconds } => {
                eprintln!("shapes: wrote {} ({:.2} GB) in {seconds:.1} s", path.display(), bytes as f64 / 1e9)
            }
        }
    }
    Ok(())
}

fn select(only: &[String]) -> Result<Vec<&'static Shape>> {
    if only.is_empty() {
        return Ok(SHAPES.iter().collect());
    }
    only.iter()
        .map(|name| {
            SHAPES.iter().find(|s| s.name == name.as_str()).with_context(|| {
                let known: Vec<&str> = SHAPES.iter().map(|s| s.name).collect();
                format!("unknown shape '{name}'; known: {}", known.join(", "))
            })
        })
        .collect()
}

/// What the file is made from besides the shape: the tokenizer keys (template included)
/// and a hash of the files they came from, for the stamp.
pub struct Inputs {
    tokenizer: Vec<(String, Value)>,
    hash: u64,
}

impl Inputs {
    /// Reads the shape's vocab GGUF (and template) from the fixture cache.
    pub fn gather(shape: &Shape, cache: &Path) -> Result<Inputs> {
        let vocab = cache.join("vocab").join(format!("ggml-vocab-{}.gguf", shape.vocab));
        ensure!(vocab.exists(), "{} is missing; run `cargo xtask fixtures` first", vocab.display());
        let mut hash = Fnv::new();
        hash.write(&fs::read(&vocab).with_context(|| format!("reading {}", vocab.display()))?);
        let file = GgufFile::open(&vocab)?;
        let tokenizer: Vec<(String, Value)> =
            file.metadata().entries().iter().filter(|(k, _)| k.starts_with("tokenizer.")).cloned().collect();
        let template = match shape.template {
            Template::Vocab => None,
            Template::Inline(text) => Some(text.to_owned()),
            Template::Cached(name) => {
                let path = cache.join("templates").join(name);
                let text = fs::read_to_string(&path).with_context(|| {
                    format!("reading {} (run `cargo xtask fixtures` first)", path.display())
                })?;
                Some(text)
            }
        };
        if let Some(t) = &template {
            hash.write(t.as_bytes());
        }
        Ok(Inputs { tokenizer: tokenizer_keys(tokenizer, shape.n_vocab, template)?, hash: hash.finish() })
    }
}

/// The vocab's `tokenizer.*` keys with the per-token arrays padded to `n_vocab` the way
/// llama.cpp's converter pads a vocabulary smaller than the embedding table (`[PAD<id>]`,
/// type UNUSED), and `template` as `tokenizer.chat_template` unless the vocab has one.
fn tokenizer_keys(
    mut keys: Vec<(String, Value)>,
    n_vocab: usize,
    template: Option<String>,
) -> Result<Vec<(String, Value)>> {
    for (key, value) in keys.iter_mut() {
        let Value::Array(array) = value else { continue };
        match (key.as_str(), array) {
            ("tokenizer.ggml.tokens", Array::String(v)) => {
                ensure!(
                    v.len() <= n_vocab,
                    "vocab has {} tokens, more than the {n_vocab} embedding rows",
                    v.len()
                );
                let n = v.len();
                v.extend((n..n_vocab).map(|i| format!("[PAD{i}]")));
            }
            ("tokenizer.ggml.token_type", Array::I32(v)) => v.resize(n_vocab.max(v.len()), TOKEN_TYPE_UNUSED),
            ("tokenizer.ggml.scores", Array::F32(v)) => v.resize(n_vocab.max(v.len()), 0.0),
            _ => {}
        }
    }
    let len_of = |k: &str| match keys.iter().find(|(key, _)| key == k) {
        Some((_, Value::Array(a))) => Some(a.len()),
        _ => None,
    };
    for k in ["tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.scores"] {
        if let Some(n) = len_of(k) {
            ensure!(n == n_vocab, "{k} has {n} entries, expected {n_vocab}");
        }
    }
    ensure!(len_of("tokenizer.ggml.tokens").is_some(), "the vocab has no tokenizer.ggml.tokens");
    if let Some(t) = template
        && !keys.iter().any(|(k, _)| k == "tokenizer.chat_template")
    {
        keys.push(("tokenizer.chat_template".into(), Value::String(t)));
    }
    Ok(keys)
}

/// What [`ensure_file`] did.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The stamp matched; nothing was written.
    UpToDate,
    /// The file was (re)generated.
    Written {
        /// File length.
        bytes: u64,
        /// Wall time.
        seconds: f64,
    },
}

/// Writes `path` unless its stamp says it is already this shape from these inputs.
pub fn ensure_file(shape: &Shape, inputs: &Inputs, path: &Path, progress: &dyn Progress) -> Result<Outcome> {
    let stamp_path = path.with_extension("gguf.stamp");
    let expected = stamp_text(shape, inputs);
    if let (Ok(stamp), Ok(meta)) = (fs::read_to_string(&stamp_path), fs::metadata(path))
        && stamp == format!("{expected}bytes {}\n", meta.len())
    {
        return Ok(Outcome::UpToDate);
    }
    let t0 = Instant::now();
    let _ = fs::remove_file(&stamp_path);
    let part = path.with_extension("gguf.part");
    let (writer, fills) = layout(shape, inputs)?;
    eprintln!("shapes: {}: {}", shape.name, type_summary(shape, &writer));
    write_gguf(shape, &writer, &fills, &part, progress)
        .with_context(|| format!("writing {}", part.display()))?;
    fs::rename(&part, path)?;
    let bytes = fs::metadata(path)?.len();
    let tmp = stamp_path.with_extension("stamp.part");
    fs::write(&tmp, format!("{expected}bytes {bytes}\n"))?;
    fs::rename(&tmp, &stamp_path)?;
    Ok(Outcome::Written { bytes, seconds: t0.elapsed().as_secs_f64() })
}

fn stamp_text(shape: &Shape, inputs: &Inputs) -> String {
    format!("{GENERATOR}\n{shape:?}\ninputs {:016x}\n", inputs.hash)
}

/// How a tensor's bytes are made.
#[derive(Debug)]
enum Fill {
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
fn layout(shape: &Shape, inputs: &Inputs) -> Result<(GgufWriter, Vec<Fill>)> {
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
fn tensor_list(shape: &Shape) -> Vec<(String, Vec<u64>, Fill)> {
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
fn layer_of(name: &str) -> i64 {
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
fn type_summary(shape: &Shape, w: &GgufWriter) -> String {
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

/// Streams the file: header from `writer`, tensor data generated chunk by chunk.
fn write_gguf(
    shape: &Shape,
    writer: &GgufWriter,
    fills: &[Fill],
    path: &Path,
    progress: &dyn Progress,
) -> Result<()> {
    let total = writer.tensors().iter().map(TensorSpec::n_bytes).sum::<Result<u64, _>>()?;
    let mut file = File::create(path)?;
    let mut buf = Vec::new();
    progress.begin(&shape.file_name(), Some(total));
    let res = writer.write(&mut file, |i, spec, out| {
        let mut rng = Rng::new(seed(shape.name, &spec.name));
        match &fills[i] {
            Fill::Quant => write_quant(spec, &mut rng, &mut buf, out, progress),
            Fill::Norm => write_f32(out, (0..spec.dims[0]).map(|_| 1.0 + 0.1 * rng.signed_unit())),
            Fill::Bias => write_f32(out, (0..spec.dims[0]).map(|_| 0.05 * rng.signed_unit())),
            Fill::Values(v) => write_f32(out, v.iter().copied()),
        }
    });
    progress.end();
    res?;
    file.sync_all()?;
    Ok(())
}

fn write_f32(out: &mut dyn Write, values: impl Iterator<Item = f32>) -> io::Result<()> {
    let bytes: Vec<u8> = values.flat_map(f32::to_le_bytes).collect();
    out.write_all(&bytes)
}

/// Random blocks of a Q4_K or Q6_K tensor: all bytes random (every quant and packed 6-bit
/// scale is valid), then the f16 super-block scales overwritten with small positive values
/// chosen so the weights have a real model's spread (std ≈ 0.03, mean ≈ 0).
fn write_quant(
    spec: &TensorSpec,
    rng: &mut Rng,
    buf: &mut Vec<u8>,
    out: &mut dyn Write,
    progress: &dyn Progress,
) -> io::Result<()> {
    let table = ScaleTable::for_type(spec.ty).ok_or_else(|| {
        io::Error::other(format!("{}: no random block generator for {}", spec.name, spec.ty))
    })?;
    let n_bytes = spec.n_bytes().map_err(io::Error::other)? as usize;
    let chunk = CHUNK_BLOCKS * table.block_bytes;
    buf.resize(chunk, 0);
    let mut left = n_bytes;
    while left > 0 {
        let n = left.min(chunk);
        let bytes = &mut buf[..n];
        rng.fill(bytes);
        for block in bytes.chunks_exact_mut(table.block_bytes) {
            table.fix(block);
        }
        out.write_all(bytes)?;
        progress.advance(n as u64);
        left -= n;
    }
    Ok(())
}

/// The f16 scale fields of one block type and 256 choices of their values, indexed by a
/// random byte of the block (the byte the scale overwrites).
struct ScaleTable {
    block_bytes: usize,
    /// Offset of `d` (Q4_K: `dmin` follows at `+2`).
    offset: usize,
    /// f16 bits of `(d, dmin)`; `dmin` unused for Q6_K.
    values: [(u16, u16); 256],
}

impl ScaleTable {
    fn for_type(ty: DType) -> Option<ScaleTable> {
        // Q4_K: w = d·sc·q − dmin·m with sc, m ∈ 0..63 (6-bit) and q ∈ 0..15. For uniform
        // random bits E[sc·q] = 31.5·7.5 and E[m] = 31.5, so dmin = 7.5·d centres the weights
        // on 0, and std(w) ≈ 258·d: d ∈ [0.8, 1.6]·1e-4 gives std ≈ 0.02..0.04.
        // Q6_K: w = d·sc·(q − 32) with sc an i8 and q ∈ 0..63, std(w) ≈ 1370·d:
        // d ∈ [1.5, 3]·1e-5 gives the same spread.
        let (block_bytes, offset, lo, hi, min_ratio) = match ty {
            DType::Q4_K => (144, 0, 0.8e-4f32, 1.6e-4f32, 7.5f32),
            DType::Q6_K => (210, 208, 1.5e-5, 3e-5, 0.0),
            _ => return None,
        };
        let mut values = [(0u16, 0u16); 256];
        for (k, v) in values.iter_mut().enumerate() {
            let d = lo * (hi / lo).powf(k as f32 / 255.0);
            *v = (f32_to_f16_truncating(d), f32_to_f16_truncating(d * min_ratio));
        }
        Some(ScaleTable { block_bytes, offset, values })
    }

    fn fix(&self, block: &mut [u8]) {
        let (d, dmin) = self.values[block[self.offset] as usize];
        block[self.offset..self.offset + 2].copy_from_slice(&d.to_le_bytes());
        if self.block_bytes == 144 {
            block[self.offset + 2..self.offset + 4].copy_from_slice(&dmin.to_le_bytes());
        }
    }
}

/// f32 → IEEE half-precision bits of a non-negative finite `v`, truncating the mantissa
/// (values below the normal range become subnormals, above it the largest finite half).
/// Not `hearth_dtype::f32_to_f16` (ggml's round-to-nearest-even): the shape-alike bytes
/// are pinned by the generator version, and rounding would change them.
fn f32_to_f16_truncating(v: f32) -> u16 {
    let v = v.clamp(0.0, 65504.0);
    let bits = v.to_bits();
    let exp = ((bits >> 23) & 0xff) as i32 - 127;
    if exp >= -14 {
        ((((exp + 15) as u32) << 10) | ((bits >> 13) & 0x3ff)) as u16
    } else {
        (v * 16_777_216.0).round() as u16 // subnormal: m · 2^-24
    }
}

/// The seed of one tensor: a hash of the generator version, shape and tensor name.
fn seed(shape: &str, tensor: &str) -> u64 {
    let mut h = Fnv::new();
    for part in [GENERATOR, shape, tensor] {
        h.write(part.as_bytes());
        h.write(b"/");
    }
    h.finish()
}

/// FNV-1a, 64-bit: seeds and the stamp's input hash (not cryptographic; it only has to
/// change when the inputs do).
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// SplitMix64: fast, and the same stream on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[-1, 1)`.
    fn signed_unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let r = self.next_u64().to_le_bytes();
            let n = rest.len();
            rest.copy_from_slice(&r[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_dtype::f16_to_f32;
    use hearth_hub::download::Silent;

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

    #[test]
    fn f32_to_f16_truncating_of_known_values() {
        assert_eq!(f32_to_f16_truncating(1.0), 0x3c00);
        assert_eq!(f32_to_f16_truncating(0.5), 0x3800);
        assert_eq!(f32_to_f16_truncating(65504.0), 0x7bff);
        assert_eq!(f32_to_f16_truncating(1e9), 0x7bff);
        assert_eq!(f32_to_f16_truncating(2f32.powi(-14)), 0x0400);
        assert_eq!(f32_to_f16_truncating(2f32.powi(-24)), 0x0001);
        assert_eq!(f32_to_f16_truncating(0.0), 0);
        for v in [1.5e-5f32, 3e-5, 8e-5, 1.6e-4, 1.2e-3] {
            let back = f16_to_f32(f32_to_f16_truncating(v));
            assert!((back - v).abs() <= v * 0.04, "{v} -> {back}");
        }
    }

    /// A tiny shape in each architecture, small enough to write in a unit test.
    fn tiny(arch: Arch, tied: bool) -> Shape {
        Shape {
            name: if arch == Arch::Llama { "tiny-llama" } else { "tiny-qwen2" },
            arch,
            n_layer: 3,
            n_embd: 256,
            n_ff: 512,
            n_head: 2,
            n_head_kv: 1,
            n_vocab: 40,
            rope_base: 5e5,
            tied,
            n_ctx_train: 4096,
            vocab: "synthetic",
            llama3_rope: arch == Arch::Llama,
            head_dim_keys: true,
            template: Template::Inline("{{ messages }}"),
        }
    }

    fn tiny_inputs(n_tokens: usize, hash: u64) -> Inputs {
        let keys = vec![
            ("tokenizer.ggml.model".to_owned(), Value::String("gpt2".into())),
            (
                "tokenizer.ggml.tokens".to_owned(),
                Value::Array(Array::String((0..n_tokens).map(|i| format!("t{i}")).collect())),
            ),
            ("tokenizer.ggml.token_type".to_owned(), Value::Array(Array::I32(vec![1; n_tokens]))),
            ("tokenizer.ggml.bos_token_id".to_owned(), Value::U32(0)),
        ];
        Inputs { tokenizer: tokenizer_keys(keys, 40, Some("{{ messages }}".into())).expect("keys"), hash }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hearth-shapes-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("temp dir");
        d
    }

    /// Every Q4_K/Q6_K block scale of `file` is finite, positive and small.
    fn check_scales(file: &GgufFile) {
        let mut n = 0;
        for t in file.tensors() {
            let (size, offsets): (usize, &[usize]) = match t.ty {
                DType::Q4_K => (144, &[0, 2]),
                DType::Q6_K => (210, &[208]),
                _ => continue,
            };
            for block in file.data(t).chunks_exact(size) {
                for &o in offsets {
                    let v = f16_to_f32(u16::from_le_bytes([block[o], block[o + 1]]));
                    assert!(v.is_finite() && v > 0.0 && v < 2e-3, "{}: scale {v}", t.name);
                    n += 1;
                }
            }
        }
        assert!(n > 0);
    }

    #[test]
    fn tiny_shapes_are_valid_reproducible_and_idempotent() {
        for (arch, tied) in [(Arch::Llama, false), (Arch::Qwen2, true)] {
            let s = tiny(arch, tied);
            let dir = temp_dir(s.name);
            let path = dir.join(s.file_name());
            let inputs = tiny_inputs(30, 1);
            assert!(matches!(
                ensure_file(&s, &inputs, &path, &Silent).expect("write"),
                Outcome::Written { .. }
            ));
            assert!(!path.with_extension("gguf.part").exists());

            let file = GgufFile::open(&path).expect("open");
            let meta = file.metadata();
            let p = arch.name();
            assert_eq!(meta.str("general.architecture").expect("arch"), p);
            assert_eq!(meta.u32(&format!("{p}.block_count")).expect("layers"), 3);
            assert_eq!(meta.u32("general.file_type").expect("ftype"), FTYPE_Q4_K_M);
            assert!(meta.str("general.name").expect("name").ends_with("shape-alike (random weights)"));
            let tokens = meta.str_array("tokenizer.ggml.tokens").expect("tokens");
            assert_eq!(tokens.len(), 40);
            assert_eq!(tokens[29], "t29");
            assert_eq!(tokens[30], "[PAD30]");
            assert_eq!(meta.str("tokenizer.chat_template").expect("template"), "{{ messages }}");
            let expected: Vec<String> = {
                let mut v: Vec<(i64, String)> =
                    tensor_list(&s).into_iter().map(|(n, _, _)| (layer_of(&n), n)).collect();
                v.sort();
                v.into_iter().map(|(_, n)| n).collect()
            };
            let names: Vec<String> = file.tensors().iter().map(|t| t.name.clone()).collect();
            assert_eq!(names, expected);
            assert_eq!(file.tensor("output.weight").is_some(), !tied);
            assert_eq!(file.tensor("blk.0.attn_q.bias").is_some(), arch == Arch::Qwen2);
            assert_eq!(
                file.tensor("rope_freqs.weight").map(|t| t.dims.clone()),
                (arch == Arch::Llama).then(|| vec![64])
            );
            check_scales(&file);
            let (_, norm) = file.tensor_data("blk.1.ffn_norm.weight").expect("norm");
            for c in norm.chunks_exact(4) {
                let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                assert!((0.9..=1.1).contains(&x), "norm weight {x}");
            }
            let bytes = fs::read(&path).expect("read");
            drop(file);

            // Same stamp: skipped. Same inputs elsewhere: the same bytes.
            assert_eq!(ensure_file(&s, &inputs, &path, &Silent).expect("again"), Outcome::UpToDate);
            let other = dir.join("copy.gguf");
            ensure_file(&s, &inputs, &other, &Silent).expect("copy");
            assert!(fs::read(&other).expect("read copy") == bytes, "not reproducible");
            // Other inputs (a changed vocab): rewritten.
            assert!(matches!(
                ensure_file(&s, &tiny_inputs(30, 2), &path, &Silent).expect("redo"),
                Outcome::Written { .. }
            ));
            // A truncated file is not up to date.
            fs::write(&path, b"GGUF").expect("truncate");
            assert!(matches!(
                ensure_file(&s, &tiny_inputs(30, 2), &path, &Silent).expect("redo"),
                Outcome::Written { .. }
            ));
            let _ = fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn padding_refuses_a_vocab_larger_than_the_embedding() {
        let keys =
            vec![("tokenizer.ggml.tokens".to_owned(), Value::Array(Array::String(vec!["a".into(); 41])))];
        assert!(tokenizer_keys(keys, 40, None).is_err());
        let keys =
            vec![("tokenizer.ggml.tokens".to_owned(), Value::Array(Array::String(vec!["a".into(); 4])))];
        let out = tokenizer_keys(keys, 6, None).expect("pads");
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn unknown_shape_names_are_refused() {
        assert!(select(&["mistral-7b".into()]).is_ok());
        let err = select(&["gpt-5".into()]).expect_err("refused").to_string();
        assert!(err.contains("qwen2.5-coder-7b"), "{err}");
        assert_eq!(select(&[]).expect("all").len(), SHAPES.len());
    }
}
