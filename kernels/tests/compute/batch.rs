//! The batch kernels behind `matmul` (multi-row decode kernels, multi-token kernels, the
//! repacking GEMM): on every kernel table, each (row, token) result is bit-identical to the
//! table's row dot, whatever the batch size, the token's position in the batch, the row
//! count (strip and chunk tails) and the thread count; and within budget of the scalar
//! table and of f64 math.

use hearth_kernels::testing::{random_f32, random_row, random_row_scaled};
use hearth_kernels::{Activations, DType, Kernels, QMatrix, ThreadPool, matmul_with};

/// The types with batch kernels on x86_64 (AVX2) and aarch64 (NEON, both tables).
const TYPES: [DType; 8] =
    [DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K];

/// Batch sizes around every switch: token groups of 1/2/4/8, the GEMM threshold (16), its
/// 4-token tiles and 32-token calls.
const NS: [usize; 17] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 31, 33, 40, 67];

fn cols_for(dt: DType) -> usize {
    if dt.block_size() == 256 { 512 } else { 160 }
}

/// `k`'s row dot of each weight row with each token, quantized by `k`.
fn row_dots(k: &Kernels, dt: DType, rows: usize, cols: usize, wb: &[u8], x: &[f32]) -> Vec<f32> {
    let vdt = dt.vec_dot_type();
    let dot = k.vec_dot_fn(dt).expect("dot");
    let (wrb, xrb) = (dt.row_bytes(cols), vdt.row_bytes(cols));
    let n = x.len() / cols;
    let mut xq = vec![0u8; n * xrb];
    for (src, dst) in x.chunks_exact(cols).zip(xq.chunks_exact_mut(xrb)) {
        k.quantize_fn(vdt).expect("quantize")(src, dst);
    }
    let mut out = vec![0.0; n * rows];
    for t in 0..n {
        for r in 0..rows {
            out[t * rows + r] = dot(cols, &wb[r * wrb..(r + 1) * wrb], &xq[t * xrb..(t + 1) * xrb]);
        }
    }
    out
}

fn product(k: &'static Kernels, pool: &ThreadPool, w: &QMatrix<'_>, x: &[f32]) -> Vec<f32> {
    let mut a = Activations::new();
    a.load(x, w.cols());
    let mut out = vec![f32::NAN; a.n() * w.rows()];
    matmul_with(k, pool, w, &mut a, &mut out);
    out
}

#[test]
fn every_batch_size_equals_the_row_dots_exactly() {
    let pool = ThreadPool::new(2);
    for k in Kernels::available() {
        for (seed, dt) in TYPES.into_iter().enumerate() {
            let cols = cols_for(dt);
            for rows in [1, 7, 8, 13, 67] {
                let wb = random_row(dt, rows * cols, 40 + seed as u64);
                let w = QMatrix::new(dt, rows, cols, &wb).expect("valid");
                for n in NS {
                    let x = random_f32(n * cols, 1.5, (seed * 100 + rows * 7 + n) as u64);
                    let got = product(k, &pool, &w, &x);
                    let want = row_dots(k, dt, rows, cols, &wb, &x);
                    assert!(
                        got == want,
                        "{dt} on {}: rows={rows} n={n}: batch kernels differ from the row dot",
                        k.name()
                    );
                }
            }
        }
    }
}

