//! top-k, top-p and min-p keep exactly the expected candidates.
//!
//! Truncation runs on the untempered logits and temperature only reshapes the survivors, so a
//! high temperature makes the survivors nearly uniform: a few thousand seeded draws then
//! visit every survivor, and never a token outside the set.

use hearth_sampler::SamplingParams;

use crate::{histogram, logits_of, sampler, support};

/// Probabilities 0.5, 0.2, 0.15, 0.1, 0.05 scattered over ids 0..8 (others 0).
/// By rank: id 6 (0.5), id 2 (0.2), id 7 (0.15), id 0 (0.1), id 4 (0.05).
fn dist() -> Vec<f32> {
    logits_of(&[0.1, 0.0, 0.2, 0.0, 0.05, 0.0, 0.5, 0.15])
}

fn kept(top_k: usize, top_p: f32, min_p: f32) -> Vec<u32> {
    let p =
        SamplingParams { temperature: 50.0, top_k, top_p, min_p, seed: Some(9), ..SamplingParams::default() };
    let logits = dist();
    support(&histogram(&mut sampler(p, logits.len()), &logits, 3000))
}

#[test]
fn no_truncation_keeps_every_possible_token() {
    assert_eq!(kept(0, 1.0, 0.0), [0, 2, 4, 6, 7]);
}

#[test]
fn top_k_keeps_the_k_most_likely() {
    assert_eq!(kept(1, 1.0, 0.0), [6]);
    assert_eq!(kept(2, 1.0, 0.0), [2, 6]);
    assert_eq!(kept(4, 1.0, 0.0), [0, 2, 6, 7]);
    assert_eq!(kept(100, 1.0, 0.0), [0, 2, 4, 6, 7]);
}

#[test]
fn top_p_keeps_the_smallest_prefix_reaching_p() {
    assert_eq!(kept(0, 0.4, 0.0), [6]); // 0.5 >= 0.4
    assert_eq!(kept(0, 0.6, 0.0), [2, 6]); // 0.7 >= 0.6
    assert_eq!(kept(0, 0.75, 0.0), [2, 6, 7]); // 0.85 >= 0.75
    assert_eq!(kept(0, 0.9, 0.0), [0, 2, 6, 7]); // 0.95 >= 0.9
    assert_eq!(kept(0, 1.0, 0.0), [0, 2, 4, 6, 7]);
}

#[test]
fn top_p_applies_to_the_top_k_survivors() {
    // After top_k = 2 the distribution is renormalised: 0.5/0.7 = 0.714 alone reaches 0.7.
    assert_eq!(kept(2, 0.7, 0.0), [6]);
    assert_eq!(kept(2, 0.72, 0.0), [2, 6]);
}

#[test]
fn min_p_keeps_tokens_above_a_fraction_of_the_best() {
    assert_eq!(kept(0, 1.0, 0.35), [2, 6]); // p >= 0.175
    assert_eq!(kept(0, 1.0, 0.25), [2, 6, 7]); // p >= 0.125
    assert_eq!(kept(0, 1.0, 0.15), [0, 2, 6, 7]); // p >= 0.075
    assert_eq!(kept(0, 1.0, 1.0), [6]);
}

#[test]
fn stages_compose_in_llama_cpp_order() {
    // top_p 0.9 keeps 4; min_p 0.25 (relative to the best, so unaffected by top_p) keeps 3.
    assert_eq!(kept(0, 0.9, 0.25), [2, 6, 7]);
    // top_k 3 then min_p 0.15 (p >= 0.075: id 0 would pass, but top_k removed it).
    assert_eq!(kept(3, 1.0, 0.15), [2, 6, 7]);
}

#[test]
fn top_p_on_a_large_unsorted_vocabulary() {
    // 2000 tokens, no top_k: top-p selects partially (256, then more) instead of sorting.
    // 600 tokens share 0.9 of the mass, the rest share 0.1: top_p 0.85 needs 567 of the
    // 600 (each is 0.0015), which crosses the first selection's 256.
    let n = 2000;
    let mut probs = vec![0.1 / 1400.0; n];
    let heavy: Vec<usize> = (0..600).map(|i| (i * 37 + 11) % n).collect();
    for &i in &heavy {
        probs[i] = 0.9 / 600.0;
    }
    let logits = logits_of(&probs);
    let p = SamplingParams {
        temperature: 1.0,
        top_k: 0,
        top_p: 0.85,
        min_p: 0.0,
        seed: Some(4),
        ..SamplingParams::default()
    };
    let h = histogram(&mut sampler(p, n), &logits, 5000);
    let got = support(&h);
    // Equal probabilities tie; ties go to the lowest ids.
    let mut by_id = heavy.clone();
    by_id.sort_unstable();
    let kept = &by_id[..567];
    assert!(got.iter().all(|t| kept.contains(&(*t as usize))), "a token outside the nucleus");
    assert!(got.len() > 550, "only {} of 567 seen", got.len());
}
