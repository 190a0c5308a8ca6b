//! Grammar-constrained generation on the real Qwen2.5-Coder-0.5B fixture: the JSON Schema
//! corpus (every output must parse and validate), regex, Lark and choices, sampling with
//! temperature and penalties, forced tokens, length cut-offs and errors.

mod cases;
mod corpus;

use std::sync::OnceLock;

use hearth_engine::{Engine, EngineOptions, Message, Prompt, Request, SamplingParams};

/// The engine on the Qwen 0.5B fixture (loaded once for the binary), or `None` (skip) when
/// the fixture is not fetched.
pub fn engine() -> Option<&'static Engine> {
    static ENGINE: OnceLock<Option<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let path = hearth_testkit::model(hearth_testkit::QWEN_05B)?;
            Some(
                Engine::load(
                    path,
                    EngineOptions { threads: 2, n_ctx: 1024, n_batch: 128, ..Default::default() },
                )
                .expect("load qwen"),
            )
        })
        .as_ref()
}

/// The system prompt of every extraction request (shared, so sessions reuse its cache).
pub const SYSTEM: &str = "You are a data extraction assistant. Answer with JSON only.";

/// A greedy chat request: [`SYSTEM`], then `user`.
pub fn chat(user: &str, max_tokens: usize) -> Request {
    let mut r =
        Request::new(Prompt::Messages(vec![Message::new("system", SYSTEM), Message::new("user", user)]));
    r.sampling = SamplingParams::greedy();
    r.max_tokens = max_tokens;
    r
}
