//! [`Sampler`]: logits in, next token out.

use crate::penalties::Penalties;
use crate::rng::{Mt19937, entropy_seed, fold_seed};
use crate::select::{Candidate, argmax, by_logit_desc, max_logit, top_k_of_candidates, top_k_of_logits};
use crate::softmax::{logsumexp, softmax_candidates};
use crate::{SamplerError, SamplingParams};

/// The chosen token and its log-probabilities.
///
/// Log-probabilities are taken from the **reported distribution**: the softmax over the whole
/// vocabulary of the logits after `logit_bias` and the penalties, before any constraint mask,
/// before top-k/top-p/min-p truncation and before temperature. That is the model's view of
/// the next token as adjusted by the request's explicit biases, which is what OpenAI's
/// `logprobs` report: the values do not change with the sampling knobs (temperature, top-p,
/// a grammar), so the chosen token's `logprob` can be low when it was drawn from a truncated
/// or masked set, and the alternatives in `top` may include tokens that could not be drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampled {
    /// The chosen token id.
    pub token: u32,
    /// `ln p(token)` in the reported distribution; NaN when neither
    /// [`SamplingParams::logprobs`] nor [`SamplingParams::n_logprobs`] asked for it.
    pub logprob: f32,
    /// The [`SamplingParams::n_logprobs`] most likely tokens of the reported distribution,
    /// `(id, logprob)`, most likely first (ties to the lowest id); tokens of probability 0
    /// (banned by a `-inf` bias) are never listed. Empty when not asked for.
    pub top: Vec<(u32, f32)>,
}

/// Owns everything one sequence's sampling needs: parameters, RNG, penalty history and
/// scratch buffers, so that [`Sampler::sample`] allocates nothing once warm (beyond the
/// [`Sampled::top`] vector when logprobs are asked for).
///
/// The RNG is MT19937 drawn as llama.cpp's `dist` sampler draws it (see `rng.rs`): a seeded
/// run gives the same tokens on every platform, and the same tokens as llama.cpp given the
/// same logits and a seed below 2^32.
#[derive(Clone)]
pub struct Sampler {
    params: SamplingParams,
    n_vocab: usize,
    /// The MT19937 seed in use (drawn from the OS when `params.seed` is `None`).
    seed: u32,
    rng: Mt19937,
    penalties: Penalties,
    /// `[n_vocab]` the caller's logits plus bias, penalties and mask, when any applies.
    work: Vec<f32>,
    /// `[<= n_vocab]` tokens still in the running.
    cand: Vec<Candidate>,
    /// `[<= n_vocab]` scratch for top-p's partial selections and the logprob top-N.
    tmp: Vec<Candidate>,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("params", &self.params)
            .field("n_vocab", &self.n_vocab)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

/// Which tokens a constraint allows.
#[derive(Clone, Copy)]
enum Mask<'a> {
    Fn(&'a dyn Fn(u32) -> bool),
    Bits(&'a [u32]),
}

impl Mask<'_> {
    fn allows(&self, token: u32) -> bool {
        match self {
            Mask::Fn(f) => f(token),
            Mask::Bits(bits) => bitmask_allows(bits, token),
        }
    }
}

/// Whether bit `token` is set in `bits`: bit `token % 32` of word `token / 32` (the layout of
/// llguidance's `SimpleVob`). Tokens past the end of `bits` are not allowed.
pub fn bitmask_allows(bits: &[u32], token: u32) -> bool {
    bits.get(token as usize / 32).is_some_and(|w| (w >> (token % 32)) & 1 != 0)
}

impl Sampler {
    /// Validates `params` for a vocabulary of `n_vocab` tokens and seeds the RNG.
    pub fn new(params: SamplingParams, n_vocab: usize) -> Result<Sampler, SamplerError> {
        params.validate()?;
        if n_vocab == 0 || n_vocab as u64 > 1 << 32 {
            return Err(SamplerError::VocabSize(n_vocab));
        }
        if let Some(&(token, _)) = params.logit_bias.iter().find(|(t, _)| *t as usize >= n_vocab) {
            return Err(SamplerError::TokenOutOfRange { token, n_vocab });
        }
        let seed = params.seed.map_or_else(entropy_seed, fold_seed);
        let penalties = Penalties::new(&params);
        let cand_capacity = match params.top_k {
            0 => n_vocab,
            k => k.saturating_mul(2).saturating_add(256).min(n_vocab),
        };
        Ok(Sampler {
            params,
            n_vocab,
            seed,
            rng: Mt19937::new(seed),
            penalties,
            work: Vec::new(),
            cand: Vec::with_capacity(cand_capacity),
            tmp: Vec::new(),
        })
    }

