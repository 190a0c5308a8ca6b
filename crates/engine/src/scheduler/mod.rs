//! The serving engine: one thread that owns every sequence and runs continuous batching over
//! a fixed number of slots.
//!
//! [`Scheduler::submit`] tokenizes and validates a request's prompt and compiles its
//! constraint on the CALLER's thread (so a hostile schema or a huge prompt never stalls the
//! tokens of running requests), then queues it. The engine thread (`worker.rs`) gives each
//! request a slot — a `Sequence` (`sequence.rs`) with its KV cache — and every iteration
//! runs ONE forward pass over all busy slots: one step per decoding sequence plus chunks of
//! prompts being prefilled, so concurrent decodes share a single pass over the weights.
//! Events go back through the request's [`Sink`]; a sink that stops listening cancels its
//! request (or, while queued, gives up its queue place).
//!
//! Prefix reuse: a finished slot keeps its cache. A new request takes the idle slot whose
//! cached tokens share the longest prefix with its prompt; when another slot shares a longer
//! prefix (the same system prompt), those keys and values are copied instead of recomputed.
//! The decisions are pure functions in `admission.rs`, unit-tested without a model.

mod admission;
mod sink;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;
use std::time::Instant;

pub use sink::{Event, Sink};

use crate::gen_state::GenState;
use crate::{Engine, EngineError, PromptIds, Request};

/// Sizes of the serving engine.
#[derive(Clone, Debug)]
pub struct SchedulerOptions {
    /// Sequences generating at the same time (each has its own KV cache of `n_ctx`).
    pub slots: usize,
    /// Requests waiting for a slot, beyond those being served, before new ones are refused.
    pub max_queue: usize,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions { slots: 4, max_queue: 64 }
    }
}

/// Why a request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The queue is full; retry later.
    #[error("the server is busy: {0} requests are waiting")]
    QueueFull(usize),
    /// The engine thread has stopped.
    #[error("the engine has stopped")]
    Stopped,
    /// The request itself is invalid (its prompt, parameters or constraint).
    #[error(transparent)]
    Invalid(#[from] EngineError),
}

/// Live counters, read by the server's metrics endpoint.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests waiting for a slot.
    pub queued: AtomicUsize,
    /// Slots generating.
    pub active: AtomicUsize,
    /// Prompt tokens processed (excluding reused ones).
    pub prompt_tokens: AtomicU64,
    /// Prompt tokens reused from caches.
    pub cached_tokens: AtomicU64,
    /// Tokens generated.
    pub completion_tokens: AtomicU64,
    /// Forward passes run.
    pub forward_passes: AtomicU64,
}

/// A request made ready to run by [`Scheduler::prepare`]: prompt tokenized and validated,
/// constraint compiled.
#[derive(Debug)]
pub struct Prepared {
    prompt: PromptIds,
    state: GenState,
}

impl Prepared {
    /// The prompt's token ids.
    pub fn prompt(&self) -> &PromptIds {
        &self.prompt
    }
}

/// A queued request.
struct Job {
    prepared: Prepared,
    sink: Box<dyn Sink>,
    queued_at: Instant,
}

/// Handle to the engine thread. Dropping it stops the thread after the running requests.
#[derive(Debug)]
pub struct Scheduler {
    engine: Engine,
    tx: Option<Sender<Job>>,
    stats: Arc<Stats>,
    max_queue: usize,
    slots: usize,
    thread: Option<JoinHandle<()>>,
}

impl Scheduler {
    /// Starts the engine thread.
    pub fn start(engine: Engine, opts: SchedulerOptions) -> Scheduler {
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(Stats::default());
        let slots = opts.slots.max(1);
        let (e, st) = (engine.clone(), Arc::clone(&stats));
        let thread = std::thread::Builder::new()
            .name("hearth-engine".into())
            .spawn(move || worker::Worker::new(e, slots, st).run(rx))
            .ok();
        Scheduler { engine, tx: thread.as_ref().map(|_| tx), stats, max_queue: opts.max_queue, slots, thread }
    }

    /// Refuses early when the queue is full (before any work on the request).
    fn check_room(&self) -> Result<(), SubmitError> {
        let queued = self.stats.queued.load(Ordering::Relaxed);
        let busy = self.stats.active.load(Ordering::Relaxed);
        if self.tx.is_none() {
            return Err(SubmitError::Stopped);
        }
        if admission::accepts(queued, busy, self.slots, self.max_queue) {
            Ok(())
        } else {
            Err(SubmitError::QueueFull(queued))
        }
    }

    /// Makes `request` ready to run, on the calling thread: tokenizes and validates the
    /// prompt, checks the sampling parameters, compiles the constraint. This is the slow part
    /// of a submission (a large schema can take long to compile): call it where that is
    /// harmless, and bound how many run at once.
    pub fn prepare(&self, request: &Request) -> Result<Prepared, SubmitError> {
        self.check_room()?;
        let prompt = self.engine.prompt_ids(&request.prompt)?;
        let state = GenState::for_engine(request, &self.engine)?;
        Ok(Prepared { prompt, state })
    }

    /// Queues a prepared request; its events go to `sink`.
    pub fn enqueue(&self, prepared: Prepared, sink: impl Sink + 'static) -> Result<(), SubmitError> {
        self.check_room()?;
        let tx = self.tx.as_ref().ok_or(SubmitError::Stopped)?;
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        let job = Job { prepared, sink: Box::new(sink), queued_at: Instant::now() };
        tx.send(job).map_err(|_| {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            SubmitError::Stopped
        })
    }

    /// [`Scheduler::prepare`] then [`Scheduler::enqueue`].
    pub fn submit(&self, request: &Request, sink: impl Sink + 'static) -> Result<(), SubmitError> {
        let prepared = self.prepare(request)?;
        self.enqueue(prepared, sink)
    }

    /// Live counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.slots
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
