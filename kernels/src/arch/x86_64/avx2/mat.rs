//! AVX2 multi-row × multi-token kernels on the file's row-major layout (decode and small
//! batches), and the row dots of the same types computed the same way.
//!
//! **The arithmetic of one (row, token).** Per block, the integer dot `s = Σ q_w q_x` is exact
//! (any instruction sequence gives the same i32); weight offsets are folded in as integers
//! (`s − 8·Σq_x` for Q4_0, `− 16·Σq_x` for Q5_0). Then, over the blocks in order, from 0:
//! `acc = fma(f32(d_w) · d_x, f32(s), acc)`, plus `acc = fma(m_w, s_x, acc)` for the types
//! with a min (Q4_1, Q5_1). K-quants work per super-block: `S = Σ_sub sc · dot`,
//! `M = Σ_sub m · bsum` (exact), `acc = fma(d_w · d_x, f32(S), acc)` and
//! `acc = fma(−(dmin_w · d_x), f32(M), acc)` (Q6_K folds its −32 offset into `S`). The row
//! dot, these kernels and the GEMM (`../gemm/`) all follow it, so a token's result does not
//! depend on how many tokens share the call or where it sits.
//!
//! **Lanes.** One ymm register holds 8 (row, token) pairs: `8 / G` rows × `G` tokens, lane
//! `i·G + j`, with `G` ∈ {1, 2, 4, 8} (1 for decode). Per block, each pair's 8-lane integer
//! partial is reduced into its lane ([`reduce8`]); the scales of the 8 pairs form one vector,
//! so the float work is shared by 8 pairs. A weight block is unpacked once per group and used
//! for its `G` tokens.

use crate::out_tile::OutTile;
use std::arch::x86_64::*;

use super::util::*;
use crate::blocks::*;
use crate::dispatch::XBatch;

/// How a 32-element block type's offset or min enters the sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Extra {
    /// Quants stored unsigned with an offset of `1 << shift` (Q4_0: 3, Q5_0: 4); `None`: signed.
    Offset(Option<u32>),
    /// `x = d·q + m`: the min meets the activation's `s` (Q4_1, Q5_1).
    Min,
}

/// The type-specific parts of a 32-element block kernel.
pub(crate) struct Q32<W, X, U, FU, FP, FS> {
    pub extra: Extra,
    /// Unpacks a weight block (once per block and row, shared by the tokens).
    pub unpack: FU,
    /// The 8-lane i32 partial sums of `Σ q_w q_x` (offset not yet applied).
    pub partial: FP,
    /// The block's scale and min (0 when none) as f16 bits.
    pub scale: FS,
    pub _types: std::marker::PhantomData<fn(&W, &X) -> U>,
}

/// Loads the side values of the `G` tokens starting at `p[0]`, repeated over the rows of a
/// register (lane `i·G + j` gets `p[j]`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn side_f32<const G: usize>(p: &[f32]) -> __m256 {
    let p = &p[..G];
    // SAFETY: each load reads at most the G floats of `p`; unaligned loads.
    unsafe {
        match G {
            1 => _mm256_set1_ps(p[0]),
            2 => _mm256_castsi256_ps(_mm256_set1_epi64x(p.as_ptr().cast::<i64>().read_unaligned())),
            4 => _mm256_castsi256_ps(_mm256_broadcastsi128_si256(_mm_loadu_si128(p.as_ptr().cast()))),
            _ => _mm256_loadu_ps(p.as_ptr()),
        }
    }
}

/// [`side_f32`] for i32 values.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn side_i32<const G: usize>(p: &[i32]) -> __m256i {
    let p = &p[..G];
    // SAFETY: each load reads at most the G values of `p`; unaligned loads.
    unsafe {
        match G {
            1 => _mm256_set1_epi32(p[0]),
            2 => _mm256_set1_epi64x(p.as_ptr().cast::<i64>().read_unaligned()),
            4 => _mm256_broadcastsi128_si256(_mm_loadu_si128(p.as_ptr().cast())),
            _ => _mm256_loadu_si256(p.as_ptr().cast()),
        }
    }
}

