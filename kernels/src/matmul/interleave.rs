//! Q4_K / Q6_K / Q5_0 / Q8_0 rows ⇄ [`BlockQ4_Kx8`] / [`BlockQ6_Kx8`] / [`BlockQ5_0x8`] /
//! [`BlockQ8_0x8`]: 8 neighbouring rows interleaved block by block, the layout the decode kernels of tables with `mat_x8` read
//! (see [`super::QMatrix`]). Lossless both ways: [`deinterleave_rows`] gives back the file's
//! bytes exactly.

use crate::DType;
use crate::blocks::{
    BlockQ4_K, BlockQ4_Kx8, BlockQ5_0, BlockQ5_0x8, BlockQ6_K, BlockQ6_Kx8, BlockQ8_0, BlockQ8_0x8,
    pack_scales_mins_k4, scales_mins_k4,
};

/// A block type and its 8-row interleaved form.
pub(crate) trait Interleave: bytemuck::Pod {
    /// The interleaved block of 8 rows.
    type X8: bytemuck::Pod;
    /// Super-block `b` of 8 rows, interleaved.
    fn interleave(rows: [&Self; ROWS]) -> Self::X8;
    /// The 8 rows' super-blocks of an interleaved block.
    fn deinterleave(x: &Self::X8) -> [Self; ROWS];
}

impl Interleave for BlockQ4_K {
    type X8 = BlockQ4_Kx8;
    fn interleave(rows: [&Self; ROWS]) -> BlockQ4_Kx8 {
        interleave(rows)
    }
    fn deinterleave(x: &BlockQ4_Kx8) -> [Self; ROWS] {
        deinterleave(x)
    }
}

impl Interleave for BlockQ6_K {
    type X8 = BlockQ6_Kx8;
    fn interleave(rows: [&Self; ROWS]) -> BlockQ6_Kx8 {
        let mut x = BlockQ6_Kx8 { d: [rows[0].d; ROWS], scales: [0; 128], ql: [0; 1024], qh: [0; 512] };
        for (i, r) in rows.iter().enumerate() {
            x.d[i] = r.d;
            for s in 0..16 {
                x.scales[16 * (s / 2) + 2 * i + s % 2] = r.scales[s];
            }
            for h in 0..2 {
                for k in 0..4 {
                    for part in 0..2 {
                        let (dst, src) = (64 * (8 * h + 4 * part + k) + 8 * i, 64 * h + 32 * part + 8 * k);
                        x.ql[dst..dst + 8].copy_from_slice(&r.ql[src..src + 8]);
                    }
                    let (dst, src) = (64 * (4 * h + k) + 8 * i, 32 * h + 8 * k);
                    x.qh[dst..dst + 8].copy_from_slice(&r.qh[src..src + 8]);
                }
            }
        }
        x
    }
    fn deinterleave(x: &BlockQ6_Kx8) -> [Self; ROWS] {
        std::array::from_fn(|i| {
            let mut r = BlockQ6_K { ql: [0; 128], qh: [0; 64], scales: [0; 16], d: x.d[i] };
            for s in 0..16 {
                r.scales[s] = x.scales[16 * (s / 2) + 2 * i + s % 2];
            }
            for h in 0..2 {
                for k in 0..4 {
                    for part in 0..2 {
                        let (src, dst) = (64 * (8 * h + 4 * part + k) + 8 * i, 64 * h + 32 * part + 8 * k);
                        r.ql[dst..dst + 8].copy_from_slice(&x.ql[src..src + 8]);
                    }
                    let (src, dst) = (64 * (4 * h + k) + 8 * i, 32 * h + 8 * k);
                    r.qh[dst..dst + 8].copy_from_slice(&x.qh[src..src + 8]);
                }
            }
            r
        })
    }
}

