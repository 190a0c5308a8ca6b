//! Dequantization against llama.cpp's values on real model rows.

use hearth_gguf::GgufFile;
use hearth_kernels::{DType, testing};

use crate::common::{data, dequantize, read_f32, tables};

/// One line of `tests/data/dequant/manifest.tsv`.
struct Case {
    model: String,
    tensor: String,
    ty: String,
    rows: Vec<usize>,
    n: usize,
    file: String,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(data("dequant/manifest.tsv")).expect("manifest");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "bad manifest line {l:?}");
            Case {
                model: f[0].into(),
                tensor: f[1].into(),
                ty: f[2].into(),
                rows: f[3].split(',').map(|r| r.parse().expect("row")).collect(),
                n: f[4].parse().expect("n"),
                file: f[5].into(),
            }
        })
        .collect()
}

#[test]
fn fixture_rows_dequantize_exactly_as_llama_cpp() {
    let cases = cases();
    let types: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.ty.as_str()).collect();
    assert_eq!(types.into_iter().collect::<Vec<_>>(), ["F32", "Q4_1", "Q4_K", "Q5_0", "Q6_K", "Q8_0"]);
    let mut checked = 0;
    for case in &cases {
        let Some(path) = hearth_testkit::model(&case.model) else { continue };
        let file = GgufFile::open(&path).expect("open fixture");
        let (info, bytes) = file.tensor_data(&case.tensor).expect("tensor");
        let dt = info.ty;
        assert_eq!(dt.name().to_uppercase(), case.ty.to_uppercase(), "{}", case.tensor);
        let ne0 = info.ne0() as usize;
        let row_bytes = dt.row_bytes(ne0);
        let want = read_f32(&data(&format!("dequant/{}", case.file)));
        assert_eq!(want.len(), case.rows.len() * case.n);
        for k in tables() {
            for (i, &r) in case.rows.iter().enumerate() {
                let got = dequantize(k, dt, &bytes[r * row_bytes..(r + 1) * row_bytes], ne0);
                for (j, (g, w)) in got[..case.n].iter().zip(&want[i * case.n..(i + 1) * case.n]).enumerate() {
                    assert_eq!(
                        g.to_bits(),
                        w.to_bits(),
                        "{} {} ({dt}) row {r} element {j}, {} kernels: {g} != {w}",
                        case.model,
                        case.tensor,
                        k.name()
                    );
                }
                checked += 1;
            }
        }
    }
    eprintln!("checked {checked} rows");
}

#[test]
fn float_types_dequantize_exactly() {
    let x = testing::random_f32(1000, 3.0, 11);
    for k in tables() {
        for dt in [DType::F32, DType::F16, DType::BF16] {
            let enc: Vec<u8> = match dt {
                DType::F32 => x.iter().flat_map(|v| v.to_le_bytes()).collect(),
                DType::F16 => {
                    x.iter().flat_map(|&v| half::f16::from_f32(v).to_bits().to_le_bytes()).collect()
                }
                _ => x.iter().flat_map(|&v| half::bf16::from_f32(v).to_bits().to_le_bytes()).collect(),
            };
            let got = dequantize(k, dt, &enc, x.len());
            for (i, (&g, &v)) in got.iter().zip(&x).enumerate() {
                let want = match dt {
                    DType::F32 => v,
                    DType::F16 => half::f16::from_f32(v).to_f32(),
                    _ => half::bf16::from_f32(v).to_f32(),
                };
                assert_eq!(g.to_bits(), want.to_bits(), "{dt} {i} ({})", k.name());
            }
        }
    }
}

#[test]
fn every_table_dequantizes_every_type_like_scalar() {
    let scalar = hearth_kernels::Kernels::scalar();
    for dt in hearth_kernels::Kernels::TYPES {
        let n = 4 * 256;
        let row = testing::random_row(dt, n, 5 + dt.index() as u64);
        let want = dequantize(scalar, dt, &row, n);
        assert!(want.iter().all(|v| v.is_finite()), "{dt}");
        for k in tables() {
            let got = dequantize(k, dt, &row, n);
            assert!(got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "{dt} ({})", k.name());
        }
    }
}

#[test]
#[should_panic(expected = "dequantize")]
fn dequantize_rejects_a_short_destination() {
    let row = testing::random_row(DType::Q4_K, 512, 1);
    let mut out = vec![0f32; 256];
    hearth_kernels::dequantize_row(DType::Q4_K, &row, &mut out);
}
