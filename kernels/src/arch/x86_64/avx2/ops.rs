//! AVX2 + FMA + F16C versions of the f32 ops (x86_64).
//!
//! Each `*_avx2` kernel is a `#[target_feature]` `unsafe fn`; the safe wrappers below, named
//! as their scalar twins in `arch/scalar/ops.rs`, are reachable only through [`OPS`], which
//! only the AVX2 kernel tables hold ([`crate::Kernels::avx2`], [`crate::Kernels::avx2_vnni`]
//! hand them out after detecting all three features). Reductions follow ggml's AVX2 code (`vec.cpp`) where ggml
//! has one, so results match llama.cpp's AVX2 build.

use std::arch::x86_64::*;

use crate::arch::scalar::ops as scalar;
use crate::arch::x86_64::avx512::attention::{dots32_folded_x16, dots32_folded_x16_pair, weighted_sum_x32};
use crate::ops::Ops;
use crate::ops::gelu::{TABLE_LEN, lookup as gelu_lookup, lookup_mul as geglu_lookup, table as gelu_table};
use hearth_dtype::{f16_to_f32 as h2f, f32_to_f16 as f2h};

/// The AVX2 f32 ops.
pub(crate) static OPS: Ops = BASE;

/// The AVX-512 table's f32 ops: the AVX2 ops, with the widened attention kernels compiled for
/// AVX-512's 32 vector registers (the weighted sum shares each value load among 7 queries
/// instead of 3; the scores take two keys per pass for up to 3) and with 512-bit loads and
/// FMAs (`avx512::attention`), same results.
pub(crate) static OPS_AVX512: Ops = Ops {
    name: "avx512",
    scores_f16_widened: scores_f16_widened_vl,
    weighted_sum_f16_widened: weighted_sum_f16_widened_vl,
    ..BASE
};

const BASE: Ops = Ops {
    name: "avx2",
    scale_mul,
    cvar,
    exp_sum,
    silu,
    swiglu,
    gelu,
    geglu,
    add,
    mul,
    scale,
    f32_to_f16,
    f16_to_f32,
    dot_f32_f16,
    dot_f16,
    axpy_f16,
    weighted_sum_f16,
    scores_f16_widened,
    weighted_sum_f16_widened,
};

/// Defines the safe table entry `$name` calling the `#[target_feature]` kernel `$imp`.
macro_rules! safe_entry {
    ($name:ident => $($imp:ident)::+ ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)?) => {
        fn $name($($arg: $ty),*) $(-> $ret)? {
            // SAFETY: this wrapper is only reachable through `OPS`, held only by the AVX2
            // kernel tables, which `Kernels::avx2()` / `Kernels::avx2_vnni()` hand out only
            // after `is_x86_feature_detected!` confirmed avx2, fma and f16c.
            unsafe { $($imp)::+($($arg),*) }
        }
    };
}

safe_entry!(scale_mul => scale_mul_avx2(x: &[f32], s: f32, w: &[f32], out: &mut [f32]));
safe_entry!(cvar => cvar_avx2(x: &[f32], mean: f32, out: &mut [f32]) -> f64);
safe_entry!(exp_sum => exp_sum_avx2(x: &mut [f32], max: f32) -> f64);
safe_entry!(silu => silu_avx2(x: &[f32], out: &mut [f32]));
safe_entry!(swiglu => swiglu_avx2(gate: &[f32], up: &[f32], out: &mut [f32]));
safe_entry!(gelu => gelu_avx2(x: &[f32], out: &mut [f32]));
safe_entry!(geglu => geglu_avx2(gate: &[f32], up: &[f32], out: &mut [f32]));
safe_entry!(add => add_avx2(x: &mut [f32], y: &[f32]));
safe_entry!(mul => mul_avx2(x: &mut [f32], y: &[f32]));
safe_entry!(scale => scale_avx2(x: &mut [f32], s: f32));
safe_entry!(f32_to_f16 => f32_to_f16_avx2(src: &[f32], dst: &mut [u16]));
safe_entry!(f16_to_f32 => f16_to_f32_avx2(src: &[u16], dst: &mut [f32]));
safe_entry!(dot_f32_f16 => dot_f32_f16_avx2(q: &[f32], k: &[u16]) -> f32);
safe_entry!(dot_f16 => dot_f16_avx2(a: &[u16], b: &[u16]) -> f32);
safe_entry!(axpy_f16 => axpy_f16_avx2(acc: &mut [f32], a: f32, v: &[u16]));
safe_entry!(weighted_sum_f16 => weighted_sum_f16_avx2(out: &mut [f32], w: &[f32], rows: &[u16], stride: usize));
safe_entry!(scores_f16_widened => share3::scores(q: &[f32], n_q: usize, keys: &[f32], stride: usize, scale: f32, out: &mut [f32]));
safe_entry!(weighted_sum_f16_widened => share3::weighted_sum(out: &mut [f32], n_q: usize, w: &[f32], rows: &[f32], stride: usize));

fn scores_f16_widened_vl(q: &[f32], n_q: usize, keys: &[f32], stride: usize, scale: f32, out: &mut [f32]) {
    // SAFETY: reachable only through `OPS_AVX512`, held only by the AVX-512 table, which
    // `Kernels::avx512()` hands out only after detecting avx2, fma, f16c, avx512f and avx512vl
    // (`has_avx512`).
    unsafe { share7::scores(q, n_q, keys, stride, scale, out) }
}

