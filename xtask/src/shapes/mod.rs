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
//!   with the Q4_K_M type mix `llama_tensor_get_type` picks (see [`q4_k_m_type`](layout::q4_k_m_type));
//! - random quantized blocks with small finite f16 scales (weights with a real model's
//!   spread, std ≈ 0.03, so activations stay finite through every layer), norm weights
//!   around 1, small biases, and Llama 3's real `rope_freqs` factors.
//!
//! Reproducible (every tensor has its own seeded RNG, so the bytes are the same on every
//! run and machine) and idempotent: a file is skipped when its `.stamp` names the same
//! generator version, shape and inputs (vocab file, template) and the file has the recorded
//! length. Files are written to `.part`, synced, then renamed. Tensor data is streamed
//! through [`GgufWriter::write`](hearth_gguf::GgufWriter::write), so a 4 GB file never sits in
//! memory.
//!
//! This file is the command (selection, stamps, `.part` and rename); [`catalog`] holds the
//! shapes, [`inputs`] the tokenizer keys and template, [`layout`](mod@layout) the metadata
//! and tensor list, [`fill`] the tensor data, [`random`] the seeds, RNG and hash.

mod catalog;
mod fill;
mod inputs;
mod layout;
pub(crate) mod random;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use hearth_hub::Progress;

pub use catalog::{BIG, SHAPES, Shape};
use fill::write_gguf;
use inputs::Inputs;
use layout::{layout, type_summary};

/// Bump whenever the bytes written for the same shape change (layout, RNG, scales, keys).
const GENERATOR: &str = "hearth-shapes 1";

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

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_dtype::f16_to_f32;
    use hearth_gguf::{Array, DType, GgufFile, Value};
    use hearth_hub::download::Silent;

    use super::catalog::{Arch, Template};
    use super::inputs::tokenizer_keys;
    use super::layout::{FTYPE_Q4_K_M, layer_of, tensor_list};

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
    fn unknown_shape_names_are_refused() {
        assert!(select(&["mistral-7b".into()]).is_ok());
        let err = select(&["gpt-5".into()]).expect_err("refused").to_string();
        assert!(err.contains("qwen2.5-coder-7b"), "{err}");
        assert_eq!(select(&[]).expect("all").len(), SHAPES.len());
    }
}
