//! Q4_K / Q6_K / Q4_1 / Q5_0 / Q8_0 rows ⇄ [`BlockQ4_Kx8`] / [`BlockQ6_Kx8`] /
//! [`BlockQ4_1x16`] / [`BlockQ5_0x16`] / [`BlockQ8_0x16`]: 8 (K-quants) or 16 (32-element types) neighbouring rows interleaved
//! block by block, the layout the decode kernels of tables with `mat_x8` read (see
//! [`super::QMatrix`]). Lossless both ways: [`deinterleave_rows`] gives back the file's
//! bytes exactly.

use crate::DType;
use crate::blocks::{
    BlockQ4_1, BlockQ4_1x16, BlockQ4_K, BlockQ4_Kx8, BlockQ5_0, BlockQ5_0x16, BlockQ6_K, BlockQ6_Kx8,
    BlockQ8_0, BlockQ8_0x16, pack_scales_mins_k4, scales_mins_k4,
};

/// A block type and its interleaved form of [`Interleave::ROWS`] rows.
pub(crate) trait Interleave: bytemuck::Pod + bytemuck::Zeroable {
    /// Rows per interleaved block (at most [`MAX_ROWS`]).
    const ROWS: usize;
    /// The interleaved block of `ROWS` rows.
    type Group: bytemuck::Pod;
    /// Block `b` of `ROWS` rows (`rows.len() == ROWS`), interleaved.
    fn interleave(rows: &[&Self]) -> Self::Group;
    /// The `ROWS` rows' blocks of an interleaved block, into `out[..ROWS]`.
    fn deinterleave(x: &Self::Group, out: &mut [Self]);
}

/// The most rows any type interleaves.
const MAX_ROWS: usize = 16;

impl Interleave for BlockQ4_K {
    const ROWS: usize = 8;
    type Group = BlockQ4_Kx8;
    fn interleave(rows: &[&Self]) -> BlockQ4_Kx8 {
        interleave(rows.try_into().expect("8 rows"))
    }
    fn deinterleave(x: &BlockQ4_Kx8, out: &mut [Self]) {
        out[..8].copy_from_slice(&deinterleave(x));
    }
}

