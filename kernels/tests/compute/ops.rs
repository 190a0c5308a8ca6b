//! f32 ops: the SIMD table against its scalar twin, and both against plain f64 math.
//!
//! The best table's ops (`Kernels::best().ops()`) are compared with the scalar table's in
//! every run; the process-wide `ops()` (which `HEARTH_KERNELS=scalar` switches) is checked
//! against f64 references.

use hearth_kernels::Kernels;
use hearth_kernels::ops::{self, Ops};

/// Random test data on top of `hearth_kernels::testing::Rng`.
struct Rng(hearth_kernels::testing::Rng);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(hearth_kernels::testing::Rng::new(seed))
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        self.0.signed_unit()
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.unit() * scale).collect()
    }
}

/// Lengths that exercise empty input, SIMD tails and model sizes.
const LENS: [usize; 14] = [0, 1, 3, 7, 8, 9, 15, 16, 31, 33, 64, 100, 896, 4099];

fn simd() -> &'static Ops {
    Kernels::best().ops()
}

fn scalar() -> &'static Ops {
    Kernels::scalar().ops()
}

/// |a - b| <= rel * max(|a|, |b|) + abs, element-wise, with a useful message.
#[track_caller]
fn assert_close(what: &str, got: &[f32], want: &[f32], rel: f32, abs: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = rel * g.abs().max(w.abs()) + abs;
        assert!(
            (g - w).abs() <= tol || (g.is_nan() && w.is_nan()),
            "{what}[{i}]: got {g:e}, want {w:e} (n = {})",
            got.len()
        );
    }
}

#[track_caller]
fn assert_bits(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
            "{what}[{i}]: got {g:e}, want {w:e}"
        );
    }
}

#[test]
fn table_names() {
    assert_eq!(scalar().name(), "scalar");
    assert!(["scalar", "avx2", "avx512", "neon"].contains(&ops::ops().name()));
    eprintln!("ops path in use: {} (best: {})", ops::ops().name(), simd().name());
}

#[test]
fn every_simd_kernel_table_gets_simd_ops() {
    // A SIMD matmul table paired with the scalar ops made attention the bottleneck once
    // (the AVX2+VNNI table fell through to scalar ops: pp512 3x slower).
    for k in Kernels::available() {
        let o = k.ops();
        if k.name() == "scalar" {
            assert_eq!(o.name(), "scalar");
        } else {
            assert_ne!(o.name(), "scalar", "kernel table {} got scalar ops", k.name());
            // each table's ops are its ISA's (`avx2-vnni` and `neon-dotprod` share the base ones)
            assert!(k.name().starts_with(o.name()), "kernel table {} got {} ops", k.name(), o.name());
        }
    }
}

#[test]
fn rmsnorm_matches_scalar_and_f64() {
    let mut rng = Rng::new(1);
    for n in LENS.into_iter().filter(|&n| n > 0) {
        let x = rng.vec(n, 3.0);
        let w = rng.vec(n, 1.5);
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        simd().rmsnorm(&x, &w, 1e-6, &mut a);
        scalar().rmsnorm(&x, &w, 1e-6, &mut b);
        // Same f64 sum in element order and the same two products: bit-identical.
        assert_bits("rmsnorm simd vs scalar", &a, &b);

        let ms: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / n as f64;
        let s = 1.0 / (ms + 1e-6).sqrt();
        let want: Vec<f32> =
            x.iter().zip(&w).map(|(&v, &g)| (f64::from(v) * s * f64::from(g)) as f32).collect();
        let mut c = vec![0.0; n];
        ops::rmsnorm(&x, &w, 1e-6, &mut c);
        assert_close("rmsnorm vs f64", &c, &want, 1e-5, 1e-7);
    }
}

