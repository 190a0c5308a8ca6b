//! AVX2 prefill GEMM of the 32-element block types: strips of 8 weight rows repacked into a
//! row-interleaved layout, then a register-tiled product of a strip with 4 tokens.
//!
//! **Packed strip** (per 32-element block, `BLOCK32` bytes, 8 rows): 8 registers of quants,
//! register `k` holding bytes `4k..4k + 4` of each row (row `r` at byte `4r`), unpacked to
//! unsigned bytes (Q4: 0..16, Q5: 0..32; Q8_0 stays signed); then the 8 rows' scales as f32;
//! then (Q4_1, Q5_1) the 8 mins as f32. A lane of a register is a row, so each token's
//! 4 activation bytes are broadcast and `maddubs` gives all 8 rows at once: no horizontal
//! sums, and the per-block float work is shared by the 8 rows.
//!
//! The arithmetic per (row, token) is that of `mat.rs` (exact block integers, offsets as
//! integers, then `acc = fma(d_w · d_x, f32(s), acc)` block by block), so prefill, decode and
//! batched decode give identical results. i16 accumulation is bounded: Q4 pairs are at most
//! 2·15·127, eight of them fit; Q5 pairs (2·31·127) are summed four at a time; Q8_0 pairs
//! go to i32 one by one.

use std::arch::x86_64::*;

use super::mat::Extra;
use super::util::*;
use crate::blocks::*;
use crate::dispatch::XBatch;

/// Rows per strip.
pub(super) const STRIP: usize = 8;
/// Tokens per micro-tile.
pub(super) const TILE_TOKENS: usize = 4;
/// Packed bytes per 32-element block of a strip: 256 quant bytes, 8 scales (+ 8 mins).
pub(super) const fn block_bytes(has_min: bool) -> usize {
    256 + 32 + if has_min { 32 } else { 0 }
}

/// Packed bytes of `rows × cols` (rows rounded up to whole strips).
pub(super) const fn packed_bytes32(rows: usize, cols: usize, has_min: bool) -> usize {
    rows.div_ceil(STRIP) * (cols / QK) * block_bytes(has_min)
}

/// Stores a register at `dst[..32]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn store_bytes(dst: &mut [u8], v: __m256i) {
    let dst: &mut [u8; 32] = (&mut dst[..32]).try_into().expect("32 bytes");
    // SAFETY: writes exactly the 32 bytes of `dst`; unaligned store.
    unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) }
}

/// Stores 8 floats at `dst[..32]` (bytes).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn store_f32x8(dst: &mut [u8], v: __m256) {
    store_bytes(dst, _mm256_castps_si256(v))
}

/// Loads 32 bytes at `src[..32]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn load_bytes(src: &[u8]) -> __m256i {
    let src: &[u8; 32] = src[..32].try_into().expect("32 bytes");
    load32(src)
}

/// Loads 8 floats at `src[..32]` (bytes).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn load_f32x8(src: &[u8]) -> __m256 {
    _mm256_castsi256_ps(load_bytes(src))
}

/// 4 activation bytes broadcast to every lane.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn bcast4(q: &[i8]) -> __m256i {
    let q: &[i8; 4] = q[..4].try_into().expect("4 bytes");
    _mm256_set1_epi32(i32::from_le_bytes(q.map(|b| b as u8)))
}

/// Packs the rows of `w` (`rows × nb` blocks) strip by strip into `dst`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn pack32<W>(
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
            let d = super::mat::f16x8(sc.map(|s| s.0));
            store_f32x8(&mut blk[256..], d);
            if has_min {
                store_f32x8(&mut blk[288..], super::mat::f16x8(sc.map(|s| s.1)));
            }
        }
    }
}

/// The activation block `b` of token `t` as its 32 quants.
pub(super) type Qs = [i8; 32];

