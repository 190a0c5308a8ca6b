//! AVX2 dot products of K-quant super-blocks with Q8_K (ggml's AVX2 kernels: unsigned
//! quants against signed activations with `maddubs`, sub-block scales applied with
//! `madd`, mins folded in through the activation's `bsums`).
//!
//! No `maddubs` here can saturate: the unsigned operand is at most 63 (Q6_K) and the
//! activations at most 128 in magnitude, so pair sums stay below 2·63·128 = 16128.

use std::arch::x86_64::*;

use super::util::*;
use crate::blocks::*;

/// Byte shuffles that broadcast i16 lane `i` (of a 128-bit half) to all 8 lanes.
const SHUFFLE_K4: [[u8; 32]; 8] = {
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
const SHUFFLE_Q6K: [[u8; 16]; 8] = {
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

/// Q4_K/Q5_K packed scales → 8 scales (bytes 0..8) and 8 mins (bytes 8..16).
#[inline]
fn unpack_scales_k4(s: &[u8; 12]) -> [u32; 4] {
    const KMASK1: u32 = 0x3f3f_3f3f;
    const KMASK2: u32 = 0x0f0f_0f0f;
    const KMASK3: u32 = 0x0303_0303;
    let u0 = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    let u1 = u32::from_le_bytes([s[4], s[5], s[6], s[7]]);
    let u2 = u32::from_le_bytes([s[8], s[9], s[10], s[11]]);
    [
        u0 & KMASK1,
        (u2 & KMASK2) | (((u0 >> 6) & KMASK3) << 4),
        u1 & KMASK1,
        ((u2 >> 4) & KMASK2) | (((u1 >> 6) & KMASK3) << 4),
    ]
}

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

/// The min term of Q4_K/Q5_K: 4 i32 partial sums of `min_j · (bsum_2j + bsum_2j+1)`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn k4_mins(mins_and_scales: __m256i, x: &BlockQ8_K) -> __m128i {
    let bsums = load32(bytemuck::cast_ref::<_, [u8; 32]>(&x.bsums));
    let q8s = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256::<1>(bsums));
    _mm_madd_epi16(_mm256_extracti128_si256::<1>(mins_and_scales), q8s)
}

/// Q4_K · Q8_K.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q4_k_q8_k(w: &[BlockQ4_K], x: &[BlockQ8_K]) -> f32 {
    let m4 = _mm256_set1_epi8(0xf);
    let mut acc = _mm256_setzero_ps();
    let mut acc_m = _mm_setzero_ps();
    for (w, x) in w.iter().zip(x) {
        let d = x.d.get() * f16(w.d);
        let dmin = -x.d.get() * f16(w.dmin);
        let u = unpack_scales_k4(&w.scales);
        let mins_and_scales = _mm256_cvtepu8_epi16(_mm_set_epi32(u[3] as i32, u[2] as i32, u[1] as i32, u[0] as i32));
        acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(k4_mins(mins_and_scales, x)), acc_m);
        let sc128 = _mm256_castsi256_si128(mins_and_scales);
        let scales = _mm256_set_m128i(sc128, sc128);
        let q4 = w.qs.as_chunks::<32>().0;
        let q8 = x.qs.as_chunks::<32>().0;
        let mut sumi = _mm256_setzero_si256();
        for j in 0..4 {
            let scale_l = _mm256_shuffle_epi8(scales, load32(&SHUFFLE_K4[2 * j]));
            let scale_h = _mm256_shuffle_epi8(scales, load32(&SHUFFLE_K4[2 * j + 1]));
            let bits = load32(&q4[j]);
            let q4l = _mm256_and_si256(bits, m4);
            let q4h = _mm256_and_si256(_mm256_srli_epi16::<4>(bits), m4);
            let pl = _mm256_madd_epi16(scale_l, _mm256_maddubs_epi16(q4l, load32(&q8[2 * j])));
            let ph = _mm256_madd_epi16(scale_h, _mm256_maddubs_epi16(q4h, load32(&q8[2 * j + 1])));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_f32x8(acc) + hsum_f32x4(acc_m)
}

