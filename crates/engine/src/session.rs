//! `Session`: one conversation — a [`Sequence`] driven synchronously on the caller's thread —
//! and `Generation`, the streaming iterator over one request.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::time::Instant;

use hearth_models::Scratch;

use crate::gen_state::GenState;
use crate::sequence::Sequence;
use crate::speculative::Drafter;
use crate::{
    Completion, DraftLength, Engine, EngineError, MatcherStats, Request, Speculation, StopReason, TokenEvent,
};

/// A conversation with its own KV cache. Consecutive requests that share a prefix (the same
/// system prompt, the previous turns of a chat) reuse the cached keys and values of that
/// prefix instead of recomputing them.
#[derive(Debug)]
pub struct Session {
    engine: Engine,
    seq: Sequence,
    scratch: Scratch,
    /// Speculative decoding, when enabled.
    drafter: Option<Drafter>,
}

impl Session {
    pub(crate) fn new(engine: Engine) -> Session {
        let seq = Sequence::new(engine.model.new_cache(engine.n_ctx));
        Session { engine, seq, scratch: Scratch::new(), drafter: None }
    }

    /// Turns speculative decoding on (or off with `None`) for the following requests. The
    /// output does not change — only how many tokens each forward pass produces. Requests
    /// with a grammar constraint decode without drafts (the grammar's forced tokens already
    /// go through in one pass). The number of drafts per pass adapts to how often they are
    /// accepted and what a batched token costs ([`DraftLength::Adaptive`]).
    pub fn speculate(&mut self, spec: Option<Speculation>) -> Result<(), EngineError> {
        self.speculate_with(spec, DraftLength::Adaptive)
    }

    /// [`Session::speculate`] with the draft length policy chosen.
    pub fn speculate_with(
        &mut self,
        spec: Option<Speculation>,
        length: DraftLength,
    ) -> Result<(), EngineError> {
        self.drafter = spec.map(|s| Drafter::new(s, length, &self.engine)).transpose()?;
        Ok(())
    }

    /// The engine this session runs on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Tokens currently held in the cache.
    pub fn cached_tokens(&self) -> &[u32] {
        self.seq.cached_tokens()
    }

    /// Forgets the cache.
    pub fn reset(&mut self) {
        self.seq.completion();
        self.seq.clear();
    }

    /// Starts a generation: tokenizes and processes the prompt (reusing the cached prefix),
    /// then yields one [`TokenEvent`] per generated token. Dropping the iterator cancels the
    /// rest; [`Generation::completion`] runs it to the end and returns the summary.
    pub fn stream(&mut self, req: &Request) -> Result<Generation<'_>, EngineError> {
        let prompt = self.engine.prompt_ids(&req.prompt)?;
        let state = GenState::for_engine(req, &self.engine)?;
        self.seq.completion(); // a generation dropped before its end
        self.seq.start(prompt, state);
        let mut generation = Generation { session: self, pending: VecDeque::new(), history: Vec::new() };
        generation.prefill()?;
        Ok(generation)
    }

    /// Runs a request to the end, calling `on_token` for every token as it is generated;
    /// `on_token` returning `ControlFlow::Break` stops early (`StopReason::Cancelled`).
    pub fn generate(
        &mut self,
        req: &Request,
        mut on_token: impl FnMut(&TokenEvent) -> ControlFlow<()>,
    ) -> Result<Completion, EngineError> {
        let mut generation = self.stream(req)?;
        while let Some(ev) = generation.next() {
            if on_token(&ev?).is_break() {
                generation.session.seq.cancel();
                break;
            }
        }
        Ok(generation.summary())
    }

    /// Runs the planned input of the sequence through the model and absorbs its logits into
    /// `events`. A failed pass leaves the cache as it was before it.
    fn pass(&mut self, events: &mut VecDeque<TokenEvent>) -> Result<(), EngineError> {
        let Some(input) = self.seq.input() else { return Ok(()) };
        let r = self.engine.model.forward(&self.engine.pool, &mut [input], &mut self.scratch);
        let rows = match r {
            Ok(rows) => rows,
            Err(e) => {
                self.seq.rollback();
                return Err(e.into());
            }
        };
        self.seq.fed();
        let mut out = Vec::new();
        let r = self.seq.absorb(rows, self.engine.model.config().n_vocab, &self.engine.tokenizer, &mut out);
        events.extend(out);
        r
    }
}