#[test]
fn rmsnorm_rows_is_rmsnorm_row_by_row_bit_for_bit() {
    let mut rng = Rng::new(11);
    for k in Kernels::available() {
        let o = k.ops();
        for d in [1, 7, 64, 256, 640] {
            let w = rng.vec(d, 1.5);
            // Fewer rows than one side-by-side group, exactly one, and groups with a tail.
            for rows in [1, 3, ops::NORM_ROWS, ops::NORM_ROWS + 1, 2 * ops::NORM_ROWS + 5] {
                let mut x = rng.vec(rows * d, 3.0);
                // Tiny and zero values beside large ones: an f64 sum in another order could
                // round differently here.
                x[0] = 1e-20;
                x[rows * d - 1] = 0.0;
                let mut got = vec![f32::NAN; rows * d];
                o.rmsnorm_rows(&x, &w, 1e-6, &mut got);
                let mut want = vec![f32::NAN; rows * d];
                for (xr, wr) in x.chunks_exact(d).zip(want.chunks_exact_mut(d)) {
                    o.rmsnorm(xr, &w, 1e-6, wr);
                }
                assert_bits(&format!("rmsnorm_rows {} d={d} rows={rows}", k.name()), &got, &want);
            }
        }
    }
}

#[test]
fn layernorm_matches_scalar_and_f64() {
    let mut rng = Rng::new(2);
    for n in LENS.into_iter().filter(|&n| n > 0) {
        let x: Vec<f32> = rng.vec(n, 2.0).iter().map(|v| v + 0.7).collect();
        let w = rng.vec(n, 1.0);
        let b = rng.vec(n, 0.5);
        let (mut a, mut c) = (vec![0.0; n], vec![0.0; n]);
        simd().layernorm(&x, &w, &b, 1e-12, &mut a);
        scalar().layernorm(&x, &w, &b, 1e-12, &mut c);
        assert_close("layernorm simd vs scalar", &a, &c, 1e-6, 1e-6);

        let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        let var = x.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n as f64;
        let s = 1.0 / (var + 1e-12).sqrt();
        let want: Vec<f32> = (0..n)
            .map(|i| ((f64::from(x[i]) - mean) * s * f64::from(w[i]) + f64::from(b[i])) as f32)
            .collect();
        let mut d = vec![0.0; n];
        ops::layernorm(&x, &w, &b, 1e-12, &mut d);
        assert_close("layernorm vs f64", &d, &want, 1e-4, 1e-5);
    }
}

