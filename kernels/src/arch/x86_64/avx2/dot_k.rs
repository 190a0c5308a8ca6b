//! AVX2 dot products of Q2_K and Q3_K super-blocks with Q8_K (ggml's AVX2 kernels: unsigned
//! quants against signed activations with `maddubs`, sub-block scales applied with
//! `madd`, mins folded in through the activation's `bsums`), and the scale helpers the
//! Q4_K/Q5_K/Q6_K kernels of `mat_k.rs` share.
//!
//! No `maddubs` here can saturate: the unsigned operand is at most 63 (Q6_K) and the
//! activations at most 128 in magnitude, so pair sums stay below 2·63·128 = 16128.

use std::arch::x86_64::*;

use super::util::*;
use crate::blocks::*;

/// Byte shuffles that broadcast i16 lane `i` (of a 128-bit half) to all 8 lanes.
pub(crate) const SHUFFLE_K4: [[u8; 32]; 8] = {
    let mut t = [[0u8; 32]; 8];
    let mut i = 0;
    while i < 8 {
        let mut b = 0;
        while b < 32 {
            t[i][b] = (2 * i + b % 2) as u8;
            b += 1;
        }
        i += 1;
    }
    t
};

/// Byte shuffles that put i16 lane `2i` in lanes 0..8 and `2i + 1` in lanes 8..16 (the
/// two 16-element sub-blocks covered by one 32-byte register).
const SHUFFLE_Q3K: [[u8; 32]; 4] = {
    let mut t = [[0u8; 32]; 4];
    let mut i = 0;
    while i < 4 {
        let mut b = 0;
        while b < 32 {
            let lane = 2 * i + b / 16;
            t[i][b] = (2 * lane + b % 2) as u8;
            b += 1;
        }
        i += 1;
    }
    t
};

/// Byte shuffles (128-bit) that repeat i8 `2i` 8 times then `2i + 1` 8 times.
pub(crate) const SHUFFLE_Q6K: [[u8; 16]; 8] = {
    let mut t = [[0u8; 16]; 8];
    let mut i = 0;
    while i < 8 {
        let mut b = 0;
        while b < 16 {
            t[i][b] = (2 * i + b / 8) as u8;
            b += 1;
        }
        i += 1;
    }
    t
};

/// Q3_K packed scales → 16 i8 scales (`6-bit - 32`) in a register.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn unpack_scales_q3k(s: &[u8; 12]) -> __m128i {
    const KMASK1: u32 = 0x0303_0303;
    const KMASK2: u32 = 0x0f0f_0f0f;
    let a0 = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    let a1 = u32::from_le_bytes([s[4], s[5], s[6], s[7]]);
    let a2 = u32::from_le_bytes([s[8], s[9], s[10], s[11]]);
    let sc = _mm_set_epi32(
        (((a1 >> 4) & KMASK2) | (((a2 >> 6) & KMASK1) << 4)) as i32,
        (((a0 >> 4) & KMASK2) | (((a2 >> 4) & KMASK1) << 4)) as i32,
        ((a1 & KMASK2) | (((a2 >> 2) & KMASK1) << 4)) as i32,
        ((a0 & KMASK2) | ((a2 & KMASK1) << 4)) as i32,
    );
    _mm_sub_epi8(sc, _mm_set1_epi8(32))
}

/// The four 32-byte activation vectors of a 128-element half.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn load_q8_128(q8: &[[i8; 32]]) -> [__m256i; 4] {
    [load32(&q8[0]), load32(&q8[1]), load32(&q8[2]), load32(&q8[3])]
}

