//! AVX-512 kernels of Q4_K and Q6_K repacked 8 rows to a block ([`BlockQ4_Kx8`],
//! [`BlockQ6_Kx8`]), Q5_0 and Q8_0 16 rows to a block ([`BlockQ5_0x16`], [`BlockQ8_0x16`]):
//! all rows of a group in the lanes of one register, so no partial sum is ever reduced
//! across rows. (Q4_K is described below; Q6_K is the same with four registers of 6-bit
//! quants per ql/ql/qh triple of loads and 16 sub-block scales. The 32-element types need
//! no scale shuffles: one `vpdpbusd` per 64 bytes and token, each i32 lane one row's sum,
//! then the float steps on 16 rows at once, where the row-major AVX2 kernel spends
//! `maddubs` + `madd` per 32 bytes and a transpose-reduce of 8 lanes per row.)
//!
//! Per 64-byte load of nibbles: the low nibbles are 8 quants of sub-block `2p` for each of
//! the 8 rows, the high nibbles the same 8 positions of sub-block `2p + 1`; the 8
//! activations they meet are one 8-byte broadcast. One `vpdpbusd` per nibble half and token
//! adds 4 products into each of 2 i32 lanes per row; after the 4 loads of a sub-block pair a
//! lane holds 16 products, |Σ| ≤ 16 · 15 · 128 < 2^15, so `vpackssdw` packs the pair's two
//! registers into i16 without saturating and one `vpdpwssd` applies each row's two
//! sub-block scales (one `vpermw` per pair, shared by the tokens). That is 2 + 3 instructions
//! per 64 bytes and token plus 2 per pair and token, where `vpmaddubsw` + `vpdpwssd` per
//! nibble half took 4; the row-major kernels (`mat_k.rs`) spend about twice as many again on
//! unpacking scales, folding halves and transposing. `M` is 2 multiply-adds per token and
//! super-block: the mins are stored four to a row's 64-bit lane, the activations'
//! sub-block sums (`XBatch::sub`, made once per batch) broadcast to match. Batches take
//! Q4_K 8 tokens per pass (each unpacked load feeds 16 `vpdpbusd`), Q6_K 4 (at 8, LLVM left
//! its token loop rolled and the accumulators went to the stack).
//!
//! Q4_K batches pack two tokens per register instead of two sub-blocks: `vpackssdw` of
//! tokens `2h` and `2h + 1`'s partials of one sub-block, then `vpdpwssd` with that
//! sub-block's scales, leaves 128-bit lane `L` holding rows `2L`, `2L + 1` of the first token,
//! then of the second (the pair layout). `M` lands there with one `vshufps` of the two
//! tokens' registers, the row scales with one `vpermps` per super-block, and the float steps
//! run on the 16 lanes as they are; the layout is undone once per row group, at the store.
//! Packing sub-blocks instead left 16 lanes in token-major order and took four lane-crossing
//! permutes per token pair and super-block to put them right, on the same two pipes as
//! `vpdpbusd` on Zen 4 (`matmul_flop/q4_K/4096x4096/n512`, alternated: about 7% slower).
//!
//! The integers `S` and `M` per (row, super-block) are exact, and the float steps are
//! `group_k`'s (`avx2::mat_k`): `acc = fma(d·dx, S, acc)`, then `acc = fnmadd(dmin·dx, M,
//! acc)`, super-block by super-block. So every result equals the row-major kernels' and the
//! row dot's bit for bit, whatever layout or batch a token goes through.

use crate::out_tile::OutTile;
use std::arch::x86_64::*;

use super::mat_k::{dpwssd, load64};
use crate::arch::x86_64::avx2::mat_k::bsums;
use crate::arch::x86_64::avx2::mat_x8::{slot, store_group, token_groups, token_rows};
use crate::arch::x86_64::avx2::util::{
    load16, load32, prefetch, prefetch_ahead, prefetch_line, prefetch_prefix,
};
use crate::blocks::*;
use crate::dispatch::XBatch;

/// `vpermw` indices for sub-blocks `2p` and `2p + 1` (`base` = `16 · (p % 2)`): in the
/// 128-bit lane `L` (rows `2L`, `2L + 1`), i16 lanes 0–3 take the two rows' scales of
/// sub-block `2p` (each twice), lanes 4–7 those of `2p + 1` — the layout `vpackssdw` gives
/// the two sub-blocks' partial sums in.
const fn per_pair(base: usize) -> [i16; 32] {
    let mut t = [0i16; 32];
    let mut l = 0;
    while l < 32 {
        let (lane, j) = (l / 8, l % 8);
        t[l] = (base + 8 * (j / 4) + 2 * lane + (j % 4) / 2) as i16;
        l += 1;
    }
    t
}

