//! NEON multi-row × multi-token kernels of the K-quants (Q4_K, Q5_K, Q6_K with Q8_K
//! activations), and their row dots.
//!
//! **The arithmetic of one (row, token)**, per super-block: the exact integers
//! `S = Σ_sub sc · dot` (Q6_K's −32 offset applied to the unpacked quants) and
//! `M = Σ_sub m · bsum`, then `acc = fma(d_w · d_x, f32(S), acc)` and
//! `acc = fma(−(dmin_w · d_x), f32(M), acc)` — as the AVX2 kernels. The row dot and the
//! batch kernel both follow it, so a token's result does not depend on its batch.
//!
//! **Lanes.** A tile is one row × `G` tokens (`G` ∈ {1, 2, 4, 8}), the lanes of one or two q
//! registers. Each half super-block (128 quants) of the row is unpacked once into 8 vectors
//! and dotted with the `G` tokens; the per-token integer partials are reduced into their
//! lanes once per super-block, and the float work is shared by the lanes.

use crate::out_tile::OutTile;
use std::arch::aarch64::*;

use super::mat::{load_f32x4, reduce4};
use super::util::*;
use crate::blocks::*;
use crate::dispatch::XBatch;

/// The per-super-block values of a K-quant weight block.
#[derive(Clone, Copy)]
pub(super) struct KHead {
    /// Scales: of the 8 sub-blocks of 32 (`paired` types) or of the 16 groups of 16.
    sc: [i32; 16],
    /// Mins of the 8 sub-blocks of 32 (zero when none).
    mins: int16x8_t,
    d: f32,
    dmin: f32,
}

/// The type-specific parts of a K-quant kernel.
pub(super) struct QK<W, FQ, FH> {
    /// Whether the type has mins (the `M` term).
    pub has_min: bool,
    /// Whether scales apply to sub-blocks of 32 (Q4_K, Q5_K) rather than groups of 16 (Q6_K).
    pub paired: bool,
    /// The quants `128h..128h + 128` of a super-block as 8 vectors of signed bytes, offset
    /// applied (once per half super-block and row, shared by the tokens).
    pub quants: FQ,
    /// Scales, mins, `d` and `dmin` of a super-block.
    pub head: FH,
    pub _types: std::marker::PhantomData<fn(&W)>,
}

/// Activation bytes `16i..16i+16` of a Q8_K block.
#[target_feature(enable = "neon")]
#[inline]
fn q8(x: &BlockQ8_K, i: usize) -> int8x16_t {
    load_i8(chunk16(&x.qs, i))
}

/// `acc + Σ sc · dot` over half `h` (unpacked as `q`) of a super-block against `x`.
#[target_feature(enable = "neon")]
#[inline]
fn s_partial<const DP: bool>(
    q: &[int8x16_t; 8],
    h: usize,
    paired: bool,
    sc: &[i32; 16],
    x: &BlockQ8_K,
    mut acc: int32x4_t,
) -> int32x4_t {
    if paired {
        for s in 0..4 {
            let p = dot_i8::<DP>(vdupq_n_s32(0), q[2 * s], q8(x, 8 * h + 2 * s));
            let p = dot_i8::<DP>(p, q[2 * s + 1], q8(x, 8 * h + 2 * s + 1));
            acc = vmlaq_n_s32(acc, p, sc[4 * h + s]);
        }
    } else {
        for (g, &q) in q.iter().enumerate() {
            let p = dot_i8::<DP>(vdupq_n_s32(0), q, q8(x, 8 * h + g));
            acc = vmlaq_n_s32(acc, p, sc[8 * h + g]);
        }
    }
    acc
}

/// The 4-lane partials of `M = Σ_j mins_j · (bsum_2j + bsum_2j+1)`.
#[target_feature(enable = "neon")]
#[inline]
fn m_partial(mins: int16x8_t, x: &BlockQ8_K) -> int32x4_t {
    let b: &[u8; 32] = bytemuck::cast_ref(&x.bsums);
    // SAFETY: reads the 32 bytes of `b` (16 little-endian i16); NEON loads are unaligned.
    let (b0, b1) = unsafe { (vld1q_s16(b.as_ptr().cast()), vld1q_s16(b.as_ptr().add(16).cast())) };
    // |bsum| <= 16 · 127, so the pair sums fit in i16
    let pairs = vpaddq_s16(b0, b1);
    vmlal_high_s16(vmull_s16(vget_low_s16(mins), vget_low_s16(pairs)), mins, pairs)
}

