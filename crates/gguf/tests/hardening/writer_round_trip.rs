//! `GgufWriter` → `parse_header` round-trips: every value type, padding and custom
//! alignment, callback misbehaviour, and a real model's header with a subset of its tensors.

use std::io::{self, Write};

use hearth_gguf::{Array, DType, GgufError, GgufFile, GgufWriter, Header, Value};
use hearth_testkit as tk;

use crate::exercise::tensor_view;
use crate::support::{assert_names, layout, parse};

fn every_value() -> Vec<(String, Value)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let values = vec![
        Value::U8(u8::MAX),
        Value::I8(i8::MIN),
        Value::U16(u16::MAX),
        Value::I16(i16::MIN),
        Value::U32(u32::MAX),
        Value::I32(i32::MIN),
        Value::F32(-0.0),
        Value::F32(f32::MIN_POSITIVE / 2.0),
        Value::F32(f32::INFINITY),
        Value::Bool(true),
        Value::Bool(false),
        Value::String("héllo, 世界 \0 \n".into()),
        Value::String(String::new()),
        Value::U64(u64::MAX),
        Value::I64(i64::MIN),
        Value::F64(std::f64::consts::PI),
        Value::F64(f64::NEG_INFINITY),
        Value::Array(Array::U8(vec![0, 1, 255])),
        Value::Array(Array::I8(vec![-128, 0, 127])),
        Value::Array(Array::U16(vec![0, u16::MAX])),
        Value::Array(Array::I16(vec![i16::MIN, -1])),
        Value::Array(Array::U32(vec![7, u32::MAX])),
        Value::Array(Array::I32(vec![i32::MIN, 0, i32::MAX])),
        Value::Array(Array::F32(vec![1.5, -0.0, f32::MAX])),
        Value::Array(Array::Bool(vec![true, false, true])),
        Value::Array(Array::String(s(&["a", "", "ĠĠ", "<|im_end|>"]))),
        Value::Array(Array::U64(vec![0, u64::MAX])),
        Value::Array(Array::I64(vec![i64::MIN, i64::MAX])),
        Value::Array(Array::F64(vec![f64::MIN_POSITIVE, 1e300])),
        Value::Array(Array::String(s(&["", "", ""]))),
        Value::Array(Array::Array(vec![
            Array::U8(vec![1]),
            Array::String(s(&["x", ""])),
            Array::Array(vec![
                Array::F32(vec![2.0]),
                Array::Array(vec![Array::Bool(vec![true])]),
                Array::I64(vec![]),
            ]),
            Array::Array(vec![]),
        ])),
        Value::Array(Array::Array(vec![])),
    ];
    let empties = [
        Array::U8(vec![]),
        Array::I8(vec![]),
        Array::U16(vec![]),
        Array::I16(vec![]),
        Array::U32(vec![]),
        Array::I32(vec![]),
        Array::F32(vec![]),
        Array::Bool(vec![]),
        Array::String(vec![]),
        Array::Array(vec![]),
        Array::U64(vec![]),
        Array::I64(vec![]),
        Array::F64(vec![]),
    ];
    let mut out: Vec<(String, Value)> =
        values.into_iter().enumerate().map(|(i, v)| (format!("v.{i}"), v)).collect();
    out.extend(empties.into_iter().map(|a| (format!("empty.{:?}", a.element_type()), Value::Array(a))));
    out.push((String::new(), Value::U8(0))); // the empty key
    out
}

#[test]
fn every_value_type_round_trips() {
    let entries = every_value();
    let mut w = GgufWriter::new();
    for (k, v) in &entries {
        w.set(k.clone(), v.clone());
    }
    let bytes = w.to_bytes(&[]).unwrap();
    let h = parse(&bytes).unwrap();
    assert_eq!(h.version, 3);
    assert_eq!(h.metadata.entries(), &entries[..]);
    // Debug tells -0.0 from 0.0, which PartialEq does not.
    assert_eq!(format!("{:?}", h.metadata.entries()), format!("{entries:?}"));
    assert!(h.tensors.is_empty());
    assert_eq!(h.data_offset, (bytes.len() as u64).next_multiple_of(32));
}

#[test]
fn set_replaces_a_key_in_place() {
    let mut w = GgufWriter::new();
    w.set("a", Value::U32(1)).set("b", Value::U32(2)).set("a", Value::String("one".into()));
    let h = parse(&w.to_bytes(&[]).unwrap()).unwrap();
    let keys: Vec<_> = h.metadata.entries().iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    assert_eq!(h.metadata.str("a").unwrap(), "one");
}

