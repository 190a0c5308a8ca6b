//! Hostile headers: each is rejected with its own `GgufError` variant, the message names the
//! key or tensor at fault, and nothing the file merely claims to hold is allocated.

use hearth_gguf::{Array, DType, GgufError, GgufWriter, Limits, Value, parse_header};

use crate::alloc_count::allocated_by;
use crate::support::{F32, Q4_0, Raw, T_ARRAY, T_STRING, T_U32, T_U64, assert_names, parse, parse_err};

/// What a rejection of a few-hundred-byte file may allocate: error strings, nothing more.
const SMALL_ALLOC: u64 = 4 << 10;

/// A file with one tensor (no metadata) and 256 bytes of data section.
fn one_tensor(name: &str, dims: &[u64], type_id: u32, offset: u64) -> Vec<u8> {
    Raw::new(3, 1, 0).tensor(name, dims, type_id, offset).pad(32).zeros(256).build()
}

#[test]
fn bad_magic() {
    for magic in [*b"GGUX", *b"GGML", *b"\0\0\0\0", *b"FUGG"] {
        let bytes = Raw::default().bytes(&magic).u32(3).u64(0).u64(0).build();
        match parse_err(&bytes) {
            GgufError::BadMagic { found } => assert_eq!(found, magic),
            e => panic!("{magic:?}: {e}"),
        }
    }
}

#[test]
fn big_endian_files_are_named_as_such() {
    for version in [2u32, 3] {
        let bytes = Raw::default().bytes(b"GGUF").bytes(&version.to_be_bytes()).bytes(&[0; 16]).build();
        let e = parse_err(&bytes);
        assert!(matches!(e, GgufError::BigEndian), "v{version}: {e}");
        assert_names(&e, "big-endian");
    }
}

#[test]
fn versions_other_than_2_and_3() {
    for version in [0u32, 1, 4, 0xffff_ffff] {
        let e = parse_err(&Raw::new(version, 0, 0).build());
        assert!(matches!(e, GgufError::UnsupportedVersion(v) if v == version), "{e}");
        assert_names(&e, &format!("version {version}"));
    }
    for version in [2u32, 3] {
        assert_eq!(parse(&Raw::new(version, 0, 0).build()).unwrap().version, version);
    }
}

#[test]
fn string_longer_than_the_cap() {
    // A value claiming 2^40 bytes in a tiny file: rejected by the cap, nothing allocated.
    let bytes = Raw::new(3, 0, 1).kv("general.name", T_STRING).u64(1 << 40).bytes(b"abc").build();
    let (e, allocated) = allocated_by(|| parse_err(&bytes));
    assert!(matches!(e, GgufError::StringTooLong { len, .. } if len == 1 << 40), "{e}");
    assert_names(&e, "'general.name'");
    assert!(allocated < SMALL_ALLOC, "allocated {allocated} bytes");

    // The key itself: named by its index, as it has no name yet.
    let bytes = Raw::new(3, 0, 1).u64(u64::MAX).bytes(b"key").zeros(16).build();
    let e = parse_err(&bytes);
    assert!(matches!(e, GgufError::StringTooLong { len: u64::MAX, .. }), "{e}");
    assert_names(&e, "metadata entry 0");

    // A real string one byte over a lowered cap (which keys obey too: this one is short).
    let mut w = GgufWriter::new();
    w.set("tmpl", Value::String("x".repeat(11)));
    let bytes = w.to_bytes(&[]).unwrap();
    let limits = Limits { max_string_len: 10, ..Limits::default() };
    let e = parse_header(&bytes, &limits).unwrap_err();
    assert!(matches!(e, GgufError::StringTooLong { len: 11, max: 10, .. }), "{e}");
    assert_names(&e, "'tmpl'");
    let limits = Limits { max_string_len: 11, ..Limits::default() };
    assert!(parse_header(&bytes, &limits).is_ok());
}

