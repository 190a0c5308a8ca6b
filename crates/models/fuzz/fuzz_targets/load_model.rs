//! Fuzz target: the model load path over hostile *metadata values*, not only header bytes.
//!
//! Each input describes a small model that starts out valid (llama, qwen2 or gemma3; a few
//! layers; dims, head counts and tensor types chosen by the fuzzer) and is then edited: metadata
//! keys set to values of any type and size (block counts of 2^32 - 1 or 2^40, zero heads, NaN
//! epsilons, token arrays of the wrong length, sliding-window patterns of any shape), keys
//! removed, tensors reshaped, retyped, renamed, added or removed. The file is written with
//! `GgufWriter`, mapped (`GgufFile::from_bytes`), and loaded (`GgufFile` → `Config` → `Weights` → `Model`). Loading must
//! return `Ok` or a typed error — never panic, abort or allocate what the file cannot back
//! (run with `-rss_limit_mb=2048 -malloc_limit_mb=2048`). A model that loads must then run a
//! forward pass without panicking: whatever load accepts, `forward` has to be able to use.
#![no_main]

use std::sync::{Arc, OnceLock};

use hearth_gguf::{Array, DType, GgufFile, GgufWriter, Value};
use hearth_kernels::ThreadPool;
use hearth_models::{Logits, Model, Scratch, SeqInput};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

/// Tensor data of one input stays under this, so every executed input is cheap.
const DATA_BUDGET: u64 = 256 << 10;
/// The written file stays under this: a large `general.alignment` (up to 2^30 is valid) pads
/// every tensor to it, and one such input wrote a 400 MB file (800 MB with the buffer's
/// growth) — the harness's memory, not the loader's, which libFuzzer's RSS limit then blamed
/// on whatever input ran next. Such files are skipped like those over the data budget.
const FILE_BUDGET: usize = 8 << 20;

/// A `Vec` that refuses writes past [`FILE_BUDGET`].
struct Capped(Vec<u8>);

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > FILE_BUDGET {
            return Err(std::io::Error::other("the file would exceed the harness's budget"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Tensor {
    name: String,
    ty: DType,
    dims: Vec<u64>,
}

struct Spec {
    meta: Vec<(String, Value)>,
    tensors: Vec<Tensor>,
    fill: u8,
    tokens: Vec<u32>,
    n_ctx: usize,
    logits: Logits,
}

/// Values that break arithmetic: zero, one, around powers of two, the integer limits.
const EDGES: [u64; 30] = [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    16,
    31,
    32,
    33,
    64,
    255,
    256,
    257,
    4096,
    65535,
    65536,
    (1 << 31) - 1,
    1 << 31,
    u32::MAX as u64,
    1 << 32,
    1 << 40,
    1 << 62,
    i64::MAX as u64,
    1 << 63,
    u64::MAX - 1,
    u64::MAX,
];

/// Matrix types hearth has kernels for, most likely first; any other ggml type is also tried.
const MATRIX_TYPES: [DType; 8] = [
    DType::F32,
    DType::Q8_0,
    DType::F16,
    DType::Q4_0,
    DType::Q4_K,
    DType::Q6_K,
    DType::BF16,
    DType::Q5_K,
];

/// Per-layer tensor names a model may have.
const LAYER_TENSORS: [&str; 16] = [
    "attn_norm.weight",
    "attn_q.weight",
    "attn_k.weight",
    "attn_v.weight",
    "attn_output.weight",
    "ffn_norm.weight",
    "ffn_gate.weight",
    "ffn_up.weight",
    "ffn_down.weight",
    "attn_q.bias",
    "attn_k.bias",
    "attn_v.bias",
    "attn_q_norm.weight",
    "attn_k_norm.weight",
    "post_attention_norm.weight",
    "post_ffw_norm.weight",
];

/// Architecture-prefixed metadata keys `Config::from_gguf` reads.
const ARCH_KEYS: [&str; 22] = [
    "block_count",
    "embedding_length",
    "feed_forward_length",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.key_length",
    "attention.value_length",
    "rope.dimension_count",
    "vocab_size",
    "context_length",
    "attention.layer_norm_rms_epsilon",
    "rope.freq_base",
    "rope.freq_base_swa",
    "rope.scaling.type",
    "rope.scaling.factor",
    "rope.scale_linear",
    "rope.scaling.attn_factor",
    "rope.scaling.original_context_length",
    "attention.sliding_window",
    "attention.sliding_window_pattern",
    "final_logit_softcapping",
    "expert_count",
];

fn pool() -> &'static ThreadPool {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| ThreadPool::new(1))
}

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = build(&mut Unstructured::new(data)) else { return };
    run(&spec);
});

