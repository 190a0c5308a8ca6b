//! AVX2 prefill GEMM of the K-quants (Q4_K, Q5_K, Q6_K × Q8_K): strips of 8 rows repacked,
//! per super-block, into 8 sub-blocks × 8 registers of unsigned quants (register `k` of a
//! sub-block holds bytes `4k..4k + 4` of each row), the sub-block scales as i16 pairs per
//! row lane (for `madd`), the mins (Q4_K, Q5_K) or the scale pairs that fold Q6_K's −32
//! offset, and `d` / `dmin` as f32. Then a strip × 4 tokens per register tile.
//!
//! Per (row, token) and super-block the integers `S` and `M` and the float steps are those of
//! `mat_k.rs`. i16 accumulation stays in range: Q4_K pairs (≤ 2·15·127) eight deep, Q5_K
//! (≤ 2·31·127) four deep, Q6_K (≤ 2·63·127) two deep.

use std::arch::x86_64::*;

use super::gemm::{STRIP, bcast4, load_bytes, load_f32x8, store_bytes, store_f32x8, store_tile};
use super::mat::f16x8;
use super::util::*;
use crate::blocks::*;
use crate::dispatch::XBatch;

/// Tokens per micro-tile.
use super::gemm::TILE_TOKENS;

/// Offsets inside a packed super-block of a strip.
pub(super) mod off {
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

/// The K-quant types of this file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KType {
    Q4K,
    Q5K,
    Q6K,
}

impl KType {
    pub(super) const fn superblock_bytes(self) -> usize {
        match self {
            KType::Q6K => off::SIZE6,
            _ => off::SIZE4,
        }
    }
}

/// Packed bytes of `rows × cols`.
pub(super) const fn packed_bytes_k(rows: usize, cols: usize, t: KType) -> usize {
    rows.div_ceil(STRIP) * (cols / QK_K) * t.superblock_bytes()
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
    let p = ws.map(|w| parts(w));
    store_f32x8(&mut dst[off::D4..], f16x8(p.map(|p| p.1)));
    store_f32x8(&mut dst[off::D4 + 32..], f16x8(p.map(|p| p.2)));
}

/// Q6_K super-blocks of 8 rows → one packed super-block.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn pack_q6k(ws: [&BlockQ6_K; STRIP], dst: &mut [u8]) {
    pack_quants(&ws.map(|w| unpack_q6_k_regs(w)), dst);
    for (r, w) in ws.iter().enumerate() {
        let sc = w.scales.map(i16::from);
        for i in 0..16 {
            put_pair(&mut dst[off::SC..], i, r, pair(sc[i], sc[i]));
        }
        for p in 0..8 {
            put_pair(&mut dst[off::OFF6..], p, r, pair(sc[2 * p], sc[2 * p + 1]));
        }
    }
    store_f32x8(&mut dst[off::D6..], f16x8(ws.map(|w| w.d.bits())));
}

/// Q4_K quants as 8 registers (sub-block order).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn unpack_q4_k_regs(w: &BlockQ4_K) -> [__m256i; 8] {
    let m4 = _mm256_set1_epi8(0xf);
    let qs = w.qs.as_chunks::<32>().0;
    std::array::from_fn(|j| {
        let v = load32(&qs[j / 2]);
        if j % 2 == 0 { _mm256_and_si256(v, m4) } else { _mm256_and_si256(_mm256_srli_epi16::<4>(v), m4) }
    })
}

/// Q5_K quants as 8 registers (sub-block order).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn unpack_q5_k_regs(w: &BlockQ5_K) -> [__m256i; 8] {
    let m4 = _mm256_set1_epi8(0xf);
    let one = _mm256_set1_epi8(1);
    let qs = w.qs.as_chunks::<32>().0;
    let qh = load32(&w.qh);
    let mut q = [_mm256_setzero_si256(); 8];
    let mut hb = qh;
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

/// Q6_K quants (unsigned, 0..64) as 8 registers of 32 consecutive quants.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn unpack_q6_k_regs(w: &BlockQ6_K) -> [__m256i; 8] {
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

/// Packs the rows of `w` (`rows × nb` super-blocks) strip by strip into `dst`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn pack_rows<W>(w: &[W], nb: usize, t: KType, dst: &mut [u8], pack_sb: impl Fn([&W; STRIP], &mut [u8])) {
    let rows = w.len() / nb;
    let sb = t.superblock_bytes();
    for (s, strip) in dst.chunks_exact_mut(nb * sb).enumerate().take(rows.div_ceil(STRIP)) {
        let rs: [usize; STRIP] = std::array::from_fn(|i| (s * STRIP + i).min(rows - 1));
        for (b, blk) in strip.chunks_exact_mut(sb).enumerate() {
            pack_sb(rs.map(|r| &w[r * nb + b]), blk);
        }
    }
}