/// One strip × up to 4 tokens over all blocks: 4 registers of 8 row results. `BITS` and
/// `KIND` (0: signed, 3 or 4: offset shift, 255: min) are constants so each type gets its
/// own fully unrolled loop.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn tile32<X, const BITS: u32, const KIND: u32>(
    strip: &[u8],
    nb: usize,
    xs: [&[X]; TILE_TOKENS],
    dx: [&[f32]; TILE_TOKENS],
    side: [&[i32]; TILE_TOKENS],
    sx: [&[f32]; TILE_TOKENS],
    ld: usize,
    qs: impl Fn(&X) -> &Qs,
) -> [__m256; TILE_TOKENS] {
    let kind = Kind::from_consts(BITS, KIND);
    let has_min = kind.extra == Extra::Min;
    let bb = block_bytes(has_min);
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_ps(); TILE_TOKENS];
    for (b, blk) in strip.chunks_exact(bb).take(nb).enumerate() {
        let q: [&Qs; TILE_TOKENS] = std::array::from_fn(|c| qs(&xs[c][b]));
        let mut s = [_mm256_setzero_si256(); TILE_TOKENS];
        match BITS {
            4 => {
                let mut a16 = [_mm256_setzero_si256(); TILE_TOKENS];
                for k in 0..8 {
                    let w = load_bytes(&blk[32 * k..]);
                    for c in 0..TILE_TOKENS {
                        a16[c] = _mm256_add_epi16(a16[c], _mm256_maddubs_epi16(w, bcast4(&q[c][4 * k..])));
                    }
                }
                for c in 0..TILE_TOKENS {
                    s[c] = _mm256_madd_epi16(a16[c], ones);
                }
            }
            5 => {
                for half in 0..2 {
                    let mut a16 = [_mm256_setzero_si256(); TILE_TOKENS];
                    for k in 4 * half..4 * half + 4 {
                        let w = load_bytes(&blk[32 * k..]);
                        for c in 0..TILE_TOKENS {
                            a16[c] =
                                _mm256_add_epi16(a16[c], _mm256_maddubs_epi16(w, bcast4(&q[c][4 * k..])));
                        }
                    }
                    for c in 0..TILE_TOKENS {
                        s[c] = _mm256_add_epi32(s[c], _mm256_madd_epi16(a16[c], ones));
                    }
                }
            }
            _ => {
                for k in 0..8 {
                    let w = load_bytes(&blk[32 * k..]);
                    let aw = _mm256_sign_epi8(w, w);
                    for c in 0..TILE_TOKENS {
                        let p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(bcast4(&q[c][4 * k..]), w));
                        s[c] = _mm256_add_epi32(s[c], _mm256_madd_epi16(p, ones));
                    }
                }
            }
        }
        let d = load_f32x8(&blk[256..]);
        for c in 0..TILE_TOKENS {
            let i = b * ld;
            if let Extra::Offset(Some(shift)) = kind.extra {
                s[c] = _mm256_sub_epi32(s[c], _mm256_set1_epi32(side[c][i] << shift));
            }
            let scale = _mm256_mul_ps(d, _mm256_set1_ps(dx[c][i]));
            acc[c] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(s[c]), acc[c]);
            if has_min {
                acc[c] = _mm256_fmadd_ps(load_f32x8(&blk[288..]), _mm256_set1_ps(sx[c][i]), acc[c]);
            }
        }
    }
    acc
}

/// A 32-element block type as the GEMM sees it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Kind {
    /// 4 (Q4_0, Q4_1), 5 (Q5_0, Q5_1) or 8 (Q8_0, signed).
    pub bits: u32,
    pub extra: Extra,
}

impl Kind {
    /// The `KIND` constant of [`tile32`].
    pub(super) const fn code(self) -> u32 {
        match self.extra {
            Extra::Offset(None) => 0,
            Extra::Offset(Some(shift)) => shift,
            Extra::Min => 255,
        }
    }

    pub(super) const fn from_consts(bits: u32, code: u32) -> Kind {
        let extra = match code {
            0 => Extra::Offset(None),
            255 => Extra::Min,
            shift => Extra::Offset(Some(shift)),
        };
        Kind { bits, extra }
    }
}

/// Writes 4 tokens' results for the rows of a strip into the `[t - t0][row]` tile.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn store_tile(
    acc: &[__m256; TILE_TOKENS],
    r0: usize,
    rows: usize,
    c0: usize,
    valid: usize,
    t0: usize,
    out: &mut [f32],
) {
    let nr = (rows - r0).min(STRIP);
    for (c, a) in acc.iter().enumerate().take(valid) {
        let mut v = [0f32; 8];
        // SAFETY: writes the 8 floats of `v`; unaligned store.
        unsafe { _mm256_storeu_ps(v.as_mut_ptr(), *a) };
        let o = (c0 + c - t0) * rows + r0;
        out[o..o + nr].copy_from_slice(&v[..nr]);
    }
}