impl Interleave for BlockQ5_0 {
    type X8 = BlockQ5_0x8;
    fn interleave(rows: [&Self; ROWS]) -> BlockQ5_0x8 {
        let mut x = BlockQ5_0x8 { d: [rows[0].d; ROWS], qh: [0; 32], qs: [0; 128] };
        for (i, r) in rows.iter().enumerate() {
            x.d[i] = r.d;
            for c in 0..4 {
                x.qh[8 * c + i] = r.qh[c];
            }
            for p in 0..2 {
                x.qs[64 * p + 8 * i..64 * p + 8 * i + 8].copy_from_slice(&r.qs[8 * p..8 * p + 8]);
            }
        }
        x
    }
    fn deinterleave(x: &BlockQ5_0x8) -> [Self; ROWS] {
        std::array::from_fn(|i| {
            let mut r = BlockQ5_0 { d: x.d[i], qh: [0; 4], qs: [0; 16] };
            for c in 0..4 {
                r.qh[c] = x.qh[8 * c + i];
            }
            for p in 0..2 {
                r.qs[8 * p..8 * p + 8].copy_from_slice(&x.qs[64 * p + 8 * i..64 * p + 8 * i + 8]);
            }
            r
        })
    }
}

impl Interleave for BlockQ8_0 {
    type X8 = BlockQ8_0x8;
    fn interleave(rows: [&Self; ROWS]) -> BlockQ8_0x8 {
        let mut x = BlockQ8_0x8 { d: [rows[0].d; ROWS], qs: [0; 256] };
        for (i, r) in rows.iter().enumerate() {
            x.d[i] = r.d;
            let qs: &[u8; 32] = bytemuck::cast_ref(&r.qs);
            for c in 0..4 {
                x.qs[64 * c + 8 * i..64 * c + 8 * i + 8].copy_from_slice(&flip8(&qs[8 * c..8 * c + 8]));
            }
        }
        x
    }
    fn deinterleave(x: &BlockQ8_0x8) -> [Self; ROWS] {
        std::array::from_fn(|i| {
            let mut r = BlockQ8_0 { d: x.d[i], qs: [0; 32] };
            let qs: &mut [u8; 32] = bytemuck::cast_mut(&mut r.qs);
            for c in 0..4 {
                qs[8 * c..8 * c + 8].copy_from_slice(&flip8(&x.qs[64 * c + 8 * i..64 * c + 8 * i + 8]));
            }
            r
        })
    }
}

/// 8 bytes with their sign bits flipped (i8 `q` ⇄ u8 `q + 128`), 8 at a time.
#[inline]
fn flip8(b: &[u8]) -> [u8; 8] {
    let v = u64::from_ne_bytes(b.try_into().expect("8 bytes"));
    (v ^ 0x8080_8080_8080_8080).to_ne_bytes()
}

/// Bytes of an interleaved block of 8 rows of `dt`, if the type has one.
pub(crate) const fn x8_block_bytes(dt: DType) -> Option<usize> {
    match dt {
        DType::Q4_K => Some(size_of::<BlockQ4_Kx8>()),
        DType::Q6_K => Some(size_of::<BlockQ6_Kx8>()),
        DType::Q5_0 => Some(size_of::<BlockQ5_0x8>()),
        DType::Q8_0 => Some(size_of::<BlockQ8_0x8>()),
        _ => None,
    }
}

/// [`interleave_rows`] on bytes of `dt` (a type [`x8_block_bytes`] knows).
pub(crate) fn interleave_bytes(dt: DType, src: &[u8], nb: usize, dst: &mut [u8]) {
    match dt {
        DType::Q4_K => {
            interleave_rows::<BlockQ4_K>(bytemuck::cast_slice(src), nb, bytemuck::cast_slice_mut(dst))
        }
        DType::Q6_K => {
            interleave_rows::<BlockQ6_K>(bytemuck::cast_slice(src), nb, bytemuck::cast_slice_mut(dst))
        }
        DType::Q5_0 => {
            interleave_rows::<BlockQ5_0>(bytemuck::cast_slice(src), nb, bytemuck::cast_slice_mut(dst))
        }
        DType::Q8_0 => {
            interleave_rows::<BlockQ8_0>(bytemuck::cast_slice(src), nb, bytemuck::cast_slice_mut(dst))
        }
        _ => unreachable!("{dt} has no interleaved layout"),
    }
}