#[test]
fn string_within_the_cap_but_past_the_end_is_truncation() {
    let bytes = Raw::new(3, 0, 1).kv("general.name", T_STRING).u64(1 << 20).bytes(b"abc").build();
    let (e, allocated) = allocated_by(|| parse_err(&bytes));
    assert!(matches!(e, GgufError::Truncated { need, .. } if need == 1 << 20), "{e}");
    assert_names(&e, "'general.name'");
    assert!(allocated < SMALL_ALLOC, "allocated {allocated} bytes");
}

#[test]
fn invalid_utf8_names_the_key() {
    let bytes = Raw::new(3, 0, 1).kv("general.name", T_STRING).u64(2).bytes(&[0xc3, 0x28]).build();
    let e = parse_err(&bytes);
    assert!(matches!(e, GgufError::InvalidUtf8 { .. }), "{e}");
    assert_names(&e, "'general.name'");
}

#[test]
fn array_longer_than_the_cap() {
    let bytes =
        Raw::new(3, 0, 1).kv("tokenizer.ggml.scores", T_ARRAY).u32(6).u64(1 << 40).bytes(&[0; 16]).build();
    let (e, allocated) = allocated_by(|| parse_err(&bytes));
    assert!(matches!(e, GgufError::ArrayTooLong { len, .. } if len == 1 << 40), "{e}");
    assert_names(&e, "'tokenizer.ggml.scores'");
    assert!(allocated < SMALL_ALLOC, "allocated {allocated} bytes");

    let mut w = GgufWriter::new();
    w.set("tokenizer.ggml.token_type", Value::Array(Array::I32(vec![1; 9])));
    let bytes = w.to_bytes(&[]).unwrap();
    let e = parse_header(&bytes, &Limits { max_array_len: 8, ..Limits::default() }).unwrap_err();
    assert!(matches!(e, GgufError::ArrayTooLong { len: 9, max: 8, .. }), "{e}");
    assert_names(&e, "'tokenizer.ggml.token_type'");
    assert!(parse_header(&bytes, &Limits { max_array_len: 9, ..Limits::default() }).is_ok());
}

#[test]
fn array_within_the_cap_but_past_the_end_is_truncation_without_allocating() {
    // 2^24 u64s claimed (128 MiB), 16 bytes present; likewise 2^24 strings and arrays.
    for elem in [T_U64, T_STRING, T_ARRAY] {
        let bytes = Raw::new(3, 0, 1)
            .kv("tokenizer.ggml.merges", T_ARRAY)
            .u32(elem)
            .u64(1 << 24)
            .bytes(&[0; 16])
            .build();
        let (e, allocated) = allocated_by(|| parse_err(&bytes));
        assert!(matches!(e, GgufError::Truncated { .. }), "element type {elem}: {e}");
        assert_names(&e, "'tokenizer.ggml.merges'");
        assert!(allocated < SMALL_ALLOC, "element type {elem}: allocated {allocated} bytes");
    }
}

/// `Value::Array` nested `depth` deep, innermost an array of one u8.
fn nested(depth: usize) -> Value {
    let mut a = Array::U8(vec![7]);
    for _ in 1..depth {
        a = Array::Array(vec![a]);
    }
    Value::Array(a)
}

#[test]
fn nesting_deeper_than_the_cap() {
    let max = Limits::default().max_depth;
    let mut w = GgufWriter::new();
    w.set("deep.ok", nested(max));
    let ok = parse(&w.to_bytes(&[]).unwrap()).unwrap();
    assert_eq!(ok.metadata.get("deep.ok"), Some(&nested(max)));

    w.set("deep.too", nested(max + 1));
    let e = parse_err(&w.to_bytes(&[]).unwrap());
    assert!(matches!(e, GgufError::NestingTooDeep { max: m, .. } if m == max), "{e}");
    assert_names(&e, "'deep.too'");

    // Thousands of levels claimed in a few bytes each: stopped at the cap, no deep recursion.
    let mut raw = Raw::new(3, 0, 1).kv("deep.hostile", T_ARRAY);
    for _ in 0..10_000 {
        raw = raw.u32(T_ARRAY).u64(1);
    }
    let e = parse_err(&raw.build());
    assert!(matches!(e, GgufError::NestingTooDeep { .. }), "{e}");
    assert_names(&e, "'deep.hostile'");
}