fn weighted_sum_f16_widened_vl(out: &mut [f32], n_q: usize, w: &[f32], rows: &[f32], stride: usize) {
    // SAFETY: as `scores_f16_widened_vl`.
    unsafe { share7::weighted_sum(out, n_q, w, rows, stride) }
}

/// ggml's `ggml_v_expf` (AVX2): exp with ≤ 1.5 ulp error; overflows to inf above ~88.38,
/// flushes to 0 below ~-103.97.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn expf8(x: __m256) -> __m256 {
    let c = |bits: u32| _mm256_set1_ps(f32::from_bits(bits));
    let r = c(0x4b40_0000); // 0x1.8p23
    let z = _mm256_fmadd_ps(x, c(0x3fb8_aa3b), r); // log2(e)
    let n = _mm256_sub_ps(z, r);
    let b = _mm256_fnmadd_ps(n, c(0x35bf_be8e), _mm256_fnmadd_ps(n, c(0x3f31_7200), x));
    let e = _mm256_slli_epi32::<23>(_mm256_castps_si256(z));
    let k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1.0))));
    let abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0), n);
    let cmask = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GT_OQ>(abs_n, _mm256_set1_ps(126.0)));
    let u = _mm256_mul_ps(b, b);
    let j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(
            _mm256_fmadd_ps(c(0x3c07_2010), b, c(0x3d2b_9f17)),
            u,
            _mm256_fmadd_ps(c(0x3e2a_af33), b, c(0x3eff_fedb)),
        ),
        u,
        _mm256_mul_ps(c(0x3f7f_fff6), b),
    );
    if _mm256_movemask_ps(_mm256_castsi256_ps(cmask)) == 0 {
        return _mm256_fmadd_ps(j, k, k);
    }
    let g = _mm256_and_si256(
        _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LE_OQ>(n, _mm256_setzero_ps())),
        _mm256_set1_epi32(0x8200_0000u32 as i32),
    );
    let s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f00_0000)));
    let s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    let d = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GT_OQ>(abs_n, _mm256_set1_ps(192.0)));
    let cm = _mm256_castsi256_ps(cmask);
    let dm = _mm256_castsi256_ps(d);
    _mm256_or_ps(
        _mm256_and_ps(dm, _mm256_mul_ps(s1, s1)),
        _mm256_andnot_ps(
            dm,
            _mm256_or_ps(
                _mm256_and_ps(cm, _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1)),
                _mm256_andnot_ps(cm, _mm256_fmadd_ps(k, j, k)),
            ),
        ),
    )
}

/// ggml's `ggml_v_silu`: `x / (1 + exp(-x))`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn silu8(x: __m256) -> __m256 {
    let neg = _mm256_sub_ps(_mm256_setzero_ps(), x);
    _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0), expf8(neg)))
}

/// ggml's horizontal sum of 8 lanes: `((0+4)+(2+6)) + ((1+5)+(3+7))`.
#[inline]
#[target_feature(enable = "avx2")]
fn hsum8(v: __m256) -> f32 {
    let v2 = _mm_add_ps(_mm256_extractf128_ps::<1>(v), _mm256_castps256_ps128(v));
    let v2 = _mm_add_ps(v2, _mm_movehl_ps(v2, v2));
    let v2 = _mm_add_ss(v2, _mm_movehdup_ps(v2));
    _mm_cvtss_f32(v2)
}

/// # Safety
/// The CPU must support AVX2 and FMA; `w` and `out` at least as long as `x`.
#[target_feature(enable = "avx2,fma")]
unsafe fn scale_mul_avx2(x: &[f32], s: f32, w: &[f32], out: &mut [f32]) {
    let n = x.len();
    let vs = _mm256_set1_ps(s);
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n and the three slices hold at least n elements.
        unsafe {
            let v = _mm256_mul_ps(
                _mm256_mul_ps(_mm256_loadu_ps(x.as_ptr().add(i)), vs),
                _mm256_loadu_ps(w.as_ptr().add(i)),
            );
            _mm256_storeu_ps(out.as_mut_ptr().add(i), v);
        }
        i += 8;
    }
    scalar::scale_mul(&x[i..], s, &w[i..n], &mut out[i..n]);
}

/// # Safety
/// The CPU must support AVX2 and FMA; `out` at least as long as `x`.
#[target_feature(enable = "avx2,fma")]
unsafe fn cvar_avx2(x: &[f32], mean: f32, out: &mut [f32]) -> f64 {
    let n = x.len();
    let vm = _mm256_set1_ps(mean);
    let mut sum = 0.0f64;
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n and both slices hold at least n elements.
        let v = unsafe {
            let v = _mm256_sub_ps(_mm256_loadu_ps(x.as_ptr().add(i)), vm);
            _mm256_storeu_ps(out.as_mut_ptr().add(i), v);
            v
        };
        sum += f64::from(hsum8(_mm256_mul_ps(v, v)));
        i += 8;
    }
    for (o, &v) in out[i..n].iter_mut().zip(&x[i..]) {
        let d = v - mean;
        *o = d;
        sum += f64::from(d * d);
    }
    sum / n as f64
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_sum_avx2(x: &mut [f32], max: f32) -> f64 {
    let n = x.len();
    let vm = _mm256_set1_ps(max);
    let mut sum = 0.0f64;
    let mut i = 0;
    let p = x.as_mut_ptr();
    while i + 8 <= n {
        // SAFETY: i + 8 <= n = x.len().
        let v = unsafe {
            let v = expf8(_mm256_sub_ps(_mm256_loadu_ps(p.add(i)), vm));
            _mm256_storeu_ps(p.add(i), v);
            v
        };
        sum += f64::from(hsum8(v));
        i += 8;
    }
    sum + scalar::exp_sum(&mut x[i..], max)
}

