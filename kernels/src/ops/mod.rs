//! f32 operations of a transformer forward pass, with llama.cpp's CPU semantics.
//!
//! Every op has a scalar twin (`arch/scalar/ops.rs`, compiled everywhere) and, where it
//! pays, an AVX2 (x86_64) or NEON (aarch64) version in its instruction set's folder. The ops
//! are part of each [`Kernels`](crate::Kernels) table
//! ([`Kernels::ops`](crate::Kernels::ops)), so the table [`crate::kernels()`] chose
//! (`HEARTH_KERNELS=...` included) selects both; [`ops()`] is its ops, which the free
//! functions ([`rmsnorm`], [`softmax`], [`swiglu`], ...) use.
//!
//! Semantics follow `ggml-cpu` (`ops.cpp`, `vec.h`, `vec.cpp`):
//! - [`rmsnorm`]: sum of squares accumulated in f64 in element order, `scale = 1/sqrtf(mean + eps)`,
//!   `out = x * scale * w`.
//! - [`layernorm`]: mean and variance accumulated in f64, `out = (x - mean) * scale * w + b`.
//! - [`softmax`]: max-subtracted, exponentials summed in f64, then scaled by `(f32)(1/sum)`.
//! - [`silu`], [`swiglu`]: the AVX2/NEON paths use ggml's vector `expf` approximation
//!   (≤ 1.5 ulp) on full vectors and libm `expf` on the tail, as ggml does; the scalar twin
//!   uses libm `expf` throughout.
//! - [`gelu`], [`geglu`]: ggml's tanh approximation through its f16 lookup table
//!   (`GGML_GELU_FP16`): the input is rounded to f16, the table holds f16 results, inputs
//!   ≤ -10 give 0 and ≥ 10 pass through. Bit-identical on every path.
//! - f16 helpers for the KV cache ([`f32_to_f16_row`], [`dot_f32_f16`], [`axpy_f16`], ...)
//!   round to nearest even (F16C / `fcvt`).
//!
//! RoPE lives in [`rope`]: [`RopeParams`], [`RopeCache`].

pub(crate) mod gelu;
pub mod rope;

pub use rope::{RopeCache, RopeMode, RopeParams};

/// `(q, n_q, keys, stride, scale, out)`: [`Ops::scores_f16_widened`].
pub(crate) type ScoresFn = fn(&[f32], usize, &[f32], usize, f32, &mut [f32]);

/// The f32 op kernels of one instruction set, part of its [`Kernels`](crate::Kernels) table
/// ([`Kernels::ops`](crate::Kernels::ops)). Methods check shapes with `assert!`.
#[derive(Clone, Copy)]
pub struct Ops {
    pub(crate) name: &'static str,
    /// `out[i] = x[i] * scale * w[i]`.
    pub(crate) scale_mul: fn(&[f32], f32, &[f32], &mut [f32]),
    /// `out[i] = x[i] - mean`; returns Σ (x[i] - mean)² / n in f64 (ggml's `cvar`).
    pub(crate) cvar: fn(&[f32], f32, &mut [f32]) -> f64,
    /// `x[i] = exp(x[i] - max)`; returns the f64 sum.
    pub(crate) exp_sum: fn(&mut [f32], f32) -> f64,
    pub(crate) silu: fn(&[f32], &mut [f32]),
    pub(crate) swiglu: fn(&[f32], &[f32], &mut [f32]),
    pub(crate) gelu: fn(&[f32], &mut [f32]),
    pub(crate) geglu: fn(&[f32], &[f32], &mut [f32]),
    pub(crate) add: fn(&mut [f32], &[f32]),
    pub(crate) mul: fn(&mut [f32], &[f32]),
    pub(crate) scale: fn(&mut [f32], f32),
    pub(crate) f32_to_f16: fn(&[f32], &mut [u16]),
    pub(crate) f16_to_f32: fn(&[u16], &mut [f32]),
    pub(crate) dot_f32_f16: fn(&[f32], &[u16]) -> f32,
    pub(crate) dot_f16: fn(&[u16], &[u16]) -> f32,
    pub(crate) axpy_f16: fn(&mut [f32], f32, &[u16]),
    /// `out = Σ_j w[j] · rows[j · stride..][..out.len()]`, as `out.fill(0)` then `axpy_f16`
    /// per row in order, bit for bit.
    pub(crate) weighted_sum_f16: fn(&mut [f32], &[f32], &[u16], usize),
    /// `n_q` queries' scores against keys, on f16 values already widened to f32, bit for bit
    /// `dot_f16 · scale` on their f16 bits.
    pub(crate) scores_f16_widened: ScoresFn,
    /// `n_q` weighted sums of value rows widened to f32, bit for bit `weighted_sum_f16`.
    pub(crate) weighted_sum_f16_widened: fn(&mut [f32], usize, &[f32], &[f32], usize),
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops").field("name", &self.name).finish_non_exhaustive()
    }
}