#[test]
fn unknown_value_type() {
    for type_id in [13u32, 14, 0x8000_0000, u32::MAX] {
        let e = parse_err(&Raw::new(3, 0, 1).kv("general.weird", type_id).u64(0).build());
        assert!(matches!(e, GgufError::UnknownValueType { type_id: t, .. } if t == type_id), "{e}");
        assert_names(&e, "'general.weird'");
        // The same id as an array's element type.
        let e = parse_err(
            &Raw::new(3, 0, 1).kv("general.weird_array", T_ARRAY).u32(type_id).u64(1).u64(0).build(),
        );
        assert!(matches!(e, GgufError::UnknownValueType { type_id: t, .. } if t == type_id), "{e}");
        assert_names(&e, "'general.weird_array'");
    }
}

#[test]
fn duplicate_key() {
    let bytes = Raw::new(3, 0, 3)
        .kv_u32("a.one", 1)
        .kv_u32("llama.block_count", 2)
        .kv_u32("llama.block_count", 3)
        .build();
    let e = parse_err(&bytes);
    assert!(matches!(&e, GgufError::DuplicateKey { key } if key == "llama.block_count"), "{e}");
    assert_names(&e, "'llama.block_count'");
}

#[test]
fn duplicate_tensor() {
    let bytes = Raw::new(3, 2, 0)
        .tensor("blk.0.attn_q.weight", &[8], F32, 0)
        .tensor("blk.0.attn_q.weight", &[8], F32, 32)
        .pad(32)
        .zeros(64)
        .build();
    let e = parse_err(&bytes);
    assert!(matches!(&e, GgufError::DuplicateTensor { tensor } if tensor == "blk.0.attn_q.weight"), "{e}");
    assert_names(&e, "'blk.0.attn_q.weight'");

    let mut w = GgufWriter::new();
    w.add_tensor("t", DType::F32, &[1]).unwrap();
    let e = w.add_tensor("t", DType::F32, &[1]).unwrap_err();
    assert!(matches!(&e, GgufError::DuplicateTensor { tensor } if tensor == "t"), "{e}");
}

#[test]
fn too_many_dims() {
    for n_dims in [5u32, 64, u32::MAX] {
        // Only the count: the dims themselves are never read.
        let bytes = Raw::new(3, 1, 0).str("blk.0.ffn_up.weight").u32(n_dims).zeros(64).build();
        let (e, allocated) = allocated_by(|| parse_err(&bytes));
        assert!(matches!(e, GgufError::TooManyDims { n_dims: n, max: 4, .. } if n == n_dims), "{e}");
        assert_names(&e, "'blk.0.ffn_up.weight'");
        assert!(allocated < SMALL_ALLOC, "allocated {allocated} bytes");
    }
    // Four is fine.
    let h = parse(&one_tensor("four", &[1, 2, 3, 4], F32, 0)).unwrap();
    assert_eq!(h.tensors[0].n_elements, 24);
}

#[test]
fn element_count_overflow() {
    let cases: [&[u64]; 5] = [
        &[1 << 40, 1 << 40],
        &[1 << 32, 1 << 31], // exactly 2^63: past i64::MAX, though it fits a u64
        &[u64::MAX],         // a negative ne in ggml's signed view
        &[1 << 63, 0],       // zero elements, but a dim no ggml shape can hold
        &[2, 1 << 30, 1 << 30, 1 << 30],
    ];
    for dims in cases {
        let e = parse_err(&one_tensor("token_embd.weight", dims, F32, 0));
        assert!(matches!(&e, GgufError::ElementCountOverflow { dims: d, .. } if d == dims), "{dims:?}: {e}");
        assert_names(&e, "'token_embd.weight'");
    }
    // The element count fits but the byte size does not: 2^62 f32s are 2^64 bytes.
    let e = parse_err(&one_tensor("token_embd.weight", &[1 << 62], F32, 0));
    assert!(matches!(e, GgufError::ElementCountOverflow { .. }), "{e}");
    assert_names(&e, "'token_embd.weight'");
}

