//! Log-probabilities: the full distribution after bias and penalties, normalised, and
//! independent of truncation and temperature.

use hearth_sampler::{Sampled, SamplingParams, logsumexp, softmax};

use crate::{logits_of, sampler};

fn logits() -> Vec<f32> {
    (0..300).map(|i| ((i * 7) % 23) as f32 * 0.3 - 2.0).collect()
}

fn sample_with(p: SamplingParams) -> Sampled {
    let l = logits();
    sampler(p, l.len()).sample(&l)
}

#[test]
fn full_distribution_sums_to_one() {
    let s = sample_with(SamplingParams { n_logprobs: 300, seed: Some(3), ..SamplingParams::default() });
    assert_eq!(s.top.len(), 300);
    let total: f64 = s.top.iter().map(|(_, l)| f64::from(*l).exp()).sum();
    assert!((total - 1.0).abs() < 1e-5, "{total}");
}

#[test]
fn matches_hand_computed_probabilities() {
    let probs = [0.5, 0.25, 0.125, 0.125];
    let l = logits_of(&probs);
    let s =
        sampler(SamplingParams { n_logprobs: 4, seed: Some(1), ..SamplingParams::default() }, 4).sample(&l);
    let want = [(0, 0.5f64), (1, 0.25), (2, 0.125), (3, 0.125)];
    for ((id, lp), (wid, p)) in s.top.iter().zip(want) {
        assert_eq!(*id, wid);
        assert!((f64::from(*lp) - p.ln()).abs() < 1e-6);
    }
    assert!((f64::from(s.logprob) - probs[s.token as usize].ln()).abs() < 1e-6);
}

#[test]
fn top_is_sorted_with_ties_to_the_lowest_id() {
    let s = sample_with(SamplingParams { n_logprobs: 20, seed: Some(3), ..SamplingParams::default() });
    assert_eq!(s.top.len(), 20);
    for w in s.top.windows(2) {
        assert!(w[0].1 > w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0), "{w:?}");
    }
    // The best logit, 22 * 0.3 - 2, is shared by ids i with 7i = 22 (mod 23): 13, 36, 59, ...
    assert_eq!(s.top[0].0, 13);
    assert_eq!(s.top[1].0, 36);
}

#[test]
fn chosen_logprob_agrees_with_the_top_list() {
    for seed in 0..20 {
        let s =
            sample_with(SamplingParams { n_logprobs: 300, seed: Some(seed), ..SamplingParams::default() });
        let (_, l) = s.top.iter().find(|(id, _)| *id == s.token).unwrap();
        assert_eq!(*l, s.logprob);
    }
}

#[test]
fn independent_of_truncation_and_temperature() {
    let base = SamplingParams { n_logprobs: 10, seed: Some(5), ..SamplingParams::default() };
    let a = sample_with(base.clone());
    for p in [
        SamplingParams { temperature: 0.1, ..base.clone() },
        SamplingParams { temperature: 2.0, top_k: 3, ..base.clone() },
        SamplingParams { top_p: 0.2, min_p: 0.5, ..base.clone() },
        SamplingParams { temperature: 0.0, ..base.clone() },
    ] {
        assert_eq!(sample_with(p).top, a.top);
    }
}

#[test]
fn bias_is_part_of_the_reported_distribution() {
    let l = [0.0f32, 0.0];
    let p = SamplingParams { n_logprobs: 2, logit_bias: vec![(1, 2f32.ln())], ..SamplingParams::greedy() };
    let s = sampler(p, 2).sample(&l);
    assert_eq!(s.token, 1);
    assert!((s.logprob - (2.0f32 / 3.0).ln()).abs() < 1e-6);
    assert!((s.top[1].1 - (1.0f32 / 3.0).ln()).abs() < 1e-6);
}

#[test]
fn not_computed_unless_asked() {
    let s = sample_with(SamplingParams { seed: Some(1), ..SamplingParams::default() });
    assert!(s.logprob.is_nan());
    assert!(s.top.is_empty());
    let s = sample_with(SamplingParams { logprobs: true, seed: Some(1), ..SamplingParams::default() });
    assert!(s.logprob.is_finite() && s.logprob < 0.0);
    assert!(s.top.is_empty());
}

#[test]
fn more_alternatives_than_tokens_lists_every_token() {
    let s = sampler(SamplingParams { n_logprobs: 20, seed: Some(1), ..SamplingParams::default() }, 3)
        .sample(&[1.0, 2.0, 3.0]);
    assert_eq!(s.top.iter().map(|t| t.0).collect::<Vec<_>>(), [2, 1, 0]);
}

#[test]
fn banned_tokens_have_zero_probability() {
    let p = SamplingParams {
        n_logprobs: 3,
        logit_bias: vec![(0, f32::NEG_INFINITY)],
        ..SamplingParams::greedy()
    };
    let s = sampler(p, 3).sample(&[5.0, 1.0, 1.0]);
    assert_eq!(s.token, 1);
    assert_eq!(s.top.len(), 2, "banned tokens are not listed: {:?}", s.top);
    assert!((s.logprob - 0.5f32.ln()).abs() < 1e-6);
}

#[test]
fn softmax_and_logsumexp_helpers_agree() {
    let l = logits();
    let mut p = Vec::new();
    softmax(&l, &mut p);
    let lse = logsumexp(&l);
    for (x, q) in l.iter().zip(&p) {
        assert!(((x - lse).exp() - q).abs() < 1e-7);
    }
}