/// Long K-quant rows (48 super-blocks: one token's rows are then read 8 side by side, not
/// one after another) equal the row dots and stay within budget of f64, on every table.
#[test]
fn long_rows_equal_the_row_dots_exactly() {
    let pool = ThreadPool::new(2);
    let cols = 48 * 256;
    for k in Kernels::available() {
        for (seed, dt) in [DType::Q4_K, DType::Q5_K, DType::Q6_K].into_iter().enumerate() {
            for rows in [1, 13] {
                let wb = random_row(dt, rows * cols, 90 + seed as u64);
                let w = QMatrix::new(dt, rows, cols, &wb).expect("valid");
                for n in [1, 3] {
                    let x = random_f32(n * cols, 1.5, (seed + rows + n) as u64);
                    let got = product(k, &pool, &w, &x);
                    assert!(
                        got == row_dots(k, dt, rows, cols, &wb, &x),
                        "{dt} on {}: rows={rows} n={n}",
                        k.name()
                    );
                    let (want, mag) = magnitudes(dt, rows, cols, &wb, &x);
                    for i in 0..got.len() {
                        let e = (f64::from(got[i]) - want[i]).abs();
                        assert!(
                            e <= 5e-3 * mag[i] + 1e-3,
                            "{dt} on {}: [{i}] {} vs f64 {}",
                            k.name(),
                            got[i],
                            want[i]
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn a_token_gives_the_same_result_alone_and_anywhere_in_a_batch() {
    let pool = ThreadPool::new(2);
    let rows = 45;
    for k in Kernels::available() {
        for (seed, dt) in TYPES.into_iter().enumerate() {
            let cols = cols_for(dt);
            let wb = random_row(dt, rows * cols, 7 + seed as u64);
            let w = QMatrix::new(dt, rows, cols, &wb).expect("valid");
            let n = 37;
            let x = random_f32(n * cols, 2.0, 70 + seed as u64);
            let batch = product(k, &pool, &w, &x);
            for t in [0, 1, 5, 16, 36] {
                let alone = product(k, &pool, &w, &x[t * cols..(t + 1) * cols]);
                assert!(
                    alone[..] == batch[t * rows..(t + 1) * rows],
                    "{dt} on {}: token {t} of {n}",
                    k.name()
                );
                // and in small batches at another position
                let pair: Vec<f32> = x[t * cols..(t + 1) * cols].iter().chain(&x[..cols]).copied().collect();
                let two = product(k, &pool, &w, &pair);
                assert!(two[..rows] == alone[..], "{dt} on {}: token {t} first of 2", k.name());
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    for (seed, dt) in TYPES.into_iter().enumerate() {
        let cols = cols_for(dt);
        let rows = 300;
        let wb = random_row(dt, rows * cols, 90 + seed as u64);
        let w = QMatrix::new(dt, rows, cols, &wb).expect("valid");
        for n in [1, 4, 40] {
            let x = random_f32(n * cols, 1.0, 91 + seed as u64);
            let outs: Vec<Vec<f32>> =
                [1, 2, 3].map(|t| product(hearth_kernels::kernels(), &ThreadPool::new(t), &w, &x)).into();
            assert!(outs[0] == outs[1] && outs[0] == outs[2], "{dt} n={n}");
        }
    }
}

/// Σ|x·w| per output, for error budgets.
fn magnitudes(dt: DType, rows: usize, cols: usize, wb: &[u8], x: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let mut wf = vec![0.0f32; rows * cols];
    Kernels::scalar().dequantize_fn(dt).expect("dequantize")(wb, &mut wf);
    let n = x.len() / cols;
    let (mut want, mut mag) = (vec![0.0; n * rows], vec![0.0; n * rows]);
    for t in 0..n {
        for r in 0..rows {
            for c in 0..cols {
                let p = f64::from(x[t * cols + c]) * f64::from(wf[r * cols + c]);
                want[t * rows + r] += p;
                mag[t * rows + r] += p.abs();
            }
        }
    }
    (want, mag)
}

#[test]
fn simd_batches_match_the_scalar_table_and_f64_within_budget() {
    let pool = ThreadPool::new(2);
    for k in Kernels::available() {
        for (seed, dt) in TYPES.into_iter().enumerate() {
            let cols = cols_for(dt);
            let rows = 19;
            let wb = random_row(dt, rows * cols, 11 + seed as u64);
            let w = QMatrix::new(dt, rows, cols, &wb).expect("valid");
            for n in [1, 4, 8, 32] {
                let x = random_f32(n * cols, 1.0, 12 + n as u64);
                let got = product(k, &pool, &w, &x);
                let scalar = product(Kernels::scalar(), &pool, &w, &x);
                let (want, mag) = magnitudes(dt, rows, cols, &wb, &x);
                for i in 0..got.len() {
                    // Both quantize the activations identically: they differ only in the f32
                    // summation order.
                    let d = f64::from((got[i] - scalar[i]).abs());
                    assert!(
                        d <= 1e-5 * mag[i] + 1e-6,
                        "{dt} on {} n={n}: [{i}] {} vs scalar {}",
                        k.name(),
                        got[i],
                        scalar[i]
                    );
                    let e = (f64::from(got[i]) - want[i]).abs();
                    assert!(
                        e <= 5e-3 * mag[i] + 1e-6,
                        "{dt} on {} n={n}: [{i}] {} vs f64 {}",
                        k.name(),
                        got[i],
                        want[i]
                    );
                }
            }
        }
    }
}

/// Weights at the edges of their ranges: every quant at its extremes (Q8_0 bytes of −128,
/// the largest 4/5/6-bit quants, K-quant scales of 63 and Q6_K scales of −128) and large
/// activations, where the 16-bit partial sums of the kernels are closest to overflowing.
#[test]
fn extreme_quants_do_not_overflow() {
    let pool = ThreadPool::new(2);
    for dt in TYPES {
        let cols = cols_for(dt);
        let rows = 9;
        let mut wb = random_row_scaled(dt, rows * cols, 3, 1.0);
        let size = dt.type_size();
        for blk in wb.chunks_exact_mut(size) {
            match dt {
                // quants after the f16 scale(s)
                DType::Q4_0 => blk[2..].fill(0xff),
                DType::Q4_1 => blk[4..].fill(0xff),
                DType::Q5_0 => blk[2..].fill(0xff),
                DType::Q5_1 => blk[4..].fill(0xff),
                DType::Q8_0 => blk[2..].fill(0x80),
                // d, dmin (f16), 12 scale bytes all ones (scales and mins 63), quants
                DType::Q4_K | DType::Q5_K => blk[4..].fill(0xff),
                // ql, qh all ones (quants 63), scales −128, then d
                DType::Q6_K => {
                    blk[..192].fill(0xff);
                    blk[192..208].fill(0x80);
                }
                _ => unreachable!(),
            }
        }
        let w = QMatrix::new(dt, rows, cols, &wb).expect("valid");
        for n in [1, 4, 20] {
            // all activations at ±max of their blocks
            let x: Vec<f32> = (0..n * cols).map(|i| if (i / 3) % 2 == 0 { 100.0 } else { -100.0 }).collect();
            let x_same: Vec<f32> = vec![100.0; n * cols];
            for x in [x, x_same] {
                let (want, mag) = magnitudes(dt, rows, cols, &wb, &x);
                for k in Kernels::available() {
                    let got = product(k, &pool, &w, &x);
                    assert!(got == row_dots(k, dt, rows, cols, &wb, &x), "{dt} on {} n={n}", k.name());
                    for i in 0..got.len() {
                        let e = (f64::from(got[i]) - want[i]).abs();
                        assert!(
                            e <= 5e-3 * mag[i] + 1e-3,
                            "{dt} on {} n={n}: [{i}] {} vs f64 {}",
                            k.name(),
                            got[i],
                            want[i]
                        );
                    }
                }
            }
        }
    }
}

/// The AVX-512 table changes only the exact integer part of its kernels: its row dots and
/// batch products equal the AVX2 table's bit for bit (so switching tables never changes a
/// token), on random and on extreme blocks. Runs where the CPU has AVX-512.
#[test]
fn the_avx512_table_equals_the_avx2_table_bit_for_bit() {
    let (Some(wide), Some(avx2)) = (Kernels::avx512(), Kernels::avx2()) else {
        eprintln!("no AVX-512 here: nothing to compare");
        return;
    };
    let pool = ThreadPool::new(2);
    for (seed, dt) in TYPES.into_iter().enumerate() {
        let cols = if dt.block_size() == 256 { 48 * 256 } else { 1024 };
        for rows in [1, 9, 40] {
            for extreme in [false, true] {
                let mut wb = random_row(dt, rows * cols, 70 + seed as u64);
                if extreme {
                    for (i, b) in wb.iter_mut().enumerate() {
                        // every quant and scale byte at its extremes; keep f16 scales finite
                        if i % dt.type_size() >= 4 {
                            *b = if i % 2 == 0 { 0xff } else { 0x80 };
                        }
                    }
                }
                let w = QMatrix::new(dt, rows, cols, &wb).expect("valid");
                for n in [1, 2, 3, 4, 8, 17] {
                    let x = random_f32(n * cols, 2.0, (seed * 31 + rows + n) as u64);
                    assert!(
                        row_dots(wide, dt, rows, cols, &wb, &x) == row_dots(avx2, dt, rows, cols, &wb, &x),
                        "{dt} rows={rows} n={n} extreme={extreme}: row dots differ"
                    );
                    assert!(
                        product(wide, &pool, &w, &x) == product(avx2, &pool, &w, &x),
                        "{dt} rows={rows} n={n} extreme={extreme}: batch products differ"
                    );
                }
            }
        }
    }
}
