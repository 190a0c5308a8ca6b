//! [`Matcher`]: the state of one constrained generation, advanced token by token.

use std::time::{Duration, Instant};

use llguidance::toktrie::SimpleVob;

use crate::GrammarError;

/// Where time and work went in one matcher (for the engine's summary and the benchmarks).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MatcherStats {
    /// Sampled tokens checked with [`Matcher::allows`].
    pub checks: u64,
    /// Full masks computed with [`Matcher::compute_mask`] (checks that failed, mostly).
    pub masks: u64,
    /// Tokens the grammar forced ([`Matcher::consume_forced`]).
    pub forced: u64,
    /// Time in [`Matcher::allows`].
    pub check_time: Duration,
    /// Time in [`Matcher::compute_mask`].
    pub mask_time: Duration,
    /// Time in [`Matcher::consume`] and [`Matcher::consume_forced`].
    pub consume_time: Duration,
}

impl MatcherStats {
    /// All time spent in the matcher.
    pub fn total_time(&self) -> Duration {
        self.check_time + self.mask_time + self.consume_time
    }
}

/// One constrained output in progress: which tokens may come next, and the tokens taken.
///
/// Every method that can fail returns [`GrammarError::Matcher`] (or, for exhausted work
/// limits, [`GrammarError::TooComplex`]) once the matcher is in an error state (llguidance
/// turns its own panics and exhausted work limits into that state),
/// and keeps returning it: the generation must end. Cheap to clone (the token trie and the
/// compiled grammar are shared).
#[derive(Clone)]
pub struct Matcher {
    inner: llguidance::Matcher,
    n_vocab: usize,
    mask: SimpleVob,
    stats: MatcherStats,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("finished", &self.inner.is_stopped())
            .field("error", &self.inner.get_error())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Matcher {
    pub(crate) fn new(inner: llguidance::Matcher, n_vocab: usize) -> Matcher {
        Matcher { inner, n_vocab, mask: SimpleVob::new(), stats: MatcherStats::default() }
    }

    /// Number of tokens a mask covers.
    pub fn n_vocab(&self) -> usize {
        self.n_vocab
    }

    /// Whether the grammar accepts `token` next. For an end-of-generation token: whether the
    /// output may end here. Ids outside the vocabulary are never accepted. Costs a few
    /// microseconds: check the sampled token first, compute the mask only when this says no.
    pub fn allows(&mut self, token: u32) -> Result<bool, GrammarError> {
        if token as usize >= self.n_vocab {
            return Ok(false);
        }
        let t0 = Instant::now();
        let r = self.inner.validate_tokens(&[token]);
        self.stats.checks += 1;
        self.stats.check_time += t0.elapsed();
        Ok(r.map_err(|e| self.error(e))? == 1)
    }

    /// The tokens the grammar accepts next, as bitmask words: bit `t % 32` of word `t / 32`
    /// (the layout `hearth_sampler::Sampler::sample_with_bitmask` takes). End-of-generation
    /// tokens are set when the output may end here. Never empty: a state with no way on is
    /// an error.
    pub fn compute_mask(&mut self) -> Result<&[u32], GrammarError> {
        let t0 = Instant::now();
        let r = self.inner.compute_mask();
        self.stats.masks += 1;
        self.stats.mask_time += t0.elapsed();
        self.mask = r.map_err(|e| self.error(e))?;
        Ok(self.mask.as_slice())
    }

    /// Advances past `token`, which must be allowed. After an end-of-generation token, or
    /// when the grammar admits nothing more, [`Matcher::is_finished`] turns true.
    pub fn consume(&mut self, token: u32) -> Result<(), GrammarError> {
        if token as usize >= self.n_vocab {
            return Err(GrammarError::Matcher(format!(
                "token {token} is outside the vocabulary of {}",
                self.n_vocab
            )));
        }
        let t0 = Instant::now();
        let r = self.inner.consume_token(token);
        self.stats.consume_time += t0.elapsed();
        r.map_err(|e| self.error(e))
    }

    /// Takes the tokens the grammar forces next (where it leaves one choice, such as the
    /// rest of a property name or the closing brackets), advancing past them, and returns
    /// them; empty when the next token is a real choice. Feed them to the model in one
    /// forward pass, without sampling.
    pub fn consume_forced(&mut self) -> Result<Vec<u32>, GrammarError> {
        if self.inner.is_stopped() {
            return self.check().map(|()| Vec::new());
        }
        let t0 = Instant::now();
        let forced = self.inner.consume_ff_tokens();
        self.stats.consume_time += t0.elapsed();
        self.check()?;
        self.stats.forced += forced.len() as u64;
        Ok(forced)
    }

    /// Whether the output may end here (an end-of-generation token would be accepted).
    pub fn is_accepting(&mut self) -> Result<bool, GrammarError> {
        let r = self.inner.is_accepting();
        r.map_err(|e| self.error(e))
    }

    /// True once the grammar is complete and admits nothing more (the generation should
    /// stop: the only continuation is end-of-generation), or the matcher failed.
    pub fn is_finished(&self) -> bool {
        self.inner.is_stopped()
    }

    /// The error that stopped the matcher, if one did.
    pub fn error_message(&self) -> Option<String> {
        self.inner.get_error()
    }

    /// Counters and timings so far.
    pub fn stats(&self) -> &MatcherStats {
        &self.stats
    }

    /// `Err` when the matcher is in an error state.
    fn check(&self) -> Result<(), GrammarError> {
        match self.inner.get_error() {
            Some(e) => Err(GrammarError::from_llguidance(&e, GrammarError::Matcher)),
            None => Ok(()),
        }
    }

    /// The matcher's stored error (more precise than the one returned), else `e`; work
    /// limits hit while generating are [`GrammarError::TooComplex`].
    fn error(&self, e: impl std::fmt::Display) -> GrammarError {
        let msg = self.inner.get_error().unwrap_or_else(|| e.to_string());
        GrammarError::from_llguidance(&msg, GrammarError::Matcher)
    }
}