/// The op table of the kernel table chosen for this process ([`crate::kernels()`]: the best
/// available, or `HEARTH_KERNELS=...`), so one switch selects every kernel path.
pub fn ops() -> &'static Ops {
    crate::kernels().ops()
}

/// Rows whose sums of squares [`Ops::rmsnorm_rows`] runs side by side: enough independent
/// f64 adds in flight to keep two adders busy at a latency of 3–4 cycles.
pub const NORM_ROWS: usize = 8;

/// The f64 sums of the f32 squares of `R` rows of `d` (`xs`), each in element order, the
/// rows' chains side by side.
fn sums_of_squares<const R: usize>(xs: &[f32], d: usize) -> [f64; R] {
    let rows: [&[f32]; R] = std::array::from_fn(|k| &xs[k * d..][..d]);
    let mut sums = [0.0f64; R];
    for i in 0..d {
        for (sum, row) in sums.iter_mut().zip(&rows) {
            *sum += f64::from(row[i] * row[i]);
        }
    }
    sums
}

impl Ops {
    /// The instruction set the ops are written for: `"scalar"`, `"avx2"` (also in the
    /// `avx2-vnni` table), `"avx512"` (the AVX2 ops with 512-bit attention kernels, in the
    /// `avx512` table) or `"neon"` (also in `neon-dotprod`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// RMS norm: `out = x / sqrt(mean(x²) + eps) * weight` (llama, qwen2, gemma).
    pub fn rmsnorm(&self, x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
        assert_eq!(weight.len(), x.len(), "rmsnorm: weight length");
        assert_eq!(out.len(), x.len(), "rmsnorm: out length");
        if x.is_empty() {
            return;
        }
        self.rmsnorm_rows(x, weight, eps, out);
    }

    /// [`Ops::rmsnorm`] of each `weight.len()`-wide row of `x` into the same row of `out`.
    /// A row's sum of squares is ggml's: the f32 squares summed in f64 in element order (no
    /// SIMD, kept for parity), a chain of dependent adds that one row alone runs at the
    /// adder's latency; here the chains of up to [`NORM_ROWS`] rows advance together, element
    /// by element, which changes no row's arithmetic (a prefill's norms, one row per token).
    pub fn rmsnorm_rows(&self, x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
        let d = weight.len();
        assert!(d > 0 && x.len().is_multiple_of(d), "rmsnorm_rows: x is not whole rows of the weight");
        assert_eq!(out.len(), x.len(), "rmsnorm_rows: out length");
        let mut r0 = 0;
        while r0 * d < x.len() {
            // The rows left, NORM_ROWS at a time, then 4, 2, 1.
            let rows = (x.len() / d - r0).min(NORM_ROWS);
            let take = if rows == NORM_ROWS { NORM_ROWS } else { 1 << rows.ilog2() };
            let xs = &x[r0 * d..][..take * d];
            let mut sums = [0.0f64; NORM_ROWS];
            match take {
                NORM_ROWS => sums = sums_of_squares::<NORM_ROWS>(xs, d),
                4 => sums[..4].copy_from_slice(&sums_of_squares::<4>(xs, d)),
                2 => sums[..2].copy_from_slice(&sums_of_squares::<2>(xs, d)),
                _ => sums[0] = sums_of_squares::<1>(xs, d)[0],
            }
            let os = &mut out[r0 * d..][..take * d];
            for ((sum, xr), or) in sums.iter().zip(xs.chunks_exact(d)).zip(os.chunks_exact_mut(d)) {
                let mean = (sum / d as f64) as f32;
                let scale = 1.0 / (mean + eps).sqrt();
                (self.scale_mul)(xr, scale, weight, or);
            }
            r0 += take;
        }
    }

