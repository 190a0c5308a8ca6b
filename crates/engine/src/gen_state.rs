//! [`GenState`]: what one request's generation decides — sampling, grammar constraint, stop
//! conditions, incremental detokenization — independent of the model and its cache (the
//! [`crate::sequence::Sequence`] that owns it runs the forward passes).

use std::collections::VecDeque;

use hearth_grammar::{GrammarError, Matcher, MatcherStats};
use hearth_sampler::{Sampled, Sampler, StopMatcher};
use hearth_tokenizer::{Tokenizer, Utf8Stream};

use crate::{CancelToken, Engine, EngineError, Request, StopReason, TokenEvent};

/// Generation state of one request.
///
/// The loop, for whoever runs the model: [`GenState::try_step`] with the logits of the last
/// position gives the next token's event; while not [`finished`](GenState::finished), feed
/// the model that token followed by the ones [`GenState::take_forced`] returns (tokens a
/// grammar leaves no choice about), all in one forward pass, and step again. A caller that
/// feeds one token per step may skip `take_forced`: forced tokens then come out of the
/// following steps, one per step, without sampling.
pub(crate) struct GenState {
    sampler: Sampler,
    stop: StopMatcher,
    utf8: Utf8Stream,
    max_tokens: usize,
    ignore_eos: bool,
    cancel: Option<CancelToken>,
    /// The request's constraint, compiled.
    matcher: Option<Matcher>,
    /// Tokens the grammar forced (already consumed by `matcher`), not yet emitted.
    forced: VecDeque<u32>,
    /// The grammar is complete: once `forced` is emitted the sequence ends.
    grammar_done: bool,
    /// Generated ids, end-of-generation tokens excluded.
    ids: Vec<u32>,
    /// Text emitted so far.
    text: String,
    /// Set once the sequence is done.
    finished: Option<StopReason>,
}

impl std::fmt::Debug for GenState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenState")
            .field("ids", &self.ids.len())
            .field("constrained", &self.matcher.is_some())
            .field("finished", &self.finished)
            .finish()
    }
}

impl GenState {
    /// State for `req` with its constraint already compiled into `matcher` (`req.constraint`
    /// is not looked at). Tokens the grammar forces at the very start come out of the first
    /// steps.
    pub(crate) fn new(
        req: &Request,
        n_vocab: usize,
        matcher: Option<Matcher>,
    ) -> Result<GenState, EngineError> {
        let mut seq = GenState {
            sampler: Sampler::new(req.sampling.clone(), n_vocab)?,
            stop: StopMatcher::new(req.stop.iter().map(String::as_str))?,
            utf8: Utf8Stream::default(),
            max_tokens: req.max_tokens,
            ignore_eos: req.ignore_eos,
            cancel: req.cancel.clone(),
            matcher,
            forced: VecDeque::new(),
            grammar_done: false,
            ids: Vec::new(),
            text: String::new(),
            finished: if req.max_tokens == 0 { Some(StopReason::Length) } else { None },
        };
        if let Some(m) = &mut seq.matcher {
            seq.forced.extend(m.consume_forced()?);
            seq.grammar_done = m.is_finished();
        }
        Ok(seq)
    }

    /// State for `req` on `engine`'s model, its constraint (if any) compiled with the
    /// engine's shared grammar compiler. The compile can take long for a large schema: call
    /// this off the engine thread.
    pub(crate) fn for_engine(req: &Request, engine: &Engine) -> Result<GenState, EngineError> {
        let matcher = match &req.constraint {
            Some(c) => Some(engine.grammar()?.compile(c)?),
            None => None,
        };
        GenState::new(req, engine.model.config().n_vocab, matcher)
    }

    /// Why the generation ended (`None` while it runs).
    pub(crate) fn finished(&self) -> Option<StopReason> {
        self.finished
    }

    /// Generated ids so far (end-of-generation tokens excluded).
    pub(crate) fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// Ends the generation at the caller's request, unless it already ended.
    pub(crate) fn cancel(&mut self) {
        self.finished.get_or_insert(StopReason::Cancelled);
    }

    /// The generated ids and text, and why it ended (`Cancelled` if it had not).
    pub(crate) fn into_output(self) -> (Vec<u32>, String, StopReason) {
        (self.ids, self.text, self.finished.unwrap_or(StopReason::Cancelled))
    }