/// Sub-block pair `p`'s scales: `IDX_PAIR_SC[p % 2]` of widened register `p / 2`.
const IDX_PAIR_SC: [[i16; 32]; 2] = [per_pair(0), per_pair(16)];

/// `vpermq` indices: the low 64 bits of each 128-bit lane into the low 256 bits (one token's
/// 8 row sums; the upper half's indices are unused).
const IDX_LOW_QWORDS: [i64; 8] = [0, 2, 4, 6, 8, 10, 12, 14];

/// `vpermd` indices: the even i32 lanes into the low 256 bits (one token's `M`; the upper
/// half's indices are unused).
const IDX_EVEN: [i32; 16] = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];

/// `vpermps` indices into the pair layout of two tokens' 8 rows: 128-bit lane `L` holds rows
/// `2L`, `2L + 1` of the first token, then of the second. As indices into one token's 8 rows
/// (the low 256 bits): lane `l` takes row `2 · (l / 4) + l % 2`.
const IDX_ROWS_X: [i32; 16] = [0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7];

/// `vpermps` indices from the pair layout to the first token's 8 rows, then the second's.
const IDX_UNPAIR: [i32; 16] = [0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15];

/// 8 bytes broadcast to every 64-bit lane.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn bcast8(a: &[i8; 8]) -> __m512i {
    // SAFETY: reads exactly the 8 bytes of `a`, unaligned.
    _mm512_set1_epi64(unsafe { a.as_ptr().cast::<i64>().read_unaligned() })
}

/// The low and the high 256 bits of `v` (two tokens' 8 rows, the inverse of [`join`]).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn halves(v: __m512) -> [__m256; 2] {
    [_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)))]
}

/// The sums of a token's 32-quant sub-blocks ([`XBatch::sub`], made once per batch) as i16:
/// sub-blocks 0–3 in every 64-bit lane of the first register, 4–7 in every 64-bit lane of the
/// second. Two broadcast loads, no vector arithmetic.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn sub_sums(sub: &[i16; 8]) -> (__m512i, __m512i) {
    let (halves, _) = sub.as_chunks::<4>();
    let q = |h: &[i16; 4]| bcast8(bytemuck::cast_ref::<[i16; 4], [i8; 8]>(h));
    (q(&halves[0]), q(&halves[1]))
}

/// Row `i`'s two halves of `M` (`Σ_s min · sub-block sum`, sub-blocks 0–3 and 4–7) in i32
/// lanes `2i` and `2i + 1`: `mins` widened (sub-blocks 0–3, then 4–7; row `i`'s four in
/// 64-bit lane `i`), `sums` from [`sub_sums`].
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn mins_halves(mins: &(__m512i, __m512i), sums: (__m512i, __m512i)) -> __m512i {
    dpwssd(_mm512_madd_epi16(mins.0, sums.0), mins.1, sums.1)
}

/// `M` of the 8 rows, row `i`'s in i32 lane `2i` (see [`mins_halves`]).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn mins8(mins: &(__m512i, __m512i), sums: (__m512i, __m512i)) -> __m512i {
    let v = mins_halves(mins, sums);
    _mm512_add_epi32(v, _mm512_srli_epi64::<32>(v))
}

/// Rows (8 per group of `w`, `nb` blocks per group) × tokens `t0..t1` into the `[t - t0][row]`
/// tile `out`.
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C, AVX512F/BW/VL and AVX512-VNNI.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn mat_q4_k_x8(
    w: &[BlockQ4_Kx8],
    nb: usize,
    x: &[BlockQ8_K],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
) {
    for (t, g, last) in token_groups(t0, t1, 8) {
        match g {
            1 => tokens::<1>(w, nb, x, xb, t0, t, last, out),
            2 => tokens::<2>(w, nb, x, xb, t0, t, last, out),
            4 => tokens::<4>(w, nb, x, xb, t0, t, last, out),
            _ => tokens::<8>(w, nb, x, xb, t0, t, last, out),
        }
    }
}