/// A generation in progress: an iterator of [`TokenEvent`]s.
#[derive(Debug)]
pub struct Generation<'s> {
    session: &'s mut Session,
    /// Events produced but not yet yielded.
    pending: VecDeque<TokenEvent>,
    /// Scratch for the drafter's view of the sequence.
    history: Vec<u32>,
}

impl Generation<'_> {
    /// Runs the prompt through the model in chunks of `n_batch`; the last chunk's logits give
    /// the first token (queued, yielded by the first `next`).
    fn prefill(&mut self) -> Result<(), EngineError> {
        let n_batch = self.session.engine.n_batch;
        while self.session.seq.is_prefilling() {
            self.session.seq.plan(n_batch, &[]);
            self.session.pass(&mut self.pending)?;
        }
        Ok(())
    }

    /// Why the generation ended (`None` while it runs).
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.session.seq.finished()
    }

    /// The prompt's token ids.
    pub fn prompt_ids(&self) -> &[u32] {
        self.session.seq.prompt_ids()
    }

    /// Time spent on the prompt, ms.
    pub fn prefill_ms(&self) -> f64 {
        self.session.seq.prefill_ms()
    }

    /// The constraint's counters and timings so far (checks, full masks, forced tokens,
    /// time in the matcher); `None` without a constraint.
    pub fn grammar_stats(&self) -> Option<MatcherStats> {
        self.session.seq.grammar_stats()
    }

    /// Speculative decoding so far: (draft tokens proposed, draft tokens accepted).
    pub fn speculation_stats(&self) -> (usize, usize) {
        self.session.seq.speculation_stats()
    }

    /// One decoding round: the unfed tokens plus draft guesses in one forward pass.
    fn round(&mut self) -> Result<(), EngineError> {
        let s = &mut *self.session;
        let mut drafts = Vec::new();
        if let Some(d) = s.drafter.as_mut() {
            let limit = s.seq.draft_room(s.engine.n_batch, &mut self.history);
            if limit > 0 {
                d.propose(&self.history, limit, &mut drafts)?;
            }
        }
        let n = s.seq.plan(0, &drafts);
        let accepted_before = s.seq.speculation_stats().1;
        let started = Instant::now();
        let r = s.pass(&mut self.pending);
        if let Some(d) = s.drafter.as_mut()
            && r.is_ok()
        {
            let accepted = s.seq.speculation_stats().1.saturating_sub(accepted_before);
            d.observe(n, started.elapsed().as_secs_f64(), accepted);
        }
        r
    }

    /// Runs to the end and returns the summary.
    pub fn completion(mut self) -> Result<Completion, EngineError> {
        for ev in self.by_ref() {
            ev?;
        }
        Ok(self.summary())
    }

    fn summary(&mut self) -> Completion {
        // A `Generation` exists only between `Sequence::start` and this call.
        self.session.seq.completion().expect("a generation's sequence serves it until summarised")
    }
}

impl Iterator for Generation<'_> {
    type Item = Result<TokenEvent, EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(ev) = self.pending.pop_front() {
            return Some(Ok(ev));
        }
        let seq = &mut self.session.seq;
        if seq.finished().is_some() || !seq.is_busy() || seq.check_cancel() {
            return None;
        }
        match self.round() {
            Ok(()) => self.pending.pop_front().map(Ok),
            Err(e) => {
                self.session.seq.cancel();
                self.pending.clear();
                Some(Err(e))
            }
        }
    }
}
