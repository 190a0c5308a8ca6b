//! `matmul`: against plain f64 math on dequantized weights (per-type error budgets), against
//! the row dot product it is built from (exact), over batch sizes, odd row counts, thread
//! counts and kernel tables; `matmul_many`; `Activations` reuse; `QMatrix` checks; and real
//! fixture tensors.

use hearth_kernels::testing::{random_f32, random_row};
use hearth_kernels::{
    Activations, DType, KernelError, Kernels, MatrixError, QMatrix, ThreadPool, matmul, matmul_many,
    matmul_many_with, matmul_with, supported_weight_types,
};

const BATCHES: [usize; 8] = [1, 2, 3, 4, 7, 8, 9, 33];
const ROWS: [usize; 4] = [1, 5, 37, 67];

/// Error budget relative to `Σ_k |x_k · w_k|`: the activations are rounded to the weight
/// type's vec-dot format (8-bit blocks for quantized weights, f16/bf16 for those), the
/// weights are used exactly.
fn budget(dt: DType) -> f64 {
    match dt.vec_dot_type() {
        DType::F32 => 1e-6,
        DType::F16 => 5e-4,
        DType::BF16 => 4e-3,
        // One 8-bit step is amax/127 per block; rounding errors partly cancel in the sum
        // (observed worst case over these tests: 2.4e-3).
        _ => 5e-3,
    }
}

/// Column count for a type: a few blocks, never a single one.
fn cols_for(dt: DType) -> usize {
    match dt.block_size() {
        256 => 512,
        32 => 96,
        _ => 80,
    }
}

fn dequantized(dt: DType, rows: usize, cols: usize, bytes: &[u8]) -> Vec<f32> {
    let mut w = vec![0.0f32; rows * cols];
    let deq = Kernels::scalar().dequantize_fn(dt).expect("dequantize");
    deq(bytes, &mut w);
    w
}

/// `out[t*rows + r]` in f64, and the magnitude `Σ|x·w|` each entry is judged against.
fn reference(w: &[f32], x: &[f32], rows: usize, cols: usize) -> (Vec<f64>, Vec<f64>) {
    let n = x.len() / cols;
    let mut want = vec![0.0; n * rows];
    let mut mag = vec![0.0; n * rows];
    for t in 0..n {
        for r in 0..rows {
            let (mut s, mut m) = (0.0f64, 0.0f64);
            for k in 0..cols {
                let p = f64::from(x[t * cols + k]) * f64::from(w[r * cols + k]);
                s += p;
                m += p.abs();
            }
            want[t * rows + r] = s;
            mag[t * rows + r] = m;
        }
    }
    (want, mag)
}

