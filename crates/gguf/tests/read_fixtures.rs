//! The reader on real files: the three fixture models and llama.cpp's vocab-only GGUFs.

use hearth_gguf::{DType, GgufFile};
use hearth_testkit as tk;

#[test]
fn fixture_models_parse_with_expected_shapes() {
    let cases = [
        (tk::SMOLLM2_135M, "llama", 272, "token_embd.weight", DType::Q8_0, vec![576, 49152]),
        (tk::QWEN_05B, "qwen2", 291, "output.weight", DType::Q8_0, vec![896, 151936]),
        (tk::GEMMA3_270M, "gemma3", 236, "token_embd.weight", DType::Q8_0, vec![640, 262144]),
    ];
    for (name, arch, n_tensors, tensor, ty, dims) in cases {
        let Some(path) = tk::model(name) else { continue };
        let f = GgufFile::open(&path).unwrap();
        assert_eq!(f.version(), 3);
        assert_eq!(f.metadata().architecture().unwrap(), arch);
        assert_eq!(f.tensors().len(), n_tensors, "{name}");
        let (info, data) = f.tensor_data(tensor).unwrap();
        assert_eq!(info.ty, ty);
        assert_eq!(info.dims, dims);
        assert_eq!(data.len() as u64, info.n_bytes);
        let total: u64 = f.tensors().iter().map(|t| t.n_bytes).sum();
        assert!(
            total <= f.file_len() && total > f.file_len() * 9 / 10,
            "{name}: tensor bytes {total} of {}",
            f.file_len()
        );
    }
}

#[test]
fn vocab_only_files_parse() {
    for v in ["llama-bpe", "llama-spm", "qwen2", "gpt-2", "bert-bge"] {
        let Some(path) = tk::vocab(&format!("ggml-vocab-{v}.gguf")) else { continue };
        let f = GgufFile::open(&path).unwrap();
        let tokens = f.metadata().str_array("tokenizer.ggml.tokens").unwrap();
        assert!(tokens.len() > 20_000, "{v}: {} tokens", tokens.len());
        assert!(f.tensors().is_empty());
    }
}

#[test]
fn typed_accessors_name_the_key() {
    let Some(path) = tk::model(tk::QWEN_05B) else { return };
    let f = GgufFile::open(&path).unwrap();
    let m = f.metadata();
    assert_eq!(m.u32("qwen2.block_count").unwrap(), 24);
    assert_eq!(m.f32("qwen2.rope.freq_base").unwrap(), 1_000_000.0);
    let err = m.u32("qwen2.no_such_key").unwrap_err().to_string();
    assert!(err.contains("qwen2.no_such_key"), "{err}");
    let err = m.u32("general.architecture").unwrap_err().to_string();
    assert!(err.contains("general.architecture") && err.contains("string"), "{err}");
}