/// Q2_K · Q8_K.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q2_k_q8_k(w: &[BlockQ2_K], x: &[BlockQ8_K]) -> f32 {
    let m3 = _mm256_set1_epi8(3);
    let m4 = _mm_set1_epi8(0xf);
    let mut acc = _mm256_setzero_ps();
    for (w, x) in w.iter().zip(x) {
        let d = x.d.get() * f16(w.d);
        let dmin = -x.d.get() * f16(w.dmin);
        let mins_and_scales = load16(&w.scales);
        let scales8 = _mm_and_si128(mins_and_scales, m4);
        let mins8 = _mm_and_si128(_mm_srli_epi16::<4>(mins_and_scales), m4);
        let bsums = load32(bytemuck::cast_ref::<_, [u8; 32]>(&x.bsums));
        let prod = _mm256_madd_epi16(_mm256_cvtepi8_epi16(mins8), bsums);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(prod), acc);

        let all = _mm256_cvtepi8_epi16(scales8);
        let (lo, hi) = (_mm256_castsi256_si128(all), _mm256_extracti128_si256::<1>(all));
        let scales = [_mm256_set_m128i(lo, lo), _mm256_set_m128i(hi, hi)];
        let q2 = w.qs.as_chunks::<32>().0;
        let q8 = x.qs.as_chunks::<32>().0;
        let mut sumi = _mm256_setzero_si256();
        for j in 0..2 {
            let bits = load32(&q2[j]);
            let y = load_q8_128(&q8[4 * j..]);
            let q = [
                _mm256_and_si256(bits, m3),
                _mm256_and_si256(_mm256_srli_epi16::<2>(bits), m3),
                _mm256_and_si256(_mm256_srli_epi16::<4>(bits), m3),
                _mm256_and_si256(_mm256_srli_epi16::<6>(bits), m3),
            ];
            for g in 0..4 {
                let p = _mm256_maddubs_epi16(q[g], y[g]);
                let sc = _mm256_shuffle_epi8(scales[j], load32(&SHUFFLE_Q3K[g]));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(sc, p));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_f32x8(acc)
}

/// Q3_K · Q8_K.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q3_k_q8_k(w: &[BlockQ3_K], x: &[BlockQ8_K]) -> f32 {
    let m3 = _mm256_set1_epi8(3);
    let mone = _mm256_set1_epi8(1);
    let mut acc = _mm256_setzero_ps();
    for (w, x) in w.iter().zip(x) {
        let d = x.d.get() * f16(w.d);
        let all = _mm256_cvtepi8_epi16(unpack_scales_q3k(&w.scales));
        let (lo, hi) = (_mm256_castsi256_si128(all), _mm256_extracti128_si256::<1>(all));
        let scales = [_mm256_set_m128i(lo, lo), _mm256_set_m128i(hi, hi)];
        let hbits = load32(&w.hmask);
        let q3 = w.qs.as_chunks::<32>().0;
        let q8 = x.qs.as_chunks::<32>().0;
        let mut sumi = _mm256_setzero_si256();
        for j in 0..2 {
            let bits = load32(&q3[j]);
            let y = load_q8_128(&q8[4 * j..]);
            let ql = [
                _mm256_and_si256(bits, m3),
                _mm256_and_si256(_mm256_srli_epi16::<2>(bits), m3),
                _mm256_and_si256(_mm256_srli_epi16::<4>(bits), m3),
                _mm256_and_si256(_mm256_srli_epi16::<6>(bits), m3),
            ];
            for g in 0..4 {
                let bit = 4 * j + g;
                // 4 where the high bit is clear (the quant is q - 4), else 0
                let mask = _mm256_sll_epi16(mone, _mm_cvtsi32_si128(bit as i32));
                let clear = _mm256_andnot_si256(hbits, mask);
                let qh = _mm256_slli_epi16::<2>(_mm256_srl_epi16(clear, _mm_cvtsi32_si128(bit as i32)));
                let p = _mm256_sub_epi16(_mm256_maddubs_epi16(ql[g], y[g]), _mm256_maddubs_epi16(qh, y[g]));
                let sc = _mm256_shuffle_epi8(scales[j], load32(&SHUFFLE_Q3K[g]));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(sc, p));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_f32x8(acc)
}
