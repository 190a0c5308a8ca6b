//! Small AVX2 building blocks shared by the kernels (ggml-cpu/arch/x86/quants.c helpers).
//!
//! They are safe `#[target_feature]` functions: callable without `unsafe` only from code
//! compiled for the same features, i.e. from the kernels of this module.

use std::arch::x86_64::*;

use crate::blocks::F16Le;

/// 32 bytes at any alignment.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn load32<T: bytemuck::Pod>(a: &[T; 32]) -> __m256i {
    const { assert!(size_of::<T>() == 1) };
    // SAFETY: reads exactly the 32 bytes of `a`; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(a.as_ptr().cast()) }
}

/// 16 bytes at any alignment.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn load16<T: bytemuck::Pod>(a: &[T; 16]) -> __m128i {
    const { assert!(size_of::<T>() == 1) };
    // SAFETY: reads exactly the 16 bytes of `a`; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(a.as_ptr().cast()) }
}

/// f16 → f32 with F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn f16(h: F16Le) -> f32 {
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(h.bits()))))
}

/// Horizontal sum of 8 floats.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn hsum_f32x8(x: __m256) -> f32 {
    let r = _mm_add_ps(_mm256_extractf128_ps::<1>(x), _mm256_castps256_ps128(x));
    hsum_f32x4(r)
}

/// Horizontal sum of 4 floats.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn hsum_f32x4(r: __m128) -> f32 {
    let r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    let r = _mm_add_ss(r, _mm_movehdup_ps(r));
    _mm_cvtss_f32(r)
}

/// Horizontal sum of 8 i32.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn hsum_i32x8(a: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256::<1>(a));
    let s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// 32 nibbles → 32 bytes in 0..16: the 16 low nibbles, then the 16 high nibbles (one
/// broadcast load, one 64-bit shift of the upper half, one mask).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn nibbles_32(qs: &[u8; 16]) -> __m256i {
    let v = _mm256_broadcastsi128_si256(load16(qs));
    let v = _mm256_srlv_epi64(v, _mm256_set_epi64x(4, 4, 0, 0));
    _mm256_and_si256(v, _mm256_set1_epi8(0x0f))
}

/// 32 bits (little-endian) → 32 bytes, `0x10` where the bit is set (the fifth bit of Q5
/// quants).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn fifth_bits_32(qh: &[u8; 4]) -> __m256i {
    // SAFETY: reads the 4 bytes of `qh`; unaligned read.
    let x = unsafe { qh.as_ptr().cast::<i32>().read_unaligned() };
    let shuf = _mm256_set_epi64x(0x0303_0303_0303_0303, 0x0202_0202_0202_0202, 0x0101_0101_0101_0101, 0);
    let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(x), shuf);
    let bits = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
    let set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bits), bits);
    _mm256_and_si256(set, _mm256_set1_epi8(0x10))
}

/// The unsigned 5-bit quants of a Q5_0/Q5_1 block (0..32).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn q5_quants(qs: &[u8; 16], qh: &[u8; 4]) -> __m256i {
    _mm256_or_si256(nibbles_32(qs), fifth_bits_32(qh))
}

/// Pairwise sums of i16 → 8 i32.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn sum_i16_pairs(x: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_set1_epi16(1), x)
}

/// Unsigned × signed bytes, summed in groups of 4 → 8 i32. `ax` must be ≤ 128 and `sy`
/// such that no pair sum exceeds i16 (true for every use here: |products| ≤ 128·127).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn mul_sum_us8(ax: __m256i, sy: __m256i) -> __m256i {
    sum_i16_pairs(_mm256_maddubs_epi16(ax, sy))
}

/// Horizontal sums of 8 vectors: lane `k` of the result is the sum of the 8 i32 lanes of
/// `v[k]` (exact, wrapping).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn reduce8(v: &[__m256i; 8]) -> __m256i {
    // [v0 01, v0 23, v1 01, v1 23 | v0 45, v0 67, v1 45, v1 67], …
    let t0 = _mm256_hadd_epi32(v[0], v[1]);
    let t1 = _mm256_hadd_epi32(v[2], v[3]);
    let t2 = _mm256_hadd_epi32(v[4], v[5]);
    let t3 = _mm256_hadd_epi32(v[6], v[7]);
    // [v0 0..4, v1 0..4, v2 0..4, v3 0..4 | v0 4..8, v1 4..8, v2 4..8, v3 4..8]
    let u0 = _mm256_hadd_epi32(t0, t1);
    let u1 = _mm256_hadd_epi32(t2, t3);
    let lo = _mm256_permute2x128_si256::<0x20>(u0, u1);
    let hi = _mm256_permute2x128_si256::<0x31>(u0, u1);
    _mm256_add_epi32(lo, hi)
}