/// Row `i` (0..8) of one interleaved group of `nb` blocks (`src`) into `dst` (its row-major
/// bytes), for a type [`x8_block_bytes`] knows.
pub(crate) fn row_of_group(dt: DType, src: &[u8], nb: usize, i: usize, dst: &mut [u8]) {
    fn row<B: Interleave>(src: &[u8], nb: usize, i: usize, dst: &mut [u8]) {
        let src: &[B::X8] = bytemuck::cast_slice(src);
        let dst: &mut [B] = bytemuck::cast_slice_mut(dst);
        assert!(src.len() == nb && dst.len() == nb && i < ROWS, "row_of_group: {nb} blocks, row {i}");
        for (d, x) in dst.iter_mut().zip(src) {
            *d = B::deinterleave(x)[i];
        }
    }
    match dt {
        DType::Q4_K => row::<BlockQ4_K>(src, nb, i, dst),
        DType::Q6_K => row::<BlockQ6_K>(src, nb, i, dst),
        DType::Q5_0 => row::<BlockQ5_0>(src, nb, i, dst),
        DType::Q8_0 => row::<BlockQ8_0>(src, nb, i, dst),
        _ => unreachable!("{dt} has no interleaved layout"),
    }
}

/// [`deinterleave_rows`] on bytes of `dt` (a type [`x8_block_bytes`] knows).
pub(crate) fn deinterleave_bytes(dt: DType, src: &[u8], nb: usize, dst: &mut [u8]) {
    match dt {
        DType::Q4_K => {
            deinterleave_rows::<BlockQ4_K>(bytemuck::cast_slice(src), nb, bytemuck::cast_slice_mut(dst))
        }
        DType::Q6_K => {
            deinterleave_rows::<BlockQ6_K>(bytemuck::cast_slice(src), nb, bytemuck::cast_slice_mut(dst))
        }
        DType::Q5_0 => {
            deinterleave_rows::<BlockQ5_0>(bytemuck::cast_slice(src), nb, bytemuck::cast_slice_mut(dst))
        }
        DType::Q8_0 => {
            deinterleave_rows::<BlockQ8_0>(bytemuck::cast_slice(src), nb, bytemuck::cast_slice_mut(dst))
        }
        _ => unreachable!("{dt} has no interleaved layout"),
    }
}

/// Rows per interleaved group.
pub(crate) const ROWS: usize = 8;

/// Super-block `b` of 8 Q4_K rows, interleaved.
fn interleave(rows: [&BlockQ4_K; ROWS]) -> BlockQ4_Kx8 {
    let mut x = BlockQ4_Kx8 {
        d: [rows[0].d; ROWS],
        dmin: [rows[0].dmin; ROWS],
        scales: [0; 64],
        mins: [0; 64],
        qs: [0; 1024],
    };
    for (i, r) in rows.iter().enumerate() {
        x.d[i] = r.d;
        x.dmin[i] = r.dmin;
        let (sc, m) = scales_mins_k4(&r.scales);
        for s in 0..8 {
            x.scales[8 * s + i] = sc[s];
            x.mins[BlockQ4_Kx8::min_index(i, s)] = m[s];
        }
        for p in 0..4 {
            for k in 0..4 {
                let dst = 64 * (4 * p + k) + 8 * i;
                x.qs[dst..dst + 8].copy_from_slice(&r.qs[32 * p + 8 * k..32 * p + 8 * k + 8]);
            }
        }
    }
    x
}

/// The 8 rows' super-blocks of an interleaved Q4_K block.
fn deinterleave(x: &BlockQ4_Kx8) -> [BlockQ4_K; ROWS] {
    std::array::from_fn(|i| {
        let sc: [u8; 8] = std::array::from_fn(|s| x.scales[8 * s + i]);
        let m: [u8; 8] = std::array::from_fn(|s| x.mins[BlockQ4_Kx8::min_index(i, s)]);
        let mut qs = [0u8; 128];
        for p in 0..4 {
            for k in 0..4 {
                let src = 64 * (4 * p + k) + 8 * i;
                qs[32 * p + 8 * k..32 * p + 8 * k + 8].copy_from_slice(&x.qs[src..src + 8]);
            }
        }
        BlockQ4_K { d: x.d[i], dmin: x.dmin[i], scales: pack_scales_mins_k4(&sc, &m), qs }
    })
}

/// `src`: `rows × nb` super-blocks, row-major, `rows` a multiple of 8; `dst`: `rows / 8 × nb`
/// interleaved blocks, group by group.
///
/// # Panics
/// If the lengths do not match.
pub(crate) fn interleave_rows<B: Interleave>(src: &[B], nb: usize, dst: &mut [B::X8]) {
    assert!(
        nb > 0 && src.len().is_multiple_of(ROWS * nb),
        "interleave: {} blocks in rows of {nb}",
        src.len()
    );
    assert_eq!(dst.len() * ROWS, src.len(), "interleave: destination length");
    for (g, out) in dst.chunks_exact_mut(nb).enumerate() {
        let rows = &src[g * ROWS * nb..(g + 1) * ROWS * nb];
        for (b, o) in out.iter_mut().enumerate() {
            *o = B::interleave(std::array::from_fn(|i| &rows[i * nb + b]));
        }
    }
}

