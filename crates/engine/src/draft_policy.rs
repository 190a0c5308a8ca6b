//! How many draft tokens one verification pass should carry: speculative decoding's policy,
//! as plain data (no model, no clock), fed with what the session measures.
//!
//! A pass that verifies `k` drafts yields `1 + p + p² + … + pᵏ` tokens on average, where `p`
//! is the chance that a draft is accepted given that the one before it was; it costs one
//! single-token pass plus `k` times the extra cost of a token in a batched pass (and of
//! drafting it, for a draft model). The policy picks the `k` with the most tokens per unit of
//! time — `0` (no draft) when drafting loses, as it does while the drafts are mostly wrong.
//!
//! Both inputs are measured as the generation goes: `p` per n-gram match length (a 4-token
//! match predicts better than a 2-token one; bucket 0 is the draft model), counted with
//! forgetting so a copied span that starts after free text is noticed within a few passes;
//! the cost of a pass per number of tokens in it, as running averages of the passes' wall
//! times (not a straight line: where the kernels tile tokens, a second token can be almost
//! free while a third costs as much as a whole pass). A size not yet timed is estimated
//! optimistically from the nearest smaller one, so it gets tried and measured. A declined lookup draft is still
//! scored for free against the token that then comes (the session reports it as a one-token
//! verification), so a low estimate recovers when a copied span begins; a declined draft
//! model is tried with one token every [`PROBE_EVERY`] declines instead.

/// Weight the counts keep per verification: about the last five matter.
const DECAY: f64 = 0.8;
/// Prior acceptance counts (a Beta(1, 1) prior: 50%, worth two tokens).
const PRIOR_ACCEPTED: f64 = 1.0;
const PRIOR_TESTED: f64 = 2.0;
/// Weight of a new timing in the running averages.
const TIME_WEIGHT: f64 = 0.25;
/// Extra cost of a token in a batched pass, relative to a one-token pass, before any
/// multi-token pass was timed.
const PRIOR_EXTRA: f64 = 0.25;
/// A declined draft-model draft is tried with one token every this many declines.
pub(crate) const PROBE_EVERY: u32 = 8;
/// Match lengths told apart (longer matches share the last bucket).
const BUCKETS: usize = 8;
/// Pass sizes timed one by one; larger passes are estimated from the largest of these.
const TIMED_SIZES: usize = 33;

/// Acceptance counts of one bucket, with forgetting.
#[derive(Clone, Copy, Debug, Default)]
struct Rate {
    accepted: f64,
    tested: f64,
}

impl Rate {
    /// Estimated chance that a draft token is accepted after its predecessor was.
    fn p(&self) -> f64 {
        (self.accepted + PRIOR_ACCEPTED) / (self.tested + PRIOR_TESTED)
    }
}

/// The draft-length policy of one session.
#[derive(Clone, Debug)]
pub(crate) struct DraftPolicy {
    adaptive: bool,
    rates: [Rate; BUCKETS],
    /// Seconds of a pass with `n` new tokens, at index `n` (index 0 unused).
    pass: [Option<f64>; TIMED_SIZES],
    /// Seconds to draft one token (none for prompt lookup).
    draft_token: Option<f64>,
    declined: u32,
}

impl DraftPolicy {
    /// `adaptive: false` always drafts as many tokens as are available (the fixed policy,
    /// kept for comparison).
    pub(crate) fn new(adaptive: bool) -> DraftPolicy {
        DraftPolicy {
            adaptive,
            rates: [Rate::default(); BUCKETS],
            pass: [None; TIMED_SIZES],
            draft_token: None,
            declined: 0,
        }
    }

    fn bucket(match_len: usize) -> usize {
        match_len.min(BUCKETS - 1)
    }

    /// Estimated acceptance chance of drafts found by a match of `match_len` tokens (0: a
    /// draft model).
    pub(crate) fn acceptance(&self, match_len: usize) -> f64 {
        self.rates[Self::bucket(match_len)].p()
    }

    /// Estimated seconds of a pass with `n >= 1` tokens, given that a one-token pass takes
    /// `one`: the timing if there is one, else the nearest smaller timed size plus
    /// [`PRIOR_EXTRA`] of a pass per token beyond it.
    fn pass_secs(&self, n: usize, one: f64) -> f64 {
        let top = n.min(TIMED_SIZES - 1);
        if n == top
            && let Some(t) = self.pass[n]
        {
            return t;
        }
        let (m, t) = (1..=top).rev().find_map(|m| self.pass[m].map(|t| (m, t))).unwrap_or((1, one));
        t + (n - m) as f64 * PRIOR_EXTRA * one
    }

