//! Regression tests, each named after what broke. Found by reading the parser and writer
//! against llama.cpp's `gguf.cpp` and by the `parse_header` fuzz target.

use hearth_gguf::{DType, GgufError, GgufWriter, Value};

use crate::support::{F32, Raw, T_U64, assert_names, parse_err};

/// `[0, 2^40, 2^40]` has zero elements, so the element-count check passed, but
/// `TensorInfo::n_rows` multiplied `2^40 * 2^40` and overflowed (a panic in debug builds).
#[test]
fn zero_dim_hid_an_overflowing_row_count() {
    for dims in [[0, 1 << 40, 1 << 40], [1 << 40, 0, 1 << 40], [1 << 40, 1 << 40, 0]] {
        let bytes = Raw::new(3, 1, 0).tensor("zero", &dims, F32, 0).pad(32).build();
        let e = parse_err(&bytes);
        assert!(matches!(e, GgufError::ElementCountOverflow { .. }), "{dims:?}: {e}");
        assert_names(&e, "'zero'");
    }
}

/// A `u64` `general.alignment` was accepted (llama.cpp requires `u32`), and the writer took
/// any power of two: `1 << 62` made it allocate `2^62` bytes of padding and abort.
#[test]
fn writer_alignment_too_large_to_pad_aborted() {
    for v in [Value::U64(1 << 62), Value::U32(1 << 31)] {
        let mut w = GgufWriter::new();
        w.set("general.alignment", v);
        w.add_tensor("t", DType::F32, &[1]).unwrap();
        let e = w.to_bytes(&[&[0; 4]]).unwrap_err();
        assert!(matches!(e, GgufError::BadAlignment { .. } | GgufError::WrongType { .. }), "{e}");
    }
    let e = parse_err(&Raw::new(3, 0, 1).kv("general.alignment", T_U64).u64(32).build());
    assert!(matches!(e, GgufError::WrongType { .. }), "{e}");
}

/// Four tensors of `2^62` bytes: the writer's running offset overflowed `u64` (a panic in
/// debug builds) after part of the header was already written.
#[test]
fn writer_data_section_past_u64_overflowed() {
    let mut w = GgufWriter::new();
    for i in 0..4 {
        w.add_tensor(format!("t{i}"), DType::I8, &[1 << 62]).unwrap();
    }
    let mut out = Vec::new();
    let e = w.write(&mut out, |_, _, _| unreachable!("no data is asked for")).unwrap_err();
    assert!(matches!(e, GgufError::Write(_)), "{e}");
    assert_names(&e, "'t3'");
    assert!(out.is_empty());
}

/// `[16, 2]` Q4_0 is 32 elements, one block in total, so the writer accepted it and wrote a
/// file its own reader rejects (rows must be whole blocks).
#[test]
fn writer_wrote_rows_that_are_not_whole_blocks() {
    let mut w = GgufWriter::new();
    let e = w.add_tensor("blk.0.ffn_up.weight", DType::Q4_0, &[16, 2]).unwrap_err();
    assert_names(&e, "'blk.0.ffn_up.weight'");
    let mut out = Vec::new();
    assert!(w.write(&mut out, |_, _, sink| sink.write_all(&[])).is_ok());
}

/// Found by the fuzz target on the unfixed parser in about three minutes: a tensor with dims
/// `[0, 3, 2^58.3, 2^56]` has zero elements, and `n_rows()` overflowed multiplying the rest.
#[test]
fn fuzz_crash_n_rows_overflow_behind_zero_dim() {
    let bytes = include_bytes!("crashes/n_rows_overflow_behind_zero_dim.gguf");
    let e = parse_err(bytes);
    assert!(matches!(e, GgufError::ElementCountOverflow { ref dims, .. } if dims[0] == 0), "{e}");
}
