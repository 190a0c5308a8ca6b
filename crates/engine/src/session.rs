//! `Session`: one conversation — a KV cache, scratch buffers and the tokens the cache holds —
//! and `Generation`, the streaming iterator over one request.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::time::Instant;

use hearth_models::{KvCache, Logits, Scratch, SeqInput};

use crate::{Completion, Engine, EngineError, MatcherStats, Request, SeqState, StopReason, TokenEvent};

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
}

impl Session {
    pub(crate) fn new(engine: Engine) -> Session {
        let cache = engine.model.new_cache(engine.n_ctx);
        Session { engine, cache, scratch: Scratch::new(), tokens: Vec::new() }
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

    /// Runs `tokens` through the model (appending to the cache), in chunks of `n_batch`,
    /// keeping the last token's logits in `out` when `want_logits`.
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
    /// Logits for the next token.
    logits: Vec<f32>,
    /// Events of forced tokens already fed to the model, not yet yielded.
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
        let mut ev = match self.seq.try_step(&self.logits, &tok) {
            Ok(ev) => ev,
            Err(e) => return Some(Err(e)),
        };
        if self.seq.finished.is_none() {
            // The token and whatever the grammar forces after it, in one forward pass.
            let forced = self.seq.take_forced(&tok);
            let mut feed = Vec::with_capacity(1 + forced.len());
            feed.push(ev.id);
            feed.extend(forced.iter().map(|f| f.id));
            self.pending.extend(forced);
            if self.seq.finished.is_some() {
                // A stop condition among the forced tokens: nothing more to compute.
            } else if self.session.cache.len() + feed.len() > self.session.cache.capacity() {
                let tail = self.seq.finish_length();
                self.pending.back_mut().unwrap_or(&mut ev).text.push_str(&tail);
            } else if let Err(e) = self.session.feed(&feed, &mut self.logits) {
                self.seq.finished = Some(StopReason::Length);
                self.pending.clear();
                return Some(Err(e));
            }
        }
        self.decode_ms = start.elapsed().as_secs_f64() * 1e3;
        Some(Ok(ev))
    }
}
