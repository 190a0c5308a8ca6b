//! NEON activation quantizers, bit-identical to the scalar ones (`vcvtnq_s32_f32` rounds
//! half to even, as `round_ties_even`).

use std::arch::aarch64::*;

use bytemuck::Zeroable;

use crate::blocks::*;

/// 32 floats of a block as 8 vectors.
#[target_feature(enable = "neon")]
#[inline]
fn load_f32x32(x: &[f32]) -> [float32x4_t; 8] {
    let x: &[f32; 32] = x.first_chunk().expect("32 floats");
    // SAFETY: lane i reads x[4i..4i+4], within the 32 floats; NEON loads are unaligned.
    std::array::from_fn(|i| unsafe { vld1q_f32(x.as_ptr().add(4 * i)) })
}

/// Largest |v|.
#[target_feature(enable = "neon")]
#[inline]
fn abs_max(v: &[float32x4_t]) -> f32 {
    vmaxvq_f32(v.iter().fold(vdupq_n_f32(0.0), |m, &v| vmaxq_f32(m, vabsq_f32(v))))
}

/// `round_half_even(v · mul)` saturated to i8, 32 lanes, plus their i32 sum.
#[target_feature(enable = "neon")]
#[inline]
fn round_pack(v: &[float32x4_t; 8], mul: f32, out: &mut [i8; 32]) -> i32 {
    let i: [int32x4_t; 8] = std::array::from_fn(|k| vcvtnq_s32_f32(vmulq_n_f32(v[k], mul)));
    let mut sum = 0;
    for k in 0..4 {
        let h = vcombine_s16(vqmovn_s32(i[2 * k]), vqmovn_s32(i[2 * k + 1]));
        let b = vqmovn_s16(h);
        // SAFETY: writes out[8k..8k+8], within the 32 bytes; unaligned store.
        unsafe { vst1_s8(out.as_mut_ptr().add(8 * k), b) };
        sum += vaddvq_s32(vaddq_s32(i[2 * k], i[2 * k + 1]));
    }
    sum
}

/// One Q8_0 block: fills `qs`, returns `(d, Σq)`.
#[target_feature(enable = "neon")]
#[inline]
fn q8_block(x: &[f32], qs: &mut [i8; 32]) -> (f32, i32) {
    let v = load_f32x32(x);
    let amax = abs_max(&v);
    let d = amax / 127.0;
    let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
    let sum = round_pack(&v, id, qs);
    (d, sum)
}

/// f32 → Q8_0.
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
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
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn quantize_q8_1(src: &[f32], dst: &mut [BlockQ8_1]) {
    assert_eq!(src.len(), dst.len() * QK);
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK)) {
        let (d, sum) = q8_block(x, &mut y.qs);
        y.d = F16Le::from_f32(d);
        y.s = F16Le::from_f32(d * sum as f32);
    }
}

/// f32 → Q8_K.
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn quantize_q8_k(src: &[f32], dst: &mut [BlockQ8_K]) {
    assert_eq!(src.len(), dst.len() * QK_K);
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK_K)) {
        let groups: [[float32x4_t; 8]; 8] = std::array::from_fn(|g| load_f32x32(&x[32 * g..]));
        let amax = groups.iter().map(|g| abs_max(g)).fold(0.0f32, f32::max);
        if amax == 0.0 {
            *y = BlockQ8_K::zeroed();
            continue;
        }
        // the first element of largest magnitude, sign kept
        let max = x.iter().copied().find(|v| v.abs() == amax).unwrap_or(amax);
        let iscale = -127.0 / max;
        let qs = y.qs.as_chunks_mut::<32>().0;
        for (g, group) in groups.iter().enumerate() {
            round_pack(group, iscale, &mut qs[g]);
        }
        for (s, q) in y.bsums.iter_mut().zip(y.qs.as_chunks::<16>().0) {
            *s = I16Le::new(vaddlvq_s8(vld1q_s8_safe(q)));
        }
        y.d = F32Le::new(1.0 / iscale);
    }
}

/// 16 i8 from an array.
#[target_feature(enable = "neon")]
#[inline]
fn vld1q_s8_safe(a: &[i8; 16]) -> int8x16_t {
    // SAFETY: reads exactly the 16 bytes of `a`.
    unsafe { vld1q_s8(a.as_ptr()) }
}
