//! AVX2 kernel of Q4_K rows repacked 8 to a block ([`BlockQ4_Kx8`], the layout the AVX-512
//! table reads too): decode and small batches on CPUs without AVX-512 (AMD Zen 2/3, Intel
//! before Ice Lake server, most small VPS). Prefill (16 tokens and more) takes the rows apart
//! for the repacking GEMM instead (`matmul`'s `x8_gemm_min_tokens`).
//!
//! A 64-byte load of the layout holds, for each of the 8 rows, 8 quants of sub-block `2p`
//! (low nibbles) and the same 8 positions of `2p + 1` (high nibbles); its 32-byte halves are
//! rows 0–3 and rows 4–7. Per half, token and nibble half: `maddubs` with the token's 8
//! activations broadcast to every 64-bit lane gives each row 4 i16 lanes of 2 products, and
//! the 4 loads of a sub-block are summed in i16 (`|Σ| ≤ 8 · 15 · 128 < 2^15`: exact), then one
//! `madd` applies each row's sub-block scale (its i16 lanes: the row's scale 4 times). So a
//! sub-block of 4 rows costs 4 `maddubs` + 3 adds + 1 `madd` + 1 add per token, where the
//! row-major kernel (`mat_k.rs`) spends a `maddubs`, a `madd` and an add per 32 quants, plus
//! each super-block's scale shuffles and a transpose-reduce of 8 rows. `M` is 4 `madd`s per
//! token and super-block: the mins are stored four to a row's 32-bit lane pair, the
//! activations' sub-block sums (`XBatch::sub`) broadcast to match.
//!
//! After a super-block, a `hadd` of the two halves gives `S` (and `M`) of the 8 rows in the
//! lane order [`ROW_ORDER`] (rows 0, 1, 4, 5, 2, 3, 6, 7); `d` and `dmin` are permuted to it
//! once per super-block, the accumulator back once per group of rows. The integers are
//! exact and the float steps are `group_k`'s (`mat_k.rs`): `acc = fma(d·dx, S, acc)`, then
//! `acc = fnmadd(dmin·dx, M, acc)`, super-block by super-block, so every result equals the
//! row-major kernels', the GEMM's and the row dot's bit for bit.

use crate::out_tile::OutTile;
use std::arch::x86_64::*;

use super::util::{load16, load32, prefetch, prefetch_line, prefetch_prefix};
use crate::blocks::*;
use crate::dispatch::XBatch;

/// `(t, G, last)`: tokens `t0..t1` in groups of `max` (4 or 8) while at least that many are
/// left, then 4, 2, 1 (the kernels' `G`); 3 left are a group of 4 whose fourth slot repeats
/// the third token (`last`, the group's last real token: one pass over the rows instead of
/// two, for one token's multiply-adds, whose results are not stored).
pub(crate) fn token_groups(t0: usize, t1: usize, max: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    let mut t = t0;
    std::iter::from_fn(move || {
        let (g, real) = match t1.checked_sub(t)? {
            0 => return None,
            1 => (1, 1),
            2 => (2, 2),
            3 => (4, 3),
            left if left >= 8 && max >= 8 => (8, 8),
            _ => (4, 4),
        };
        t += real;
        Some((t - real, g, t - 1))
    })
}

/// The token in slot `j` of the group starting at token `t` whose last real token is `last`.
#[inline]
pub(crate) fn slot(t: usize, j: usize, last: usize) -> usize {
    (t + j).min(last)
}

/// The activation rows (`nb` blocks each) of the `G` tokens from `t`, slots past `last`
/// repeating it. A loop rather than `array::from_fn`, which kept its closure out of line: a
/// call per token on every kernel call, 2–5% of a fixture's prefill in `perf`.
#[inline(always)]
pub(crate) fn token_rows<X, const G: usize>(x: &[X], nb: usize, t: usize, last: usize) -> [&[X]; G] {
    let mut xs = [&x[..0]; G];
    for (j, xj) in xs.iter_mut().enumerate() {
        *xj = &x[slot(t, j, last) * nb..][..nb];
    }
    xs
}