/// What `matmul_with(k, ..)` must produce exactly: `k`'s row dot of each weight row with each
/// activation row quantized by `k`.
fn row_by_row(k: &Kernels, dt: DType, rows: usize, cols: usize, wb: &[u8], x: &[f32]) -> Vec<f32> {
    let vdt = dt.vec_dot_type();
    let dot = k.vec_dot_fn(dt).expect("dot");
    let wrb = dt.row_bytes(cols);
    let xrb = vdt.row_bytes(cols);
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

#[test]
fn every_supported_type_is_tested() {
    let types: Vec<DType> = supported_weight_types().collect();
    for dt in [
        DType::Q4_0,
        DType::Q4_1,
        DType::Q5_0,
        DType::Q5_1,
        DType::Q8_0,
        DType::Q4_K,
        DType::Q6_K,
        DType::F16,
        DType::F32,
    ] {
        assert!(types.contains(&dt), "{dt} must be supported");
    }
    assert!(!types.contains(&DType::Q8_K));
}

#[test]
fn matches_f64_on_dequantized_weights_within_budget() {
    let pools: Vec<ThreadPool> = [1, 2, 3].into_iter().map(ThreadPool::new).collect();
    let mut x = Activations::new();
    for (seed, dt) in supported_weight_types().enumerate() {
        let cols = cols_for(dt);
        for &rows in &ROWS {
            let wb = random_row(dt, rows * cols, 100 + seed as u64);
            let w = QMatrix::new(dt, rows, cols, &wb).expect("valid matrix");
            let wf = dequantized(dt, rows, cols, &wb);
            for &n in &BATCHES {
                let xf = random_f32(n * cols, 1.0, (seed * 1000 + rows * 10 + n) as u64);
                let (want, mag) = reference(&wf, &xf, rows, cols);
                let pool = &pools[(rows + n) % pools.len()];
                x.load(&xf, cols);
                let mut out = vec![f32::NAN; n * rows];
                matmul(pool, &w, &mut x, &mut out);
                for (i, ((&g, &e), &m)) in out.iter().zip(&want).zip(&mag).enumerate() {
                    let err = (f64::from(g) - e).abs();
                    assert!(
                        err <= budget(dt) * m + 1e-6,
                        "{dt} rows={rows} n={n} threads={}: out[{i}] = {g}, want {e} (err {err:e}, |x||w| {m:e})",
                        pool.n_threads()
                    );
                }
            }
        }
    }
}

#[test]
fn equals_the_row_dot_products_on_every_table_and_thread_count() {
    let tables = Kernels::available();
    eprintln!("kernel tables: {:?}", tables.iter().map(|k| k.name()).collect::<Vec<_>>());
    let mut x = Activations::new();
    for threads in [1, 2, 3] {
        let pool = ThreadPool::new(threads);
        for (seed, dt) in supported_weight_types().enumerate() {
            let cols = cols_for(dt);
            for rows in [5, 67] {
                let wb = random_row(dt, rows * cols, 7 + seed as u64);
                let w = QMatrix::new(dt, rows, cols, &wb).expect("valid");
                for n in [1, 9] {
                    let xf = random_f32(n * cols, 2.0, (threads * 100 + seed * 10 + n) as u64);
                    x.load(&xf, cols);
                    for &k in &tables {
                        let mut out = vec![f32::NAN; n * rows];
                        matmul_with(k, &pool, &w, &mut x, &mut out);
                        let want = row_by_row(k, dt, rows, cols, &wb, &xf);
                        assert_eq!(out, want, "{dt} on {} rows={rows} n={n} threads={threads}", k.name());
                    }
                }
            }
        }
    }
}

#[test]
fn large_batches_quantize_in_parallel_with_the_same_result() {
    // 40 × 1024 floats is over the parallel-quantization threshold.
    let (rows, cols, n) = (70, 1024, 40);
    for dt in [DType::Q4_K, DType::Q8_0, DType::Q4_1, DType::F16] {
        let wb = random_row(dt, rows * cols, 3);
        let w = QMatrix::new(dt, rows, cols, &wb).expect("valid");
        let xf = random_f32(n * cols, 1.0, 4);
        let mut outs = Vec::new();
        for threads in [1, 2, 4] {
            let pool = ThreadPool::new(threads);
            let mut x = Activations::new();
            x.load(&xf, cols);
            let mut out = vec![0.0; n * rows];
            matmul(&pool, &w, &mut x, &mut out);
            outs.push(out);
        }
        assert_eq!(outs[0], outs[1], "{dt}: 1 vs 2 threads");
        assert_eq!(outs[0], outs[2], "{dt}: 1 vs 4 threads");
        assert_eq!(outs[0], row_by_row(hearth_kernels::kernels(), dt, rows, cols, &wb, &xf), "{dt}");
    }
}

#[test]
fn matmul_many_equals_separate_products() {
    let cols = 256;
    let specs =
        [(DType::Q4_K, 64), (DType::Q6_K, 16), (DType::Q8_0, 16), (DType::Q5_0, 33), (DType::Q4_1, 7)];
    let bytes: Vec<Vec<u8>> =
        specs.iter().enumerate().map(|(i, &(dt, rows))| random_row(dt, rows * cols, i as u64)).collect();
    let mats: Vec<QMatrix<'_>> = specs
        .iter()
        .zip(&bytes)
        .map(|(&(dt, rows), b)| QMatrix::new(dt, rows, cols, b).expect("valid"))
        .collect();
    for threads in [1, 2, 3] {
        let pool = ThreadPool::new(threads);
        for n in [1, 5, 12] {
            let xf = random_f32(n * cols, 1.0, 50 + n as u64);
            let mut x = Activations::new();
            x.load(&xf, cols);
            let mut separate: Vec<Vec<f32>> = Vec::new();
            for w in &mats {
                let mut out = vec![0.0; n * w.rows()];
                matmul(&pool, w, &mut x, &mut out);
                separate.push(out);
            }
            // Twice the list: more matrices than one dispatch takes.
            let mut outs: Vec<Vec<f32>> =
                mats.iter().chain(&mats).map(|w| vec![f32::NAN; n * w.rows()]).collect();
            let mut jobs: Vec<(&QMatrix<'_>, &mut [f32])> =
                mats.iter().chain(&mats).zip(outs.iter_mut()).map(|(w, o)| (w, o.as_mut_slice())).collect();
            matmul_many(&pool, &mut jobs, &mut x);
            for (i, out) in outs.iter().enumerate() {
                assert_eq!(out, &separate[i % mats.len()], "matrix {i} n={n} threads={threads}");
            }
        }
    }
}

#[test]
fn activations_are_reused_and_invalidated() {
    let (rows, cols) = (9, 256);
    let wb = random_row(DType::Q4_K, rows * cols, 1);
    let w = QMatrix::new(DType::Q4_K, rows, cols, &wb).expect("valid");
    let pool = ThreadPool::new(2);
    let mut x = Activations::with_capacity(8, cols);
    for (round, n) in [3usize, 1, 8, 2].into_iter().enumerate() {
        let xf = random_f32(n * cols, 1.0, round as u64);
        x.fill(n, cols).copy_from_slice(&xf);
        let mut out = vec![0.0; n * rows];
        matmul(&pool, &w, &mut x, &mut out);
        assert_eq!(
            out,
            row_by_row(hearth_kernels::kernels(), DType::Q4_K, rows, cols, &wb, &xf),
            "round {round}"
        );
        // Editing in place invalidates the cached quantization.
        x.data_mut().iter_mut().for_each(|v| *v = -*v);
        let neg: Vec<f32> = xf.iter().map(|v| -v).collect();
        matmul(&pool, &w, &mut x, &mut out);
        assert_eq!(
            out,
            row_by_row(hearth_kernels::kernels(), DType::Q4_K, rows, cols, &wb, &neg),
            "round {round} negated"
        );
    }
    // Switching tables re-quantizes with the new table.
    let xf = random_f32(2 * cols, 1.0, 99);
    x.load(&xf, cols);
    for k in Kernels::available().into_iter().chain(Kernels::available()) {
        let mut out = vec![0.0; 2 * rows];
        matmul_many_with(k, &pool, &mut [(&w, &mut out)], &mut x);
        assert_eq!(out, row_by_row(k, DType::Q4_K, rows, cols, &wb, &xf), "{}", k.name());
    }
}

#[test]
fn empty_batches_and_matrices_are_fine() {
    let pool = ThreadPool::new(2);
    let wb = random_row(DType::Q8_0, 4 * 64, 1);
    let w = QMatrix::new(DType::Q8_0, 4, 64, &wb).expect("valid");
    let mut x = Activations::new();
    x.fill(0, 64);
    matmul(&pool, &w, &mut x, &mut []);
    let w0 = QMatrix::new(DType::Q8_0, 0, 64, &[]).expect("valid");
    x.load(&random_f32(64, 1.0, 1), 64);
    matmul(&pool, &w0, &mut x, &mut []);
}

#[test]
fn qmatrix_checks_its_shape() {
    let b = vec![0u8; 144 * 4];
    assert!(QMatrix::new(DType::Q4_K, 2, 512, &b).is_ok());
    assert_eq!(
        QMatrix::new(DType::Q4_K, 3, 512, &b).unwrap_err(),
        MatrixError::WrongSize {
            dtype: DType::Q4_K,
            rows: 3,
            cols: 512,
            expected: Some(144 * 6),
            got: 144 * 4
        }
    );
    assert_eq!(
        QMatrix::new(DType::Q4_K, 1, 300, &b).unwrap_err(),
        MatrixError::RowNotBlocks { dtype: DType::Q4_K, cols: 300, block: 256 }
    );
    assert!(matches!(
        QMatrix::new(DType::Q4_K, usize::MAX, 256, &b),
        Err(MatrixError::WrongSize { expected: None, .. })
    ));
    assert_eq!(
        QMatrix::new(DType::Q8_K, 1, 256, &vec![0u8; 292]).unwrap_err(),
        MatrixError::Kernel(KernelError::Unsupported { op: "vec_dot", dtype: DType::Q8_K })
    );
    let m = QMatrix::new(DType::Q4_K, 2, 512, &b).expect("valid");
    assert_eq!((m.dtype(), m.rows(), m.cols(), m.n_bytes()), (DType::Q4_K, 2, 512, 576));
}

#[test]
fn dequantize_row_reads_the_right_row() {
    let (rows, cols) = (5, 64);
    let wb = random_row(DType::Q8_0, rows * cols, 8);
    let w = QMatrix::new(DType::Q8_0, rows, cols, &wb).expect("valid");
    let all = dequantized(DType::Q8_0, rows, cols, &wb);
    let mut row = vec![0.0; cols];
    for r in 0..rows {
        w.dequantize_row(r, &mut row);
        assert_eq!(row, all[r * cols..(r + 1) * cols]);
    }
}

#[test]
#[should_panic(expected = "output length")]
fn wrong_output_length_panics() {
    let wb = random_row(DType::Q8_0, 4 * 64, 1);
    let w = QMatrix::new(DType::Q8_0, 4, 64, &wb).expect("valid");
    let mut x = Activations::new();
    x.load(&random_f32(2 * 64, 1.0, 1), 64);
    matmul(&ThreadPool::new(1), &w, &mut x, &mut [0.0; 7]);
}

#[test]
#[should_panic(expected = "inputs of 32 columns")]
fn wrong_input_width_panics() {
    let wb = random_row(DType::Q8_0, 4 * 64, 1);
    let w = QMatrix::new(DType::Q8_0, 4, 64, &wb).expect("valid");
    let mut x = Activations::new();
    x.load(&random_f32(32, 1.0, 1), 32);
    matmul(&ThreadPool::new(1), &w, &mut x, &mut [0.0; 4]);
}

/// Real weights from the fixture models: the first 48 rows of one tensor of each type.
#[test]
fn real_fixture_tensors_match_f64() {
    let pool = ThreadPool::new(2);
    for name in hearth_testkit::GENERATIVE_MODELS {
        let Some(path) = hearth_testkit::model(name) else { continue };
        let file = hearth_gguf::GgufFile::open(&path).expect("open fixture");
        let mut seen = Vec::new();
        for info in file.tensors() {
            let dt = info.ty;
            if info.dims.len() != 2 || seen.contains(&dt) || !supported_weight_types().any(|t| t == dt) {
                continue;
            }
            seen.push(dt);
            let cols = info.ne0() as usize;
            let rows = (info.n_rows() as usize).min(48);
            let bytes = &file.data(info)[..rows * dt.row_bytes(cols)];
            let w = QMatrix::new(dt, rows, cols, bytes).expect("fixture tensor");
            let wf = dequantized(dt, rows, cols, bytes);
            let n = 3;
            let xf = random_f32(n * cols, 1.0, 17);
            let (want, mag) = reference(&wf, &xf, rows, cols);
            let mut x = Activations::new();
            x.load(&xf, cols);
            let mut out = vec![0.0; n * rows];
            matmul(&pool, &w, &mut x, &mut out);
            for (i, ((&g, &e), &m)) in out.iter().zip(&want).zip(&mag).enumerate() {
                let err = (f64::from(g) - e).abs();
                assert!(
                    err <= budget(dt) * m + 1e-6,
                    "{name} {} ({dt}): out[{i}] = {g}, want {e}",
                    info.name
                );
            }
        }
        assert!(!seen.is_empty(), "{name}: no tensor tested");
        eprintln!("{name}: tested {seen:?}");
    }
}

/// The file's bytes of a `dt` matrix repacked by `QMatrix::interleave`.
fn interleaved_bytes(dt: DType, rows: usize, cols: usize, wb: &[u8]) -> Vec<u8> {
    let mut il = vec![0u8; QMatrix::interleaved_len(dt, rows, cols).expect("interleavable")];
    QMatrix::interleave(dt, rows, cols, wb, &mut il).expect("interleavable");
    il
}

/// Interleaved `dt` matrices equal the row dot products on every table, bit for bit: the
/// interleaved kernels (AVX-512) keep the row-major kernels' float steps, and tables without
/// them take the groups apart first. Batches cover one token, the multi-token tiles (1, 2, 4
/// and 8 at a time and remainders) and the GEMM (≥ 16 tokens; on the interleaved layout, where the
/// table has its kernel, Q6_K from 48 tokens). One test per type, so the five run in
/// parallel (under `qemu-x86_64 -cpu Haswell` in CI, one alone took 164 s).
fn interleaved_equal_row_dots(dt: DType) {
    let pools: Vec<ThreadPool> = [1, 2, 3].into_iter().map(ThreadPool::new).collect();
    let mut x = Activations::new();
    let shapes: &[(usize, usize)] = if dt.block_size() == 256 {
        &[(8, 256), (16, 512), (72, 768), (200, 3072)]
    } else {
        // Q4_1, Q5_0 and Q8_0 interleave 16 rows to a block.
        &[(16, 32), (32, 96), (80, 896), (208, 4864)]
    };
    for &(rows, cols) in shapes {
        let wb = random_row(dt, rows * cols, (rows + cols) as u64);
        let il = interleaved_bytes(dt, rows, cols, &wb);
        let w = QMatrix::interleaved(dt, rows, cols, &il).expect("interleaved view");
        // Q4_K's scales are stored unpacked (1184 bytes per 8 × 144); the others keep
        // the file's size.
        let per_8_rows = if dt == DType::Q4_K { 1184 } else { 8 * dt.type_size() };
        assert!(w.is_interleaved() && w.n_bytes() == rows / 8 * cols / dt.block_size() * per_8_rows);
        for k in Kernels::available() {
            for n in [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 161] {
                let xf = random_f32(n * cols, 1.0, (rows * 100 + n) as u64);
                let want = row_by_row(k, dt, rows, cols, &wb, &xf);
                let pool = &pools[(rows + n) % pools.len()];
                x.load(&xf, cols);
                let mut out = vec![f32::NAN; n * rows];
                matmul_with(k, pool, &w, &mut x, &mut out);
                for (i, (g, e)) in out.iter().zip(&want).enumerate() {
                    assert_eq!(
                        g.to_bits(),
                        e.to_bits(),
                        "{dt} {} {rows}x{cols} n={n}: out[{i}] = {g}, row dot {e}",
                        k.name()
                    );
                }
            }
        }
    }
}

#[test]
fn interleaved_q4_k_matrices_equal_the_row_dot_products_on_every_table() {
    interleaved_equal_row_dots(DType::Q4_K);
}

#[test]
fn interleaved_q6_k_matrices_equal_the_row_dot_products_on_every_table() {
    interleaved_equal_row_dots(DType::Q6_K);
}

#[test]
fn interleaved_q4_1_matrices_equal_the_row_dot_products_on_every_table() {
    interleaved_equal_row_dots(DType::Q4_1);
}

#[test]
fn interleaved_q5_0_matrices_equal_the_row_dot_products_on_every_table() {
    interleaved_equal_row_dots(DType::Q5_0);
}

#[test]
fn interleaved_q8_0_matrices_equal_the_row_dot_products_on_every_table() {
    interleaved_equal_row_dots(DType::Q8_0);
}

#[test]
fn interleaved_matrices_decode_rows_and_mix_with_row_major_ones() {
    let (rows, cols) = (24, 512);
    let wb = random_row(DType::Q4_K, rows * cols, 5);
    let il = interleaved_bytes(DType::Q4_K, rows, cols, &wb);
    let a = QMatrix::new(DType::Q4_K, rows, cols, &wb).expect("row-major");
    let b = QMatrix::interleaved(DType::Q4_K, rows, cols, &il).expect("interleaved");
    let (mut ra, mut rb) = (vec![0.0; cols], vec![0.0; cols]);
    for r in [0, 7, 8, 13, 23] {
        a.dequantize_row(r, &mut ra);
        b.dequantize_row(r, &mut rb);
        assert_eq!(ra, rb, "row {r}");
    }
    let pool = ThreadPool::new(2);
    let mut x = Activations::new();
    x.load(&random_f32(3 * cols, 1.0, 9), cols);
    let (mut oa, mut ob) = (vec![0.0; 3 * rows], vec![0.0; 3 * rows]);
    matmul_many(&pool, &mut [(&a, &mut oa), (&b, &mut ob)], &mut x);
    assert_eq!(oa, ob);
}

#[test]
fn only_some_types_with_whole_groups_of_rows_interleave() {
    let q5 = random_row(DType::Q5_K, 8 * 256, 1);
    let mut dst = vec![0u8; q5.len()];
    assert_eq!(
        QMatrix::interleave(DType::Q5_K, 8, 256, &q5, &mut dst),
        Err(MatrixError::NotInterleavable { dtype: DType::Q5_K, rows: 8 })
    );
    let q4 = random_row(DType::Q4_K, 12 * 256, 1);
    let mut dst = vec![0u8; q4.len() * 2];
    assert_eq!(
        QMatrix::interleave(DType::Q4_K, 12, 256, &q4, &mut dst),
        Err(MatrixError::NotInterleavable { dtype: DType::Q4_K, rows: 12 })
    );
    assert!(QMatrix::interleaved(DType::Q4_K, 12, 256, &q4).is_err());
    // The 32-element types group 16 rows: 8 are not a whole group.
    for dt in [DType::Q4_1, DType::Q5_0, DType::Q8_0] {
        let w = random_row(dt, 8 * 32, 1);
        let mut dst = vec![0u8; w.len()];
        assert_eq!(
            QMatrix::interleave(dt, 8, 32, &w, &mut dst),
            Err(MatrixError::NotInterleavable { dtype: dt, rows: 8 })
        );
        assert!(!QMatrix::can_interleave(dt, 24) && QMatrix::can_interleave(dt, 48));
    }
    let q4 = random_row(DType::Q4_K, 16 * 256, 1);
    let mut short = vec![0u8; q4.len()];
    assert_eq!(
        QMatrix::interleave(DType::Q4_K, 16, 256, &q4, &mut short),
        Err(MatrixError::WrongSize {
            dtype: DType::Q4_K,
            rows: 16,
            cols: 256,
            expected: Some(2 * 1184),
            got: 16 * 144
        })
    );
    assert!(QMatrix::interleaved(DType::Q4_K, 16, 256, &short).is_err());
}
