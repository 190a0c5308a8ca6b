//! The VNNI inner dots of the prefill GEMM ([`crate::arch::x86_64::gemm`]) and its entry
//! points: `vpdpbusd` on 256-bit registers (AVX512-VNNI + AVX512-VL) multiplies 4 unsigned
//! weight bytes with 4 signed activation bytes and adds the sum to an i32 lane, replacing
//! `maddubs` + 16-bit adds + `madd` of the AVX2 ones, with no 16-bit intermediate to keep in
//! range. Q8_0 is packed as `w + 128` (unsigned) and its offset `128·Σx` taken out like
//! Q4_0's; K-quant sub-block sums are scaled with `vpmulld`, mins and Q6_K's offset pairs
//! summed with `vpdpwssd`. The integers equal the AVX2 ones, so results are bit for bit
//! those of the AVX2 table.

use std::arch::x86_64::*;

use crate::arch::x86_64::avx2::util::{bcast4, load_bytes};
use crate::arch::x86_64::gemm::TileDot;
use crate::arch::x86_64::gemm::pack::{Qs, TILE_TOKENS, off};
use crate::blocks::BlockQ8_K;

/// The VNNI inner dots.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Vnni;

impl TileDot for Vnni {
    const Q8_0_SHIFT: u32 = 7;

    #[inline(always)]
    unsafe fn block32<const BITS: u32>(blk: &[u8], q: [&Qs; TILE_TOKENS]) -> [__m256i; TILE_TOKENS] {
        // SAFETY: the caller guarantees AVX2, FMA, F16C, AVX512-VNNI and AVX512-VL.
        unsafe { block32(blk, q) }
    }

    #[inline(always)]
    unsafe fn superblock<const BITS: u32>(
        blk: &[u8],
        x: [&BlockQ8_K; TILE_TOKENS],
    ) -> [__m256i; TILE_TOKENS] {
        // SAFETY: the caller guarantees AVX2, FMA, F16C, AVX512-VNNI and AVX512-VL.
        unsafe { superblock::<BITS>(blk, x) }
    }

    #[inline(always)]
    unsafe fn madd_add(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: the caller guarantees AVX512-VNNI and AVX512-VL.
        unsafe { _mm256_dpwssd_epi32(acc, a, b) }
    }
}

/// [`TileDot::block32`] with `vpdpbusd`: the same for every weight width.
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
#[inline]
#[allow(clippy::needless_range_loop)] // the 4 tokens' registers, indexed in lockstep
fn block32(blk: &[u8], q: [&Qs; TILE_TOKENS]) -> [__m256i; TILE_TOKENS] {
    let mut s = [_mm256_setzero_si256(); TILE_TOKENS];
    for k in 0..8 {
        let w = load_bytes(&blk[32 * k..]);
        for c in 0..TILE_TOKENS {
            s[c] = _mm256_dpbusd_epi32(s[c], w, bcast4(&q[c][4 * k..]));
        }
    }
    s
}

/// [`TileDot::superblock`] with `vpdpbusd`, the sub-block scales applied with `vpmulld`.
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
#[inline]
#[allow(clippy::needless_range_loop)] // the 4 tokens' registers, indexed in lockstep
fn superblock<const BITS: u32>(blk: &[u8], x: [&BlockQ8_K; TILE_TOKENS]) -> [__m256i; TILE_TOKENS] {
    let mut s = [_mm256_setzero_si256(); TILE_TOKENS];
    for j in 0..8 {
        let q = &blk[off::QS + 256 * j..];
        // scales: i16 pairs per lane → the high half as i32
        let sc = |i: usize| _mm256_srai_epi32::<16>(load_bytes(&blk[off::SC + 32 * i..]));
        if BITS == 6 {
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
    s
}

gemm_kernels!("avx2,fma,f16c,avx512vnni,avx512vl", Vnni);