#[test]
fn softmax_matches_scalar_and_f64() {
    let mut rng = Rng::new(3);
    for n in LENS.into_iter().filter(|&n| n > 0) {
        let x = rng.vec(n, 20.0);
        let (mut a, mut b) = (x.clone(), x.clone());
        simd().softmax(&mut a);
        scalar().softmax(&mut b);
        assert_close("softmax simd vs scalar", &a, &b, 4e-6, 1e-30);

        let max = x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        let e: Vec<f64> = x.iter().map(|&v| (f64::from(v) - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        let want: Vec<f32> = e.iter().map(|v| (v / sum) as f32).collect();
        let mut c = x.clone();
        ops::softmax(&mut c);
        assert_close("softmax vs f64", &c, &want, 1e-5, 1e-30);
        let total: f64 = c.iter().map(|&v| f64::from(v)).sum();
        assert!((total - 1.0).abs() < 1e-5, "softmax sums to {total}");
    }
}

#[test]
fn softmax_handles_masked_and_extreme_inputs() {
    for table in [scalar(), simd()] {
        // -inf (masked) entries become exactly 0; huge spreads do not overflow.
        let mut x = vec![f32::NEG_INFINITY; 19];
        x[3] = 1.0;
        x[11] = 1.0;
        x[17] = -200.0;
        table.softmax(&mut x);
        for (i, &v) in x.iter().enumerate() {
            let want = if i == 3 || i == 11 { 0.5 } else { 0.0 };
            assert!((v - want).abs() < 1e-6, "{}: x[{i}] = {v}", table.name());
        }
        let mut y: Vec<f32> = (0..40).map(|i| i as f32 * 30.0 - 600.0).collect();
        table.softmax(&mut y);
        assert!(y.iter().all(|v| v.is_finite() && *v >= 0.0));
        assert!((y[39] - 1.0).abs() < 1e-6);
        let mut empty: [f32; 0] = [];
        table.softmax(&mut empty);
    }
}

#[test]
fn silu_and_swiglu_match_scalar_and_f64() {
    let mut rng = Rng::new(4);
    for n in LENS {
        let g = rng.vec(n, 12.0);
        let u = rng.vec(n, 2.0);
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        simd().silu(&g, &mut a);
        scalar().silu(&g, &mut b);
        assert_close("silu simd vs scalar", &a, &b, 4e-7, 1e-37);
        let want: Vec<f32> =
            g.iter().map(|&v| (f64::from(v) / (1.0 + (-f64::from(v)).exp())) as f32).collect();
        ops::silu(&g, &mut a);
        assert_close("silu vs f64", &a, &want, 1e-6, 1e-37);

        simd().swiglu(&g, &u, &mut a);
        scalar().swiglu(&g, &u, &mut b);
        assert_close("swiglu simd vs scalar", &a, &b, 4e-7, 1e-37);
        let want: Vec<f32> = want.iter().zip(&u).map(|(&s, &v)| s * v).collect();
        ops::swiglu(&g, &u, &mut a);
        assert_close("swiglu vs f64", &a, &want, 1e-6, 1e-37);
    }
}

#[test]
fn silu_extremes() {
    let x = [
        -1000.0f32, -100.0, -88.0, -20.0, -0.0, 0.0, 1e-30, 20.0, 88.0, 100.0, 1000.0, -1e-6, 3.0, -3.0, 0.5,
        -0.5,
    ];
    for table in [scalar(), simd()] {
        let mut y = [0.0f32; 16];
        table.silu(&x, &mut y);
        for (&v, &s) in x.iter().zip(&y) {
            let want = (f64::from(v) / (1.0 + (-f64::from(v)).exp())) as f32;
            assert!(
                (s - want).abs() <= 1e-6 * want.abs() + 1e-30,
                "{}: silu({v}) = {s}, want {want}",
                table.name()
            );
        }
    }
}

/// ggml's GELU (tanh form) in f64, for accuracy checks of the f16-table version.
fn gelu_f64(x: f64) -> f64 {
    0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * x * (1.0 + 0.044715 * x * x)).tanh())
}

#[test]
fn gelu_and_geglu_are_identical_on_every_path_and_close_to_f64() {
    let mut rng = Rng::new(5);
    for n in LENS {
        let mut g = rng.vec(n, 12.0);
        // Include the cut-offs and values around them.
        for (i, v) in [-10.0f32, 10.0, -9.999, 9.999, -10.001, 10.001, 0.0, -0.0].into_iter().enumerate() {
            if i < n {
                g[i] = v;
            }
        }
        let u = rng.vec(n, 2.0);
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        simd().gelu(&g, &mut a);
        scalar().gelu(&g, &mut b);
        assert_bits("gelu simd vs scalar", &a, &b);
        for (&x, &y) in g.iter().zip(&a) {
            let want = if x <= -10.0 {
                0.0
            } else if x >= 10.0 {
                f64::from(x)
            } else {
                gelu_f64(f64::from(x))
            };
            // The input and output are rounded to f16: ~2^-11 relative each.
            assert!(
                (f64::from(y) - want).abs() <= 2e-3 * want.abs().max(f64::from(x).abs()) + 1e-6,
                "gelu({x}) = {y}, want {want}"
            );
        }
        simd().geglu(&g, &u, &mut a);
        scalar().geglu(&g, &u, &mut b);
        assert_bits("geglu simd vs scalar", &a, &b);
        let mut c = vec![0.0; n];
        ops::gelu(&g, &mut c);
        let want: Vec<f32> = c.iter().zip(&u).map(|(&s, &v)| s * v).collect();
        ops::geglu(&g, &u, &mut c);
        // Equal as values (ggml writes +0 where gelu(x) * up would be -0).
        assert_close("geglu = gelu * up", &c, &want, 0.0, 0.0);
    }
}

