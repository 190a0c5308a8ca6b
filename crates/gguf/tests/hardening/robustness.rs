//! Real headers, cut and mutated: every truncation of a fixture's header is an error, and a
//! few thousand seeded mutations (byte flips, huge lengths and counts, bad type ids, splices)
//! never panic, never allocate beyond a fixed multiple of the input, and when they parse,
//! satisfy everything `exercise` checks and survive a writer round-trip.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use hearth_gguf::{Array, GgufError, GgufFile, GgufWriter, Header, Value};
use hearth_testkit as tk;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::alloc_count::allocated_by;
use crate::exercise::{exercise, round_trip};
use crate::support::{Layout, layout, parse};

/// Every byte of the first 64 KiB is a cut point, then every 1021st.
fn cut_points(len: usize) -> impl Iterator<Item = usize> {
    (0..len.min(64 << 10)).chain(((64 << 10)..len).step_by(1021)).chain([len])
}

/// Parses, turning a panic into a test failure that says which input did it (saved to a
/// temp file for reproduction).
fn parse_or_report(bytes: &[u8], what: &str) -> Result<Header, GgufError> {
    match catch_unwind(|| parse(bytes)) {
        Ok(r) => r,
        Err(_) => {
            let path = std::env::temp_dir().join("hearth-gguf-panic.gguf");
            let _ = std::fs::write(&path, bytes);
            panic!("parse_header panicked on {what}; input saved to {}", path.display());
        }
    }
}

/// Cuts `bytes` at every cut point: before `header_end` a `Truncated` error, after it a
/// `TensorOutOfBounds` error (or `Ok` when there are no tensors).
fn check_truncations(bytes: &[u8], l: &Layout, name: &str) -> usize {
    let mut n = 0;
    for cut in cut_points(bytes.len()) {
        let r = parse_or_report(&bytes[..cut], &format!("{name} cut at {cut}"));
        match r {
            Err(GgufError::Truncated { .. }) if cut < l.header_end => {}
            Err(GgufError::TensorOutOfBounds { .. }) if cut >= l.header_end && l.n_tensors > 0 => {}
            Ok(_) if cut >= l.header_end && l.n_tensors == 0 => {}
            r => panic!(
                "{name} cut at {cut} (header ends at {}): {:?}",
                l.header_end,
                r.map(|h| h.tensors.len())
            ),
        }
        n += 1;
    }
    n
}

#[test]
fn every_truncation_of_a_real_model_header_errors() {
    let Some(path) = tk::model(tk::SMOLLM2_135M) else { return };
    let f = GgufFile::open(&path).unwrap();
    // The header up to the data section: every cut of it, even the whole, lacks tensor data.
    let header = &f.bytes()[..f.header().data_offset as usize];
    let l = layout(header);
    assert_eq!(l.tensors.len(), f.tensors().len());
    let n = check_truncations(header, &l, "smollm2 header");
    assert!(n > 64 << 10, "{n} cuts");
}

#[test]
fn every_truncation_of_a_vocab_file_errors_until_its_header_ends() {
    let Some(path) = tk::vocab("ggml-vocab-gpt-2.gguf") else { return };
    let bytes = std::fs::read(path).unwrap();
    let l = layout(&bytes);
    assert_eq!(l.n_tensors, 0);
    check_truncations(&bytes, &l, "gpt-2 vocab");
}

/// `v` with every array cut to its first `n` elements (recursively).
fn shorten(v: &Value, n: usize) -> Value {
    fn arr(a: &Array, n: usize) -> Array {
        macro_rules! cut {
            ($($variant:ident),*) => {
                match a {
                    $(Array::$variant(v) => Array::$variant(v.iter().take(n).cloned().collect()),)*
                    Array::Array(v) => Array::Array(v.iter().take(n).map(|x| arr(x, n)).collect()),
                }
            };
        }
        cut!(U8, I8, U16, I16, U32, I32, F32, Bool, String, U64, I64, F64)
    }
    match v {
        Value::Array(a) => Value::Array(arr(a, n)),
        v => v.clone(),
    }
}

/// A small file shaped like a real model: all of its keys (arrays cut to 48 elements) and all
/// of its tensor names and types, each tensor one block long.
fn shape_alike(f: &GgufFile) -> Vec<u8> {
    let mut w = GgufWriter::new();
    for (k, v) in f.metadata().entries() {
        w.set(k.clone(), shorten(v, 48));
    }
    let mut data = Vec::new();
    for (i, t) in f.tensors().iter().enumerate() {
        w.add_tensor(t.name.clone(), t.ty, &[t.ty.block_size() as u64]).unwrap();
        data.push(vec![i as u8; t.ty.type_size()]);
    }
    w.to_bytes(&data.iter().map(Vec::as_slice).collect::<Vec<_>>()).unwrap()
}

/// Values that break length and count fields.
const HUGE: [u64; 12] = [
    u64::MAX,
    1 << 63,
    i64::MAX as u64,
    u64::MAX - 7,
    1 << 40,
    1 << 32,
    (1 << 24) + 1,
    1 << 24,
    1 << 16,
    255,
    1,
    0,
];

