//! The HTTP layer end to end on the real SmolLM2 fixture (the smallest): the router driven
//! with `tower::ServiceExt::oneshot`, and a real listener for disconnects and shutdown.
//! Expected texts come from the engine itself (greedy decoding through a `Session`), never
//! from constants.

mod cache;
mod chat;
mod completions;
mod errors;
mod hardening;
mod ledger;
mod messages;
mod messages_routing;
mod messages_tools_routing;
mod monitor;
mod openai_remote;
mod pool;
mod routing;
mod serving;
mod support;
mod tools;
mod tools_routing;
