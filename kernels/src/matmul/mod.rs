//! Quantized matrix products: the one entry point behind which weight layouts may change.
//!
//! - [`QMatrix`]: a `rows × cols` weight view borrowed from the model mapping, checked once.
//! - [`Activations`]: the `n × cols` f32 input, quantized lazily per vec-dot type and cached.
//! - [`matmul`]: `out[t·rows + r] = Σ_k x[t, k] · W[r, k]` (token-major output); `n = 1` is
//!   the decode mat-vec.
//! - [`matmul_many`]: several weights sharing one input (Q/K/V, gate/up) in one dispatch.
//!
//! ```
//! use hearth_kernels::{Activations, DType, QMatrix, ThreadPool, matmul, testing};
//!
//! let (rows, cols) = (64, 256);
//! let bytes = testing::random_row(DType::Q4_K, rows * cols, 1);
//! let w = QMatrix::new(DType::Q4_K, rows, cols, &bytes)?;
//! let pool = ThreadPool::new(2);
//! let mut x = Activations::new();
//! x.fill(3, cols).iter_mut().enumerate().for_each(|(i, v)| *v = (i as f32 * 0.1).sin());
//! let mut out = vec![0.0; 3 * rows];
//! matmul(&pool, &w, &mut x, &mut out);
//! # Ok::<(), hearth_kernels::MatrixError>(())
//! ```
//!
//! How the work is split: the rows of every matrix in a call are cut into chunks (a
//! multiple of 16 rows, ~4 chunks per thread, at most 64 rows, and capped so a chunk's
//! weights stay in L2 when they are reused across tokens); threads start on chunk `ith` and then claim
//! chunks from a shared atomic counter, so a thread that finishes early takes over work
//! instead of waiting. Within a chunk, the table's kernels for the weight type decide:
//! - batches of at least 16 tokens, where the table has a GEMM (AVX2, AVX2+VNNI): the
//!   thread repacks its rows once into strips of 8 interleaved rows and multiplies them
//!   with 32 tokens at a time in register tiles of 8 rows × 4 tokens;
//! - otherwise, where the table has a multi-row kernel (`MatFn`: AVX2, and NEON, which has
//!   no GEMM and so uses it for prefill too): 8 tokens at a time, each weight block unpacked
//!   once for all of them, on the file's row-major layout;
//! - otherwise (scalar): each weight row dotted with 8 tokens while it is hot in L1,
//!   so a weight row is read from memory once per 8 tokens.
//!
//! A matrix in the interleaved layout ([`QMatrix::interleaved`]: Q4_K/Q6_K 8 rows per block,
//! Q4_1/Q5_0/Q8_0 16, repacked at load where the table reads it) goes to the table's `mat_x8`
//! kernel for batches below the table's `x8_gemm_min_tokens` (AVX2: the GEMM's 16; AVX-512,
//! whose VNNI `mat_x8` kernels beat its GEMM: 48 tokens for Q6_K, never for the others — see
//! `x8_gemm_min_tokens_avx512`); for the GEMM, or a
//! table without that kernel, each chunk's groups are first taken apart into a per-thread
//! buffer in the file's layout.
//!
//! All three compute a (row, token) result with the same arithmetic as the table's row dot,
//! so a token's output does not depend on the batch it is in.

mod activations;
mod interleave;
mod qmatrix;

use std::sync::atomic::{AtomicUsize, Ordering};

pub use activations::Activations;
pub(crate) use interleave::group_rows;
pub use qmatrix::{MatrixError, QMatrix};

use crate::dispatch::{GemmKernels, MatFn, XBatch};
use crate::out_tile::OutTile;
use crate::{DType, Kernels, ThreadPool, VecDotFn};

/// Tokens processed together against one hot weight row.
const TOKEN_BLOCK: usize = 8;
/// Most rows in one work chunk of a batch of more than [`TOKEN_BLOCK`] tokens (the GEMM's output tile).
const MAX_CHUNK_ROWS: usize = 64;
/// Most rows in one work chunk of a single-token product.
const MAX_DECODE_CHUNK_ROWS: usize = 1024;
/// Weight bytes per chunk when the chunk is reused across several token blocks.
const CHUNK_BYTES_REUSED: usize = 128 * 1024;
/// Matrices handled by one dispatch of [`matmul_many`]; longer lists take several.
const MAX_GROUP: usize = 8;
/// Batches at least this large use the repacking GEMM where the table has one.
const GEMM_MIN_TOKENS: usize = 16;
/// Batches at least this large use the GEMM on a matrix in the interleaved layout, on a table
/// whose `mat_x8` kernels are for decode and small batches (AVX2's Q4_K: 4 tokens per pass,
/// no VNNI), as on the file's layout: the rows are taken apart first, a copy per chunk.
pub(crate) fn x8_gemm_min_tokens(_: DType) -> usize {
    GEMM_MIN_TOKENS
}