/// One random mutation of `base` (whose layout is `l`), spliced with bytes of `other`.
fn mutate(rng: &mut StdRng, base: &[u8], l: &Layout, other: &[u8]) -> (Vec<u8>, &'static str) {
    let mut m = base.to_vec();
    let op = rng.random_range(0..7u32);
    let name = match op {
        0 => {
            for _ in 0..rng.random_range(1..=8) {
                let i = rng.random_range(0..m.len());
                m[i] ^= rng.random_range(1..=255u8);
            }
            "flip bytes"
        }
        1 => {
            let at = l.u64_fields[rng.random_range(0..l.u64_fields.len())];
            let v = if rng.random_bool(0.8) { HUGE[rng.random_range(0..HUGE.len())] } else { rng.random() };
            m[at..at + 8].copy_from_slice(&v.to_le_bytes());
            "overwrite a u64 length or count"
        }
        2 => {
            let at = l.u32_fields[rng.random_range(0..l.u32_fields.len())];
            let v: u32 = match rng.random_range(0..4) {
                0 => rng.random_range(0..=14),
                1 => [4, 5, 31, 36, 43, 9, 8][rng.random_range(0..7)],
                2 => u32::MAX - rng.random_range(0..4),
                _ => rng.random(),
            };
            m[at..at + 4].copy_from_slice(&v.to_le_bytes());
            "overwrite a u32 type or dim count"
        }
        3 => {
            let n = rng.random_range(1..=256.min(m.len()));
            let (from, to) = (rng.random_range(0..=m.len() - n), rng.random_range(0..=m.len() - n));
            m.copy_within(from..from + n, to);
            "splice within"
        }
        4 => {
            let n = rng.random_range(1..=512.min(other.len()));
            let from = rng.random_range(0..=other.len() - n);
            let to = rng.random_range(0..=m.len());
            m.splice(to..to, other[from..from + n].iter().copied());
            "splice in from another file"
        }
        5 => {
            let from = rng.random_range(0..m.len());
            let to = rng.random_range(from..=m.len().min(from + 512));
            m.drain(from..to);
            "delete a range"
        }
        _ => {
            let i = rng.random_range(0..m.len());
            m[i] ^= 1 << rng.random_range(0..8);
            m.truncate(rng.random_range(0..=m.len()));
            "flip a bit and truncate"
        }
    };
    (m, name)
}

/// Runs `n` mutations of `base`, returning how many parsed and the error variants seen.
fn mutation_sweep(seed: u64, base: &[u8], other: &[u8], n: usize, outcomes: &mut BTreeMap<String, usize>) {
    let l = layout(base);
    let mut rng = StdRng::seed_from_u64(seed);
    for case in 0..n {
        let (m, op) = mutate(&mut rng, base, &l, other);
        let what = format!("seed {seed} case {case} ({op})");
        let (r, allocated) = allocated_by(|| parse_or_report(&m, &what));
        // Never more than a fixed multiple of what the input could back.
        let bound = 16 * m.len() as u64 + (64 << 10);
        assert!(allocated <= bound, "{what}: allocated {allocated} bytes for {} input bytes", m.len());
        let key = match r {
            Ok(h) => {
                if catch_unwind(AssertUnwindSafe(|| {
                    exercise(&m, &h);
                    round_trip(&m, &h);
                }))
                .is_err()
                {
                    let path = std::env::temp_dir().join("hearth-gguf-invariant.gguf");
                    let _ = std::fs::write(&path, &m);
                    panic!("{what}: accepted header broke an invariant; input saved to {}", path.display());
                }
                "Ok".to_owned()
            }
            Err(e) => format!("{e:?}").split([' ', '(', '{']).next().unwrap_or_default().to_owned(),
        };
        *outcomes.entry(key).or_default() += 1;
    }
}

#[test]
fn random_mutations_of_real_headers_never_panic() {
    let Some(path) = tk::model(tk::SMOLLM2_135M) else { return };
    let f = GgufFile::open(&path).unwrap();
    let alike = shape_alike(&f);
    assert!(alike.len() < 64 << 10, "shape-alike is {} bytes", alike.len());
    let prefix = &f.bytes()[..64 << 10];
    let synthetic = crate::truncation::sample();

    let mut outcomes = BTreeMap::new();
    mutation_sweep(1, &alike, prefix, 3000, &mut outcomes);
    mutation_sweep(2, &synthetic, &alike, 1500, &mut outcomes);
    // The raw first 64 KiB of the real header, bytes overwritten at random.
    let mut rng = StdRng::seed_from_u64(3);
    for case in 0..500 {
        let mut m = prefix.to_vec();
        for _ in 0..rng.random_range(1..=4) {
            let i = rng.random_range(0..m.len());
            m[i] = rng.random();
        }
        let _ = parse_or_report(&m, &format!("prefix case {case}"));
    }
    eprintln!("mutation outcomes: {outcomes:?}");
    assert!(outcomes.get("Ok").copied().unwrap_or(0) > 100, "{outcomes:?}");
    assert!(outcomes.len() >= 8, "only {} distinct outcomes: {outcomes:?}", outcomes.len());
}

/// The stricter rules (u32-only alignment, dims within i64 even beside a zero) still accept
/// every real file there is: the four fixture models and all of llama.cpp's vocab GGUFs.
#[test]
fn every_real_fixture_still_parses_and_passes_every_check() {
    let mut paths: Vec<_> = [tk::SMOLLM2_135M, tk::QWEN_05B, tk::GEMMA3_270M, tk::MINILM_L6]
        .into_iter()
        .filter_map(tk::model)
        .collect();
    let Some(gpt2) = tk::vocab("ggml-vocab-gpt-2.gguf") else { return };
    let vocab_dir = gpt2.parent().unwrap().to_path_buf();
    for entry in std::fs::read_dir(vocab_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "gguf") {
            paths.push(path);
        }
    }
    assert!(paths.len() >= 20, "{} fixture files", paths.len());
    for path in paths {
        let f = GgufFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        exercise(f.bytes(), f.header());
    }
}
