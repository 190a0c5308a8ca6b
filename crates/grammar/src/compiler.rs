//! [`GrammarCompiler`]: one per loaded model; turns [`Constraint`]s into [`Matcher`]s.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use hearth_tokenizer::Tokenizer;
use llguidance::ParserFactory;
use llguidance::api::ParserLimits;
use llguidance::toktrie::TokEnv;

use crate::env::TokenEnv;
use crate::{Constraint, GrammarError, Matcher};

/// Largest constraint text accepted (a serialized schema, a regex, a Lark grammar).
pub const MAX_CONSTRAINT_BYTES: usize = 1 << 20;

/// The work bounds hearth sets on every grammar: constraints come from API users, so a
/// hostile schema must fail fast rather than stall the engine. Each bound stops one kind of
/// runaway (llguidance's defaults, made explicit, with terse errors).
pub fn default_limits() -> ParserLimits {
    ParserLimits {
        // Earley items in one row: the grammar's branching factor.
        max_items_in_row: 2_000,
        // Lexer work to build the initial regexes (~50k/ms: about 20 ms).
        initial_lexer_fuel: 1_000_000,
        // Lexer work for one token mask (~14k/ms: about 15 ms).
        step_lexer_fuel: 200_000,
        // Earley items created for one token mask (~20k/ms: about 2.5 ms).
        step_max_items: 50_000,
        // Lexer states kept (~1-2 kB each).
        max_lexer_states: 250_000,
        // Symbols in the grammar's productions (a few MB of JSON Schema).
        max_grammar_size: 500_000,
        precompute_large_lexemes: true,
        // Errors name the problem, not the whole grammar and token history.
        verbose_errors: false,
    }
}

/// Compiles constraints for one vocabulary. Build it once per loaded model (building the
/// token trie over the vocabulary takes tens of milliseconds) and share it: it is cheap to
/// clone, `Send + Sync`, and every [`Matcher`] it makes shares its token trie.
#[derive(Clone)]
pub struct GrammarCompiler {
    factory: Arc<ParserFactory>,
    n_vocab: usize,
}

impl std::fmt::Debug for GrammarCompiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrammarCompiler")
            .field("n_vocab", &self.n_vocab)
            .field("limits", self.factory.limits())
            .finish_non_exhaustive()
    }
}

impl GrammarCompiler {
    /// A compiler for `tokenizer` and a model with `n_vocab` logits, with
    /// [`default_limits`].
    pub fn new(tokenizer: Arc<Tokenizer>, n_vocab: usize) -> Result<GrammarCompiler, GrammarError> {
        GrammarCompiler::with_limits(tokenizer, n_vocab, default_limits())
    }

    /// A compiler with explicit work limits.
    pub fn with_limits(
        tokenizer: Arc<Tokenizer>,
        n_vocab: usize,
        limits: ParserLimits,
    ) -> Result<GrammarCompiler, GrammarError> {
        let env: TokEnv = Arc::new(TokenEnv::new(tokenizer, n_vocab)?);
        let n_vocab = env.tok_trie().vocab_size();
        let mut factory =
            ParserFactory::new_simple(&env).map_err(|e| GrammarError::Setup(format!("{e:#}")))?;
        factory.quiet();
        *factory.limits_mut() = limits;
        Ok(GrammarCompiler { factory: Arc::new(factory), n_vocab })
    }

    /// Number of tokens a mask covers (the larger of the model's and the tokenizer's sizes).
    pub fn n_vocab(&self) -> usize {
        self.n_vocab
    }

    /// The end-of-generation ids the grammars accept as the end.
    pub fn end_tokens(&self) -> &[u32] {
        self.factory.tok_env().tok_trie().eos_tokens()
    }

    /// True when forced tokens are computed by hearth's tokenizer (false for vocabularies
    /// whose tokenization does not round-trip; constraints still hold, but no token is
    /// forced).
    pub fn forces_tokens(&self) -> bool {
        self.factory.tok_env().tokenize_is_canonical()
    }

    /// Compiles `constraint` into a fresh matcher at the start of the output.
    ///
    /// Errors: the constraint is malformed, uses a JSON Schema keyword that cannot be
    /// enforced, would be enforced only partly, admits no output, or is over the size or
    /// work limits ([`MAX_CONSTRAINT_BYTES`], [`crate::MAX_FORCED_RUN`], [`default_limits`]).
    /// The first generation step is computed here, so that these surface now rather than
    /// while generating; every error but [`GrammarError::Setup`]-like ones is the caller's
    /// ([`GrammarError::is_client_error`]).
    pub fn compile(&self, constraint: &Constraint) -> Result<Matcher, GrammarError> {
        let len = constraint.text_len();
        if len > MAX_CONSTRAINT_BYTES {
            return Err(GrammarError::TooLarge { len, max: MAX_CONSTRAINT_BYTES });
        }
        let grammar = constraint.to_grammar()?;
        // llguidance turns panics inside the parser into errors; do the same for compiling.
        let parser =
            llguidance::panic_utils::catch_unwind(AssertUnwindSafe(|| self.factory.create_parser(grammar)))
                .map_err(|e| constraint.error(&format!("{e:#}")))?;
        let mut inner = llguidance::Matcher::new(Ok(parser));
        if let Some(e) = inner.get_error() {
            return Err(constraint.error(&e));
        }
        let warnings = inner.grammar_warnings();
        if !warnings.is_empty() {
            return Err(GrammarError::NotEnforced(warnings.join("; ")));
        }
        // llguidance builds lazily: take the first step now, on the compiling thread (the
        // server compiles off the engine thread), so that a grammar that admits no output
        // (`{"$ref": "#"}`) or whose first step is over the work limits is refused here, not
        // in the middle of a generation. The first mask is computed on the matcher itself
        // (the engine's first step reuses it); the forced tokens and the mask after them on
        // a clone (consuming them is what reports a work limit hit while forcing).
        let first = inner.compute_mask();
        let admits_nothing = first.as_ref().is_ok_and(|mask| mask.is_zero());
        if let Some(e) = inner.get_error() {
            return Err(constraint.error(&e));
        }
        if let Err(e) = first {
            return Err(constraint.error(&format!("{e:#}")));
        }
        if admits_nothing {
            return Err(GrammarError::Unsatisfiable("no token can start the output".into()));
        }
        let mut probe = inner.clone();
        probe.consume_ff_tokens();
        if !probe.is_stopped() {
            let _ = probe.compute_mask();
        }
        if let Some(e) = probe.get_error() {
            return Err(constraint.error(&e));
        }
        Ok(Matcher::new(inner, self.n_vocab))
    }
}
