//! AVX2 kernels of Q5_0 and Q4_1 rows interleaved 16 to a block ([`BlockQ5_0x16`],
//! [`BlockQ4_1x16`], the layouts the AVX-512 table reads too): decode and small batches on
//! CPUs without AVX-512. Prefill (16 tokens and more) takes the rows apart for the GEMM
//! (`matmul`'s `x8_gemm_min_tokens`).
//!
//! A 32-byte half of one of the layout's 64-byte chunks holds 4 quants of each of 8 rows
//! (rows 0–7 or 8–15), so `maddubs` against the token's 4 activation bytes broadcast to every
//! 32-bit lane leaves each row 2 i16 lanes, the chunks of a block are summed in i16 (Q5_0: 4
//! at a time, `4 · 2 · 31 · 127 < 2^15`; Q4_1: all 8, `8 · 2 · 15 · 127 < 2^15`: exact) and
//! one `madd` with ones gives i32 lane `i` = row `i`'s sum. The float steps then run on 8
//! rows at once, as `mat.rs`'s `group32` runs them: `acc = fma(d_w · d_x, f32(s), acc)`
//! (Q5_0's offset `16 · Σq_x` taken off `s` first), then `acc = fma(m_w, s_x, acc)` for Q4_1.
//! So a token costs 8 `maddubs` per 8 rows and 32 quants, where the row-major kernel adds a
//! `madd` per row and block and a transpose-reduce of every 8 (row, token) pairs; and the
//! results equal the row-major kernels', the GEMM's and the row dot's bit for bit.
//!
//! Q5_0's fifth bits: chunk `c`'s 8 bytes of `qh` are a 64-bit mask (bit `4i + j`: row `i`'s
//! quant `4c + j`); a half's 32 bits are spread to its 32 bytes (`pshufb`, a bit test) and
//! add 16 where set.

use crate::out_tile::OutTile;
use std::arch::x86_64::*;

use super::mat_x8::{slot, store_group, token_groups, token_rows};
use super::util::{bcast4, load16, load32, prefetch, prefetch_ahead};
use crate::blocks::*;
use crate::dispatch::XBatch;

/// `pshufb` mask spreading a 32-bit mask held in every 32-bit lane to bytes: byte `k` of the
/// register gets the mask's byte `k / 8` (bytes 0–1 in the low 128-bit lane, 2–3 in the high).
const SPREAD: [i8; 32] = {
    let mut m = [0i8; 32];
    let mut k = 0;
    while k < 32 {
        m[k] = (k / 8) as i8;
        k += 1;
    }
    m
};

/// Byte `k` holds bit `k % 8`: with [`SPREAD`], byte `k` tests bit `k` of the mask.
const BIT: [i8; 32] = {
    let mut m = [0i8; 32];
    let mut k = 0;
    while k < 32 {
        m[k] = (1u8 << (k % 8)) as i8;
        k += 1;
    }
    m
};

/// Q5_0 rows (16 per group of `w`, `nb` blocks per group) × Q8_0 tokens `t0..t1` into the
/// `[t - t0][row]` tile `out`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn mat_q5_0_x16(
    w: &[BlockQ5_0x16],
    nb: usize,
    x: &[BlockQ8_0],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
) {
    let spread = load32(&SPREAD);
    let bit = load32(&BIT);
    let sixteen = _mm256_set1_epi8(16);
    let unpack = |wb: &BlockQ5_0x16, h: usize| {
        let mut q = nibbles_half(&wb.qs, h);
        let (qh, _) = wb.qh.as_chunks::<8>();
        for (qc, m) in q.iter_mut().zip(qh) {
            let (half, _) = m[4 * h..].as_chunks::<4>();
            let v = _mm256_shuffle_epi8(_mm256_set1_epi32(i32::from_le_bytes(half[0])), spread);
            let set = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
            *qc = _mm256_or_si256(*qc, _mm256_and_si256(set, sixteen));
        }
        q
    };
    mat32_x16::<_, _, _, 4, false, 4>(w, nb, x, xb, t0, t1, out, &unpack);
}

/// Q4_1 rows (16 per group of `w`) × Q8_1 tokens, as [`mat_q5_0_x16`]: the nibbles need no
/// offset, and the min term is `m · s_x` per row after the scale step.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn mat_q4_1_x16(
    w: &[BlockQ4_1x16],
    nb: usize,
    x: &[BlockQ8_1],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
) {
    let unpack = |wb: &BlockQ4_1x16, h: usize| nibbles_half(&wb.qs, h);
    mat32_x16::<_, _, _, 0, true, 8>(w, nb, x, xb, t0, t1, out, &unpack);
}

/// A block of 16 interleaved rows: its 16 scales and 16 mins (Q5_0: the scales again).
trait Rows16 {
    fn dm(&self) -> (&[F16Le; 16], &[F16Le; 16]);
}

impl Rows16 for BlockQ5_0x16 {
    fn dm(&self) -> (&[F16Le; 16], &[F16Le; 16]) {
        (&self.d, &self.d)
    }
}

