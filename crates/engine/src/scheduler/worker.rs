//! The engine thread: carries out [`super::admission`]'s decisions over the slots' sequences
//! and runs one forward pass per iteration.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};

use hearth_models::Scratch;

use super::admission::{self, SlotView};
use super::{Event, Job, Sink, Stats};
use crate::prompt::reusable_prefix;
use crate::sequence::{Demand, Sequence};
use crate::{Engine, EngineError, TokenEvent};

/// A sequence and, while it serves a request, that request's sink.
struct Slot {
    seq: Sequence,
    sink: Option<Box<dyn Sink>>,
}

pub(super) struct Worker {
    engine: Engine,
    slots: Vec<Slot>,
    waiting: VecDeque<Job>,
    scratch: Scratch,
    stats: Arc<Stats>,
    demands: Vec<Demand>,
    grants: Vec<usize>,
    events: Vec<TokenEvent>,
}

impl Worker {
    pub(super) fn new(engine: Engine, n: usize, stats: Arc<Stats>) -> Worker {
        let slots = (0..n)
            .map(|_| Slot { seq: Sequence::new(engine.model.new_cache(engine.n_ctx)), sink: None })
            .collect();
        Worker {
            engine,
            slots,
            waiting: VecDeque::new(),
            scratch: Scratch::new(),
            stats,
            demands: Vec::new(),
            grants: Vec::new(),
            events: Vec::new(),
        }
    }

    pub(super) fn run(mut self, rx: Receiver<Job>) {
        loop {
            let busy = self.slots.iter().any(|s| s.seq.is_busy());
            // Block only when there is nothing to do.
            if !busy && self.waiting.is_empty() {
                match rx.recv() {
                    Ok(job) => self.waiting.push_back(job),
                    Err(_) => return,
                }
            }
            loop {
                match rx.try_recv() {
                    Ok(job) => self.waiting.push_back(job),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        if self.waiting.is_empty() && self.slots.iter().all(|s| !s.seq.is_busy()) {
                            return;
                        }
                        break;
                    }
                }
            }
            self.drop_departed();
            self.admit();
            self.step();
        }
    }

    /// Removes queued requests whose clients left, freeing their queue places.
    fn drop_departed(&mut self) {
        let stats = &self.stats;
        self.waiting.retain(|job| {
            let listening = job.sink.is_listening();
            if !listening {
                stats.queued.fetch_sub(1, Ordering::Relaxed);
                tracing::debug!(waited_ms = job.queued_at.elapsed().as_millis() as u64, "left the queue");
            }
            listening
        });
    }

    /// Moves waiting requests into idle slots.
    fn admit(&mut self) {
        while let Some(job) = self.waiting.front() {
            let prompt = job.prepared.prompt.ids();
            let views: Vec<SlotView> = self
                .slots
                .iter()
                .map(|s| SlotView {
                    busy: s.seq.is_busy(),
                    reusable: reusable_prefix(s.seq.cached_tokens(), prompt),
                })
                .collect();
            let Some(place) = admission::place(&views) else { return };
            let Some(Job { prepared, mut sink, queued_at }) = self.waiting.pop_front() else { return };
            self.stats.active.fetch_add(1, Ordering::Relaxed);
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            if let Some((donor, n)) = place.copy_from {
                let (dst, src) = pair_mut(&mut self.slots, place.slot, donor);
                dst.seq.copy_prefix_from(&src.seq, prepared.prompt.ids(), n);
            }
            let slot = &mut self.slots[place.slot];
            let prompt_tokens = prepared.prompt.len();
            let cached = slot.seq.start(prepared.prompt, prepared.state);
            tracing::debug!(
                slot = place.slot,
                prompt = prompt_tokens,
                cached,
                waited_ms = queued_at.elapsed().as_millis() as u64,
                "admitted"
            );
            if !sink.send(Event::Started { prompt_tokens, cached_tokens: cached }) {
                slot.seq.completion();
                self.stats.active.fetch_sub(1, Ordering::Relaxed);
                continue;
            }
            self.stats.cached_tokens.fetch_add(cached as u64, Ordering::Relaxed);
            slot.sink = Some(sink);
        }
    }

    /// One forward pass over every busy slot, then sampling and events.
    fn step(&mut self) {
        self.retire_finished();
        if !self.plan() {
            return;
        }
        let mut batch: Vec<_> = self.slots.iter_mut().filter_map(|s| s.seq.input()).collect();
        let result = self.engine.model.forward(&self.engine.pool, &mut batch, &mut self.scratch);
        drop(batch);
        self.stats.forward_passes.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(logits) => {
                let n_vocab = self.engine.model.config().n_vocab;
                absorb_pass(&mut self.slots, logits, n_vocab, &self.engine, &self.stats, &mut self.events)
            }
            Err(e) => self.fail_pass(&e.to_string()),
        }
    }

    /// Ends the requests that were cancelled or finished since the last pass.
    fn retire_finished(&mut self) {
        for i in 0..self.slots.len() {
            if self.slots[i].seq.check_cancel() || self.slots[i].seq.finished().is_some() {
                self.finish(i);
            }
        }
    }

    /// Shares the batch among the busy slots; false when no slot has input.
    fn plan(&mut self) -> bool {
        self.demands.clear();
        self.demands.extend(self.slots.iter().map(|s| s.seq.demand()));
        admission::share_batch(&self.demands, self.engine.n_batch, &mut self.grants);
        let mut planned = false;
        for (s, &g) in self.slots.iter_mut().zip(&self.grants) {
            planned |= s.seq.plan(g, &[]) > 0;
        }
        planned
    }

    /// Fails every request of a pass that failed; their caches drop the partial rows.
    fn fail_pass(&mut self, msg: &str) {
        for i in 0..self.slots.len() {
            if self.slots[i].seq.n_input() > 0 {
                self.slots[i].seq.rollback();
                self.fail(i, EngineError::Invalid(format!("forward pass failed: {msg}")));
            }
        }
    }

    fn finish(&mut self, i: usize) {
        finish_slot(&mut self.slots[i], &self.stats);
    }

    fn fail(&mut self, i: usize, e: EngineError) {
        fail_slot(&mut self.slots[i], &self.stats, e);
    }
}