/// Transposes an R × R matrix of G-lane elements (R = 8 / G): `v[i]` holds elements
/// `(i, 0..R)` (element `e` in lanes `e·G..(e + 1)·G`); result `[e]` holds elements
/// `(0..R, e)`. Entries `R..8` of `v` are ignored and of the result unspecified.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn transpose_groups<const G: usize>(v: [__m256i; 8]) -> [__m256i; 8] {
    match G {
        8 => v,
        4 => {
            let mut t = v;
            t[0] = _mm256_permute2x128_si256::<0x20>(v[0], v[1]);
            t[1] = _mm256_permute2x128_si256::<0x31>(v[0], v[1]);
            t
        }
        2 => {
            let a0 = _mm256_unpacklo_epi64(v[0], v[1]);
            let a1 = _mm256_unpackhi_epi64(v[0], v[1]);
            let a2 = _mm256_unpacklo_epi64(v[2], v[3]);
            let a3 = _mm256_unpackhi_epi64(v[2], v[3]);
            let mut t = v;
            t[0] = _mm256_permute2x128_si256::<0x20>(a0, a2);
            t[1] = _mm256_permute2x128_si256::<0x20>(a1, a3);
            t[2] = _mm256_permute2x128_si256::<0x31>(a0, a2);
            t[3] = _mm256_permute2x128_si256::<0x31>(a1, a3);
            t
        }
        _ => transpose8(v),
    }
}

/// 8 rows of 8 i32 → 8 registers, register `k` holding element `k` of each row.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn transpose8(v: [__m256i; 8]) -> [__m256i; 8] {
    let t: [__m256i; 8] = std::array::from_fn(|i| {
        let (a, b) = (v[2 * (i / 2)], v[2 * (i / 2) + 1]);
        if i % 2 == 0 { _mm256_unpacklo_epi32(a, b) } else { _mm256_unpackhi_epi32(a, b) }
    });
    // t[0] = [v0_0 v1_0 v0_1 v1_1 | ..4..5], t[1] = [..2..3 | ..6..7], t[2], t[3] for v2, v3 …
    let u: [__m256i; 8] = std::array::from_fn(|i| {
        let (h, k) = (i / 4, i % 4); // h: rows 0..4 or 4..8; k: element within 128-bit lane
        let (a, b) = (t[4 * h + k / 2], t[4 * h + 2 + k / 2]);
        if k % 2 == 0 { _mm256_unpacklo_epi64(a, b) } else { _mm256_unpackhi_epi64(a, b) }
    });
    // u[k] (k < 4) = [v0_k v1_k v2_k v3_k | v0_k+4 … v3_k+4], u[4 + k] the same for v4..v8
    std::array::from_fn(|k| {
        if k < 4 {
            _mm256_permute2x128_si256::<0x20>(u[k], u[4 + k])
        } else {
            _mm256_permute2x128_si256::<0x31>(u[k - 4], u[k])
        }
    })
}

/// Stores a register at `dst[..32]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn store_bytes(dst: &mut [u8], v: __m256i) {
    let dst: &mut [u8; 32] = (&mut dst[..32]).try_into().expect("32 bytes");
    // SAFETY: writes exactly the 32 bytes of `dst`; unaligned store.
    unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) }
}

/// Stores 8 floats at `dst[..32]` (bytes).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn store_f32x8(dst: &mut [u8], v: __m256) {
    store_bytes(dst, _mm256_castps_si256(v))
}

/// Loads 32 bytes at `src[..32]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn load_bytes(src: &[u8]) -> __m256i {
    let src: &[u8; 32] = src[..32].try_into().expect("32 bytes");
    load32(src)
}

/// Loads 8 floats at `src[..32]` (bytes).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn load_f32x8(src: &[u8]) -> __m256 {
    _mm256_castsi256_ps(load_bytes(src))
}

/// 4 activation bytes broadcast to every lane.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn bcast4(q: &[i8]) -> __m256i {
    let q: &[i8; 4] = q[..4].try_into().expect("4 bytes");
    _mm256_set1_epi32(i32::from_le_bytes(q.map(|b| b as u8)))
}