#[test]
fn unknown_and_removed_ggml_types() {
    for type_id in [4u32, 5, 31, 32, 33, 36, 37, 38, 43, 1000, u32::MAX] {
        let e = parse_err(&one_tensor("output.weight", &[32], type_id, 0));
        assert!(matches!(e, GgufError::UnknownTensorType { type_id: t, .. } if t == type_id), "{e}");
        assert_names(&e, "'output.weight'");
    }
}

#[test]
fn row_not_a_multiple_of_the_block_size() {
    // 16 x 2 = 32 elements is one Q4_0 block in total, but ggml quantizes rows.
    let e = parse_err(&one_tensor("blk.3.ffn_down.weight", &[16, 2], Q4_0, 0));
    assert!(matches!(e, GgufError::RowNotBlockAligned { ty: DType::Q4_0, ne0: 16, block: 32, .. }), "{e}");
    assert_names(&e, "'blk.3.ffn_down.weight'");
    // A zero-dim tensor is one element: not a Q4_0 row either.
    let e = parse_err(&one_tensor("scalar", &[], Q4_0, 0));
    assert!(matches!(e, GgufError::RowNotBlockAligned { ne0: 1, .. }), "{e}");
}

#[test]
fn misaligned_offset() {
    let e = parse_err(&one_tensor("blk.0.attn_k.bias", &[4], F32, 16));
    assert!(matches!(e, GgufError::MisalignedTensor { offset: 16, alignment: 32, .. }), "{e}");
    assert_names(&e, "'blk.0.attn_k.bias'");

    // Under a custom alignment of 64, an offset of 32 is misaligned too.
    let bytes = Raw::new(3, 1, 1)
        .kv_u32("general.alignment", 64)
        .tensor("t64", &[4], F32, 32)
        .pad(64)
        .zeros(128)
        .build();
    let e = parse_err(&bytes);
    assert!(matches!(e, GgufError::MisalignedTensor { offset: 32, alignment: 64, .. }), "{e}");
    assert_names(&e, "'t64'");
}

#[test]
fn tensor_past_the_end_of_the_file() {
    let mut w = GgufWriter::new();
    w.add_tensor("a", DType::F32, &[8]).unwrap().add_tensor("output_norm.weight", DType::F32, &[16]).unwrap();
    let full = w.to_bytes(&[&[1; 32], &[2; 64]]).unwrap();
    assert!(parse(&full).is_ok());
    let e = parse_err(&full[..full.len() - 1]);
    match &e {
        GgufError::TensorOutOfBounds { tensor, len: 64, file_len, .. } => {
            assert_eq!(tensor, "output_norm.weight");
            assert_eq!(*file_len, full.len() as u64 - 1);
        }
        e => panic!("{e}"),
    }
    assert_names(&e, "'output_norm.weight'");

    // An offset far past the end.
    let e = parse_err(&one_tensor("far", &[8], F32, 1 << 40));
    assert!(matches!(e, GgufError::TensorOutOfBounds { .. }), "{e}");
    assert_names(&e, "'far'");
}

#[test]
fn offset_plus_size_overflowing_u64() {
    let offset: u64 = !31; // the largest multiple of 32
    let e = parse_err(&one_tensor("wrapped", &[64], F32, offset));
    assert!(matches!(e, GgufError::TensorOutOfBounds { len: 256, .. }), "{e}");
    assert_names(&e, "'wrapped'");
    // data_offset + offset fits, adding the 256 bytes does not.
    let offset = (u64::MAX - 127) & !31;
    let e = parse_err(&one_tensor("wrapped", &[64], F32, offset));
    assert!(matches!(e, GgufError::TensorOutOfBounds { len: 256, .. }), "{e}");
    assert_names(&e, "'wrapped'");
    // data_offset + offset alone overflows.
    let offset: u64 = !31; // the largest multiple of 32
    let e = parse_err(&one_tensor("wrapped", &[0], F32, offset));
    assert!(matches!(e, GgufError::TensorOutOfBounds { len: 0, .. }), "{e}");
}