/// `p[i]`, or zero past `G`.
#[target_feature(enable = "neon")]
#[inline]
fn lane_or_zero<const G: usize>(p: &[int32x4_t; G], i: usize) -> int32x4_t {
    if i < G { p[i] } else { vdupq_n_s32(0) }
}

/// Rows × tokens `c0..c0 + valid` (`valid <= G`, `c0 % 8 == 0`) of a K-quant type, one row at
/// a time (rows front to back: one sequential stream).
#[target_feature(enable = "neon")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn group_k<W, FQ, FH, const DP: bool, const G: usize>(
    k: &QK<W, FQ, FH>,
    w: &[W],
    nb: usize,
    x: &[BlockQ8_K],
    xb: &XBatch<'_>,
    c0: usize,
    valid: usize,
    t0: usize,
    out: &mut OutTile<'_>,
) where
    FQ: Fn(&W, usize) -> [int8x16_t; 8],
    FH: Fn(&W) -> KHead,
{
    let rows = w.len() / nb;
    let ld = xb.ld;
    let xs: [&[BlockQ8_K]; G] = std::array::from_fn(|j| {
        let t = c0 + j.min(valid - 1);
        &x[t * nb..(t + 1) * nb]
    });
    let dxs = &xb.d[c0..];
    let nh = G.div_ceil(4);
    for r in 0..rows {
        let mut acc = [vdupq_n_f32(0.0); 2];
        for (b, wb) in w[r * nb..(r + 1) * nb].iter().enumerate() {
            let hd = (k.head)(wb);
            let mut sp = [vdupq_n_s32(0); G];
            for h in 0..2 {
                let q = (k.quants)(wb, h);
                for (sp, xs) in sp.iter_mut().zip(&xs) {
                    *sp = s_partial::<DP>(&q, h, k.paired, &hd.sc, &xs[b], *sp);
                }
            }
            let mut mp = [vdupq_n_s32(0); G];
            if k.has_min {
                for (mp, xs) in mp.iter_mut().zip(&xs) {
                    *mp = m_partial(hd.mins, &xs[b]);
                }
            }
            for (hh, acc) in acc.iter_mut().enumerate().take(nh) {
                let dx = load_f32x4(&dxs[b * ld + 4 * hh..]);
                let s = reduce4(&std::array::from_fn::<_, 4, _>(|i| lane_or_zero(&sp, 4 * hh + i)));
                *acc = vfmaq_f32(*acc, vmulq_n_f32(dx, hd.d), vcvtq_f32_s32(s));
                if k.has_min {
                    let m = reduce4(&std::array::from_fn::<_, 4, _>(|i| lane_or_zero(&mp, 4 * hh + i)));
                    *acc = vfmsq_f32(*acc, vmulq_n_f32(dx, hd.dmin), vcvtq_f32_s32(m));
                }
            }
        }
        let mut v = [0f32; 8];
        // SAFETY: writes the 8 floats of `v`; NEON stores have no alignment requirement.
        unsafe {
            vst1q_f32(v.as_mut_ptr(), acc[0]);
            vst1q_f32(v.as_mut_ptr().add(4), acc[1]);
        }
        for (j, &v) in v.iter().enumerate().take(valid) {
            out.token(c0 + j - t0)[r] = v;
        }
    }
}

/// All rows of `w` × tokens `t0..t1` of a K-quant type into the `[t - t0][row]` tile.
#[target_feature(enable = "neon")]
#[inline]
fn mat_k<W, FQ, FH, const DP: bool>(
    k: QK<W, FQ, FH>,
    w: &[W],
    x: &[BlockQ8_K],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
) where
    FQ: Fn(&W, usize) -> [int8x16_t; 8],
    FH: Fn(&W) -> KHead,
{
    let nb = xb.row_bytes / size_of::<BlockQ8_K>();
    if nb == 0 || w.is_empty() {
        return;
    }
    let mut c0 = t0;
    while c0 < t1 {
        let valid = (t1 - c0).min(8);
        match valid.next_power_of_two() {
            1 => group_k::<W, FQ, FH, DP, 1>(&k, w, nb, x, xb, c0, valid, t0, out),
            2 => group_k::<W, FQ, FH, DP, 2>(&k, w, nb, x, xb, c0, valid, t0, out),
            4 => group_k::<W, FQ, FH, DP, 4>(&k, w, nb, x, xb, c0, valid, t0, out),
            _ => group_k::<W, FQ, FH, DP, 8>(&k, w, nb, x, xb, c0, valid, t0, out),
        }
        c0 += 8;
    }
}

