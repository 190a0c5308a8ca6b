//! AVX2 multi-row × multi-token kernels of the K-quants (Q4_K, Q5_K, Q6_K with Q8_K
//! activations), and their row dots. Lanes and arithmetic as in `mat.rs`: per super-block
//! and (row, token) the exact integers `S = Σ_sub sc · dot` and `M = Σ_sub m · bsum`, then
//! `acc = fma(d_w · d_x, f32(S), acc)` and `acc = fma(−(dmin_w · d_x), f32(M), acc)`.
//!
//! No `maddubs` here saturates: the unsigned quants are at most 63 and the activations at
//! most 127 in magnitude.

use crate::out_tile::OutTile;
use std::arch::x86_64::*;

use super::dot_k::{SHUFFLE_K4, SHUFFLE_Q6K};
use super::mat::{f16x8, side_f32, store_lanes};
use super::util::*;
use crate::blocks::*;
use crate::dispatch::XBatch;

/// The type-specific parts of a K-quant kernel.
pub(crate) struct QKParts<W, U, FU, FP, FS> {
    /// Whether the type has mins (the `M` term).
    pub has_min: bool,
    /// Unpacks a weight super-block (once per super-block and row, shared by the tokens).
    pub unpack: FU,
    /// The 8-lane i32 partials of `S` and `M`.
    pub partial: FP,
    /// `d` and `dmin` (0 when none) as f16 bits.
    pub scale: FS,
    pub _types: std::marker::PhantomData<fn(&W) -> U>,
}

/// A Q4_K/Q5_K super-block unpacked: 8 sub-blocks of 32 quants, each sub-block's scale
/// broadcast as i16, and the mins as i16 pairs matching the activation's 16 `bsums`.
#[derive(Clone, Copy)]
pub(crate) struct K4 {
    q: [__m256i; 8],
    sc: [__m256i; 8],
    mins: __m256i,
}

/// A Q6_K super-block unpacked: 8 registers of 32 unsigned quants (two 16-element
/// sub-blocks each), their scales as i16 (8 per half), and all 16 scales as i16.
#[derive(Clone, Copy)]
pub(crate) struct K6 {
    q: [__m256i; 8],
    sc: [__m256i; 8],
    sc16: __m256i,
}

/// The 16 `bsums` of a Q8_K block.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn bsums(x: &BlockQ8_K) -> __m256i {
    load32(bytemuck::cast_ref::<_, [u8; 32]>(&x.bsums))
}

/// The 6-bit scales and mins of a Q4_K/Q5_K super-block unpacked in a register (bytes 0..8:
/// scales, 8..16: mins), from the block's first 16 bytes (`d`, `dmin`, the 12 packed bytes):
/// the four words of ggml's `utmp` unpacking computed side by side, one per lane.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn scales_mins_k4(head: &[u8; 16]) -> __m128i {
    let v = load16(head); // [d | dmin, u0, u1, u2]
    // lanes: u0 & 3f, u2 & 0f, u1 & 3f, (u2 >> 4) & 0f
    let a = _mm_srlv_epi32(_mm_shuffle_epi32::<0b11_10_11_01>(v), _mm_set_epi32(4, 0, 0, 0));
    let lo = _mm_and_si128(a, _mm_set_epi32(0x0f0f_0f0f, 0x3f3f_3f3f, 0x0f0f_0f0f, 0x3f3f_3f3f));
    // lanes 1 and 3: ((u0 >> 6) & 03) << 4 and ((u1 >> 6) & 03) << 4
    let b = _mm_srli_epi32::<6>(_mm_shuffle_epi32::<0b10_10_01_01>(v));
    let hi = _mm_slli_epi32::<4>(_mm_and_si128(b, _mm_set_epi32(0x0303_0303, 0, 0x0303_0303, 0)));
    _mm_or_si128(lo, hi)
}

/// The first 16 bytes of a block (its header: scales and the packed 6-bit scales).
#[inline]
pub(crate) fn head16<B: bytemuck::Pod>(b: &B) -> &[u8; 16] {
    bytemuck::bytes_of(b)[..16].try_into().expect("a K-quant block is longer than 16 bytes")
}