/// # Safety
/// The CPU must support AVX2 and FMA; `out` at least as long as `x`.
#[target_feature(enable = "avx2,fma")]
unsafe fn silu_avx2(x: &[f32], out: &mut [f32]) {
    let n = x.len();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n and both slices hold at least n elements.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(i), silu8(_mm256_loadu_ps(x.as_ptr().add(i)))) };
        i += 8;
    }
    scalar::silu(&x[i..], &mut out[i..n]);
}

/// # Safety
/// The CPU must support AVX2 and FMA; `up` and `out` at least as long as `gate`.
#[target_feature(enable = "avx2,fma")]
unsafe fn swiglu_avx2(gate: &[f32], up: &[f32], out: &mut [f32]) {
    let n = gate.len();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n and the three slices hold at least n elements.
        unsafe {
            let v = _mm256_mul_ps(
                silu8(_mm256_loadu_ps(gate.as_ptr().add(i))),
                _mm256_loadu_ps(up.as_ptr().add(i)),
            );
            _mm256_storeu_ps(out.as_mut_ptr().add(i), v);
        }
        i += 8;
    }
    scalar::swiglu(&gate[i..], &up[i..n], &mut out[i..n]);
}

/// GELU of 8 lanes through the f16 table (gather), with ggml's ±10 cut-offs.
///
/// # Safety
/// The CPU must support AVX2 and F16C; `table` must have [`TABLE_LEN`] entries.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn gelu8(table: &[u16], x: __m256) -> __m256 {
    debug_assert!(table.len() >= TABLE_LEN);
    let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(x);
    let idx = _mm256_cvtepu16_epi32(h);
    // SAFETY: each index is < 65536 and reads 4 bytes at table + 2 * idx, i.e. entries idx and
    // idx + 1 < TABLE_LEN: in bounds (the table has one spare entry for this).
    let g = unsafe { _mm256_i32gather_epi32::<2>(table.as_ptr().cast::<i32>(), idx) };
    let g = _mm256_and_si256(g, _mm256_set1_epi32(0xffff));
    let packed = _mm_packus_epi32(_mm256_castsi256_si128(g), _mm256_extracti128_si256::<1>(g));
    let y = _mm256_cvtph_ps(packed);
    let lo = _mm256_cmp_ps::<_CMP_LE_OQ>(x, _mm256_set1_ps(-10.0));
    let hi = _mm256_cmp_ps::<_CMP_GE_OQ>(x, _mm256_set1_ps(10.0));
    let y = _mm256_blendv_ps(y, x, hi);
    _mm256_andnot_ps(lo, y)
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C; `out` at least as long as `x`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn gelu_avx2(x: &[f32], out: &mut [f32]) {
    let table = gelu_table();
    let n = x.len();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n and both slices hold at least n elements; the table is the
        // full-length gelu table.
        unsafe {
            _mm256_storeu_ps(out.as_mut_ptr().add(i), gelu8(table, _mm256_loadu_ps(x.as_ptr().add(i))))
        };
        i += 8;
    }
    for (o, &v) in out[i..n].iter_mut().zip(&x[i..]) {
        *o = gelu_lookup(table, v);
    }
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C; `up` and `out` at least as long as `gate`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn geglu_avx2(gate: &[f32], up: &[f32], out: &mut [f32]) {
    let table = gelu_table();
    let n = gate.len();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n and the three slices hold at least n elements; full table.
        unsafe {
            let x = _mm256_loadu_ps(gate.as_ptr().add(i));
            let y = _mm256_mul_ps(gelu8(table, x), _mm256_loadu_ps(up.as_ptr().add(i)));
            // ggml writes +0 (not gelu * up = ±0) where x <= -10.
            let lo = _mm256_cmp_ps::<_CMP_LE_OQ>(x, _mm256_set1_ps(-10.0));
            _mm256_storeu_ps(out.as_mut_ptr().add(i), _mm256_andnot_ps(lo, y));
        }
        i += 8;
    }
    for ((o, &g), &u) in out[i..n].iter_mut().zip(&gate[i..]).zip(&up[i..n]) {
        *o = geglu_lookup(table, g, u);
    }
}