impl Interleave for BlockQ6_K {
    const ROWS: usize = 8;
    type Group = BlockQ6_Kx8;
    fn interleave(rows: &[&Self]) -> BlockQ6_Kx8 {
        assert_eq!(rows.len(), 8, "Q6_K interleaves 8 rows");
        let mut x = BlockQ6_Kx8 { d: [rows[0].d; 8], scales: [0; 128], ql: [0; 1024], qh: [0; 512] };
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
    fn deinterleave(x: &BlockQ6_Kx8, out: &mut [Self]) {
        for (i, r) in out[..8].iter_mut().enumerate() {
            *r = BlockQ6_K { ql: [0; 128], qh: [0; 64], scales: [0; 16], d: x.d[i] };
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
        }
    }
}

impl Interleave for BlockQ4_1 {
    const ROWS: usize = 16;
    type Group = BlockQ4_1x16;
    fn interleave(rows: &[&Self]) -> BlockQ4_1x16 {
        assert_eq!(rows.len(), 16, "Q4_1 interleaves 16 rows");
        let mut x = BlockQ4_1x16 { d: [rows[0].d; 16], m: [rows[0].m; 16], qs: [0; 256] };
        for (i, r) in rows.iter().enumerate() {
            (x.d[i], x.m[i]) = (r.d, r.m);
            for l in 0..4 {
                x.qs[64 * l + 4 * i..64 * l + 4 * i + 4].copy_from_slice(&r.qs[4 * l..4 * l + 4]);
            }
        }
        x
    }
    fn deinterleave(x: &BlockQ4_1x16, out: &mut [Self]) {
        for (i, r) in out[..16].iter_mut().enumerate() {
            *r = BlockQ4_1 { d: x.d[i], m: x.m[i], qs: [0; 16] };
            for l in 0..4 {
                r.qs[4 * l..4 * l + 4].copy_from_slice(&x.qs[64 * l + 4 * i..64 * l + 4 * i + 4]);
            }
        }
    }
}

impl Interleave for BlockQ5_0 {
    const ROWS: usize = 16;
    type Group = BlockQ5_0x16;
    fn interleave(rows: &[&Self]) -> BlockQ5_0x16 {
        assert_eq!(rows.len(), 16, "Q5_0 interleaves 16 rows");
        let mut x = BlockQ5_0x16 { d: [rows[0].d; 16], qh: [0; 64], qs: [0; 256] };
        let mut masks = [0u64; 8];
        for (i, r) in rows.iter().enumerate() {
            x.d[i] = r.d;
            let qh = u32::from_le_bytes(r.qh);
            for (c, m) in masks.iter_mut().enumerate() {
                *m |= u64::from((qh >> (4 * c)) & 0xf) << (4 * i);
            }
            for l in 0..4 {
                x.qs[64 * l + 4 * i..64 * l + 4 * i + 4].copy_from_slice(&r.qs[4 * l..4 * l + 4]);
            }
        }
        for (c, m) in masks.iter().enumerate() {
            x.qh[8 * c..8 * c + 8].copy_from_slice(&m.to_le_bytes());
        }
        x
    }
    fn deinterleave(x: &BlockQ5_0x16, out: &mut [Self]) {
        let masks: [[u8; 8]; 8] = bytemuck::cast(x.qh);
        let masks = masks.map(u64::from_le_bytes);
        for (i, r) in out[..16].iter_mut().enumerate() {
            let mut qh = 0u32;
            for (c, m) in masks.iter().enumerate() {
                qh |= (((m >> (4 * i)) & 0xf) as u32) << (4 * c);
            }
            *r = BlockQ5_0 { d: x.d[i], qh: qh.to_le_bytes(), qs: [0; 16] };
            for l in 0..4 {
                r.qs[4 * l..4 * l + 4].copy_from_slice(&x.qs[64 * l + 4 * i..64 * l + 4 * i + 4]);
            }
        }
    }
}

impl Interleave for BlockQ8_0 {
    const ROWS: usize = 16;
    type Group = BlockQ8_0x16;
    fn interleave(rows: &[&Self]) -> BlockQ8_0x16 {
        assert_eq!(rows.len(), 16, "Q8_0 interleaves 16 rows");
        let mut x = BlockQ8_0x16 { d: [rows[0].d; 16], qs: [0; 512] };
        for (i, r) in rows.iter().enumerate() {
            x.d[i] = r.d;
            let qs: &[u8; 32] = bytemuck::cast_ref(&r.qs);
            for c in 0..8 {
                x.qs[64 * c + 4 * i..64 * c + 4 * i + 4].copy_from_slice(&flip4(&qs[4 * c..4 * c + 4]));
            }
        }
        x
    }
    fn deinterleave(x: &BlockQ8_0x16, out: &mut [Self]) {
        for (i, r) in out[..16].iter_mut().enumerate() {
            *r = BlockQ8_0 { d: x.d[i], qs: [0; 32] };
            let qs: &mut [u8; 32] = bytemuck::cast_mut(&mut r.qs);
            for c in 0..8 {
                qs[4 * c..4 * c + 4].copy_from_slice(&flip4(&x.qs[64 * c + 4 * i..64 * c + 4 * i + 4]));
            }
        }
    }
}

/// 4 bytes with their sign bits flipped (i8 `q` ⇄ u8 `q + 128`).
#[inline]
fn flip4(b: &[u8]) -> [u8; 4] {
    let v = u32::from_ne_bytes(b.try_into().expect("4 bytes"));
    (v ^ 0x8080_8080).to_ne_bytes()
}

/// `dt`'s interleaved layout, if it has one: (rows per group, bytes of an interleaved block).
pub(crate) const fn group_layout(dt: DType) -> Option<(usize, usize)> {
    const fn of<B: Interleave>() -> Option<(usize, usize)> {
        Some((B::ROWS, size_of::<B::Group>()))
    }
    match dt {
        DType::Q4_K => of::<BlockQ4_K>(),
        DType::Q6_K => of::<BlockQ6_K>(),
        DType::Q4_1 => of::<BlockQ4_1>(),
        DType::Q5_0 => of::<BlockQ5_0>(),
        DType::Q8_0 => of::<BlockQ8_0>(),
        _ => None,
    }
}

/// Rows per interleaved group of `dt` (a type [`group_layout`] knows; else 1).
pub(crate) const fn group_rows(dt: DType) -> usize {
    match group_layout(dt) {
        Some((rows, _)) => rows,
        None => 1,
    }
}

/// [`interleave_rows`] on bytes of `dt` (a type [`group_layout`] knows).
pub(crate) fn interleave_bytes(dt: DType, src: &[u8], nb: usize, dst: &mut [u8]) {
    match dt {
        DType::Q4_K => {
            interleave_rows::<BlockQ4_K>(bytemuck::cast_slice(src), nb, bytemuck::cast_slice_mut(dst))
        }
        DType::Q6_K => {
            interleave_rows::<BlockQ6_K>(bytemuck::cast_slice(src), nb, bytemuck::cast_slice_mut(dst))
        }
        DType::Q4_1 => {
            interleave_rows::<BlockQ4_1>(bytemuck::cast_slice(src), nb, bytemuck::cast_slice_mut(dst))
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

/// Row `i` (0..[`group_rows`]) of one interleaved group of `nb` blocks (`src`) into `dst` (its row-major
/// bytes), for a type [`group_layout`] knows.
pub(crate) fn row_of_group(dt: DType, src: &[u8], nb: usize, i: usize, dst: &mut [u8]) {
    fn row<B: Interleave>(src: &[u8], nb: usize, i: usize, dst: &mut [u8]) {
        let src: &[B::Group] = bytemuck::cast_slice(src);
        let dst: &mut [B] = bytemuck::cast_slice_mut(dst);
        assert!(src.len() == nb && dst.len() == nb && i < B::ROWS, "row_of_group: {nb} blocks, row {i}");
        let mut rows = [B::zeroed(); MAX_ROWS];
        for (d, x) in dst.iter_mut().zip(src) {
            B::deinterleave(x, &mut rows);
            *d = rows[i];
        }
    }
    match dt {
        DType::Q4_K => row::<BlockQ4_K>(src, nb, i, dst),
        DType::Q6_K => row::<BlockQ6_K>(src, nb, i, dst),
        DType::Q4_1 => row::<BlockQ4_1>(src, nb, i, dst),
        DType::Q5_0 => row::<BlockQ5_0>(src, nb, i, dst),
        DType::Q8_0 => row::<BlockQ8_0>(src, nb, i, dst),
        _ => unreachable!("{dt} has no interleaved layout"),
    }
}

/// [`deinterleave_rows`] on bytes of `dt` (a type [`group_layout`] knows).
pub(crate) fn deinterleave_bytes(dt: DType, src: &[u8], nb: usize, dst: &mut [u8]) {
    match dt {
        DType::Q4_K => {
            deinterleave_rows::<BlockQ4_K>(bytemuck::cast_slice(src), nb, bytemuck::cast_slice_mut(dst))
        }
        DType::Q6_K => {
            deinterleave_rows::<BlockQ6_K>(bytemuck::cast_slice(src), nb, bytemuck::cast_slice_mut(dst))
        }
        DType::Q4_1 => {
            deinterleave_rows::<BlockQ4_1>(bytemuck::cast_slice(src), nb, bytemuck::cast_slice_mut(dst))
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

/// Rows per interleaved Q4_K group.
const ROWS: usize = 8;

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

/// `src`: `rows × nb` blocks, row-major, `rows` a multiple of `B::ROWS`; `dst`: `rows /
/// B::ROWS × nb` interleaved blocks, group by group.
///
/// # Panics
/// If the lengths do not match.
pub(crate) fn interleave_rows<B: Interleave>(src: &[B], nb: usize, dst: &mut [B::Group]) {
    assert!(
        nb > 0 && src.len().is_multiple_of(B::ROWS * nb),
        "interleave: {} blocks in rows of {nb}",
        src.len()
    );
    assert_eq!(dst.len() * B::ROWS, src.len(), "interleave: destination length");
    for (g, out) in dst.chunks_exact_mut(nb).enumerate() {
        let rows = &src[g * B::ROWS * nb..(g + 1) * B::ROWS * nb];
        for (b, o) in out.iter_mut().enumerate() {
            let group: [&B; MAX_ROWS] = std::array::from_fn(|i| &rows[(i % B::ROWS) * nb + b]);
            *o = B::interleave(&group[..B::ROWS]);
        }
    }
}

/// The inverse of [`interleave_rows`].
///
/// # Panics
/// If the lengths do not match.
pub(crate) fn deinterleave_rows<B: Interleave>(src: &[B::Group], nb: usize, dst: &mut [B]) {
    assert!(nb > 0 && src.len().is_multiple_of(nb), "deinterleave: {} blocks in rows of {nb}", src.len());
    assert_eq!(src.len() * B::ROWS, dst.len(), "deinterleave: destination length");
    let mut blocks = [B::zeroed(); MAX_ROWS];
    for (g, group) in src.chunks_exact(nb).enumerate() {
        let rows = &mut dst[g * B::ROWS * nb..(g + 1) * B::ROWS * nb];
        for (b, x) in group.iter().enumerate() {
            B::deinterleave(x, &mut blocks);
            for (i, blk) in blocks[..B::ROWS].iter().enumerate() {
                rows[i * nb + b] = *blk;
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
    fn round_trip<B: Interleave + Zeroable>(rows: usize, nb: usize, rng: &mut Rng) -> (Vec<B>, Vec<B::Group>)
    where
        B::Group: Zeroable,
    {
        let mut src = vec![B::zeroed(); rows * nb];
        rng.fill(bytemuck::cast_slice_mut(&mut src));
        let mut x8 = vec![B::Group::zeroed(); rows / B::ROWS * nb];
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

        // The 32-element types interleave 16 rows: row 25's block 2 is group 1's block 2, lane 9.
        let rows = 32;
        let (src, x16) = round_trip::<BlockQ5_0>(rows, nb, &mut rng);
        let (b, x) = (&src[25 * nb + 2], &x16[nb + 2]);
        assert_eq!(x.d[9].bits(), b.d.bits());
        assert_eq!(&x.qs[64 * 2 + 4 * 9..64 * 2 + 4 * 9 + 4], &b.qs[8..12]);
        // Chunk 5 is quants 20..24: bits 36..40 of its mask.
        let mask = u64::from_le_bytes(x.qh[8 * 5..8 * 5 + 8].try_into().unwrap());
        assert_eq!((mask >> 36) & 0xf, u64::from((u32::from_le_bytes(b.qh) >> 20) & 0xf));

        let (src, x16) = round_trip::<BlockQ4_1>(rows, nb, &mut rng);
        let (b, x) = (&src[25 * nb + 2], &x16[nb + 2]);
        assert_eq!((x.d[9].bits(), x.m[9].bits()), (b.d.bits(), b.m.bits()));
        assert_eq!(&x.qs[64 * 3 + 4 * 9..64 * 3 + 4 * 9 + 4], &b.qs[12..16]);

        let (src, x16) = round_trip::<BlockQ8_0>(rows, nb, &mut rng);
        // Stored + 128: -128 becomes 0, 127 becomes 255.
        let (b, x) = (&src[25 * nb + 2], &x16[nb + 2]);
        assert_eq!(i32::from(x.qs[64 * 6 + 4 * 9 + 3]) - 128, i32::from(b.qs[4 * 6 + 3]));
    }
}