/// Hands each slot of the pass its rows of `logits`: samples, sends the events, ends the
/// requests that finished or failed.
fn absorb_pass(
    slots: &mut [Slot],
    logits: &[f32],
    n_vocab: usize,
    engine: &Engine,
    stats: &Stats,
    events: &mut Vec<TokenEvent>,
) {
    let mut row = 0;
    for s in slots.iter_mut().filter(|s| s.seq.n_input() > 0) {
        let n_rows = s.seq.n_logits();
        stats.prompt_tokens.fetch_add(s.seq.fed() as u64, Ordering::Relaxed);
        let rows = &logits[row * n_vocab..(row + n_rows) * n_vocab];
        row += n_rows;
        let before = s.seq.n_generated();
        events.clear();
        let absorbed = s.seq.absorb(rows, n_vocab, &engine.tokenizer, events);
        stats.completion_tokens.fetch_add((s.seq.n_generated() - before) as u64, Ordering::Relaxed);
        if let Some(sink) = s.sink.as_mut() {
            for ev in events.drain(..) {
                if !sink.send(Event::Token(ev)) {
                    s.seq.cancel();
                    break;
                }
            }
        }
        if let Err(e) = absorbed {
            fail_slot(s, stats, e);
        } else if s.seq.finished().is_some() {
            finish_slot(s, stats);
        }
    }
}

/// Sends `Done` and frees the slot (its cache stays for prefix reuse).
fn finish_slot(s: &mut Slot, stats: &Stats) {
    let Some(done) = s.seq.completion() else { return };
    stats.active.fetch_sub(1, Ordering::Relaxed);
    if let Some(mut sink) = s.sink.take() {
        sink.send(Event::Done(done));
    }
}

/// Sends `Error` and frees the slot.
fn fail_slot(s: &mut Slot, stats: &Stats, e: EngineError) {
    if s.seq.completion().is_none() {
        return;
    }
    stats.active.fetch_sub(1, Ordering::Relaxed);
    if let Some(mut sink) = s.sink.take() {
        sink.send(Event::Error(e));
    }
}

/// `(&mut v[a], &v[b])` for `a != b`.
fn pair_mut<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &T) {
    if a < b {
        let (l, r) = v.split_at_mut(b);
        (&mut l[a], &r[0])
    } else {
        let (l, r) = v.split_at_mut(a);
        (&mut r[0], &l[b])
    }
}
