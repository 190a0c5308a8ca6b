//! The x86_64 prefill GEMM: weight rows repacked strip by strip ([`pack`]), then one tile
//! driver, generic over the instruction set's inner dot ([`TileDot`]), multiplies a strip of
//! 8 rows with 4 tokens at a time.
//!
//! The driver (token tiles × strips × blocks, the per-block float steps, storing the tile) is
//! written once. An instruction set supplies only the integer inner products of one packed
//! block with 4 tokens — AVX2's `maddubs` + `madd` ([`super::avx2::gemm`]), VNNI's
//! `vpdpbusd` ([`super::avx2_vnni::gemm`]) — as `#[inline(always)]` methods, and instantiates
//! the driver inside its own `#[target_feature]` entry points with `gemm_kernels!`, so the
//! inner dot is compiled with that ISA's features and inlined into the loop.
//!
//! The arithmetic per (row, token) is that of `avx2/mat.rs` (exact block integers, offsets
//! as integers, then `acc = fma(d_w · d_x, f32(s), acc)` block by block; K-quants per
//! super-block), for every inner dot: the integers are exact, so prefill, decode and batched
//! decode give identical results on every table.
//!
//! To add an instruction set's GEMM: implement [`TileDot`] (three inner products, each with
//! the exact integer result of the AVX2 one, which the twin tests compare bit for bit), call
//! `gemm_kernels!("<its features>", <its TileDot>)` in its module, and `set_gemm_slots!` in
//! its table.

pub(crate) mod pack;

use crate::out_tile::OutTile;
use std::arch::x86_64::*;

use self::pack::{Qs, STRIP, TILE_TOKENS, bs_i8, off};
use super::avx2::mat::Extra;
use super::avx2::util::{bcast4, load_bytes, load_f32x8};
use crate::blocks::*;
use crate::dispatch::XBatch;

/// The integer inner products of a GEMM micro-tile (one packed block of a strip of 8 rows ×
/// 4 tokens), for one instruction set. Every method returns, per token `c`, one register
/// whose lane `r` is an exact integer of row `r` of the strip, so any implementation gives
/// the same bits.
///
/// The methods are `#[inline(always)]` and carry no `#[target_feature]`: they are inlined
/// into the driver, which `gemm_kernels!` instantiates inside `#[target_feature]` entry
/// points with the implementation's features.
pub(crate) trait TileDot {
    /// How packed Q8_0 weights are stored for [`TileDot::block32`] with `BITS == 8`: 0 for
    /// signed bytes, 7 for unsigned `w + 128` (the result then carries `128·Σq_x`, which the
    /// driver takes out like Q4_0's offset).
    const Q8_0_SHIFT: u32;

    /// `Σ_k w[r][k] · q[c][k]` over one packed 32-element block (8 registers, register `k`
    /// holding bytes `4k..4k + 4` of each row): weights unsigned 0..16 (`BITS` 4), 0..32 (5),
    /// or Q8_0 as [`TileDot::Q8_0_SHIFT`] says (8).
    ///
    /// # Safety
    /// The CPU must support the implementation's features (AVX2, FMA, F16C and its own).
    unsafe fn block32<const BITS: u32>(blk: &[u8], q: [&Qs; TILE_TOKENS]) -> [__m256i; TILE_TOKENS];

    /// `S = Σ_sub sc · Σ_k w · x` over the 8 sub-blocks of a packed K-quant super-block
    /// (`BITS` 4: Q4_K, 5: Q5_K, 6: Q6_K, whose −32 offset the driver takes out).
    ///
    /// # Safety
    /// As [`TileDot::block32`].
    unsafe fn superblock<const BITS: u32>(blk: &[u8], x: [&BlockQ8_K; TILE_TOKENS])
    -> [__m256i; TILE_TOKENS];

    /// `acc + Σ_pairs a · b` over i16 pairs (`madd` then add, or `vpdpwssd`).
    ///
    /// # Safety
    /// As [`TileDot::block32`].
    unsafe fn madd_add(acc: __m256i, a: __m256i, b: __m256i) -> __m256i;
}

/// The offset or min of a 32-element type from the driver's `KIND` constant (0: signed,
/// 3/4/7: an offset of `1 << KIND`, 255: min).
const fn extra(kind: u32) -> Extra {
    match kind {
        0 => Extra::Offset(None),
        255 => Extra::Min,
        shift => Extra::Offset(Some(shift)),
    }
}

