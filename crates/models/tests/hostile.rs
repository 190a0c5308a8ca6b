//! Crafted model files (issue 19, item 1): every count in the metadata is checked against
//! the tensors the file holds before anything is sized by it, and a file that lies is a typed
//! error naming the key — never an abort. Each test starts from a tiny valid model built in
//! memory and changes one thing.

use hearth_gguf::{Array, DType, GgufFile, GgufWriter, Value};
use hearth_kernels::ThreadPool;
use hearth_models::{Logits, Model, ModelError, Scratch, SeqInput};

const N_LAYER: u64 = 2;
const N_EMBD: u64 = 32;
const N_HEAD: u64 = 4;
const N_HEAD_KV: u64 = 2;
const HEAD_DIM: u64 = 8;
const N_FF: u64 = 64;
const N_VOCAB: u64 = 16;

/// A tiny model file: metadata and tensors, edited by a test before it is written.
struct Tiny {
    arch: &'static str,
    meta: Vec<(String, Value)>,
    tensors: Vec<(String, DType, Vec<u64>)>,
}

impl Tiny {
    fn new(arch: &'static str) -> Tiny {
        let k = |s: &str| format!("{arch}.{s}");
        let mut meta = vec![("general.architecture".to_owned(), Value::String(arch.into()))];
        for (key, v) in [
            ("block_count", N_LAYER),
            ("embedding_length", N_EMBD),
            ("feed_forward_length", N_FF),
            ("attention.head_count", N_HEAD),
            ("attention.head_count_kv", N_HEAD_KV),
            ("context_length", 64),
        ] {
            meta.push((k(key), Value::U32(v as u32)));
        }
        meta.push((k("attention.layer_norm_rms_epsilon"), Value::F32(1e-5)));
        if arch == "gemma3" {
            meta.push((k("attention.key_length"), Value::U32(HEAD_DIM as u32)));
            meta.push((k("attention.value_length"), Value::U32(HEAD_DIM as u32)));
            meta.push((k("attention.sliding_window"), Value::U32(4)));
        }
        let tokens = (0..N_VOCAB).map(|i| format!("t{i}")).collect();
        meta.push(("tokenizer.ggml.tokens".into(), Value::Array(Array::String(tokens))));

        let (q, kv) = (N_HEAD * HEAD_DIM, N_HEAD_KV * HEAD_DIM);
        let f32 = DType::F32;
        let mut tensors = vec![
            ("token_embd.weight".to_owned(), DType::Q8_0, vec![N_EMBD, N_VOCAB]),
            ("output_norm.weight".to_owned(), f32, vec![N_EMBD]),
        ];
        for i in 0..N_LAYER {
            let n = |s: &str| format!("blk.{i}.{s}");
            tensors.extend([
                (n("attn_norm.weight"), f32, vec![N_EMBD]),
                (n("attn_q.weight"), DType::Q8_0, vec![N_EMBD, q]),
                (n("attn_k.weight"), DType::F16, vec![N_EMBD, kv]),
                (n("attn_v.weight"), f32, vec![N_EMBD, kv]),
                (n("attn_output.weight"), DType::Q8_0, vec![q, N_EMBD]),
                (n("ffn_norm.weight"), f32, vec![N_EMBD]),
                (n("ffn_gate.weight"), DType::Q8_0, vec![N_EMBD, N_FF]),
                (n("ffn_up.weight"), DType::Q8_0, vec![N_EMBD, N_FF]),
                (n("ffn_down.weight"), DType::Q8_0, vec![N_FF, N_EMBD]),
            ]);
            match arch {
                "qwen2" => tensors.extend([
                    (n("attn_q.bias"), f32, vec![q]),
                    (n("attn_k.bias"), f32, vec![kv]),
                    (n("attn_v.bias"), f32, vec![kv]),
                ]),
                "gemma3" => tensors.extend([
                    (n("attn_q_norm.weight"), f32, vec![HEAD_DIM]),
                    (n("attn_k_norm.weight"), f32, vec![HEAD_DIM]),
                    (n("post_attention_norm.weight"), f32, vec![N_EMBD]),
                    (n("post_ffw_norm.weight"), f32, vec![N_EMBD]),
                ]),
                _ => {}
            }
        }
        Tiny { arch, meta, tensors }
    }

