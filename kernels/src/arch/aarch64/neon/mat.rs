//! NEON multi-row × multi-token kernels of the 32-element block types on the file's
//! row-major layout (decode and small batches), and the row dots of the same types computed
//! the same way.
//!
//! **The arithmetic of one (row, token).** Per block, the integer dot `s = Σ q_w q_x` is exact
//! (`sdot` or widening multiplies give the same i32); weight offsets are applied to the
//! unpacked quants (`q − 8` for Q4_0, `q − 16` for Q5_0), which gives the same integer as
//! folding them in afterwards. Then, over the blocks in order, from 0:
//! `acc = fma(f32(d_w) · d_x, f32(s), acc)`, plus `acc = fma(m_w, s_x, acc)` for the types
//! with a min (Q4_1, Q5_1). The row dot and these kernels both follow it, so a token's
//! result does not depend on how many tokens share the call or where it sits.
//!
//! **Lanes.** A tile is two q registers, 8 (row, token) pairs: `8 / G` rows × `G` tokens,
//! lane `i·G + j`, with `G` ∈ {1, 2, 4, 8} (1 for decode). Per block, each pair's 4-lane
//! integer partial is reduced into its lane (pairwise adds); the scales of the 8 pairs form
//! two vectors, so the float work is shared by 8 pairs. A weight block is unpacked once per
//! row and used for its `G` tokens.

use crate::out_tile::OutTile;
use std::arch::aarch64::*;

use super::dot::{block_dot, fifth_bits, nibbles};
use super::util::*;
use crate::blocks::*;
use crate::dispatch::XBatch;

/// A 32-element weight block unpacked: its quants as signed bytes (offset applied), its
/// scale and its min (0 when none).
#[derive(Clone, Copy)]
pub(super) struct W32 {
    lo: int8x16_t,
    hi: int8x16_t,
    d: f32,
    m: f32,
}

/// The type-specific parts of a 32-element block kernel.
pub(super) struct Q32<W, X, FU, FX> {
    /// Whether the type has a min (`x = d·q + m`, against the activation's `s`).
    pub min: bool,
    /// Unpacks a weight block (once per block and row, shared by the tokens).
    pub unpack: FU,
    /// The quants of an activation block and its `(d, s)` (`s` 0 when none).
    pub xq: FX,
    pub _types: std::marker::PhantomData<fn(&W, &X)>,
}

/// `[Σ p[0], Σ p[1], Σ p[2], Σ p[3]]`: four 4-lane partials reduced into one lane each.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn reduce4(p: &[int32x4_t]) -> int32x4_t {
    vpaddq_s32(vpaddq_s32(p[0], p[1]), vpaddq_s32(p[2], p[3]))
}

/// 8 floats as two vectors.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn load_f32x8(v: &[f32; 8]) -> [float32x4_t; 2] {
    // SAFETY: reads the 8 floats of `v`; NEON loads have no alignment requirement.
    unsafe { [vld1q_f32(v.as_ptr()), vld1q_f32(v.as_ptr().add(4))] }
}

/// 4 floats at the start of `p` (which must hold them).
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn load_f32x4(p: &[f32]) -> float32x4_t {
    let p: &[f32; 4] = p.first_chunk().expect("4 floats");
    // SAFETY: reads the 4 floats of `p`; NEON loads have no alignment requirement.
    unsafe { vld1q_f32(p.as_ptr()) }
}

/// The side values of the `G` tokens starting at `p[0]`, repeated over the rows of a tile
/// (lane `i·G + j` gets `p[j]`).
#[target_feature(enable = "neon")]
#[inline]
fn side8<const G: usize>(p: &[f32]) -> [float32x4_t; 2] {
    match G {
        1 => [vdupq_n_f32(p[0]); 2],
        2 => {
            let p: &[f32; 2] = p.first_chunk().expect("2 floats");
            // SAFETY: reads the 2 floats of `p`; NEON loads have no alignment requirement.
            let v = unsafe { vld1_f32(p.as_ptr()) };
            [vcombine_f32(v, v); 2]
        }
        4 => [load_f32x4(p); 2],
        _ => [load_f32x4(p), load_f32x4(&p[4..])],
    }
}

/// Writes the valid lanes of `acc` (rows `q + i·span`, tokens `c0..c0 + valid`) to the
/// `[t - t0][row]` tile.
#[target_feature(enable = "neon")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn store_lanes<const G: usize>(
    acc: [float32x4_t; 2],
    q: usize,
    span: usize,
    rows: usize,
    c0: usize,
    valid: usize,
    t0: usize,
    out: &mut OutTile<'_>,
) {
    let mut v = [0f32; 8];
    // SAFETY: writes the 8 floats of `v`; NEON stores have no alignment requirement.
    unsafe {
        vst1q_f32(v.as_mut_ptr(), acc[0]);
        vst1q_f32(v.as_mut_ptr().add(4), acc[1]);
    }
    crate::arch::tile::scatter::<G>(&v, q, span, rows, c0, valid, t0, out);
}