/// Writes `specs` with deterministic data under `align` (`None`: the default) and checks the
/// parse: alignment, offsets, data bytes and zero padding.
fn check_layout(align: Option<u32>, specs: &[(&str, DType, &[u64])]) -> (Vec<u8>, Header) {
    let mut w = GgufWriter::new();
    if let Some(a) = align {
        w.set("general.alignment", Value::U32(a));
    }
    for (name, ty, dims) in specs {
        w.add_tensor(*name, *ty, dims).unwrap();
    }
    let data: Vec<Vec<u8>> = w
        .tensors()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (0..t.n_bytes().unwrap()).map(|j| (j as u8).wrapping_mul(31).wrapping_add(i as u8 + 1)).collect()
        })
        .collect();
    let bytes = w.to_bytes(&data.iter().map(Vec::as_slice).collect::<Vec<_>>()).unwrap();
    let h = parse(&bytes).unwrap();
    let a = u64::from(align.unwrap_or(32));
    assert_eq!(h.alignment, a);
    assert_eq!(h.data_offset % a, 0);
    let header_end = layout(&bytes).header_end;
    assert!(bytes[header_end..h.data_offset as usize].iter().all(|&b| b == 0), "padding before the data");
    let mut expect_offset = 0;
    for (t, d) in h.tensors.iter().zip(&data) {
        assert_eq!(t.offset, expect_offset, "tensor '{}'", t.name);
        assert_eq!(tensor_view(&bytes, &h, t), Some(d.as_slice()), "tensor '{}'", t.name);
        let end = (h.data_offset + t.offset + t.n_bytes) as usize;
        let padded = (h.data_offset + t.offset + t.n_bytes.next_multiple_of(a)) as usize;
        assert!(bytes[end..padded].iter().all(|&b| b == 0), "padding after '{}'", t.name);
        expect_offset += t.n_bytes.next_multiple_of(a);
    }
    assert_eq!(bytes.len() as u64, h.data_offset + expect_offset);
    (bytes, h)
}

const SPECS: [(&str, DType, &[u64]); 6] = [
    ("norm", DType::F32, &[3]),
    ("q8", DType::Q8_0, &[32, 3]),
    ("k", DType::Q4_K, &[256, 1, 2]),
    ("bytes", DType::I8, &[1]),
    ("empty", DType::F16, &[0, 5]),
    ("four_d", DType::BF16, &[2, 1, 3, 1]),
];

#[test]
fn tensors_are_padded_to_the_default_alignment() {
    let (_, h) = check_layout(None, &SPECS);
    let sizes: Vec<u64> = h.tensors.iter().map(|t| t.n_bytes).collect();
    assert_eq!(sizes, [12, 102, 288, 1, 0, 12]);
    assert_eq!(h.tensors[1].dims, [32, 3]);
}

#[test]
fn custom_general_alignment() {
    for a in [1u32, 2, 8, 64, 4096] {
        check_layout(Some(a), &SPECS);
    }
}

#[test]
fn writer_refuses_bad_alignment_before_writing_anything() {
    for v in [Value::U32(0), Value::U32(3), Value::U32(1 << 31), Value::U64(64), Value::String("32".into())] {
        let mut w = GgufWriter::new();
        w.set("general.alignment", v.clone());
        let mut out = Vec::new();
        let e = w.write(&mut out, |_, _, _| Ok(())).unwrap_err();
        assert!(matches!(e, GgufError::BadAlignment { .. } | GgufError::WrongType { .. }), "{v:?}: {e}");
        assert_names(&e, "general.alignment");
        assert!(out.is_empty(), "{v:?}: wrote {} bytes", out.len());
    }
}

#[test]
fn writer_refuses_shapes_the_reader_rejects() {
    let mut w = GgufWriter::new();
    for (name, ty, dims) in [
        ("rows", DType::Q4_0, &[16u64, 2][..]),
        ("five", DType::F32, &[1, 1, 1, 1, 1]),
        ("huge", DType::F32, &[1 << 40, 1 << 40]),
        ("zero_huge", DType::F32, &[0, 1 << 40, 1 << 40]),
    ] {
        let e = w.add_tensor(name, ty, dims).unwrap_err();
        assert_names(&e, &format!("'{name}'"));
    }
    let e = w.add_tensor("n".repeat(300), DType::F32, &[1]).unwrap_err();
    assert!(matches!(e, GgufError::TensorNameTooLong { len: 300, .. }), "{e}");
    assert!(w.tensors().is_empty());
}

