//! `SeqState`: the per-sequence half of generation — sampling, stop conditions, incremental
//! detokenization — independent of who runs the forward passes (a [`crate::Session`] or the
//! server's batching scheduler).

use hearth_sampler::{Sampler, StopMatcher};
use hearth_tokenizer::{Tokenizer, Utf8Stream};

use crate::{CancelToken, EngineError, Request, StopReason, TokenEvent};

/// Generation state of one sequence.
#[derive(Clone)]
pub struct SeqState {
    sampler: Sampler,
    stop: StopMatcher,
    utf8: Utf8Stream,
    max_tokens: usize,
    ignore_eos: bool,
    cancel: Option<CancelToken>,
    /// Generated ids, end-of-generation tokens excluded.
    pub ids: Vec<u32>,
    /// Text emitted so far.
    pub text: String,
    /// Set once the sequence is done.
    pub finished: Option<StopReason>,
}

impl std::fmt::Debug for SeqState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeqState").field("ids", &self.ids.len()).field("finished", &self.finished).finish()
    }
}

impl SeqState {
    /// State for `req` over a vocabulary of `n_vocab` logits.
    pub fn new(req: &Request, n_vocab: usize) -> Result<SeqState, EngineError> {
        Ok(SeqState {
            sampler: Sampler::new(req.sampling.clone(), n_vocab)?,
            stop: StopMatcher::new(req.stop.iter().map(String::as_str))?,
            utf8: Utf8Stream::default(),
            max_tokens: req.max_tokens,
            ignore_eos: req.ignore_eos,
            cancel: req.cancel.clone(),
            ids: Vec::new(),
            text: String::new(),
            finished: if req.max_tokens == 0 { Some(StopReason::Length) } else { None },
        })
    }

    /// True when the caller cancelled (and marks the sequence finished).
    pub fn check_cancel(&mut self) -> bool {
        if self.finished.is_none() && self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            self.finished = Some(StopReason::Cancelled);
        }
        self.finished == Some(StopReason::Cancelled)
    }

    /// Samples the next token from `logits` and advances the stop conditions. Every sampled
    /// token yields one event, including the end-of-generation token that ends a sequence
    /// (its id is not added to [`SeqState::ids`]); the event of the last token carries any
    /// text that was held back.
    pub fn step(&mut self, logits: &[f32], tok: &Tokenizer) -> TokenEvent {
        let s = self.sampler.sample(logits);
        let id = s.token;
        let mut text = String::new();
        if tok.is_eog(id) && !self.ignore_eos {
            self.finished = Some(StopReason::Eos);
        } else {
            self.sampler.accept(id);
            self.ids.push(id);
            let piece = self.utf8.push(&tok.token_to_piece(id, false));
            let st = self.stop.push(&piece);
            text = st.emit;
            if st.stopped.is_some() {
                self.finished = Some(StopReason::Stop);
            } else if self.ids.len() >= self.max_tokens {
                self.finished = Some(StopReason::Length);
            }
        }
        if matches!(self.finished, Some(StopReason::Eos | StopReason::Length)) {
            text.push_str(&self.flush());
        }
        self.text.push_str(&text);
        TokenEvent { id, text, logprob: s.logprob, top: s.top }
    }

    /// Ends the sequence for lack of context; returns the held-back text, now released.
    pub fn finish_length(&mut self) -> String {
        self.finished = Some(StopReason::Length);
        let tail = self.flush();
        self.text.push_str(&tail);
        tail
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