/// [`mat_q4_k_x8`] for the `G` tokens from `t` (slots past `last` repeat it).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn tokens<const G: usize>(
    w: &[BlockQ4_Kx8],
    nb: usize,
    x: &[BlockQ8_K],
    xb: &XBatch<'_>,
    t0: usize,
    t: usize,
    last: usize,
    out: &mut OutTile<'_>,
) {
    const { assert!(G == 1 || G == 2 || G == 4 || G == 8, "token groups of 1, 2, 4 or 8") };
    // Sub-block pairs per pass: 8 `vpdpbusd` chains in flight (16 at 8 tokens).
    let per = (4 / G).max(1);
    let xs: [&[_]; G] = token_rows(x, nb, t, last);
    let m4 = _mm512_set1_epi8(0xf);
    let sc_idx: [__m512i; 2] = std::array::from_fn(|e| {
        // SAFETY: reads exactly the 64 bytes of one index table, unaligned.
        unsafe { _mm512_loadu_si512(IDX_PAIR_SC[e].as_ptr().cast()) }
    });
    // SAFETY: reads exactly the 64 bytes of `IDX_LOW_QWORDS`, unaligned.
    let low_idx = unsafe { _mm512_loadu_si512(IDX_LOW_QWORDS.as_ptr().cast()) };
    // SAFETY: reads exactly the 64 bytes of `IDX_EVEN`, unaligned.
    let even = unsafe { _mm512_loadu_si512(IDX_EVEN.as_ptr().cast()) };
    // SAFETY: reads exactly the 64 bytes of `IDX_ROWS_X`, unaligned.
    let rows_x = unsafe { _mm512_loadu_si512(IDX_ROWS_X.as_ptr().cast()) };
    // SAFETY: reads exactly the 64 bytes of `IDX_UNPAIR`, unaligned.
    let unpair = unsafe { _mm512_loadu_si512(IDX_UNPAIR.as_ptr().cast()) };
    for (grp, blocks) in w.chunks_exact(nb).enumerate() {
        // One token: acc[0]. More: pair h (tokens 2h, 2h + 1) in acc2[h], in the pair layout
        // (see `IDX_ROWS_X`).
        let mut acc = [_mm256_setzero_ps(); 1];
        let mut acc2 = [_mm512_setzero_ps(); G];
        for (b, wb) in blocks.iter().enumerate() {
            // The head's lines now, the quants' one per load below: spread over the block's
            // work, not 19 requests at once (`prefetch`'s docs).
            prefetch_prefix(wb, prefetch::ONE_STREAM, std::mem::offset_of!(BlockQ4_Kx8, qs));
            let (sc_half, _) = wb.scales.as_chunks::<32>();
            let sc = [_mm512_cvtepu8_epi16(load32(&sc_half[0])), _mm512_cvtepu8_epi16(load32(&sc_half[1]))];
            // One token: s[0][0]. More: pair h's even sub-blocks in s[h][0], odd in s[h][1].
            let mut s = [[_mm512_setzero_si512(); 2]; G];
            let (qs, _) = wb.qs.as_chunks::<64>();
            for p0 in (0..4).step_by(per) {
                // Per token, sub-blocks 2p and 2p + 1: 16 products per i32 lane (2 lanes per
                // row), |Σ| ≤ 16 · 15 · 128 < 2^15, so `vpackssdw` below never saturates.
                let mut part = [[[_mm512_setzero_si512(); 2]; G]; 4];
                for k in 0..4 {
                    for (p, pp) in (p0..).zip(&mut part[..per]) {
                        prefetch_line(&qs[4 * p + k], prefetch::ONE_STREAM);
                        let v = load64(&qs[4 * p + k]);
                        let qa = _mm512_and_si512(v, m4);
                        let qb = _mm512_and_si512(_mm512_srli_epi16::<4>(v), m4);
                        for (xj, pj) in xs.iter().zip(pp.iter_mut()) {
                            let (xq, _) = xj[b].qs.as_chunks::<8>();
                            pj[0] = _mm512_dpbusd_epi32(pj[0], qa, bcast8(&xq[8 * p + k]));
                            pj[1] = _mm512_dpbusd_epi32(pj[1], qb, bcast8(&xq[8 * p + 4 + k]));
                        }
                    }
                }
                for (p, pp) in (p0..).zip(&part[..per]) {
                    // i16 lanes of 128-bit lane L: rows 2L, 2L + 1 of sub-block 2p (each
                    // twice), then of 2p + 1.
                    let scp = _mm512_permutexvar_epi16(sc_idx[p % 2], sc[p / 2]);
                    if G == 1 {
                        // Sub-blocks 2p and 2p + 1 packed together; `vpdpwssd` folds each
                        // half pair.
                        s[0][0] = dpwssd(s[0][0], _mm512_packs_epi32(pp[0][0], pp[0][1]), scp);
                        continue;
                    }
                    // Two tokens packed together, sub-block by sub-block: i32 lanes of
                    // 128-bit lane L then hold rows 2L, 2L + 1 of token 2h, then of 2h + 1
                    // (the pair layout), each with its scales twice.
                    let (sce, sco) = (_mm512_unpacklo_epi64(scp, scp), _mm512_unpackhi_epi64(scp, scp));
                    for (sh, pair) in s[..G / 2].iter_mut().zip(pp.chunks_exact(2)) {
                        sh[0] = dpwssd(sh[0], _mm512_packs_epi32(pair[0][0], pair[1][0]), sce);
                        sh[1] = dpwssd(sh[1], _mm512_packs_epi32(pair[0][1], pair[1][1]), sco);
                    }
                }
            }
            let (mins_half, _) = wb.mins.as_chunks::<32>();
            let mins =
                (_mm512_cvtepu8_epi16(load32(&mins_half[0])), _mm512_cvtepu8_epi16(load32(&mins_half[1])));
            let d = _mm256_cvtph_ps(load16(bytemuck::cast_ref::<_, [u8; 16]>(&wb.d)));
            let dmin = _mm256_cvtph_ps(load16(bytemuck::cast_ref::<_, [u8; 16]>(&wb.dmin)));
            let sums = |j: usize| sub_sums(&xb.sub[b * xb.ld + slot(t, j, last)]);
            if G == 1 {
                // i32 lanes of 128-bit lane L of `s[0][0]`: rows 2L, 2L + 1 of the even
                // sub-blocks, then of the odd ones; summed, row `i` is in the low 64 bits of
                // 128-bit lane `i / 2`.
                let v = s[0][0];
                let v = _mm512_add_epi32(v, _mm512_shuffle_epi32::<0b01_00_11_10>(v));
                let sum = _mm512_castsi512_si256(_mm512_permutexvar_epi64(low_idx, v));
                let m = _mm512_castsi512_si256(_mm512_permutexvar_epi32(even, mins8(&mins, sums(0))));
                let dx = _mm256_set1_ps(xb.d[b * xb.ld + t]);
                acc[0] = _mm256_fmadd_ps(_mm256_mul_ps(d, dx), _mm256_cvtepi32_ps(sum), acc[0]);
                acc[0] = _mm256_fnmadd_ps(_mm256_mul_ps(dmin, dx), _mm256_cvtepi32_ps(m), acc[0]);
                continue;
            }
            // The rows' scales in the pair layout.
            let d2 = _mm512_permutexvar_ps(rows_x, _mm512_castps256_ps512(d));
            let dmin2 = _mm512_permutexvar_ps(rows_x, _mm512_castps256_ps512(dmin));
            let at = b * xb.ld;
            for (h, (a, sh)) in acc2[..G / 2].iter_mut().zip(&s).enumerate() {
                let (ja, jb) = (2 * h, 2 * h + 1);
                let sum = _mm512_add_epi32(sh[0], sh[1]);
                // `M` of row i is in i32 lane 2i of `mins8`: lanes 0 and 2 of each 128-bit
                // lane, token ja's then jb's, are the pair layout.
                let (ma, mb) = (mins8(&mins, sums(ja)), mins8(&mins, sums(jb)));
                let m = _mm512_castps_si512(_mm512_shuffle_ps::<0b10_00_10_00>(
                    _mm512_castsi512_ps(ma),
                    _mm512_castsi512_ps(mb),
                ));
                let (ta, tb) = (slot(t, ja, last), slot(t, jb, last));
                let dx = _mm512_shuffle_ps::<0>(_mm512_set1_ps(xb.d[at + ta]), _mm512_set1_ps(xb.d[at + tb]));
                *a = _mm512_fmadd_ps(_mm512_mul_ps(d2, dx), _mm512_cvtepi32_ps(sum), *a);
                *a = _mm512_fnmadd_ps(_mm512_mul_ps(dmin2, dx), _mm512_cvtepi32_ps(m), *a);
            }
        }
        if G == 1 {
            store_group(&acc, t - t0, grp, out);
        } else {
            for (h, a) in acc2[..G / 2].iter().enumerate() {
                store_group(&halves(_mm512_permutexvar_ps(unpair, *a)), t - t0 + 2 * h, grp, out);
            }
        }
    }
}

