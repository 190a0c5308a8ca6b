//! NEON dot products of Q2_K and Q3_K super-blocks with Q8_K (Q4_K..Q6_K: `mat_k.rs`): each 16-byte vector of unpacked
//! quants is dotted with its activation bytes (`sdot` or widening multiplies), scaled by
//! its sub-block scale in integer lanes, and reduced once per super-block; mins use the
//! activation's `bsums`.

use std::arch::aarch64::*;

use super::util::*;
use crate::blocks::*;

/// `v >> s` per byte for the shifts used by 2-bit fields.
#[target_feature(enable = "neon")]
#[inline]
fn shr2(v: uint8x16_t, s: usize) -> uint8x16_t {
    match s {
        0 => v,
        2 => vshrq_n_u8::<2>(v),
        4 => vshrq_n_u8::<4>(v),
        _ => vshrq_n_u8::<6>(v),
    }
}

/// Activation bytes `16i..16i+16` of a Q8_K block.
#[target_feature(enable = "neon")]
#[inline]
fn q8(x: &BlockQ8_K, i: usize) -> int8x16_t {
    load_i8(chunk16(&x.qs, i))
}

/// Q2_K · Q8_K.
///
/// # Safety
/// The CPU must support NEON, and dotprod when `DP`.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_q2_k_q8_k<const DP: bool>(w: &[BlockQ2_K], x: &[BlockQ8_K]) -> f32 {
    let m3 = vdupq_n_u8(3);
    let mut sum = 0.0f32;
    for (w, x) in w.iter().zip(x) {
        let mut summ = 0i32;
        for (is, &sc) in w.scales.iter().enumerate() {
            summ += i32::from(sc >> 4) * i32::from(x.bsums[is].get());
        }
        let mut acc = vdupq_n_s32(0);
        for h in 0..2 {
            let bits = [load_u8(chunk16(&w.qs, 2 * h)), load_u8(chunk16(&w.qs, 2 * h + 1))];
            for g in 0..4 {
                for (k, &b) in bits.iter().enumerate() {
                    let is = 8 * h + 2 * g + k;
                    let q = vreinterpretq_s8_u8(vandq_u8(shr2(b, 2 * g), m3));
                    let p = dot_i8::<DP>(vdupq_n_s32(0), q, q8(x, is));
                    acc = vmlaq_n_s32(acc, p, i32::from(w.scales[is] & 0xf));
                }
            }
        }
        let dx = x.d.get();
        sum += dx * w.d.to_f32() * vaddvq_s32(acc) as f32 - dx * w.dmin.to_f32() * summ as f32;
    }
    sum
}

/// Q3_K · Q8_K.
///
/// # Safety
/// The CPU must support NEON, and dotprod when `DP`.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_q3_k_q8_k<const DP: bool>(w: &[BlockQ3_K], x: &[BlockQ8_K]) -> f32 {
    let m3 = vdupq_n_u8(3);
    let four = vdupq_n_u8(4);
    let mut sum = 0.0f32;
    for (w, x) in w.iter().zip(x) {
        let scales = scales_q3_k(&w.scales);
        let hmask = [load_u8(chunk16(&w.hmask, 0)), load_u8(chunk16(&w.hmask, 1))];
        let mut acc = vdupq_n_s32(0);
        for h in 0..2 {
            let bits = [load_u8(chunk16(&w.qs, 2 * h)), load_u8(chunk16(&w.qs, 2 * h + 1))];
            for g in 0..4 {
                let m = vdupq_n_u8(1 << (4 * h + g));
                for k in 0..2 {
                    let is = 8 * h + 2 * g + k;
                    let lo = vandq_u8(shr2(bits[k], 2 * g), m3);
                    // 4 where the high bit is clear
                    let off = vbicq_u8(four, vtstq_u8(hmask[k], m));
                    let q = vsubq_s8(vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(off));
                    let p = dot_i8::<DP>(vdupq_n_s32(0), q, q8(x, is));
                    acc = vmlaq_n_s32(acc, p, i32::from(scales[is]));
                }
            }
        }
        sum += x.d.get() * w.d.to_f32() * vaddvq_s32(acc) as f32;
    }
    sum
}