/// Element-wise `x = op(x, y)` over 8 lanes, scalar tail.
macro_rules! binary_inplace {
    ($name:ident, $vop:ident, $op:tt) => {
        /// # Safety
        /// The CPU must support AVX2; `y` at least as long as `x`.
        #[target_feature(enable = "avx2")]
        unsafe fn $name(x: &mut [f32], y: &[f32]) {
            let n = x.len();
            let p = x.as_mut_ptr();
            let mut i = 0;
            while i + 8 <= n {
                // SAFETY: i + 8 <= n and both slices hold at least n elements.
                unsafe { _mm256_storeu_ps(p.add(i), $vop(_mm256_loadu_ps(p.add(i)), _mm256_loadu_ps(y.as_ptr().add(i)))) };
                i += 8;
            }
            for (a, &b) in x[i..].iter_mut().zip(&y[i..n]) {
                *a $op b;
            }
        }
    };
}

binary_inplace!(add_avx2, _mm256_add_ps, +=);
binary_inplace!(mul_avx2, _mm256_mul_ps, *=);

/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
unsafe fn scale_avx2(x: &mut [f32], s: f32) {
    let n = x.len();
    let p = x.as_mut_ptr();
    let vs = _mm256_set1_ps(s);
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n = x.len().
        unsafe { _mm256_storeu_ps(p.add(i), _mm256_mul_ps(_mm256_loadu_ps(p.add(i)), vs)) };
        i += 8;
    }
    scalar::scale(&mut x[i..], s);
}

/// # Safety
/// The CPU must support AVX2 and F16C; `dst` at least as long as `src`.
#[target_feature(enable = "avx2,f16c")]
unsafe fn f32_to_f16_avx2(src: &[f32], dst: &mut [u16]) {
    let n = src.len();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n; 8 f32 are read from src and 8 u16 (16 bytes) written to dst.
        unsafe {
            let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm256_loadu_ps(src.as_ptr().add(i)));
            _mm_storeu_si128(dst.as_mut_ptr().add(i).cast::<__m128i>(), h);
        }
        i += 8;
    }
    for (d, &s) in dst[i..n].iter_mut().zip(&src[i..]) {
        *d = f2h(s);
    }
}

/// # Safety
/// The CPU must support AVX2 and F16C; `dst` at least as long as `src`.
#[target_feature(enable = "avx2,f16c")]
unsafe fn f16_to_f32_avx2(src: &[u16], dst: &mut [f32]) {
    let n = src.len();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n; 8 u16 read from src, 8 f32 written to dst.
        unsafe {
            let h = _mm_loadu_si128(src.as_ptr().add(i).cast::<__m128i>());
            _mm256_storeu_ps(dst.as_mut_ptr().add(i), _mm256_cvtph_ps(h));
        }
        i += 8;
    }
    for (d, &s) in dst[i..n].iter_mut().zip(&src[i..]) {
        *d = h2f(s);
    }
}

/// Loads 8 f16 at `p` as f32.
///
/// # Safety
/// The CPU must support F16C; `p..p+8` must be readable.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn load_h8(p: *const u16) -> __m256 {
    // SAFETY: the caller guarantees 8 readable u16 at p.
    _mm256_cvtph_ps(unsafe { _mm_loadu_si128(p.cast::<__m128i>()) })
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C; `k` at least as long as `q`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f32_f16_avx2(q: &[f32], k: &[u16]) -> f32 {
    let n = q.len();
    let (qp, kp) = (q.as_ptr(), k.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (j, a) in acc.iter_mut().enumerate() {
            // SAFETY: i + 8 * j + 8 <= i + 32 <= n for both slices.
            unsafe {
                *a = _mm256_fmadd_ps(_mm256_loadu_ps(qp.add(i + 8 * j)), load_h8(kp.add(i + 8 * j)), *a);
            }
        }
        i += 32;
    }
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for both slices.
        unsafe { acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(qp.add(i)), load_h8(kp.add(i)), acc[0]) };
        i += 8;
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3]));
    let mut sum = hsum8(s);
    for (&a, &b) in q[i..].iter().zip(&k[i..n]) {
        sum += a * h2f(b);
    }
    sum
}

/// ggml's AVX2 `ggml_vec_dot_f16`: 4 × 8 FMA accumulators, ggml's reduction, f64 tail.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C; `b` at least as long as `a`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f16_avx2(a: &[u16], b: &[u16]) -> f32 {
    let n = a.len();
    let np = n & !31;
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i < np {
        for (j, s) in acc.iter_mut().enumerate() {
            // SAFETY: i + 8 * j + 8 <= i + 32 <= np <= n for both slices.
            unsafe { *s = _mm256_fmadd_ps(load_h8(ap.add(i + 8 * j)), load_h8(bp.add(i + 8 * j)), *s) };
        }
        i += 32;
    }
    // GGML_F32x8_REDUCE: (0+2), (1+3), then (0+1); lo+hi; two hadds.
    let x0 = _mm256_add_ps(acc[0], acc[2]);
    let x1 = _mm256_add_ps(acc[1], acc[3]);
    let x0 = _mm256_add_ps(x0, x1);
    let t0 = _mm_add_ps(_mm256_castps256_ps128(x0), _mm256_extractf128_ps::<1>(x0));
    let t1 = _mm_hadd_ps(t0, t0);
    let mut sum = f64::from(_mm_cvtss_f32(_mm_hadd_ps(t1, t1)));
    for (&x, &y) in a[np..].iter().zip(&b[np..n]) {
        sum += f64::from(h2f(x) * h2f(y));
    }
    sum as f32
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C; `v` at least as long as `acc`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn axpy_f16_avx2(acc: &mut [f32], a: f32, v: &[u16]) {
    let n = acc.len();
    let va = _mm256_set1_ps(a);
    let p = acc.as_mut_ptr();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for both slices.
        unsafe {
            _mm256_storeu_ps(
                p.add(i),
                _mm256_fmadd_ps(va, load_h8(v.as_ptr().add(i)), _mm256_loadu_ps(p.add(i))),
            )
        };
        i += 8;
    }
    scalar::axpy_f16(&mut acc[i..], a, &v[i..n]);
}

