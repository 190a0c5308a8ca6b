//! A small synthetic file cut at every byte: every cut inside the header is `Truncated` and
//! names what was being read (the key or tensor once its name is read), every cut inside the
//! data is `TensorOutOfBounds` naming the first tensor that no longer fits.

use hearth_gguf::{Array, DType, GgufError, GgufWriter, Header, Value};

use crate::support::{Layout, Span, layout, parse};

/// Metadata of every shape (scalars, strings, nested and empty arrays) and three tensors
/// whose sizes (12, 68 and 5 bytes) all need padding.
pub fn sample() -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.set("general.architecture", Value::String("llama".into()))
        .set("llama.block_count", Value::U32(2))
        .set("llama.rope.freq_base", Value::F32(10000.0))
        .set("general.empty", Value::String(String::new()))
        .set(
            "tokenizer.ggml.tokens",
            Value::Array(Array::String(vec!["a".into(), "bc".into(), String::new()])),
        )
        .set("tokenizer.ggml.token_type", Value::Array(Array::I32(vec![1, 2, 3])))
        .set(
            "x.nested",
            Value::Array(Array::Array(vec![Array::U16(vec![1, 2]), Array::String(vec!["z".into()])])),
        )
        .set("x.none", Value::Array(Array::F64(vec![])))
        .set("x.flag", Value::Bool(true));
    w.add_tensor("token_embd.weight", DType::F32, &[3]).unwrap();
    w.add_tensor("blk.0.attn_q.weight", DType::Q8_0, &[32, 2]).unwrap();
    w.add_tensor("output.weight", DType::I8, &[5]).unwrap();
    let data: Vec<Vec<u8>> = [12usize, 68, 5].iter().map(|&n| (0..n as u8).collect()).collect();
    w.to_bytes(&data.iter().map(Vec::as_slice).collect::<Vec<_>>()).unwrap()
}

#[derive(Debug, PartialEq)]
enum Expect {
    Truncated(String),
    OutOfBounds(String),
    Ok,
}

/// What parsing the first `cut` bytes must give, from the independent layout walk.
fn expected(l: &Layout, full: &Header, cut: usize) -> Expect {
    let named = |i: usize, s: &Span, what: &str| {
        Expect::Truncated(if cut < s.name_end { format!("{what} {i}") } else { format!("'{}'", s.name) })
    };
    for (end, what) in [(4, "magic"), (8, "version"), (16, "tensor count"), (24, "metadata count")] {
        if cut < end {
            return Expect::Truncated(what.into());
        }
    }
    // Counts are checked against the bytes left (13 per entry, 24 per tensor) up front.
    if l.n_kv > 0 && ((cut - 24) as u64) < 13 * l.n_kv {
        return Expect::Truncated("metadata entries".into());
    }
    if let Some((i, s)) = l.kvs.iter().enumerate().find(|(_, s)| cut < s.end) {
        return named(i, s, "metadata entry");
    }
    let tensors_start = l.kvs.last().map_or(24, |s| s.end);
    if l.n_tensors > 0 && ((cut - tensors_start) as u64) < 24 * l.n_tensors {
        return Expect::Truncated("tensor infos".into());
    }
    if let Some((i, s)) = l.tensors.iter().enumerate().find(|(_, s)| cut < s.end) {
        return named(i, s, "tensor");
    }
    match full.tensors.iter().find(|t| full.data_offset + t.offset + t.n_bytes > cut as u64) {
        Some(t) => Expect::OutOfBounds(format!("'{}'", t.name)),
        None => Expect::Ok,
    }
}

#[test]
fn truncated_at_every_byte_names_what_it_was_reading() {
    let bytes = sample();
    let l = layout(&bytes);
    let full = parse(&bytes).unwrap();
    assert_eq!(full.data_offset, l.header_end.next_multiple_of(32) as u64);
    assert_eq!((l.kvs.len(), l.tensors.len()), (9, 3));
    let mut seen = [0usize; 3];
    for cut in 0..=bytes.len() {
        let got = parse(&bytes[..cut]);
        match (expected(&l, &full, cut), got) {
            (Expect::Ok, Ok(_)) => seen[2] += 1,
            (Expect::Truncated(needle), Err(e @ GgufError::Truncated { .. })) => {
                let GgufError::Truncated { offset, need, file_len, .. } = &e else { unreachable!() };
                assert_eq!(*file_len, cut as u64, "cut {cut}");
                assert!(offset + need > *file_len, "cut {cut}: {e}");
                assert!(e.to_string().contains(&needle), "cut {cut}: {e} does not name {needle}");
                seen[0] += 1;
            }
            (Expect::OutOfBounds(needle), Err(e @ GgufError::TensorOutOfBounds { .. })) => {
                assert!(e.to_string().contains(&needle), "cut {cut}: {e} does not name {needle}");
                seen[1] += 1;
            }
            (want, got) => panic!(
                "cut {cut} of {}: expected {want:?}, got {:?}",
                bytes.len(),
                got.map(|h| h.tensors.len())
            ),
        }
    }
    // Only the trailing padding after the last tensor may go.
    assert_eq!(seen[2], 1 + 32 - 5);
    assert!(seen[0] > 300 && seen[1] > 100, "{seen:?}");
}
