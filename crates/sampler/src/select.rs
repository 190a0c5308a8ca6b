//! Candidates and the O(V) selections over logits: max, argmax, top-k by partial selection.

use std::cmp::Ordering;

/// A token still in the running, as llama.cpp's `llama_token_data`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Candidate {
    /// Token id.
    pub id: u32,
    /// Logit after bias and penalties (divided by the temperature once that stage ran).
    pub logit: f32,
    /// Scratch for a probability (softmax over the current candidates).
    pub p: f32,
}

impl Candidate {
    pub(crate) fn new(id: u32, logit: f32) -> Self {
        Self { id, logit, p: 0.0 }
    }
}

/// Descending logit, ties to the lowest id. Candidates never hold NaN.
pub(crate) fn by_logit_desc(a: &Candidate, b: &Candidate) -> Ordering {
    b.logit.partial_cmp(&a.logit).unwrap_or(Ordering::Equal).then(a.id.cmp(&b.id))
}

/// Lanes of the vectorisable reductions.
const LANES: usize = 8;
/// Elements per block whose max is checked before looking at single elements.
const BLOCK: usize = 4 * LANES;

/// Largest value of `x`, ignoring NaN; `-inf` when there is none.
pub(crate) fn max_logit(x: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (m, &v) in lanes.iter_mut().zip(c) {
            if v > *m {
                *m = v;
            }
        }
    }
    let mut m = f32::NEG_INFINITY;
    for &v in lanes.iter().chain(rest) {
        if v > m {
            m = v;
        }
    }
    m
}

/// Index of the largest value, the lowest index on ties (llama.cpp's greedy sampler);
/// `None` when every value is `-inf` or NaN.
pub(crate) fn argmax(x: &[f32]) -> Option<usize> {
    let m = max_logit(x);
    if m == f32::NEG_INFINITY {
        return None;
    }
    let mut blocks = x.chunks(BLOCK);
    let mut base = 0;
    for block in blocks.by_ref() {
        let skip = <&[f32; BLOCK]>::try_from(block).is_ok_and(|b| !any_in(b, |v| v == m));
        if !skip {
            return block.iter().position(|&v| v == m).map(|i| base + i);
        }
        base += BLOCK;
    }
    None
}

/// The `k` largest entries of `x` (ignoring `-inf` and NaN) into `out`, sorted by
/// [`by_logit_desc`]: one pass that keeps a buffer of at most `2k + 256` entries above a
/// rising threshold, skipping whole blocks whose max does not beat it.
pub(crate) fn top_k_of_logits(x: &[f32], k: usize, out: &mut Vec<Candidate>) {
    out.clear();
    if k == 0 {
        return;
    }
    let limit = k.saturating_mul(2).saturating_add(256);
    let mut threshold = f32::NEG_INFINITY;
    for (b, block) in x.chunks(BLOCK).enumerate() {
        if let Ok(full) = <&[f32; BLOCK]>::try_from(block)
            && !any_in(full, |v| v > threshold)
        {
            continue;
        }
        let base = b * BLOCK;
        for (j, &v) in block.iter().enumerate() {
            if v > threshold {
                out.push(Candidate::new((base + j) as u32, v));
                if out.len() >= limit {
                    keep_best(out, k);
                    threshold = out[k - 1].logit;
                }
            }
        }
    }
    if out.len() > k {
        keep_best(out, k);
    }
    out.sort_unstable_by(by_logit_desc);
}

/// Whether `test` holds for any entry of `block`: compare-and-or without early exit, which
/// vectorises.
#[inline(always)]
fn any_in(block: &[f32; BLOCK], test: impl Fn(f32) -> bool) -> bool {
    let mut hits = [0u32; LANES];
    for c in block.chunks_exact(LANES) {
        for (h, &v) in hits.iter_mut().zip(c) {
            *h |= u32::from(test(v));
        }
    }
    hits.iter().fold(0, |a, &h| a | h) != 0
}

/// The `k` best of `src` (any order) into `out`, sorted by [`by_logit_desc`].
pub(crate) fn top_k_of_candidates(src: &[Candidate], k: usize, out: &mut Vec<Candidate>) {
    out.clear();
    out.extend_from_slice(src);
    if out.len() > k {
        keep_best(out, k);
    }
    out.sort_unstable_by(by_logit_desc);
}

/// Reorders `v` so its first `k` entries are the best, and drops the rest (`k >= 1`).
fn keep_best(v: &mut Vec<Candidate>, k: usize) {
    v.select_nth_unstable_by(k - 1, by_logit_desc);
    v.truncate(k);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_top(x: &[f32], k: usize) -> Vec<u32> {
        let mut c: Vec<Candidate> = x
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > f32::NEG_INFINITY)
            .map(|(i, &v)| Candidate::new(i as u32, v))
            .collect();
        c.sort_by(by_logit_desc);
        c.truncate(k);
        c.iter().map(|c| c.id).collect()
    }

    proptest::proptest! {
        #[test]
        fn top_k_matches_full_sort(
            x in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => -20i32..20,
                    1 => proptest::strategy::Just(i32::MIN),
                ],
                0..700,
            ),
            k in 1usize..300,
        ) {
            // Small integers give many ties; i32::MIN stands for -inf.
            let x: Vec<f32> = x.iter()
                .map(|&v| if v == i32::MIN { f32::NEG_INFINITY } else { v as f32 * 0.5 })
                .collect();
            let mut out = Vec::new();
            top_k_of_logits(&x, k, &mut out);
            let got: Vec<u32> = out.iter().map(|c| c.id).collect();
            proptest::prop_assert_eq!(got, naive_top(&x, k));
        }

        #[test]
        fn argmax_is_first_maximum(x in proptest::collection::vec(-5i32..5, 1..200)) {
            let x: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let m = x.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            proptest::prop_assert_eq!(argmax(&x), x.iter().position(|&v| v == m));
        }
    }

    #[test]
    fn nan_and_neg_inf_are_never_selected() {
        let x = [f32::NAN, f32::NEG_INFINITY, 1.0, f32::NAN, 0.5];
        assert_eq!(argmax(&x), Some(2));
        let mut out = Vec::new();
        top_k_of_logits(&x, 10, &mut out);
        assert_eq!(out.iter().map(|c| c.id).collect::<Vec<_>>(), [2, 4]);
        assert_eq!(argmax(&[f32::NAN, f32::NEG_INFINITY]), None);
    }
}
