//! `Session`: one conversation — a KV cache, scratch buffers and the tokens the cache holds —
//! and `Generation`, the streaming iterator over one request.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::time::Instant;

use hearth_models::{KvCache, Logits, Scratch, SeqInput};

use crate::speculative::Drafter;
use crate::{
    Completion, Engine, EngineError, MatcherStats, Request, SeqState, Speculation, StopReason, TokenEvent,
};

/// A conversation with its own KV cache. Consecutive requests that share a prefix (the same
/// system prompt, the previous turns of a chat) reuse the cached keys and values of that
/// prefix instead of recomputing them.
#[derive(Debug)]
pub struct Session {
    engine: Engine,
    cache: KvCache,
    scratch: Scratch,
    /// The tokens whose keys and values are in `cache`.
    tokens: Vec<u32>,
    /// Speculative decoding, when enabled.
    drafter: Option<Drafter>,
}

impl Session {
    pub(crate) fn new(engine: Engine) -> Session {
        let cache = engine.model.new_cache(engine.n_ctx);
        Session { engine, cache, scratch: Scratch::new(), tokens: Vec::new(), drafter: None }
    }

    /// Turns speculative decoding on (or off with `None`) for the following requests. The
    /// output does not change — only how many tokens each forward pass produces. Requests
    /// with a grammar constraint decode without drafts (the grammar's forced tokens already
    /// go through in one pass).
    pub fn speculate(&mut self, spec: Option<Speculation>) -> Result<(), EngineError> {
        self.drafter = spec.map(|s| Drafter::new(s, &self.engine)).transpose()?;
        Ok(())
    }

    /// The engine this session runs on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Tokens currently held in the cache.
    pub fn cached_tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Forgets the cache.
    pub fn reset(&mut self) {
        self.cache.clear();
        self.tokens.clear();
    }

    /// Starts a generation: tokenizes and processes the prompt (reusing the cached prefix),
    /// then yields one [`TokenEvent`] per generated token. Dropping the iterator cancels the
    /// rest; [`Generation::completion`] runs it to the end and returns the summary.
    pub fn stream(&mut self, req: &Request) -> Result<Generation<'_>, EngineError> {
        let t0 = Instant::now();
        let prompt = self.engine.tokenize_prompt(&req.prompt)?;
        if prompt.is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        let n_ctx = self.cache.capacity();
        if prompt.len() >= n_ctx {
            return Err(EngineError::ContextOverflow { prompt_tokens: prompt.len(), n_ctx });
        }
        let seq = SeqState::for_engine(req, &self.engine)?;

        // Reuse the longest cached prefix; at least one token must run to produce logits.
        let common = self.tokens.iter().zip(&prompt).take_while(|(a, b)| a == b).count();
        let keep = common.min(prompt.len() - 1);
        self.cache.truncate(keep);
        self.tokens.truncate(keep);