#[test]
fn add_mul_scale_are_exact() {
    let mut rng = Rng::new(6);
    for n in LENS {
        let x = rng.vec(n, 5.0);
        let y = rng.vec(n, 5.0);
        for table in [scalar(), simd()] {
            let mut a = x.clone();
            table.add(&mut a, &y);
            let want: Vec<f32> = x.iter().zip(&y).map(|(p, q)| p + q).collect();
            assert_bits("add", &a, &want);
            let mut a = x.clone();
            table.mul(&mut a, &y);
            let want: Vec<f32> = x.iter().zip(&y).map(|(p, q)| p * q).collect();
            assert_bits("mul", &a, &want);
            let mut a = x.clone();
            table.scale(&mut a, 0.37);
            let want: Vec<f32> = x.iter().map(|p| p * 0.37).collect();
            assert_bits("scale", &a, &want);
        }
    }
}

#[test]
fn f16_to_f32_is_exact_for_every_pattern() {
    let all: Vec<u16> = (0..=u16::MAX).collect();
    let mut a = vec![0.0; all.len()];
    let mut b = vec![0.0; all.len()];
    simd().f16_to_f32_row(&all, &mut a);
    scalar().f16_to_f32_row(&all, &mut b);
    assert_bits("f16_to_f32", &a, &b);
    // Spot values.
    assert_eq!(a[0x3c00], 1.0);
    assert_eq!(a[0xc000], -2.0);
    assert_eq!(a[0x0001], 2f32.powi(-24));
    assert_eq!(a[0x7bff], 65504.0);
    assert_eq!(a[0x7c00], f32::INFINITY);
}

#[test]
fn f32_to_f16_rounds_to_nearest_even_on_every_path() {
    let mut rng = Rng::new(7);
    let mut x: Vec<f32> = (0..200_000).map(|_| f32::from_bits(rng.next_u64() as u32)).collect();
    // Values near f16's range and rounding boundaries.
    x.extend((0..200_000).map(|_| rng.unit() * 70_000.0));
    x.extend((0..50_000).map(|_| rng.unit() * 1e-4));
    x.extend([
        0.0,
        -0.0,
        65504.0,
        65519.99,
        65520.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1.0 + 1.0 / 2048.0,
        2f32.powi(-25),
    ]);
    x.extend((1..1000).map(|i| 1.0 + i as f32 / 2048.0));
    let mut a = vec![0u16; x.len()];
    let mut b = vec![0u16; x.len()];
    simd().f32_to_f16_row(&x, &mut a);
    scalar().f32_to_f16_row(&x, &mut b);
    for (i, (&p, &q)) in a.iter().zip(&b).enumerate() {
        let nan = |h: u16| h & 0x7c00 == 0x7c00 && h & 0x3ff != 0;
        assert!(p == q || (nan(p) && nan(q)), "f32_to_f16({:e}): simd {p:#06x}, scalar {q:#06x}", x[i]);
    }
    // Round trip of representable values is exact; ties go to even.
    let mut back = vec![0.0f32; x.len()];
    ops::f16_to_f32_row(&a, &mut back);
    assert_eq!(a[x.len() - 999], 0x3c00, "1 + 2^-11 ties to 1.0");
}