/// One strip × 4 tokens over all super-blocks.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn tile_k(
    strip: &[u8],
    nb: usize,
    t: KType,
    xs: [&[BlockQ8_K]; TILE_TOKENS],
    dx: [&[f32]; TILE_TOKENS],
    ld: usize,
) -> [__m256; TILE_TOKENS] {
    let sb = t.superblock_bytes();
    let mut acc = [_mm256_setzero_ps(); TILE_TOKENS];
    for (b, blk) in strip.chunks_exact(sb).take(nb).enumerate() {
        let x: [&BlockQ8_K; TILE_TOKENS] = std::array::from_fn(|c| &xs[c][b]);
        let bs: [&[u8; 32]; TILE_TOKENS] = x.map(|x| bytemuck::cast_ref::<_, [u8; 32]>(&x.bsums));
        let mut s = [_mm256_setzero_si256(); TILE_TOKENS];
        for j in 0..8 {
            let q = &blk[off::QS + 256 * j..];
            let wk = |k: usize| load_bytes(&q[32 * k..]);
            let xk = |c: usize, k: usize| bcast4(&x[c].qs[32 * j + 4 * k..]);
            match t {
                KType::Q4K => {
                    let mut a16 = [_mm256_setzero_si256(); TILE_TOKENS];
                    for k in 0..8 {
                        let w = wk(k);
                        for c in 0..TILE_TOKENS {
                            a16[c] = _mm256_add_epi16(a16[c], _mm256_maddubs_epi16(w, xk(c, k)));
                        }
                    }
                    let sc = load_bytes(&blk[off::SC + 32 * j..]);
                    for c in 0..TILE_TOKENS {
                        s[c] = _mm256_add_epi32(s[c], _mm256_madd_epi16(a16[c], sc));
                    }
                }
                KType::Q5K => {
                    let sc = load_bytes(&blk[off::SC + 32 * j..]);
                    for half in 0..2 {
                        let mut a16 = [_mm256_setzero_si256(); TILE_TOKENS];
                        for k in 4 * half..4 * half + 4 {
                            let w = wk(k);
                            for c in 0..TILE_TOKENS {
                                a16[c] = _mm256_add_epi16(a16[c], _mm256_maddubs_epi16(w, xk(c, k)));
                            }
                        }
                        for c in 0..TILE_TOKENS {
                            s[c] = _mm256_add_epi32(s[c], _mm256_madd_epi16(a16[c], sc));
                        }
                    }
                }
                KType::Q6K => {
                    for p in 0..4 {
                        let (w0, w1) = (wk(2 * p), wk(2 * p + 1));
                        let sc = load_bytes(&blk[off::SC + 32 * (2 * j + p / 2)..]);
                        for c in 0..TILE_TOKENS {
                            let a = _mm256_add_epi16(
                                _mm256_maddubs_epi16(w0, xk(c, 2 * p)),
                                _mm256_maddubs_epi16(w1, xk(c, 2 * p + 1)),
                            );
                            s[c] = _mm256_add_epi32(s[c], _mm256_madd_epi16(a, sc));
                        }
                    }
                }
            }
        }
        match t {
            KType::Q6K => {
                let d = load_f32x8(&blk[off::D6..]);
                for c in 0..TILE_TOKENS {
                    let mut o = _mm256_setzero_si256();
                    for p in 0..8 {
                        o = _mm256_add_epi32(
                            o,
                            _mm256_madd_epi16(
                                load_bytes(&blk[off::OFF6 + 32 * p..]),
                                bcast4(bs_i8(bs[c], p)),
                            ),
                        );
                    }
                    let si = _mm256_sub_epi32(s[c], _mm256_slli_epi32::<5>(o));
                    let scale = _mm256_mul_ps(d, _mm256_set1_ps(dx[c][b * ld]));
                    acc[c] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(si), acc[c]);
                }
            }
            _ => {
                let d = load_f32x8(&blk[off::D4..]);
                let dmin = load_f32x8(&blk[off::D4 + 32..]);
                for c in 0..TILE_TOKENS {
                    let mut m = _mm256_setzero_si256();
                    for j in 0..8 {
                        m = _mm256_add_epi32(
                            m,
                            _mm256_madd_epi16(load_bytes(&blk[off::MIN + 32 * j..]), bcast4(bs_i8(bs[c], j))),
                        );
                    }
                    let dxc = _mm256_set1_ps(dx[c][b * ld]);
                    acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(d, dxc), _mm256_cvtepi32_ps(s[c]), acc[c]);
                    acc[c] = _mm256_fnmadd_ps(_mm256_mul_ps(dmin, dxc), _mm256_cvtepi32_ps(m), acc[c]);
                }
            }
        }
    }
    acc
}

