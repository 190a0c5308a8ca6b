//! Seeded reproducibility and the sampled frequencies against the distribution.

use hearth_sampler::SamplingParams;

use crate::{histogram, logits_of, plain, sampler};

fn run(params: SamplingParams, steps: usize) -> Vec<u32> {
    let logits: Vec<f32> = (0..500).map(|i| ((i * 31) % 97) as f32 * 0.05).collect();
    let mut s = sampler(params, logits.len());
    (0..steps)
        .map(|_| {
            let t = s.sample(&logits).token;
            s.accept(t);
            t
        })
        .collect()
}

#[test]
fn same_seed_same_tokens() {
    let p = SamplingParams { seed: Some(1234), repetition_penalty: 1.1, ..SamplingParams::default() };
    assert_eq!(run(p.clone(), 200), run(p, 200));
}

#[test]
fn different_seeds_differ() {
    let a = run(SamplingParams { seed: Some(1), ..SamplingParams::default() }, 100);
    let b = run(SamplingParams { seed: Some(2), ..SamplingParams::default() }, 100);
    assert_ne!(a, b);
}

#[test]
fn seeds_above_32_bits_are_folded() {
    let s = sampler(SamplingParams { seed: Some((5 << 32) | 7), ..SamplingParams::default() }, 10);
    assert_eq!(s.seed(), 7 ^ 5);
    let s = sampler(SamplingParams { seed: Some(99), ..SamplingParams::default() }, 10);
    assert_eq!(s.seed(), 99);
}

#[test]
fn reset_replays_a_seeded_run() {
    let logits: Vec<f32> = (0..64).map(|i| (i % 9) as f32 * 0.3).collect();
    let p = SamplingParams { seed: Some(77), presence_penalty: 0.5, ..SamplingParams::default() };
    let mut s = sampler(p, logits.len());
    let mut first = Vec::new();
    for _ in 0..50 {
        let t = s.sample(&logits).token;
        s.accept(t);
        first.push(t);
    }
    s.reset();
    let mut second = Vec::new();
    for _ in 0..50 {
        let t = s.sample(&logits).token;
        s.accept(t);
        second.push(t);
    }
    assert_eq!(first, second);
}

#[test]
fn unseeded_sampler_reports_its_seed_and_can_be_replayed() {
    let logits: Vec<f32> = (0..64).map(|i| (i % 9) as f32 * 0.3).collect();
    let mut a = sampler(SamplingParams { seed: None, ..SamplingParams::default() }, 64);
    let replay = SamplingParams { seed: Some(u64::from(a.seed())), ..SamplingParams::default() };
    let mut b = sampler(replay, 64);
    for _ in 0..50 {
        assert_eq!(a.sample(&logits).token, b.sample(&logits).token);
    }
}

#[test]
fn clone_continues_identically() {
    let logits: Vec<f32> = (0..64).map(|i| (i % 11) as f32 * 0.2).collect();
    let mut a = sampler(plain(5), 64);
    for _ in 0..10 {
        a.sample(&logits);
    }
    let mut b = a.clone();
    for _ in 0..50 {
        assert_eq!(a.sample(&logits).token, b.sample(&logits).token);
    }
}

/// Pearson's chi-square statistic of `counts` against `probs`.
fn chi_square(counts: &[usize], probs: &[f64]) -> f64 {
    let n: usize = counts.iter().sum();
    counts
        .iter()
        .zip(probs)
        .filter(|(_, p)| **p > 0.0)
        .map(|(&c, &p)| {
            let e = p * n as f64;
            (c as f64 - e).powi(2) / e
        })
        .sum()
}

// Bounds: the 0.9999 quantile of chi-square is 33.7 for 9 degrees of freedom and 23.5 for
// 4 (the runs are seeded, so a pass is permanent; the bound only has to be honest).

#[test]
fn frequencies_follow_the_softmax() {
    let probs = [0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.03, 0.015, 0.005];
    let logits = logits_of(&probs);
    for seed in [1, 2, 3] {
        let h = histogram(&mut sampler(plain(seed), probs.len()), &logits, 50_000);
        let x2 = chi_square(&h, &probs);
        assert!(x2 < 33.7, "seed {seed}: chi2 = {x2}, counts {h:?}");
    }
}

#[test]
fn frequencies_follow_the_tempered_truncated_distribution() {
    // top_k = 5 of 10, temperature 0.7: p_i ∝ exp(l_i / 0.7) over the five best.
    let logits: Vec<f32> = vec![0.2, 1.5, -0.3, 1.1, 0.9, -2.0, 1.4, 0.0, -1.0, 0.5];
    let t = 0.7f64;
    let mut order: Vec<usize> = (0..10).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    let mut probs = [0.0f64; 10];
    for &i in &order[..5] {
        probs[i] = (f64::from(logits[i]) / t).exp();
    }
    let z: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= z);

    let p = SamplingParams {
        temperature: 0.7,
        top_k: 5,
        top_p: 1.0,
        min_p: 0.0,
        seed: Some(8),
        ..SamplingParams::default()
    };
    let h = histogram(&mut sampler(p, 10), &logits, 50_000);
    for i in order[5..].iter() {
        assert_eq!(h[*i], 0, "token {i} is outside the top 5");
    }
    let x2 = chi_square(&h, &probs);
    assert!(x2 < 23.5, "chi2 = {x2}, counts {h:?}");
}