    /// True when the caller cancelled (and marks the sequence finished).
    pub(crate) fn check_cancel(&mut self) -> bool {
        if self.finished.is_none() && self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            self.finished = Some(StopReason::Cancelled);
        }
        self.finished == Some(StopReason::Cancelled)
    }

    /// True when the request has a constraint.
    pub(crate) fn is_constrained(&self) -> bool {
        self.matcher.is_some()
    }

    /// The constraint's counters and timings (checks, masks, forced tokens), if it has one.
    pub(crate) fn grammar_stats(&self) -> Option<MatcherStats> {
        self.matcher.as_ref().map(|m| *m.stats())
    }

    /// The next token: the next forced one if the grammar forced any (no sampling; `logits`
    /// are not looked at), else one sampled from `logits`: sampled as without a constraint,
    /// checked against the grammar, and resampled under the grammar's full mask only when
    /// rejected. End-of-generation tokens count only where the grammar is complete. A
    /// grammar that completes ends the sequence (`Eos`) after its last token.
    ///
    /// A matcher error ends the sequence and is returned. Forced tokens carry a NaN
    /// logprob: the model was not consulted.
    pub(crate) fn try_step(&mut self, logits: &[f32], tok: &Tokenizer) -> Result<TokenEvent, EngineError> {
        if let Some(id) = self.forced.pop_front() {
            return Ok(self.emit(id, tok, f32::NAN, Vec::new()));
        }
        if self.grammar_done {
            // Complete with nothing left to emit (a grammar that matches only the empty
            // text): the end token, as if sampled.
            self.finished = Some(StopReason::Eos);
            let text = self.flush();
            self.text.push_str(&text);
            let id = tok.eot().or(tok.eos()).unwrap_or(0);
            return Ok(TokenEvent { id, text, logprob: f32::NAN, top: Vec::new() });
        }
        let s = match self.sample(logits) {
            Ok(s) => s,
            Err(e) => return Err(self.fail(e)),
        };
        let id = s.token;
        let ends = tok.is_eog(id) && (self.matcher.is_some() || !self.ignore_eos);
        if ends {
            self.finished = Some(StopReason::Eos);
            let text = self.flush();
            self.text.push_str(&text);
            return Ok(TokenEvent { id, text, logprob: s.logprob, top: s.top });
        }
        if let Some(m) = &mut self.matcher {
            let r = m.consume(id).and_then(|()| m.consume_forced());
            match r {
                Ok(forced) => {
                    self.forced.extend(forced);
                    self.grammar_done = m.is_finished();
                }
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(self.emit(id, tok, s.logprob, s.top))
    }

    /// Emits every forced token now (each its own event), for a caller that feeds them to
    /// the model together with the token of the last [`GenState::try_step`], in one forward
    /// pass. Stops early when a stop condition ends the sequence (the tokens after it are
    /// not emitted and must not be fed).
    pub(crate) fn take_forced(&mut self, tok: &Tokenizer) -> Vec<TokenEvent> {
        let mut out = Vec::new();
        while self.finished.is_none() {
            let Some(id) = self.forced.pop_front() else { break };
            out.push(self.emit(id, tok, f32::NAN, Vec::new()));
        }
        out
    }

    /// Tokens that may still be generated before `max_tokens`.
    pub(crate) fn tokens_left(&self) -> usize {
        self.max_tokens.saturating_sub(self.ids.len())
    }

    /// Ends the sequence for lack of context; returns the held-back text, now released.
    pub(crate) fn finish_length(&mut self) -> String {
        self.finished = Some(StopReason::Length);
        let tail = self.flush();
        self.text.push_str(&tail);
        tail
    }

    /// One token from `logits`, within the grammar when there is one.
    fn sample(&mut self, logits: &[f32]) -> Result<Sampled, GrammarError> {
        let first = self.sampler.sample(logits);
        let Some(m) = &mut self.matcher else { return Ok(first) };
        if m.allows(first.token)? {
            return Ok(first);
        }
        let mask = m.compute_mask()?;
        self.sampler
            .sample_with_bitmask(logits, mask)
            .ok_or_else(|| GrammarError::Matcher("every token the grammar allows has a -inf logit".into()))
    }

    /// Ends the sequence because of `e`.
    fn fail(&mut self, e: GrammarError) -> EngineError {
        self.finished = Some(StopReason::Cancelled);
        EngineError::Grammar(e)
    }

    /// Appends `id` to the output and advances the stop conditions; the event's text
    /// includes the held-back text when this token ends the sequence.
    fn emit(&mut self, id: u32, tok: &Tokenizer, logprob: f32, top: Vec<(u32, f32)>) -> TokenEvent {
        self.sampler.accept(id);
        self.ids.push(id);
        let piece = self.utf8.push(&tok.token_to_piece(id, false));
        let st = self.stop.push(&piece);
        let mut text = st.emit;
        if st.stopped.is_some() {
            self.finished = Some(StopReason::Stop);
        } else if self.ids.len() >= self.max_tokens {
            self.finished = Some(StopReason::Length);
        } else if self.grammar_done && self.forced.is_empty() {
            self.finished = Some(StopReason::Eos);
        }
        if matches!(self.finished, Some(StopReason::Eos | StopReason::Length)) {
            text.push_str(&self.flush());
        }
        self.text.push_str(&text);
        TokenEvent { id, text, logprob, top }
    }

    /// Releases text held back for an incomplete character or a possible stop string.
    fn flush(&mut self) -> String {
        let rest = self.utf8.finish();
        let st = self.stop.push(&rest);
        let mut out = st.emit;
        if st.stopped.is_some() {
            self.finished = Some(StopReason::Stop);
        } else {
            out.push_str(&self.stop.finish());
        }
        out
    }
}