    /// Cost of a pass verifying `k` drafts (and of drafting them), relative to a plain pass.
    fn relative_cost(&self, k: usize) -> f64 {
        match self.pass[1] {
            Some(one) if one > 0.0 => {
                let draft = self.draft_token.unwrap_or(0.0) * k as f64;
                (self.pass_secs(1 + k, one) + draft).max(0.0) / one
            }
            _ => 1.0 + PRIOR_EXTRA * k as f64,
        }
    }

    /// Tokens per unit of time of a pass verifying `k` drafts, relative to a plain pass.
    fn speed(p: f64, relative_cost: f64, k: usize) -> f64 {
        let mut tokens = 1.0;
        let mut pi = 1.0;
        for _ in 0..k {
            pi *= p;
            tokens += pi;
        }
        tokens / relative_cost
    }

    /// How many of the `available` draft tokens (found by a match of `match_len` tokens; 0
    /// for a draft model) the next pass should verify. A declined draft model is probed with
    /// one token every [`PROBE_EVERY`] declines (lookup drafts are scored for free instead).
    pub(crate) fn draft_len(&mut self, match_len: usize, available: usize) -> usize {
        if !self.adaptive || available == 0 {
            return available;
        }
        let p = self.acceptance(match_len);
        let mut best = (0, 1.0);
        for k in 1..=available {
            let s = Self::speed(p, self.relative_cost(k), k);
            if s > best.1 * 1.001 {
                best = (k, s);
            }
        }
        if best.0 > 0 || match_len > 0 {
            return best.0;
        }
        self.declined += 1;
        if self.declined.is_multiple_of(PROBE_EVERY) { 1 } else { 0 }
    }

    /// Records a verification: `drafted` draft tokens from a match of `match_len` tokens,
    /// of which the first `accepted` were kept.
    pub(crate) fn verified(&mut self, match_len: usize, drafted: usize, accepted: usize) {
        if drafted == 0 {
            return;
        }
        // Drafts after the first rejected one were not tested.
        let tested = (accepted + 1).min(drafted);
        let r = &mut self.rates[Self::bucket(match_len)];
        r.accepted = r.accepted * DECAY + accepted as f64;
        r.tested = r.tested * DECAY + tested as f64;
    }

    /// Records a pass's wall time with `n` new tokens in it.
    pub(crate) fn timed_pass(&mut self, n: usize, secs: f64) {
        if n == 0 || n >= TIMED_SIZES || !secs.is_finite() || secs < 0.0 {
            return;
        }
        self.pass[n] = Some(average(self.pass[n], secs));
    }

    /// Records the time a draft model took for `n` tokens.
    pub(crate) fn timed_draft(&mut self, n: usize, secs: f64) {
        if n > 0 && secs.is_finite() && secs >= 0.0 {
            self.draft_token = Some(average(self.draft_token, secs / n as f64));
        }
    }
}

fn average(old: Option<f64>, new: f64) -> f64 {
    match old {
        Some(o) => o + TIME_WEIGHT * (new - o),
        None => new,
    }
}

#[cfg(test)]
mod tests {
    use super::{DraftPolicy, PROBE_EVERY};

    /// A policy that has timed a one-token pass at 10 ms and each further token at `extra`
    /// ms.
    fn timed(extra: f64) -> DraftPolicy {
        let mut p = DraftPolicy::new(true);
        for n in 1..=9 {
            p.timed_pass(n, 0.010 + (n - 1) as f64 * extra / 1e3);
        }
        p
    }

    #[test]
    fn the_fixed_policy_drafts_everything_available() {
        let mut p = DraftPolicy::new(false);
        for _ in 0..20 {
            p.verified(2, 8, 0);
        }
        assert_eq!(p.draft_len(2, 8), 8);
        assert_eq!(p.draft_len(2, 0), 0);
    }

    #[test]
    fn drafts_that_are_always_accepted_run_to_the_limit_when_tokens_are_cheap() {
        let mut p = timed(1.0);
        for _ in 0..30 {
            p.verified(4, 8, 8);
        }
        assert!(p.acceptance(4) > 0.95, "{}", p.acceptance(4));
        assert_eq!(p.draft_len(4, 8), 8);
        assert_eq!(p.draft_len(4, 3), 3);
    }