/// Q5_K · Q8_K.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q5_k_q8_k(w: &[BlockQ5_K], x: &[BlockQ8_K]) -> f32 {
    let m4 = _mm256_set1_epi8(0xf);
    let mone = _mm256_set1_epi8(1);
    let mut acc = _mm256_setzero_ps();
    let mut acc_m = _mm_setzero_ps();
    for (w, x) in w.iter().zip(x) {
        let d = x.d.get() * f16(w.d);
        let dmin = -x.d.get() * f16(w.dmin);
        let u = unpack_scales_k4(&w.scales);
        let mins_and_scales = _mm256_cvtepu8_epi16(_mm_set_epi32(u[3] as i32, u[2] as i32, u[1] as i32, u[0] as i32));
        acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(k4_mins(mins_and_scales, x)), acc_m);
        let sc128 = _mm256_castsi256_si128(mins_and_scales);
        let scales = _mm256_set_m128i(sc128, sc128);
        let hbits = load32(&w.qh);
        let q5 = w.qs.as_chunks::<32>().0;
        let q8 = x.qs.as_chunks::<32>().0;
        let mut sumi = _mm256_setzero_si256();
        for j in 0..4 {
            let scale_0 = _mm256_shuffle_epi8(scales, load32(&SHUFFLE_K4[2 * j]));
            let scale_1 = _mm256_shuffle_epi8(scales, load32(&SHUFFLE_K4[2 * j + 1]));
            let bits = load32(&q5[j]);
            // fifth bits of sub-blocks 2j and 2j+1: bit 2j / 2j+1 of each qh byte, moved to 0x10
            let sh0 = _mm_cvtsi32_si128(2 * j as i32);
            let sh1 = _mm_cvtsi32_si128(2 * j as i32 + 1);
            let h0 = _mm256_slli_epi16::<4>(_mm256_and_si256(_mm256_srl_epi16(hbits, sh0), mone));
            let h1 = _mm256_slli_epi16::<4>(_mm256_and_si256(_mm256_srl_epi16(hbits, sh1), mone));
            let q0 = _mm256_or_si256(_mm256_and_si256(bits, m4), h0);
            let q1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(bits), m4), h1);
            let p0 = _mm256_madd_epi16(scale_0, _mm256_maddubs_epi16(q0, load32(&q8[2 * j])));
            let p1 = _mm256_madd_epi16(scale_1, _mm256_maddubs_epi16(q1, load32(&q8[2 * j + 1])));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_f32x8(acc) + hsum_f32x4(acc_m)
}

/// Q6_K · Q8_K: quants kept unsigned (0..64), the −32 offset subtracted once per block as
/// `32 · Σ scale · bsum`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q6_k_q8_k(w: &[BlockQ6_K], x: &[BlockQ8_K]) -> f32 {
    let m3 = _mm256_set1_epi8(3);
    let m15 = _mm256_set1_epi8(15);
    let mut acc = _mm256_setzero_ps();
    for (w, x) in w.iter().zip(x) {
        let d = x.d.get() * f16(w.d);
        let bsums = load32(bytemuck::cast_ref::<_, [u8; 32]>(&x.bsums));
        let scales = load16(&w.scales);
        let offset = _mm256_slli_epi32::<5>(_mm256_madd_epi16(bsums, _mm256_cvtepi8_epi16(scales)));
        let ql = w.ql.as_chunks::<32>().0;
        let qh = w.qh.as_chunks::<32>().0;
        let q8 = x.qs.as_chunks::<32>().0;
        let mut sumi = _mm256_setzero_si256();
        for j in 0..2 {
            let bits1 = load32(&ql[2 * j]);
            let bits2 = load32(&ql[2 * j + 1]);
            let bits_h = load32(&qh[j]);
            let h = [
                _mm256_slli_epi16::<4>(_mm256_and_si256(bits_h, m3)),
                _mm256_slli_epi16::<2>(_mm256_and_si256(bits_h, _mm256_set1_epi8(12))),
                _mm256_and_si256(bits_h, _mm256_set1_epi8(48)),
                _mm256_srli_epi16::<2>(_mm256_and_si256(bits_h, _mm256_set1_epi8(-64))),
            ];
            let q = [
                _mm256_or_si256(_mm256_and_si256(bits1, m15), h[0]),
                _mm256_or_si256(_mm256_and_si256(bits2, m15), h[1]),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(bits1), m15), h[2]),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(bits2), m15), h[3]),
            ];
            let y = load_q8_128(&q8[4 * j..]);
            for g in 0..4 {
                let p = _mm256_maddubs_epi16(q[g], y[g]);
                let sc = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, load16(&SHUFFLE_Q6K[4 * j + g])));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(sc, p));
            }
        }
        sumi = _mm256_sub_epi32(sumi, offset);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_f32x8(acc)
}
