//! Constrained sampling: sample first, mask only when the token is rejected.

use std::cell::Cell;

use hearth_sampler::{SamplingParams, bitmask_allows};

use crate::{plain, sampler};

fn logits() -> Vec<f32> {
    (0..100).map(|i| ((i * 13) % 17) as f32 * 0.2).collect()
}

fn bits_for(n: usize, allowed: impl Fn(u32) -> bool) -> Vec<u32> {
    let mut bits = vec![0u32; n.div_ceil(32)];
    for t in 0..n as u32 {
        if allowed(t) {
            bits[t as usize / 32] |= 1 << (t % 32);
        }
    }
    bits
}

#[test]
fn only_allowed_tokens_come_out() {
    let l = logits();
    let mut s = sampler(SamplingParams { seed: Some(2), ..SamplingParams::default() }, l.len());
    let allowed = |t: u32| t.is_multiple_of(3);
    for _ in 0..500 {
        let got = s.sample_masked(&l, &allowed).unwrap();
        assert!(allowed(got.token), "{}", got.token);
    }
}

#[test]
fn an_accepted_first_draw_costs_one_check_and_one_draw() {
    // With everything allowed the sequence equals plain sampling, and the constraint is
    // asked about one token per step, never about the whole vocabulary.
    let l = logits();
    let mut a = sampler(plain(11), l.len());
    let mut b = sampler(plain(11), l.len());
    let calls = Cell::new(0);
    let allow_all = |_: u32| {
        calls.set(calls.get() + 1);
        true
    };
    for _ in 0..100 {
        assert_eq!(a.sample_masked(&l, &allow_all).unwrap().token, b.sample(&l).token);
    }
    assert_eq!(calls.get(), 100);
}

#[test]
fn a_rejected_draw_is_resampled_under_the_mask() {
    // sample_masked == sample, then (if rejected) sample_with_bitmask: the RNG advances by
    // one draw per pass, as llama.cpp's grammar resampling does.
    let l = logits();
    let allowed = |t: u32| t % 4 == 1;
    let bits = bits_for(l.len(), allowed);
    let mut a = sampler(plain(21), l.len());
    let mut b = sampler(plain(21), l.len());
    let mut rejections = 0;
    for _ in 0..200 {
        let got = a.sample_masked(&l, &allowed).unwrap();
        let first = b.sample(&l);
        let want = if allowed(first.token) {
            first
        } else {
            rejections += 1;
            b.sample_with_bitmask(&l, &bits).unwrap()
        };
        assert_eq!(got.token, want.token);
    }
    assert!(rejections > 50, "{rejections}");
}

#[test]
fn nothing_allowed_gives_none() {
    let l = logits();
    let mut s = sampler(SamplingParams { seed: Some(2), ..SamplingParams::default() }, l.len());
    assert_eq!(s.sample_masked(&l, &|_| false), None);
    assert_eq!(s.sample_with_bitmask(&l, &[]), None);
    // Allowed, but banned by the bias.
    let p = SamplingParams { logit_bias: vec![(7, f32::NEG_INFINITY)], ..SamplingParams::greedy() };
    let mut s = sampler(p, l.len());
    assert_eq!(s.sample_masked(&l, &|t| t == 7), None);
}

#[test]
fn greedy_under_a_mask_takes_the_best_allowed() {
    let l = [1.0, 5.0, 3.0, 4.0, 2.0];
    let mut s = sampler(SamplingParams::greedy(), 5);
    assert_eq!(s.sample_masked(&l, &|t| t != 1).unwrap().token, 3);
    assert_eq!(s.sample_with_bitmask(&l, &[0b10101]).unwrap().token, 2);
}

#[test]
fn masked_logprobs_are_those_of_the_unmasked_distribution() {
    let l = [0.0f32, 0.0, 0.0, 0.0];
    let p = SamplingParams { n_logprobs: 4, ..SamplingParams::greedy() };
    let got = sampler(p, 4).sample_masked(&l, &|t| t == 2).unwrap();
    assert_eq!(got.token, 2);
    assert!((got.logprob - 0.25f32.ln()).abs() < 1e-6);
    assert_eq!(got.top.len(), 4);
}

#[test]
fn bitmask_layout_is_llguidance_s() {
    let bits = [0x8000_0001u32, 0x2];
    assert!(bitmask_allows(&bits, 0));
    assert!(!bitmask_allows(&bits, 1));
    assert!(bitmask_allows(&bits, 31));
    assert!(bitmask_allows(&bits, 33));
    assert!(!bitmask_allows(&bits, 32));
    assert!(!bitmask_allows(&bits, 64), "past the end is disallowed");
}
