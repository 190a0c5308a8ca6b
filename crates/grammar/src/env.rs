//! [`TokenEnv`]: the token environment llguidance works in, built from hearth's own GGUF
//! tokenizer, so constraints work for every model with no `tokenizer.json`.

use std::sync::Arc;

use hearth_tokenizer::{Specials, Tokenizer};
use llguidance::toktrie::{TokRxInfo, TokTrie, TokenId, TokenizerEnv};

use crate::GrammarError;

/// Short texts whose tokenization must round-trip byte for byte for the tokenizer to count as
/// canonical (SentencePiece vocabularies that prepend a space to every text do not).
const CANONICAL_PROBES: [&str; 5] = ["a", "{\"", " x", "\": 12", "true}"];

/// The vocabulary as llguidance sees it: one byte string per token id, in a [`TokTrie`].
///
/// - Token `id < n_vocab` of the model: the bytes hearth's tokenizer gives it
///   ([`Tokenizer::token_bytes`]).
/// - Control and unknown tokens (and every end-of-generation token) are marked special with
///   toktrie's `0xFF` prefix (`"\xFF<|im_end|>"`), so no grammar over text can produce them.
/// - Unused tokens and the model's padding rows past the tokenizer's vocabulary get no bytes:
///   no grammar ever allows them.
/// - The end-of-generation ids (end-of-turn first) are the trie's EOS set: any of them ends a
///   generation the grammar accepts.
///
/// Tokenizing for llguidance (forced tokens) runs hearth's tokenizer, checked to round-trip;
/// when it would not (a vocabulary that prepends a space), the trie's greedy tokenization is
/// used and the environment reports itself non-canonical, which turns off token forcing.
pub(crate) struct TokenEnv {
    tokenizer: Arc<Tokenizer>,
    trie: TokTrie,
    canonical: bool,
}

impl std::fmt::Debug for TokenEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEnv")
            .field("vocab_size", &self.trie.vocab_size())
            .field("eos_tokens", &self.trie.eos_tokens())
            .field("canonical", &self.canonical)
            .finish_non_exhaustive()
    }
}

impl TokenEnv {
    /// The environment for `tokenizer` and a model with `n_vocab` logits (the larger of the
    /// two sizes is used, so that a mask covers every logit).
    pub(crate) fn new(tokenizer: Arc<Tokenizer>, n_vocab: usize) -> Result<TokenEnv, GrammarError> {
        let n = n_vocab.max(tokenizer.n_vocab());
        let n32 = u32::try_from(n)
            .map_err(|_| GrammarError::Setup(format!("vocabulary of {n} tokens is too large")))?;
        let eos = end_tokens(&tokenizer);
        let Some(&first_eos) = eos.first() else {
            return Err(GrammarError::NoEndToken);
        };
        let words: Vec<Vec<u8>> = (0..n32).map(|id| token_word(&tokenizer, id)).collect();
        let info = TokRxInfo {
            vocab_size: n32,
            tok_eos: first_eos,
            tok_bos: tokenizer.bos(),
            tok_pad: tokenizer.special_tokens().pad,
            tok_unk: tokenizer.special_tokens().unk,
            tok_end_of_turn: tokenizer.eot(),
        };
        // TokTrie asserts its invariants; a vocabulary that breaks them is a setup error,
        // not a crash.
        let trie = std::panic::catch_unwind(|| TokTrie::from(&info, &words).with_eos_tokens(&eos))
            .map_err(|_| GrammarError::Setup("the token trie rejected this vocabulary".into()))?;
        let mut env = TokenEnv { tokenizer, trie, canonical: false };
        env.canonical = CANONICAL_PROBES.iter().all(|p| env.encode_exact(p).is_some());
        Ok(env)
    }

    /// hearth's tokenization of `s` when it spells exactly `s`.
    fn encode_exact(&self, s: &str) -> Option<Vec<TokenId>> {
        let ids = self.tokenizer.encode(s, Specials::NONE);
        let mut pos = 0;
        for &id in &ids {
            let b = self.trie.token(id);
            if (id as usize) >= self.trie.vocab_size() || !s.as_bytes()[pos..].starts_with(b) || b.is_empty()
            {
                return None;
            }
            pos += b.len();
        }
        (pos == s.len()).then_some(ids)
    }
}

impl TokenizerEnv for TokenEnv {
    fn tok_trie(&self) -> &TokTrie {
        &self.trie
    }

    fn tokenize_bytes(&self, s: &[u8]) -> Vec<TokenId> {
        self.trie.tokenize_with_greedy_fallback(s, |text| {
            self.encode_exact(text).unwrap_or_else(|| self.trie.greedy_tokenize(text.as_bytes()))
        })
    }

    fn tokenize_is_canonical(&self) -> bool {
        self.canonical
    }
}

/// The end-of-generation ids, end-of-turn first (what a chat model emits after its answer),
/// then EOS, then the rest.
fn end_tokens(tok: &Tokenizer) -> Vec<u32> {
    let n = tok.n_vocab() as u32;
    let mut out: Vec<u32> = Vec::new();
    for id in [tok.eot(), tok.eos()].into_iter().flatten().chain(tok.eog_ids().iter().copied()) {
        if id < n && !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The trie entry of one token.
fn token_word(tok: &Tokenizer, id: u32) -> Vec<u8> {
    if id as usize >= tok.n_vocab() {
        return Vec::new();
    }
    let bytes = tok.token_bytes(id);
    if bytes.is_empty() {
        return Vec::new();
    }
    if tok.is_special(id) || tok.is_eog(id) {
        let mut w = Vec::with_capacity(bytes.len() + 1);
        w.push(TokTrie::SPECIAL_TOKEN_MARKER);
        w.extend_from_slice(bytes);
        return w;
    }
    bytes.to_vec()
}
