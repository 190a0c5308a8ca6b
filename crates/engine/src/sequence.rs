//! `SeqState`: the per-sequence half of generation — sampling, grammar constraints, stop
//! conditions, incremental detokenization — independent of who runs the forward passes (a
//! [`crate::Session`] or the server's batching scheduler).

use std::collections::VecDeque;

use hearth_grammar::{GrammarError, Matcher, MatcherStats};
use hearth_sampler::{Sampled, Sampler, StopMatcher};
use hearth_tokenizer::{Tokenizer, Utf8Stream};

use crate::{CancelToken, Engine, EngineError, Request, StopReason, TokenEvent};

/// Generation state of one sequence.
///
/// The loop, for whoever runs the model: [`SeqState::try_step`] with the logits of the last
/// position gives the next token's event; while not [`finished`](SeqState::finished), feed
/// the model that token followed by the ones [`SeqState::take_forced`] returns (tokens a
/// grammar leaves no choice about), all in one forward pass, and step again. A caller that
/// feeds one token per step may skip `take_forced`: forced tokens then come out of the
/// following steps, one per step, without sampling.
#[derive(Clone)]
pub struct SeqState {
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
    /// The matcher error that [`SeqState::step`] could not return.
    error: Option<GrammarError>,
    /// Generated ids, end-of-generation tokens excluded.
    pub ids: Vec<u32>,
    /// Text emitted so far.
    pub text: String,
    /// Set once the sequence is done.
    pub finished: Option<StopReason>,
}

impl std::fmt::Debug for SeqState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeqState")
            .field("ids", &self.ids.len())
            .field("constrained", &self.matcher.is_some())
            .field("finished", &self.finished)
            .finish()
    }
}

impl SeqState {
    /// State for an unconstrained `req` over a vocabulary of `n_vocab` logits. A request with
    /// a constraint is refused here: build its state with [`SeqState::for_engine`] (or
    /// [`SeqState::with_matcher`]).
    pub fn new(req: &Request, n_vocab: usize) -> Result<SeqState, EngineError> {
        if let Some(c) = &req.constraint {
            return Err(EngineError::Invalid(format!(
                "the request has a {} constraint: its state must be built with SeqState::for_engine",
                c.kind()
            )));
        }
        SeqState::with_matcher(req, n_vocab, None)
    }

    /// State for `req` on `engine`'s model, its constraint (if any) compiled with the
    /// engine's shared [`hearth_grammar::GrammarCompiler`].
    pub fn for_engine(req: &Request, engine: &Engine) -> Result<SeqState, EngineError> {
        let matcher = match &req.constraint {
            Some(c) => Some(engine.grammar()?.compile(c)?),
            None => None,
        };
        SeqState::with_matcher(req, engine.model.config().n_vocab, matcher)
    }

    /// State for `req` with an already compiled constraint (`req.constraint` is not looked
    /// at). Tokens the grammar forces at the very start come out of the first steps.
    pub fn with_matcher(
        req: &Request,
        n_vocab: usize,
        matcher: Option<Matcher>,
    ) -> Result<SeqState, EngineError> {
        let mut seq = SeqState {
            sampler: Sampler::new(req.sampling.clone(), n_vocab)?,
            stop: StopMatcher::new(req.stop.iter().map(String::as_str))?,
            utf8: Utf8Stream::default(),
            max_tokens: req.max_tokens,
            ignore_eos: req.ignore_eos,
            cancel: req.cancel.clone(),
            matcher,
            forced: VecDeque::new(),
            grammar_done: false,
            error: None,
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

    /// True when the caller cancelled (and marks the sequence finished).
    pub fn check_cancel(&mut self) -> bool {
        if self.finished.is_none() && self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            self.finished = Some(StopReason::Cancelled);
        }
        self.finished == Some(StopReason::Cancelled)
    }

    /// True when the request has a constraint.
    pub fn is_constrained(&self) -> bool {
        self.matcher.is_some()
    }

    /// The constraint's counters and timings (checks, masks, forced tokens), if it has one.
    pub fn grammar_stats(&self) -> Option<MatcherStats> {
        self.matcher.as_ref().map(|m| *m.stats())
    }

    /// Samples the next token from `logits` and advances the stop conditions. Every sampled
    /// token yields one event, including the end-of-generation token that ends a sequence
    /// (its id is not added to [`SeqState::ids`]); the event of the last token carries any
    /// text that was held back.
    ///
    /// This is [`SeqState::try_step`] for callers that do not handle errors: an unconstrained
    /// sequence never fails; a constrained one whose matcher fails ends (`Cancelled`), keeps
    /// the error for [`SeqState::take_error`], and returns an event with no text for the
    /// end token.
    pub fn step(&mut self, logits: &[f32], tok: &Tokenizer) -> TokenEvent {
        match self.try_step(logits, tok) {
            Ok(ev) => ev,
            Err(e) => {
                if let EngineError::Grammar(g) = e {
                    self.error = Some(g);
                }
                TokenEvent {
                    id: tok.eos().unwrap_or(0),
                    text: String::new(),
                    logprob: f32::NAN,
                    top: Vec::new(),
                }
            }
        }
    }

    /// The next token: the next forced one if the grammar forced any (no sampling; `logits`
    /// are not looked at), else one sampled from `logits`: sampled as without a constraint,
    /// checked against the grammar, and resampled under the grammar's full mask only when
    /// rejected. End-of-generation tokens count only where the grammar is complete. A
    /// grammar that completes ends the sequence (`Eos`) after its last token.
    ///
    /// A matcher error ends the sequence and is returned. Forced tokens carry a NaN
    /// logprob: the model was not consulted.
    pub fn try_step(&mut self, logits: &[f32], tok: &Tokenizer) -> Result<TokenEvent, EngineError> {
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
    /// the model together with the token of the last [`SeqState::try_step`], in one forward
    /// pass. Stops early when a stop condition ends the sequence (the tokens after it are
    /// not emitted and must not be fed).
    pub fn take_forced(&mut self, tok: &Tokenizer) -> Vec<TokenEvent> {
        let mut out = Vec::new();
        while self.finished.is_none() {
            let Some(id) = self.forced.pop_front() else { break };
            out.push(self.emit(id, tok, f32::NAN, Vec::new()));
        }
        out
    }

    /// The error a failed [`SeqState::step`] kept.
    pub fn take_error(&mut self) -> Option<EngineError> {
        self.error.take().map(EngineError::Grammar)
    }

    /// Tokens that may still be generated before `max_tokens`.
    pub fn tokens_left(&self) -> usize {
        self.max_tokens.saturating_sub(self.ids.len())
    }

    /// Ends the sequence for lack of context; returns the held-back text, now released.
    pub fn finish_length(&mut self) -> String {
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