#[test]
fn f16_dots_and_axpy_match_scalar_and_f64() {
    let mut rng = Rng::new(8);
    for n in LENS {
        let q = rng.vec(n, 2.0);
        let kf = rng.vec(n, 2.0);
        let mut k = vec![0u16; n];
        ops::f32_to_f16_row(&kf, &mut k);
        let mut kr = vec![0.0f32; n];
        ops::f16_to_f32_row(&k, &mut kr);
        let mag: f64 = q.iter().zip(&kr).map(|(&a, &b)| (f64::from(a) * f64::from(b)).abs()).sum();
        let exact: f64 = q.iter().zip(&kr).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
        let tol = (1e-6 * mag + 1e-30) as f32;

        let a = simd().dot_f32_f16(&q, &k);
        let b = scalar().dot_f32_f16(&q, &k);
        assert!((a - b).abs() <= tol, "dot_f32_f16 n={n}: simd {a}, scalar {b}");
        assert!(
            (f64::from(ops::dot_f32_f16(&q, &k)) - exact).abs() <= f64::from(tol),
            "dot_f32_f16 vs f64, n={n}"
        );

        let mut q16 = vec![0u16; n];
        ops::f32_to_f16_row(&q, &mut q16);
        let mut qr = vec![0.0f32; n];
        ops::f16_to_f32_row(&q16, &mut qr);
        let exact16: f64 = qr.iter().zip(&kr).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
        let a = simd().dot_f16(&q16, &k);
        let b = scalar().dot_f16(&q16, &k);
        assert!((a - b).abs() <= tol, "dot_f16 n={n}: simd {a}, scalar {b}");
        assert!((f64::from(b) - exact16).abs() <= f64::from(tol), "dot_f16 vs f64, n={n}");

        let acc0 = rng.vec(n, 1.0);
        let (mut a, mut b) = (acc0.clone(), acc0.clone());
        simd().axpy_f16(&mut a, 0.3, &k);
        scalar().axpy_f16(&mut b, 0.3, &k);
        let want: Vec<f32> =
            acc0.iter().zip(&kr).map(|(&c, &v)| (f64::from(c) + 0.3 * f64::from(v)) as f32).collect();
        assert_close("axpy_f16 simd vs scalar", &a, &b, 2e-7, 2e-7);
        assert_close("axpy_f16 vs f64", &b, &want, 2e-7, 2e-7);
    }
}

#[test]
fn weighted_sum_f16_is_the_axpy_sequence_bit_for_bit() {
    // Attention's weighted sum of f16 value rows: on every table, `out = 0` then that table's
    // `axpy_f16` row by row, exactly (register blocks of 64 and 8 lanes, scalar tails).
    let mut rng = Rng::new(41);
    for k in Kernels::available() {
        let t = k.ops();
        for hd in [1, 7, 8, 9, 64, 72, 100, 128, 256] {
            for (count, pad) in [(0usize, 0), (1, 0), (3, 5), (37, 0), (130, 24)] {
                let stride = hd + pad;
                let rows_f = rng.vec(count.saturating_sub(1) * stride + hd, 2.0);
                let mut rows = vec![0u16; rows_f.len()];
                t.f32_to_f16_row(&rows_f, &mut rows);
                let w = rng.vec(count, 1.0);
                let mut want = vec![f32::NAN; hd];
                want.fill(0.0);
                for (j, &wj) in w.iter().enumerate() {
                    t.axpy_f16(&mut want, wj, &rows[j * stride..][..hd]);
                }
                let mut got = vec![f32::NAN; hd];
                t.weighted_sum_f16(&mut got, &w, &rows, stride);
                for (i, (g, e)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(
                        g.to_bits(),
                        e.to_bits(),
                        "{} hd={hd} rows={count}: out[{i}] {g} vs {e}",
                        t.name()
                    );
                }
            }
        }
    }
}

