//! The output a batch kernel call writes: its tokens × its rows of a matrix product's
//! `[token][row]` output, in place.

use std::marker::PhantomData;

/// `tokens` runs of `rows` floats, token `j`'s at `j · ld` floats from the start: the part of
/// a product's `[token][row]` output (`ld` = the matrix's rows) that one call of a batch
/// kernel ([`crate::dispatch::MatFn`], [`crate::dispatch::GemmFn`]) computes. The kernels
/// store into the output where it lies: a contiguous tile, copied out token by token
/// afterwards, cost about 4% of a small model's prefill (`perf`: the copy's `memmove`).
///
/// The runs of different calls interleave (each thread owns some rows of every token), so
/// the tile is not one slice: [`OutTile::token`] hands out one token's run at a time.
pub(crate) struct OutTile<'a> {
    ptr: *mut f32,
    rows: usize,
    ld: usize,
    tokens: usize,
    _out: PhantomData<&'a mut [f32]>,
}

impl<'a> OutTile<'a> {
    /// `tokens` runs of `rows` floats at `ptr + j · ld`.
    ///
    /// # Safety
    /// For every `j < tokens`, the floats `ptr + j · ld .. ptr + j · ld + rows` must be valid
    /// for reads and writes for `'a`, and nothing else may access them during `'a` (the
    /// floats between runs may belong to others).
    pub(crate) unsafe fn from_raw(ptr: *mut f32, rows: usize, ld: usize, tokens: usize) -> Self {
        Self { ptr, rows, ld, tokens, _out: PhantomData }
    }

    /// Floats per token.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Tokens.
    pub(crate) fn tokens(&self) -> usize {
        self.tokens
    }

    /// Token `j`'s `rows` floats.
    ///
    /// # Panics
    /// If `j >= tokens`.
    #[inline]
    pub(crate) fn token(&mut self, j: usize) -> &mut [f32] {
        assert!(j < self.tokens, "output tile: token {j} of {}", self.tokens);
        // SAFETY: run `j < tokens` is valid and exclusively ours for `'a` (`from_raw`'s
        // contract), and `&mut self` lets only one run be borrowed at a time.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.wrapping_add(j * self.ld), self.rows) }
    }
}

#[cfg(test)]
mod tests {
    use super::OutTile;

    /// Rows 2..5 of tokens 1..3 of a 4 × 6 output: each run lands in place and the floats
    /// around it are untouched.
    #[test]
    fn runs_land_in_place() {
        let mut out = vec![0f32; 4 * 6];
        // SAFETY: runs 6 + 2 + 6j .. + 3 for j < 2 lie inside `out`, which nothing else
        // touches while the tile lives.
        let mut tile = unsafe { OutTile::from_raw(out.as_mut_ptr().wrapping_add(6 + 2), 3, 6, 2) };
        assert_eq!((tile.tokens(), tile.rows()), (2, 3));
        for j in 0..2 {
            for (r, v) in tile.token(j).iter_mut().enumerate() {
                *v = (10 * j + r + 1) as f32;
            }
        }
        let mut want = vec![0f32; 4 * 6];
        for (j, r) in (0..2).flat_map(|j| (0..3).map(move |r| (j, r))) {
            want[(1 + j) * 6 + 2 + r] = (10 * j + r + 1) as f32;
        }
        assert_eq!(out, want);
    }

    #[test]
    #[should_panic(expected = "output tile: token 2 of 2")]
    fn a_token_past_the_tile_panics() {
        let mut out = vec![0f32; 8];
        // SAFETY: runs 4j .. 4j + 4 for j < 2 are `out`.
        let mut tile = unsafe { OutTile::from_raw(out.as_mut_ptr(), 4, 4, 2) };
        tile.token(2)[0] = 1.0;
    }
}