    /// Sets `{arch}.key` (or a full key containing a dot-free prefix such as `tokenizer.`).
    fn set(mut self, key: &str, value: Value) -> Tiny {
        let key = if key.starts_with("tokenizer.") || key.starts_with("general.") {
            key.to_owned()
        } else {
            format!("{}.{key}", self.arch)
        };
        match self.meta.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 = value,
            None => self.meta.push((key, value)),
        }
        self
    }

    fn remove_tensor(mut self, name: &str) -> Tiny {
        let before = self.tensors.len();
        self.tensors.retain(|(n, _, _)| n != name);
        assert_eq!(self.tensors.len(), before - 1, "no tensor {name}");
        self
    }

    fn tensor(mut self, name: &str, ty: DType, dims: &[u64]) -> Tiny {
        self.tensors.retain(|(n, _, _)| n != name);
        self.tensors.push((name.to_owned(), ty, dims.to_vec()));
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut w = GgufWriter::new();
        for (k, v) in &self.meta {
            w.set(k.clone(), v.clone());
        }
        for (name, ty, dims) in &self.tensors {
            w.add_tensor(name.clone(), *ty, dims).unwrap();
        }
        let data: Vec<Vec<u8>> =
            w.tensors().iter().enumerate().map(|(i, t)| tensor_data(i, t.ty, t.n_bytes().unwrap())).collect();
        let slices: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        w.to_bytes(&slices).unwrap()
    }

    fn load(&self) -> Result<Model, ModelError> {
        Model::load(GgufFile::from_bytes(&self.bytes())?.into())
    }

    /// The load error; panics (failing the test) if the file loads.
    fn error(&self) -> ModelError {
        match self.load() {
            Ok(_) => panic!("the crafted file loaded"),
            Err(e) => e,
        }
    }
}

/// Small finite values of the tensor's type (f32 / f16 / q8_0 with a small scale).
fn tensor_data(seed: usize, ty: DType, n_bytes: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n_bytes as usize);
    let mut x = seed as u32 * 2_654_435_761 + 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    while (out.len() as u64) < n_bytes {
        match ty {
            DType::F32 => out.extend((1.0 + (next() % 100) as f32 / 1000.0).to_le_bytes()),
            DType::F16 => {
                out.extend(hearth_kernels::f32_to_f16((next() % 100) as f32 / 1000.0).to_le_bytes())
            }
            DType::Q8_0 => {
                out.extend(hearth_kernels::f32_to_f16(0.01).to_le_bytes());
                out.extend((0..32).map(|_| (next() % 32) as u8));
            }
            DType::I32 => out.extend((next() % 100).to_le_bytes()),
            other => panic!("no test data for {other}"),
        }
    }
    out
}

fn assert_bad_metadata(e: ModelError, key: &str) {
    match &e {
        ModelError::BadMetadata { key: k, .. } if k == key => {}
        other => panic!("expected a BadMetadata error for {key}, got: {other}"),
    }
}

#[test]
fn the_tiny_models_load_and_run() {
    let pool = ThreadPool::new(1);
    for arch in ["llama", "qwen2", "gemma3"] {
        let model = Tiny::new(arch).load().unwrap_or_else(|e| panic!("{arch}: {e}"));
        assert_eq!(model.config().n_layer, N_LAYER as usize);
        let mut cache = model.new_cache(8);
        let mut scratch = Scratch::new();
        let tokens = [1u32, 5, 9];
        let logits = model
            .forward(&pool, &mut [SeqInput::new(&tokens, &mut cache, Logits::Last)], &mut scratch)
            .unwrap();
        assert_eq!(logits.len(), N_VOCAB as usize);
        assert!(logits.iter().all(|l| l.is_finite()), "{arch}: {logits:?}");
    }
}