/// 8 f16 (bits) → 8 f32.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn f16x8(h: [u16; 8]) -> __m256 {
    let v = _mm_set_epi16(
        h[7] as i16,
        h[6] as i16,
        h[5] as i16,
        h[4] as i16,
        h[3] as i16,
        h[2] as i16,
        h[1] as i16,
        h[0] as i16,
    );
    _mm256_cvtph_ps(v)
}

/// Writes the valid lanes of `acc` (rows `q + i·span`, tokens `c0..c0 + valid`) to the
/// `[t - t0][row]` tile.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) fn store_lanes<const G: usize>(
    acc: __m256,
    q: usize,
    span: usize,
    rows: usize,
    c0: usize,
    valid: usize,
    t0: usize,
    out: &mut OutTile<'_>,
) {
    let mut v = [0f32; 8];
    // SAFETY: writes the 8 floats of `v`; unaligned store.
    unsafe { _mm256_storeu_ps(v.as_mut_ptr(), acc) };
    crate::arch::tile::scatter::<G>(&v, q, span, rows, c0, valid, t0, out);
}

/// Rows × tokens `c0..c0 + valid` (`valid <= G`, `c0 % 8 == 0`) of a 32-element block type.
///
/// The `8 / G` rows of a register are `span` rows apart: each lane walks its own contiguous
/// run of rows front to back, so the weights are read as `8 / G` long sequential streams
/// that the hardware prefetcher follows (neighbouring rows side by side would be many
/// streams of a few hundred bytes, which it does not).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn group32<W, X, U, FU, FP, FS, const G: usize>(
    k: &Q32<W, X, U, FU, FP, FS>,
    w: &[W],
    nb: usize,
    x: &[X],
    xb: &XBatch<'_>,
    c0: usize,
    valid: usize,
    t0: usize,
    out: &mut OutTile<'_>,
) where
    U: Copy,
    FU: Fn(&W) -> U,
    FP: Fn(U, &X) -> __m256i,
    FS: Fn(&W) -> (u16, u16),
{
    let rr = 8 / G;
    let rows = w.len() / nb;
    let span = rows.div_ceil(rr);
    let ld = xb.ld;
    let xs: [&[X]; G] = std::array::from_fn(|j| {
        let t = c0 + j.min(valid - 1);
        &x[t * nb..(t + 1) * nb]
    });
    let dx = &xb.d[c0..];
    let sums = if xb.sum.is_empty() { &[][..] } else { &xb.sum[c0..] };
    let sx = if xb.s.is_empty() { &[][..] } else { &xb.s[c0..] };
    for q in 0..span {
        let ws: [&[W]; 8] = std::array::from_fn(|i| {
            let ri = crate::arch::tile::strided_row(q, i, span, rows);
            &w[ri * nb..(ri + 1) * nb]
        });
        let mut acc = _mm256_setzero_ps();
        for b in 0..nb {
            let mut parts = [_mm256_setzero_si256(); 8];
            let mut hd = [0u16; 8];
            let mut hm = [0u16; 8];
            for i in 0..rr {
                let wb = &ws[i][b];
                prefetch_ahead(wb, prefetch::STRIDED_RUNS);
                let u = (k.unpack)(wb);
                let (d, m) = (k.scale)(wb);
                for j in 0..G {
                    parts[i * G + j] = (k.partial)(u, &xs[j][b]);
                    hd[i * G + j] = d;
                    hm[i * G + j] = m;
                }
            }
            let mut s = reduce8(&parts);
            if let Extra::Offset(Some(shift)) = k.extra {
                let sums = side_i32::<G>(&sums[b * ld..]);
                s = _mm256_sub_epi32(s, _mm256_sll_epi32(sums, _mm_cvtsi32_si128(shift as i32)));
            }
            let scale = _mm256_mul_ps(f16x8(hd), side_f32::<G>(&dx[b * ld..]));
            acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(s), acc);
            if k.extra == Extra::Min {
                acc = _mm256_fmadd_ps(f16x8(hm), side_f32::<G>(&sx[b * ld..]), acc);
            }
        }
        store_lanes::<G>(acc, q, span, rows, c0, valid, t0, out);
    }
}