/// The inverse of [`interleave_rows`].
///
/// # Panics
/// If the lengths do not match.
pub(crate) fn deinterleave_rows<B: Interleave>(src: &[B::X8], nb: usize, dst: &mut [B]) {
    assert!(nb > 0 && src.len().is_multiple_of(nb), "deinterleave: {} blocks in rows of {nb}", src.len());
    assert_eq!(src.len() * ROWS, dst.len(), "deinterleave: destination length");
    for (g, group) in src.chunks_exact(nb).enumerate() {
        let rows = &mut dst[g * ROWS * nb..(g + 1) * ROWS * nb];
        for (b, x) in group.iter().enumerate() {
            for (i, blk) in B::deinterleave(x).into_iter().enumerate() {
                rows[i * nb + b] = blk;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Rng;
    use bytemuck::Zeroable;

    /// Random bytes (not just valid quantizer output: every field must survive) as `rows ×
    /// nb` blocks of `B`, interleaved and taken apart again: asserts the bytes come back,
    /// returns the source blocks and the interleaved ones.
    fn round_trip<B: Interleave + Zeroable>(rows: usize, nb: usize, rng: &mut Rng) -> (Vec<B>, Vec<B::X8>)
    where
        B::X8: Zeroable,
    {
        let mut src = vec![B::zeroed(); rows * nb];
        rng.fill(bytemuck::cast_slice_mut(&mut src));
        let mut x8 = vec![B::X8::zeroed(); rows / ROWS * nb];
        interleave_rows(&src, nb, &mut x8);
        let mut back = vec![B::zeroed(); rows * nb];
        deinterleave_rows(&x8, nb, &mut back);
        assert_eq!(bytemuck::cast_slice::<_, u8>(&back), bytemuck::cast_slice::<_, u8>(&src));
        (src, x8)
    }

    #[test]
    fn interleaving_round_trips_every_byte() {
        // Arbitrary bytes, not just valid quantizer output: every field must survive.
        let (rows, nb) = (16, 3);
        let mut rng = Rng::new(7);
        let (src, x8) = round_trip::<BlockQ4_K>(rows, nb, &mut rng);
        // Row 9's block 2 is group 1's block 2, lane 1.
        let b = &src[9 * nb + 2];
        let x = &x8[nb + 2];
        assert_eq!(x.d[1].bits(), b.d.bits());
        assert_eq!(&x.qs[64 * 5 + 8..64 * 5 + 16], &b.qs[32 + 8..32 + 16]);
        let (sc, m) = scales_mins_k4(&b.scales);
        assert_eq!((x.scales[8 * 6 + 1], x.mins[32 + 4 + 2]), (sc[6], m[6]));

        let (src, x8) = round_trip::<BlockQ6_K>(rows, nb, &mut rng);
        // Row 9's block 2: lane 1 of group 1's block 2; ql bytes 32 + 8..32 + 16 are chunk (0, 1, 1).
        let (b, x) = (&src[9 * nb + 2], &x8[nb + 2]);
        assert_eq!(&x.ql[64 * 5 + 8..64 * 5 + 16], &b.ql[40..48]);
        assert_eq!(&x.qh[64 * 5 + 8..64 * 5 + 16], &b.qh[40..48]);
        assert_eq!(x.scales[16 * 3 + 2 + 1], b.scales[7]);

        let (src, x8) = round_trip::<BlockQ5_0>(rows, nb, &mut rng);
        let (b, x) = (&src[9 * nb + 2], &x8[nb + 2]);
        assert_eq!(&x.qs[64 + 8..64 + 16], &b.qs[8..16]);
        assert_eq!(x.qh[8 * 3 + 1], b.qh[3]);

        let (src, x8) = round_trip::<BlockQ8_0>(rows, nb, &mut rng);
        // Stored + 128: -128 becomes 0, 127 becomes 255.
        let (b, x) = (&src[9 * nb + 2], &x8[nb + 2]);
        assert_eq!(i32::from(x.qs[64 * 2 + 8 + 5]) - 128, i32::from(b.qs[8 * 2 + 5]));
    }
}