/// The row dot of a K-quant type with the arithmetic of [`mat_k`].
#[target_feature(enable = "neon")]
#[inline]
fn dot_k<W, FQ, FH, const DP: bool>(k: QK<W, FQ, FH>, w: &[W], x: &[BlockQ8_K]) -> f32
where
    FQ: Fn(&W, usize) -> [int8x16_t; 8],
    FH: Fn(&W) -> KHead,
{
    let mut acc = 0f32;
    for (wb, xq) in w.iter().zip(x) {
        let hd = (k.head)(wb);
        let mut s = vdupq_n_s32(0);
        for h in 0..2 {
            s = s_partial::<DP>(&(k.quants)(wb, h), h, k.paired, &hd.sc, xq, s);
        }
        let dx = xq.d.get();
        acc = (hd.d * dx).mul_add(vaddvq_s32(s) as f32, acc);
        if k.has_min {
            let m = vaddvq_s32(m_partial(hd.mins, xq));
            acc = (-(hd.dmin * dx)).mul_add(m as f32, acc);
        }
    }
    acc
}

/// Scales and mins of a Q4_K/Q5_K super-block.
#[target_feature(enable = "neon")]
#[inline]
fn head_k4(scales: &[u8; 12], d: F16Le, dmin: F16Le) -> KHead {
    let (sc, mins) = scales_mins_k4(scales);
    // SAFETY: reads the 8 bytes of `mins`; NEON loads have no alignment requirement.
    let mins = unsafe { vld1_u8(mins.as_ptr()) };
    KHead {
        sc: std::array::from_fn(|i| if i < 8 { i32::from(sc[i]) } else { 0 }),
        mins: vreinterpretq_s16_u16(vmovl_u8(mins)),
        d: d.to_f32(),
        dmin: dmin.to_f32(),
    }
}

/// Q4_K quants (0..16) of half `h`.
#[target_feature(enable = "neon")]
#[inline]
fn q4_k_quants(w: &BlockQ4_K, h: usize) -> [int8x16_t; 8] {
    let m4 = vdupq_n_u8(0xf);
    let b: [uint8x16_t; 4] = std::array::from_fn(|i| load_u8(chunk16(&w.qs, 4 * h + i)));
    // sub-block 4h + 2j + 1 is the high nibbles of sub-block 4h + 2j's bytes
    std::array::from_fn(|v| {
        let (j, hi, k) = (v / 4, (v / 2) % 2 == 1, v % 2);
        let b = b[2 * j + k];
        vreinterpretq_s8_u8(if hi { vshrq_n_u8::<4>(b) } else { vandq_u8(b, m4) })
    })
}

/// Q5_K quants (0..32) of half `h`.
#[target_feature(enable = "neon")]
#[inline]
fn q5_k_quants(w: &BlockQ5_K, h: usize) -> [int8x16_t; 8] {
    let m4 = vdupq_n_u8(0xf);
    let m16 = vdupq_n_u8(0x10);
    let b: [uint8x16_t; 4] = std::array::from_fn(|i| load_u8(chunk16(&w.qs, 4 * h + i)));
    let qh = [load_u8(chunk16(&w.qh, 0)), load_u8(chunk16(&w.qh, 1))];
    std::array::from_fn(|v| {
        // sub-block 4h + s takes its fifth bits from bit 4h + s of `qh`
        let (s, k) = (v / 2, v % 2);
        let (j, hi) = (s / 2, s % 2 == 1);
        let b = b[2 * j + k];
        let low = if hi { vshrq_n_u8::<4>(b) } else { vandq_u8(b, m4) };
        let bit = vdupq_n_u8(1 << (4 * h + s));
        vreinterpretq_s8_u8(vorrq_u8(low, vandq_u8(vtstq_u8(qh[k], bit), m16)))
    })
}