/// Scales and mins of a Q4_K/Q5_K super-block.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn k4_scales(head: &[u8; 16]) -> ([__m256i; 8], __m256i) {
    let sm = scales_mins_k4(head);
    let sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
    let sc = std::array::from_fn(|j| _mm256_shuffle_epi8(sc16, load32(&SHUFFLE_K4[j])));
    (sc, _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm)))
}

/// Q4_K quants (0..16) as 8 registers of 32, in sub-block order.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn q4_k_quants(w: &BlockQ4_K) -> [__m256i; 8] {
    let m4 = _mm256_set1_epi8(0xf);
    let qs = w.qs.as_chunks::<32>().0;
    let mut q = [_mm256_setzero_si256(); 8];
    for i in 0..4 {
        let v = load32(&qs[i]);
        q[2 * i] = _mm256_and_si256(v, m4);
        q[2 * i + 1] = _mm256_and_si256(_mm256_srli_epi16::<4>(v), m4);
    }
    q
}

/// Q4_K unpacked.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn unpack_q4_k(w: &BlockQ4_K) -> K4 {
    let (sc, mins) = k4_scales(head16(w));
    K4 { q: q4_k_quants(w), sc, mins }
}

/// Q5_K quants (0..32) as 8 registers of 32, in sub-block order.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn q5_k_quants(w: &BlockQ5_K) -> [__m256i; 8] {
    let m4 = _mm256_set1_epi8(0xf);
    let one = _mm256_set1_epi8(1);
    let qs = w.qs.as_chunks::<32>().0;
    let mut hb = load32(&w.qh);
    let mut q = [_mm256_setzero_si256(); 8];
    for i in 0..4 {
        let v = load32(&qs[i]);
        let h0 = _mm256_slli_epi16::<4>(_mm256_and_si256(hb, one));
        let h1 = _mm256_slli_epi16::<4>(_mm256_and_si256(_mm256_srli_epi16::<1>(hb), one));
        q[2 * i] = _mm256_or_si256(_mm256_and_si256(v, m4), h0);
        q[2 * i + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(v), m4), h1);
        hb = _mm256_srli_epi16::<2>(hb);
    }
    q
}

/// Q5_K unpacked.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn unpack_q5_k(w: &BlockQ5_K) -> K4 {
    let (sc, mins) = k4_scales(head16(w));
    K4 { q: q5_k_quants(w), sc, mins }
}

/// `(S, M)` partials of an unpacked Q4_K/Q5_K super-block against `x`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn partial_k4(u: &K4, x: &BlockQ8_K) -> (__m256i, __m256i) {
    let q8 = x.qs.as_chunks::<32>().0;
    let mut s = _mm256_setzero_si256();
    for (j, q8) in q8.iter().enumerate() {
        let p = _mm256_maddubs_epi16(u.q[j], load32(q8));
        s = _mm256_add_epi32(s, _mm256_madd_epi16(p, u.sc[j]));
    }
    (s, _mm256_madd_epi16(u.mins, bsums(x)))
}

/// Q6_K quants (unsigned, 0..64) as 8 registers of 32 consecutive quants.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn q6_k_quants(w: &BlockQ6_K) -> [__m256i; 8] {
    let m3 = _mm256_set1_epi8(3);
    let m15 = _mm256_set1_epi8(15);
    let ql = w.ql.as_chunks::<32>().0;
    let qh = w.qh.as_chunks::<32>().0;
    let mut q = [_mm256_setzero_si256(); 8];
    for j in 0..2 {
        let bits1 = load32(&ql[2 * j]);
        let bits2 = load32(&ql[2 * j + 1]);
        let bh = load32(&qh[j]);
        let h0 = _mm256_slli_epi16::<4>(_mm256_and_si256(bh, m3));
        let h1 = _mm256_slli_epi16::<2>(_mm256_and_si256(bh, _mm256_set1_epi8(12)));
        let h2 = _mm256_and_si256(bh, _mm256_set1_epi8(48));
        let h3 = _mm256_srli_epi16::<2>(_mm256_and_si256(bh, _mm256_set1_epi8(-64)));
        q[4 * j] = _mm256_or_si256(_mm256_and_si256(bits1, m15), h0);
        q[4 * j + 1] = _mm256_or_si256(_mm256_and_si256(bits2, m15), h1);
        q[4 * j + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(bits1), m15), h2);
        q[4 * j + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(bits2), m15), h3);
    }
    q
}

