//! `hearth-grammar`: structured output — generation constrained to a JSON Schema, a regular
//! expression, a Lark grammar or a list of choices — on [llguidance].
//!
//! - [`Constraint`]: what the output must be (`JsonObject`, `JsonSchema`, `Regex`, `Lark`,
//!   `Choices`).
//! - [`GrammarCompiler`]: one per loaded model. Builds llguidance's token trie from hearth's
//!   own GGUF tokenizer (special tokens marked, end-of-generation ids as the end set), so
//!   constraints work for every model without a `tokenizer.json`; holds the shared
//!   `ParserFactory` with work limits ([`default_limits`]) for schemas from untrusted users.
//!   JSON Schema keywords that cannot be enforced are errors naming the keyword, never
//!   silently dropped.
//! - [`Matcher`]: one per generation: [`Matcher::allows`] (check a sampled token, cheap),
//!   [`Matcher::compute_mask`] (the full bitmask, only when the check failed),
//!   [`Matcher::consume`], [`Matcher::consume_forced`] (tokens the grammar leaves no choice
//!   about), [`Matcher::is_finished`].
//!
//! The sampling loop (the engine runs it in `SeqState`):
//!
//! ```
//! use std::sync::Arc;
//! use hearth_grammar::{Constraint, GrammarCompiler};
//! # let Some(path) = hearth_testkit::model(hearth_testkit::QWEN_05B) else { return Ok(()) };
//! # let file = hearth_gguf::GgufFile::open(&path)?;
//! # let tokenizer = Arc::new(hearth_tokenizer::Tokenizer::from_gguf(file.metadata())?);
//! let compiler = GrammarCompiler::new(tokenizer.clone(), tokenizer.n_vocab())?; // once per model
//! let mut m = compiler.compile(&Constraint::Choices(vec!["yes".into(), "no".into()]))?;
//! let mut out = Vec::new();
//! let model_wants = tokenizer.encode("no", hearth_tokenizer::Specials::NONE); // stands in for the sampler
//! for &sampled in &model_wants {
//!     let token = if m.allows(sampled)? {
//!         sampled
//!     } else {
//!         let mask = m.compute_mask()?; // resample under the mask (Sampler::sample_with_bitmask)
//!         (0..mask.len() as u32 * 32).find(|&t| mask[t as usize / 32] >> (t % 32) & 1 == 1).unwrap()
//!     };
//!     m.consume(token)?;
//!     out.push(token);
//!     out.extend(m.consume_forced()?); // fed to the model in one forward pass, no sampling
//!     if m.is_finished() {
//!         break;
//!     }
//! }
//! assert_eq!(tokenizer.decode(&out, false), "no");
//! assert!(m.is_finished() || m.is_accepting()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [llguidance]: https://github.com/guidance-ai/llguidance
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod compiler;
mod constraint;
mod env;
mod error;
mod formats;
mod limits;
mod matcher;
mod schema_check;

pub use compiler::{GrammarCompiler, MAX_CONSTRAINT_BYTES, default_limits};
pub use constraint::Constraint;
pub use constraint::check_json_schema;
pub use error::GrammarError;
pub use formats::{KNOWN_FORMATS, UnknownFormat, drop_unknown_formats, unknown_formats};
pub use limits::MAX_FORCED_RUN;
pub use llguidance::api::ParserLimits;
pub use matcher::{Matcher, MatcherStats};