    /// Layer norm: `out = (x - mean) / sqrt(var + eps) * weight + bias` (BERT).
    pub fn layernorm(&self, x: &[f32], weight: &[f32], bias: &[f32], eps: f32, out: &mut [f32]) {
        assert_eq!(weight.len(), x.len(), "layernorm: weight length");
        assert_eq!(bias.len(), x.len(), "layernorm: bias length");
        assert_eq!(out.len(), x.len(), "layernorm: out length");
        if x.is_empty() {
            return;
        }
        let sum: f64 = x.iter().map(|&v| f64::from(v)).sum();
        let mean = (sum as f32) / x.len() as f32;
        let variance = (self.cvar)(x, mean, out) as f32;
        let scale = 1.0 / (variance + eps).sqrt();
        // ggml: norm (y *= scale), then mul by weight, then add bias, each rounded.
        (self.scale)(out, scale);
        (self.mul)(out, weight);
        (self.add)(out, bias);
    }

    /// Softmax in place, max-subtracted. An empty slice is left as is.
    pub fn softmax(&self, x: &mut [f32]) {
        if x.is_empty() {
            return;
        }
        let mut max = f32::NEG_INFINITY;
        for &v in x.iter() {
            if v > max {
                max = v;
            }
        }
        let sum = (self.exp_sum)(x, max);
        (self.scale)(x, (1.0 / sum) as f32);
    }

    /// `out = x * sigmoid(x)`.
    pub fn silu(&self, x: &[f32], out: &mut [f32]) {
        assert_eq!(out.len(), x.len(), "silu: out length");
        (self.silu)(x, out);
    }

    /// `out = silu(gate) * up` (llama/qwen2 FFN).
    pub fn swiglu(&self, gate: &[f32], up: &[f32], out: &mut [f32]) {
        assert_eq!(up.len(), gate.len(), "swiglu: up length");
        assert_eq!(out.len(), gate.len(), "swiglu: out length");
        (self.swiglu)(gate, up, out);
    }

    /// ggml's tanh-approximated GELU through its f16 table (see the module docs).
    pub fn gelu(&self, x: &[f32], out: &mut [f32]) {
        assert_eq!(out.len(), x.len(), "gelu: out length");
        (self.gelu)(x, out);
    }

    /// `out = gelu(gate) * up` (Gemma FFN).
    pub fn geglu(&self, gate: &[f32], up: &[f32], out: &mut [f32]) {
        assert_eq!(up.len(), gate.len(), "geglu: up length");
        assert_eq!(out.len(), gate.len(), "geglu: out length");
        (self.geglu)(gate, up, out);
    }

    /// `x += y`.
    pub fn add(&self, x: &mut [f32], y: &[f32]) {
        assert_eq!(y.len(), x.len(), "add: length");
        (self.add)(x, y);
    }

    /// `x *= y`, element-wise.
    pub fn mul(&self, x: &mut [f32], y: &[f32]) {
        assert_eq!(y.len(), x.len(), "mul: length");
        (self.mul)(x, y);
    }

    /// `x *= s`.
    pub fn scale(&self, x: &mut [f32], s: f32) {
        (self.scale)(x, s);
    }

    /// f32 → f16 bits, round to nearest even.
    pub fn f32_to_f16_row(&self, src: &[f32], dst: &mut [u16]) {
        assert_eq!(dst.len(), src.len(), "f32_to_f16_row: length");
        (self.f32_to_f16)(src, dst);
    }

    /// f16 bits → f32 (exact).
    pub fn f16_to_f32_row(&self, src: &[u16], dst: &mut [f32]) {
        assert_eq!(dst.len(), src.len(), "f16_to_f32_row: length");
        (self.f16_to_f32)(src, dst);
    }

