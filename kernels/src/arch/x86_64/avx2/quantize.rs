//! AVX2 activation quantizers, bit-identical to the scalar ones (see
//! [`crate::scalar`]'s quantize docs for the chosen semantics).

use std::arch::x86_64::*;

use bytemuck::Zeroable;

use super::util::*;
use crate::blocks::*;

/// 32 floats of a block.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn load_f32x32(x: &[f32]) -> [__m256; 4] {
    let x: &[f32; 32] = x.first_chunk().expect("32 floats");
    let p = x.as_ptr();
    // SAFETY: the four loads read x[0..32]; unaligned loads.
    unsafe {
        [
            _mm256_loadu_ps(p),
            _mm256_loadu_ps(p.add(8)),
            _mm256_loadu_ps(p.add(16)),
            _mm256_loadu_ps(p.add(24)),
        ]
    }
}

/// Largest |v| over the vectors.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn abs_max(v: &[__m256]) -> __m256 {
    let sign = _mm256_set1_ps(-0.0);
    v.iter().fold(_mm256_setzero_ps(), |m, &v| _mm256_max_ps(m, _mm256_andnot_ps(sign, v)))
}

/// Horizontal max of 8 floats.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hmax(m: __m256) -> f32 {
    let m4 = _mm_max_ps(_mm256_extractf128_ps::<1>(m), _mm256_castps256_ps128(m));
    let m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    let m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    _mm_cvtss_f32(m4)
}

/// `round_half_even(v * mul)` of 32 floats as i32 vectors.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn round_scaled(v: &[__m256; 4], mul: __m256) -> [__m256i; 4] {
    const NEAREST: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    v.map(|v| _mm256_cvtps_epi32(_mm256_round_ps::<NEAREST>(_mm256_mul_ps(v, mul))))
}

/// Four i32x8 → 32 saturated i8 in order.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn pack_i8(i: [__m256i; 4]) -> __m256i {
    let a = _mm256_packs_epi32(i[0], i[1]);
    let b = _mm256_packs_epi32(i[2], i[3]);
    let p = _mm256_packs_epi16(a, b);
    // the packs work per 128-bit lane; restore element order
    _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
}

/// Stores 32 i8.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn store32(dst: &mut [i8; 32], v: __m256i) {
    // SAFETY: writes exactly the 32 bytes of `dst`; unaligned store.
    unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) }
}

/// One Q8_0 block: fills `qs`, returns `(d, Σq as i32x8)`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q8_block(x: &[f32], qs: &mut [i8; 32]) -> (f32, __m256i) {
    let v = load_f32x32(x);
    let amax = hmax(abs_max(&v));
    let d = amax / 127.0;
    let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
    let i = round_scaled(&v, _mm256_set1_ps(id));
    let sum = _mm256_add_epi32(_mm256_add_epi32(i[0], i[1]), _mm256_add_epi32(i[2], i[3]));
    store32(qs, pack_i8(i));
    (d, sum)
}

/// f32 → Q8_0.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn quantize_q8_0(src: &[f32], dst: &mut [BlockQ8_0]) {
    assert_eq!(src.len(), dst.len() * QK);
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK)) {
        let (d, _) = q8_block(x, &mut y.qs);
        y.d = F16Le::from_f32(d);
    }
}

/// f32 → Q8_1.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn quantize_q8_1(src: &[f32], dst: &mut [BlockQ8_1]) {
    assert_eq!(src.len(), dst.len() * QK);
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK)) {
        let (d, sum) = q8_block(x, &mut y.qs);
        y.d = F16Le::from_f32(d);
        y.s = F16Le::from_f32(d * hsum_i32x8(sum) as f32);
    }
}

/// f32 → Q8_K.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn quantize_q8_k(src: &[f32], dst: &mut [BlockQ8_K]) {
    assert_eq!(src.len(), dst.len() * QK_K);
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK_K)) {
        let groups: [[__m256; 4]; 8] = std::array::from_fn(|g| load_f32x32(&x[32 * g..]));
        let amax_v = groups.iter().fold(_mm256_setzero_ps(), |m, g| _mm256_max_ps(m, abs_max(g)));
        let amax = hmax(amax_v);
        if amax == 0.0 {
            *y = BlockQ8_K::zeroed();
            continue;
        }
        // the first element of largest magnitude, sign kept
        let sign = _mm256_set1_ps(-0.0);
        let target = _mm256_set1_ps(amax);
        let mut max = 0.0;
        'find: for (g, group) in groups.iter().enumerate() {
            for (k, &v) in group.iter().enumerate() {
                let hit = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(_mm256_andnot_ps(sign, v), target));
                if hit != 0 {
                    max = x[32 * g + 8 * k + hit.trailing_zeros() as usize];
                    break 'find;
                }
            }
        }
        let iscale = -127.0 / max;
        let mul = _mm256_set1_ps(iscale);
        let qs = y.qs.as_chunks_mut::<32>().0;
        for (g, group) in groups.iter().enumerate() {
            let i = round_scaled(group, mul);
            let lo = hsum_i32x8(_mm256_add_epi32(i[0], i[1]));
            let hi = hsum_i32x8(_mm256_add_epi32(i[2], i[3]));
            // |q| ≤ 127 (|iscale · v| ≤ 127), so the sums equal those of the stored bytes
            y.bsums[2 * g] = I16Le::new(lo as i16);
            y.bsums[2 * g + 1] = I16Le::new(hi as i16);
            store32(&mut qs[g], pack_i8(i));
        }
        y.d = F32Le::new(1.0 / iscale);
    }
}

/// f32 → F16 (round to nearest even, as the scalar path).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn quantize_f16(src: &[f32], dst: &mut [F16Le]) {
    assert_eq!(src.len(), dst.len());
    let n = src.len();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for both slices; unaligned load and store.
        unsafe {
            let v = _mm256_loadu_ps(src.as_ptr().add(i));
            let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
            _mm_storeu_si128(dst.as_mut_ptr().add(i).cast(), h);
        }
        i += 8;
    }
    for j in i..n {
        dst[j] = F16Le::from_f32(src[j]);
    }
}