/// `vpermw` indices for Q6_K: 16-bit lane `l` takes element `base + 2 · (l / 4)` (row
/// `l / 4`'s scale in a widened register of `BlockQ6_Kx8::scales`).
const fn per_row_q6(base: usize) -> [i16; 32] {
    let mut t = [0i16; 32];
    let mut l = 0;
    while l < 32 {
        t[l] = (base + 2 * (l / 4)) as i16;
        l += 1;
    }
    t
}

/// Sub-block `2p + e`'s scales: `IDX_Q6[2 · (p % 2) + e]` of widened register `p / 2`.
const IDX_Q6: [[i16; 32]; 4] = [per_row_q6(0), per_row_q6(1), per_row_q6(16), per_row_q6(17)];

/// `vpermd` indices: the bsum pair `2z` in the low 256 bits, `2z + 1` in the high (`z` 0..4).
const fn pair_idx(z: usize) -> [i32; 16] {
    let mut t = [0i32; 16];
    let mut l = 0;
    while l < 16 {
        t[l] = (2 * z + l / 8) as i32;
        l += 1;
    }
    t
}

const IDX_PAIRS: [[i32; 16]; 4] = [pair_idx(0), pair_idx(1), pair_idx(2), pair_idx(3)];

/// Q6_K rows (8 per group of `w`, `nb` blocks per group) × tokens `t0..t1` into the
/// `[t - t0][row]` tile `out`: as [`mat_q4_k_x8`], the −32 offset folded in as
/// `32 · Σ sc · bsum` (the row-major kernels' `S`).
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C, AVX512F/BW/VL and AVX512-VNNI.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn mat_q6_k_x8(
    w: &[BlockQ6_Kx8],
    nb: usize,
    x: &[BlockQ8_K],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
) {
    for (t, g, last) in token_groups(t0, t1, 4) {
        match g {
            1 => tokens_q6::<1>(w, nb, x, xb, t0, t, last, out),
            2 => tokens_q6::<2>(w, nb, x, xb, t0, t, last, out),
            _ => tokens_q6::<4>(w, nb, x, xb, t0, t, last, out),
        }
    }
}