    /// `Σ q[i] · k[i]` with `k` in f16, accumulated in f32.
    pub fn dot_f32_f16(&self, q: &[f32], k: &[u16]) -> f32 {
        assert_eq!(k.len(), q.len(), "dot_f32_f16: length");
        (self.dot_f32_f16)(q, k)
    }

    /// `Σ a[i] · b[i]` over two f16 rows, as ggml's `ggml_vec_dot_f16` (what llama.cpp uses
    /// for Q·K with an f16 cache, after rounding Q to f16).
    pub fn dot_f16(&self, a: &[u16], b: &[u16]) -> f32 {
        assert_eq!(b.len(), a.len(), "dot_f16: length");
        (self.dot_f16)(a, b)
    }

    /// `acc += a · v` with `v` in f16 (attention's weighted sum of values).
    pub fn axpy_f16(&self, acc: &mut [f32], a: f32, v: &[u16]) {
        assert_eq!(v.len(), acc.len(), "axpy_f16: length");
        (self.axpy_f16)(acc, a, v);
    }

    /// `out = Σ_j w[j] · v_j` over the f16 rows `v_j = rows[j · stride..][..out.len()]`
    /// (attention's weighted sum of the values, one row per cached position): bit for bit
    /// `out.fill(0.0)` then [`axpy_f16`](Self::axpy_f16)`(out, w[j], v_j)` for each `j` in
    /// order, with the partial sums kept in registers instead of reloaded per row.
    pub fn weighted_sum_f16(&self, out: &mut [f32], w: &[f32], rows: &[u16], stride: usize) {
        if let Some(last) = w.len().checked_sub(1) {
            assert!(stride >= out.len(), "weighted_sum_f16: stride {stride} < row length {}", out.len());
            assert!(
                rows.len() >= last * stride + out.len(),
                "weighted_sum_f16: {} rows of stride {stride} need {} values, have {}",
                w.len(),
                last * stride + out.len(),
                rows.len()
            );
        }
        (self.weighted_sum_f16)(out, w, rows, stride);
    }

    /// Attention scores of `n_q` queries against keys already widened from f16: with
    /// `hd = q.len() / n_q` and `n = out.len() / n_q` keys, `out[r · n + j] = dot_f16(q_r,
    /// k_j) · scale` for the query rows `q_r = q[r · hd..][..hd]` and `k_j = keys[j ·
    /// stride..][..hd]`, where `q` and `keys` hold f16 values converted to f32
    /// ([`f16_to_f32_row`](Self::f16_to_f32_row), exact). Bit for bit
    /// [`dot_f16`](Self::dot_f16) on their f16 bits, times `scale`, so a caller that widens a
    /// cache once (prefill: many queries over the same keys) gets the f16 path's scores
    /// without converting each key again per query, and the queries of one kv head (GQA)
    /// share each key load.
    pub fn scores_f16_widened(
        &self,
        q: &[f32],
        n_q: usize,
        keys: &[f32],
        stride: usize,
        scale: f32,
        out: &mut [f32],
    ) {
        let (hd, n) = split_queries("scores_f16_widened", q.len(), out.len(), n_q);
        if let Some(last) = n.checked_sub(1) {
            assert!(stride >= hd, "scores_f16_widened: stride {stride} < row length {hd}");
            assert!(
                keys.len() >= last * stride + hd,
                "scores_f16_widened: {n} keys of stride {stride} need {} values, have {}",
                last * stride + hd,
                keys.len()
            );
        }
        (self.scores_f16_widened)(q, n_q, keys, stride, scale, out);
    }

