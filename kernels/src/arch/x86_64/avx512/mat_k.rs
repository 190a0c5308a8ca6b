//! AVX-512 partials of the K-quant kernels (Q4_K, Q5_K, Q6_K with Q8_K activations).
//!
//! A 512-bit register holds 64 quants: two 32-quant sub-blocks of Q4_K/Q5_K, four
//! 16-quant ones of Q6_K, and the 64 activations that meet them are one contiguous load.
//! Per register, `vpmaddubsw` multiplies the unsigned weight quants with the signed
//! activations into 16-bit pair sums (no saturation: quants ≤ 63, |activations| ≤ 127) and
//! `vpdpwssd` (VNNI) multiplies those with the sub-block scales and adds them to the i32
//! accumulator: two instructions per 64 quants where AVX2 spends six. The 4-bit nibbles of
//! one 32-byte Q4_K chunk are both sub-blocks of one register: the chunk is broadcast to
//! both halves and shifted by 0 or 4 bits per half (`vpsrlvw`).
//!
//! The partials are folded to 8 lanes and handed to the AVX2 float phase (`avx2::mat_k`):
//! their integers `S` and `M` are exact and equal the AVX2 ones, so this table's row dots and
//! batch kernels are bit for bit the AVX2 table's, only faster.

use std::arch::x86_64::*;

use crate::arch::x86_64::avx2::mat_k::{QKParts, bsums, head16, qk_kernels, scales_mins_k4};
use crate::blocks::*;

/// 64 bytes at any alignment.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
pub(super) fn load64<T: bytemuck::Pod>(a: &[T; 64]) -> __m512i {
    const { assert!(size_of::<T>() == 1) };
    // SAFETY: reads exactly the 64 bytes of `a`; `loadu` has no alignment requirement.
    unsafe { _mm512_loadu_si512(a.as_ptr().cast()) }
}

/// `acc + Σ pairs a · b` (`vpdpwssd`), always as that one instruction. Written as the
/// intrinsic, LLVM's machine combiner (generic x86-64 tuning, no "fast DPWSSD") turns most
/// of the kernels' `vpdpwssd` into `vpmaddwd` + `vpaddd` to shorten the accumulator's chain:
/// in the release build, 84 `vpmaddwd` and 24 `vpdpwssd` in `mat_q6_k_x8`, 30 and 7 in
/// `mat_q4_k_x8`. The kernels keep several chains in flight and are bound by the two vector
/// ports, where the split costs a µop per use. `asm!` is opaque to the combiner.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
pub(super) fn dpwssd(acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
    let mut acc = acc;
    // SAFETY: one register-only instruction (no memory, stack or flags), of AVX512-VNNI,
    // which this function's target features require of the CPU.
    unsafe {
        std::arch::asm!(
            "vpdpwssd {acc}, {a}, {b}",
            acc = inout(zmm_reg) acc,
            a = in(zmm_reg) a,
            b = in(zmm_reg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

/// 32 bytes at any alignment, in both halves of a register.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn load32x2<T: bytemuck::Pod>(a: &[T; 32]) -> __m512i {
    const { assert!(size_of::<T>() == 1) };
    // SAFETY: reads exactly the 32 bytes of `a`; `loadu` has no alignment requirement.
    let v = unsafe { _mm256_loadu_si256(a.as_ptr().cast()) };
    _mm512_broadcast_i64x4(v)
}

/// 16-bit lanes: `lo` in the low half of a register, `hi` in the high half.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn halves_epi16(lo: i16, hi: i16) -> __m512i {
    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(_mm256_set1_epi16(lo)), _mm256_set1_epi16(hi))
}

/// The 8 i32 lanes of the two halves added (exact, wrapping).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn fold(v: __m512i) -> __m256i {
    _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64::<1>(v))
}

/// `vpermw` indices: 16-bit lane `l` takes element `base + l / per` of the source.
const fn perm_idx(base: usize, per: usize) -> [i16; 32] {
    let mut t = [0i16; 32];
    let mut l = 0;
    while l < 32 {
        t[l] = (base + l / per) as i16;
        l += 1;
    }
    t
}

