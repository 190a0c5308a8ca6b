//! `hearth-sampler`: turns a logits vector into the next token.
//!
//! - [`SamplingParams`]: temperature, top-k, top-p, min-p, repetition / frequency / presence
//!   penalties, logit bias, seed, logprobs. Defaults are llama.cpp's; [`SamplingParams::greedy`].
//! - [`Sampler`]: owns the RNG (MT19937, as llama.cpp, so seeded runs repeat everywhere), the
//!   penalty history and scratch; runs llama.cpp's default chain
//!   `logit_bias → penalties → top_k → top_p → min_p → temperature → dist` (argmax when
//!   `temperature <= 0`) in O(vocab) without allocating once warm.
//!   [`Sampler::sample_masked`] and [`Sampler::sample_with_bitmask`] serve grammar
//!   constraints: sample first, mask only when the token is rejected.
//! - [`Sampled`]: the token and its log-probabilities (OpenAI `logprobs`).
//! - [`StopMatcher`]: stop strings over decoded text, holding back a possible partial match.
//!
//! The crate knows nothing of models or tokenizers. The generation loop:
//!
//! ```
//! use hearth_sampler::{Sampler, SamplingParams, StopMatcher};
//!
//! let n_vocab = 4;
//! let params = SamplingParams { seed: Some(42), ..SamplingParams::default() };
//! let mut sampler = Sampler::new(params, n_vocab)?;
//! let mut stop = StopMatcher::new(["\n\n"])?;
//! let mut out = String::new();
//! for step in 0..8 {
//!     let logits = vec![0.5, 1.0, 0.25, step as f32 * 0.1]; // from the model
//!     let next = sampler.sample(&logits);
//!     sampler.accept(next.token); // also feed the prompt's tokens, for the penalties
//!     let piece = ["a", "b", "\n", " "][next.token as usize]; // from the tokenizer
//!     let state = stop.push(piece);
//!     out.push_str(&state.emit);
//!     if state.stopped.is_some() {
//!         break;
//!     }
//! }
//! out.push_str(&stop.finish());
//! # Ok::<(), hearth_sampler::SamplerError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod params;
mod penalties;
mod rng;
mod sampler;
mod select;
mod softmax;
mod stop;

pub use error::SamplerError;
pub use params::SamplingParams;
pub use sampler::{Sampled, Sampler, bitmask_allows};
pub use softmax::{logsumexp, softmax};
pub use stop::{StopMatcher, StopState};
