//! Softmax helpers: log-sum-exp over the vocabulary, in-place softmax over candidates.

use crate::select::{Candidate, max_logit};

/// `ln Σ exp(x_i)`, stable (shifted by the max). `-inf` when every entry is `-inf` or NaN
/// (NaN entries count as `-inf`).
///
/// Accurate to about 1e-6 relative: the terms use a polynomial `exp` (Cephes', vectorisable
/// unlike libm's `expf`), summed in f32 over blocks of 32 and in f64 across blocks.
pub fn logsumexp(x: &[f32]) -> f32 {
    let m = max_logit(x);
    if !m.is_finite() {
        return m;
    }
    let mut sum = 0.0f64;
    let blocks = x.chunks_exact(32);
    let rest = blocks.remainder();
    for block in blocks {
        let mut lanes = [0.0f32; 8];
        for c in block.chunks_exact(8) {
            for (s, &v) in lanes.iter_mut().zip(c) {
                *s += exp_approx(v - m);
            }
        }
        sum += f64::from(lanes.iter().sum::<f32>());
    }
    for &v in rest {
        sum += f64::from(exp_approx(v - m));
    }
    (f64::from(m) + sum.ln()) as f32
}

/// `e^x` to within a few ulp, branch-free so that loops over it vectorise (Cephes' `expf`:
/// `x = n ln2 + r`, a degree-7 polynomial for `e^r`, `2^n` built in the exponent bits).
/// Inputs are clamped to `[-87, 88]`, so NaN and `-inf` give about `1.6e-38`, not 0.
#[inline(always)]
#[expect(clippy::manual_clamp, reason = "clamp keeps NaN, max maps it to -87")]
fn exp_approx(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.max(-87.0).min(88.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    let pow2 = f32::from_bits((t.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127)) << 23);
    e * pow2
}

/// `softmax(x)` into `out` (resized to `x.len()`): probabilities that sum to 1 (all 0 when
/// every entry is `-inf`).
pub fn softmax(x: &[f32], out: &mut Vec<f32>) {
    out.clear();
    let lse = logsumexp(x);
    if lse == f32::NEG_INFINITY {
        out.resize(x.len(), 0.0);
        return;
    }
    out.extend(x.iter().map(|&v| if v.is_nan() { 0.0 } else { (v - lse).exp() }));
}

/// llama.cpp's `llama_sampler_softmax_impl` without sorting: sets each candidate's `p` to
/// its softmax probability, summing in f32 in the candidates' order. `sorted` says the
/// first candidate has the largest logit.
pub(crate) fn softmax_candidates(cand: &mut [Candidate], sorted: bool) {
    let Some(first) = cand.first() else { return };
    let max = if sorted { first.logit } else { cand.iter().fold(first.logit, |m, c| m.max(c.logit)) };
    let mut sum = 0.0f32;
    for c in cand.iter_mut() {
        c.p = (c.logit - max).exp();
        sum += c.p;
    }
    for c in cand.iter_mut() {
        c.p /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_approx_is_close_to_exp() {
        let mut worst = 0.0f64;
        for i in 0..=200_000 {
            let x = -87.0 + 175.0 * i as f32 / 200_000.0;
            let want = f64::from(x).exp();
            let rel = ((f64::from(exp_approx(x)) - want) / want).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(exp_approx(0.0), 1.0);
        assert!(exp_approx(f32::NAN) < 1e-37);
        assert!(exp_approx(f32::NEG_INFINITY) < 1e-37);
    }

    #[test]
    fn logsumexp_matches_f64_reference() {
        let mut s = 7u32;
        let x: Vec<f32> = (0..262_147)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 200_000) as f32 * 1e-3 - 150.0
            })
            .collect();
        let m = x.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
        let want = m + x.iter().map(|&v| (f64::from(v) - m).exp()).sum::<f64>().ln();
        let got = f64::from(logsumexp(&x));
        assert!((got - want).abs() < 1e-5 * want.abs().max(1.0), "{got} vs {want}");
    }

    #[test]
    fn logsumexp_of_equal_values() {
        let x = [2.0f32; 1000];
        let want = 2.0 + (1000.0f64).ln() as f32;
        assert!((logsumexp(&x) - want).abs() < 1e-5);
    }

    #[test]
    fn logsumexp_edge_cases() {
        assert_eq!(logsumexp(&[]), f32::NEG_INFINITY);
        assert_eq!(logsumexp(&[f32::NEG_INFINITY; 3]), f32::NEG_INFINITY);
        assert_eq!(logsumexp(&[f32::NEG_INFINITY, 3.0, f32::NAN]), 3.0);
        // Large magnitudes do not overflow.
        let lse = logsumexp(&[1000.0, 1000.0]);
        assert!((lse - (1000.0 + 2f32.ln())).abs() < 1e-3);
    }

    proptest::proptest! {
        #[test]
        fn softmax_sums_to_one(x in proptest::collection::vec(-50.0f32..50.0, 1..500)) {
            let mut p = Vec::new();
            softmax(&x, &mut p);
            let s: f64 = p.iter().map(|&v| f64::from(v)).sum();
            proptest::prop_assert!((s - 1.0).abs() < 1e-5, "sum {}", s);
            proptest::prop_assert!(p.iter().all(|&v| (0.0..=1.0).contains(&v)));
        }
    }
}