#[test]
fn block_count_beyond_the_tensors_is_an_error_not_an_abort() {
    // Issue 19: 0xFFFFFFFF aborted in Weights::load (Vec::with_capacity), 2^40 in Config.
    for v in [Value::U32(u32::MAX), Value::U64(1 << 40), Value::U64(u64::MAX), Value::U32(3)] {
        let e = Tiny::new("llama").set("block_count", v.clone()).error();
        assert_bad_metadata(e, "llama.block_count");
    }
    let e = Tiny::new("llama").set("block_count", Value::U32(u32::MAX)).error();
    assert_eq!(
        e.to_string(),
        "metadata llama.block_count = 4294967295 does not fit the file: the file holds tensors for 2 blocks"
    );
    // The same with the sliding-window layer table (Mistral, Gemma 3), sized by block_count.
    let e = Tiny::new("gemma3").set("block_count", Value::U64(1 << 40)).error();
    assert_bad_metadata(e, "gemma3.block_count");
}

#[test]
fn block_count_below_the_tensors_or_zero_is_an_error() {
    for n in [0, 1] {
        assert_bad_metadata(
            Tiny::new("llama").set("block_count", Value::U32(n)).error(),
            "llama.block_count",
        );
    }
}

#[test]
fn a_negative_block_count_is_a_type_error() {
    let e = Tiny::new("llama").set("block_count", Value::I32(-1)).error();
    assert!(matches!(e, ModelError::Gguf(hearth_gguf::GgufError::WrongType { .. })), "{e}");
}

#[test]
fn one_far_block_index_does_not_vouch_for_billions_of_blocks() {
    let e = Tiny::new("llama")
        .tensor("blk.4294967294.attn_norm.weight", DType::F32, &[N_EMBD])
        .set("block_count", Value::U32(u32::MAX))
        .error();
    assert_bad_metadata(e, "llama.block_count");
}

#[test]
fn a_missing_block_is_named() {
    // Three blocks counted (0, 1 and a lone 3), block 2 missing.
    let e = Tiny::new("llama")
        .tensor("blk.3.attn_norm.weight", DType::F32, &[N_EMBD])
        .set("block_count", Value::U32(3))
        .error();
    assert!(matches!(&e, ModelError::MissingTensor { name } if name == "blk.2.attn_norm.weight"), "{e}");
}

#[test]
fn embedding_length_must_match_token_embd() {
    for n in [0, 64, 1 << 40] {
        let e = Tiny::new("llama").set("embedding_length", Value::U64(n)).error();
        assert_bad_metadata(e, "llama.embedding_length");
    }
}

#[test]
fn vocab_size_must_match_token_embd_and_the_token_list() {
    let e = Tiny::new("llama").set("vocab_size", Value::U64(1 << 40)).error();
    assert_bad_metadata(e, "llama.vocab_size");
    let short = Value::Array(Array::String(vec!["a".into(); 3]));
    let e = Tiny::new("llama").set("tokenizer.ggml.tokens", short).error();
    assert_bad_metadata(e, "llama.vocab_size");
    // vocab_size agreeing with the tensor but not with the token list.
    let long = Value::Array(Array::String(vec!["a".into(); 17]));
    let e = Tiny::new("llama").set("vocab_size", Value::U32(16)).set("tokenizer.ggml.tokens", long).error();
    assert_bad_metadata(e, "llama.vocab_size");
}

#[test]
fn an_output_head_of_another_vocabulary_is_an_error() {
    let e = Tiny::new("llama").tensor("output.weight", DType::F32, &[N_EMBD, N_VOCAB + 1]).error();
    assert!(matches!(&e, ModelError::BadShape { name, .. } if name == "output.weight"), "{e}");
}

