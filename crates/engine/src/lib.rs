//! `hearth-engine`: text generation on top of [`hearth_models`].
//!
//! - [`Engine`]: a loaded model with tokenizer, chat template and thread pool; cheap to clone.
//! - [`Session`]: one conversation with its own KV cache; consecutive requests reuse the
//!   cached prefix they share.
//! - [`Request`] → [`Generation`] (an iterator of [`TokenEvent`]s) → [`Completion`].
//! - [`Scheduler`]: the serving engine — one thread owning a slot per concurrent sequence,
//!   batching their forward passes; requests are prepared on the caller's thread
//!   ([`PromptIds`], compiled constraints) and their events go to a [`Sink`].
//!
//! Inside, one `Sequence` type (`sequence.rs`) owns a KV cache, the tokens in it and the request
//! it serves (prompt progress, unfed tokens, sampling/grammar/stop state, timings); the
//! session drives one synchronously, the scheduler one per slot.
//!
//! ```
//! use hearth_engine::{Engine, EngineOptions, Prompt, Request};
//! # let Some(path) = hearth_testkit::model(hearth_testkit::SMOLLM2_135M) else { return Ok(()) };
//! let engine = Engine::load(&path, EngineOptions { threads: 2, ..Default::default() })?;
//! let mut session = engine.session();
//!
//! let mut req = Request::new(Prompt::text("The capital of France is"));
//! req.sampling = hearth_sampler::SamplingParams::greedy();
//! req.max_tokens = 8;
//!
//! // stream tokens as they come (break out of the loop to cancel) ...
//! let mut text = String::new();
//! for event in session.stream(&req)? {
//!     text.push_str(&event?.text);
//! }
//! // ... or run to the end with a callback and get the summary.
//! let done = session.generate(&req, |_| std::ops::ControlFlow::Continue(()))?;
//! assert_eq!(done.text, text);
//! assert!(done.cached_tokens > 0); // the second run reused the prompt's cache
//! # Ok::<(), hearth_engine::EngineError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod draft_policy;
mod engine;
mod error;
mod gen_state;
mod prompt;
mod request;
pub mod scheduler;
mod sequence;
mod session;
mod speculative;
mod token_cache;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use engine::{Engine, EngineOptions, MAX_THREADS};
pub use error::EngineError;
pub use hearth_chat::{FunctionCall, Message, ToolCall};
pub use hearth_grammar::{Constraint, GrammarError, MatcherStats};
pub use hearth_sampler::SamplingParams;
pub use prompt::PromptIds;
pub use request::{Completion, Prompt, Request, StopReason, TokenEvent};
pub use scheduler::{Event, Prepared, Scheduler, SchedulerOptions, Sink, SubmitError};
pub use session::{Generation, Session};
pub use speculative::{DraftLength, Speculation};

/// Cancels a generation from another thread.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Requests cancellation; the generation stops before its next token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// True once [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