/// Q6_K unpacked.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn unpack_q6_k(w: &BlockQ6_K) -> K6 {
    let scales = load16(&w.scales);
    let sc = std::array::from_fn(|g| _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, load16(&SHUFFLE_Q6K[g]))));
    K6 { q: q6_k_quants(w), sc, sc16: _mm256_cvtepi8_epi16(scales) }
}

/// `S` partials (the −32 offset folded in as `32 · Σ sc · bsum`) of an unpacked Q6_K
/// super-block against `x`; `M` is zero.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn partial_q6_k(u: &K6, x: &BlockQ8_K) -> (__m256i, __m256i) {
    let q8 = x.qs.as_chunks::<32>().0;
    let mut s = _mm256_setzero_si256();
    for (g, q8) in q8.iter().enumerate() {
        let p = _mm256_maddubs_epi16(u.q[g], load32(q8));
        s = _mm256_add_epi32(s, _mm256_madd_epi16(p, u.sc[g]));
    }
    let offset = _mm256_slli_epi32::<5>(_mm256_madd_epi16(u.sc16, bsums(x)));
    (_mm256_sub_epi32(s, offset), _mm256_setzero_si256())
}

/// Super-blocks per segment of a row in [`group_k`] (its buffers hold one segment).
const SEG: usize = 64;

/// The per-segment buffers of [`group_k`].
struct SegBuf {
    /// Per tile of `8 / G` super-blocks and row: the reduced `S`, lanes (block, token).
    s: [__m256i; SEG],
    /// The same for `M`.
    m: [__m256i; SEG],
    /// Per super-block: each lane's `d` (f16 bits), lanes (row, token).
    hd: [[u16; 8]; SEG],
    /// Per super-block: each lane's `dmin`.
    hm: [[u16; 8]; SEG],
}

/// Super-blocks per row from which one token's rows are read 8 side by side
/// ([`rows_side_by_side`]) rather than one after the other ([`group_k`]).
const SIDE_BY_SIDE_MIN_BLOCKS: usize = 40;

/// All rows × the one token `c0` of a K-quant type, 8 neighbouring rows side by side:
/// super-block by super-block, each activation block is loaded once for the 8 rows and their
/// `S`/`M` reduced straight into lanes of rows, then accumulated. For long rows (the FFN's
/// down projection: 74 super-blocks, 21.6 KB of activations) this keeps the activations in
/// L1 where reading whole rows in turn streamed them from L2 once per row (2× slower). The
/// float steps per (row, super-block) are [`group_k`]'s, so results are bit for bit equal.
///
/// # Safety
/// As [`group_k`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn rows_side_by_side<W, U, FU, FP, FS>(
    k: &QKParts<W, U, FU, FP, FS>,
    w: &[W],
    nb: usize,
    x: &[BlockQ8_K],
    xb: &XBatch<'_>,
    c0: usize,
    t0: usize,
    out: &mut OutTile<'_>,
) where
    FU: Fn(&W) -> U,
    FP: Fn(&U, &BlockQ8_K) -> (__m256i, __m256i),
    FS: Fn(&W) -> (u16, u16),
{
    // SAFETY: the caller is compiled for AVX2, FMA and F16C (at least), as every helper here
    // needs.
    unsafe {
        let rows = w.len() / nb;
        let xs = &x[c0 * nb..(c0 + 1) * nb];
        let dxs = &xb.d[c0..];
        let mut r = 0;
        while r < rows {
            let ws: [&[W]; 8] = std::array::from_fn(|i| {
                let ri = (r + i).min(rows - 1);
                &w[ri * nb..(ri + 1) * nb]
            });
            let mut acc = _mm256_setzero_ps();
            for (b, xq) in xs.iter().enumerate() {
                let mut ps = [_mm256_setzero_si256(); 8];
                let mut pm = [_mm256_setzero_si256(); 8];
                let mut hd = [0u16; 8];
                let mut hm = [0u16; 8];
                for i in 0..8 {
                    let wb = &ws[i][b];
                    prefetch_ahead(wb, prefetch::ROWS_SIDE_BY_SIDE);
                    (ps[i], pm[i]) = (k.partial)(&(k.unpack)(wb), xq);
                    (hd[i], hm[i]) = (k.scale)(wb);
                }
                let dx = side_f32::<1>(&dxs[b * xb.ld..]);
                acc = _mm256_fmadd_ps(_mm256_mul_ps(f16x8(hd), dx), _mm256_cvtepi32_ps(reduce8(&ps)), acc);
                if k.has_min {
                    let m = _mm256_cvtepi32_ps(reduce8(&pm));
                    acc = _mm256_fnmadd_ps(_mm256_mul_ps(f16x8(hm), dx), m, acc);
                }
            }
            store_lanes::<1>(acc, r, 1, rows, c0, 1, t0, out);
            r += 8;
        }
    }
}