/// `32 · Σ_s sc · bsum_s` of the 8 rows (8 lanes): `sc` the widened scales.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn offset8(sc: &[__m512i; 4], pair_idx: &[__m512i; 4], x: &BlockQ8_K) -> __m256i {
    let pairs = _mm512_castsi256_si512(bsums(x));
    let mut v = _mm512_setzero_si512();
    for z in 0..4 {
        v = _mm512_add_epi32(v, _mm512_madd_epi16(sc[z], _mm512_permutexvar_epi32(pair_idx[z], pairs)));
    }
    let v = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64::<1>(v));
    _mm256_slli_epi32::<5>(v)
}

/// [`mat_q6_k_x8`] for the `G` tokens from `t` (slots past `last` repeat it).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn tokens_q6<const G: usize>(
    w: &[BlockQ6_Kx8],
    nb: usize,
    x: &[BlockQ8_K],
    xb: &XBatch<'_>,
    t0: usize,
    t: usize,
    last: usize,
    out: &mut OutTile<'_>,
) {
    let per = 8 / G;
    let xs: [&[_]; G] = token_rows(x, nb, t, last);
    let m15 = _mm512_set1_epi8(15);
    let m3 = _mm512_set1_epi8(3);
    let m12 = _mm512_set1_epi8(12);
    let m48 = _mm512_set1_epi8(48);
    let m192 = _mm512_set1_epi8(-64);
    let sc_idx: [__m512i; 4] = std::array::from_fn(|s| {
        // SAFETY: reads exactly the 64 bytes of one index table, unaligned.
        unsafe { _mm512_loadu_si512(IDX_Q6[s].as_ptr().cast()) }
    });
    let pair_idx: [__m512i; 4] = std::array::from_fn(|z| {
        // SAFETY: reads exactly the 64 bytes of one index table, unaligned.
        unsafe { _mm512_loadu_si512(IDX_PAIRS[z].as_ptr().cast()) }
    });
    for (grp, blocks) in w.chunks_exact(nb).enumerate() {
        let mut acc = [_mm256_setzero_ps(); G];
        for (b, wb) in blocks.iter().enumerate() {
            // As in `tokens`: the head's lines now, the quants' one per load below.
            prefetch_prefix(wb, prefetch::ONE_STREAM, std::mem::offset_of!(BlockQ6_Kx8, ql));
            let (sc_q, _) = wb.scales.as_chunks::<32>();
            let sc: [__m512i; 4] = std::array::from_fn(|z| _mm512_cvtepi8_epi16(load32(&sc_q[z])));
            let mut s = [[_mm512_setzero_si512(); 8]; G];
            let (ql, _) = wb.ql.as_chunks::<64>();
            let (qh, _) = wb.qh.as_chunks::<64>();
            for h in 0..2 {
                for kk in 0..2 {
                    let scs = [
                        _mm512_permutexvar_epi16(sc_idx[kk], sc[2 * h]),
                        _mm512_permutexvar_epi16(sc_idx[2 + kk], sc[2 * h]),
                        _mm512_permutexvar_epi16(sc_idx[kk], sc[2 * h + 1]),
                        _mm512_permutexvar_epi16(sc_idx[2 + kk], sc[2 * h + 1]),
                    ];
                    for k in 2 * kk..2 * kk + 2 {
                        for line in [&ql[8 * h + k], &ql[8 * h + 4 + k], &qh[4 * h + k]] {
                            prefetch_line(line, prefetch::ONE_STREAM);
                        }
                        let l0 = load64(&ql[8 * h + k]);
                        let l1 = load64(&ql[8 * h + 4 + k]);
                        let hv = load64(&qh[4 * h + k]);
                        // Quants 8k + j, + 32, + 64, + 96 of half h (sub-blocks 8h + k/2 + 0, 2, 4, 6).
                        let q = [
                            _mm512_or_si512(
                                _mm512_and_si512(l0, m15),
                                _mm512_slli_epi16::<4>(_mm512_and_si512(hv, m3)),
                            ),
                            _mm512_or_si512(
                                _mm512_and_si512(l1, m15),
                                _mm512_slli_epi16::<2>(_mm512_and_si512(hv, m12)),
                            ),
                            _mm512_or_si512(
                                _mm512_and_si512(_mm512_srli_epi16::<4>(l0), m15),
                                _mm512_and_si512(hv, m48),
                            ),
                            _mm512_or_si512(
                                _mm512_and_si512(_mm512_srli_epi16::<4>(l1), m15),
                                _mm512_srli_epi16::<2>(_mm512_and_si512(hv, m192)),
                            ),
                        ];
                        for j in 0..G {
                            let (xq, _) = xs[j][b].qs.as_chunks::<8>();
                            for (r, (&qr, &sr)) in q.iter().zip(&scs).enumerate() {
                                let ia = (4 * (k % 2) + r) % per;
                                let p = _mm512_maddubs_epi16(qr, bcast8(&xq[16 * h + 4 * r + k]));
                                s[j][ia] = dpwssd(s[j][ia], p, sr);
                            }
                        }
                    }
                }
            }
            let d = _mm256_cvtph_ps(load16(bytemuck::cast_ref::<_, [u8; 16]>(&wb.d)));
            for j in 0..G {
                let v = s[j][1..per].iter().fold(s[j][0], |v, &a| _mm512_add_epi32(v, a));
                let sum = _mm512_cvtepi64_epi32(_mm512_add_epi32(v, _mm512_srli_epi64::<32>(v)));
                let sum = _mm256_sub_epi32(sum, offset8(&sc, &pair_idx, &xs[j][b]));
                let dx = _mm256_set1_ps(xb.d[b * xb.ld + slot(t, j, last)]);
                acc[j] = _mm256_fmadd_ps(_mm256_mul_ps(d, dx), _mm256_cvtepi32_ps(sum), acc[j]);
            }
        }
        store_group(&acc, t - t0, grp, out);
    }
}