/// [`axpy_f16_avx2`] over every row (`out = 0`, then `out += w[j] · row j` in order), 64
/// lanes at a time held in 8 registers across the rows, then 8 at a time; the last
/// `len % 8` lanes as `axpy_f16_avx2`'s tail (scalar). Every lane sees the same operations
/// in the same order as the row-by-row calls.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C; `rows` must hold `w.len()` rows of `out.len()`
/// values at `stride` (the last one may end early, past `out.len()`).
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn weighted_sum_f16_avx2(out: &mut [f32], w: &[f32], rows: &[u16], stride: usize) {
    let n = out.len();
    if let Some(last) = w.len().checked_sub(1) {
        assert!(stride >= n && rows.len() >= last * stride + n, "weighted_sum_f16: rows too short");
    }
    let (p, r) = (out.as_mut_ptr(), rows.as_ptr());
    let mut i = 0;
    while i + 64 <= n {
        let mut acc = [_mm256_setzero_ps(); 8];
        for (j, &wj) in w.iter().enumerate() {
            let s = _mm256_set1_ps(wj);
            for (k, a) in acc.iter_mut().enumerate() {
                // SAFETY: j · stride + i + 8k + 8 <= j · stride + n <= rows.len() (checked above).
                *a = _mm256_fmadd_ps(s, unsafe { load_h8(r.add(j * stride + i + 8 * k)) }, *a);
            }
        }
        for (k, a) in acc.iter().enumerate() {
            // SAFETY: i + 8k + 8 <= i + 64 <= n = out.len().
            unsafe { _mm256_storeu_ps(p.add(i + 8 * k), *a) };
        }
        i += 64;
    }
    while i + 8 <= n {
        let mut a = _mm256_setzero_ps();
        for (j, &wj) in w.iter().enumerate() {
            // SAFETY: j · stride + i + 8 <= j · stride + n <= rows.len() (checked above).
            a = _mm256_fmadd_ps(_mm256_set1_ps(wj), unsafe { load_h8(r.add(j * stride + i)) }, a);
        }
        // SAFETY: i + 8 <= n = out.len().
        unsafe { _mm256_storeu_ps(p.add(i), a) };
        i += 8;
    }
    if i < n {
        scalar::weighted_sum_with(scalar::axpy_f16, &mut out[i..], w, rows.get(i..).unwrap_or(&[]), stride);
    }
}

/// Eight folded dots (see [`dots32_folded_x8`]) reduced to their sums in order: two keys'
/// 128-bit halves added in one register, then two rounds of `hadd` across four such
/// registers, which is per lane exactly [`dot_f16_avx2`]'s `lo + hi`, `hadd`, `hadd`; a lane
/// permute puts the 8 sums in key order.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn reduce8(x: &[__m256; 8]) -> __m256 {
    let half = |a: __m256, b: __m256| {
        _mm256_add_ps(_mm256_permute2f128_ps::<0x20>(a, b), _mm256_permute2f128_ps::<0x31>(a, b))
    };
    let (t01, t23) = (half(x[0], x[1]), half(x[2], x[3]));
    let (t45, t67) = (half(x[4], x[5]), half(x[6], x[7]));
    // Lanes: [k0, k2, k4, k6, k1, k3, k5, k7].
    let sums = _mm256_hadd_ps(_mm256_hadd_ps(t01, t23), _mm256_hadd_ps(t45, t67));
    _mm256_permutevar8x32_ps(sums, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
}

/// The 4 accumulators of [`dot_f16_avx2`] over the first `np` (a multiple of 32) values of
/// two widened rows, folded as GGML_F32x8_REDUCE's first steps: `(0+2) + (1+3)`.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `a..a+np` and `b..b+np` must be readable.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot32_folded(a: *const f32, b: *const f32, np: usize) -> __m256 {
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i < np {
        for (j, s) in acc.iter_mut().enumerate() {
            // SAFETY: i + 8 * j + 8 <= i + 32 <= np, readable by the caller's guarantee.
            unsafe {
                *s = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i + 8 * j)), _mm256_loadu_ps(b.add(i + 8 * j)), *s)
            };
        }
        i += 32;
    }
    _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3]))
}

/// [`dot_f16_avx2`] on widened values: the same accumulators, reduction and f64 tail, so the
/// same result bit for bit.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `b` at least as long as `a`.
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_f16_widened_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let np = n & !31;
    assert!(b.len() >= n, "dot_f16_widened: b too short");
    // SAFETY: np <= n <= both lengths.
    let x0 = unsafe { dot32_folded(a.as_ptr(), b.as_ptr(), np) };
    let t0 = _mm_add_ps(_mm256_castps256_ps128(x0), _mm256_extractf128_ps::<1>(x0));
    let t1 = _mm_hadd_ps(t0, t0);
    let mut sum = f64::from(_mm_cvtss_f32(_mm_hadd_ps(t1, t1)));
    for (&x, &y) in a[np..].iter().zip(&b[np..n]) {
        sum += f64::from(x * y);
    }
    sum as f32
}