#[test]
fn callback_writing_too_few_or_too_many_bytes_is_an_error() {
    let mut w = GgufWriter::new();
    w.add_tensor("blk.0.ffn_up.weight", DType::F32, &[4]).unwrap();
    for n in [0usize, 15, 17, 64] {
        let e = w.write(Vec::new(), |_, _, out| out.write_all(&vec![1; n])).unwrap_err();
        assert!(matches!(e, GgufError::Write(_)), "{n}: {e}");
        assert_names(&e, "'blk.0.ffn_up.weight'");
        assert!(e.to_string().contains(&format!("wrote {n} bytes, expected 16")), "{e}");
    }
    let e = w.to_bytes(&[&[0; 12]]).unwrap_err();
    assert_names(&e, "'blk.0.ffn_up.weight'");
    let e = w.to_bytes(&[]).unwrap_err();
    assert!(matches!(e, GgufError::Write(_)), "{e}");
    assert!(w.write(Vec::new(), |_, _, out| out.write_all(&[1; 16])).is_ok());
}

#[test]
fn callback_and_sink_errors_propagate() {
    let mut w = GgufWriter::new();
    w.add_tensor("t", DType::F32, &[1]).unwrap();
    let e = w.write(Vec::new(), |_, _, _| Err(io::Error::other("disk on fire"))).unwrap_err();
    assert!(matches!(&e, GgufError::Io(io) if io.to_string() == "disk on fire"), "{e}");

    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::StorageFull, "full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::new(io::ErrorKind::StorageFull, "full"))
        }
    }
    let e = w.write(Full, |_, _, out| out.write_all(&[0; 4])).unwrap_err();
    assert!(matches!(&e, GgufError::Io(io) if io.kind() == io::ErrorKind::StorageFull), "{e}");
}

#[test]
fn to_bytes_matches_write_and_opens_as_a_file() {
    let mut w = GgufWriter::new();
    w.set("general.architecture", Value::String("llama".into()));
    w.add_tensor("a", DType::F32, &[2]).unwrap().add_tensor("b", DType::Q8_0, &[32]).unwrap();
    let data: [&[u8]; 2] = [&[1; 8], &[2; 34]];
    let bytes = w.to_bytes(&data).unwrap();
    let mut streamed = Vec::new();
    w.write(&mut streamed, |i, spec, out| {
        assert_eq!(spec.name, ["a", "b"][i]);
        out.write_all(data[i])
    })
    .unwrap();
    assert_eq!(bytes, streamed);

    let path = std::env::temp_dir().join(format!("hearth-gguf-hardening-{}.gguf", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let f = GgufFile::open(&path);
    let _ = std::fs::remove_file(&path);
    let f = f.unwrap();
    assert_eq!(f.metadata().architecture().unwrap(), "llama");
    assert_eq!(f.tensor_data("b").unwrap().1, data[1]);
    assert_eq!(f.tensor_data("a").unwrap().1, data[0]);
    assert!(matches!(f.tensor_data("c"), Err(GgufError::TensorNotFound { .. })));
}

/// Qwen's whole metadata (151k-token vocab included) and a contiguous run of its tensors
/// (block 0, skipping the two 100+ MB embeddings) re-written: same metadata, same infos
/// (offsets shifted by the run's start), same bytes.
#[test]
fn real_model_header_and_tensor_subset_round_trip() {
    let Some(path) = tk::model(tk::QWEN_05B) else { return };
    let f = GgufFile::open(&path).unwrap();
    let run: Vec<_> = f.tensors().iter().filter(|t| t.name.starts_with("blk.0.")).cloned().collect();
    assert!(run.len() >= 10, "{} blk.0 tensors", run.len());
    let mut w = GgufWriter::new();
    for (k, v) in f.metadata().entries() {
        w.set(k.clone(), v.clone());
    }
    for t in &run {
        w.add_tensor(t.name.clone(), t.ty, &t.dims).unwrap();
    }
    let mut out = Vec::new();
    w.write(&mut out, |i, _, sink| sink.write_all(f.data(&run[i]))).unwrap();

    let h = parse(&out).unwrap();
    assert_eq!(h.metadata.entries(), f.metadata().entries());
    assert_eq!(h.alignment, f.header().alignment);
    // In the original the run is contiguous, so its offsets are ours shifted by its start.
    let base = run[0].offset;
    for (ours, theirs) in h.tensors.iter().zip(&run) {
        let mut shifted = theirs.clone();
        shifted.offset -= base;
        assert_eq!(ours, &shifted);
        assert_eq!(tensor_view(&out, &h, ours), Some(f.data(theirs)), "tensor '{}'", ours.name);
    }
    assert_eq!(h.tensors.len(), run.len());
}
