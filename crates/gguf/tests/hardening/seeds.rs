//! The fuzz target's committed seeds (`fuzz/seeds/parse_header/`, written by llama.cpp's
//! gguf-py through `fuzz/make_seeds.py`): the complete ones parse with the shapes gguf-py was
//! told to write, pass every `exercise` check and round-trip; the 4 KiB header prefixes are
//! truncation errors.

use std::path::PathBuf;

use hearth_gguf::{DType, GgufError, Value};

use crate::exercise::{exercise, round_trip};
use crate::support::parse;

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/parse_header")
}

fn seed(name: &str) -> Vec<u8> {
    std::fs::read(seeds_dir().join(name)).unwrap_or_else(|e| panic!("seed {name}: {e}"))
}

#[test]
fn every_seed_is_small_and_parses_as_its_name_says() {
    let mut n_valid = 0;
    let mut total = 0;
    for entry in std::fs::read_dir(seeds_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() < 64 << 10, "{name}: {} bytes", bytes.len());
        total += bytes.len();
        match parse(&bytes) {
            Ok(h) if name.starts_with("valid-") => {
                exercise(&bytes, &h);
                round_trip(&bytes, &h);
                n_valid += 1;
            }
            Err(GgufError::Truncated { .. }) if name.starts_with("prefix-") => {}
            r => panic!("{name}: {:?}", r.map(|h| h.tensors.len())),
        }
    }
    assert!(n_valid >= 6, "{n_valid} valid seeds");
    assert!(total < 1 << 20, "{total} bytes of seeds");
}

#[test]
fn gguf_py_files_parse_with_the_shapes_it_wrote() {
    let h = parse(&seed("valid-tiny-llama.gguf")).unwrap();
    let shapes: Vec<(&str, DType, &[u64])> =
        h.tensors.iter().map(|t| (t.name.as_str(), t.ty, &t.dims[..])).collect();
    assert_eq!(
        shapes,
        [
            ("token_embd.weight", DType::Q8_0, &[32u64, 5][..]),
            ("blk.0.attn_norm.weight", DType::F32, &[32]),
            ("blk.0.attn_q.weight", DType::Q4_0, &[32, 32]),
            ("blk.0.ffn_down.weight", DType::Q4_K, &[256, 1]),
            ("output_norm.weight", DType::F16, &[32]),
            ("rope_freqs", DType::F32, &[3]),
        ]
    );
    assert_eq!(h.metadata.architecture().unwrap(), "llama");
    assert_eq!(h.metadata.str_array("tokenizer.ggml.tokens").unwrap(), ["<s>", "</s>", "a", "b", "ab"]);
    assert_eq!(h.metadata.opt_int_array("tokenizer.ggml.token_type").unwrap().unwrap(), [3, 3, 1, 1, 1]);

    let h = parse(&seed("valid-align64.gguf")).unwrap();
    assert_eq!(h.alignment, 64);
    assert!(h.tensors.iter().all(|t| t.offset % 64 == 0));
    assert_eq!(h.tensors[1].dims, [256, 2]);

    let h = parse(&seed("valid-every-value.gguf")).unwrap();
    let m = &h.metadata;
    assert_eq!(m.get("t.u64"), Some(&Value::U64(u64::MAX)));
    assert_eq!(m.get("t.i8"), Some(&Value::I8(-128)));
    assert_eq!(m.str("t.str").unwrap(), "héllo");
    assert_eq!(m.opt_int_array("t.a_i32").unwrap().unwrap(), [1, -2, 3]);
    assert!(m.opt_int_array("t.a_u64").is_err(), "2^63 does not fit an i64");
    assert_eq!(format!("{}", m.get("t.nested2").unwrap()), "[1 x array]");

    let h = parse(&seed("valid-empty-arrays-v2.gguf")).unwrap();
    assert_eq!(h.version, 2);
    assert_eq!(h.metadata.len(), 15);
    assert!(h.metadata.entries().iter().take(13).all(|(_, v)| matches!(v, Value::Array(a) if a.is_empty())));
    assert_eq!(h.tensors[0].n_bytes, 0);
    assert_eq!((h.tensors[1].n_elements, h.tensors[1].n_bytes), (1, 4));

    let h = parse(&seed("valid-align1.gguf")).unwrap();
    assert_eq!(h.alignment, 1);
    assert_eq!(h.tensors[0].ty, DType::I8);
}
