//! Crafted embedder files: as for the generative models (`hostile.rs`), every count in the
//! metadata is checked against the tensors before anything is sized by it, and a file that
//! lies is a typed error naming the key or tensor — never a panic. Each test starts from a
//! tiny valid BERT or nomic-bert built in memory and changes one thing.

use hearth_gguf::{Array, DType, GgufFile, GgufWriter, Value};
use hearth_models::{Embedder, ModelError, Pooling};

const N_LAYER: u64 = 2;
const N_EMBD: u64 = 32;
const N_HEAD: u64 = 4;
const N_FF: u64 = 64;
const N_CTX: u64 = 16;
const VOCAB: [&str; 10] =
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "\u{2581}a", "\u{2581}b", "\u{2581}c", "s", "\u{2581}cat"];

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
            ("context_length", N_CTX),
            ("pooling_type", 1),
        ] {
            meta.push((k(key), Value::U32(v as u32)));
        }
        meta.push((k("attention.layer_norm_epsilon"), Value::F32(1e-12)));
        meta.push((k("attention.causal"), Value::Bool(false)));
        let tokens: Vec<String> = VOCAB.iter().map(|t| (*t).to_owned()).collect();
        let types: Vec<i32> = VOCAB.iter().map(|t| if t.starts_with('[') { 3 } else { 1 }).collect();
        for (key, v) in [
            ("tokenizer.ggml.model", Value::String("bert".into())),
            ("tokenizer.ggml.tokens", Value::Array(Array::String(tokens))),
            ("tokenizer.ggml.token_type", Value::Array(Array::I32(types))),
            ("tokenizer.ggml.unknown_token_id", Value::U32(1)),
            ("tokenizer.ggml.cls_token_id", Value::U32(2)),
            // llama.cpp starts a WordPiece text with BOS (default 101, bert-base's [CLS]).
            ("tokenizer.ggml.bos_token_id", Value::U32(2)),
            ("tokenizer.ggml.seperator_token_id", Value::U32(3)),
            ("tokenizer.ggml.padding_token_id", Value::U32(0)),
            ("tokenizer.ggml.mask_token_id", Value::U32(4)),
        ] {
            meta.push((key.to_owned(), v));
        }

        let (f32, f16, d, n_vocab) = (DType::F32, DType::F16, N_EMBD, VOCAB.len() as u64);
        let mut tensors = vec![
            ("token_embd.weight".to_owned(), DType::Q8_0, vec![d, n_vocab]),
            ("token_types.weight".to_owned(), f32, vec![d, 2]),
            ("token_embd_norm.weight".to_owned(), f32, vec![d]),
            ("token_embd_norm.bias".to_owned(), f32, vec![d]),
        ];
        if arch == "bert" {
            tensors.push(("position_embd.weight".to_owned(), f32, vec![d, N_CTX]));
        }
        for i in 0..N_LAYER {
            let n = |s: &str| format!("blk.{i}.{s}");
            if arch == "bert" {
                tensors.extend([
                    (n("attn_q.weight"), DType::Q8_0, vec![d, d]),
                    (n("attn_q.bias"), f32, vec![d]),
                    (n("attn_k.weight"), f16, vec![d, d]),
                    (n("attn_k.bias"), f32, vec![d]),
                    (n("attn_v.weight"), f32, vec![d, d]),
                    (n("attn_v.bias"), f32, vec![d]),
                    (n("attn_output.bias"), f32, vec![d]),
                    (n("ffn_up.bias"), f32, vec![N_FF]),
                    (n("ffn_down.bias"), f32, vec![d]),
                ]);
            } else {
                tensors.extend([
                    (n("attn_qkv.weight"), f16, vec![d, 3 * d]),
                    (n("ffn_gate.weight"), f16, vec![d, N_FF]),
                ]);
            }
            tensors.extend([
                (n("attn_output.weight"), DType::Q8_0, vec![d, d]),
                (n("attn_output_norm.weight"), f32, vec![d]),
                (n("attn_output_norm.bias"), f32, vec![d]),
                (n("ffn_up.weight"), f16, vec![d, N_FF]),
                (n("ffn_down.weight"), DType::Q8_0, vec![N_FF, d]),
                (n("layer_output_norm.weight"), f32, vec![d]),
                (n("layer_output_norm.bias"), f32, vec![d]),
            ]);
        }
        Tiny { arch, meta, tensors }
    }

    fn set(mut self, key: &str, value: Value) -> Tiny {
        let key = if key.starts_with("tokenizer.") { key.to_owned() } else { format!("{}.{key}", self.arch) };
        match self.meta.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 = value,
            None => self.meta.push((key, value)),
        }
        self
    }

    fn unset(mut self, key: &str) -> Tiny {
        let key = format!("{}.{key}", self.arch);
        self.meta.retain(|(k, _)| *k != key);
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

    fn load(&self) -> Result<Embedder, ModelError> {
        let mut w = GgufWriter::new();
        for (k, v) in &self.meta {
            w.set(k.clone(), v.clone());
        }
        for (name, ty, dims) in &self.tensors {
            w.add_tensor(name.clone(), *ty, dims).unwrap();
        }
        let data: Vec<Vec<u8>> =
            w.tensors().iter().enumerate().map(|(i, t)| data(i, t.ty, t.n_bytes().unwrap())).collect();
        let slices: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        Embedder::load(GgufFile::from_bytes(&w.to_bytes(&slices).unwrap())?.into())
    }

    fn error(&self) -> ModelError {
        match self.load() {
            Ok(_) => panic!("the crafted file loaded"),
            Err(e) => e,
        }
    }
}