/// A count near `base` or at an edge.
fn count(u: &mut Unstructured<'_>, related: &[u64]) -> Result<u64> {
    Ok(match u.int_in_range(0..=3)? {
        0 => *u.choose(&EDGES)?,
        1 => {
            let base = *u.choose(related)?;
            let delta = u.int_in_range(0..=4u64)?;
            if u.arbitrary()? { base.wrapping_add(delta) } else { base.wrapping_sub(delta) }
        }
        2 => u.arbitrary()?,
        _ => u.int_in_range(0..=300)?,
    })
}

/// An integer metadata value of a width the fuzzer picks (writers disagree on widths).
fn int_value(u: &mut Unstructured<'_>, x: u64) -> Result<Value> {
    Ok(match u.int_in_range(0..=9)? {
        0 => Value::U64(x),
        1 => Value::I32(x as i32),
        2 => Value::I64(x as i64),
        3 => Value::U16(x as u16),
        4 => Value::U8(x as u8),
        5 => Value::I64((x as i64).wrapping_neg()),
        6 => Value::F32(x as f32),
        _ => Value::U32(x as u32),
    })
}

/// A float metadata value, including NaN, infinities, zero and negatives.
fn float_value(u: &mut Unstructured<'_>) -> Result<Value> {
    let specials =
        [0.0, -0.0, 1e-6, 1e-5, 1.0, -1.0, 0.5, 1e4, 1e30, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    let x = if u.arbitrary()? { *u.choose(&specials)? } else { u.arbitrary::<f64>()? };
    Ok(if u.arbitrary()? { Value::F32(x as f32) } else { Value::F64(x) })
}

/// Any metadata value: an integer, a float, a bool, a string, or an array.
fn any_value(u: &mut Unstructured<'_>, related: &[u64]) -> Result<Value> {
    Ok(match u.int_in_range(0..=7)? {
        0..=2 => {
            let x = count(u, related)?;
            int_value(u, x)?
        }
        3 => float_value(u)?,
        4 => Value::Bool(u.arbitrary()?),
        5 => Value::String(
            u.choose(&["linear", "yarn", "none", "llama", "qwen2", "gemma3", "", "\u{0}"])?.to_string(),
        ),
        _ => Value::Array(any_array(u, related)?),
    })
}

/// An array of a fuzzer-chosen element type and length (lengths stay small enough to write).
fn any_array(u: &mut Unstructured<'_>, related: &[u64]) -> Result<Array> {
    let n = match u.int_in_range(0..=2)? {
        0 => count(u, related)?.min(1 << 12) as usize,
        _ => u.int_in_range(0..=8usize)?,
    };
    Ok(match u.int_in_range(0..=5)? {
        0 => Array::Bool((0..n).map(|_| u.arbitrary()).collect::<Result<_>>()?),
        1 => Array::U32((0..n).map(|_| count(u, related).map(|x| x as u32)).collect::<Result<_>>()?),
        2 => Array::I32((0..n).map(|_| u.arbitrary()).collect::<Result<_>>()?),
        3 => Array::String((0..n).map(|i| format!("t{i}")).collect()),
        4 => Array::F32((0..n).map(|_| u.arbitrary()).collect::<Result<_>>()?),
        _ => Array::U64((0..n).map(|_| count(u, related)).collect::<Result<_>>()?),
    })
}

/// A matrix type for rows of `cols` elements.
fn matrix_type(u: &mut Unstructured<'_>, cols: u64) -> Result<DType> {
    let ty = if u.ratio(1, 8)? { *u.choose(&DType::ALL)? } else { *u.choose(&MATRIX_TYPES)? };
    Ok(if cols % ty.block_size() as u64 == 0 { ty } else { DType::F32 })
}

/// A vector type (norms and biases are f32 in every real file; f16/bf16 and others are tried).
fn vector_type(u: &mut Unstructured<'_>) -> Result<DType> {
    Ok(if u.ratio(1, 8)? { *u.choose(&DType::ALL)? } else { DType::F32 })
}

fn build(u: &mut Unstructured<'_>) -> Result<Spec> {
    let arch = *u.choose(&["llama", "qwen2", "gemma3"])?;
    let n_layer = u.int_in_range(1..=3u64)?;
    let n_head = u.int_in_range(1..=4u64)?;
    let n_head_kv = u.int_in_range(1..=n_head)?;
    // Small by default so each input is cheap; 256 (a K-quant block) now and then.
    let head_dim = *u.choose(&[8u64, 16, 2, 4, 32, 64])?;
    let n_embd = if u.ratio(1, 16)? { 256 } else { *u.choose(&[32u64, 64, 96])? };
    let n_ff = if u.ratio(1, 16)? { 256 } else { *u.choose(&[32u64, 64])? };
    let n_vocab = u.int_in_range(1..=64u64)?;
    let n_ctx_train = u.int_in_range(1..=512u64)?;
    let (q, kv) = (n_head * head_dim, n_head_kv * head_dim);
    let related = [n_layer, n_head, n_head_kv, head_dim, n_embd, n_ff, n_vocab, n_ctx_train, q, kv];

    let p = |k: &str| format!("{arch}.{k}");
    let mut meta: Vec<(String, Value)> = vec![("general.architecture".into(), Value::String(arch.into()))];
    for (k, x) in [
        ("block_count", n_layer),
        ("embedding_length", n_embd),
        ("feed_forward_length", n_ff),
        ("attention.head_count", n_head),
        ("attention.head_count_kv", n_head_kv),
        ("attention.key_length", head_dim),
        ("attention.value_length", head_dim),
        ("rope.dimension_count", head_dim),
        ("context_length", n_ctx_train),
    ] {
        let v = if u.ratio(7, 8)? { Value::U32(x as u32) } else { int_value(u, x)? };
        meta.push((p(k), v));
    }
    meta.push((p("attention.layer_norm_rms_epsilon"), Value::F32(1e-5)));
    if u.arbitrary()? {
        meta.push((p("vocab_size"), Value::U32(n_vocab as u32)));
    }
    if arch == "gemma3" || u.ratio(1, 4)? {
        meta.push((p("attention.sliding_window"), Value::U32(u.int_in_range(0..=8)?)));
    }
    meta.push((
        "tokenizer.ggml.tokens".into(),
        Value::Array(Array::String((0..n_vocab).map(|i| format!("t{i}")).collect())),
    ));

    let mut tensors = Vec::new();
    let matrix = |u: &mut Unstructured<'_>, name: String, rows: u64, cols: u64| -> Result<Tensor> {
        Ok(Tensor { name, ty: matrix_type(u, cols)?, dims: vec![cols, rows] })
    };
    tensors.push(matrix(u, "token_embd.weight".into(), n_vocab, n_embd)?);
    if u.arbitrary()? {
        tensors.push(matrix(u, "output.weight".into(), n_vocab, n_embd)?);
    }
    tensors.push(Tensor { name: "output_norm.weight".into(), ty: vector_type(u)?, dims: vec![n_embd] });
    if arch == "llama" && u.ratio(1, 4)? {
        tensors.push(Tensor {
            name: "rope_freqs.weight".into(),
            ty: vector_type(u)?,
            dims: vec![head_dim / 2],
        });
    }
    for i in 0..n_layer {
        let n = |s: &str| format!("blk.{i}.{s}");
        for (s, len) in [("attn_norm.weight", n_embd), ("ffn_norm.weight", n_embd)] {
            tensors.push(Tensor { name: n(s), ty: vector_type(u)?, dims: vec![len] });
        }
        for (s, rows, cols) in [
            ("attn_q.weight", q, n_embd),
            ("attn_k.weight", kv, n_embd),
            ("attn_v.weight", kv, n_embd),
            ("attn_output.weight", n_embd, q),
            ("ffn_gate.weight", n_ff, n_embd),
            ("ffn_up.weight", n_ff, n_embd),
            ("ffn_down.weight", n_embd, n_ff),
        ] {
            tensors.push(matrix(u, n(s), rows, cols)?);
        }
        let extra: &[(&str, u64)] = match arch {
            "qwen2" => &[("attn_q.bias", q), ("attn_k.bias", kv), ("attn_v.bias", kv)],
            "gemma3" => &[
                ("attn_q_norm.weight", head_dim),
                ("attn_k_norm.weight", head_dim),
                ("post_attention_norm.weight", n_embd),
                ("post_ffw_norm.weight", n_embd),
            ],
            _ => &[],
        };
        for &(s, len) in extra {
            tensors.push(Tensor { name: n(s), ty: vector_type(u)?, dims: vec![len] });
        }
    }

    // Edits: the point of this target.
    for _ in 0..u.int_in_range(0..=12)? {
        match u.int_in_range(0..=9)? {
            // A count set to an edge value (2^32 - 1, 2^40, 0, ...) as a u32 or u64.
            0 => {
                let key = p(u.choose(&ARCH_KEYS[..10])?);
                let x = *u.choose(&EDGES)?;
                let value = if u.arbitrary()? { Value::U32(x as u32) } else { Value::U64(x) };
                match meta.iter_mut().find(|(k, _)| *k == key) {
                    Some(e) => e.1 = value,
                    None => meta.push((key, value)),
                }
            }
            // A known key (or the architecture) set to any value of any type.
            1..=3 => {
                let key = match u.int_in_range(0..=9)? {
                    0 => "general.architecture".to_owned(),
                    1 => "tokenizer.ggml.tokens".to_owned(),
                    2 => "general.alignment".to_owned(),
                    _ => p(u.choose(&ARCH_KEYS)?),
                };
                let value = any_value(u, &related)?;
                match meta.iter_mut().find(|(k, _)| *k == key) {
                    Some(e) => e.1 = value,
                    None => meta.push((key, value)),
                }
            }
            // A key removed.
            4 => {
                if !meta.is_empty() {
                    let i = u.choose_index(meta.len())?;
                    meta.remove(i);
                }
            }
            // A tensor reshaped: fewer or more dims, edge-valued dims.
            5 => {
                if !tensors.is_empty() {
                    let i = u.choose_index(tensors.len())?;
                    let n_dims = u.int_in_range(0..=4)?;
                    tensors[i].dims = (0..n_dims).map(|_| count(u, &related)).collect::<Result<_>>()?;
                }
            }
            // A tensor retyped.
            6 => {
                if !tensors.is_empty() {
                    let i = u.choose_index(tensors.len())?;
                    tensors[i].ty = *u.choose(&DType::ALL)?;
                }
            }
            // A tensor removed.
            7 => {
                if !tensors.is_empty() {
                    let i = u.choose_index(tensors.len())?;
                    tensors.remove(i);
                }
            }
            // A tensor added (possibly for a layer past block_count), with a shape of its own.
            _ => {
                let layer = u.int_in_range(0..=n_layer + 1)?;
                let name = match u.int_in_range(0..=3)? {
                    0 => u.choose(&["output.weight", "rope_freqs.weight", "token_embd.weight"])?.to_string(),
                    _ => format!("blk.{layer}.{}", u.choose(&LAYER_TENSORS)?),
                };
                let rows = count(u, &related)?;
                let cols = count(u, &related)?;
                let dims = if u.arbitrary()? { vec![cols, rows] } else { vec![cols] };
                if !tensors.iter().any(|t| t.name == name) {
                    tensors.push(Tensor { name, ty: matrix_type(u, cols)?, dims });
                }
            }
        }
    }

    let fill = u.arbitrary()?;
    let n_tokens = u.int_in_range(1..=3usize)?;
    let tokens = (0..n_tokens).map(|_| u.int_in_range(0..=n_vocab as u32)).collect::<Result<_>>()?;
    let n_ctx = u.int_in_range(1..=16)?;
    let logits = *u.choose(&[Logits::Last, Logits::All, Logits::None])?;
    Ok(Spec { meta, tensors, fill, tokens, n_ctx, logits })
}