/// Q6_K quants minus 32 (−32..32) of half `h`.
#[target_feature(enable = "neon")]
#[inline]
fn q6_k_quants(w: &BlockQ6_K, h: usize) -> [int8x16_t; 8] {
    let m4 = vdupq_n_u8(0xf);
    let m3 = vdupq_n_u8(3);
    let m32 = vdupq_n_s8(32);
    let ql: [uint8x16_t; 4] = std::array::from_fn(|i| load_u8(chunk16(&w.ql, 4 * h + i)));
    let qh: [uint8x16_t; 2] = std::array::from_fn(|i| load_u8(chunk16(&w.qh, 2 * h + i)));
    let mut q = [vdupq_n_s8(0); 8];
    for k in 0..2 {
        // the four 32-element groups of this half: k selects lanes 0..16 / 16..32
        let g = [
            vorrq_u8(vandq_u8(ql[k], m4), vshlq_n_u8::<4>(vandq_u8(qh[k], m3))),
            vorrq_u8(vandq_u8(ql[2 + k], m4), vshlq_n_u8::<4>(vandq_u8(vshrq_n_u8::<2>(qh[k]), m3))),
            vorrq_u8(vshrq_n_u8::<4>(ql[k]), vshlq_n_u8::<4>(vandq_u8(vshrq_n_u8::<4>(qh[k]), m3))),
            vorrq_u8(vshrq_n_u8::<4>(ql[2 + k]), vshlq_n_u8::<4>(vshrq_n_u8::<6>(qh[k]))),
        ];
        for (i, &g) in g.iter().enumerate() {
            q[2 * i + k] = vsubq_s8(vreinterpretq_s8_u8(g), m32);
        }
    }
    q
}

macro_rules! qk_kernels {
    ($(#[$doc:meta])* $mat:ident, $dot:ident, $w:ty, $k:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The CPU must support NEON, and dotprod when `DP`.
        #[target_feature(enable = "neon")]
        pub(crate) unsafe fn $mat<const DP: bool>(
            w: &[$w],
            x: &[BlockQ8_K],
            xb: &XBatch<'_>,
            t0: usize,
            t1: usize,
            out: &mut $crate::out_tile::OutTile<'_>,
        ) {
            mat_k::<_, _, _, DP>($k, w, x, xb, t0, t1, out)
        }

        /// The row dot with the arithmetic of the batch kernel.
        ///
        /// # Safety
        /// The CPU must support NEON, and dotprod when `DP`.
        #[target_feature(enable = "neon")]
        pub(crate) unsafe fn $dot<const DP: bool>(w: &[$w], x: &[BlockQ8_K]) -> f32 {
            dot_k::<_, _, _, DP>($k, w, x)
        }
    };
}

qk_kernels!(
    /// Q4_K weight rows × Q8_K tokens.
    mat_q4_k,
    dot_q4_k_q8_k,
    BlockQ4_K,
    QK {
        has_min: true,
        paired: true,
        quants: |w: &BlockQ4_K, h| q4_k_quants(w, h),
        head: |w: &BlockQ4_K| head_k4(&w.scales, w.d, w.dmin),
        _types: std::marker::PhantomData,
    }
);
qk_kernels!(
    /// Q5_K weight rows × Q8_K tokens.
    mat_q5_k,
    dot_q5_k_q8_k,
    BlockQ5_K,
    QK {
        has_min: true,
        paired: true,
        quants: |w: &BlockQ5_K, h| q5_k_quants(w, h),
        head: |w: &BlockQ5_K| head_k4(&w.scales, w.d, w.dmin),
        _types: std::marker::PhantomData,
    }
);
qk_kernels!(
    /// Q6_K weight rows × Q8_K tokens.
    mat_q6_k,
    dot_q6_k_q8_k,
    BlockQ6_K,
    QK {
        has_min: false,
        paired: false,
        quants: |w: &BlockQ6_K, h| q6_k_quants(w, h),
        head: |w: &BlockQ6_K| KHead {
            sc: w.scales.map(i32::from),
            mins: vdupq_n_s16(0),
            d: w.d.to_f32(),
            dmin: 0.0,
        },
        _types: std::marker::PhantomData,
    }
);
