//! The prefill GEMM with VNNI (`vpdpbusd` on 256-bit registers, AVX512-VNNI + AVX512-VL):
//! one instruction multiplies 4 unsigned weight bytes with 4 signed activation bytes and
//! adds the sum to an i32 lane, replacing `maddubs` + 16-bit adds + `madd` of the AVX2
//! kernels, with no 16-bit intermediate to keep in range.
//!
//! Same packed strips as `gemm.rs` / `gemm_k.rs` (Q8_0 packed as `w + 128`, unsigned, with
//! the offset `128·Σx` taken out like Q4_0's), same integers per block or super-block and
//! the same float steps, so results equal the AVX2 table's bit for bit. K-quant sub-block
//! sums are scaled with `vpmulld`; mins and Q6_K's offset pairs with `vpdpwssd`.

use std::arch::x86_64::*;

use super::gemm::{
    Kind, Qs, STRIP, TILE_TOKENS, bcast4, block_bytes, load_bytes, load_f32x8, pack32, store_tile,
};
use super::gemm_k::{KType, bs_i8, off};
use super::mat::Extra;
use super::util::load32;
use crate::blocks::*;
use crate::dispatch::XBatch;

/// One strip × 4 tokens over all 32-element blocks (`KIND` as in `gemm.rs`'s `tile32`).
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn tile32<X, const KIND: u32>(
    strip: &[u8],
    nb: usize,
    xs: [&[X]; TILE_TOKENS],
    dx: [&[f32]; TILE_TOKENS],
    side: [&[i32]; TILE_TOKENS],
    sx: [&[f32]; TILE_TOKENS],
    ld: usize,
    qs: impl Fn(&X) -> &Qs,
) -> [__m256; TILE_TOKENS] {
    let kind = Kind::from_consts(8, KIND);
    let has_min = kind.extra == Extra::Min;
    let bb = block_bytes(has_min);
    let mut acc = [_mm256_setzero_ps(); TILE_TOKENS];
    for (b, blk) in strip.chunks_exact(bb).take(nb).enumerate() {
        let q: [&Qs; TILE_TOKENS] = std::array::from_fn(|c| qs(&xs[c][b]));
        let mut s = [_mm256_setzero_si256(); TILE_TOKENS];
        for k in 0..8 {
            let w = load_bytes(&blk[32 * k..]);
            for c in 0..TILE_TOKENS {
                s[c] = _mm256_dpbusd_epi32(s[c], w, bcast4(&q[c][4 * k..]));
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

/// `rows` packed rows × tokens `t0..t1` of a 32-element block type.
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
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
    let (empty_i, empty_f): (&[i32], &[f32]) = (&[], &[]);
    let mut c0 = t0;
    while c0 < t1 {
        let valid = (t1 - c0).min(TILE_TOKENS);
        let tok: [usize; TILE_TOKENS] = std::array::from_fn(|c| c0 + c.min(valid - 1));
        let xs = tok.map(|t| &x[t * nb..(t + 1) * nb]);
        let dx = tok.map(|t| &xb.d[t..]);
        let side = tok.map(|t| if xb.sum.is_empty() { empty_i } else { &xb.sum[t..] });
        let sx = tok.map(|t| if xb.s.is_empty() { empty_f } else { &xb.s[t..] });
        for (s, strip) in packed.chunks_exact(strip_bytes).take(rows.div_ceil(STRIP)).enumerate() {
            let acc = match kind.code() {
                3 => tile32::<X, 3>(strip, nb, xs, dx, side, sx, ld, qs),
                4 => tile32::<X, 4>(strip, nb, xs, dx, side, sx, ld, qs),
                7 => tile32::<X, 7>(strip, nb, xs, dx, side, sx, ld, qs),
                _ => tile32::<X, 255>(strip, nb, xs, dx, side, sx, ld, qs),
            };
            store_tile(&acc, s * STRIP, rows, c0, valid, t0, out);
        }
        c0 += TILE_TOKENS;
    }
}

/// One strip × 4 tokens over all K-quant super-blocks.
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
#[inline]
fn tile_k<const Q6: bool>(
    strip: &[u8],
    nb: usize,
    sb: usize,
    xs: [&[BlockQ8_K]; TILE_TOKENS],
    dx: [&[f32]; TILE_TOKENS],
    ld: usize,
) -> [__m256; TILE_TOKENS] {
    let mut acc = [_mm256_setzero_ps(); TILE_TOKENS];
    for (b, blk) in strip.chunks_exact(sb).take(nb).enumerate() {
        let x: [&BlockQ8_K; TILE_TOKENS] = std::array::from_fn(|c| &xs[c][b]);
        let bs: [&[u8; 32]; TILE_TOKENS] = x.map(|x| bytemuck::cast_ref::<_, [u8; 32]>(&x.bsums));
        let mut s = [_mm256_setzero_si256(); TILE_TOKENS];
        for j in 0..8 {
            let q = &blk[off::QS + 256 * j..];
            // scales: i16 pairs per lane → the high half as i32
            let sc = |i: usize| _mm256_srai_epi32::<16>(load_bytes(&blk[off::SC + 32 * i..]));
            if Q6 {
                let (sa, sb) = (sc(2 * j), sc(2 * j + 1));
                let mut ta = [_mm256_setzero_si256(); TILE_TOKENS];
                let mut tb = [_mm256_setzero_si256(); TILE_TOKENS];
                for k in 0..4 {
                    let (wa, wb) = (load_bytes(&q[32 * k..]), load_bytes(&q[32 * (k + 4)..]));
                    for c in 0..TILE_TOKENS {
                        ta[c] = _mm256_dpbusd_epi32(ta[c], wa, bcast4(&x[c].qs[32 * j + 4 * k..]));
                        tb[c] = _mm256_dpbusd_epi32(tb[c], wb, bcast4(&x[c].qs[32 * j + 4 * (k + 4)..]));
                    }
                }
                for c in 0..TILE_TOKENS {
                    let p = _mm256_add_epi32(_mm256_mullo_epi32(ta[c], sa), _mm256_mullo_epi32(tb[c], sb));
                    s[c] = _mm256_add_epi32(s[c], p);
                }
            } else {
                let scj = sc(j);
                let mut t = [_mm256_setzero_si256(); TILE_TOKENS];
                for k in 0..8 {
                    let w = load_bytes(&q[32 * k..]);
                    for c in 0..TILE_TOKENS {
                        t[c] = _mm256_dpbusd_epi32(t[c], w, bcast4(&x[c].qs[32 * j + 4 * k..]));
                    }
                }
                for c in 0..TILE_TOKENS {
                    s[c] = _mm256_add_epi32(s[c], _mm256_mullo_epi32(t[c], scj));
                }
            }
        }
        if Q6 {
            let d = load_f32x8(&blk[off::D6..]);
            for c in 0..TILE_TOKENS {
                let mut o = _mm256_setzero_si256();
                for p in 0..8 {
                    o = _mm256_dpwssd_epi32(
                        o,
                        load_bytes(&blk[off::OFF6 + 32 * p..]),
                        bcast4(bs_i8(bs[c], p)),
                    );
                }
                let si = _mm256_sub_epi32(s[c], _mm256_slli_epi32::<5>(o));
                let scale = _mm256_mul_ps(d, _mm256_set1_ps(dx[c][b * ld]));
                acc[c] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(si), acc[c]);
            }
        } else {
            let d = load_f32x8(&blk[off::D4..]);
            let dmin = load_f32x8(&blk[off::D4 + 32..]);
            for c in 0..TILE_TOKENS {
                let mut m = _mm256_setzero_si256();
                for j in 0..8 {
                    m = _mm256_dpwssd_epi32(
                        m,
                        load_bytes(&blk[off::MIN + 32 * j..]),
                        bcast4(bs_i8(bs[c], j)),
                    );
                }
                let dxc = _mm256_set1_ps(dx[c][b * ld]);
                acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(d, dxc), _mm256_cvtepi32_ps(s[c]), acc[c]);
                acc[c] = _mm256_fnmadd_ps(_mm256_mul_ps(dmin, dxc), _mm256_cvtepi32_ps(m), acc[c]);
            }
        }
    }
    acc
}

/// `rows` packed K-quant rows × tokens `t0..t1`.
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn gemm_k(
    t: KType,
    rows: usize,
    packed: &[u8],
    x: &[BlockQ8_K],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut [f32],
) {
    let nb = xb.row_bytes / size_of::<BlockQ8_K>();
    if nb == 0 || rows == 0 {
        return;
    }
    let sb = t.superblock_bytes();
    let mut c0 = t0;
    while c0 < t1 {
        let valid = (t1 - c0).min(TILE_TOKENS);
        let tok: [usize; TILE_TOKENS] = std::array::from_fn(|c| c0 + c.min(valid - 1));
        let xs = tok.map(|t| &x[t * nb..(t + 1) * nb]);
        let dx = tok.map(|t| &xb.d[t..]);
        for (s, strip) in packed.chunks_exact(nb * sb).take(rows.div_ceil(STRIP)).enumerate() {
            let acc = if t == KType::Q6K {
                tile_k::<true>(strip, nb, sb, xs, dx, xb.ld)
            } else {
                tile_k::<false>(strip, nb, sb, xs, dx, xb.ld)
            };
            store_tile(&acc, s * STRIP, rows, c0, valid, t0, out);
        }
        c0 += TILE_TOKENS;
    }
}

/// Packs Q8_0 rows as unsigned `w + 128` (the VNNI operand), offset `128·Σx`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn pack_q8_0(w: &[BlockQ8_0], nb: usize, dst: &mut [u8]) {
    pack32(
        w,
        nb,
        false,
        dst,
        |w: &BlockQ8_0| _mm256_xor_si256(load32(&w.qs), _mm256_set1_epi8(-128)),
        |w: &BlockQ8_0| (w.d.bits(), 0),
    )
}