/// Writes the file (skipping inputs the writer refuses or that exceed the data budget), loads
/// it (from memory, as a mapped file would be), and runs a forward pass on whatever loads.
fn run(spec: &Spec) {
    let mut w = GgufWriter::new();
    for (k, v) in &spec.meta {
        w.set(k.clone(), v.clone());
    }
    let mut total = 0u64;
    for t in &spec.tensors {
        let Ok(w) = w.add_tensor(t.name.clone(), t.ty, &t.dims) else { return };
        let Ok(n) = w.tensors().last().map_or(Ok(0), |s| s.n_bytes()) else { return };
        total = total.saturating_add(n);
        if total > DATA_BUDGET {
            return;
        }
    }
    let mut bytes = Capped(Vec::new());
    let chunk = [spec.fill; 4096];
    let wrote = w.write(&mut bytes, |_, t, out| {
        let mut left = t.n_bytes().unwrap_or(0) as usize;
        while left > 0 {
            let n = left.min(chunk.len());
            out.write_all(&chunk[..n])?;
            left -= n;
        }
        Ok(())
    });
    if wrote.is_err() {
        return;
    }
    let file = match GgufFile::from_bytes(&bytes.0) {
        Ok(f) => f,
        Err(e) => {
            std::hint::black_box(e.to_string());
            return;
        }
    };
    let model = match Model::load(Arc::new(file)) {
        Ok(m) => m,
        Err(e) => {
            std::hint::black_box(e.to_string());
            return;
        }
    };

    let cfg = model.config();
    assert!(cfg.n_layer == model.weights().layers.len());
    std::hint::black_box(model.bytes_per_token());
    let mut cache = model.new_cache(spec.n_ctx);
    let mut scratch = Scratch::new();
    let mut seqs = [SeqInput::new(&spec.tokens, &mut cache, spec.logits)];
    let n_logits = seqs[0].n_logits();
    match model.forward(pool(), &mut seqs, &mut scratch) {
        Ok(logits) => assert_eq!(logits.len(), n_logits * model.config().n_vocab),
        Err(e) => {
            std::hint::black_box(e.to_string());
        }
    }
}
