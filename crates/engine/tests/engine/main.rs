//! Generation-layer tests on the real SmolLM2 fixture (the smallest): sessions, prefix reuse,
//! stop conditions, cancellation, and the batching scheduler against plain greedy decoding.

mod scheduler;
mod session;
mod speculative;

use hearth_engine::{Engine, EngineOptions, Prompt, Request, SamplingParams};

/// The engine on the SmolLM2 fixture, or `None` (skip) when it is not fetched.
pub fn engine() -> Option<Engine> {
    let path = hearth_testkit::model(hearth_testkit::SMOLLM2_135M)?;
    Some(
        Engine::load(path, EngineOptions { threads: 2, n_ctx: 512, n_batch: 64, ..Default::default() })
            .unwrap(),
    )
}

/// A greedy request for `text` with `n` tokens.
pub fn greedy(text: &str, n: usize) -> Request {
    let mut r = Request::new(Prompt::text(text));
    r.sampling = SamplingParams::greedy();
    r.max_tokens = n;
    r
}
