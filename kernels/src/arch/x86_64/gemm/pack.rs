//! The packed layout of the prefill GEMM and its packers: strips of 8 weight rows,
//! row-interleaved so that a register lane is a row. The same for every instruction set
//! (only Q8_0's sign convention is the inner dot's choice, [`pack_q8_0`]).
//!
//! **32-element block types** (per block, [`block_bytes`], 8 rows): 8 registers of quants,
//! register `k` holding bytes `4k..4k + 4` of each row (row `r` at byte `4r`), unpacked to
//! unsigned bytes (Q4: 0..16, Q5: 0..32; Q8_0 signed or `w + 128`); then the 8 rows' scales
//! as f32; then (Q4_1, Q5_1) the 8 mins as f32. Each token's 4 activation bytes are
//! broadcast and one multiply-add gives all 8 rows at once: no horizontal sums, and the
//! per-block float work is shared by the 8 rows.
//!
//! **K-quants** (per super-block, [`superblock_bytes`]): 8 sub-blocks × 8 registers of
//! unsigned quants (register `k` of a sub-block holds bytes `4k..4k + 4` of each row), the
//! sub-block scales as i16 pairs per row lane (for `madd`), the mins (Q4_K, Q5_K) or the
//! scale pairs that fold Q6_K's −32 offset, and `d` / `dmin` as f32 ([`off`]).

use std::arch::x86_64::*;

use super::super::avx2::mat::f16x8;
use super::super::avx2::mat_k::{q4_k_quants, q5_k_quants, q6_k_quants};
use super::super::avx2::util::*;
use crate::blocks::*;

/// Rows per strip.
pub(crate) const STRIP: usize = 8;
/// Tokens per micro-tile.
pub(crate) const TILE_TOKENS: usize = 4;

/// The activation block `b` of token `t` as its 32 quants.
pub(crate) type Qs = [i8; 32];

/// Packed bytes per 32-element block of a strip: 256 quant bytes, 8 scales (+ 8 mins).
pub(crate) const fn block_bytes(has_min: bool) -> usize {
    256 + 32 + if has_min { 32 } else { 0 }
}

/// Packed bytes of `rows × cols` of a 32-element type (rows rounded up to whole strips).
const fn packed_bytes32(rows: usize, cols: usize, has_min: bool) -> usize {
    rows.div_ceil(STRIP) * (cols / QK) * block_bytes(has_min)
}

/// Offsets inside a packed K-quant super-block of a strip.
pub(crate) mod off {
    /// 8 sub-blocks × 8 registers of quants.
    pub const QS: usize = 0;
    /// Sub-block scales as i16 pairs per lane: 8 (Q4_K/Q5_K) or 16 (Q6_K) registers.
    pub const SC: usize = 2048;
    /// Q4_K/Q5_K: mins as i16 pairs per lane (8 registers).
    pub const MIN: usize = SC + 256;
    /// Q4_K/Q5_K: d, then dmin (8 f32 each).
    pub const D4: usize = MIN + 256;
    /// Q4_K/Q5_K: bytes per super-block.
    pub const SIZE4: usize = D4 + 64;
    /// Q6_K: scale pairs `(sc_2p, sc_2p+1)` per lane (8 registers).
    pub const OFF6: usize = SC + 512;
    /// Q6_K: d (8 f32).
    pub const D6: usize = OFF6 + 256;
    /// Q6_K: bytes per super-block.
    pub const SIZE6: usize = D6 + 32;
}

/// Packed bytes per K-quant super-block of a strip (`bits` 4, 5: Q4_K, Q5_K; 6: Q6_K).
pub(crate) const fn superblock_bytes(bits: u32) -> usize {
    if bits == 6 { off::SIZE6 } else { off::SIZE4 }
}

/// Packed bytes of `rows × cols` of a K-quant type.
const fn packed_bytes_k(rows: usize, cols: usize, bits: u32) -> usize {
    rows.div_ceil(STRIP) * (cols / QK_K) * superblock_bytes(bits)
}

/// Bytes `4p..4p + 4` of a Q8_K block's bsums (i16 pair `2p, 2p + 1`) as i8s for [`bcast4`].
#[inline]
pub(crate) fn bs_i8(b: &[u8; 32], p: usize) -> &[i8] {
    bytemuck::cast_slice(&b[4 * p..4 * p + 4])
}

