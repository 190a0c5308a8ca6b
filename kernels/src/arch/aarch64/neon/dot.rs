//! NEON dot products of float rows, and the block helpers of the 32-element types (their
//! row dots share the arithmetic of the batch kernels in `mat.rs`).

use std::arch::aarch64::*;
use std::arch::asm;

use super::util::*;
use crate::blocks::*;

/// Sums four float accumulators.
#[target_feature(enable = "neon")]
#[inline]
fn hsum4(acc: [float32x4_t; 4]) -> f32 {
    vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])))
}

/// F32 · F32.
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_f32(w: &[F32Le], x: &[F32Le]) -> f32 {
    let n = w.len().min(x.len());
    let (wp, xp) = (w.as_ptr().cast::<f32>(), x.as_ptr().cast::<f32>());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    while i + 16 <= n {
        for (k, a) in acc.iter_mut().enumerate() {
            // SAFETY: i + 4k + 4 <= n, within both slices; NEON loads are unaligned.
            let (vw, vx) = unsafe { (vld1q_f32(wp.add(i + 4 * k)), vld1q_f32(xp.add(i + 4 * k))) };
            *a = vfmaq_f32(*a, vw, vx);
        }
        i += 16;
    }
    let mut sum = hsum4(acc);
    for j in i..n {
        sum += w[j].get() * x[j].get();
    }
    sum
}

/// 4 f16 → 4 f32 (`fcvtl`; the f16 vector types are not stable Rust).
#[target_feature(enable = "neon")]
#[inline]
fn cvt_f16x4(h: uint16x4_t) -> float32x4_t {
    let out: float32x4_t;
    // SAFETY: `fcvtl` converts one vector register into another and touches nothing else;
    // it is part of base AArch64 Advanced SIMD.
    unsafe {
        asm!("fcvtl {o:v}.4s, {i:v}.4h", o = lateout(vreg) out, i = in(vreg) h, options(pure, nomem, nostack, preserves_flags));
    }
    out
}

/// 8 halves at any alignment.
#[target_feature(enable = "neon")]
#[inline]
fn load_u16x8<T: bytemuck::Pod>(p: &[T]) -> uint16x8_t {
    const { assert!(size_of::<T>() == 2) };
    let p: &[T; 8] = p.first_chunk().expect("8 halves");
    // SAFETY: reads the 16 bytes of `p`; NEON loads are unaligned.
    unsafe { vld1q_u16(p.as_ptr().cast()) }
}

/// F16 · F16.
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_f16(w: &[F16Le], x: &[F16Le]) -> f32 {
    let n = w.len().min(x.len());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    while i + 16 <= n {
        for k in 0..2 {
            let (hw, hx) = (load_u16x8(&w[i + 8 * k..]), load_u16x8(&x[i + 8 * k..]));
            acc[2 * k] = vfmaq_f32(acc[2 * k], cvt_f16x4(vget_low_u16(hw)), cvt_f16x4(vget_low_u16(hx)));
            acc[2 * k + 1] =
                vfmaq_f32(acc[2 * k + 1], cvt_f16x4(vget_high_u16(hw)), cvt_f16x4(vget_high_u16(hx)));
        }
        i += 16;
    }
    let mut sum = hsum4(acc);
    for j in i..n {
        sum += w[j].to_f32() * x[j].to_f32();
    }
    sum
}

/// BF16 · BF16.
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_bf16(w: &[Bf16Le], x: &[Bf16Le]) -> f32 {
    let n = w.len().min(x.len());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    while i + 16 <= n {
        for k in 0..2 {
            let (hw, hx) = (load_u16x8(&w[i + 8 * k..]), load_u16x8(&x[i + 8 * k..]));
            let wl = vreinterpretq_f32_u32(vshll_n_u16::<16>(vget_low_u16(hw)));
            let wh = vreinterpretq_f32_u32(vshll_high_n_u16::<16>(hw));
            let xl = vreinterpretq_f32_u32(vshll_n_u16::<16>(vget_low_u16(hx)));
            let xh = vreinterpretq_f32_u32(vshll_high_n_u16::<16>(hx));
            acc[2 * k] = vfmaq_f32(acc[2 * k], wl, xl);
            acc[2 * k + 1] = vfmaq_f32(acc[2 * k + 1], wh, xh);
        }
        i += 16;
    }
    let mut sum = hsum4(acc);
    for j in i..n {
        sum += w[j].to_f32() * x[j].to_f32();
    }
    sum
}

/// Low and high nibbles of 16 bytes (elements 0..16 and 16..32 of a block).
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn nibbles(qs: &[u8; 16]) -> (uint8x16_t, uint8x16_t) {
    let v = load_u8(qs);
    (vandq_u8(v, vdupq_n_u8(0x0f)), vshrq_n_u8::<4>(v))
}

/// 0x10 where bit `j` of the little-endian `qh` is set, for elements 0..16 and 16..32.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn fifth_bits(qh: [u8; 4]) -> (uint8x16_t, uint8x16_t) {
    const BITS: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
    let mask = load_u8(&BITS);
    let lo = vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1]));
    let hi = vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3]));
    let m = vdupq_n_u8(0x10);
    (vandq_u8(vtstq_u8(lo, mask), m), vandq_u8(vtstq_u8(hi, mask), m))
}

/// Σ over a block of 32: `lo · x[0..16] + hi · x[16..32]`.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn block_dot<const DP: bool>(lo: int8x16_t, hi: int8x16_t, x: &[i8; 32]) -> int32x4_t {
    let p = dot_i8::<DP>(vdupq_n_s32(0), lo, load_i8(chunk16(x, 0)));
    dot_i8::<DP>(p, hi, load_i8(chunk16(x, 1)))
}