/// Rows × tokens `c0..c0 + valid` (`valid <= G`, `c0 % 8 == 0`) of a K-quant type.
///
/// Two phases per group of `8 / G` neighbouring rows and segment of super-blocks: the
/// integer phase reads the rows one after the other, front to back (one sequential stream),
/// and reduces the partials of `8 / G` super-blocks × `G` tokens per register; the float
/// phase transposes those to lanes of (row, token) and accumulates super-block by
/// super-block. (Super-blocks carry enough work that the buffering costs little; the
/// 32-element types instead read `8 / G` strided runs of rows side by side, `mat.rs`.)
///
/// Always inlined (not `#[target_feature]`, which cannot be) so that it, and the type's
/// `unpack`/`partial` closures, compile for the features of the entry that calls it.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C, and the caller must be compiled for them.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn group_k<W, U, FU, FP, FS, const G: usize>(
    k: &QKParts<W, U, FU, FP, FS>,
    w: &[W],
    nb: usize,
    x: &[BlockQ8_K],
    xb: &XBatch<'_>,
    c0: usize,
    valid: usize,
    t0: usize,
    out: &mut OutTile<'_>,
    buf: &mut SegBuf,
) where
    FU: Fn(&W) -> U,
    FP: Fn(&U, &BlockQ8_K) -> (__m256i, __m256i),
    FS: Fn(&W) -> (u16, u16),
{
    // SAFETY: the caller is compiled for AVX2, FMA and F16C (at least), as every helper here needs.
    unsafe {
        let rr = 8 / G;
        let rows = w.len() / nb;
        let ld = xb.ld;
        let xs: [&[BlockQ8_K]; G] = std::array::from_fn(|j| {
            let t = c0 + j.min(valid - 1);
            &x[t * nb..(t + 1) * nb]
        });
        let dxs = &xb.d[c0..];
        let mut r = 0;
        while r < rows {
            let mut acc = _mm256_setzero_ps();
            let mut seg0 = 0;
            while seg0 < nb {
                let seg1 = (seg0 + SEG).min(nb);
                let tiles = (seg1 - seg0).div_ceil(rr);
                for i in 0..rr {
                    let ri = (r + i).min(rows - 1);
                    let row = &w[ri * nb + seg0..ri * nb + seg1];
                    for (tile, blocks) in row.chunks(rr).enumerate() {
                        let mut ps = [_mm256_setzero_si256(); 8];
                        let mut pm = [_mm256_setzero_si256(); 8];
                        for (bb, wb) in blocks.iter().enumerate() {
                            let b = tile * rr + bb;
                            prefetch_ahead(wb, prefetch::K_BLOCKS);
                            let u = (k.unpack)(wb);
                            let (d, m) = (k.scale)(wb);
                            for j in 0..G {
                                (ps[bb * G + j], pm[bb * G + j]) = (k.partial)(&u, &xs[j][seg0 + b]);
                                buf.hd[b][i * G + j] = d;
                                if k.has_min {
                                    buf.hm[b][i * G + j] = m;
                                }
                            }
                        }
                        buf.s[tile * rr + i] = reduce8(&ps);
                        if k.has_min {
                            buf.m[tile * rr + i] = reduce8(&pm);
                        }
                    }
                }
                for tile in 0..tiles {
                    let vs = transpose_groups::<G>(std::array::from_fn(|i| buf.s[tile * rr + i.min(rr - 1)]));
                    let vm = transpose_groups::<G>(std::array::from_fn(|i| buf.m[tile * rr + i.min(rr - 1)]));
                    for bb in 0..rr.min(seg1 - seg0 - tile * rr) {
                        let b = tile * rr + bb;
                        let dx = side_f32::<G>(&dxs[(seg0 + b) * ld..]);
                        acc = _mm256_fmadd_ps(
                            _mm256_mul_ps(f16x8(buf.hd[b]), dx),
                            _mm256_cvtepi32_ps(vs[bb]),
                            acc,
                        );
                        if k.has_min {
                            let m = _mm256_cvtepi32_ps(vm[bb]);
                            acc = _mm256_fnmadd_ps(_mm256_mul_ps(f16x8(buf.hm[b]), dx), m, acc);
                        }
                    }
                }
                seg0 = seg1;
            }
            store_lanes::<G>(acc, r, 1, rows, c0, valid, t0, out);
            r += rr;
        }
    }
}