/// Packs the rows of `w` (`rows × nb` blocks) strip by strip into `dst`; missing rows of
/// the last strip repeat its last row.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn pack32<W>(
    w: &[W],
    nb: usize,
    has_min: bool,
    dst: &mut [u8],
    unpack: impl Fn(&W) -> __m256i,
    scale: impl Fn(&W) -> (u16, u16),
) {
    let rows = w.len() / nb;
    let bb = block_bytes(has_min);
    for (s, strip) in dst.chunks_exact_mut(nb * bb).enumerate().take(rows.div_ceil(STRIP)) {
        let ws: [&[W]; STRIP] = std::array::from_fn(|i| {
            let r = (s * STRIP + i).min(rows - 1);
            &w[r * nb..(r + 1) * nb]
        });
        for (b, blk) in strip.chunks_exact_mut(bb).enumerate() {
            let q = transpose8(std::array::from_fn(|i| unpack(&ws[i][b])));
            for (k, v) in q.into_iter().enumerate() {
                store_bytes(&mut blk[32 * k..], v);
            }
            let sc: [(u16, u16); STRIP] = std::array::from_fn(|i| scale(&ws[i][b]));
            store_f32x8(&mut blk[256..], f16x8(sc.map(|s| s.0)));
            if has_min {
                store_f32x8(&mut blk[288..], f16x8(sc.map(|s| s.1)));
            }
        }
    }
}

macro_rules! pack32_kernels {
    ($(#[$doc:meta])* $pack:ident, $bytes:ident, $w:ty, $has_min:expr, $unpack:expr, $scale:expr) => {
        /// Packed bytes of `rows × cols`.
        pub(crate) fn $bytes(rows: usize, cols: usize) -> usize {
            packed_bytes32(rows, cols, $has_min)
        }

        $(#[$doc])*
        ///
        /// # Safety
        /// The CPU must support AVX2, FMA and F16C.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(crate) unsafe fn $pack(w: &[$w], nb: usize, dst: &mut [u8]) {
            pack32(w, nb, $has_min, dst, $unpack, $scale)
        }
    };
}

pack32_kernels!(
    /// Packs Q4_0 rows (nibbles unsigned).
    pack_q4_0, packed_bytes_q4_0, BlockQ4_0, false,
    |w: &BlockQ4_0| nibbles_32(&w.qs),
    |w: &BlockQ4_0| (w.d.bits(), 0)
);
pack32_kernels!(
    /// Packs Q4_1 rows (nibbles unsigned, mins).
    pack_q4_1, packed_bytes_q4_1, BlockQ4_1, true,
    |w: &BlockQ4_1| nibbles_32(&w.qs),
    |w: &BlockQ4_1| (w.d.bits(), w.m.bits())
);
pack32_kernels!(
    /// Packs Q5_0 rows (5-bit quants unsigned).
    pack_q5_0, packed_bytes_q5_0, BlockQ5_0, false,
    |w: &BlockQ5_0| q5_quants(&w.qs, &w.qh),
    |w: &BlockQ5_0| (w.d.bits(), 0)
);
pack32_kernels!(
    /// Packs Q5_1 rows (5-bit quants unsigned, mins).
    pack_q5_1, packed_bytes_q5_1, BlockQ5_1, true,
    |w: &BlockQ5_1| q5_quants(&w.qs, &w.qh),
    |w: &BlockQ5_1| (w.d.bits(), w.m.bits())
);

/// Packed bytes of Q8_0 rows.
pub(crate) fn packed_bytes_q8_0(rows: usize, cols: usize) -> usize {
    packed_bytes32(rows, cols, false)
}

/// Packs Q8_0 rows signed (`SHIFT` 0) or as unsigned `w + 128` (`SHIFT` 7), as the inner
/// dot's [`TileDot::Q8_0_SHIFT`](super::TileDot::Q8_0_SHIFT) says.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn pack_q8_0<const SHIFT: u32>(w: &[BlockQ8_0], nb: usize, dst: &mut [u8]) {
    const { assert!(SHIFT == 0 || SHIFT == 7) };
    let unpack = |w: &BlockQ8_0| {
        let q = load32(&w.qs);
        if SHIFT == 7 { _mm256_xor_si256(q, _mm256_set1_epi8(-128)) } else { q }
    };
    pack32(w, nb, false, dst, unpack, |w: &BlockQ8_0| (w.d.bits(), 0))
}

/// An i16 value repeated in both halves of an i32 lane.
fn pair(a: i16, b: i16) -> [u8; 4] {
    let [a0, a1] = a.to_le_bytes();
    let [b0, b1] = b.to_le_bytes();
    [a0, a1, b0, b1]
}

/// Writes lane `r` of the pair register `reg` at `dst`.
fn put_pair(dst: &mut [u8], reg: usize, r: usize, v: [u8; 4]) {
    dst[32 * reg + 4 * r..32 * reg + 4 * r + 4].copy_from_slice(&v);
}