#[test]
fn widened_attention_ops_are_the_f16_ops_bit_for_bit() {
    // Prefill widens a layer's f16 keys and values to f32 once, then scores the queries of
    // each kv head against them together: on every table each query's scores must be that
    // table's `dot_f16 · scale` on the f16 bits, and its weighted sum `weighted_sum_f16`,
    // exactly (queries sharing loads in threes, the 8-key reduction where the head size is a
    // multiple of 32, single dots with the f64 tail elsewhere).
    let mut rng = Rng::new(42);
    for k in Kernels::available() {
        let t = k.ops();
        for hd in [0, 1, 7, 31, 32, 64, 72, 96, 128, 256] {
            for (count, pad) in [(0usize, 0), (1, 0), (7, 3), (8, 0), (9, 64), (17, 0), (130, 24)] {
                for n_q in [1, 2, 3, 4, 7] {
                    let stride = hd + pad;
                    let len = count.saturating_sub(1) * stride + hd;
                    let mut rows = vec![0u16; len];
                    t.f32_to_f16_row(&rng.vec(len, 2.0), &mut rows);
                    let mut rows_w = vec![f32::NAN; len];
                    t.f16_to_f32_row(&rows, &mut rows_w);
                    let mut q16 = vec![0u16; n_q * hd];
                    t.f32_to_f16_row(&rng.vec(n_q * hd, 3.0), &mut q16);
                    let mut q_w = vec![f32::NAN; n_q * hd];
                    t.f16_to_f32_row(&q16, &mut q_w);
                    let what = format!("{} hd={hd} rows={count} stride={stride} queries={n_q}", t.name());

                    let scale = 0.125f32 + rng.unit().abs();
                    let mut want = Vec::new();
                    for r in 0..n_q {
                        let qr = &q16[r * hd..][..hd];
                        want.extend((0..count).map(|j| t.dot_f16(qr, &rows[j * stride..][..hd]) * scale));
                    }
                    let mut got = vec![f32::NAN; n_q * count];
                    t.scores_f16_widened(&q_w, n_q, &rows_w, stride, scale, &mut got);
                    assert_bits(&format!("scores {what}"), &got, &want);

                    let w = rng.vec(n_q * count, 1.0);
                    let mut want = vec![f32::NAN; n_q * hd];
                    for r in 0..n_q {
                        t.weighted_sum_f16(
                            &mut want[r * hd..][..hd],
                            &w[r * count..][..count],
                            &rows,
                            stride,
                        );
                    }
                    let mut got = vec![f32::NAN; n_q * hd];
                    t.weighted_sum_f16_widened(&mut got, n_q, &w, &rows_w, stride);
                    assert_bits(&format!("weighted sum {what}"), &got, &want);
                }
            }
        }
    }
}

#[test]
#[should_panic(expected = "scores_f16_widened: 3 keys of stride 8 need 24 values, have 23")]
fn scores_f16_widened_checks_the_keys() {
    let mut out = [0.0; 6];
    ops::ops().scores_f16_widened(&[0.0; 16], 2, &[0.0; 23], 8, 1.0, &mut out);
}

#[test]
#[should_panic(expected = "scores_f16_widened: 16 and 7 values do not split into 2 queries")]
fn scores_f16_widened_checks_the_queries() {
    let mut out = [0.0; 7];
    ops::ops().scores_f16_widened(&[0.0; 16], 2, &[0.0; 64], 8, 1.0, &mut out);
}

#[test]
#[should_panic(expected = "weighted_sum_f16_widened: 2 rows of stride 8 need 16 values, have 15")]
fn weighted_sum_f16_widened_checks_the_rows() {
    let mut out = [0.0; 8];
    ops::ops().weighted_sum_f16_widened(&mut out, 1, &[1.0, 2.0], &[0.0; 15], 8);
}

#[test]
#[should_panic(expected = "weighted_sum_f16: 2 rows of stride 8 need 16 values, have 15")]
fn weighted_sum_f16_checks_the_rows() {
    let mut out = [0.0; 8];
    ops::weighted_sum_f16(&mut out, &[1.0, 2.0], &[0; 15], 8);
}

#[test]
#[should_panic(expected = "rmsnorm: weight length")]
fn shapes_are_checked() {
    let mut out = [0.0; 4];
    ops::rmsnorm(&[1.0; 4], &[1.0; 3], 1e-5, &mut out);
}