/// One strip × 4 tokens over all 32-element blocks: 4 registers of 8 row results.
///
/// # Safety
/// The CPU must support `D`'s features.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn tile32<D: TileDot, X, const BITS: u32, const KIND: u32>(
    strip: &[u8],
    nb: usize,
    xs: [&[X]; TILE_TOKENS],
    dx: [&[f32]; TILE_TOKENS],
    side: [&[i32]; TILE_TOKENS],
    sx: [&[f32]; TILE_TOKENS],
    ld: usize,
    qs: impl Fn(&X) -> &Qs,
) -> [__m256; TILE_TOKENS] {
    let has_min = extra(KIND) == Extra::Min;
    let mut acc = [_mm256_setzero_ps(); TILE_TOKENS];
    for (b, blk) in strip.chunks_exact(pack::block_bytes(has_min)).take(nb).enumerate() {
        let q: [&Qs; TILE_TOKENS] = std::array::from_fn(|c| qs(&xs[c][b]));
        // SAFETY: the caller guarantees `D`'s features.
        let mut s = unsafe { D::block32::<BITS>(blk, q) };
        let d = load_f32x8(&blk[256..]);
        for c in 0..TILE_TOKENS {
            let i = b * ld;
            if let Extra::Offset(Some(shift)) = extra(KIND) {
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

/// `rows` packed rows of a 32-element type × tokens `t0..t1` into the `[t - t0][row]` tile.
///
/// # Safety
/// The CPU must support `D`'s features.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm32<D: TileDot, X: Block, const BITS: u32, const KIND: u32>(
    rows: usize,
    packed: &[u8],
    x: &[X],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
    qs: impl Fn(&X) -> &Qs + Copy,
) {
    let nb = xb.row_bytes / size_of::<X>();
    if nb == 0 || rows == 0 {
        return;
    }
    let strip_bytes = nb * pack::block_bytes(extra(KIND) == Extra::Min);
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
            // SAFETY: the caller guarantees `D`'s features.
            let acc = unsafe { tile32::<D, X, BITS, KIND>(strip, nb, xs, dx, side, sx, xb.ld, qs) };
            store_tile(&acc, s * STRIP, rows, c0, valid, t0, out);
        }
        c0 += TILE_TOKENS;
    }
}

/// One strip × 4 tokens over all K-quant super-blocks.
///
/// # Safety
/// The CPU must support `D`'s features.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn tile_k<D: TileDot, const BITS: u32>(
    strip: &[u8],
    nb: usize,
    xs: [&[BlockQ8_K]; TILE_TOKENS],
    dx: [&[f32]; TILE_TOKENS],
    ld: usize,
) -> [__m256; TILE_TOKENS] {
    let mut acc = [_mm256_setzero_ps(); TILE_TOKENS];
    for (b, blk) in strip.chunks_exact(pack::superblock_bytes(BITS)).take(nb).enumerate() {
        let x: [&BlockQ8_K; TILE_TOKENS] = std::array::from_fn(|c| &xs[c][b]);
        let bs: [&[u8; 32]; TILE_TOKENS] = x.map(|x| bytemuck::cast_ref::<_, [u8; 32]>(&x.bsums));
        // SAFETY: the caller guarantees `D`'s features (for this and the `madd_add`s below).
        let s = unsafe { D::superblock::<BITS>(blk, x) };
        if BITS == 6 {
            // Q6_K: S − 32 · Σ_sub sc · bsum, the pairs (sc_2p, sc_2p+1) against bsum pairs.
            let d = load_f32x8(&blk[off::D6..]);
            for c in 0..TILE_TOKENS {
                let mut o = _mm256_setzero_si256();
                for p in 0..8 {
                    let w = load_bytes(&blk[off::OFF6 + 32 * p..]);
                    // SAFETY: as above.
                    o = unsafe { D::madd_add(o, w, bcast4(bs_i8(bs[c], p))) };
                }
                let si = _mm256_sub_epi32(s[c], _mm256_slli_epi32::<5>(o));
                let scale = _mm256_mul_ps(d, _mm256_set1_ps(dx[c][b * ld]));
                acc[c] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(si), acc[c]);
            }
        } else {
            // Q4_K/Q5_K: M = Σ_sub m · bsum, subtracted as dmin · d_x · M.
            let d = load_f32x8(&blk[off::D4..]);
            let dmin = load_f32x8(&blk[off::D4 + 32..]);
            for c in 0..TILE_TOKENS {
                let mut m = _mm256_setzero_si256();
                for j in 0..8 {
                    let w = load_bytes(&blk[off::MIN + 32 * j..]);
                    // SAFETY: as above.
                    m = unsafe { D::madd_add(m, w, bcast4(bs_i8(bs[c], j))) };
                }
                let dxc = _mm256_set1_ps(dx[c][b * ld]);
                acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(d, dxc), _mm256_cvtepi32_ps(s[c]), acc[c]);
                acc[c] = _mm256_fnmadd_ps(_mm256_mul_ps(dmin, dxc), _mm256_cvtepi32_ps(m), acc[c]);
            }
        }
    }
    acc
}