/// Q8_0 rows (16 per group of `w`, `nb` blocks per group) × tokens `t0..t1` into the
/// `[t - t0][row]` tile `out`. The quants are stored `+ 128` (unsigned, for `vpdpbusd`), so
/// the integer dot is `Σ (q + 128) · q_x − 128 · Σ q_x`: exact, and then the row-major
/// kernels' float step (`avx2::mat`'s `group32`).
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C, AVX512F/BW/VL and AVX512-VNNI.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn mat_q8_0_x16(
    w: &[BlockQ8_0x16],
    nb: usize,
    x: &[BlockQ8_0],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
) {
    let unpack = |wb: &BlockQ8_0x16| {
        let (qs, _) = wb.qs.as_chunks::<64>();
        let mut q = [_mm512_setzero_si512(); 8];
        for (qc, l) in q.iter_mut().zip(qs) {
            *qc = load64(l);
        }
        q
    };
    mat32_x16::<_, _, _, 7, false>(w, nb, x, xb, t0, t1, out, &unpack, |wb| (&wb.d, &wb.d));
}

/// Q4_1 rows × Q8_1 tokens, as [`mat_q8_0_x16`]: the nibbles are unsigned already, so no
/// offset; the min term is `m · s_x` per row, after the scale step, as in `avx2::mat`.
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C, AVX512F/BW/VL and AVX512-VNNI.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn mat_q4_1_x16(
    w: &[BlockQ4_1x16],
    nb: usize,
    x: &[BlockQ8_1],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
) {
    let unpack = |wb: &BlockQ4_1x16| nibbles_x16(&wb.qs);
    mat32_x16::<_, _, _, 0, true>(w, nb, x, xb, t0, t1, out, &unpack, |wb| (&wb.d, &wb.m));
}