/// Rows × tokens `c0..c0 + valid` (`valid <= G`, `c0 % 8 == 0`) of a 32-element block type.
///
/// The `8 / G` rows of a tile are `span` rows apart: each lane walks its own contiguous run
/// of rows front to back, so the weights are read as `8 / G` long sequential streams.
#[target_feature(enable = "neon")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn group32<W, X, FU, FX, const DP: bool, const G: usize>(
    k: &Q32<W, X, FU, FX>,
    w: &[W],
    nb: usize,
    x: &[X],
    xb: &XBatch<'_>,
    c0: usize,
    valid: usize,
    t0: usize,
    out: &mut OutTile<'_>,
) where
    FU: Fn(&W) -> W32,
    FX: Fn(&X) -> (&[i8; 32], f32, f32),
{
    let rr = 8 / G;
    let rows = w.len() / nb;
    let span = rows.div_ceil(rr);
    let ld = xb.ld;
    let xs: [&[X]; G] = std::array::from_fn(|j| {
        let t = c0 + j.min(valid - 1);
        &x[t * nb..(t + 1) * nb]
    });
    let dx = &xb.d[c0..];
    let sx = if k.min { &xb.s[c0..] } else { &[][..] };
    for q in 0..span {
        let ws: [&[W]; 8] = std::array::from_fn(|i| {
            let ri = crate::arch::tile::strided_row(q, i, span, rows);
            &w[ri * nb..(ri + 1) * nb]
        });
        let mut acc = [vdupq_n_f32(0.0); 2];
        for b in 0..nb {
            let mut parts = [vdupq_n_s32(0); 8];
            let mut wd = [0f32; 8];
            let mut wm = [0f32; 8];
            for i in 0..rr {
                let u = (k.unpack)(&ws[i][b]);
                for j in 0..G {
                    parts[i * G + j] = block_dot::<DP>(u.lo, u.hi, (k.xq)(&xs[j][b]).0);
                    wd[i * G + j] = u.d;
                    wm[i * G + j] = u.m;
                }
            }
            let s = [reduce4(&parts[..4]), reduce4(&parts[4..])];
            let dxv = side8::<G>(&dx[b * ld..]);
            let wdv = load_f32x8(&wd);
            for (h, acc) in acc.iter_mut().enumerate() {
                *acc = vfmaq_f32(*acc, vmulq_f32(wdv[h], dxv[h]), vcvtq_f32_s32(s[h]));
            }
            if k.min {
                let sxv = side8::<G>(&sx[b * ld..]);
                let wmv = load_f32x8(&wm);
                for (h, acc) in acc.iter_mut().enumerate() {
                    *acc = vfmaq_f32(*acc, wmv[h], sxv[h]);
                }
            }
        }
        store_lanes::<G>(acc, q, span, rows, c0, valid, t0, out);
    }
}

/// All rows of `w` × tokens `t0..t1` of a 32-element block type into the `[t - t0][row]` tile.
#[target_feature(enable = "neon")]
#[inline]
fn mat32<W, X, FU, FX, const DP: bool>(
    k: Q32<W, X, FU, FX>,
    w: &[W],
    x: &[X],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
) where
    FU: Fn(&W) -> W32,
    FX: Fn(&X) -> (&[i8; 32], f32, f32),
{
    let nb = xb.row_bytes / size_of::<X>();
    if nb == 0 || w.is_empty() {
        return;
    }
    let mut c0 = t0;
    while c0 < t1 {
        let valid = (t1 - c0).min(8);
        match valid.next_power_of_two() {
            1 => group32::<W, X, FU, FX, DP, 1>(&k, w, nb, x, xb, c0, valid, t0, out),
            2 => group32::<W, X, FU, FX, DP, 2>(&k, w, nb, x, xb, c0, valid, t0, out),
            4 => group32::<W, X, FU, FX, DP, 4>(&k, w, nb, x, xb, c0, valid, t0, out),
            _ => group32::<W, X, FU, FX, DP, 8>(&k, w, nb, x, xb, c0, valid, t0, out),
        }
        c0 += 8;
    }
}

/// The row dot of a 32-element block type with the same arithmetic as [`mat32`].
#[target_feature(enable = "neon")]
#[inline]
fn dot32<W, X, FU, FX, const DP: bool>(k: Q32<W, X, FU, FX>, w: &[W], x: &[X]) -> f32
where
    FU: Fn(&W) -> W32,
    FX: Fn(&X) -> (&[i8; 32], f32, f32),
{
    let mut acc = 0f32;
    for (wb, xb) in w.iter().zip(x) {
        let u = (k.unpack)(wb);
        let (qs, dx, sx) = (k.xq)(xb);
        let s = vaddvq_s32(block_dot::<DP>(u.lo, u.hi, qs));
        acc = (u.d * dx).mul_add(s as f32, acc);
        if k.min {
            acc = u.m.mul_add(sx, acc);
        }
    }
    acc
}

/// Quants and `(d, 0)` of a Q8_0 activation block.
#[inline]
fn q8_0_side(x: &BlockQ8_0) -> (&[i8; 32], f32, f32) {
    (&x.qs, x.d.to_f32(), 0.0)
}