/// Bytes `4p..4p + 4` of the bsums (i16 pair `2p, 2p + 1`) as i8s for [`bcast4`].
#[inline]
pub(super) fn bs_i8(b: &[u8; 32], p: usize) -> &[i8] {
    bytemuck::cast_slice(&b[4 * p..4 * p + 4])
}

/// `rows` packed rows × tokens `t0..t1` into the `[t - t0][row]` tile.
#[target_feature(enable = "avx2,fma,f16c")]
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
    let strip_bytes = nb * t.superblock_bytes();
    let mut c0 = t0;
    while c0 < t1 {
        let valid = (t1 - c0).min(TILE_TOKENS);
        let tok: [usize; TILE_TOKENS] = std::array::from_fn(|c| c0 + c.min(valid - 1));
        let xs = tok.map(|t| &x[t * nb..(t + 1) * nb]);
        let dx = tok.map(|t| &xb.d[t..]);
        for (s, strip) in packed.chunks_exact(strip_bytes).take(rows.div_ceil(STRIP)).enumerate() {
            let acc = tile_k(strip, nb, t, xs, dx, xb.ld);
            store_tile(&acc, s * STRIP, rows, c0, valid, t0, out);
        }
        c0 += TILE_TOKENS;
    }
}

/// Packed bytes of Q4_K rows.
pub(crate) fn packed_bytes_q4_k(rows: usize, cols: usize) -> usize {
    packed_bytes_k(rows, cols, KType::Q4K)
}

/// Packed bytes of Q5_K rows.
pub(crate) fn packed_bytes_q5_k(rows: usize, cols: usize) -> usize {
    packed_bytes_k(rows, cols, KType::Q5K)
}

/// Packed bytes of Q6_K rows.
pub(crate) fn packed_bytes_q6_k(rows: usize, cols: usize) -> usize {
    packed_bytes_k(rows, cols, KType::Q6K)
}

/// Packs Q4_K rows.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn pack_q4_k(w: &[BlockQ4_K], nb: usize, dst: &mut [u8]) {
    pack_rows(w, nb, KType::Q4K, dst, |ws, d| {
        pack_k4(ws, d, |w| unpack_q4_k_regs(w), |w: &BlockQ4_K| (&w.scales, w.d.bits(), w.dmin.bits()))
    })
}

/// Packs Q5_K rows.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn pack_q5_k(w: &[BlockQ5_K], nb: usize, dst: &mut [u8]) {
    pack_rows(w, nb, KType::Q5K, dst, |ws, d| {
        pack_k4(ws, d, |w| unpack_q5_k_regs(w), |w: &BlockQ5_K| (&w.scales, w.d.bits(), w.dmin.bits()))
    })
}

/// Packs Q6_K rows.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn pack_q6_k(w: &[BlockQ6_K], nb: usize, dst: &mut [u8]) {
    pack_rows(w, nb, KType::Q6K, dst, |ws, d| pack_q6k(ws, d))
}

/// Packed Q4_K rows × Q8_K tokens.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn gemm_q4_k(
    rows: usize,
    packed: &[u8],
    x: &[BlockQ8_K],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut [f32],
) {
    gemm_k(KType::Q4K, rows, packed, x, xb, t0, t1, out)
}

/// Packed Q5_K rows × Q8_K tokens.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn gemm_q5_k(
    rows: usize,
    packed: &[u8],
    x: &[BlockQ8_K],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut [f32],
) {
    gemm_k(KType::Q5K, rows, packed, x, xb, t0, t1, out)
}

/// Packed Q6_K rows × Q8_K tokens.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn gemm_q6_k(
    rows: usize,
    packed: &[u8],
    x: &[BlockQ8_K],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut [f32],
) {
    gemm_k(KType::Q6K, rows, packed, x, xb, t0, t1, out)
}
