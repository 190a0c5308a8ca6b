//! The 512-bit stages of the widened attention kernels in the `avx512` table's ops
//! (`avx2::ops::OPS_AVX512`, macro `widened_attention!`). Each zmm register holds two of the
//! AVX2 kernels' 8-lane accumulators side by side and every lane takes the same FMAs in the
//! same order, so every result is the AVX2 kernels' bit for bit, with half the instructions.
//! (Gemma 3's head size of 256 made the 256-bit weighted sum 16 passes over the value rows per
//! group of queries; these take 8.)

use std::arch::x86_64::*;

/// `avx2::ops`' `dots32_folded_x8` (the 4 accumulators of `dot_f16_avx2` for `NQ` queries,
/// rows of `hd` at `q`, against one key, folded as `(0+2) + (1+3)`) with 512-bit loads and
/// FMAs: register `c` holds accumulators `2c` and `2c + 1`, so the fold is the sum of the two
/// registers' halves in the same order.
///
/// # Safety
/// The CPU must support AVX2, FMA, AVX512F and AVX512VL; `hd` is a multiple of 32 and
/// `q..q + NQ · hd`, `k..k + hd` must be readable.
#[inline]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(crate) unsafe fn dots32_folded_x16<const NQ: usize>(
    q: *const f32,
    hd: usize,
    k: *const f32,
) -> [__m256; NQ] {
    let mut acc = [[_mm512_setzero_ps(); 2]; NQ];
    let mut i = 0;
    while i < hd {
        for c in 0..2 {
            // SAFETY: i + 16c + 16 <= hd, within the key and each query row.
            let kv = unsafe { _mm512_loadu_ps(k.add(i + 16 * c)) };
            for (r, a) in acc.iter_mut().enumerate() {
                // SAFETY: as above.
                let qv = unsafe { _mm512_loadu_ps(q.add(r * hd + i + 16 * c)) };
                a[c] = _mm512_fmadd_ps(qv, kv, a[c]);
            }
        }
        i += 32;
    }
    acc.map(|a| fold_x16(a))
}

/// [`dots32_folded_x16`] for two keys at once (`k0`, `k1`): each query vector loaded once for
/// both, so a 32-value step is 4 key and `2 · NQ` query loads for `4 · NQ` FMAs instead of 2
/// and `2 · NQ` for `2 · NQ` (the one-key kernel issues more loads than FMAs). Each key's
/// accumulators see the same FMAs in the same order as there: the same results bit for bit.
/// Used for passes of up to 3 queries (more heads per kv head are split into even passes):
/// at 4, its 16 accumulators beside the caller's 32 registers of reduced dots spilled, and
/// 256×4 and 128×4 ran slower than one key at a time.
///
/// # Safety
/// As [`dots32_folded_x16`], for both keys.
#[inline]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(crate) unsafe fn dots32_folded_x16_pair<const NQ: usize>(
    q: *const f32,
    hd: usize,
    k0: *const f32,
    k1: *const f32,
) -> [[__m256; NQ]; 2] {
    // More queries compile (the caller branches on `NQ` at run time) but spill.
    debug_assert!(NQ <= 4, "two keys for at most 4 queries (32 registers)");
    let mut acc = [[[_mm512_setzero_ps(); 2]; NQ]; 2];
    let mut i = 0;
    while i < hd {
        for c in 0..2 {
            // SAFETY: i + 16c + 16 <= hd, within both keys and each query row.
            let kv = unsafe { [_mm512_loadu_ps(k0.add(i + 16 * c)), _mm512_loadu_ps(k1.add(i + 16 * c))] };
            for r in 0..NQ {
                // SAFETY: as above.
                let qv = unsafe { _mm512_loadu_ps(q.add(r * hd + i + 16 * c)) };
                for (ak, &kk) in acc.iter_mut().zip(&kv) {
                    ak[r][c] = _mm512_fmadd_ps(qv, kk, ak[r][c]);
                }
            }
        }
        i += 32;
    }
    acc.map(|ak| ak.map(|a| fold_x16(a)))
}

/// Two accumulator registers of [`dots32_folded_x16`] folded to 8 lanes: lanes 0–7 of the
/// sum are accumulators 0 + 2, lanes 8–15 are 1 + 3, then their sum.
#[inline]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
fn fold_x16(a: [__m512; 2]) -> __m256 {
    let s = _mm512_add_ps(a[0], a[1]);
    let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(s)));
    _mm256_add_ps(_mm512_castps512_ps256(s), hi)
}

/// The first `hd / 32 · 32` lanes of `avx2::ops`' `weighted_sum_shared` for `NQ` queries
/// (`out`: `NQ` rows of `hd`; `w`: `NQ` rows of `n` weights; `rows`: `n` value rows at
/// `stride`), 32 lanes at a time with each value vector loaded once for the `NQ` queries.
/// Every lane is one FMA chain over the rows in order from zero, as there. Returns the lanes
/// done.
///
/// # Safety
/// The CPU must support AVX2, FMA, AVX512F and AVX512VL; `out..out + NQ · hd` writable,
/// `w.len() >= NQ · n`, and `rows + j · stride + hd` readable for every `j < n`.
#[inline]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(crate) unsafe fn weighted_sum_x32<const NQ: usize>(
    out: *mut f32,
    hd: usize,
    w: &[f32],
    n: usize,
    rows: *const f32,
    stride: usize,
) -> usize {
    let mut i = 0;
    while i + 32 <= hd {
        let mut acc = [[_mm512_setzero_ps(); 2]; NQ];
        for j in 0..n {
            for c in 0..2 {
                // SAFETY: j · stride + i + 16c + 16 <= j · stride + hd, readable.
                let v = unsafe { _mm512_loadu_ps(rows.add(j * stride + i + 16 * c)) };
                for (qi, a) in acc.iter_mut().enumerate() {
                    a[c] = _mm512_fmadd_ps(_mm512_set1_ps(w[qi * n + j]), v, a[c]);
                }
            }
        }
        for (qi, a) in acc.iter().enumerate() {
            for (c, &ac) in a.iter().enumerate() {
                // SAFETY: qi · hd + i + 16c + 16 <= (qi + 1) · hd, writable.
                unsafe { _mm512_storeu_ps(out.add(qi * hd + i + 16 * c), ac) };
            }
        }
        i += 32;
    }
    i
}
