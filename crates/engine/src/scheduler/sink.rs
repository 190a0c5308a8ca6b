//! [`Sink`]: where a request's events go, and the contract between the engine thread and
//! whoever waits for them.

use crate::{Completion, EngineError, TokenEvent};

/// What a request's sink receives.
#[derive(Debug)]
pub enum Event {
    /// The request got a slot.
    Started {
        /// Prompt length in tokens.
        prompt_tokens: usize,
        /// Prompt tokens whose keys and values were reused.
        cached_tokens: usize,
    },
    /// One generated token.
    Token(TokenEvent),
    /// The request finished.
    Done(Completion),
    /// The request failed while it was being served.
    Error(EngineError),
}

/// Receives one request's events from the engine thread.
///
/// The contract:
/// - [`Sink::send`] is called on the engine thread, in this order: `Started` exactly once
///   when the request gets a slot; then zero or more `Token`s; then exactly one `Done` or
///   `Error`, after which the sink is dropped. A request that fails before it gets a slot
///   receives only `Error`.
/// - `send` returning `false` says nobody listens any more: the engine cancels the request
///   and frees its slot; it still sends the final `Done` (with `StopReason::Cancelled`),
///   which the sink may ignore.
/// - [`Sink::is_listening`] is asked while the request waits for a slot: `false` removes it
///   from the queue, freeing its place, without any event sent.
/// - Neither method may block: they run on the thread that serves every request.
pub trait Sink: Send {
    /// Delivers one event; `false` when the receiver has gone away.
    fn send(&mut self, event: Event) -> bool;

    /// Whether anyone still waits for the events (default: always).
    fn is_listening(&self) -> bool {
        true
    }
}

/// A closure is a sink that is always listening until it returns `false`.
impl<F: FnMut(Event) -> bool + Send> Sink for F {
    fn send(&mut self, event: Event) -> bool {
        self(event)
    }
}
