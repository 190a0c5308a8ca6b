//! Penalties change the logits exactly as specified. The full-vocabulary logprobs report the
//! penalised distribution, so differences of logprobs are differences of penalised logits.

use hearth_sampler::{Sampler, SamplingParams};

use crate::sampler;

/// The penalised logits as the sampler sees them, shifted so that token `reference` (never
/// penalised in these tests) keeps its logit.
fn penalised(s: &mut Sampler, logits: &[f32], reference: usize) -> Vec<f32> {
    let out = s.sample(logits);
    let mut lp = vec![f32::NEG_INFINITY; logits.len()];
    for (id, l) in out.top {
        lp[id as usize] = l;
    }
    let shift = logits[reference] - lp[reference];
    lp.iter().map(|l| l + shift).collect()
}

fn with_all_logprobs(p: SamplingParams, n: usize) -> Sampler {
    sampler(SamplingParams { n_logprobs: n, seed: Some(1), ..p }, n)
}

fn assert_close(got: &[f32], want: &[f32]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() < 1e-5, "token {i}: got {g}, want {w} (all: {got:?})");
    }
}

#[test]
fn repetition_divides_positive_and_multiplies_negative_logits() {
    let logits = [2.0, -1.0, 0.5, 0.0, 3.0];
    let p = SamplingParams { repetition_penalty: 1.5, ..SamplingParams::default() };
    let mut s = with_all_logprobs(p, logits.len());
    for t in [0, 1, 3] {
        s.accept(t);
    }
    // Token 2 was not seen; 0 is positive (divided), 1 negative and 3 zero (multiplied).
    assert_close(&penalised(&mut s, &logits, 4), &[2.0 / 1.5, -1.5, 0.5, 0.0, 3.0]);
}

#[test]
fn frequency_and_presence_follow_openai() {
    // logit -= count * frequency_penalty + (count > 0) * presence_penalty
    let logits = [1.0, 1.0, 1.0, -2.0, 0.0];
    let p = SamplingParams { frequency_penalty: 0.25, presence_penalty: 0.5, ..SamplingParams::default() };
    let mut s = with_all_logprobs(p, logits.len());
    for t in [2, 0, 2, 2, 3] {
        s.accept(t);
    }
    let want = [1.0 - 0.25 - 0.5, 1.0, 1.0 - 3.0 * 0.25 - 0.5, -2.0 - 0.25 - 0.5, 0.0];
    assert_close(&penalised(&mut s, &logits, 4), &want);
}

#[test]
fn negative_frequency_penalty_encourages_repeats() {
    let logits = [1.0, 1.0];
    let p = SamplingParams { frequency_penalty: -1.0, ..SamplingParams::default() };
    let mut s = with_all_logprobs(p, 2);
    s.accept(0);
    s.accept(0);
    assert_close(&penalised(&mut s, &logits, 1), &[3.0, 1.0]);
}

#[test]
fn repetition_then_frequency_then_presence() {
    // llama.cpp applies the repetition penalty first, then subtracts the others.
    let logits = [4.0, -4.0, 0.0];
    let p = SamplingParams {
        repetition_penalty: 2.0,
        frequency_penalty: 1.0,
        presence_penalty: 0.5,
        ..SamplingParams::default()
    };
    let mut s = with_all_logprobs(p, 3);
    s.accept(0);
    s.accept(1);
    s.accept(1);
    assert_close(&penalised(&mut s, &logits, 2), &[4.0 / 2.0 - 1.5, -4.0 * 2.0 - 2.5, 0.0]);
}

#[test]
fn only_the_last_n_tokens_count() {
    let logits = [1.0, 1.0, 1.0, 1.0];
    let p = SamplingParams {
        presence_penalty: 1.0,
        frequency_penalty: 0.5,
        penalty_last_n: 2,
        ..SamplingParams::default()
    };
    let mut s = with_all_logprobs(p, 4);
    for t in [0, 0, 1, 2] {
        s.accept(t);
    }
    // Window is [1, 2]: token 0 has left it.
    assert_close(&penalised(&mut s, &logits, 3), &[1.0, -0.5, -0.5, 1.0]);
    s.accept(2);
    assert_close(&penalised(&mut s, &logits, 3), &[1.0, 1.0, -1.0, 1.0]);
}

#[test]
fn unbounded_window_counts_the_whole_sequence() {
    let logits = [0.0, 0.0];
    let p =
        SamplingParams { frequency_penalty: 0.01, penalty_last_n: usize::MAX, ..SamplingParams::default() };
    let mut s = with_all_logprobs(p, 2);
    for _ in 0..1000 {
        s.accept(0);
    }
    assert_close(&penalised(&mut s, &logits, 1), &[-10.0, 0.0]);
}

#[test]
fn zero_window_turns_penalties_off() {
    let logits = [1.0, 2.0];
    let p = SamplingParams {
        repetition_penalty: 3.0,
        presence_penalty: 2.0,
        penalty_last_n: 0,
        ..SamplingParams::default()
    };
    let mut s = with_all_logprobs(p, 2);
    s.accept(0);
    assert_close(&penalised(&mut s, &logits, 1), &[1.0, 2.0]);
}

#[test]
fn logit_bias_comes_before_the_penalties() {
    // (1 + 1) / 2 = 1, where penalising first would give 1 / 2 + 1 = 1.5.
    let logits = [1.0, 0.0];
    let p =
        SamplingParams { repetition_penalty: 2.0, logit_bias: vec![(0, 1.0)], ..SamplingParams::default() };
    let mut s = with_all_logprobs(p, 2);
    s.accept(0);
    assert_close(&penalised(&mut s, &logits, 1), &[1.0, 0.0]);
}

#[test]
fn reset_forgets_the_history() {
    let logits = [1.0, 1.0];
    let p = SamplingParams { presence_penalty: 1.0, ..SamplingParams::default() };
    let mut s = with_all_logprobs(p, 2);
    s.accept(0);
    s.reset();
    assert_close(&penalised(&mut s, &logits, 1), &[1.0, 1.0]);
}

#[test]
fn presence_penalty_makes_greedy_cycle() {
    // Greedy with a strong presence penalty walks down the ranking instead of repeating.
    let logits = [3.0, 2.0, 1.0, 0.0];
    let p = SamplingParams { presence_penalty: 10.0, penalty_last_n: 3, ..SamplingParams::greedy() };
    let mut s = sampler(p, 4);
    let tokens: Vec<u32> = (0..6)
        .map(|_| {
            let t = s.sample(&logits).token;
            s.accept(t);
            t
        })
        .collect();
    assert_eq!(tokens, [0, 1, 2, 3, 0, 1]);
}
