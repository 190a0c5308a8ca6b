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
        for i in 0..self.slots.len() {
            if self.slots[i].seq.check_cancel() || self.slots[i].seq.finished().is_some() {
                self.finish(i);
            }
        }
        self.demands.clear();
        self.demands.extend(self.slots.iter().map(|s| s.seq.demand()));
        admission::share_batch(&self.demands, self.engine.n_batch, &mut self.grants);
        let mut planned = false;
        for (s, &g) in self.slots.iter_mut().zip(&self.grants) {
            planned |= s.seq.plan(g, &[]) > 0;
        }
        if !planned {
            return;
        }

        let mut batch: Vec<_> = self.slots.iter_mut().filter_map(|s| s.seq.input()).collect();
        let result = self.engine.model.forward(&self.engine.pool, &mut batch, &mut self.scratch);
        drop(batch);
        self.stats.forward_passes.fetch_add(1, Ordering::Relaxed);
        let logits = match result {
            Ok(l) => l,
            Err(e) => {
                // Fail every request of this pass; their caches drop the partial rows.
                let msg = e.to_string();
                for i in 0..self.slots.len() {
                    if self.slots[i].seq.n_input() > 0 {
                        self.slots[i].seq.rollback();
                        let err = EngineError::Invalid(format!("forward pass failed: {msg}"));
                        self.fail(i, err);
                    }
                }
                return;
            }
        };

        let n_vocab = self.engine.model.config().n_vocab;
        let tok = &self.engine.tokenizer;
        let mut row = 0;
        for i in 0..self.slots.len() {
            let s = &mut self.slots[i];
            if s.seq.n_input() == 0 {
                continue;
            }
            let n_rows = s.seq.n_logits();
            let prompt_tokens = s.seq.fed();
            self.stats.prompt_tokens.fetch_add(prompt_tokens as u64, Ordering::Relaxed);
            let rows = &logits[row * n_vocab..(row + n_rows) * n_vocab];
            row += n_rows;
            let before = s.seq.n_generated();
            self.events.clear();
            let absorbed = s.seq.absorb(rows, n_vocab, tok, &mut self.events);
            self.stats.completion_tokens.fetch_add((s.seq.n_generated() - before) as u64, Ordering::Relaxed);
            let Some(sink) = s.sink.as_mut() else { continue };
            for ev in self.events.drain(..) {
                if !sink.send(Event::Token(ev)) {
                    s.seq.cancel();
                    break;
                }
            }
            if let Err(e) = absorbed {
                fail_slot(s, &self.stats, e);
            } else if s.seq.finished().is_some() {
                finish_slot(s, &self.stats);
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