/// `rows` packed rows × tokens `t0..t1` into the `[t - t0][row]` tile.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn gemm32<X: Block>(
    kind: Kind,
    rows: usize,
    packed: &[u8],
    x: &[X],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut [f32],
    qs: impl Fn(&X) -> &Qs + Copy,
) {
    let nb = xb.row_bytes / size_of::<X>();
    if nb == 0 || rows == 0 {
        return;
    }
    let strip_bytes = nb * block_bytes(kind.extra == Extra::Min);
    let ld = xb.ld;
    let empty_i: &[i32] = &[];
    let empty_f: &[f32] = &[];
    let mut c0 = t0;
    while c0 < t1 {
        let valid = (t1 - c0).min(TILE_TOKENS);
        let tok: [usize; TILE_TOKENS] = std::array::from_fn(|c| c0 + c.min(valid - 1));
        let xs = tok.map(|t| &x[t * nb..(t + 1) * nb]);
        let dx = tok.map(|t| &xb.d[t..]);
        let side = tok.map(|t| if xb.sum.is_empty() { empty_i } else { &xb.sum[t..] });
        let sx = tok.map(|t| if xb.s.is_empty() { empty_f } else { &xb.s[t..] });
        for (s, strip) in packed.chunks_exact(strip_bytes).take(rows.div_ceil(STRIP)).enumerate() {
            let acc = match (kind.bits, kind.code()) {
                (4, 3) => tile32::<X, 4, 3>(strip, nb, xs, dx, side, sx, ld, qs),
                (4, 255) => tile32::<X, 4, 255>(strip, nb, xs, dx, side, sx, ld, qs),
                (5, 4) => tile32::<X, 5, 4>(strip, nb, xs, dx, side, sx, ld, qs),
                (5, 255) => tile32::<X, 5, 255>(strip, nb, xs, dx, side, sx, ld, qs),
                _ => tile32::<X, 8, 0>(strip, nb, xs, dx, side, sx, ld, qs),
            };
            store_tile(&acc, s * STRIP, rows, c0, valid, t0, out);
        }
        c0 += TILE_TOKENS;
    }
}

macro_rules! gemm32_kernels {
    ($(#[$doc:meta])* $pack:ident, $gemm:ident, $bytes:ident, $w:ty, $x:ty, $kind:expr, $unpack:expr, $scale:expr) => {
        /// Packed bytes of `rows × cols`.
        pub(crate) fn $bytes(rows: usize, cols: usize) -> usize {
            let kind: Kind = $kind;
            packed_bytes32(rows, cols, kind.extra == Extra::Min)
        }

        $(#[$doc])*
        ///
        /// # Safety
        /// The CPU must support AVX2, FMA and F16C.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(crate) unsafe fn $pack(w: &[$w], nb: usize, dst: &mut [u8]) {
            let kind: Kind = $kind;
            pack32(w, nb, kind.extra == Extra::Min, dst, $unpack, $scale)
        }

        /// The product of packed rows with tokens `t0..t1`.
        ///
        /// # Safety
        /// The CPU must support AVX2, FMA and F16C.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(crate) unsafe fn $gemm(rows: usize, packed: &[u8], x: &[$x], xb: &XBatch<'_>, t0: usize, t1: usize, out: &mut [f32]) {
            gemm32($kind, rows, packed, x, xb, t0, t1, out, |b: &$x| &b.qs)
        }
    };
}

gemm32_kernels!(
    /// Packs Q4_0 rows (nibbles unsigned).
    pack_q4_0, gemm_q4_0, packed_bytes_q4_0, BlockQ4_0, BlockQ8_0,
    Kind { bits: 4, extra: Extra::Offset(Some(3)) },
    |w: &BlockQ4_0| nibbles_32(&w.qs),
    |w: &BlockQ4_0| (w.d.bits(), 0)
);
gemm32_kernels!(
    /// Packs Q4_1 rows (nibbles unsigned, mins).
    pack_q4_1, gemm_q4_1, packed_bytes_q4_1, BlockQ4_1, BlockQ8_1,
    Kind { bits: 4, extra: Extra::Min },
    |w: &BlockQ4_1| nibbles_32(&w.qs),
    |w: &BlockQ4_1| (w.d.bits(), w.m.bits())
);
gemm32_kernels!(
    /// Packs Q5_0 rows (5-bit quants unsigned).
    pack_q5_0, gemm_q5_0, packed_bytes_q5_0, BlockQ5_0, BlockQ8_0,
    Kind { bits: 5, extra: Extra::Offset(Some(4)) },
    |w: &BlockQ5_0| q5_quants(&w.qs, &w.qh),
    |w: &BlockQ5_0| (w.d.bits(), 0)
);
gemm32_kernels!(
    /// Packs Q5_1 rows (5-bit quants unsigned, mins).
    pack_q5_1, gemm_q5_1, packed_bytes_q5_1, BlockQ5_1, BlockQ8_1,
    Kind { bits: 5, extra: Extra::Min },
    |w: &BlockQ5_1| q5_quants(&w.qs, &w.qh),
    |w: &BlockQ5_1| (w.d.bits(), w.m.bits())
);
gemm32_kernels!(
    /// Packs Q8_0 rows (signed).
    pack_q8_0, gemm_q8_0, packed_bytes_q8_0, BlockQ8_0, BlockQ8_0,
    Kind { bits: 8, extra: Extra::Offset(None) },
    |w: &BlockQ8_0| load32(&w.qs),
    |w: &BlockQ8_0| (w.d.bits(), 0)
);