/// The AVX-512 table's [`x8_gemm_min_tokens`]: its `mat_x8` kernels (VNNI, 8 tokens per pass
/// for Q4_K) beat the GEMM, which must first take the rows apart, on every batch but Q6_K's
/// large ones. Measured with
/// `cargo bench --bench kernels -- matmul_flop` (AVX-512 on a Sapphire Rapids VM, 2 threads,
/// 4096×4096; Q5_0 896×4864), `mat_x8` on the interleaved layout against the GEMM on the
/// file's (its best case): Q4_K 1.96 vs 2.71 ms at 32 tokens, 31.6 vs 36.9 ms at 512; Q5_0
/// 0.68 vs 0.95 ms and 10.8 vs 12.2 ms; Q8_0 ahead at every size (0.85x at 512); Q6_K about
/// even at 32 tokens (3.49 vs 3.34 ms) and far behind at 512 (57.2 vs 40.9 ms). Q4_1, on
/// SmolLM2-135M's prefill (`hearth bench -p 32` / `-p 512`, 2 threads, a 2.1 GHz Xeon VM):
/// 718–916 vs 390–506 t/s at 32 tokens, 536–626 vs 421–468 at 512.
#[cfg(target_arch = "x86_64")]
pub(crate) fn x8_gemm_min_tokens_avx512(dt: DType) -> usize {
    match dt {
        DType::Q6_K => 48,
        DType::Q4_K | DType::Q4_1 | DType::Q5_0 | DType::Q8_0 => usize::MAX,
        _ => GEMM_MIN_TOKENS,
    }
}

/// Tokens per GEMM call (one output tile).
const GEMM_TOKEN_BLOCK: usize = 32;