/// Group `grp`'s 8 rows of `acc[j]` (token `tile_t + j` of the tile) into the tile `out`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn store_group(acc: &[__m256], tile_t: usize, grp: usize, out: &mut OutTile<'_>) {
    // A padded group's repeated slot lies past the tile's tokens: not stored.
    let tokens = out.tokens();
    for (j, a) in acc.iter().enumerate().take(tokens.saturating_sub(tile_t)) {
        let o = &mut out.token(tile_t + j)[8 * grp..][..8];
        // SAFETY: writes exactly the 8 floats of `o`, unaligned.
        unsafe { _mm256_storeu_ps(o.as_mut_ptr(), *a) };
    }
}

/// The lane order of `S` and `M` after the `hadd` of the two halves: lane `l` holds row
/// `ROW_ORDER[l]`. Its own inverse, so one `vpermps` by it maps either way.
const ROW_ORDER: [i32; 8] = [0, 1, 4, 5, 2, 3, 6, 7];

/// `pshufb` masks (per 128-bit lane, the source's 16 bytes broadcast to both): i16 lane `l`
/// takes byte `base + 4h + (2 · lane128 + l / 4)`, zero-extended — the scale of row
/// `4h + 2 · lane128 + l / 4` of the sub-block whose 8 scales start at byte `base`, so each of
/// the half's 4 rows gets its 4 i16 lanes of `maddubs` sums.
const fn scale_mask(base: usize, h: usize) -> [i8; 32] {
    let mut m = [0i8; 32];
    let mut b = 0;
    while b < 32 {
        let (lane, l) = (b / 16, (b % 16) / 2);
        m[b] = if b % 2 == 0 { (base + 4 * h + 2 * lane + l / 4) as i8 } else { -128 };
        b += 1;
    }
    m
}

/// [`scale_mask`] for sub-block `2p + e` (bytes `8e..8e + 8` of the pair's 16) and half `h`:
/// `SCALE_MASKS[e][h]`.
const SCALE_MASKS: [[[i8; 32]; 2]; 2] =
    [[scale_mask(0, 0), scale_mask(0, 1)], [scale_mask(8, 0), scale_mask(8, 1)]];

/// 8 bytes broadcast to every 64-bit lane.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn bcast8<T: bytemuck::Pod>(a: &[T; 8]) -> __m256i {
    const { assert!(size_of::<T>() == 1) };
    // SAFETY: reads exactly the 8 bytes of `a`, unaligned.
    _mm256_set1_epi64x(unsafe { a.as_ptr().cast::<i64>().read_unaligned() })
}

/// 32 of `mask`'s bytes as a register.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn mask32(mask: &[i8; 32]) -> __m256i {
    load32(mask)
}

/// Rows (8 per group of `w`, `nb` blocks per group) × tokens `t0..t1` of Q4_K into the
/// `[t - t0][row]` tile `out`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn mat_q4_k_x8(
    w: &[BlockQ4_Kx8],
    nb: usize,
    x: &[BlockQ8_K],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
) {
    for (t, g, last) in token_groups(t0, t1, 4) {
        match g {
            1 => tokens::<1>(w, nb, x, xb, t0, t, last, out),
            2 => tokens::<2>(w, nb, x, xb, t0, t, last, out),
            _ => tokens::<4>(w, nb, x, xb, t0, t, last, out),
        }
    }
}