/// `rows` packed K-quant rows (`BITS` 4, 5, 6: Q4_K, Q5_K, Q6_K) × tokens `t0..t1` into
/// the `[t - t0][row]` tile.
///
/// # Safety
/// The CPU must support `D`'s features.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_k<D: TileDot, const BITS: u32>(
    rows: usize,
    packed: &[u8],
    x: &[BlockQ8_K],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
) {
    let nb = xb.row_bytes / size_of::<BlockQ8_K>();
    if nb == 0 || rows == 0 {
        return;
    }
    let strip_bytes = nb * pack::superblock_bytes(BITS);
    let mut c0 = t0;
    while c0 < t1 {
        let valid = (t1 - c0).min(TILE_TOKENS);
        let tok: [usize; TILE_TOKENS] = std::array::from_fn(|c| c0 + c.min(valid - 1));
        let xs = tok.map(|t| &x[t * nb..(t + 1) * nb]);
        let dx = tok.map(|t| &xb.d[t..]);
        for (s, strip) in packed.chunks_exact(strip_bytes).take(rows.div_ceil(STRIP)).enumerate() {
            // SAFETY: the caller guarantees `D`'s features.
            let acc = unsafe { tile_k::<D, BITS>(strip, nb, xs, dx, xb.ld) };
            store_tile(&acc, s * STRIP, rows, c0, valid, t0, out);
        }
        c0 += TILE_TOKENS;
    }
}

/// Writes 4 tokens' results for the rows of a strip into the `[t - t0][row]` tile.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn store_tile(
    acc: &[__m256; TILE_TOKENS],
    r0: usize,
    rows: usize,
    c0: usize,
    valid: usize,
    t0: usize,
    out: &mut OutTile<'_>,
) {
    let nr = (rows - r0).min(STRIP);
    for (c, a) in acc.iter().enumerate().take(valid) {
        let mut v = [0f32; 8];
        // SAFETY: writes the 8 floats of `v`; unaligned store.
        unsafe { _mm256_storeu_ps(v.as_mut_ptr(), *a) };
        out.token(c0 + c - t0)[r0..r0 + nr].copy_from_slice(&v[..nr]);
    }
}