#[test]
fn head_counts_must_be_positive_and_kv_heads_divide_heads() {
    assert_bad_metadata(
        Tiny::new("llama").set("attention.head_count", Value::U32(0)).error(),
        "llama.attention.head_count",
    );
    assert_bad_metadata(
        Tiny::new("llama").set("attention.head_count_kv", Value::U32(0)).error(),
        "llama.attention.head_count_kv",
    );
    assert_bad_metadata(
        Tiny::new("llama").set("attention.head_count_kv", Value::U32(3)).error(),
        "llama.attention.head_count_kv",
    );
}

#[test]
fn head_count_must_divide_embedding_length_without_a_key_length() {
    let e = Tiny::new("llama")
        .set("attention.head_count", Value::U32(3))
        .set("attention.head_count_kv", Value::U32(1))
        .error();
    assert_bad_metadata(e, "llama.attention.head_count");
}

#[test]
fn head_shapes_must_match_the_projections() {
    // 8 heads of 4 = 32 rows, as attn_q, but attn_k has 2 × 8 = 16 rows, not 8 × 4 / ratio.
    let e = Tiny::new("llama")
        .set("attention.head_count", Value::U32(8))
        .set("attention.head_count_kv", Value::U32(8))
        .error();
    assert_bad_metadata(e, "llama.attention.head_count_kv");
    // A key length whose product with the head count overflows.
    let e = Tiny::new("gemma3")
        .set("attention.key_length", Value::U64(1 << 62))
        .set("attention.value_length", Value::U64(1 << 62))
        .set("rope.dimension_count", Value::U32(8))
        .error();
    assert_bad_metadata(e, "gemma3.attention.head_count");
}

#[test]
fn feed_forward_length_must_match_ffn_up() {
    for n in [0, 63, u32::MAX as u64] {
        let e = Tiny::new("llama").set("feed_forward_length", Value::U64(n)).error();
        assert_bad_metadata(e, "llama.feed_forward_length");
    }
}

#[test]
fn context_length_zero_is_an_error() {
    let e = Tiny::new("llama").set("context_length", Value::U32(0)).error();
    assert_bad_metadata(e, "llama.context_length");
}

#[test]
fn a_huge_context_length_allocates_nothing_by_itself() {
    let model = Tiny::new("llama").set("context_length", Value::U64(1 << 40)).load().unwrap();
    assert_eq!(model.new_cache(1 << 40).capacity(), 1 << 40);
}

#[test]
fn every_gemma3_block_needs_its_norms() {
    for t in
        ["attn_q_norm.weight", "attn_k_norm.weight", "post_attention_norm.weight", "post_ffw_norm.weight"]
    {
        let name = format!("blk.1.{t}");
        let e = Tiny::new("gemma3").remove_tensor(&name).error();
        assert!(matches!(&e, ModelError::MissingTensor { name: n } if *n == name), "{e}");
    }
}

#[test]
fn a_lone_qwen2_bias_is_an_error() {
    let e = Tiny::new("qwen2").remove_tensor("blk.0.attn_k.bias").error();
    assert!(matches!(&e, ModelError::MissingTensor { name } if name == "blk.0.attn_k.bias"), "{e}");
}

#[test]
fn a_matrix_of_a_type_without_kernels_is_an_error() {
    let e =
        Tiny::new("llama").tensor("blk.0.attn_q.weight", DType::I32, &[N_EMBD, N_HEAD * HEAD_DIM]).error();
    assert!(matches!(&e, ModelError::UnsupportedType { name, .. } if name == "blk.0.attn_q.weight"), "{e}");
}

#[test]
fn a_one_dimensional_token_embedding_is_an_error() {
    let e = Tiny::new("llama").tensor("token_embd.weight", DType::F32, &[N_EMBD * N_VOCAB]).error();
    assert!(matches!(&e, ModelError::BadShape { name, .. } if name == "token_embd.weight"), "{e}");
}

#[test]
fn a_sliding_window_pattern_of_the_wrong_length_is_an_error() {
    let e = Tiny::new("llama")
        .set("attention.sliding_window", Value::U32(4))
        .set("attention.sliding_window_pattern", Value::Array(Array::Bool(vec![true; 5])))
        .error();
    assert!(matches!(e, ModelError::Config(_)), "{e}");
}