/// All rows of `w` × tokens `t0..t1` of a 32-element block type into the `[t - t0][row]` tile.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn mat32<W, X, U, FU, FP, FS>(
    k: Q32<W, X, U, FU, FP, FS>,
    w: &[W],
    x: &[X],
    xb: &XBatch<'_>,
    t0: usize,
    t1: usize,
    out: &mut OutTile<'_>,
) where
    X: Block,
    U: Copy,
    FU: Fn(&W) -> U,
    FP: Fn(U, &X) -> __m256i,
    FS: Fn(&W) -> (u16, u16),
{
    let nb = xb.row_bytes / size_of::<X>();
    if nb == 0 || w.is_empty() {
        return;
    }
    let mut c0 = t0;
    while c0 < t1 {
        let valid = (t1 - c0).min(8);
        match valid.next_power_of_two() {
            1 => group32::<W, X, U, FU, FP, FS, 1>(&k, w, nb, x, xb, c0, valid, t0, out),
            2 => group32::<W, X, U, FU, FP, FS, 2>(&k, w, nb, x, xb, c0, valid, t0, out),
            4 => group32::<W, X, U, FU, FP, FS, 4>(&k, w, nb, x, xb, c0, valid, t0, out),
            _ => group32::<W, X, U, FU, FP, FS, 8>(&k, w, nb, x, xb, c0, valid, t0, out),
        }
        c0 += 8;
    }
}

/// The row dot of a 32-element block type with the same arithmetic as [`mat32`].
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn dot32<W, X, U, FU, FP, FS>(
    k: Q32<W, X, U, FU, FP, FS>,
    w: &[W],
    x: &[X],
    xsum: impl Fn(&X) -> (f32, i32, f32),
) -> f32
where
    U: Copy,
    FU: Fn(&W) -> U,
    FP: Fn(U, &X) -> __m256i,
    FS: Fn(&W) -> (u16, u16),
{
    let mut acc = 0f32;
    for (wb, xq) in w.iter().zip(x) {
        let mut s = hsum_i32x8((k.partial)((k.unpack)(wb), xq));
        let (dx, sum, sx) = xsum(xq);
        if let Extra::Offset(Some(shift)) = k.extra {
            s -= sum << shift;
        }
        let (d, m) = (k.scale)(wb);
        acc = (f16_bits_to_f32(d) * dx).mul_add(s as f32, acc);
        if k.extra == Extra::Min {
            acc = f16_bits_to_f32(m).mul_add(sx, acc);
        }
    }
    acc
}

/// f16 bits → f32 with F16C (the bit-level twin of [`f16`], for scales kept as `u16`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn f16_bits_to_f32(h: u16) -> f32 {
    f16(F16Le(h.to_le_bytes()))
}

/// `(d, Σq, 0)` of a Q8_0 block.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q8_0_side(x: &BlockQ8_0) -> (f32, i32, f32) {
    (f16(x.d), hsum_i32x8(mul_sum_us8(_mm256_set1_epi8(1), load32(&x.qs))), 0.0)
}

/// `(d, 0, s)` of a Q8_1 block.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q8_1_side(x: &BlockQ8_1) -> (f32, i32, f32) {
    (f16(x.d), 0, f16(x.s))
}

/// `maddubs` of unsigned weights with signed activations, pairs summed to i32.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn partial_us(u: __m256i, x: &[i8; 32]) -> __m256i {
    mul_sum_us8(u, load32(x))
}

macro_rules! q32_kernels {
    ($(#[$doc:meta])* $mat:ident, $dot:ident, $w:ty, $x:ty, $side:ident, $k:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The CPU must support AVX2, FMA and F16C.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(crate) unsafe fn $mat(w: &[$w], x: &[$x], xb: &XBatch<'_>, t0: usize, t1: usize, out: &mut $crate::out_tile::OutTile<'_>) {
            mat32($k, w, x, xb, t0, t1, out)
        }

        /// The row dot with the arithmetic of the batch kernel.
        ///
        /// # Safety
        /// The CPU must support AVX2, FMA and F16C.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(crate) unsafe fn $dot(w: &[$w], x: &[$x]) -> f32 {
            dot32($k, w, x, |b| $side(b))
        }
    };
}