/// How far ahead of the weights being read the kernels prefetch, per kind of read pattern.
///
/// One core of a server CPU reads memory at well under the socket's bandwidth: the number of
/// cache misses it keeps in flight bounds it, and the hardware prefetchers alone keep too
/// few. Software prefetches a fixed distance ahead, into L2 (`T1`: into L1 they evict the
/// activations and cost more than they gain), add to them. Measured at 2 threads on a
/// Sapphire Rapids VM (tg, `hearth bench`), Llama-3.2-3B shape, in the same minutes as
/// llama.cpp's 8.0 t/s: into L1 2 KiB ahead 7.61 t/s, 4 KiB 7.63; into L2 2 KiB 8.96, 4 KiB
/// 9.81, 8 KiB 9.99, 16 KiB 9.86; non-temporal 5.97. Without prefetch 6.41 (an hour earlier,
/// llama.cpp then 7.18: the box is noisy). Mistral-7B 4.40 → 4.66 (8 rows side by side 512 B
/// ahead each); Qwen2.5-Coder-0.5B (Q5_0/Q8_0, 8 strided streams 256 B ahead each) 36 → 42–45.
///
/// How the requests are spread matters as much as how far ahead they go: a K-quant block
/// interleaved 8 rows to a block is 19 (Q4_K) or 27 (Q6_K) lines, and asking for them all
/// at the block's start ([`prefetch_ahead`]) stalls on the core's few line-fill buffers while
/// the block's multiply-adds wait behind. Asking for each 64-byte load's line as the kernel
/// makes it ([`prefetch_line`], after [`prefetch_prefix`] for the block's head) keeps the
/// requests spread over the block's work. Measured in the same minutes (Sapphire Rapids VM,
/// 2 threads, `hearth bench -p 0 -n 32 -b 1,4`): Llama-3.2-3B shape 4 sequences 37.9–38.4 →
/// 43.0–43.4 t/s, one 12.3–12.5 → 13.0–13.7; Mistral-7B 18.3 → 19.9 and 5.99 → 6.21;
/// Qwen2.5-Coder-7B 17.9 → 19.9 and 5.82 → 6.20. Every other bit in the block's second half
/// (one line in two asked for) was slower still: 3B 31.7 and 10.3.
pub(crate) mod prefetch {
    /// One sequential stream of small blocks (the 16-row Q5_0 and Q4_1 layouts).
    pub(crate) const ONE_STREAM: usize = 4096;
    /// One sequential stream of K-quant super-blocks (rows one after the other, or 8 rows
    /// interleaved). 8 KiB rather than 4, measured on an AMD EPYC (Zen 3) VM at 2 threads:
    /// the interleaved Q4_K kernel over 8 matrices of 3072×8192 (113 MB, from DRAM), best of
    /// 3 passes, the two builds alternated 4 then 6 times (the VM's load differed between the
    /// sittings): 4 KiB 27.9–31.8 then 18.7–23.5 GB/s, 8 KiB 30.6–33.1 then 20.8–25.9, level
    /// or ahead in each of the second sitting's pairs (2 KiB 29.7–33.2, 16 KiB 28.3–31.0 in
    /// the first). The row-major Q6_K kernel was level (6 pairs: 19.0–24.6 against
    /// 19.2–26.4 GB/s), and the Sapphire Rapids figures above put 8 KiB level with 4 (9.99
    /// vs 9.81 t/s).
    pub(crate) const K_BLOCKS: usize = 8192;
    /// Each of 8 rows read side by side (long K-quant rows).
    pub(crate) const ROWS_SIDE_BY_SIDE: usize = 512;
    /// Each of up to 8 strided runs of rows of a 32-element block type.
    pub(crate) const STRIDED_RUNS: usize = 256;
}

/// Asks for the cache line `ahead` bytes past `p` (a hint, as [`prefetch_ahead`]).
#[inline(always)]
pub(crate) fn prefetch_line<T>(p: &T, ahead: usize) {
    let p = (p as *const T).cast::<i8>().wrapping_add(ahead);
    // SAFETY: `_mm_prefetch` is a hint: it never faults, whatever the address, and needs only
    // SSE, which every x86_64 CPU has.
    unsafe { _mm_prefetch::<_MM_HINT_T1>(p) };
}

/// Asks for the cache lines of the first `len` bytes of `w`, `ahead` bytes on (a hint, as
/// [`prefetch_ahead`]).
#[inline(always)]
pub(crate) fn prefetch_prefix<W>(w: &W, ahead: usize, len: usize) {
    let mut off = 0;
    while off < len.min(size_of::<W>()) {
        prefetch_line(w, ahead + off);
        off += 64;
    }
}

/// Asks for the cache lines `ahead` bytes past the block `w` (a hint: addresses past the end
/// of the weights are harmless, a prefetch never faults and reads nothing architecturally).
#[inline(always)]
pub(crate) fn prefetch_ahead<W>(w: &W, ahead: usize) {
    let p = (w as *const W).cast::<i8>().wrapping_add(ahead);
    let mut off = 0;
    while off < size_of::<W>() {
        // SAFETY: `_mm_prefetch` is a hint: it never faults, whatever the address, and needs
        // only SSE, which every x86_64 CPU has.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(p.wrapping_add(off)) };
        off += 64;
    }
}