/// All rows of `w` × tokens `t0..t1` of a K-quant type into the `[t - t0][row]` tile.
///
/// Always inlined (not `#[target_feature]`, which cannot be) so that it, and the type's
/// `unpack`/`partial` closures, compile for the features of the entry that calls it.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C, and the caller must be compiled for them.
#[inline(always)]
pub(crate) unsafe fn mat_k<W, U, FU, FP, FS>(
    k: QKParts<W, U, FU, FP, FS>,
    w: &[W],
    x: &[BlockQ8_K],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
) where
    FU: Fn(&W) -> U,
    FP: Fn(&U, &BlockQ8_K) -> (__m256i, __m256i),
    FS: Fn(&W) -> (u16, u16),
{
    // SAFETY: the caller is compiled for AVX2, FMA and F16C (at least), as every helper here needs.
    unsafe {
        let nb = xb.row_bytes / size_of::<BlockQ8_K>();
        if nb == 0 || w.is_empty() {
            return;
        }
        let mut buf = SegBuf {
            s: [_mm256_setzero_si256(); SEG],
            m: [_mm256_setzero_si256(); SEG],
            hd: [[0; 8]; SEG],
            hm: [[0; 8]; SEG],
        };
        let mut c0 = t0;
        while c0 < t1 {
            let valid = (t1 - c0).min(8);
            let b = &mut buf;
            if valid == 1 && nb >= SIDE_BY_SIDE_MIN_BLOCKS {
                rows_side_by_side(&k, w, nb, x, xb, c0, t0, out);
                c0 += 8;
                continue;
            }
            match valid.next_power_of_two() {
                1 => group_k::<W, U, FU, FP, FS, 1>(&k, w, nb, x, xb, c0, valid, t0, out, b),
                2 => group_k::<W, U, FU, FP, FS, 2>(&k, w, nb, x, xb, c0, valid, t0, out, b),
                4 => group_k::<W, U, FU, FP, FS, 4>(&k, w, nb, x, xb, c0, valid, t0, out, b),
                _ => group_k::<W, U, FU, FP, FS, 8>(&k, w, nb, x, xb, c0, valid, t0, out, b),
            }
            c0 += 8;
        }
    }
}