/// Register `r` of a Q4_K/Q5_K super-block covers sub-blocks `2r` and `2r + 1`.
const IDX_K4: [[i16; 32]; 4] = [perm_idx(0, 16), perm_idx(2, 16), perm_idx(4, 16), perm_idx(6, 16)];
/// Register `r` of a Q6_K super-block covers sub-blocks `4r..4r + 4`.
const IDX_Q6K: [[i16; 32]; 4] = [perm_idx(0, 8), perm_idx(4, 8), perm_idx(8, 8), perm_idx(12, 8)];

/// 32 i16 lanes from a constant table.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn idx(t: &[i16; 32]) -> __m512i {
    // SAFETY: reads exactly the 64 bytes of `t`; `loadu` has no alignment requirement.
    unsafe { _mm512_loadu_si512(t.as_ptr().cast()) }
}

/// A Q4_K/Q5_K super-block unpacked: 4 registers of 64 quants (sub-blocks `2r`, `2r + 1`),
/// their scales as i16 per half, and the mins as i16 pairs matching the 16 `bsums`.
#[derive(Clone, Copy)]
pub(crate) struct K4x {
    q: [__m512i; 4],
    sc: [__m512i; 4],
    mins: __m256i,
}

/// A Q6_K super-block unpacked: 4 registers of 64 unsigned quants, each with its four
/// sub-blocks' scales as i16 (8 lanes each), and all 16 scales as i16.
#[derive(Clone, Copy)]
pub(crate) struct K6x {
    q: [__m512i; 4],
    sc: [__m512i; 4],
    sc16: __m256i,
}

/// Scales (per register) and mins of a Q4_K/Q5_K super-block.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn k4_scales(head: &[u8; 16]) -> ([__m512i; 4], __m256i) {
    // bytes 0..8: scales, 8..16: mins
    let sm = scales_mins_k4(head);
    let sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(sm));
    let sc = std::array::from_fn(|r| _mm512_permutexvar_epi16(idx(&IDX_K4[r]), sc16));
    (sc, _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm)))
}

/// Q4_K unpacked.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
pub(crate) fn unpack_q4_k(w: &BlockQ4_K) -> K4x {
    let (sc, mins) = k4_scales(head16(w));
    let m4 = _mm512_set1_epi8(0xf);
    let shift = halves_epi16(0, 4);
    let qs = w.qs.as_chunks::<32>().0;
    let q = std::array::from_fn(|r| _mm512_and_si512(_mm512_srlv_epi16(load32x2(&qs[r]), shift), m4));
    K4x { q, sc, mins }
}

/// Q5_K unpacked.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
pub(crate) fn unpack_q5_k(w: &BlockQ5_K) -> K4x {
    let (sc, mins) = k4_scales(head16(w));
    let m4 = _mm512_set1_epi8(0xf);
    let one = _mm512_set1_epi8(1);
    let shift = halves_epi16(0, 4);
    let qs = w.qs.as_chunks::<32>().0;
    let qh = load32x2(&w.qh);
    let q = std::array::from_fn(|r| {
        let low = _mm512_and_si512(_mm512_srlv_epi16(load32x2(&qs[r]), shift), m4);
        // sub-block 2r takes bit 2r of each `qh` byte, 2r + 1 bit 2r + 1
        let hshift = halves_epi16(2 * r as i16, 2 * r as i16 + 1);
        let high = _mm512_slli_epi16::<4>(_mm512_and_si512(_mm512_srlv_epi16(qh, hshift), one));
        _mm512_or_si512(low, high)
    });
    K4x { q, sc, mins }
}

/// `Σ sc · q · x` over a super-block's 4 registers of unsigned quants `q` (scales `sc` per
/// 16-bit pair), folded to 8 lanes.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
fn scaled_sum(q: &[__m512i; 4], sc: &[__m512i; 4], x: &BlockQ8_K) -> __m256i {
    let mut s = _mm512_setzero_si512();
    for (r, q8) in x.qs.as_chunks::<64>().0.iter().enumerate() {
        s = dpwssd(s, _mm512_maddubs_epi16(q[r], load64(q8)), sc[r]);
    }
    fold(s)
}