impl Rows16 for BlockQ4_1x16 {
    fn dm(&self) -> (&[F16Le; 16], &[F16Le; 16]) {
        (&self.d, &self.m)
    }
}

/// Half `h`'s 8 chunks of nibbles of a 16-row block's `qs`: chunk `c < 4` the low nibbles of
/// load `c` (quants `4c..4c + 4`), chunk `c ≥ 4` the high nibbles of load `c − 4` (quants
/// `16 + 4(c − 4)..`, which is again `4c..4c + 4`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn nibbles_half(qs: &[u8; 256], h: usize) -> [__m256i; 8] {
    let m4 = _mm256_set1_epi8(0xf);
    let (qs, _) = qs.as_chunks::<32>();
    let mut q = [_mm256_setzero_si256(); 8];
    for l in 0..4 {
        let v = load32(&qs[2 * l + h]);
        q[l] = _mm256_and_si256(v, m4);
        q[l + 4] = _mm256_and_si256(_mm256_srli_epi16::<4>(v), m4);
    }
    q
}

/// Tokens `t0..t1` 4 at a time while 4 are left, then 2, 1 ([`tokens32`]'s arguments).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn mat32_x16<W16: Rows16, X: Quants32, FU, const SHIFT: u32, const MIN: bool, const PER: usize>(
    w: &[W16],
    nb: usize,
    x: &[X],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
    unpack: &FU,
) where
    FU: Fn(&W16, usize) -> [__m256i; 8],
{
    for (t, g, last) in token_groups(t0, t1, 4) {
        let ts = (t0, t, last);
        match g {
            1 => tokens32::<_, _, _, 1, SHIFT, MIN, PER>(w, nb, x, xb, ts, out, unpack),
            2 => tokens32::<_, _, _, 2, SHIFT, MIN, PER>(w, nb, x, xb, ts, out, unpack),
            _ => tokens32::<_, _, _, 4, SHIFT, MIN, PER>(w, nb, x, xb, ts, out, unpack),
        }
    }
}

/// The `G` tokens from `t` (`ts`: the tile's first token, `t`, and the last real token,
/// repeated by the slots past it). Per block and half: the half's quants unpacked once, then
/// per token its 8 chunks (`PER` summed in i16 before each `madd`), the offset `Σq_x << SHIFT`
/// (or with `MIN` the min term) and the float steps on the half's 8 rows.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn tokens32<
    W16: Rows16,
    X: Quants32,
    FU,
    const G: usize,
    const SHIFT: u32,
    const MIN: bool,
    const PER: usize,
>(
    w: &[W16],
    nb: usize,
    x: &[X],
    xb: &XBatch<'_>,
    (t0, t, last): (usize, usize, usize),
    out: &mut OutTile<'_>,
    unpack: &FU,
) where
    FU: Fn(&W16, usize) -> [__m256i; 8],
{
    const { assert!(PER == 4 || PER == 8, "chunks summed in i16 4 or 8 at a time") };
    let xs: [&[X]; G] = token_rows(x, nb, t, last);
    let ones = _mm256_set1_epi16(1);
    for (grp, blocks) in w.chunks_exact(nb).enumerate() {
        let mut acc = [[_mm256_setzero_ps(); G]; 2];
        for (b, wb) in blocks.iter().enumerate() {
            prefetch_ahead(wb, prefetch::ONE_STREAM);
            let (d, m) = wb.dm();
            let (d, _) = d.as_chunks::<8>();
            let (m, _) = m.as_chunks::<8>();
            for (h, acc_h) in acc.iter_mut().enumerate() {
                let q = unpack(wb, h);
                let dw = _mm256_cvtph_ps(load16(bytemuck::cast_ref::<_, [u8; 16]>(&d[h])));
                let mw =
                    if MIN { _mm256_cvtph_ps(load16(bytemuck::cast_ref::<_, [u8; 16]>(&m[h]))) } else { dw };
                for (j, a) in acc_h.iter_mut().enumerate() {
                    let (xq, _) = xs[j][b].quants().as_chunks::<4>();
                    let mut s = _mm256_setzero_si256();
                    for g in 0..8 / PER {
                        let mut s16 = _mm256_setzero_si256();
                        for c in PER * g..PER * (g + 1) {
                            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(q[c], bcast4(&xq[c])));
                        }
                        s = _mm256_add_epi32(s, _mm256_madd_epi16(s16, ones));
                    }
                    let tj = b * xb.ld + slot(t, j, last);
                    if !MIN {
                        s = _mm256_sub_epi32(s, _mm256_set1_epi32(xb.sum[tj] << SHIFT));
                    }
                    let dx = _mm256_set1_ps(xb.d[tj]);
                    *a = _mm256_fmadd_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(s), *a);
                    if MIN {
                        *a = _mm256_fmadd_ps(mw, _mm256_set1_ps(xb.s[tj]), *a);
                    }
                }
            }
        }
        for (h, acc_h) in acc.iter().enumerate() {
            store_group(acc_h, t - t0, 2 * grp + h, out);
        }
    }
}