/// Q5_0 rows × tokens, as [`mat_q8_0_x16`]: the fifth bits are added as 16 under a byte mask
/// (`qh`'s 8 bytes of a chunk are its mask), the offset of 16 taken off as `16 · Σ q_x`.
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C, AVX512F/BW/VL and AVX512-VNNI.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn mat_q5_0_x16(
    w: &[BlockQ5_0x16],
    nb: usize,
    x: &[BlockQ8_0],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
) {
    let sixteen = _mm512_set1_epi8(16);
    let unpack = |wb: &BlockQ5_0x16| {
        let (qh, _) = wb.qh.as_chunks::<8>();
        let mut q = nibbles_x16(&wb.qs);
        for (qc, m) in q.iter_mut().zip(qh) {
            *qc = _mm512_mask_add_epi8(*qc, u64::from_le_bytes(*m), *qc, sixteen);
        }
        q
    };
    mat32_x16::<_, _, _, 4, false>(w, nb, x, xb, t0, t1, out, &unpack, |wb| (&wb.d, &wb.d));
}

/// The 8 chunks of unsigned nibbles of a 16-row block (`BlockQ4_1x16`, `BlockQ5_0x16`'s
/// `qs`): chunk `c < 4` is the low nibbles of load `c` (quants `4c..4c + 4` of each row),
/// chunk `c ≥ 4` the high nibbles of load `c - 4` (quants `16 + 4(c - 4)..`, the same
/// `4c..4c + 4`).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn nibbles_x16(qs: &[u8; 256]) -> [__m512i; 8] {
    let m4 = _mm512_set1_epi8(0xf);
    let (qs, _) = qs.as_chunks::<64>();
    let mut q = [_mm512_setzero_si512(); 8];
    for (l, ql) in qs.iter().enumerate() {
        let v = load64(ql);
        q[l] = _mm512_and_si512(v, m4);
        q[l + 4] = _mm512_and_si512(_mm512_srli_epi16::<4>(v), m4);
    }
    q
}

/// Tokens `t0..t1` of a 32-element block type interleaved 16 rows to a block, 8 at a time
/// while 8 are left, then 4, 2, 1 ([`tokens32`]'s arguments).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn mat32_x16<W16, X, FU, const SHIFT: u32, const MIN: bool>(
    w: &[W16],
    nb: usize,
    x: &[X],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
    unpack: &FU,
    dm: impl Fn(&W16) -> (&[F16Le; 16], &[F16Le; 16]) + Copy,
) where
    X: Quants32,
    FU: Fn(&W16) -> [__m512i; 8],
{
    for (t, g, last) in token_groups(t0, t1, 8) {
        let ts = (t0, t, last);
        match g {
            1 => tokens32::<_, _, _, 1, SHIFT, MIN>(w, nb, x, xb, ts, out, unpack, dm),
            2 => tokens32::<_, _, _, 2, SHIFT, MIN>(w, nb, x, xb, ts, out, unpack, dm),
            4 => tokens32::<_, _, _, 4, SHIFT, MIN>(w, nb, x, xb, ts, out, unpack, dm),
            _ => tokens32::<_, _, _, 8, SHIFT, MIN>(w, nb, x, xb, ts, out, unpack, dm),
        }
    }
}

