//! Small AVX2 building blocks shared by the kernels (ggml-cpu/arch/x86/quants.c helpers).
//!
//! They are safe `#[target_feature]` functions: callable without `unsafe` only from code
//! compiled for the same features, i.e. from the kernels of this module.

use std::arch::x86_64::*;

use crate::blocks::F16Le;

/// 32 bytes at any alignment.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn load32<T: bytemuck::Pod>(a: &[T; 32]) -> __m256i {
    const { assert!(size_of::<T>() == 1) };
    // SAFETY: reads exactly the 32 bytes of `a`; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(a.as_ptr().cast()) }
}

/// 16 bytes at any alignment.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn load16<T: bytemuck::Pod>(a: &[T; 16]) -> __m128i {
    const { assert!(size_of::<T>() == 1) };
    // SAFETY: reads exactly the 16 bytes of `a`; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(a.as_ptr().cast()) }
}

/// f16 → f32 with F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn f16(h: F16Le) -> f32 {
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(h.bits()))))
}

/// Horizontal sum of 8 floats.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn hsum_f32x8(x: __m256) -> f32 {
    let r = _mm_add_ps(_mm256_extractf128_ps::<1>(x), _mm256_castps256_ps128(x));
    hsum_f32x4(r)
}

/// Horizontal sum of 4 floats.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn hsum_f32x4(r: __m128) -> f32 {
    let r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    let r = _mm_add_ss(r, _mm_movehdup_ps(r));
    _mm_cvtss_f32(r)
}

/// Horizontal sum of 8 i32.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn hsum_i32x8(a: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256::<1>(a));
    let s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// 32 nibbles → 32 bytes in 0..16: the 16 low nibbles, then the 16 high nibbles.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn bytes_from_nibbles_32(qs: &[u8; 16]) -> __m256i {
    let tmp = load16(qs);
    let bytes = _mm256_set_m128i(_mm_srli_epi16::<4>(tmp), tmp);
    _mm256_and_si256(bytes, _mm256_set1_epi8(0x0f))
}

/// 32 bits (little-endian) → 32 bytes, 0xff where the bit is set.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn bytes_from_bits_32(bits: [u8; 4]) -> __m256i {
    let x = i32::from_le_bytes(bits);
    let shuf = _mm256_set_epi64x(0x0303_0303_0303_0303, 0x0202_0202_0202_0202, 0x0101_0101_0101_0101, 0);
    let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(x), shuf);
    let bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe));
    _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1))
}

/// Pairwise sums of i16 → 8 i32.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn sum_i16_pairs(x: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_set1_epi16(1), x)
}

/// Unsigned × signed bytes, summed in groups of 4 → 8 i32. `ax` must be ≤ 128 and `sy`
/// such that no pair sum exceeds i16 (true for every use here: |products| ≤ 128·127).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn mul_sum_us8(ax: __m256i, sy: __m256i) -> __m256i {
    sum_i16_pairs(_mm256_maddubs_epi16(ax, sy))
}

/// Horizontal sums of 8 vectors: lane `k` of the result is the sum of the 8 i32 lanes of
/// `v[k]` (exact, wrapping).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn reduce8(v: &[__m256i; 8]) -> __m256i {
    // [v0 01, v0 23, v1 01, v1 23 | v0 45, v0 67, v1 45, v1 67], …
    let t0 = _mm256_hadd_epi32(v[0], v[1]);
    let t1 = _mm256_hadd_epi32(v[2], v[3]);
    let t2 = _mm256_hadd_epi32(v[4], v[5]);
    let t3 = _mm256_hadd_epi32(v[6], v[7]);
    // [v0 0..4, v1 0..4, v2 0..4, v3 0..4 | v0 4..8, v1 4..8, v2 4..8, v3 4..8]
    let u0 = _mm256_hadd_epi32(t0, t1);
    let u1 = _mm256_hadd_epi32(t2, t3);
    let lo = _mm256_permute2x128_si256::<0x20>(u0, u1);
    let hi = _mm256_permute2x128_si256::<0x31>(u0, u1);
    _mm256_add_epi32(lo, hi)
}

/// Prefetches the cache lines of `v` (up to `lines` of them, from its start) into L1.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn prefetch<T>(v: &T, lines: usize) {
    let p = std::ptr::from_ref(v).cast::<i8>();
    for l in 0..lines {
        // SAFETY: a prefetch is a hint that never faults, whatever the address; the pointer is
        // formed with `wrapping_add` and never dereferenced.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64 * l)) };
    }
}
