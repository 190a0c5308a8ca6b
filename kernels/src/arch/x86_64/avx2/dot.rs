//! AVX2 dot products of float rows (the quantized block types are in `mat.rs`).

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
            let (a_w, a_x) =
                unsafe { (_mm256_loadu_ps(wp.add(i + 8 * k)), _mm256_loadu_ps(xp.add(i + 8 * k))) };
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