/// Quants and `(d, s)` of a Q8_1 activation block.
#[inline]
fn q8_1_side(x: &BlockQ8_1) -> (&[i8; 32], f32, f32) {
    (&x.qs, x.d.to_f32(), x.s.to_f32())
}

/// Q4_0 / Q4_1 quants (0..16), minus `off`.
#[target_feature(enable = "neon")]
#[inline]
fn q4_quants(qs: &[u8; 16], off: i8) -> (int8x16_t, int8x16_t) {
    let (lo, hi) = nibbles(qs);
    let off = vdupq_n_s8(off);
    (vsubq_s8(vreinterpretq_s8_u8(lo), off), vsubq_s8(vreinterpretq_s8_u8(hi), off))
}

/// Q5_0 / Q5_1 quants (0..32), minus `off`.
#[target_feature(enable = "neon")]
#[inline]
fn q5_quants(qs: &[u8; 16], qh: [u8; 4], off: i8) -> (int8x16_t, int8x16_t) {
    let (lo, hi) = nibbles(qs);
    let (hlo, hhi) = fifth_bits(qh);
    let off = vdupq_n_s8(off);
    (
        vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, hlo)), off),
        vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(hi, hhi)), off),
    )
}

macro_rules! q32_kernels {
    ($(#[$doc:meta])* $mat:ident, $dot:ident, $w:ty, $x:ty, $k:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The CPU must support NEON, and dotprod when `DP`.
        #[target_feature(enable = "neon")]
        pub(crate) unsafe fn $mat<const DP: bool>(
            w: &[$w],
            x: &[$x],
            xb: &XBatch<'_>,
            t0: usize,
            t1: usize,
            out: &mut $crate::out_tile::OutTile<'_>,
        ) {
            mat32::<_, _, _, _, DP>($k, w, x, xb, t0, t1, out)
        }

        /// The row dot with the arithmetic of the batch kernel.
        ///
        /// # Safety
        /// The CPU must support NEON, and dotprod when `DP`.
        #[target_feature(enable = "neon")]
        pub(crate) unsafe fn $dot<const DP: bool>(w: &[$w], x: &[$x]) -> f32 {
            dot32::<_, _, _, _, DP>($k, w, x)
        }
    };
}

q32_kernels!(
    /// Q4_0 weight rows × Q8_0 tokens.
    mat_q4_0,
    dot_q4_0_q8_0,
    BlockQ4_0,
    BlockQ8_0,
    Q32 {
        min: false,
        unpack: |w: &BlockQ4_0| {
            let (lo, hi) = q4_quants(&w.qs, 8);
            W32 { lo, hi, d: w.d.to_f32(), m: 0.0 }
        },
        xq: q8_0_side,
        _types: std::marker::PhantomData,
    }
);
q32_kernels!(
    /// Q4_1 weight rows × Q8_1 tokens.
    mat_q4_1,
    dot_q4_1_q8_1,
    BlockQ4_1,
    BlockQ8_1,
    Q32 {
        min: true,
        unpack: |w: &BlockQ4_1| {
            let (lo, hi) = q4_quants(&w.qs, 0);
            W32 { lo, hi, d: w.d.to_f32(), m: w.m.to_f32() }
        },
        xq: q8_1_side,
        _types: std::marker::PhantomData,
    }
);
q32_kernels!(
    /// Q5_0 weight rows × Q8_0 tokens.
    mat_q5_0,
    dot_q5_0_q8_0,
    BlockQ5_0,
    BlockQ8_0,
    Q32 {
        min: false,
        unpack: |w: &BlockQ5_0| {
            let (lo, hi) = q5_quants(&w.qs, w.qh, 16);
            W32 { lo, hi, d: w.d.to_f32(), m: 0.0 }
        },
        xq: q8_0_side,
        _types: std::marker::PhantomData,
    }
);
q32_kernels!(
    /// Q5_1 weight rows × Q8_1 tokens.
    mat_q5_1,
    dot_q5_1_q8_1,
    BlockQ5_1,
    BlockQ8_1,
    Q32 {
        min: true,
        unpack: |w: &BlockQ5_1| {
            let (lo, hi) = q5_quants(&w.qs, w.qh, 0);
            W32 { lo, hi, d: w.d.to_f32(), m: w.m.to_f32() }
        },
        xq: q8_1_side,
        _types: std::marker::PhantomData,
    }
);
q32_kernels!(
    /// Q8_0 weight rows × Q8_0 tokens (exact for every byte: signed × signed products).
    mat_q8_0,
    dot_q8_0_q8_0,
    BlockQ8_0,
    BlockQ8_0,
    Q32 {
        min: false,
        unpack: |w: &BlockQ8_0| W32 {
            lo: load_i8(chunk16(&w.qs, 0)),
            hi: load_i8(chunk16(&w.qs, 1)),
            d: w.d.to_f32(),
            m: 0.0,
        },
        xq: q8_0_side,
        _types: std::marker::PhantomData,
    }
);