/// The 4 accumulators of [`dot_f16_avx2`] for `NQ` queries (rows of `hd` at `q`) against
/// one key, over `hd` (a multiple of 32) values, each folded as GGML_F32x8_REDUCE's first
/// steps: `(0+2) + (1+3)`. Each key vector is loaded once for the `NQ` queries.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `hd` is a multiple of 32, and `q..q + NQ · hd` and
/// `k..k + hd` must be readable.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn dots32_folded_x8<const NQ: usize>(q: *const f32, hd: usize, k: *const f32) -> [__m256; NQ] {
    let mut acc = [[_mm256_setzero_ps(); 4]; NQ];
    let mut i = 0;
    while i < hd {
        for c in 0..4 {
            // SAFETY: i + 8c + 8 <= hd, within the key and each query row.
            let kv = unsafe { _mm256_loadu_ps(k.add(i + 8 * c)) };
            for (r, a) in acc.iter_mut().enumerate() {
                // SAFETY: as above.
                let qv = unsafe { _mm256_loadu_ps(q.add(r * hd + i + 8 * c)) };
                a[c] = _mm256_fmadd_ps(qv, kv, a[c]);
            }
        }
        i += 32;
    }
    acc.map(|a| _mm256_add_ps(_mm256_add_ps(a[0], a[2]), _mm256_add_ps(a[1], a[3])))
}

/// No two-key dots: the AVX2 `widened_attention!` kernels (16 registers) take one key at a
/// time (`$pair_nq` 0, so this is never called).
///
/// # Safety
/// None (reads nothing); `unsafe` for the signature `widened_attention!` calls.
#[inline]
unsafe fn no_pair<const NQ: usize>(
    _q: *const f32,
    _hd: usize,
    _k0: *const f32,
    _k1: *const f32,
) -> [[__m256; NQ]; 2] {
    unreachable!("the AVX2 attention kernels take one key at a time")
}

/// No 32-lane stage: the AVX2 `widened_attention!` kernels start at 16 lanes.
///
/// # Safety
/// None (reads and writes nothing); `unsafe` for the signature `widened_attention!` calls.
#[inline]
unsafe fn no_x32<const NQ: usize>(
    _out: *mut f32,
    _hd: usize,
    _w: &[f32],
    _n: usize,
    _rows: *const f32,
    _stride: usize,
) -> usize {
    0
}