/// Small finite values of the tensor's type.
fn data(seed: usize, ty: DType, n_bytes: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n_bytes as usize);
    let mut x = seed as u32 * 2_654_435_761 + 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        (x % 200) as f32 / 1000.0 - 0.1
    };
    while (out.len() as u64) < n_bytes {
        match ty {
            DType::F32 => out.extend((1.0 + next()).to_le_bytes()),
            DType::F16 => out.extend(hearth_kernels::f32_to_f16(next()).to_le_bytes()),
            DType::Q8_0 => {
                out.extend(hearth_kernels::f32_to_f16(0.01).to_le_bytes());
                out.extend((0..32).map(|_| (next() * 300.0) as i8 as u8));
            }
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
fn the_tiny_files_load_and_embed() {
    for arch in ["bert", "nomic-bert"] {
        let e = Tiny::new(arch).load().unwrap_or_else(|err| panic!("{arch}: {err}"));
        assert_eq!((e.dim(), e.max_tokens(), e.pooling()), (32, 16, Pooling::Mean));
        let v = e.embed(&["a cat", "b", ""]).unwrap();
        assert_eq!(v.len(), 3);
        for x in &v {
            let norm: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
            assert!(x.iter().all(|a| a.is_finite()) && (norm - 1.0).abs() < 1e-4, "{arch}: {x:?}");
        }
        // 14 words + [CLS] + [SEP] = 16 tokens fit; one more does not.
        assert_eq!(e.tokenize(&"a ".repeat(14)), [&[2u32][..], &[5; 14], &[3]].concat(), "{arch}");
        assert!(e.embed(&["a ".repeat(14).as_str()]).is_ok());
        assert!(matches!(e.embed(&["a ".repeat(15).as_str()]), Err(ModelError::TooLong { max: 16, .. })));
    }
}

#[test]
fn a_batch_over_several_passes_equals_one_text_at_a_time() {
    // 300 texts of up to 16 tokens: more than one pass of 2048 tokens.
    let words = ["a", "b", "c", "cat", "cats", "a b"];
    let texts: Vec<String> =
        (0..300).map(|i| (0..i % 7 + 1).map(|j| words[(i + j) % 6]).collect::<Vec<_>>().join(" ")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    for arch in ["bert", "nomic-bert"] {
        let e = Tiny::new(arch).load().unwrap();
        let tokens: usize = texts.iter().map(|t| e.tokenize(t).len()).sum();
        assert!(tokens > 2048, "{tokens}");
        let all = e.embed(&texts).unwrap();
        for (i, t) in texts.iter().enumerate() {
            assert!(e.embed(&[t]).unwrap()[0] == all[i], "{arch}: text {i} {t:?}");
        }
    }
}

#[test]
fn lying_counts_are_errors_naming_the_key() {
    for arch in ["bert", "nomic-bert"] {
        let key = |s: &str| format!("{arch}.{s}");
        assert_bad_metadata(
            Tiny::new(arch).set("block_count", Value::U32(u32::MAX)).error(),
            &key("block_count"),
        );
        assert_bad_metadata(
            Tiny::new(arch).set("embedding_length", Value::U32(64)).error(),
            &key("embedding_length"),
        );
        assert_bad_metadata(
            Tiny::new(arch).set("attention.head_count", Value::U32(0)).error(),
            &key("attention.head_count"),
        );
        assert_bad_metadata(
            Tiny::new(arch).set("attention.head_count", Value::U32(3)).error(),
            &key("attention.head_count"),
        );
        assert_bad_metadata(
            Tiny::new(arch).set("attention.head_count_kv", Value::U32(2)).error(),
            &key("attention.head_count_kv"),
        );
        assert_bad_metadata(
            Tiny::new(arch).set("feed_forward_length", Value::U32(1 << 30)).error(),
            &key("feed_forward_length"),
        );
        assert_bad_metadata(
            Tiny::new(arch).set("context_length", Value::U32(0)).error(),
            &key("context_length"),
        );
        assert_bad_metadata(Tiny::new(arch).set("pooling_type", Value::U32(0)).error(), &key("pooling_type"));
        assert_bad_metadata(Tiny::new(arch).set("pooling_type", Value::U32(4)).error(), &key("pooling_type"));
        assert_bad_metadata(
            Tiny::new(arch).set("attention.causal", Value::Bool(true)).error(),
            &key("attention.causal"),
        );
        let tokens = Value::Array(Array::String(VOCAB[..9].iter().map(|t| (*t).to_owned()).collect()));
        assert_bad_metadata(
            Tiny::new(arch).set("tokenizer.ggml.tokens", tokens).error(),
            "tokenizer.ggml.tokens",
        );
    }
    // BERT's position table must cover the context it claims.
    assert_bad_metadata(
        Tiny::new("bert").set("context_length", Value::U32(4096)).error(),
        "bert.context_length",
    );
}

#[test]
fn wrong_or_missing_tensors_are_errors() {
    let e =
        Tiny::new("nomic-bert").tensor("blk.1.attn_qkv.weight", DType::F16, &[N_EMBD, 2 * N_EMBD]).error();
    assert!(matches!(&e, ModelError::BadShape { name, .. } if name == "blk.1.attn_qkv.weight"), "{e}");
    let e = Tiny::new("bert").remove_tensor("blk.1.layer_output_norm.bias").error();
    assert!(
        matches!(&e, ModelError::MissingTensor { name } if name == "blk.1.layer_output_norm.bias"),
        "{e}"
    );
    let e = Tiny::new("nomic-bert").remove_tensor("blk.0.ffn_gate.weight").error();
    assert!(matches!(&e, ModelError::MissingTensor { name } if name == "blk.0.ffn_gate.weight"), "{e}");
    let e = Tiny::new("bert").tensor("token_types.weight", DType::F32, &[N_EMBD, 0]).error();
    assert!(matches!(&e, ModelError::BadShape { name, .. } if name == "token_types.weight"), "{e}");
    let e = Tiny::new("bert").tensor("blk.0.attn_q.bias", DType::F32, &[N_EMBD + 1]).error();
    assert!(matches!(&e, ModelError::BadShape { name, .. } if name == "blk.0.attn_q.bias"), "{e}");
    let e = Tiny::new("bert").tensor("blk.0.attn_k.weight", DType::F32, &[N_EMBD, N_EMBD - 1]).error();
    assert!(matches!(&e, ModelError::BadShape { name, .. } if name == "blk.0.attn_k.weight"), "{e}");
}

#[test]
fn a_file_without_a_pooling_type_pools_by_mean() {
    let e = Tiny::new("bert").unset("pooling_type").load().unwrap();
    assert_eq!(e.pooling(), Pooling::Mean);
    let cls = Tiny::new("bert").unset("pooling_type").load().unwrap().with_pooling(Pooling::Cls);
    assert_ne!(e.embed(&["a cat"]).unwrap(), cls.embed(&["a cat"]).unwrap());
}

#[test]
fn generative_files_are_not_embedders() {
    let mut t = Tiny::new("bert");
    t.meta[0].1 = Value::String("llama".into()); // general.architecture
    assert!(matches!(t.error(), ModelError::NotAnEmbedder(a) if a == "llama"));
}
