//! The portable part of the multi-token (`mat`) kernels that every instruction set shares:
//! which rows a tile's lanes hold, and writing a finished tile's valid lanes to the output.

use crate::out_tile::OutTile;

/// The row of lane-row `i` of group `q` when `rows` are split into `8 / G` contiguous runs of
/// `span` rows: `q + i·span`, clamped to the last row (such lanes are computed and dropped).
#[inline]
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))]
pub(crate) fn strided_row(q: usize, i: usize, span: usize, rows: usize) -> usize {
    (q + i * span).min(rows - 1)
}

/// Writes the valid lanes of an 8-lane tile `v` (lane `i·G + j` = row `q + i·span`, token
/// `c0 + j`) to the `[t - t0][row]` output; lanes past `rows` or `valid` are dropped.
#[inline]
#[allow(clippy::too_many_arguments)]
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))]
pub(crate) fn scatter<const G: usize>(
    v: &[f32; 8],
    q: usize,
    span: usize,
    rows: usize,
    c0: usize,
    valid: usize,
    t0: usize,
    out: &mut OutTile<'_>,
) {
    for i in 0..8 / G {
        let r = q + i * span;
        if r >= rows {
            break;
        }
        for j in 0..valid {
            out.token(c0 + j - t0)[r] = v[i * G + j];
        }
    }
}