    /// [`weighted_sum_f16`](Self::weighted_sum_f16) of `n_q` queries over the same value
    /// rows, already widened from f16 to f32 (exact): with `hd = out.len() / n_q` and `n =
    /// w.len() / n_q` rows, `out[r · hd..][..hd]` is bit for bit `weighted_sum_f16` with
    /// the weights `w[r · n..][..n]`.
    pub fn weighted_sum_f16_widened(
        &self,
        out: &mut [f32],
        n_q: usize,
        w: &[f32],
        rows: &[f32],
        stride: usize,
    ) {
        let (hd, n) = split_queries("weighted_sum_f16_widened", out.len(), w.len(), n_q);
        if let Some(last) = n.checked_sub(1) {
            assert!(stride >= hd, "weighted_sum_f16_widened: stride {stride} < row length {hd}");
            assert!(
                rows.len() >= last * stride + hd,
                "weighted_sum_f16_widened: {n} rows of stride {stride} need {} values, have {}",
                last * stride + hd,
                rows.len()
            );
        }
        (self.weighted_sum_f16_widened)(out, n_q, w, rows, stride);
    }
}

/// `(a / n_q, b / n_q)` for two lengths that must both split into `n_q` equal rows.
#[track_caller]
fn split_queries(what: &str, a: usize, b: usize, n_q: usize) -> (usize, usize) {
    if n_q == 0 {
        assert!(a == 0 && b == 0, "{what}: no queries but {a} and {b} values");
        return (0, 0);
    }
    assert!(
        a.is_multiple_of(n_q) && b.is_multiple_of(n_q),
        "{what}: {a} and {b} values do not split into {n_q} queries"
    );
    (a / n_q, b / n_q)
}

/// [`Ops::rmsnorm`] with the process-wide table.
pub fn rmsnorm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    ops().rmsnorm(x, weight, eps, out);
}

/// [`Ops::layernorm`] with the process-wide table.
pub fn layernorm(x: &[f32], weight: &[f32], bias: &[f32], eps: f32, out: &mut [f32]) {
    ops().layernorm(x, weight, bias, eps, out);
}

/// [`Ops::softmax`] with the process-wide table.
pub fn softmax(x: &mut [f32]) {
    ops().softmax(x);
}

/// [`Ops::silu`] with the process-wide table.
pub fn silu(x: &[f32], out: &mut [f32]) {
    ops().silu(x, out);
}

/// [`Ops::swiglu`] with the process-wide table.
pub fn swiglu(gate: &[f32], up: &[f32], out: &mut [f32]) {
    ops().swiglu(gate, up, out);
}

/// [`Ops::gelu`] with the process-wide table.
pub fn gelu(x: &[f32], out: &mut [f32]) {
    ops().gelu(x, out);
}

/// [`Ops::geglu`] with the process-wide table.
pub fn geglu(gate: &[f32], up: &[f32], out: &mut [f32]) {
    ops().geglu(gate, up, out);
}

/// [`Ops::add`] with the process-wide table.
pub fn add(x: &mut [f32], y: &[f32]) {
    ops().add(x, y);
}

/// [`Ops::mul`] with the process-wide table.
pub fn mul(x: &mut [f32], y: &[f32]) {
    ops().mul(x, y);
}

/// [`Ops::scale`] with the process-wide table.
pub fn scale(x: &mut [f32], s: f32) {
    ops().scale(x, s);
}

/// [`Ops::f32_to_f16_row`] with the process-wide table.
pub fn f32_to_f16_row(src: &[f32], dst: &mut [u16]) {
    ops().f32_to_f16_row(src, dst);
}

/// [`Ops::f16_to_f32_row`] with the process-wide table.
pub fn f16_to_f32_row(src: &[u16], dst: &mut [f32]) {
    ops().f16_to_f32_row(src, dst);
}

/// [`Ops::dot_f32_f16`] with the process-wide table.
pub fn dot_f32_f16(q: &[f32], k: &[u16]) -> f32 {
    ops().dot_f32_f16(q, k)
}

/// [`Ops::dot_f16`] with the process-wide table.
pub fn dot_f16(a: &[u16], b: &[u16]) -> f32 {
    ops().dot_f16(a, b)
}

/// [`Ops::axpy_f16`] with the process-wide table.
pub fn axpy_f16(acc: &mut [f32], a: f32, v: &[u16]) {
    ops().axpy_f16(acc, a, v);
}

/// [`Ops::weighted_sum_f16`] with the process-wide table.
pub fn weighted_sum_f16(out: &mut [f32], w: &[f32], rows: &[u16], stride: usize) {
    ops().weighted_sum_f16(out, w, rows, stride);
}