/// Packs 8 rows' unpacked sub-block registers (`q[row][sub]`) at `dst[QS..]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn pack_quants(q: &[[__m256i; 8]; STRIP], dst: &mut [u8]) {
    for j in 0..8 {
        let t = transpose8(std::array::from_fn(|r| q[r][j]));
        for (k, v) in t.into_iter().enumerate() {
            store_bytes(&mut dst[off::QS + 256 * j + 32 * k..], v);
        }
    }
}

/// Q4_K/Q5_K super-blocks of 8 rows → one packed super-block.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn pack_k4<W>(
    ws: [&W; STRIP],
    dst: &mut [u8],
    unpack: impl Fn(&W) -> [__m256i; 8],
    parts: impl Fn(&W) -> (&[u8; 12], u16, u16),
) {
    pack_quants(&ws.map(&unpack), dst);
    for (r, w) in ws.iter().enumerate() {
        let (sc, m) = scales_mins_k4(parts(w).0);
        for j in 0..8 {
            put_pair(&mut dst[off::SC..], j, r, pair(i16::from(sc[j]), i16::from(sc[j])));
            put_pair(&mut dst[off::MIN..], j, r, pair(i16::from(m[j]), i16::from(m[j])));
        }
    }
    let p = ws.map(&parts);
    store_f32x8(&mut dst[off::D4..], f16x8(p.map(|p| p.1)));
    store_f32x8(&mut dst[off::D4 + 32..], f16x8(p.map(|p| p.2)));
}

/// Q6_K super-blocks of 8 rows → one packed super-block.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn pack_q6k(ws: [&BlockQ6_K; STRIP], dst: &mut [u8]) {
    pack_quants(&ws.map(|w| q6_k_quants(w)), dst);
    for (r, w) in ws.iter().enumerate() {
        let sc = w.scales.map(i16::from);
        for (i, &s) in sc.iter().enumerate() {
            put_pair(&mut dst[off::SC..], i, r, pair(s, s));
        }
        for p in 0..8 {
            put_pair(&mut dst[off::OFF6..], p, r, pair(sc[2 * p], sc[2 * p + 1]));
        }
    }
    store_f32x8(&mut dst[off::D6..], f16x8(ws.map(|w| w.d.bits())));
}

/// Packs the rows of `w` (`rows × nb` super-blocks) strip by strip into `dst`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn pack_rows<W>(w: &[W], nb: usize, bits: u32, dst: &mut [u8], pack_sb: impl Fn([&W; STRIP], &mut [u8])) {
    let rows = w.len() / nb;
    let sb = superblock_bytes(bits);
    for (s, strip) in dst.chunks_exact_mut(nb * sb).enumerate().take(rows.div_ceil(STRIP)) {
        let rs: [usize; STRIP] = std::array::from_fn(|i| (s * STRIP + i).min(rows - 1));
        for (b, blk) in strip.chunks_exact_mut(sb).enumerate() {
            pack_sb(rs.map(|r| &w[r * nb + b]), blk);
        }
    }
}

/// Packed bytes of Q4_K rows.
pub(crate) fn packed_bytes_q4_k(rows: usize, cols: usize) -> usize {
    packed_bytes_k(rows, cols, 4)
}

/// Packed bytes of Q5_K rows.
pub(crate) fn packed_bytes_q5_k(rows: usize, cols: usize) -> usize {
    packed_bytes_k(rows, cols, 5)
}

/// Packed bytes of Q6_K rows.
pub(crate) fn packed_bytes_q6_k(rows: usize, cols: usize) -> usize {
    packed_bytes_k(rows, cols, 6)
}

/// Packs Q4_K rows.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn pack_q4_k(w: &[BlockQ4_K], nb: usize, dst: &mut [u8]) {
    pack_rows(w, nb, 4, dst, |ws, d| {
        pack_k4(ws, d, |w| q4_k_quants(w), |w: &BlockQ4_K| (&w.scales, w.d.bits(), w.dmin.bits()))
    })
}

/// Packs Q5_K rows.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn pack_q5_k(w: &[BlockQ5_K], nb: usize, dst: &mut [u8]) {
    pack_rows(w, nb, 5, dst, |ws, d| {
        pack_k4(ws, d, |w| q5_k_quants(w), |w: &BlockQ5_K| (&w.scales, w.d.bits(), w.dmin.bits()))
    })
}

/// Packs Q6_K rows.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn pack_q6_k(w: &[BlockQ6_K], nb: usize, dst: &mut [u8]) {
    pack_rows(w, nb, 6, dst, |ws, d| pack_q6k(ws, d))
}