thread_local! {
    /// Each thread's buffer for the rows it repacks (grows to the largest chunk, then reused).
    static PACKED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Each thread's buffer for interleaved rows taken apart for a kernel that reads the
    /// file's layout.
    static ROW_MAJOR: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A raw pointer that may cross threads; every use states why its accesses are disjoint.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr<T>(pub(crate) *mut T);

impl<T> SendPtr<T> {
    /// The pointer (a method, so closures capture the whole `Sync` wrapper, not the field).
    #[inline]
    pub(crate) fn get(self) -> *mut T {
        self.0
    }
}

// SAFETY: `SendPtr` is only used to let pool threads write disjoint parts of one buffer that
// outlives the dispatch; each use documents the disjointness.
unsafe impl<T> Send for SendPtr<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for SendPtr<T> {}

/// `out = x · Wᵀ`: `out[t * w.rows() + r] = Σ_k x[t, k] · W[r, k]` for the `x.n()` tokens,
/// with the process-wide kernels ([`crate::kernels()`]) on all threads of `pool`.
///
/// # Panics
/// If `x.cols() != w.cols()` or `out.len() != x.n() * w.rows()`.
pub fn matmul(pool: &ThreadPool, w: &QMatrix<'_>, x: &mut Activations, out: &mut [f32]) {
    matmul_with(crate::kernels(), pool, w, x, out);
}

/// [`matmul`] with a specific kernel table (benchmarks compare `Kernels::scalar()` with
/// `Kernels::best()`).
///
/// # Panics
/// As [`matmul`].
pub fn matmul_with(
    k: &'static Kernels,
    pool: &ThreadPool,
    w: &QMatrix<'_>,
    x: &mut Activations,
    out: &mut [f32],
) {
    matmul_many_with(k, pool, &mut [(w, out)], x);
}

/// Several products sharing one input (`[(W_q, q), (W_k, k), (W_v, v)]`) in one pool
/// dispatch: one barrier instead of three, and the input quantized once per vec-dot type.
///
/// # Panics
/// If a matrix's `cols` differs from `x.cols()` or an output is not `x.n() × rows` long.
pub fn matmul_many(pool: &ThreadPool, jobs: &mut [(&QMatrix<'_>, &mut [f32])], x: &mut Activations) {
    matmul_many_with(crate::kernels(), pool, jobs, x);
}

/// [`matmul_many`] with a specific kernel table.
///
/// # Panics
/// As [`matmul_many`].
pub fn matmul_many_with(
    k: &'static Kernels,
    pool: &ThreadPool,
    jobs: &mut [(&QMatrix<'_>, &mut [f32])],
    x: &mut Activations,
) {
    let n = x.n();
    for (w, out) in jobs.iter() {
        assert_eq!(
            w.cols(),
            x.cols(),
            "matmul: {}×{} {} weights with inputs of {} columns",
            w.rows(),
            w.cols(),
            w.dtype(),
            x.cols()
        );
        assert_eq!(out.len(), n * w.rows(), "matmul: output length for {n} tokens × {} rows", w.rows());
    }
    if n == 0 {
        return;
    }
    for (w, _) in jobs.iter() {
        x.prepare(k, pool, w.dtype().vec_dot_type());
    }
    for group in jobs.chunks_mut(MAX_GROUP) {
        run_group(k, pool, group, x);
    }
}

/// One matrix of a dispatch.
#[derive(Clone, Copy)]
struct Part<'a> {
    w: QMatrix<'a>,
    dot: VecDotFn,
    /// The table's multi-row kernel for this type, if any.
    mat: Option<MatFn>,
    /// The table's repacking GEMM for this type, if any.
    gemm: Option<GemmKernels>,
    /// The table's kernel of interleaved rows, if any and the matrix is interleaved.
    mat_x8: Option<MatFn>,
    /// From how many tokens the GEMM replaces `mat_x8` (`Kernels::x8_gemm_min_tokens`).
    x8_gemm_min_tokens: usize,
    /// The input in this matrix's vec-dot type.
    x: XBatch<'a>,
    out: SendPtr<f32>,
    chunk_rows: usize,
    /// Index of this matrix's first chunk among all chunks of the dispatch.
    first_chunk: usize,
}

impl Part<'_> {
    /// Tokens `t0..t1` × rows `r0..r1` of this matrix's `n × rows` output.
    ///
    /// # Safety
    /// Rows `r0..r1` must lie in a chunk the calling thread runs, and no other tile of those
    /// rows may be alive (chunks partition the rows, and each is run by one thread).
    unsafe fn out_tile(&self, t0: usize, t1: usize, r0: usize, r1: usize) -> OutTile<'_> {
        let rows = self.w.rows();
        assert!(t0 <= t1 && t1 <= self.x.n && r0 <= r1 && r1 <= rows, "output tile out of the product");
        // SAFETY: `out` points to the `n × rows` output, borrowed mutably for the whole
        // dispatch (`matmul_many_with`); the runs `t · rows + r0 .. + (r1 - r0)` for
        // `t0 <= t < t1` lie inside it (asserted), and by this fn's contract only this
        // thread, through this tile alone, touches rows `r0..r1` while the tile lives.
        unsafe { OutTile::from_raw(self.out.get().wrapping_add(t0 * rows + r0), r1 - r0, rows, t1 - t0) }
    }
}

fn run_group(
    k: &'static Kernels,
    pool: &ThreadPool,
    group: &mut [(&QMatrix<'_>, &mut [f32])],
    x: &Activations,
) {
    let n = x.n();
    let nth = pool.n_threads();
    let empty = Part {
        w: *group[0].0,
        dot: |_, _, _| 0.0,
        mat: None,
        gemm: None,
        mat_x8: None,
        x8_gemm_min_tokens: GEMM_MIN_TOKENS,
        x: x.batch(DType::F32),
        out: SendPtr(std::ptr::null_mut()),
        chunk_rows: 1,
        first_chunk: 0,
    };
    let mut parts = [empty; MAX_GROUP];
    let mut total = 0;
    for (part, (w, out)) in parts.iter_mut().zip(group.iter_mut()) {
        let vdt = w.dtype().vec_dot_type();
        let chunk_rows = chunk_rows(w, n, nth);
        *part = Part {
            w: **w,
            dot: k.vec_dot_fn(w.dtype()).unwrap_or_else(|e| panic!("{e}")),
            mat: k.mat_fn(w.dtype()),
            gemm: k.gemm_kernels(w.dtype()),
            mat_x8: k.mat_x8_fn(w.dtype()).filter(|_| w.is_interleaved()),
            x8_gemm_min_tokens: k.x8_gemm_min_tokens(w.dtype()),
            x: x.batch(vdt),
            out: SendPtr(out.as_mut_ptr()),
            chunk_rows,
            first_chunk: total,
        };
        total += w.rows().div_ceil(chunk_rows);
    }
    let parts = &parts[..group.len()];
    if total == 0 {
        return;
    }

    let next = AtomicUsize::new(nth);
    pool.run(&|ith, _| {
        let mut chunk = ith;
        while chunk < total {
            // The last part whose first chunk is <= chunk owns it.
            let part = parts.iter().rev().find(|p| p.first_chunk <= chunk).unwrap_or(&parts[0]);
            let r0 = (chunk - part.first_chunk) * part.chunk_rows;
            let r1 = (r0 + part.chunk_rows).min(part.w.rows());
            run_chunk(part, n, r0, r1);
            chunk = next.fetch_add(1, Ordering::Relaxed);
        }
    });
}

/// Rows per work chunk for `w` with `n` tokens on `nth` threads.
fn chunk_rows(w: &QMatrix<'_>, n: usize, nth: usize) -> usize {
    let rows = w.rows().max(1);
    if n <= TOKEN_BLOCK {
        // Decode, and the small batches of batched and speculative decode (one token block:
        // each weight is read once, whatever the chunk), stream the weights: a few large
        // chunks per thread (long sequential reads, fewer claims of the shared counter),
        // still several so a thread that finishes early takes over.
        return rows.div_ceil(4 * nth).clamp(16, MAX_DECODE_CHUNK_ROWS).next_multiple_of(16);
    }
    let mut cap = MAX_CHUNK_ROWS;
    if n > TOKEN_BLOCK {
        let row_bytes = (w.n_bytes() / rows).max(1);
        cap = cap.min(CHUNK_BYTES_REUSED / row_bytes);
    }
    let balanced = rows.div_ceil(4 * nth);
    // A multiple of 16 rows: chunk boundaries fall on 64-byte lines of the output (no
    // false sharing between threads), and multi-row kernels (4 or 8 rows) tile it evenly.
    balanced.min(cap).max(16).next_multiple_of(16)
}

/// Computes rows `r0..r1` of one matrix for all `n` tokens.
fn run_chunk(p: &Part<'_>, n: usize, r0: usize, r1: usize) {
    let gemm = p.gemm.filter(|_| n >= GEMM_MIN_TOKENS);
    if !p.w.is_interleaved() {
        return run_chunk_on(p, p.w.stored_rows(r0, r1), gemm, n, r0, r1);
    }
    let gemm = gemm.filter(|_| p.mat_x8.is_none() || n >= p.x8_gemm_min_tokens);
    match (gemm, p.mat_x8) {
        (None, Some(x8)) => run_chunk_mat(p, x8, p.w.stored_rows(r0, r1), n, r0, r1),
        // The GEMM (prefill), or a table without the interleaved kernel: the rows taken
        // apart into the file's layout first (a copy per chunk, small next to the work).
        _ => ROW_MAJOR.with_borrow_mut(|buf| {
            p.w.row_major(r0, r1, buf);
            run_chunk_on(p, buf, gemm, n, r0, r1)
        }),
    }
}

/// [`run_chunk`] on `w`, rows `r0..r1` in the file's layout.
fn run_chunk_on(p: &Part<'_>, w: &[u8], gemm: Option<GemmKernels>, n: usize, r0: usize, r1: usize) {
    match (gemm, p.mat) {
        (Some(g), _) => run_chunk_gemm(p, g, w, n, r0, r1),
        (_, Some(mat)) => run_chunk_mat(p, mat, w, n, r0, r1),
        _ => run_chunk_rows(p, w, n, r0, r1),
    }
}

/// [`run_chunk`] with the repacking GEMM: this thread packs rows `r0..r1` (`w`) once into its
/// own buffer, then multiplies them with the tokens, a tile at a time.
fn run_chunk_gemm(p: &Part<'_>, g: GemmKernels, w: &[u8], n: usize, r0: usize, r1: usize) {
    let cols = p.w.cols();
    let nr = r1 - r0;
    PACKED.with_borrow_mut(|buf| {
        let len = (g.packed_bytes)(nr, cols);
        if buf.len() < len {
            buf.resize(len, 0);
        }
        let packed = &mut buf[..len];
        (g.pack)(cols, w, packed);
        for t0 in (0..n).step_by(GEMM_TOKEN_BLOCK) {
            let t1 = (t0 + GEMM_TOKEN_BLOCK).min(n);
            // SAFETY: rows r0..r1 are this thread's chunk; the tile dies with this iteration.
            let mut out = unsafe { p.out_tile(t0, t1, r0, r1) };
            (g.gemm)(cols, nr, packed, &p.x, t0, t1, &mut out);
        }
    });
}

/// [`run_chunk`] with a multi-row kernel on rows `r0..r1` (`w`, in the layout `mat` reads),
/// tokens 8 at a time, each call storing into the output in place.
fn run_chunk_mat(p: &Part<'_>, mat: MatFn, w: &[u8], n: usize, r0: usize, r1: usize) {
    let cols = p.w.cols();
    let nr = r1 - r0;
    if n == 1 {
        // SAFETY: rows r0..r1 are this thread's chunk; the tile dies with this call.
        mat(cols, w, &p.x, 0, 1, &mut unsafe { p.out_tile(0, 1, r0, r1) });
        return;
    }
    // The kernel takes the tokens in groups (of 4 or 8, then 2 and 1): each group reads the
    // rows again, so it is given slices of rows that stay in cache from one group to the
    // next (`w`'s bytes are proportional to its rows, in either layout: a slice starts on a
    // multiple of 16 rows). 2 and 4 tokens are one group in every kernel: the whole chunk
    // (slices would only repeat the kernel's set-up: 4 sequences on the 3B shape 35.4 vs 36.9 t/s).
    let bytes_per_row = (w.len() / nr).max(1);
    let slice = if n == 2 || n == 4 {
        nr
    } else {
        (CHUNK_BYTES_REUSED / bytes_per_row).clamp(16, nr.next_multiple_of(16)) / 16 * 16
    };
    for s0 in (r0..r1).step_by(slice) {
        let s1 = (s0 + slice).min(r1);
        let ws = &w[(s0 - r0) * w.len() / nr..(s1 - r0) * w.len() / nr];
        for t0 in (0..n).step_by(TOKEN_BLOCK) {
            let t1 = (t0 + TOKEN_BLOCK).min(n);
            // SAFETY: rows s0..s1 lie in this thread's chunk r0..r1; the tile dies with the call.
            mat(cols, ws, &p.x, t0, t1, &mut unsafe { p.out_tile(t0, t1, s0, s1) });
        }
    }
}

/// [`run_chunk`] with the row dot on rows `r0..r1` (`w`, row-major): each weight row against
/// up to 8 tokens while it is hot.
fn run_chunk_rows(p: &Part<'_>, w: &[u8], n: usize, r0: usize, r1: usize) {
    let (rows, cols) = (p.w.rows(), p.w.cols());
    let xrb = p.x.row_bytes;
    let wrb = w.len() / (r1 - r0);
    for t0 in (0..n).step_by(TOKEN_BLOCK) {
        let t1 = (t0 + TOKEN_BLOCK).min(n);
        for r in r0..r1 {
            let wr = &w[(r - r0) * wrb..(r - r0 + 1) * wrb];
            for t in t0..t1 {
                let xr = &p.x.bytes[t * xrb..(t + 1) * xrb];
                let v = (p.dot)(cols, wr, xr);
                // SAFETY: `out` points to an `n × rows` buffer borrowed mutably for the whole
                // dispatch; t < n and r < rows keep the index in bounds, and each (t, r) is
                // written by exactly one thread (chunks partition the rows).
                unsafe { *p.out.get().add(t * rows + r) = v };
            }
        }
    }
}

/// The weight types [`matmul`] accepts: those with a dot-product kernel.
pub fn supported_weight_types() -> impl Iterator<Item = DType> {
    DType::ALL.into_iter().filter(|&dt| Kernels::scalar().vec_dot_fn(dt).is_ok())
}