#[test]
fn bad_general_alignment() {
    for value in [0u32, 3, 48, 1 << 31] {
        let bytes = Raw::new(3, 0, 1).kv_u32("general.alignment", value).build();
        let e = parse_err(&bytes);
        assert!(matches!(e, GgufError::BadAlignment { value: v } if v == u64::from(value)), "{value}: {e}");
        assert_names(&e, "general.alignment");
    }
    // Only a u32 is accepted, as in llama.cpp: not a u64, an i32, a string or an array.
    let wrong = [
        Raw::new(3, 0, 1).kv("general.alignment", T_U64).u64(32),
        Raw::new(3, 0, 1).kv("general.alignment", 5).u32(32),
        Raw::new(3, 0, 1).kv("general.alignment", T_STRING).str("32"),
        Raw::new(3, 0, 1).kv("general.alignment", T_ARRAY).u32(T_U32).u64(1).u32(32),
    ];
    for raw in wrong {
        let e = parse_err(&raw.build());
        assert!(
            matches!(&e, GgufError::WrongType { key, expected: "u32", .. } if key == "general.alignment"),
            "{e}"
        );
        assert_names(&e, "'general.alignment'");
    }
    for value in [1u32, 8, 32, 4096, 1 << 30] {
        let h = parse(&Raw::new(3, 0, 1).kv_u32("general.alignment", value).build()).unwrap();
        assert_eq!(h.alignment, u64::from(value));
    }
}

#[test]
fn huge_counts_in_tiny_files_fail_fast_without_allocating() {
    let max = Limits::default();
    let cases = [
        (Raw::new(3, 0, u64::MAX).build(), "metadata entries"),
        (Raw::new(3, u64::MAX, 0).build(), "tensors"),
        (Raw::new(3, max.max_tensors + 1, 0).build(), "tensors"),
        (Raw::new(3, 0, max.max_kv + 1).build(), "metadata entries"),
    ];
    for (bytes, what) in cases {
        let (e, allocated) = allocated_by(|| parse_err(&bytes));
        assert!(matches!(e, GgufError::TooMany { what: w, .. } if w == what), "{e}");
        assert!(allocated < SMALL_ALLOC, "{what}: allocated {allocated} bytes");
    }
    // Within the caps, but the file cannot hold that many: the count is checked against the
    // bytes left before anything is reserved for it.
    let cases = [
        (Raw::new(3, 0, max.max_kv).zeros(64).build(), "metadata entries"),
        (Raw::new(3, max.max_tensors, 0).zeros(64).build(), "tensor infos"),
        (Raw::new(3, max.max_tensors, 1).kv_u32("general.alignment", 32).zeros(64).build(), "tensor infos"),
    ];
    for (bytes, what) in cases {
        let (e, allocated) = allocated_by(|| parse_err(&bytes));
        assert!(matches!(e, GgufError::Truncated { .. }), "{e}");
        assert_names(&e, what);
        assert!(allocated < SMALL_ALLOC, "{what}: allocated {allocated} bytes");
    }
}

#[test]
fn tensor_name_longer_than_the_cap_is_shown_cut() {
    let name = "é".repeat(1000); // 2000 bytes, two per char
    let bytes = one_tensor(&name, &[1], F32, 0);
    let e = parse_err(&bytes);
    match &e {
        GgufError::TensorNameTooLong { tensor, len: 2000, max: 256 } => {
            assert!(
                tensor.len() <= 259
                    && tensor.ends_with("...")
                    && name.starts_with(tensor.trim_end_matches('.'))
            );
        }
        e => panic!("{e}"),
    }
    assert_names(&e, "éééé");
}