/// `(S, M)` partials of an unpacked Q4_K/Q5_K super-block against `x`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
pub(crate) fn partial_k4(u: &K4x, x: &BlockQ8_K) -> (__m256i, __m256i) {
    (scaled_sum(&u.q, &u.sc, x), _mm256_madd_epi16(u.mins, bsums(x)))
}

/// Q6_K unpacked.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
pub(crate) fn unpack_q6_k(w: &BlockQ6_K) -> K6x {
    // SAFETY: reads exactly the 16 bytes of `w.scales`; `loadu` has no alignment requirement.
    let scales = unsafe { _mm_loadu_si128(w.scales.as_ptr().cast()) };
    let sc16 = _mm256_cvtepi8_epi16(scales);
    let sc512 = _mm512_castsi256_si512(sc16);
    let sc = std::array::from_fn(|r| _mm512_permutexvar_epi16(idx(&IDX_Q6K[r]), sc512));
    let m15 = _mm512_set1_epi8(15);
    let m3 = _mm512_set1_epi8(3);
    let m48 = _mm512_set1_epi8(48);
    let ql = w.ql.as_chunks::<64>().0;
    let qh = w.qh.as_chunks::<32>().0;
    let mut q = [_mm512_setzero_si512(); 4];
    for j in 0..2 {
        // quants 128j..128j+64 take the low nibbles of ql[64j..64j+64] and bits 0-1 / 2-3 of
        // qh[32j..32j+32] (per half); quants 128j+64..128j+128 the high nibbles and bits 4-5 /
        // 6-7.
        let l = load64(&ql[j]);
        let h = _mm512_srlv_epi16(load32x2(&qh[j]), halves_epi16(0, 2));
        let h_lo = _mm512_slli_epi16::<4>(_mm512_and_si512(h, m3));
        let h_hi = _mm512_and_si512(h, m48);
        q[2 * j] = _mm512_or_si512(_mm512_and_si512(l, m15), h_lo);
        q[2 * j + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16::<4>(l), m15), h_hi);
    }
    K6x { q, sc, sc16 }
}

/// `S` partials (the −32 offset folded in as `32 · Σ sc · bsum`) of an unpacked Q6_K
/// super-block against `x`; `M` is zero.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
pub(crate) fn partial_q6_k(u: &K6x, x: &BlockQ8_K) -> (__m256i, __m256i) {
    let offset = _mm256_slli_epi32::<5>(_mm256_madd_epi16(u.sc16, bsums(x)));
    (_mm256_sub_epi32(scaled_sum(&u.q, &u.sc, x), offset), _mm256_setzero_si256())
}

qk_kernels!(
    "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
    /// Q4_K weight rows × Q8_K tokens.
    mat_q4_k,
    dot_q4_k_q8_k,
    BlockQ4_K,
    QKParts {
        has_min: true,
        unpack: |w: &BlockQ4_K| unpack_q4_k(w),
        partial: |u: &K4x, x: &BlockQ8_K| partial_k4(u, x),
        scale: |w: &BlockQ4_K| (w.d.bits(), w.dmin.bits()),
        _types: std::marker::PhantomData,
    }
);
qk_kernels!(
    "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
    /// Q5_K weight rows × Q8_K tokens.
    mat_q5_k,
    dot_q5_k_q8_k,
    BlockQ5_K,
    QKParts {
        has_min: true,
        unpack: |w: &BlockQ5_K| unpack_q5_k(w),
        partial: |u: &K4x, x: &BlockQ8_K| partial_k4(u, x),
        scale: |w: &BlockQ5_K| (w.d.bits(), w.dmin.bits()),
        _types: std::marker::PhantomData,
    }
);
qk_kernels!(
    "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
    /// Q6_K weight rows × Q8_K tokens.
    mat_q6_k,
    dot_q6_k_q8_k,
    BlockQ6_K,
    QKParts {
        has_min: false,
        unpack: |w: &BlockQ6_K| unpack_q6_k(w),
        partial: |u: &K6x, x: &BlockQ8_K| partial_q6_k(u, x),
        scale: |w: &BlockQ6_K| (w.d.bits(), 0),
        _types: std::marker::PhantomData,
    }
);
