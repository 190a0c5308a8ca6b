//! The serving engine: one thread that owns every sequence's state and runs continuous
//! batching over a fixed number of slots.
//!
//! Requests arrive through a channel ([`Scheduler::submit`]); each gets a slot (a KV cache).
//! Every iteration builds ONE forward pass from all busy slots — one token per decoding
//! sequence plus a chunk of a prompt being prefilled — so concurrent decodes share a single
//! pass over the weights. Results go back through the request's sink, a callback; the sink
//! returning `false` (the client went away) cancels the request and frees its slot.
//!
//! Prefix reuse: a finished slot keeps its cache. A new request takes the free slot whose
//! cached tokens share the longest prefix with its prompt; when a busy slot shares a longer
//! prefix (the same system prompt), those keys and values are copied instead of recomputed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hearth_models::{KvCache, Logits, Scratch, SeqInput};

use crate::{Completion, Engine, EngineError, Request, SeqState, StopReason, TokenEvent};

/// What a request's sink receives, in order: `Started` or `Error` first, then tokens, then
/// `Done` (or `Error`).
#[derive(Debug)]
pub enum Event {
    /// The request got a slot and its prompt was tokenized.
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
    /// The request failed (before or during generation).
    Error(EngineError),
}

/// Where a request's events go. Return `false` when nobody listens any more.
pub type Sink = Box<dyn FnMut(Event) -> bool + Send>;

/// Sizes of the serving engine.
#[derive(Clone, Debug)]
pub struct SchedulerOptions {
    /// Sequences generating at the same time (each has its own KV cache of `n_ctx`).
    pub slots: usize,
    /// Requests waiting for a slot before new ones are refused.
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

struct Job {
    request: Request,
    sink: Sink,
    queued_at: Instant,
}

/// Handle to the engine thread. Dropping it stops the thread after the running requests.
#[derive(Debug)]
pub struct Scheduler {
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
        let st = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name("hearth-engine".into())
            .spawn(move || Worker::new(engine, slots, st).run(rx))
            .ok();
        Scheduler { tx: thread.as_ref().map(|_| tx), stats, max_queue: opts.max_queue, slots, thread }
    }

