//! Small NEON building blocks shared by the kernels.

use std::arch::aarch64::*;
use std::arch::asm;

/// 16 bytes at any alignment, as i8.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn load_i8<T: bytemuck::Pod>(a: &[T; 16]) -> int8x16_t {
    const { assert!(size_of::<T>() == 1) };
    // SAFETY: reads exactly the 16 bytes of `a`; NEON loads have no alignment requirement.
    unsafe { vld1q_s8(a.as_ptr().cast()) }
}

/// 16 bytes at any alignment, as u8.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn load_u8<T: bytemuck::Pod>(a: &[T; 16]) -> uint8x16_t {
    const { assert!(size_of::<T>() == 1) };
    // SAFETY: reads exactly the 16 bytes of `a`; NEON loads have no alignment requirement.
    unsafe { vld1q_u8(a.as_ptr().cast()) }
}

/// The `i`-th 16-byte chunk of a byte array.
#[inline]
pub(super) fn chunk16<T, const N: usize>(a: &[T; N], i: usize) -> &[T; 16] {
    &a.as_chunks::<16>().0[i]
}

/// `acc + Σ` of 4 products per lane: `sdot` when `DOTPROD`, else widening multiplies.
/// Both give the same total over the 4 lanes (the per-lane grouping differs).
///
/// With `DOTPROD` the CPU must have the dotprod extension: callers are only reachable
/// through the `neon-dotprod` table, handed out after detecting it.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn dot_i8<const DOTPROD: bool>(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    if DOTPROD {
        let mut acc = acc;
        // SAFETY: `sdot` reads two vector registers and updates a third, nothing else; the
        // dotprod table that instantiates `DOTPROD = true` is only used on CPUs that have it.
        unsafe {
            asm!(
                ".arch_extension dotprod",
                "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
                acc = inout(vreg) acc,
                a = in(vreg) a,
                b = in(vreg) b,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        acc
    } else {
        let lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
        let hi = vmull_high_s8(a, b);
        vaddq_s32(acc, vaddq_s32(vpaddlq_s16(lo), vpaddlq_s16(hi)))
    }
}
