//! [`TokenCache`]: a KV cache together with the tokens whose keys and values it holds.

use hearth_models::{KvCache, Logits, SeqInput};

use crate::prompt::reusable_prefix;

/// A KV cache and the tokens in it. The invariant `kv.len() == tokens.len()` holds between
/// forward passes: a pass that fails is rolled back with [`TokenCache::rollback`].
#[derive(Debug)]
pub(crate) struct TokenCache {
    kv: KvCache,
    tokens: Vec<u32>,
}

impl TokenCache {
    pub(crate) fn new(kv: KvCache) -> TokenCache {
        TokenCache { kv, tokens: Vec::new() }
    }

    /// The tokens in the cache.
    pub(crate) fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    pub(crate) fn len(&self) -> usize {
        self.tokens.len()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.kv.capacity()
    }

    /// Positions still free.
    pub(crate) fn room(&self) -> usize {
        self.kv.capacity().saturating_sub(self.tokens.len())
    }

    /// Keeps the longest cached prefix that can serve `prompt` and drops the rest; returns
    /// its length.
    pub(crate) fn reuse_prefix(&mut self, prompt: &[u32]) -> usize {
        let keep = reusable_prefix(&self.tokens, prompt);
        self.truncate(keep);
        keep
    }

    /// Keeps the first `n` tokens.
    pub(crate) fn truncate(&mut self, n: usize) {
        self.kv.truncate(n);
        self.tokens.truncate(n);
    }

    pub(crate) fn clear(&mut self) {
        self.truncate(0);
    }

    /// Makes this cache hold `prompt[..n]`, whose first `keep` positions it already holds,
    /// copying positions `keep..n` from `donor` (which holds at least `prompt[..n]`).
    pub(crate) fn copy_prefix_from(&mut self, donor: &TokenCache, keep: usize, n: usize) {
        debug_assert!(self.tokens.len() >= keep && donor.tokens.len() >= n);
        self.kv.copy_prefix(&donor.kv, keep, n);
        self.tokens.clear();
        self.tokens.extend_from_slice(&donor.tokens[..n]);
    }

    /// The model input that appends `tokens` to this cache.
    pub(crate) fn input<'a>(&'a mut self, tokens: &'a [u32], logits: Logits) -> SeqInput<'a> {
        SeqInput::new(tokens, &mut self.kv, logits)
    }

    /// Records that a forward pass appended `tokens`.
    pub(crate) fn commit(&mut self, tokens: &[u32]) {
        self.tokens.extend_from_slice(tokens);
        debug_assert_eq!(self.kv.len(), self.tokens.len());
    }

    /// Forgets whatever a failed forward pass left in the KV cache.
    pub(crate) fn rollback(&mut self) {
        self.kv.truncate(self.tokens.len());
    }
}
