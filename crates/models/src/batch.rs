//! What one forward pass processes: chunks of tokens from one or more sequences.

use crate::KvCache;

/// Which logits a sequence wants back from a forward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logits {
    /// None (a prefill chunk that is not the last).
    None,
    /// The last token's (prefill end, decode).
    Last,
    /// Every token's (speculative verification, perplexity).
    All,
}

/// New tokens of one sequence, appended at the end of its cache.
#[derive(Debug)]
pub struct SeqInput<'a> {
    /// Token ids, in order; their positions continue from `cache.len()`.
    pub tokens: &'a [u32],
    /// The sequence's cache; grows by `tokens.len()`.
    pub cache: &'a mut KvCache,
    /// Which logits to return.
    pub logits: Logits,
}

impl<'a> SeqInput<'a> {
    /// A chunk of `tokens` for `cache`, returning `logits`.
    pub fn new(tokens: &'a [u32], cache: &'a mut KvCache, logits: Logits) -> Self {
        SeqInput { tokens, cache, logits }
    }

    /// Number of logit rows this input produces.
    pub fn n_logits(&self) -> usize {
        match self.logits {
            Logits::None => 0,
            Logits::Last => usize::from(!self.tokens.is_empty()),
            Logits::All => self.tokens.len(),
        }
    }
}