/// [`mat_q4_k_x8`] for the `G` tokens from `t` (slots past `last` repeat it).
#[target_feature(enable = "avx2,fma,f16c")]
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
    const { assert!(G == 1 || G == 2 || G == 4, "token groups of 1, 2 or 4") };
    let xs: [&[_]; G] = token_rows(x, nb, t, last);
    let m4 = _mm256_set1_epi8(0xf);
    // SAFETY: reads exactly the 32 bytes of `ROW_ORDER`, unaligned.
    let order = unsafe { _mm256_loadu_si256(ROW_ORDER.as_ptr().cast()) };
    for (grp, blocks) in w.chunks_exact(nb).enumerate() {
        let mut acc = [_mm256_setzero_ps(); G];
        for (b, wb) in blocks.iter().enumerate() {
            // The head's lines now, the quants' one per load below (as the AVX-512 kernel).
            prefetch_prefix(wb, prefetch::K_BLOCKS, std::mem::offset_of!(BlockQ4_Kx8, qs));
            let (qs, _) = wb.qs.as_chunks::<64>();
            let (sc_pairs, _) = wb.scales.as_chunks::<16>();
            // Per half: each row's `S` in two i32 lanes (lanes 2r, 2r + 1 of row 4h + r).
            let mut s = [[_mm256_setzero_si256(); G]; 2];
            for (h, s_half) in s.iter_mut().enumerate() {
                // In registers for the half, stored once after it (indexed by `h` inside the
                // loop, LLVM kept them on the stack: a load and a store per `madd`).
                let mut sh = [_mm256_setzero_si256(); G];
                for (p, pair) in sc_pairs.iter().enumerate() {
                    let scales = _mm256_broadcastsi128_si256(load16(pair));
                    for e in 0..2 {
                        let sc = _mm256_shuffle_epi8(scales, mask32(&SCALE_MASKS[e][h]));
                        let mut a16 = [_mm256_setzero_si256(); G];
                        for k in 0..4 {
                            let chunk = &qs[4 * p + k];
                            if h == 0 && e == 0 {
                                prefetch_line(chunk, prefetch::K_BLOCKS);
                            }
                            let (halves, _) = chunk.as_chunks::<32>();
                            let v = load32(&halves[h]);
                            let q = if e == 0 {
                                _mm256_and_si256(v, m4)
                            } else {
                                _mm256_and_si256(_mm256_srli_epi16::<4>(v), m4)
                            };
                            for (a, xj) in a16.iter_mut().zip(&xs) {
                                let (xq, _) = xj[b].qs.as_chunks::<8>();
                                *a = _mm256_add_epi16(
                                    *a,
                                    _mm256_maddubs_epi16(q, bcast8(&xq[8 * p + 4 * e + k])),
                                );
                            }
                        }
                        for (sj, a) in sh.iter_mut().zip(&a16) {
                            *sj = _mm256_add_epi32(*sj, _mm256_madd_epi16(*a, sc));
                        }
                    }
                }
                *s_half = sh;
            }
            // The mins, widened: [h][q] = rows 4h..4h + 4, sub-blocks 4q..4q + 4 (row r's four
            // in i16 lanes 4r..4r + 4).
            let (mins, _) = wb.mins.as_chunks::<16>();
            let mw = |h: usize, q: usize| _mm256_cvtepu8_epi16(load16(&mins[2 * q + h]));
            let mins = [[mw(0, 0), mw(0, 1)], [mw(1, 0), mw(1, 1)]];
            let perm = |v: __m128i| _mm256_permutevar8x32_ps(_mm256_cvtph_ps(v), order);
            let d = perm(load16(bytemuck::cast_ref::<_, [u8; 16]>(&wb.d)));
            let dmin = perm(load16(bytemuck::cast_ref::<_, [u8; 16]>(&wb.dmin)));
            for (j, a) in acc.iter_mut().enumerate() {
                let at = b * xb.ld + slot(t, j, last);
                let (sub, _) = xb.sub[at].as_chunks::<4>();
                // Two broadcast loads (`array::map` here stayed a call per token and block).
                let sums = [
                    bcast8(bytemuck::cast_ref::<[i16; 4], [u8; 8]>(&sub[0])),
                    bcast8(bytemuck::cast_ref::<[i16; 4], [u8; 8]>(&sub[1])),
                ];
                let m = |h: usize| {
                    _mm256_add_epi32(
                        _mm256_madd_epi16(mins[h][0], sums[0]),
                        _mm256_madd_epi16(mins[h][1], sums[1]),
                    )
                };
                // Lanes in `ROW_ORDER`: rows 0, 1 (half 0's low lane), 4, 5 (half 1's), 2, 3, 6, 7.
                let sum = _mm256_hadd_epi32(s[0][j], s[1][j]);
                let min = _mm256_hadd_epi32(m(0), m(1));
                let dx = _mm256_set1_ps(xb.d[at]);
                *a = _mm256_fmadd_ps(_mm256_mul_ps(d, dx), _mm256_cvtepi32_ps(sum), *a);
                *a = _mm256_fnmadd_ps(_mm256_mul_ps(dmin, dx), _mm256_cvtepi32_ps(min), *a);
            }
        }
        for a in &mut acc {
            *a = _mm256_permutevar8x32_ps(*a, order);
        }
        store_group(&acc, t - t0, grp, out);
    }
}
