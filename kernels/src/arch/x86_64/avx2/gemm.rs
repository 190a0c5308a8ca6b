//! The AVX2 inner dots of the prefill GEMM ([`crate::arch::x86_64::gemm`]) and its entry
//! points: `maddubs` (unsigned weight × signed activation bytes, pairs summed to i16), i16
//! sums kept in range, then `madd` to i32. Q4 pairs are at most 2·15·127, eight of them fit
//! in an i16; Q5 pairs (2·31·127) are summed four at a time; Q8_0 (signed, with ggml's sign
//! trick) and Q6_K pairs go to i32 one or two at a time.

use std::arch::x86_64::*;

use super::util::{bcast4, load_bytes};
use crate::arch::x86_64::gemm::TileDot;
use crate::arch::x86_64::gemm::pack::{Qs, TILE_TOKENS, off};
use crate::blocks::BlockQ8_K;

/// The AVX2 inner dots.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2;

impl TileDot for Avx2 {
    const Q8_0_SHIFT: u32 = 0;

    #[inline(always)]
    unsafe fn block32<const BITS: u32>(blk: &[u8], q: [&Qs; TILE_TOKENS]) -> [__m256i; TILE_TOKENS] {
        // SAFETY: the caller guarantees AVX2, FMA and F16C.
        unsafe { block32::<BITS>(blk, q) }
    }

    #[inline(always)]
    unsafe fn superblock<const BITS: u32>(
        blk: &[u8],
        x: [&BlockQ8_K; TILE_TOKENS],
    ) -> [__m256i; TILE_TOKENS] {
        // SAFETY: the caller guarantees AVX2, FMA and F16C.
        unsafe { superblock::<BITS>(blk, x) }
    }

    #[inline(always)]
    unsafe fn madd_add(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: the caller guarantees AVX2.
        unsafe { _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)) }
    }
}

/// [`TileDot::block32`] with AVX2.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::needless_range_loop)] // the 4 tokens' registers, indexed in lockstep
fn block32<const BITS: u32>(blk: &[u8], q: [&Qs; TILE_TOKENS]) -> [__m256i; TILE_TOKENS] {
    let ones = _mm256_set1_epi16(1);
    let mut s = [_mm256_setzero_si256(); TILE_TOKENS];
    match BITS {
        4 => {
            let mut a16 = [_mm256_setzero_si256(); TILE_TOKENS];
            for k in 0..8 {
                let w = load_bytes(&blk[32 * k..]);
                for c in 0..TILE_TOKENS {
                    a16[c] = _mm256_add_epi16(a16[c], _mm256_maddubs_epi16(w, bcast4(&q[c][4 * k..])));
                }
            }
            for c in 0..TILE_TOKENS {
                s[c] = _mm256_madd_epi16(a16[c], ones);
            }
        }
        5 => {
            for half in 0..2 {
                let mut a16 = [_mm256_setzero_si256(); TILE_TOKENS];
                for k in 4 * half..4 * half + 4 {
                    let w = load_bytes(&blk[32 * k..]);
                    for c in 0..TILE_TOKENS {
                        a16[c] = _mm256_add_epi16(a16[c], _mm256_maddubs_epi16(w, bcast4(&q[c][4 * k..])));
                    }
                }
                for c in 0..TILE_TOKENS {
                    s[c] = _mm256_add_epi32(s[c], _mm256_madd_epi16(a16[c], ones));
                }
            }
        }
        _ => {
            for k in 0..8 {
                let w = load_bytes(&blk[32 * k..]);
                let aw = _mm256_sign_epi8(w, w);
                for c in 0..TILE_TOKENS {
                    let p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(bcast4(&q[c][4 * k..]), w));
                    s[c] = _mm256_add_epi32(s[c], _mm256_madd_epi16(p, ones));
                }
            }
        }
    }
    s
}

/// [`TileDot::superblock`] with AVX2: the sub-block scales (i16 pairs per lane) applied
/// by `madd` to the i16 sums.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::needless_range_loop)] // the 4 tokens' registers, indexed in lockstep
fn superblock<const BITS: u32>(blk: &[u8], x: [&BlockQ8_K; TILE_TOKENS]) -> [__m256i; TILE_TOKENS] {
    let mut s = [_mm256_setzero_si256(); TILE_TOKENS];
    for j in 0..8 {
        let q = &blk[off::QS + 256 * j..];
        let wk = |k: usize| load_bytes(&q[32 * k..]);
        let xk = |c: usize, k: usize| bcast4(&x[c].qs[32 * j + 4 * k..]);
        match BITS {
            4 => {
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
            5 => {
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
            _ => {
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
    s
}

gemm_kernels!("avx2,fma,f16c", Avx2);