    #[test]
    fn drafts_that_are_mostly_rejected_stop() {
        let mut p = timed(3.0);
        for _ in 0..30 {
            p.verified(2, 4, 0);
        }
        assert!(p.acceptance(2) < 0.2, "{}", p.acceptance(2));
        assert!((0..2 * PROBE_EVERY).all(|_| p.draft_len(2, 8) == 0));
        // Another match length keeps its own estimate.
        assert!(p.draft_len(4, 8) > 0);
    }

    #[test]
    fn a_declined_draft_model_is_probed() {
        let mut p = timed(3.0);
        for _ in 0..30 {
            p.verified(0, 4, 0);
        }
        let lens: Vec<usize> = (0..2 * PROBE_EVERY).map(|_| p.draft_len(0, 8)).collect();
        assert_eq!(lens.iter().filter(|&&k| k == 1).count(), 2, "{lens:?}");
        assert!(lens.iter().all(|&k| k <= 1), "{lens:?}");
    }

    #[test]
    fn the_draft_shortens_as_batched_tokens_get_dearer() {
        let mut lens = Vec::new();
        for extra in [0.5, 2.0, 4.0, 7.0] {
            let mut p = timed(extra);
            for _ in 0..30 {
                // Seven of ten drafts accepted, one after another.
                p.verified(3, 10, 7);
            }
            lens.push(p.draft_len(3, 8));
        }
        assert!(lens.windows(2).all(|w| w[0] >= w[1]), "{lens:?}");
        assert!(lens[0] >= 4 && lens[3] <= 1, "{lens:?}");
    }

    #[test]
    fn a_nearly_free_second_token_is_used_where_a_third_is_dear() {
        // Kernels that tile tokens by two: a pass of 2 costs 11 ms, of 3 to 8 about 22 ms.
        let mut p = DraftPolicy::new(true);
        p.timed_pass(1, 0.010);
        p.timed_pass(2, 0.011);
        for n in 3..=9 {
            p.timed_pass(n, 0.022);
        }
        for _ in 0..30 {
            // Two of three accepted.
            p.verified(3, 10, 2);
        }
        assert_eq!(p.draft_len(3, 8), 1);
        // Drafts that are nearly always right pay for the dear passes.
        for _ in 0..30 {
            p.verified(4, 8, 8);
        }
        assert_eq!(p.draft_len(4, 8), 8);
    }

    #[test]
    fn untimed_sizes_are_estimated_from_the_nearest_smaller_one_and_get_tried() {
        let mut p = DraftPolicy::new(true);
        p.timed_pass(1, 0.010);
        p.timed_pass(2, 0.030);
        // 3 tokens: 30 ms + 2.5 ms; 1 draft costs 3x a plain pass.
        assert!((p.pass_secs(3, 0.010) - 0.0325).abs() < 1e-9);
        assert!((p.pass_secs(40, 0.010) - (0.030 + 38.0 * 0.0025)).abs() < 1e-9);
        for _ in 0..30 {
            p.verified(4, 8, 8);
        }
        assert!(p.draft_len(4, 8) > 1);
    }

    #[test]
    fn a_copied_span_after_free_text_is_picked_up_within_a_few_passes() {
        let mut p = timed(1.5);
        for _ in 0..40 {
            p.verified(2, 1, 0);
        }
        assert_eq!(p.draft_len(2, 8), 0);
        // From here every draft is right: declined ones are scored as one-token checks.
        let mut passes = 0;
        loop {
            let k = p.draft_len(2, 8);
            if k >= 4 {
                break;
            }
            p.verified(2, k.max(1), k.max(1));
            passes += 1;
            assert!(passes < 8, "drafting {k} after {passes} accepted passes");
        }
    }

    #[test]
    fn the_cost_of_drafting_counts() {
        // Lookup drafts cost nothing to make; a draft model that takes as long as the target
        // cannot pay.
        let mut p = timed(1.0);
        for _ in 0..30 {
            p.verified(0, 4, 3);
        }
        assert!(p.draft_len(0, 4) >= 2);
        p.timed_draft(4, 0.040);
        assert_eq!(p.draft_len(0, 4), 0);
    }

    #[test]
    fn nonsense_timings_are_ignored() {
        let mut p = timed(1.0);
        p.timed_pass(1, f64::NAN);
        p.timed_pass(0, 1.0);
        p.timed_pass(3, -1.0);
        p.timed_pass(1000, 1.0);
        p.timed_draft(2, f64::INFINITY);
        for _ in 0..30 {
            p.verified(4, 8, 8);
        }
        assert_eq!(p.draft_len(4, 8), 8);
    }
}