/// The row dot of a K-quant type with the arithmetic of [`mat_k`].
///
/// Always inlined (not `#[target_feature]`, which cannot be) so that it, and the type's
/// `unpack`/`partial` closures, compile for the features of the entry that calls it.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C, and the caller must be compiled for them.
#[inline(always)]
pub(crate) unsafe fn dot_k<W, U, FU, FP, FS>(k: QKParts<W, U, FU, FP, FS>, w: &[W], x: &[BlockQ8_K]) -> f32
where
    FU: Fn(&W) -> U,
    FP: Fn(&U, &BlockQ8_K) -> (__m256i, __m256i),
    FS: Fn(&W) -> (u16, u16),
{
    // SAFETY: the caller is compiled for AVX2, FMA and F16C (at least), as every helper here needs.
    unsafe {
        let mut acc = 0f32;
        for (wb, xq) in w.iter().zip(x) {
            let (s, m) = (k.partial)(&(k.unpack)(wb), xq);
            let (d, dmin) = (k.scale)(wb);
            let dx = xq.d.get();
            acc = (f16(F16Le(d.to_le_bytes())) * dx).mul_add(hsum_i32x8(s) as f32, acc);
            if k.has_min {
                acc = (-(f16(F16Le(dmin.to_le_bytes())) * dx)).mul_add(hsum_i32x8(m) as f32, acc);
            }
        }
        acc
    }
}

/// `qk_kernels!("features", mat, dot, W, parts)`: the batch kernel and the row dot of one
/// K-quant type, compiled for `features` (this table's, or the AVX-512 one's, whose partials
/// differ and whose float phase is this one: `mat_k` and `dot_k` inline into the entries).
macro_rules! qk_kernels {
    ($features:literal, $(#[$doc:meta])* $mat:ident, $dot:ident, $w:ty, $k:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The CPU must support the features this kernel is compiled for.
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn $mat(
            w: &[$w],
            x: &[BlockQ8_K],
            xb: &$crate::dispatch::XBatch<'_>,
            t0: usize,
            t1: usize,
            out: &mut $crate::out_tile::OutTile<'_>,
        ) {
            // SAFETY: this entry is compiled for at least AVX2, FMA and F16C.
            unsafe { $crate::arch::x86_64::avx2::mat_k::mat_k($k, w, x, xb, t0, t1, out) }
        }

        /// The row dot with the arithmetic of the batch kernel.
        ///
        /// # Safety
        /// The CPU must support the features this kernel is compiled for.
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn $dot(w: &[$w], x: &[BlockQ8_K]) -> f32 {
            // SAFETY: this entry is compiled for at least AVX2, FMA and F16C.
            unsafe { $crate::arch::x86_64::avx2::mat_k::dot_k($k, w, x) }
        }
    };
}
pub(crate) use qk_kernels;

qk_kernels!(
    "avx2,fma,f16c",
    /// Q4_K weight rows × Q8_K tokens.
    mat_q4_k,
    dot_q4_k_q8_k,
    BlockQ4_K,
    QKParts {
        has_min: true,
        unpack: |w: &BlockQ4_K| unpack_q4_k(w),
        partial: |u: &K4, x: &BlockQ8_K| partial_k4(u, x),
        scale: |w: &BlockQ4_K| (w.d.bits(), w.dmin.bits()),
        _types: std::marker::PhantomData,
    }
);
qk_kernels!(
    "avx2,fma,f16c",
    /// Q5_K weight rows × Q8_K tokens.
    mat_q5_k,
    dot_q5_k_q8_k,
    BlockQ5_K,
    QKParts {
        has_min: true,
        unpack: |w: &BlockQ5_K| unpack_q5_k(w),
        partial: |u: &K4, x: &BlockQ8_K| partial_k4(u, x),
        scale: |w: &BlockQ5_K| (w.d.bits(), w.dmin.bits()),
        _types: std::marker::PhantomData,
    }
);
qk_kernels!(
    "avx2,fma,f16c",
    /// Q6_K weight rows × Q8_K tokens.
    mat_q6_k,
    dot_q6_k_q8_k,
    BlockQ6_K,
    QKParts {
        has_min: false,
        unpack: |w: &BlockQ6_K| unpack_q6_k(w),
        partial: |u: &K6, x: &BlockQ8_K| partial_q6_k(u, x),
        scale: |w: &BlockQ6_K| (w.d.bits(), 0),
        _types: std::marker::PhantomData,
    }
);