        let mut generation = Generation {
            session: self,
            seq,
            prompt_ids: prompt,
            cached: keep,
            logits: Vec::new(),
            unfed: Vec::new(),
            drafts: Vec::new(),
            drafted: 0,
            accepted: 0,
            pending: VecDeque::new(),
            prefill_ms: 0.0,
            decode_start: None,
            decode_ms: 0.0,
        };
        generation.prefill()?;
        generation.prefill_ms = t0.elapsed().as_secs_f64() * 1e3;
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
                generation.seq.finished = Some(StopReason::Cancelled);
                break;
            }
        }
        Ok(generation.summary())
    }

    /// Runs `tokens` (at most `n_batch`) through the model in one pass and returns every
    /// token's logits, `[tokens, n_vocab]`, or only the last token's when `all` is false.
    fn feed_one_pass(&mut self, tokens: &[u32], all: bool) -> Result<&[f32], EngineError> {
        let want = if all { Logits::All } else { Logits::Last };
        let r = self.engine.model.forward(
            &self.engine.pool,
            &mut [SeqInput::new(tokens, &mut self.cache, want)],
            &mut self.scratch,
        );
        match r {
            Ok(l) => {
                self.tokens.extend_from_slice(tokens);
                Ok(l)
            }
            Err(e) => {
                self.cache.truncate(self.tokens.len());
                Err(e.into())
            }
        }
    }

    /// Runs `tokens` through the model (appending to the cache), in chunks of `n_batch`,
    /// keeping the last token's logits in `out`.
    fn feed(&mut self, tokens: &[u32], out: &mut Vec<f32>) -> Result<(), EngineError> {
        let n_batch = self.engine.n_batch;
        let chunks = tokens.len().div_ceil(n_batch);
        for (i, chunk) in tokens.chunks(n_batch).enumerate() {
            let want = if i + 1 == chunks { Logits::Last } else { Logits::None };
            let logits = self.engine.model.forward(
                &self.engine.pool,
                &mut [SeqInput::new(chunk, &mut self.cache, want)],
                &mut self.scratch,
            );
            match logits {
                Ok(l) => {
                    if want == Logits::Last {
                        out.clear();
                        out.extend_from_slice(l);
                    }
                    self.tokens.extend_from_slice(chunk);
                }
                Err(e) => {
                    // The cache may hold part of the chunk: forget it so the session stays usable.
                    self.cache.truncate(self.tokens.len());
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }
}

/// A generation in progress: an iterator of [`TokenEvent`]s.
#[derive(Debug)]
pub struct Generation<'s> {
    session: &'s mut Session,
    seq: SeqState,
    prompt_ids: Vec<u32>,
    cached: usize,
    /// The prompt's last logits (the first token is sampled from them).
    logits: Vec<f32>,
    /// Tokens emitted but not yet run through the model (the last sampled token and any
    /// tokens the grammar forced after it).
    unfed: Vec<u32>,
    /// Draft tokens of the current round.
    drafts: Vec<u32>,
    /// Draft tokens proposed and accepted so far.
    drafted: usize,
    accepted: usize,
    /// Events produced but not yet yielded.
    pending: VecDeque<TokenEvent>,
    prefill_ms: f64,
    decode_start: Option<Instant>,
    decode_ms: f64,
}

impl Generation<'_> {
    fn prefill(&mut self) -> Result<(), EngineError> {
        let rest = &self.prompt_ids[self.cached..];
        self.session.feed(rest, &mut self.logits)
    }

    /// Why the generation ended (`None` while it runs).
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.seq.finished
    }

    /// The prompt's token ids.
    pub fn prompt_ids(&self) -> &[u32] {
        &self.prompt_ids
    }

    /// Time spent on the prompt, ms.
    pub fn prefill_ms(&self) -> f64 {
        self.prefill_ms
    }

    /// The constraint's counters and timings so far (checks, full masks, forced tokens,
    /// time in the matcher); `None` without a constraint.
    pub fn grammar_stats(&self) -> Option<MatcherStats> {
        self.seq.grammar_stats()
    }

    /// Speculative decoding so far: (draft tokens proposed, draft tokens accepted).
    pub fn speculation_stats(&self) -> (usize, usize) {
        (self.drafted, self.accepted)
    }

    /// Samples the next token from `row`, queues its event (and those of forced tokens) and
    /// remembers what must be fed next.
    fn sample(&mut self, row: &[f32], tok: &hearth_tokenizer::Tokenizer) -> Result<u32, EngineError> {
        let ev = self.seq.try_step(row, tok)?;
        let id = ev.id;
        self.pending.push_back(ev);
        if self.seq.finished.is_none() {
            self.unfed.push(id);
            let forced = self.seq.take_forced(tok);
            self.unfed.extend(forced.iter().map(|f| f.id));
            self.pending.extend(forced);
        }
        self.check_room();
        Ok(id)
    }

    /// One decoding round: feed the unfed tokens plus draft guesses in one forward pass, then
    /// sample position by position, keeping drafts while the samples agree with them.
    fn round(&mut self, tok: &hearth_tokenizer::Tokenizer) -> Result<(), EngineError> {
        let cache_len = self.session.cache.len();
        // `check_room` guaranteed the unfed tokens fit.
        let room = self.session.cache.capacity().saturating_sub(cache_len);
        let mut input = std::mem::take(&mut self.unfed);
        self.drafts.clear();
        if !self.seq.is_constrained()
            && let Some(d) = self.session.drafter.as_mut()
        {
            let left = self.seq.tokens_left();
            let limit = (room - input.len())
                .min(left.saturating_sub(1))
                .min(self.session.engine.n_batch - input.len());
            let mut history = Vec::with_capacity(self.session.tokens.len() + input.len());
            history.extend_from_slice(&self.session.tokens);
            history.extend_from_slice(&input);
            d.propose(&history, limit, &mut self.drafts)?;
        }
        let (u, k) = (input.len(), self.drafts.len());
        input.extend_from_slice(&self.drafts);
        self.drafted += k;
        let n_vocab = self.session.engine.model.config().n_vocab;
        let rows = self.session.feed_one_pass(&input, k > 0)?;
        let first = if k > 0 { u - 1 } else { 0 };
        let mut kept = u;
        for i in 0..=k {
            let row = &rows[(first + i) * n_vocab..(first + i + 1) * n_vocab];
            let ev = self.seq.try_step(row, tok)?;
            let id = ev.id;
            self.pending.push_back(ev);
            if self.seq.finished.is_some() {
                break;
            }
            if i < k && id == self.drafts[i] {
                kept += 1;
                continue;
            }
            self.unfed.push(id);
            let forced = self.seq.take_forced(tok);
            self.unfed.extend(forced.iter().map(|f| f.id));
            self.pending.extend(forced);
            break;
        }
        self.accepted += kept - u;
        // Forget the rejected drafts.
        self.session.cache.truncate(cache_len + kept);
        self.session.tokens.truncate(cache_len + kept);
        self.check_room();
        Ok(())
    }

    /// Ends the sequence when the tokens still to feed no longer fit in the context; the text
    /// held back is released with the last event.
    fn check_room(&mut self) {
        if self.seq.finished.is_none()
            && !self.unfed.is_empty()
            && self.session.cache.len() + self.unfed.len() > self.session.cache.capacity()
        {
            self.unfed.clear();
            let tail = self.seq.finish_length();
            if let Some(ev) = self.pending.back_mut() {
                ev.text.push_str(&tail);
            }
        }
    }

    /// Runs to the end and returns the summary.
    pub fn completion(mut self) -> Result<Completion, EngineError> {
        for ev in self.by_ref() {
            ev?;
        }
        Ok(self.summary())
    }

    fn summary(&mut self) -> Completion {
        if self.seq.finished.is_none() {
            self.seq.finished = Some(StopReason::Cancelled);
        }
        Completion {
            prompt_tokens: self.prompt_ids.len(),
            prompt_ids: std::mem::take(&mut self.prompt_ids),
            completion_tokens: self.seq.ids.len(),
            ids: self.seq.ids.clone(),
            text: self.seq.text.clone(),
            cached_tokens: self.cached,
            prefill_ms: self.prefill_ms,
            decode_ms: self.decode_ms,
            stop_reason: self.seq.finished.unwrap_or(StopReason::Cancelled),
        }
    }
}

impl Iterator for Generation<'_> {
    type Item = Result<TokenEvent, EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(ev) = self.pending.pop_front() {
            return Some(Ok(ev));
        }
        if self.seq.finished.is_some() || self.seq.check_cancel() {
            return None;
        }
        let start = *self.decode_start.get_or_insert_with(Instant::now);
        let tok = std::sync::Arc::clone(&self.session.engine.tokenizer);
        let result = if self.unfed.is_empty() {
            let logits = std::mem::take(&mut self.logits);
            let r = self.sample(&logits, &tok).map(|_| ());
            self.logits = logits;
            r
        } else {
            self.round(&tok)
        };
        self.decode_ms = start.elapsed().as_secs_f64() * 1e3;
        match result {
            Ok(()) => self.pending.pop_front().map(Ok),
            Err(e) => {
                self.seq.finished.get_or_insert(StopReason::Cancelled);
                self.pending.clear();
                Some(Err(e))
            }
        }
    }
}
