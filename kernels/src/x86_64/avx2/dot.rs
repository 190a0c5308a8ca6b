//! AVX2 dot products of float rows and the 32-element block types (ggml's techniques:
//! nibbles unpacked with one shift and mask, `maddubs` with the sign trick, one FMA per
//! block into 8 float lanes).

use std::arch::x86_64::*;

use super::util::*;
use crate::blocks::*;

/// F32 · F32.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_f32(w: &[F32Le], x: &[F32Le]) -> f32 {
    let n = w.len().min(x.len());
    let (wp, xp) = (w.as_ptr().cast::<f32>(), x.as_ptr().cast::<f32>());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (k, a) in acc.iter_mut().enumerate() {
            // SAFETY: i + 8k + 8 <= n, within both slices; unaligned loads.
            let (a_w, a_x) = unsafe { (_mm256_loadu_ps(wp.add(i + 8 * k)), _mm256_loadu_ps(xp.add(i + 8 * k))) };
            *a = _mm256_fmadd_ps(a_w, a_x, *a);
        }
        i += 32;
    }
    while i + 8 <= n {
        // SAFETY: i + 8 <= n, within both slices.
        let (a_w, a_x) = unsafe { (_mm256_loadu_ps(wp.add(i)), _mm256_loadu_ps(xp.add(i))) };
        acc[0] = _mm256_fmadd_ps(a_w, a_x, acc[0]);
        i += 8;
    }
    let acc = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut sum = hsum_f32x8(acc);
    for j in i..n {
        sum += w[j].get() * x[j].get();
    }
    sum
}

/// 8 f16 → 8 f32.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn load_f16x8(p: &[F16Le]) -> __m256 {
    let p: &[F16Le; 8] = p.first_chunk().expect("8 halves");
    // SAFETY: reads the 16 bytes of `p`; unaligned load.
    _mm256_cvtph_ps(unsafe { _mm_loadu_si128(p.as_ptr().cast()) })
}

/// 8 bf16 → 8 f32.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn load_bf16x8(p: &[Bf16Le]) -> __m256 {
    let p: &[Bf16Le; 8] = p.first_chunk().expect("8 halves");
    // SAFETY: reads the 16 bytes of `p`; unaligned load.
    let h = unsafe { _mm_loadu_si128(p.as_ptr().cast()) };
    _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(h)))
}

/// Four-accumulator dot of 8-wide float loads, scalar tail.
macro_rules! half_dot {
    ($w:expr, $x:expr, $load:ident) => {{
        let (w, x) = ($w, $x);
        let n = w.len().min(x.len());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 32 <= n {
            for (k, a) in acc.iter_mut().enumerate() {
                let j = i + 8 * k;
                *a = _mm256_fmadd_ps($load(&w[j..j + 8]), $load(&x[j..j + 8]), *a);
            }
            i += 32;
        }
        while i + 8 <= n {
            acc[0] = _mm256_fmadd_ps($load(&w[i..i + 8]), $load(&x[i..i + 8]), acc[0]);
            i += 8;
        }
        let acc = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut sum = hsum_f32x8(acc);
        for j in i..n {
            sum += w[j].to_f32() * x[j].to_f32();
        }
        sum
    }};
}

/// F16 · F16.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_f16(w: &[F16Le], x: &[F16Le]) -> f32 {
    half_dot!(w, x, load_f16x8)
}

/// BF16 · BF16.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_bf16(w: &[Bf16Le], x: &[Bf16Le]) -> f32 {
    half_dot!(w, x, load_bf16x8)
}

/// Σ over block pairs of `d · q` (+ a scalar term), with two accumulators so consecutive
/// blocks' FMAs do not wait on each other. `f` gives a block's `(d, q, extra)`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn sum_blocks<W, X>(w: &[W], x: &[X], f: impl Fn(&W, &X) -> (__m256, __m256, f32)) -> f32 {
    let n = w.len().min(x.len());
    let (w, x) = (&w[..n], &x[..n]);
    let mut acc = [_mm256_setzero_ps(); 2];
    let mut extra = [0.0f32; 2];
    let mut i = 0;
    while i + 2 <= n {
        for k in 0..2 {
            let (d, q, e) = f(&w[i + k], &x[i + k]);
            acc[k] = _mm256_fmadd_ps(d, q, acc[k]);
            extra[k] += e;
        }
        i += 2;
    }
    if i < n {
        let (d, q, e) = f(&w[i], &x[i]);
        acc[0] = _mm256_fmadd_ps(d, q, acc[0]);
        extra[0] += e;
    }
    hsum_f32x8(_mm256_add_ps(acc[0], acc[1])) + (extra[0] + extra[1])
}

/// Q4_0 · Q8_0.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q4_0_q8_0(w: &[BlockQ4_0], x: &[BlockQ8_0]) -> f32 {
    sum_blocks(w, x, |w, x| {
        let d = _mm256_set1_ps(f16(w.d) * f16(x.d));
        let qx = _mm256_sub_epi8(bytes_from_nibbles_32(&w.qs), _mm256_set1_epi8(8));
        (d, _mm256_cvtepi32_ps(mul_sum_i8(qx, load32(&x.qs))), 0.0)
    })
}

/// Q4_1 · Q8_1.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q4_1_q8_1(w: &[BlockQ4_1], x: &[BlockQ8_1]) -> f32 {
    sum_blocks(w, x, |w, x| {
        let d = _mm256_set1_ps(f16(w.d) * f16(x.d));
        let q = _mm256_cvtepi32_ps(mul_sum_us8(bytes_from_nibbles_32(&w.qs), load32(&x.qs)));
        (d, q, f16(w.m) * f16(x.s))
    })
}

/// Q5_0 · Q8_0.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q5_0_q8_0(w: &[BlockQ5_0], x: &[BlockQ8_0]) -> f32 {
    sum_blocks(w, x, |w, x| {
        let d = _mm256_set1_ps(f16(w.d) * f16(x.d));
        // (nibble | 0xf0) is nibble - 16 as i8: subtract 16 where the fifth bit is clear.
        let hi = _mm256_andnot_si256(bytes_from_bits_32(w.qh), _mm256_set1_epi8(0xf0u8 as i8));
        let qx = _mm256_or_si256(bytes_from_nibbles_32(&w.qs), hi);
        (d, _mm256_cvtepi32_ps(mul_sum_i8(qx, load32(&x.qs))), 0.0)
    })
}

/// Q5_1 · Q8_1.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q5_1_q8_1(w: &[BlockQ5_1], x: &[BlockQ8_1]) -> f32 {
    sum_blocks(w, x, |w, x| {
        let d = _mm256_set1_ps(f16(w.d) * f16(x.d));
        let hi = _mm256_and_si256(bytes_from_bits_32(w.qh), _mm256_set1_epi8(0x10));
        let qx = _mm256_or_si256(bytes_from_nibbles_32(&w.qs), hi);
        (d, _mm256_cvtepi32_ps(mul_sum_us8(qx, load32(&x.qs))), f16(w.m) * f16(x.s))
    })
}

/// Q8_0 · Q8_0. Exact for any weight byte (|−128| = 128 fits `maddubs`' unsigned side)
/// as long as the activation has no −128 (quantized activations never do).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q8_0_q8_0(w: &[BlockQ8_0], x: &[BlockQ8_0]) -> f32 {
    sum_blocks(w, x, |w, x| {
        let d = _mm256_set1_ps(f16(w.d) * f16(x.d));
        (d, _mm256_cvtepi32_ps(mul_sum_i8(load32(&w.qs), load32(&x.qs))), 0.0)
    })
}