/// The widened attention kernels (`Ops::scores_f16_widened`, `Ops::weighted_sum_f16_widened`)
/// compiled for `$features` with up to `$share` queries sharing each key or value load, as
/// module `$m` (`scores`, `weighted_sum`): 3 for AVX2's 16 vector registers (3 × 4 score
/// accumulators plus the key; 3 × 2 sum accumulators, 3 broadcasts and the value), 7 with
/// AVX-512's 32 (where the scores use passes of at most `$pair_nq` on `$dots2` instead). `$dots` gives one key's folded dots ([`dots32_folded_x8`], or the 512-bit
/// `avx512::attention::dots32_folded_x16`), `$dots2` two keys' for up to `$pair_nq` queries
/// ([`no_pair`] with 0, or `avx512::attention::dots32_folded_x16_pair` with 3: each query load
/// then feeds two FMAs), `$x32` the weighted sum's 32-lane stage ([`no_x32`],
/// or `avx512::attention::weighted_sum_x32`); the 512-bit ones hold two 8-lane accumulators
/// per register, so every lane's arithmetic, and the results, are the same bit for bit.
macro_rules! widened_attention {
    ($m:ident, $features:literal, $share:literal, $dots:ident, $dots2:ident, $pair_nq:literal, $x32:ident) => {
        mod $m {
            use super::*;

            /// Queries that share each key or value load.
            const SHARE: usize = $share;

            /// [`scores_f16_widened_avx2`] for `NQ` queries at once (head size a multiple of 32): per
            /// 8 keys, each key's vectors are loaded once for all `NQ` queries, then each query's 8
            /// folded dots are reduced together ([`reduce8`]). Keys past the last 8 take single dots.
            ///
            /// # Safety
            /// The CPU must support AVX2 and FMA; `q` holds `NQ` rows of `hd`, `out` `NQ` rows of `n`,
            /// and `keys` `n` rows of `hd` at `stride`.
            #[target_feature(enable = $features)]
            unsafe fn scores_shared<const NQ: usize>(
                q: &[f32],
                hd: usize,
                keys: &[f32],
                stride: usize,
                scale: f32,
                out: &mut [f32],
                n: usize,
            ) {
                let vs = _mm256_set1_ps(scale);
                let mut j = 0;
                while j + 8 <= n {
                    let mut x = [[_mm256_setzero_ps(); 8]; NQ];
                    let key = |r: usize| {
                        // SAFETY: key j + r < n lies within `keys` (the caller's contract).
                        unsafe { keys.as_ptr().add((j + r) * stride) }
                    };
                    if NQ <= $pair_nq {
                        for r in (0..8).step_by(2) {
                            // SAFETY: q holds NQ rows of hd; keys j + r, j + r + 1 < n.
                            let d = unsafe { $dots2::<NQ>(q.as_ptr(), hd, key(r), key(r + 1)) };
                            for (xq, (d0, d1)) in x.iter_mut().zip(d[0].into_iter().zip(d[1])) {
                                (xq[r], xq[r + 1]) = (d0, d1);
                            }
                        }
                    } else {
                        for r in 0..8 {
                            // SAFETY: q holds NQ rows of hd; key j + r < n.
                            let d = unsafe { $dots::<NQ>(q.as_ptr(), hd, key(r)) };
                            for (xq, dq) in x.iter_mut().zip(d) {
                                xq[r] = dq;
                            }
                        }
                    }
                    for (qi, xq) in x.iter().enumerate() {
                        // SAFETY: qi · n + j + 8 <= (qi + 1) · n <= out.len().
                        unsafe {
                            _mm256_storeu_ps(out.as_mut_ptr().add(qi * n + j), _mm256_mul_ps(reduce8(xq), vs))
                        };
                    }
                    j += 8;
                }
                for qi in 0..NQ {
                    for jj in j..n {
                        let (qr, kr) = (&q[qi * hd..][..hd], &keys[jj * stride..][..hd]);
                        // SAFETY: AVX2 and FMA are present (this function's contract).
                        out[qi * n + jj] = unsafe { dot_f16_widened_avx2(qr, kr) } * scale;
                    }
                }
            }

            /// Scores of `n_q` widened queries against widened keys, as [`dot_f16_avx2`] per query and
            /// key times `scale`. Where the head size is a multiple of 32 (no f64 tail), up to
            /// `SHARE` queries share each key load ([`scores_shared`]); otherwise single dots.
            ///
            /// # Safety
            /// The CPU must support AVX2 and FMA; the lengths as checked by `Ops::scores_f16_widened`.
            #[target_feature(enable = $features)]
            pub(super) unsafe fn scores(
                q: &[f32],
                n_q: usize,
                keys: &[f32],
                stride: usize,
                scale: f32,
                out: &mut [f32],
            ) {
                if n_q == 0 {
                    return;
                }
                let (hd, n) = (q.len() / n_q, out.len() / n_q);
                assert!(q.len() == n_q * hd && out.len() == n_q * n, "scores_f16_widened: queries");
                if let Some(last) = n.checked_sub(1) {
                    assert!(
                        stride >= hd && keys.len() >= last * stride + hd,
                        "scores_f16_widened: keys too short"
                    );
                }
                if hd % 32 != 0 || hd == 0 {
                    for r in 0..n_q {
                        let qr = &q[r * hd..][..hd];
                        for (j, o) in out[r * n..][..n].iter_mut().enumerate() {
                            // SAFETY: AVX2 and FMA are present (this function's contract).
                            *o = unsafe { dot_f16_widened_avx2(qr, &keys[j * stride..][..hd]) } * scale;
                        }
                    }
                    return;
                }
                // Queries per pass: up to `SHARE` sharing one key at a time, or, where the
                // two-key dots exist, passes of up to `$pair_nq` as even as they split (7
                // heads: 3, 2, 2; 4: 2, 2), each pass loading the keys again.
                let limit = if $pair_nq > 0 { $pair_nq } else { SHARE.min(7) };
                let passes = n_q.div_ceil(limit);
                let mut r = 0;
                for pass in 0..passes {
                    let take = (n_q - r).div_ceil(passes - pass);
                    let (qs, os) = (&q[r * hd..][..take * hd], &mut out[r * n..][..take * n]);
                    // SAFETY: AVX2 and FMA are present; qs holds `take` rows of hd, os `take` rows of n,
                    // and keys n rows of hd at stride (checked above).
                    unsafe {
                        match take {
                            7 => scores_shared::<7>(qs, hd, keys, stride, scale, os, n),
                            6 => scores_shared::<6>(qs, hd, keys, stride, scale, os, n),
                            5 => scores_shared::<5>(qs, hd, keys, stride, scale, os, n),
                            4 => scores_shared::<4>(qs, hd, keys, stride, scale, os, n),
                            3 => scores_shared::<3>(qs, hd, keys, stride, scale, os, n),
                            2 => scores_shared::<2>(qs, hd, keys, stride, scale, os, n),
                            _ => scores_shared::<1>(qs, hd, keys, stride, scale, os, n),
                        }
                    }
                    r += take;
                }
            }

            /// [`weighted_sum_f16_widened_avx2`] for `NQ` queries at once: `$x32`'s 32 lanes at a
            /// time, then 16, each value vector loaded once for the `NQ` queries, then 8 lanes,
            /// then the scalar tail. Every
            /// lane is one FMA chain over the rows in order from zero, as in
            /// [`weighted_sum_f16_avx2`] (whose 64-lane blocks change no lane's arithmetic), so the
            /// result is the same bit for bit.
            ///
            /// # Safety
            /// The CPU must support AVX2 and FMA; `out` holds `NQ` rows of `hd`, `w` `NQ` rows of `n`,
            /// `rows` `n` rows of `hd` at `stride`.
            #[target_feature(enable = $features)]
            unsafe fn weighted_sum_shared<const NQ: usize>(
                out: &mut [f32],
                hd: usize,
                w: &[f32],
                n: usize,
                rows: &[f32],
                stride: usize,
            ) {
                let (p, r) = (out.as_mut_ptr(), rows.as_ptr());
                // SAFETY: the CPU has `$features` (this function's contract), which the `avx512`
                // table's stage needs; `out` holds NQ rows of hd, `w` NQ rows of n, and every
                // row j < n of hd at stride lies within `rows`.
                let mut i = unsafe { $x32::<NQ>(p, hd, w, n, r, stride) };
                while i + 16 <= hd {
                    let mut acc = [[_mm256_setzero_ps(); 2]; NQ];
                    for j in 0..n {
                        let s: [__m256; NQ] = std::array::from_fn(|qi| _mm256_set1_ps(w[qi * n + j]));
                        for c in 0..2 {
                            // SAFETY: j · stride + i + 8c + 8 <= j · stride + hd <= rows.len().
                            let v = unsafe { _mm256_loadu_ps(r.add(j * stride + i + 8 * c)) };
                            for (a, &sq) in acc.iter_mut().zip(&s) {
                                a[c] = _mm256_fmadd_ps(sq, v, a[c]);
                            }
                        }
                    }
                    for (qi, a) in acc.iter().enumerate() {
                        for (c, &ac) in a.iter().enumerate() {
                            // SAFETY: qi · hd + i + 8c + 8 <= (qi + 1) · hd <= out.len().
                            unsafe { _mm256_storeu_ps(p.add(qi * hd + i + 8 * c), ac) };
                        }
                    }
                    i += 16;
                }
                while i + 8 <= hd {
                    let mut acc = [_mm256_setzero_ps(); NQ];
                    for j in 0..n {
                        // SAFETY: j · stride + i + 8 <= j · stride + hd <= rows.len().
                        let v = unsafe { _mm256_loadu_ps(r.add(j * stride + i)) };
                        for (qi, a) in acc.iter_mut().enumerate() {
                            *a = _mm256_fmadd_ps(_mm256_set1_ps(w[qi * n + j]), v, *a);
                        }
                    }
                    for (qi, &a) in acc.iter().enumerate() {
                        // SAFETY: qi · hd + i + 8 <= (qi + 1) · hd <= out.len().
                        unsafe { _mm256_storeu_ps(p.add(qi * hd + i), a) };
                    }
                    i += 8;
                }
                if i < hd {
                    for qi in 0..NQ {
                        scalar::weighted_sum_f16_widened_one(
                            &mut out[qi * hd + i..(qi + 1) * hd],
                            &w[qi * n..][..n],
                            rows.get(i..).unwrap_or(&[]),
                            stride,
                        );
                    }
                }
            }

            /// `n_q` weighted sums of widened value rows, bit for bit [`weighted_sum_f16_avx2`] each,
            /// with up to `SHARE` queries sharing each value load ([`weighted_sum_shared`]).
            ///
            /// # Safety
            /// The CPU must support AVX2 and FMA; the lengths as checked by
            /// `Ops::weighted_sum_f16_widened`.
            #[target_feature(enable = $features)]
            pub(super) unsafe fn weighted_sum(
                out: &mut [f32],
                n_q: usize,
                w: &[f32],
                rows: &[f32],
                stride: usize,
            ) {
                if n_q == 0 {
                    return;
                }
                let (hd, n) = (out.len() / n_q, w.len() / n_q);
                assert!(out.len() == n_q * hd && w.len() == n_q * n, "weighted_sum_f16_widened: queries");
                if let Some(last) = n.checked_sub(1) {
                    assert!(
                        stride >= hd && rows.len() >= last * stride + hd,
                        "weighted_sum_f16_widened: rows too short"
                    );
                }
                let mut r = 0;
                while r < n_q {
                    let take = (n_q - r).min(SHARE).min(7);
                    let (os, ws) = (&mut out[r * hd..][..take * hd], &w[r * n..][..take * n]);
                    // SAFETY: AVX2 and FMA are present; os holds `take` rows of hd, ws `take` rows of n,
                    // rows n rows of hd at stride (checked above).
                    unsafe {
                        match take {
                            7 => weighted_sum_shared::<7>(os, hd, ws, n, rows, stride),
                            6 => weighted_sum_shared::<6>(os, hd, ws, n, rows, stride),
                            5 => weighted_sum_shared::<5>(os, hd, ws, n, rows, stride),
                            4 => weighted_sum_shared::<4>(os, hd, ws, n, rows, stride),
                            3 => weighted_sum_shared::<3>(os, hd, ws, n, rows, stride),
                            2 => weighted_sum_shared::<2>(os, hd, ws, n, rows, stride),
                            _ => weighted_sum_shared::<1>(os, hd, ws, n, rows, stride),
                        }
                    }
                    r += take;
                }
            }
        }
    };
}

widened_attention!(share3, "avx2,fma", 3, dots32_folded_x8, no_pair, 0, no_x32);
widened_attention!(
    share7,
    "avx2,fma,avx512f,avx512vl",
    7,
    dots32_folded_x16,
    dots32_folded_x16_pair,
    3,
    weighted_sum_x32
);