    /// The parameters this sampler runs with.
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// The vocabulary size `sample` expects.
    pub fn n_vocab(&self) -> usize {
        self.n_vocab
    }

    /// The MT19937 seed in use: `params.seed` folded to 32 bits (`lo ^ hi`, so seeds below
    /// 2^32 are unchanged), or the one drawn from the OS. Report it to make a run repeatable.
    pub fn seed(&self) -> u32 {
        self.seed
    }

    /// Chooses the next token from `logits` (one per vocabulary entry; not modified).
    ///
    /// Cost with the default parameters: one pass over `logits` for the top-k selection
    /// (32-wide blocks below the running threshold are skipped), then work on the `k`
    /// survivors only. The logits are copied into scratch only when a bias, penalty or mask
    /// applies; logprobs add one vectorised `exp` pass. Without `top_k`, `top_p` and `dist`
    /// need the softmax of every candidate, as in llama.cpp.
    ///
    /// If no token can be chosen (every logit `-inf` or NaN after bias and penalties), returns
    /// token 0; use [`Sampler::sample_masked`] to get `None` instead.
    ///
    /// # Panics
    /// If `logits.len() != self.n_vocab()`.
    pub fn sample(&mut self, logits: &[f32]) -> Sampled {
        self.run(logits, None).0
    }

    /// Chooses the next token among those `allowed` accepts, the way a grammar constraint
    /// should: sample as [`Sampler::sample`] does, check that one token, and only if it is
    /// rejected set every disallowed logit to `-inf` (asking `allowed` about every token) and
    /// sample again. A rejection costs a second RNG draw, as llama.cpp's resampling does.
    /// `None` when no allowed token has a finite logit.
    ///
    /// Log-probabilities are those of the unmasked distribution (see [`Sampled`]).
    ///
    /// # Panics
    /// If `logits.len() != self.n_vocab()`.
    pub fn sample_masked(&mut self, logits: &[f32], allowed: &dyn Fn(u32) -> bool) -> Option<Sampled> {
        let (first, found) = self.run(logits, None);
        if found && allowed(first.token) {
            return Some(first);
        }
        let (second, found) = self.run(logits, Some(Mask::Fn(allowed)));
        found.then_some(second)
    }

    /// Chooses the next token among those set in `bits` (layout: [`bitmask_allows`]), masking
    /// first. This is the second half of the grammar loop for a caller that already checked
    /// [`Sampler::sample`]'s token, found it rejected and computed the full mask. `None`
    /// when no allowed token has a finite logit.
    ///
    /// # Panics
    /// If `logits.len() != self.n_vocab()`.
    pub fn sample_with_bitmask(&mut self, logits: &[f32], bits: &[u32]) -> Option<Sampled> {
        let (s, found) = self.run(logits, Some(Mask::Bits(bits)));
        found.then_some(s)
    }

    /// Records a generated (or prompt) token for the penalties. Call it once per token that
    /// becomes part of the sequence, whichever way it was chosen.
    pub fn accept(&mut self, token: u32) {
        self.penalties.accept(token);
    }

    /// Forgets the penalty history and restarts the RNG: from the same seed when
    /// `params.seed` is set (the run repeats), from a fresh OS seed otherwise.
    pub fn reset(&mut self) {
        self.penalties.clear();
        if self.params.seed.is_none() {
            self.seed = entropy_seed();
        }
        self.rng = Mt19937::new(self.seed);
    }

