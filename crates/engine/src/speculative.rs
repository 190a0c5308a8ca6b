//! Speculative decoding: cheap guesses of the next tokens, verified in one batched forward
//! pass of the real model, so several tokens cost about one pass over the weights.
//!
//! Drafts come from the text itself ([`Speculation::NGram`], "prompt lookup": when the last
//! few tokens appeared before, guess that what followed them then follows again — strong on
//! extraction and code edits, where the output copies the input) or from a small model with
//! the same vocabulary ([`Speculation::DraftModel`], e.g. Qwen2.5-Coder-0.5B for 7B).
//!
//! Verification keeps the output identical to plain decoding, greedy or sampled: position i
//! of the verified batch is sampled from the target's logits exactly as plain decoding would
//! (same sampler, same RNG draw); the draft only decides how many positions one pass covers.
//! A draft token is kept when the sampled token equals it; the first disagreement ends the
//! run, and the sampled token there is used (it is what plain decoding would have produced).
//!
//! How many drafts a pass carries is [`DraftPolicy`]'s choice, from the acceptance and the
//! pass costs measured so far ([`DraftLength::Adaptive`], the default), or always as many as
//! are available ([`DraftLength::Fixed`]).

use std::time::Instant;

use hearth_models::{Logits, Scratch};

use crate::draft_policy::DraftPolicy;

use crate::token_cache::TokenCache;
use crate::{Engine, EngineError};

/// Where draft tokens come from.
#[derive(Clone, Debug)]
pub enum Speculation {
    /// Prompt lookup: find the most recent earlier occurrence of the last `max_match`
    /// (down to `min_match`) tokens and propose the up to `max_draft` tokens that followed.
    NGram {
        /// Longest suffix to look up.
        max_match: usize,
        /// Shortest suffix to look up.
        min_match: usize,
        /// Most tokens proposed per step.
        max_draft: usize,
    },
    /// A smaller model with the same vocabulary proposes `max_draft` greedy tokens.
    DraftModel {
        /// The draft model.
        engine: Engine,
        /// Most tokens proposed per step.
        max_draft: usize,
    },
}

impl Speculation {
    /// The longest run of last tokens [`Speculation::ngram`] looks up (the CLI's default).
    pub const NGRAM_MAX_MATCH: usize = 4;
    /// The shortest run that may propose a draft in [`Speculation::ngram`] (the CLI's default).
    pub const NGRAM_MIN_MATCH: usize = 1;
    /// Most drafts per verification pass in [`Speculation::ngram`] (the CLI's default).
    pub const MAX_DRAFT: usize = 8;

    /// Prompt lookup matching the last 4 down to 1 tokens, drafting up to 8. (A one-token
    /// match drafts worse than a longer one, but the policy scores each match length apart,
    /// so its drafts are verified only while they pay.)
    pub fn ngram() -> Speculation {
        Speculation::NGram {
            max_match: Self::NGRAM_MAX_MATCH,
            min_match: Self::NGRAM_MIN_MATCH,
            max_draft: Self::MAX_DRAFT,
        }
    }
}

/// How many draft tokens a verification pass carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DraftLength {
    /// As many as pay off, from the acceptance rate (per n-gram match length) and the cost of
    /// a batched token measured so far; none while drafts lose time.
    #[default]
    Adaptive,
    /// Always the most available (up to `max_draft`).
    Fixed,
}

/// Proposes drafts; owns the draft model's cache when there is one.
#[derive(Debug)]
pub(crate) struct Drafter {
    spec: Speculation,
    draft: Option<DraftState>,
    policy: DraftPolicy,
    /// The proposal of the pass being run: (match length, drafts).
    proposed: Option<(usize, usize)>,
    /// A declined lookup draft, scored against the token that comes next: (match length,
    /// history length and last token when it was proposed, its first token).
    shadow: Option<(usize, usize, u32, u32)>,
}

#[derive(Debug)]
struct DraftState {
    cache: TokenCache,
    scratch: Scratch,
}

impl Drafter {
    pub(crate) fn new(
        spec: Speculation,
        length: DraftLength,
        target: &Engine,
    ) -> Result<Drafter, EngineError> {
        let draft = match &spec {
            Speculation::NGram { min_match, max_match, max_draft } => {
                if *min_match == 0 || min_match > max_match || *max_draft == 0 {
                    return Err(EngineError::Invalid(
                        "n-gram speculation needs 0 < min_match <= max_match and max_draft > 0".into(),
                    ));
                }
                None
            }
            Speculation::DraftModel { engine, max_draft } => {
                if *max_draft == 0 {
                    return Err(EngineError::Invalid("max_draft must be at least 1".into()));
                }
                let (a, b) = (engine.model().config().n_vocab, target.model().config().n_vocab);
                let (ta, tb) = (engine.tokenizer(), target.tokenizer());
                let same = (0..a.min(b).min(ta.n_vocab()).min(tb.n_vocab()) as u32)
                    .all(|i| ta.token_bytes(i) == tb.token_bytes(i));
                if !same {
                    return Err(EngineError::Invalid(
                        "the draft model's vocabulary differs from the target's".into(),
                    ));
                }
                Some(DraftState {
                    cache: TokenCache::new(engine.model().new_cache(target.n_ctx())),
                    scratch: Scratch::new(),
                })
            }
        };
        let policy = DraftPolicy::new(length == DraftLength::Adaptive);
        Ok(Drafter { spec, draft, policy, proposed: None, shadow: None })
    }

