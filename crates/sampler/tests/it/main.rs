//! Integration tests of hearth-sampler, one binary.

mod greedy;
mod llama_cpp_parity;
mod logprobs;
mod masked;
mod params;
mod penalties;
mod random;
mod stop;
mod truncation;

use hearth_sampler::{Sampler, SamplingParams};

/// A sampler that must build.
fn sampler(params: SamplingParams, n_vocab: usize) -> Sampler {
    Sampler::new(params, n_vocab).expect("valid params")
}

/// Logits whose softmax is `probs` (`ln p`, `-inf` for 0).
fn logits_of(probs: &[f64]) -> Vec<f32> {
    probs.iter().map(|&p| p.ln() as f32).collect()
}

/// Parameters with every truncation off, temperature 1, a fixed seed.
fn plain(seed: u64) -> SamplingParams {
    SamplingParams {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        seed: Some(seed),
        ..SamplingParams::default()
    }
}

/// Which tokens `draws` samples produce, and how often.
fn histogram(s: &mut Sampler, logits: &[f32], draws: usize) -> Vec<usize> {
    let mut h = vec![0; logits.len()];
    for _ in 0..draws {
        h[s.sample(logits).token as usize] += 1;
    }
    h
}

/// Ids with a non-zero count.
fn support(h: &[usize]) -> Vec<u32> {
    h.iter().enumerate().filter(|(_, c)| **c > 0).map(|(i, _)| i as u32).collect()
}