    /// Queues a request; its events go to `sink`.
    pub fn submit(&self, request: Request, sink: Sink) -> Result<(), SubmitError> {
        let queued = self.stats.queued.load(Ordering::Relaxed);
        if queued >= self.max_queue {
            return Err(SubmitError::QueueFull(queued));
        }
        let tx = self.tx.as_ref().ok_or(SubmitError::Stopped)?;
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        tx.send(Job { request, sink, queued_at: Instant::now() }).map_err(|_| {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            SubmitError::Stopped
        })
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

/// A request being served.
struct Active {
    seq: SeqState,
    sink: Sink,
    prompt: Vec<u32>,
    /// Prompt tokens already in the cache.
    fed: usize,
    cached: usize,
    /// Tokens emitted but not yet fed (decode phase): the last sampled one and any the
    /// grammar forced after it.
    next: Vec<u32>,
    admitted: Instant,
    prefill_ms: f64,
    decode_start: Option<Instant>,
}

struct Slot {
    cache: KvCache,
    /// Tokens whose keys and values are in `cache`.
    tokens: Vec<u32>,
    active: Option<Active>,
}

/// This iteration's input of one slot.
#[derive(Default)]
struct Plan {
    on: bool,
    tokens: Vec<u32>,
    want: Option<Logits>,
}

struct Worker {
    engine: Engine,
    slots: Vec<Slot>,
    plans: Vec<Plan>,
    waiting: VecDeque<Job>,
    scratch: Scratch,
    stats: Arc<Stats>,
}

impl Worker {
    fn new(engine: Engine, n: usize, stats: Arc<Stats>) -> Worker {
        let slots = (0..n)
            .map(|_| Slot { cache: engine.model.new_cache(engine.n_ctx), tokens: Vec::new(), active: None })
            .collect();
        let plans = (0..n).map(|_| Plan::default()).collect();
        Worker { engine, slots, plans, waiting: VecDeque::new(), scratch: Scratch::new(), stats }
    }

    fn run(mut self, rx: Receiver<Job>) {
        loop {
            let busy = self.slots.iter().any(|s| s.active.is_some());
            // Block only when there is nothing to do.
            if !busy && self.waiting.is_empty() {
                match rx.recv() {
                    Ok(job) => self.waiting.push_back(job),
                    Err(_) => return,
                }
            }
            loop {
                match rx.recv_timeout(Duration::ZERO) {
                    Ok(job) => self.waiting.push_back(job),
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        if self.waiting.is_empty() && self.slots.iter().all(|s| s.active.is_none()) {
                            return;
                        }
                        break;
                    }
                }
            }
            self.admit();
            self.step();
        }
    }

    /// Moves waiting requests into free slots.
    fn admit(&mut self) {
        while let Some(free) = self.slots.iter().position(|s| s.active.is_none()) {
            let Some(job) = self.waiting.pop_front() else { return };
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            let Job { request, mut sink, queued_at } = job;
            let ready =
                self.prepare(&request).and_then(|p| Ok((p, SeqState::for_engine(&request, &self.engine)?)));
            let (prompt, seq) = match ready {
                Ok(x) => x,
                Err(e) => {
                    sink(Event::Error(e));
                    continue;
                }
            };
            let slot = self.pick_slot(free, &prompt);
            let s = &mut self.slots[slot];
            let cached = s.tokens.len();
            tracing::debug!(
                slot,
                prompt = prompt.len(),
                cached,
                waited_ms = queued_at.elapsed().as_millis() as u64,
                "admitted"
            );
            if !sink(Event::Started { prompt_tokens: prompt.len(), cached_tokens: cached }) {
                continue;
            }
            self.stats.active.fetch_add(1, Ordering::Relaxed);
            self.stats.cached_tokens.fetch_add(cached as u64, Ordering::Relaxed);
            s.active = Some(Active {
                seq,
                sink,
                prompt,
                fed: cached,
                cached,
                next: Vec::new(),
                admitted: Instant::now(),
                prefill_ms: 0.0,
                decode_start: None,
            });
        }
    }

    fn prepare(&self, request: &Request) -> Result<Vec<u32>, EngineError> {
        let prompt = self.engine.tokenize_prompt(&request.prompt)?;
        if prompt.is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        if prompt.len() >= self.engine.n_ctx {
            return Err(EngineError::ContextOverflow {
                prompt_tokens: prompt.len(),
                n_ctx: self.engine.n_ctx,
            });
        }
        Ok(prompt)
    }

    /// Chooses a free slot for `prompt` and leaves in its cache the longest prefix of
    /// `prompt` cached in any slot (copied from a busy slot when that one shares more).
    fn pick_slot(&mut self, first_free: usize, prompt: &[u32]) -> usize {
        let lcp = |t: &[u32]| t.iter().zip(prompt).take_while(|(a, b)| a == b).count().min(prompt.len() - 1);
        let free = (first_free..self.slots.len())
            .filter(|&i| self.slots[i].active.is_none())
            .max_by_key(|&i| lcp(&self.slots[i].tokens))
            .unwrap_or(first_free);
        let here = lcp(&self.slots[free].tokens);
        let (donor, there) = (0..self.slots.len())
            .map(|i| (i, lcp(&self.slots[i].tokens)))
            .max_by_key(|&(_, n)| n)
            .unwrap_or((free, here));
        if there > here && donor != free {
            let (src, dst) = if donor < free {
                let (l, r) = self.slots.split_at_mut(free);
                (&l[donor], &mut r[0])
            } else {
                let (l, r) = self.slots.split_at_mut(donor);
                (&r[0], &mut l[free])
            };
            dst.cache.copy_prefix(&src.cache, here, there);
            dst.tokens.clear();
            dst.tokens.extend_from_slice(&prompt[..there]);
        } else {
            let s = &mut self.slots[free];
            s.cache.truncate(here);
            s.tokens.truncate(here);
        }
        free
    }

    /// One forward pass over every busy slot, then sampling and events.
    fn step(&mut self) {
        for s in &mut self.slots {
            if s.active.as_mut().is_some_and(|a| a.seq.check_cancel()) {
                finish(s, &self.stats);
            }
        }
        // Plan: every decoding slot feeds its token; prompts share what is left of n_batch.
        let decoding: usize = self.slots.iter().filter_map(|s| s.active.as_ref()).map(|a| a.next.len()).sum();
        let mut budget = self.engine.n_batch.saturating_sub(decoding);
        let mut any = false;
        for (s, p) in self.slots.iter().zip(self.plans.iter_mut()) {
            p.on = false;
            p.tokens.clear();
            let Some(a) = &s.active else { continue };
            if !a.next.is_empty() {
                p.tokens.extend_from_slice(&a.next);
                p.want = Some(Logits::Last);
            } else if a.fed < a.prompt.len() && budget > 0 {
                let n = (a.prompt.len() - a.fed).min(budget);
                budget -= n;
                p.tokens.extend_from_slice(&a.prompt[a.fed..a.fed + n]);
                p.want = Some(if a.fed + n == a.prompt.len() { Logits::Last } else { Logits::None });
            } else {
                continue;
            }
            p.on = true;
            any = true;
        }
        if !any {
            return;
        }

        let mut batch: Vec<SeqInput<'_>> = self
            .slots
            .iter_mut()
            .zip(&self.plans)
            .filter(|(_, p)| p.on)
            .map(|(s, p)| SeqInput::new(&p.tokens, &mut s.cache, p.want.unwrap_or(Logits::None)))
            .collect();
        let result = self.engine.model.forward(&self.engine.pool, &mut batch, &mut self.scratch);
        drop(batch);
        self.stats.forward_passes.fetch_add(1, Ordering::Relaxed);
        let logits = match result {
            Ok(l) => l,
            Err(e) => {
                // Fail every request of this pass; their caches drop the partial rows.
                let msg = e.to_string();
                for (s, p) in self.slots.iter_mut().zip(&self.plans) {
                    if p.on {
                        s.cache.truncate(s.tokens.len());
                        if let Some(a) = s.active.as_mut() {
                            (a.sink)(Event::Error(EngineError::Invalid(format!(
                                "forward pass failed: {msg}"
                            ))));
                        }
                        s.active = None;
                        self.stats.active.fetch_sub(1, Ordering::Relaxed);
                    }
                }
                return;
            }
        };

        let n_vocab = self.engine.model.config().n_vocab;
        let tok = &self.engine.tokenizer;
        let mut row = 0;
        for (s, p) in self.slots.iter_mut().zip(&self.plans) {
            if !p.on {
                continue;
            }
            s.tokens.extend_from_slice(&p.tokens);
            let Some(a) = s.active.as_mut() else { continue };
            if std::mem::take(&mut a.next).is_empty() {
                a.fed += p.tokens.len();
                self.stats.prompt_tokens.fetch_add(p.tokens.len() as u64, Ordering::Relaxed);
            }
            if p.want != Some(Logits::Last) {
                continue;
            }
            let l = &logits[row * n_vocab..(row + 1) * n_vocab];
            row += 1;
            if a.decode_start.is_none() {
                a.prefill_ms = a.admitted.elapsed().as_secs_f64() * 1e3;
                a.decode_start = Some(Instant::now());
            }
            let n_before = a.seq.ids.len();
            let mut events = match a.seq.try_step(l, tok) {
                Ok(ev) => vec![ev],
                Err(e) => {
                    (a.sink)(Event::Error(e));
                    s.active = None;
                    self.stats.active.fetch_sub(1, Ordering::Relaxed);
                    continue;
                }
            };
            if a.seq.finished.is_none() {
                a.next.push(events[0].id);
                let forced = a.seq.take_forced(tok);
                a.next.extend(forced.iter().map(|f| f.id));
                events.extend(forced);
                if a.seq.finished.is_some() {
                    a.next.clear();
                } else if s.cache.len() + a.next.len() > s.cache.capacity() {
                    a.next.clear();
                    let tail = a.seq.finish_length();
                    if let Some(ev) = events.last_mut() {
                        ev.text.push_str(&tail);
                    }
                }
            }
            self.stats.completion_tokens.fetch_add((a.seq.ids.len() - n_before) as u64, Ordering::Relaxed);
            for ev in events {
                if !(a.sink)(Event::Token(ev)) && a.seq.finished.is_none() {
                    a.seq.finished = Some(StopReason::Cancelled);
                }
            }
            if a.seq.finished.is_some() {
                finish(s, &self.stats);
            }
        }
    }
}

/// Sends `Done` and frees the slot (its cache stays for prefix reuse).
fn finish(s: &mut Slot, stats: &Stats) {
    let Some(mut a) = s.active.take() else { return };
    stats.active.fetch_sub(1, Ordering::Relaxed);
    let decode_ms = a.decode_start.map_or(0.0, |t| t.elapsed().as_secs_f64() * 1e3);
    let done = Completion {
        prompt_tokens: a.prompt.len(),
        completion_tokens: a.seq.ids.len(),
        ids: std::mem::take(&mut a.seq.ids),
        text: std::mem::take(&mut a.seq.text),
        cached_tokens: a.cached,
        prefill_ms: a.prefill_ms,
        decode_ms,
        stop_reason: a.seq.finished.unwrap_or(StopReason::Cancelled),
        prompt_ids: a.prompt,
    };
    (a.sink)(Event::Done(done));
}