/// The `G` tokens from `t` (`ts`: the tile's first token, `t`, and the last real token,
/// repeated by the slots past it) of a 32-element block type interleaved 16 rows to a
/// block: `unpack` gives a block's 8 chunks of unsigned quants (chunk `c`: quants
/// `4c..4c + 4` of each row, 4 bytes per row), `dm` its 16 scales and 16 mins; the dot is
/// offset by `Σ q_x << SHIFT`, or with `MIN` (Q4_1 against Q8_1) has no offset and adds
/// `m · s_x`. Per chunk and token one `vpdpbusd` against 4 activation bytes broadcast to
/// every lane: i32 lane `i` is row `i`'s sum, so the float steps run on all 16 rows at once
/// and nothing is folded across lanes. The float steps are `avx2::mat`'s `group32`'s.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn tokens32<W16, X, FU, const G: usize, const SHIFT: u32, const MIN: bool>(
    w: &[W16],
    nb: usize,
    x: &[X],
    xb: &XBatch<'_>,
    (t0, t, last): (usize, usize, usize),
    out: &mut OutTile<'_>,
    unpack: &FU,
    dm: impl Fn(&W16) -> (&[F16Le; 16], &[F16Le; 16]),
) where
    X: Quants32,
    FU: Fn(&W16) -> [__m512i; 8],
{
    let xs: [&[_]; G] = token_rows(x, nb, t, last);
    for (grp, blocks) in w.chunks_exact(nb).enumerate() {
        let mut acc = [_mm512_setzero_ps(); G];
        for (b, wb) in blocks.iter().enumerate() {
            prefetch_ahead(wb, prefetch::ONE_STREAM);
            let q = unpack(wb);
            // Chunk by chunk, every token: up to 4 tokens two chains each, so that no
            // `vpdpbusd` waits on the one before; 8 tokens are 8 chains already (16 would
            // not fit the registers).
            // Each token's index into the batch's per-block sums and scales.
            let tj: [usize; G] = std::array::from_fn(|j| b * xb.ld + slot(t, j, last));
            // Each token's first chain starts at its offset, `−Σ q_x << SHIFT` (exact in i32,
            // so the sum is the same): no subtraction per token after the dot.
            let mut s: [[__m512i; 2]; G] = std::array::from_fn(|j| {
                let off = if MIN { 0 } else { -(xb.sum[tj[j]] << SHIFT) };
                [_mm512_set1_epi32(off), _mm512_setzero_si512()]
            });
            for (c, qc) in q.iter().enumerate() {
                for (sj, xj) in s.iter_mut().zip(&xs) {
                    let (xq, _) = xj[b].quants().as_chunks::<4>();
                    let k = if G < 8 { c % 2 } else { 0 };
                    sj[k] = _mm512_dpbusd_epi32(sj[k], *qc, bcast4(&xq[c]));
                }
            }
            let (d, m) = dm(wb);
            let dw = _mm512_cvtph_ps(load32(bytemuck::cast_ref::<_, [u8; 32]>(d)));
            let mw = if MIN { _mm512_cvtph_ps(load32(bytemuck::cast_ref::<_, [u8; 32]>(m))) } else { dw };
            for ((a, sj), &tj) in acc.iter_mut().zip(&s).zip(&tj) {
                let s = if G < 8 { _mm512_add_epi32(sj[0], sj[1]) } else { sj[0] };
                let dx = _mm512_set1_ps(xb.d[tj]);
                *a = _mm512_fmadd_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(s), *a);
                if MIN {
                    *a = _mm512_fmadd_ps(mw, _mm512_set1_ps(xb.s[tj]), *a);
                }
            }
        }
        // A padded group's repeated slot lies past the tile's tokens: not stored.
        let tokens = out.tokens();
        for (j, a) in acc.iter().enumerate().take(tokens.saturating_sub(t - t0)) {
            let o = &mut out.token(t - t0 + j)[16 * grp..][..16];
            // SAFETY: writes exactly the 16 floats of `o`, unaligned.
            unsafe { _mm512_storeu_ps(o.as_mut_ptr(), *a) };
        }
    }
}

/// 4 bytes broadcast to every 32-bit lane.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn bcast4(a: &[i8; 4]) -> __m512i {
    _mm512_set1_epi32(i32::from_le_bytes(bytemuck::cast(*a)))
}