/// `gemm_kernels!("features", D)`: the GEMM entry points of one instruction set, in the
/// module that calls it: `gemm_q4_0` … `gemm_q6_k` (the driver instantiated with inner dot
/// `D` inside a `#[target_feature(enable = "features")]` fn, so `D`'s methods are compiled
/// with those features and inlined) and `pack_q8_0` (Q8_0 as `D` reads it). The other
/// types' packers and sizes are in [`pack`], the same for every instruction set.
macro_rules! gemm_kernels {
    ($features:literal, $d:ty) => {
        /// Packs Q8_0 rows as this instruction set's inner dot reads them.
        ///
        /// # Safety
        /// The CPU must support AVX2, FMA and F16C.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(crate) unsafe fn pack_q8_0(w: &[$crate::blocks::BlockQ8_0], nb: usize, dst: &mut [u8]) {
            $crate::arch::x86_64::gemm::pack::pack_q8_0::<{ <$d as $crate::arch::x86_64::gemm::TileDot>::Q8_0_SHIFT }>(w, nb, dst)
        }
        gemm_kernels!(@32 $features, $d, gemm_q4_0, BlockQ8_0, 4, 3);
        gemm_kernels!(@32 $features, $d, gemm_q4_1, BlockQ8_1, 4, 255);
        gemm_kernels!(@32 $features, $d, gemm_q5_0, BlockQ8_0, 5, 4);
        gemm_kernels!(@32 $features, $d, gemm_q5_1, BlockQ8_1, 5, 255);
        gemm_kernels!(@32 $features, $d, gemm_q8_0, BlockQ8_0, 8,
            { <$d as $crate::arch::x86_64::gemm::TileDot>::Q8_0_SHIFT });
        gemm_kernels!(@k $features, $d, gemm_q4_k, 4);
        gemm_kernels!(@k $features, $d, gemm_q5_k, 5);
        gemm_kernels!(@k $features, $d, gemm_q6_k, 6);
    };
    (@32 $features:literal, $d:ty, $name:ident, $x:ident, $bits:literal, $kind:expr) => {
        /// Packed rows × tokens `t0..t1` with this instruction set's inner dot.
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn $name(
            rows: usize,
            packed: &[u8],
            x: &[$crate::blocks::$x],
            xb: &$crate::dispatch::XBatch<'_>,
            t0: usize,
            t1: usize,
            out: &mut $crate::out_tile::OutTile<'_>,
        ) {
            // SAFETY: this fn's features are the inner dot's (the caller guarantees them).
            unsafe {
                $crate::arch::x86_64::gemm::gemm32::<$d, $crate::blocks::$x, $bits, $kind>(
                    rows, packed, x, xb, t0, t1, out, |b: &$crate::blocks::$x| &b.qs,
                )
            }
        }
    };
    (@k $features:literal, $d:ty, $name:ident, $bits:literal) => {
        /// Packed rows × Q8_K tokens `t0..t1` with this instruction set's inner dot.
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn $name(
            rows: usize,
            packed: &[u8],
            x: &[$crate::blocks::BlockQ8_K],
            xb: &$crate::dispatch::XBatch<'_>,
            t0: usize,
            t1: usize,
            out: &mut $crate::out_tile::OutTile<'_>,
        ) {
            // SAFETY: this fn's features are the inner dot's (the caller guarantees them).
            unsafe { $crate::arch::x86_64::gemm::gemm_k::<$d, $bits>(rows, packed, x, xb, t0, t1, out) }
        }
    };
}

/// `set_gemm_slots!(t, m)`: points the GEMM slots of the per-type table `t` at the entries
/// `gemm_kernels!` defined in module `m`, with the shared packers of [`pack`].
macro_rules! set_gemm_slots {
    ($t:ident, $m:ident) => {{
        use $crate::arch::x86_64::gemm::pack as p;
        use $crate::blocks::*;
        use hearth_dtype::DType::*;
        $t[Q4_0.index()].gemm = Some(gemm_entry!(unsafe BlockQ4_0, BlockQ8_0, p::pack_q4_0, $m::gemm_q4_0, p::packed_bytes_q4_0));
        $t[Q4_1.index()].gemm = Some(gemm_entry!(unsafe BlockQ4_1, BlockQ8_1, p::pack_q4_1, $m::gemm_q4_1, p::packed_bytes_q4_1));
        $t[Q5_0.index()].gemm = Some(gemm_entry!(unsafe BlockQ5_0, BlockQ8_0, p::pack_q5_0, $m::gemm_q5_0, p::packed_bytes_q5_0));
        $t[Q5_1.index()].gemm = Some(gemm_entry!(unsafe BlockQ5_1, BlockQ8_1, p::pack_q5_1, $m::gemm_q5_1, p::packed_bytes_q5_1));
        $t[Q8_0.index()].gemm = Some(gemm_entry!(unsafe BlockQ8_0, BlockQ8_0, $m::pack_q8_0, $m::gemm_q8_0, p::packed_bytes_q8_0));
        $t[Q4_K.index()].gemm = Some(gemm_entry!(unsafe BlockQ4_K, BlockQ8_K, p::pack_q4_k, $m::gemm_q4_k, p::packed_bytes_q4_k));
        $t[Q5_K.index()].gemm = Some(gemm_entry!(unsafe BlockQ5_K, BlockQ8_K, p::pack_q5_k, $m::gemm_q5_k, p::packed_bytes_q5_k));
        $t[Q6_K.index()].gemm = Some(gemm_entry!(unsafe BlockQ6_K, BlockQ8_K, p::pack_q6_k, $m::gemm_q6_k, p::packed_bytes_q6_k));
    }};
}
