//! Greedy decoding is argmax; low temperatures converge to it.

use hearth_sampler::SamplingParams;
use proptest::prelude::*;

use crate::sampler;

#[test]
fn greedy_picks_the_argmax() {
    let logits = [0.1, 2.5, -1.0, 2.4, 0.0];
    let mut s = sampler(SamplingParams::greedy(), logits.len());
    assert_eq!(s.sample(&logits).token, 1);
}

#[test]
fn greedy_ties_go_to_the_lowest_id() {
    // llama.cpp's greedy sampler keeps the first maximum (strict `>` scan).
    let logits = [0.0, 3.0, 1.0, 3.0, 3.0];
    let mut s = sampler(SamplingParams::greedy(), logits.len());
    assert_eq!(s.sample(&logits).token, 1);
}

#[test]
fn negative_temperature_is_greedy() {
    let logits = [0.0, 1.0, 5.0, 1.0];
    let mut s = sampler(SamplingParams { temperature: -1.0, ..SamplingParams::default() }, 4);
    for _ in 0..50 {
        assert_eq!(s.sample(&logits).token, 2);
    }
}

#[test]
fn greedy_ignores_truncation_settings() {
    let logits = [0.0, 1.0, 5.0, 1.0];
    let p =
        SamplingParams { temperature: 0.0, top_k: 1, top_p: 0.01, min_p: 1.0, ..SamplingParams::default() };
    assert_eq!(sampler(p, 4).sample(&logits).token, 2);
}

#[test]
fn greedy_skips_nan_and_banned_tokens() {
    let logits = [f32::NAN, 1.0, 9.0, 2.0];
    let p = SamplingParams { logit_bias: vec![(2, f32::NEG_INFINITY)], ..SamplingParams::greedy() };
    assert_eq!(sampler(p, 4).sample(&logits).token, 3);
}

#[test]
fn low_temperature_converges_to_greedy() {
    // Distinct logits 0.5 apart (7919 is coprime to 1000): at T = 0.01 the runner-up has
    // e^-50 odds.
    let logits: Vec<f32> = (0..1000).map(|i| ((i * 7919) % 1000) as f32 * 0.5).collect();
    let best = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 as u32;
    for top_k in [0, 40] {
        let p = SamplingParams {
            temperature: 0.01,
            top_k,
            top_p: 1.0,
            min_p: 0.0,
            seed: Some(1),
            ..SamplingParams::default()
        };
        let mut s = sampler(p, logits.len());
        for _ in 0..200 {
            assert_eq!(s.sample(&logits).token, best);
        }
    }
}

#[test]
fn temperature_sweep_concentrates_mass() {
    // The share of the argmax grows as the temperature falls.
    let logits = [1.0f32, 1.5, 2.0, 0.5];
    let mut shares = Vec::new();
    for t in [2.0f32, 1.0, 0.5, 0.1] {
        let p = SamplingParams { temperature: t, ..crate::plain(3) };
        let h = crate::histogram(&mut sampler(p, 4), &logits, 4000);
        shares.push(h[2]);
    }
    assert!(shares.windows(2).all(|w| w[0] < w[1]), "{shares:?}");
    assert!(shares[3] > 3900, "{shares:?}");
}

proptest! {
    #[test]
    fn greedy_equals_first_argmax(x in proptest::collection::vec(-8i8..8, 1..400)) {
        let logits: Vec<f32> = x.iter().map(|&v| f32::from(v) * 0.25).collect();
        let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let want = logits.iter().position(|&v| v == max).unwrap() as u32;
        let mut s = sampler(SamplingParams::greedy(), logits.len());
        prop_assert_eq!(s.sample(&logits).token, want);
    }
}