    /// One sampling pass; the flag says whether a token was found (else token 0).
    fn run(&mut self, logits: &[f32], mask: Option<Mask<'_>>) -> (Sampled, bool) {
        assert_eq!(logits.len(), self.n_vocab, "logits length must equal the sampler's n_vocab");

        // logit bias, penalties
        let modified = !self.params.logit_bias.is_empty() || self.penalties.active() || mask.is_some();
        if modified {
            self.work.clear();
            self.work.extend_from_slice(logits);
            for &(token, bias) in &self.params.logit_bias {
                self.work[token as usize] += bias;
            }
            self.penalties.apply(&mut self.work);
        }

        // logprobs of the reported distribution, before the mask
        let wants_logprobs = self.params.wants_logprobs();
        let mut lse = f32::NAN;
        let mut top = Vec::new();
        if wants_logprobs {
            let x = if modified { &self.work[..] } else { logits };
            lse = logsumexp(x);
            if self.params.n_logprobs > 0 {
                top_k_of_logits(x, self.params.n_logprobs.min(x.len()), &mut self.tmp);
                top.extend(self.tmp.iter().map(|c| (c.id, c.logit - lse)));
            }
        }

        // constraint mask
        if let Some(mask) = mask {
            for (i, l) in self.work.iter_mut().enumerate() {
                if !mask.allows(i as u32) {
                    *l = f32::NEG_INFINITY;
                }
            }
        }

        let x = if modified { &self.work[..] } else { logits };
        let chosen = pick(x, &self.params, &mut self.cand, &mut self.tmp, &mut self.rng);
        let token = chosen.unwrap_or(0);
        let logprob = if wants_logprobs { x[token as usize] - lse } else { f32::NAN };
        (Sampled { token, logprob, top }, chosen.is_some())
    }
}

/// The chain: greedy, or top_k → top_p → min_p → temperature → dist, each with llama.cpp's
/// semantics.
fn pick(
    x: &[f32],
    p: &SamplingParams,
    cand: &mut Vec<Candidate>,
    tmp: &mut Vec<Candidate>,
    rng: &mut Mt19937,
) -> Option<u32> {
    if p.temperature <= 0.0 {
        return argmax(x).map(|i| i as u32);
    }
    let sorted = truncate(x, p, cand, tmp)?;

    // temperature
    for c in cand.iter_mut() {
        c.logit /= p.temperature;
    }

    // dist
    Some(dist(cand, sorted, rng))
}

/// top_k → top_p → min_p into `cand`; `Some(sorted)`, or `None` when nothing is left.
/// Candidates stay in id order until a stage sorts them, as in llama.cpp, because `dist`
/// accumulates probabilities in candidate order.
fn truncate(
    x: &[f32],
    p: &SamplingParams,
    cand: &mut Vec<Candidate>,
    tmp: &mut Vec<Candidate>,
) -> Option<bool> {
    // top_k
    let mut sorted = false;
    let mut min_p_done = false;
    if p.top_k > 0 {
        top_k_of_logits(x, p.top_k.min(x.len()), cand);
        sorted = true;
    } else if p.top_p >= 1.0 && p.min_p > 0.0 {
        // min_p straight from the logits, skipping the copy of the whole vocabulary
        let min_logit = max_logit(x) + p.min_p.ln();
        collect(x, cand, |v| v >= min_logit);
        min_p_done = true;
    } else {
        collect(x, cand, |_| true);
    }
    if cand.is_empty() {
        return None;
    }

    // top_p
    if p.top_p < 1.0 {
        top_p(cand, tmp, p.top_p, sorted);
        sorted = true;
    }

    // min_p
    if p.min_p > 0.0 && !min_p_done {
        let max = if sorted { cand[0].logit } else { cand.iter().fold(f32::MIN, |m, c| m.max(c.logit)) };
        let min_logit = max + p.min_p.ln();
        cand.retain(|c| c.logit >= min_logit);
    }
    Some(sorted)
}

/// Every token with a logit above `-inf` that `keep` accepts, in id order.
fn collect(x: &[f32], cand: &mut Vec<Candidate>, keep: impl Fn(f32) -> bool) {
    cand.clear();
    cand.extend(
        x.iter()
            .enumerate()
            .filter(|&(_, &v)| v > f32::NEG_INFINITY && keep(v))
            .map(|(i, &v)| Candidate::new(i as u32, v)),
    );
}

/// Keeps the smallest most-likely prefix whose probability reaches `top_p`, sorted. Unsorted
/// candidates are partially selected, 256 first and four times more until the prefix is
/// found, as llama.cpp's adaptive top-p does.
fn top_p(cand: &mut Vec<Candidate>, tmp: &mut Vec<Candidate>, top_p: f32, sorted: bool) {
    softmax_candidates(cand, sorted);
    if sorted {
        let last = cutoff(cand, top_p).unwrap_or(cand.len());
        cand.truncate(last);
        return;
    }
    let n = cand.len();
    let mut m = n.min(256);
    loop {
        top_k_of_candidates(cand, m, tmp);
        if let Some(last) = cutoff(tmp, top_p) {
            tmp.truncate(last);
            break;
        }
        if m == n {
            break;
        }
        m = m.saturating_mul(4).min(n);
    }
    std::mem::swap(cand, tmp);
}

/// Length of the shortest prefix whose probabilities (summed in f32) reach `top_p`.
fn cutoff(cand: &[Candidate], top_p: f32) -> Option<usize> {
    let mut cum = 0.0f32;
    for (i, c) in cand.iter().enumerate() {
        cum += c.p;
        if cum >= top_p {
            return Some(i + 1);
        }
    }
    None
}

/// llama.cpp's `dist`: softmax (f32 terms, f64 sum) and one uniform draw against the running
/// sum, in candidate order. Draws even for a single candidate, to keep the RNG in step.
fn dist(cand: &mut [Candidate], sorted: bool, rng: &mut Mt19937) -> u32 {
    let rnd = rng.next_f64();
    if cand.len() == 1 {
        return cand[0].id;
    }
    let max = if sorted { cand[0].logit } else { cand.iter().fold(f32::MIN, |m, c| m.max(c.logit)) };
    let mut sum = 0.0f64;
    for c in cand.iter_mut() {
        c.p = (c.logit - max).exp();
        sum += f64::from(c.p);
    }
    if !(sum > 0.0 && sum.is_finite()) {
        // +inf logits (or an overflowing temperature): take the best candidate
        return cand.iter().min_by(|a, b| by_logit_desc(a, b)).map_or(cand[0].id, |c| c.id);
    }
    let target = sum * rnd;
    let mut run = 0.0f64;
    for c in cand.iter() {
        run += f64::from(c.p);
        if run >= target {
            return c.id;
        }
    }
    cand[cand.len() - 1].id
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Truncation settings, each stage on or off.
    fn params() -> impl Strategy<Value = SamplingParams> {
        (
            prop_oneof![Just(0usize), 1usize..60],
            prop_oneof![Just(1.0f32), 0.05f32..1.0],
            prop_oneof![Just(0.0f32), 0.001f32..1.0],
        )
            .prop_map(|(top_k, top_p, min_p)| SamplingParams {
                top_k,
                top_p,
                min_p,
                ..SamplingParams::default()
            })
    }

    proptest! {
        #[test]
        fn truncation_keeps_a_valid_nucleus(
            x in proptest::collection::vec(-40i32..40, 1..600),
            p in params(),
        ) {
            // Quarter steps: plenty of ties.
            let x: Vec<f32> = x.iter().map(|&v| v as f32 * 0.25).collect();
            let (mut cand, mut tmp) = (Vec::new(), Vec::new());
            let sorted = truncate(&x, &p, &mut cand, &mut tmp).expect("finite logits");

            // Order: descending when a stage sorted, else ids ascending.
            for w in cand.windows(2) {
                if sorted {
                    prop_assert_eq!(by_logit_desc(&w[0], &w[1]), std::cmp::Ordering::Less);
                } else {
                    prop_assert!(w[0].id < w[1].id);
                }
            }
            // Kept tokens are the most likely ones: a prefix of the ranking.
            let kept: Vec<bool> = {
                let mut k = vec![false; x.len()];
                cand.iter().for_each(|c| k[c.id as usize] = true);
                k
            };
            let lowest_kept = cand.iter().map(|c| c.logit).fold(f32::INFINITY, f32::min);
            for (i, &v) in x.iter().enumerate() {
                if !kept[i] {
                    prop_assert!(v <= lowest_kept);
                }
            }
            // top_k bounds the count.
            if p.top_k > 0 {
                prop_assert!(cand.len() <= p.top_k);
            }
            // The top_k survivors, ranked, with their probabilities (f64).
            let mut ranked: Vec<usize> = (0..x.len()).collect();
            ranked.sort_by(|&a, &b| x[b].total_cmp(&x[a]).then(a.cmp(&b)));
            if p.top_k > 0 {
                ranked.truncate(p.top_k);
            }
            let max = f64::from(x[ranked[0]]);
            let z: f64 = ranked.iter().map(|&i| (f64::from(x[i]) - max).exp()).sum();
            let prob = |i: usize| (f64::from(x[i]) - max).exp() / z;
            // top_p: the kept mass reaches p, and it would not without the last token.
            if p.top_p < 1.0 && p.min_p == 0.0 {
                let mass: f64 = cand.iter().map(|c| prob(c.id as usize)).sum();
                let last = prob(cand[cand.len() - 1].id as usize);
                prop_assert!(mass >= f64::from(p.top_p) - 1e-5, "mass {} < {}", mass, p.top_p);
                prop_assert!(mass - last < f64::from(p.top_p) + 1e-5);
            }
            // min_p: kept tokens are within ln(min_p) of the best; with nothing else
            // truncating, every such token is kept.
            if p.min_p > 0.0 {
                let bound = x[ranked[0]] + p.min_p.ln();
                prop_assert!(cand.iter().all(|c| c.logit >= bound - 1e-6));
                if p.top_k == 0 && p.top_p >= 1.0 {
                    let want = x.iter().filter(|&&v| v >= bound + 1e-6).count();
                    prop_assert!(cand.len() >= want);
                }
            }
        }
    }
}