macro_rules! vnni_gemm32 {
    ($(#[$doc:meta])* $name:ident, $x:ty, $kind:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The CPU must support AVX2, FMA, F16C, AVX512-VNNI and AVX512-VL.
        #[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
        pub(crate) unsafe fn $name(rows: usize, packed: &[u8], x: &[$x], xb: &XBatch<'_>, t0: usize, t1: usize, out: &mut [f32]) {
            gemm32($kind, rows, packed, x, xb, t0, t1, out, |b: &$x| &b.qs)
        }
    };
}

vnni_gemm32!(
    /// Packed Q4_0 rows × Q8_0 tokens.
    gemm_q4_0, BlockQ8_0, Kind { bits: 4, extra: Extra::Offset(Some(3)) }
);
vnni_gemm32!(
    /// Packed Q4_1 rows × Q8_1 tokens.
    gemm_q4_1, BlockQ8_1, Kind { bits: 4, extra: Extra::Min }
);
vnni_gemm32!(
    /// Packed Q5_0 rows × Q8_0 tokens.
    gemm_q5_0, BlockQ8_0, Kind { bits: 5, extra: Extra::Offset(Some(4)) }
);
vnni_gemm32!(
    /// Packed Q5_1 rows × Q8_1 tokens.
    gemm_q5_1, BlockQ8_1, Kind { bits: 5, extra: Extra::Min }
);
vnni_gemm32!(
    /// Packed Q8_0 rows (from [`pack_q8_0`]) × Q8_0 tokens.
    gemm_q8_0, BlockQ8_0, Kind { bits: 8, extra: Extra::Offset(Some(7)) }
);

macro_rules! vnni_gemm_k {
    ($(#[$doc:meta])* $name:ident, $t:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The CPU must support AVX2, FMA, F16C, AVX512-VNNI and AVX512-VL.
        #[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
        pub(crate) unsafe fn $name(rows: usize, packed: &[u8], x: &[BlockQ8_K], xb: &XBatch<'_>, t0: usize, t1: usize, out: &mut [f32]) {
            gemm_k($t, rows, packed, x, xb, t0, t1, out)
        }
    };
}

vnni_gemm_k!(
    /// Packed Q4_K rows × Q8_K tokens.
    gemm_q4_k, KType::Q4K
);
vnni_gemm_k!(
    /// Packed Q5_K rows × Q8_K tokens.
    gemm_q5_k, KType::Q5K
);
vnni_gemm_k!(
    /// Packed Q6_K rows × Q8_K tokens.
    gemm_q6_k, KType::Q6K
);