/// Q4_0 kernel parts: nibbles unsigned (0..16), offset 8.
macro_rules! k_q4_0 {
    () => {
        Q32 {
            extra: Extra::Offset(Some(3)),
            unpack: |w: &BlockQ4_0| nibbles_32(&w.qs),
            partial: |u: __m256i, x: &BlockQ8_0| partial_us(u, &x.qs),
            scale: |w: &BlockQ4_0| (w.d.bits(), 0),
            _types: std::marker::PhantomData,
        }
    };
}

/// Q5_0 kernel parts: 5-bit quants unsigned (0..32), offset 16.
macro_rules! k_q5_0 {
    () => {
        Q32 {
            extra: Extra::Offset(Some(4)),
            unpack: |w: &BlockQ5_0| q5_quants(&w.qs, &w.qh),
            partial: |u: __m256i, x: &BlockQ8_0| partial_us(u, &x.qs),
            scale: |w: &BlockQ5_0| (w.d.bits(), 0),
            _types: std::marker::PhantomData,
        }
    };
}

/// Q8_0 kernel parts: signed quants, `|w|` against `x·sign(w)`.
macro_rules! k_q8_0 {
    () => {
        Q32 {
            extra: Extra::Offset(None),
            unpack: |w: &BlockQ8_0| {
                let q = load32(&w.qs);
                (_mm256_sign_epi8(q, q), q)
            },
            partial: |(a, q): (__m256i, __m256i), x: &BlockQ8_0| {
                mul_sum_us8(a, _mm256_sign_epi8(load32(&x.qs), q))
            },
            scale: |w: &BlockQ8_0| (w.d.bits(), 0),
            _types: std::marker::PhantomData,
        }
    };
}

/// Q4_1 kernel parts: nibbles unsigned, min against `s`.
macro_rules! k_q4_1 {
    () => {
        Q32 {
            extra: Extra::Min,
            unpack: |w: &BlockQ4_1| nibbles_32(&w.qs),
            partial: |u: __m256i, x: &BlockQ8_1| partial_us(u, &x.qs),
            scale: |w: &BlockQ4_1| (w.d.bits(), w.m.bits()),
            _types: std::marker::PhantomData,
        }
    };
}

/// Q5_1 kernel parts: 5-bit quants unsigned, min against `s`.
macro_rules! k_q5_1 {
    () => {
        Q32 {
            extra: Extra::Min,
            unpack: |w: &BlockQ5_1| q5_quants(&w.qs, &w.qh),
            partial: |u: __m256i, x: &BlockQ8_1| partial_us(u, &x.qs),
            scale: |w: &BlockQ5_1| (w.d.bits(), w.m.bits()),
            _types: std::marker::PhantomData,
        }
    };
}

q32_kernels!(
    /// Q4_0 weight rows × Q8_0 tokens.
    mat_q4_0, dot_q4_0_q8_0, BlockQ4_0, BlockQ8_0, q8_0_side, k_q4_0!()
);
q32_kernels!(
    /// Q5_0 weight rows × Q8_0 tokens.
    mat_q5_0, dot_q5_0_q8_0, BlockQ5_0, BlockQ8_0, q8_0_side, k_q5_0!()
);
q32_kernels!(
    /// Q8_0 weight rows × Q8_0 tokens. Exact for any weight byte as long as the activation
    /// has no −128 (quantized activations never do).
    mat_q8_0, dot_q8_0_q8_0, BlockQ8_0, BlockQ8_0, q8_0_side, k_q8_0!()
);
q32_kernels!(
    /// Q4_1 weight rows × Q8_1 tokens.
    mat_q4_1, dot_q4_1_q8_1, BlockQ4_1, BlockQ8_1, q8_1_side, k_q4_1!()
);
q32_kernels!(
    /// Q5_1 weight rows × Q8_1 tokens.
    mat_q5_1, dot_q5_1_q8_1, BlockQ5_1, BlockQ8_1, q8_1_side, k_q5_1!()
);