    /// Records how the pass that carried the last proposal went: `n` tokens in it, `secs` of
    /// wall time, `accepted` drafts kept.
    pub(crate) fn observe(&mut self, n: usize, secs: f64, accepted: usize) {
        if let Some((m, k)) = self.proposed.take() {
            self.policy.verified(m, k, accepted);
        }
        self.policy.timed_pass(n, secs);
    }

    /// Scores a declined lookup draft against what followed it.
    fn score_shadow(&mut self, history: &[u32]) {
        if let Some((m, at, last, guess)) = self.shadow.take()
            && at > 0
            && history.len() > at
            && history[at - 1] == last
        {
            self.policy.verified(m, 1, usize::from(history[at] == guess));
        }
    }

    /// Up to `limit` draft tokens continuing `history` (prompt + generated, the last one
    /// not yet run through the target), into `out`.
    pub(crate) fn propose(
        &mut self,
        history: &[u32],
        limit: usize,
        out: &mut Vec<u32>,
    ) -> Result<(), EngineError> {
        out.clear();
        self.proposed = None;
        self.score_shadow(history);
        match (&self.spec, &mut self.draft) {
            (Speculation::NGram { max_match, min_match, max_draft }, _) => {
                let m = ngram_lookup(history, *min_match, *max_match, (*max_draft).min(limit), out);
                if out.is_empty() {
                    return Ok(());
                }
                let k = self.policy.draft_len(m, out.len());
                if k == 0 {
                    self.shadow = history.last().map(|&last| (m, history.len(), last, out[0]));
                }
                out.truncate(k);
                self.proposed = Some((m, k));
                Ok(())
            }
            (Speculation::DraftModel { engine, max_draft }, Some(d)) => {
                let room = d.cache.capacity().saturating_sub(history.len());
                let k = self.policy.draft_len(0, (*max_draft).min(limit).min(room));
                if k == 0 {
                    return Ok(());
                }
                let started = Instant::now();
                // Bring the draft cache to `history`, then extend it greedily by k tokens.
                let common = d.cache.reuse_prefix(history);
                let mut next = history[common..].to_vec();
                for _ in 0..k {
                    let input = d.cache.input(&next, Logits::Last);
                    let logits = match engine.model().forward(engine.pool(), &mut [input], &mut d.scratch) {
                        Ok(l) => l,
                        Err(e) => {
                            d.cache.rollback();
                            return Err(e.into());
                        }
                    };
                    let best = argmax(logits);
                    d.cache.commit(&next);
                    out.push(best);
                    next.clear();
                    next.push(best);
                }
                self.policy.timed_draft(k, started.elapsed().as_secs_f64());
                self.proposed = Some((0, k));
                Ok(())
            }
            (Speculation::DraftModel { .. }, None) => Ok(()),
        }
    }
}

fn argmax(x: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best as u32
}

/// The tokens that followed the most recent earlier occurrence of `history`'s last n tokens
/// (n from `max_n` down to `min_n`), at most `k` of them. Returns n (0: no match).
pub(crate) fn ngram_lookup(
    history: &[u32],
    min_n: usize,
    max_n: usize,
    k: usize,
    out: &mut Vec<u32>,
) -> usize {
    out.clear();
    let len = history.len();
    for n in (min_n..=max_n.min(len.saturating_sub(1))).rev() {
        let pattern = &history[len - n..];
        // Most recent match that is not the suffix itself.
        let found = (0..len - n).rev().find(|&i| &history[i..i + n] == pattern);
        if let Some(i) = found {
            let start = i + n;
            out.extend_from_slice(&history[start..(start + k).min(len)]);
            if !out.is_empty() {
                return n;
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::ngram_lookup;

    #[test]
    fn lookup_proposes_what_followed_the_latest_match() {
        let h = [1, 2, 3, 4, 5, 9, 2, 3, 4, 7, 8, 2, 3, 4];
        let mut out = Vec::new();
        assert_eq!(ngram_lookup(&h, 2, 3, 3, &mut out), 3);
        assert_eq!(out, vec![7, 8, 2]);
        assert_eq!(ngram_lookup(&[1, 2, 3], 2, 4, 3, &mut out), 0);
        assert!(out.is_empty());
        assert_eq!(ngram_lookup(&[5, 6, 5], 1, 2, 4, &mut out), 1);
        assert_eq!(out, vec![6, 5]);
    }
}
