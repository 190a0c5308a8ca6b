//! [`Sequence`]: one KV cache and, while it serves a request, everything about that request —
//! its prompt, how much of it is in the cache, the tokens emitted but not yet fed, its
//! generation state and timings. The synchronous [`crate::Session`] drives one `Sequence`; the
//! scheduler's engine thread drives one per slot. Both use the same steps:
//!
//! 1. [`Sequence::start`] — reuse the cached prefix of the prompt;
//! 2. [`Sequence::plan`] — choose this pass's input (a prompt chunk, or the unfed tokens plus
//!    any draft tokens) within a token budget;
//! 3. run the model on [`Sequence::input`], then [`Sequence::fed`] (or
//!    [`Sequence::rollback`] if the pass failed);
//! 4. [`Sequence::absorb`] the logits the pass produced: sample, verify drafts, take the
//!    tokens a grammar forces, check the context has room; events come out;
//! 5. when [`Sequence::finished`], [`Sequence::completion`] — the cache stays for the next
//!    request's prefix.

use std::time::Instant;

use hearth_models::{KvCache, Logits, SeqInput};
use hearth_tokenizer::Tokenizer;

use crate::gen_state::GenState;
use crate::token_cache::TokenCache;
use crate::{Completion, EngineError, MatcherStats, PromptIds, StopReason, TokenEvent};

/// A KV cache and the request it serves, if any.
#[derive(Debug)]
pub(crate) struct Sequence {
    cache: TokenCache,
    active: Option<Active>,
}

/// The request a [`Sequence`] serves.
#[derive(Debug)]
struct Active {
    state: GenState,
    prompt: PromptIds,
    /// Prompt tokens in the cache.
    fed: usize,
    /// Prompt tokens reused from the cache instead of recomputed.
    cached: usize,
    /// Tokens emitted but not yet run through the model: the last sampled one and any the
    /// grammar forced after it.
    unfed: Vec<u32>,
    /// This pass's input; its last `drafts` tokens are draft guesses.
    input: Vec<u32>,
    drafts: usize,
    want: Logits,
    /// Draft tokens proposed and accepted so far.
    drafted: usize,
    accepted: usize,
    started: Instant,
    prefill_ms: f64,
    decode_start: Option<Instant>,
    last_token: Option<Instant>,
}

/// What a sequence asks of the next forward pass (input to the batch planner).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Demand {
    /// Nothing to run.
    Idle,
    /// Decoding: these tokens must all run in one pass.
    Decode(usize),
    /// Prefilling: this many prompt tokens are left; any chunk of them may run.
    Prefill(usize),
}

impl Sequence {
    pub(crate) fn new(kv: KvCache) -> Sequence {
        Sequence { cache: TokenCache::new(kv), active: None }
    }

    /// The tokens in the cache.
    pub(crate) fn cached_tokens(&self) -> &[u32] {
        self.cache.tokens()
    }

    /// Serves a request: keeps the longest cached prefix of `prompt` (which the caller may
    /// have placed with [`Sequence::copy_prefix_from`]) and returns its length.
    pub(crate) fn start(&mut self, prompt: PromptIds, state: GenState) -> usize {
        let cached = self.cache.reuse_prefix(prompt.ids());
        self.active = Some(Active {
            state,
            prompt,
            fed: cached,
            cached,
            unfed: Vec::new(),
            input: Vec::new(),
            drafts: 0,
            want: Logits::None,
            drafted: 0,
            accepted: 0,
            started: Instant::now(),
            prefill_ms: 0.0,
            decode_start: None,
            last_token: None,
        });
        cached
    }

    /// Takes `prompt[..n]` from `donor`'s cache (which holds it), keeping the positions this
    /// cache already shares with it.
    pub(crate) fn copy_prefix_from(&mut self, donor: &Sequence, prompt: &[u32], n: usize) {
        let keep = crate::prompt::reusable_prefix(self.cache.tokens(), prompt).min(n);
        self.cache.truncate(keep);
        self.cache.copy_prefix_from(&donor.cache, keep, n);
    }

    /// Forgets the cache (only while idle).
    pub(crate) fn clear(&mut self) {
        self.cache.clear();
    }

    /// True while serving a request.
    pub(crate) fn is_busy(&self) -> bool {
        self.active.is_some()
    }

    /// Why the request ended; `None` while it runs or when idle.
    pub(crate) fn finished(&self) -> Option<StopReason> {
        self.active.as_ref().and_then(|a| a.state.finished())
    }

    /// True when the request's cancel token fired (and ends it).
    pub(crate) fn check_cancel(&mut self) -> bool {
        self.active.as_mut().is_some_and(|a| a.state.check_cancel())
    }

    /// Ends the request at the caller's request.
    pub(crate) fn cancel(&mut self) {
        if let Some(a) = &mut self.active {
            a.state.cancel();
        }
    }

    pub(crate) fn prompt_ids(&self) -> &[u32] {
        self.active.as_ref().map_or(&[], |a| a.prompt.ids())
    }

    pub(crate) fn prefill_ms(&self) -> f64 {
        self.active.as_ref().map_or(0.0, |a| a.prefill_ms)
    }

    pub(crate) fn grammar_stats(&self) -> Option<MatcherStats> {
        self.active.as_ref().and_then(|a| a.state.grammar_stats())
    }

    /// (draft tokens proposed, draft tokens accepted).
    pub(crate) fn speculation_stats(&self) -> (usize, usize) {
        self.active.as_ref().map_or((0, 0), |a| (a.drafted, a.accepted))
    }

    /// What this sequence needs from the next pass.
    pub(crate) fn demand(&self) -> Demand {
        match &self.active {
            Some(a) if a.state.finished().is_some() => Demand::Idle,
            Some(a) if !a.unfed.is_empty() => Demand::Decode(a.unfed.len()),
            Some(a) if a.fed < a.prompt.len() => Demand::Prefill(a.prompt.len() - a.fed),
            _ => Demand::Idle,
        }
    }

    /// True while the prompt is not fully in the cache.
    pub(crate) fn is_prefilling(&self) -> bool {
        matches!(self.demand(), Demand::Prefill(_))
    }

    /// How many draft tokens may follow the unfed ones in one pass of at most `n_batch`
    /// tokens: they must fit in the context, and never propose past `max_tokens`. Also
    /// writes into `history` the tokens a drafter continues (cache + unfed).
    pub(crate) fn draft_room(&self, n_batch: usize, history: &mut Vec<u32>) -> usize {
        history.clear();
        let Some(a) = &self.active else { return 0 };
        if a.state.is_constrained() || a.unfed.is_empty() {
            return 0;
        }
        history.extend_from_slice(self.cache.tokens());
        history.extend_from_slice(&a.unfed);
        let u = a.unfed.len();
        (self.cache.room().saturating_sub(u))
            .min(a.state.tokens_left().saturating_sub(1))
            .min(n_batch.saturating_sub(u))
    }

    /// Chooses this pass's input: the unfed tokens followed by `drafts` (all in one pass), or
    /// else the next prompt chunk of at most `budget` tokens. Returns its length (0: nothing
    /// to run).
    pub(crate) fn plan(&mut self, budget: usize, drafts: &[u32]) -> usize {
        let Some(a) = &mut self.active else { return 0 };
        a.input.clear();
        a.drafts = 0;
        if a.state.finished().is_some() {
            return 0;
        }
        if !a.unfed.is_empty() {
            a.input.extend_from_slice(&a.unfed);
            a.input.extend_from_slice(drafts);
            a.drafts = drafts.len();
            a.want = if drafts.is_empty() { Logits::Last } else { Logits::All };
        } else if a.fed < a.prompt.len() && budget > 0 {
            let n = (a.prompt.len() - a.fed).min(budget);
            a.input.extend_from_slice(&a.prompt.ids()[a.fed..a.fed + n]);
            a.want = if a.fed + n == a.prompt.len() { Logits::Last } else { Logits::None };
        }
        a.input.len()
    }

    /// The model input of the planned pass.
    pub(crate) fn input(&mut self) -> Option<SeqInput<'_>> {
        let a = self.active.as_ref().filter(|a| !a.input.is_empty())?;
        Some(self.cache.input(&a.input, a.want))
    }

    /// Length of the planned input (0: not in this pass).
    pub(crate) fn n_input(&self) -> usize {
        self.active.as_ref().map_or(0, |a| a.input.len())
    }

    /// Tokens generated so far.
    pub(crate) fn n_generated(&self) -> usize {
        self.active.as_ref().map_or(0, |a| a.state.ids().len())
    }

    /// Logits rows the planned pass produces for this sequence.
    pub(crate) fn n_logits(&self) -> usize {
        match &self.active {
            Some(a) if !a.input.is_empty() => match a.want {
                Logits::None => 0,
                Logits::Last => 1,
                Logits::All => a.input.len(),
            },
            _ => 0,
        }
    }

    /// Records that the planned pass ran: its input is in the cache. Returns the number of
    /// prompt tokens it processed.
    pub(crate) fn fed(&mut self) -> usize {
        let Some(a) = &mut self.active else { return 0 };
        self.cache.commit(&a.input);
        if a.unfed.is_empty() {
            a.fed += a.input.len();
            if a.fed == a.prompt.len() {
                a.prefill_ms = a.started.elapsed().as_secs_f64() * 1e3;
            }
            a.input.len()
        } else {
            a.unfed.clear();
            0
        }
    }

    /// Forgets what a failed pass left in the cache; the request is over.
    pub(crate) fn rollback(&mut self) {
        self.cache.rollback();
        if let Some(a) = &mut self.active {
            a.input.clear();
            a.state.cancel();
        }
    }

    /// Takes the logits of the pass that just ran ([`Sequence::n_logits`] rows): samples the
    /// next token (verifying draft tokens position by position, keeping them while the
    /// samples agree), takes any tokens the grammar forces, and ends the request when the
    /// tokens still to feed no longer fit in the context. Appends an event per emitted token
    /// to `events` (the held-back text goes with the last one). A matcher error ends the
    /// request and is returned.
    pub(crate) fn absorb(
        &mut self,
        rows: &[f32],
        n_vocab: usize,
        tok: &Tokenizer,
        events: &mut Vec<TokenEvent>,
    ) -> Result<(), EngineError> {
        let Some(a) = &mut self.active else { return Ok(()) };
        if rows.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        a.decode_start.get_or_insert(now);
        let k = a.drafts;
        let u = a.input.len() - k;
        // The row that predicts the token after the unfed ones (or after the prompt).
        let first = if k > 0 { u - 1 } else { 0 };
        let mut kept = u;
        let result: Result<(), EngineError> = (|| {
            for i in 0..=k {
                let row = &rows[(first + i) * n_vocab..(first + i + 1) * n_vocab];
                let ev = a.state.try_step(row, tok)?;
                let id = ev.id;
                events.push(ev);
                if a.state.finished().is_some() {
                    break;
                }
                if i < k && id == a.input[u + i] {
                    kept += 1;
                    continue;
                }
                a.unfed.push(id);
                let forced = a.state.take_forced(tok);
                a.unfed.extend(forced.iter().map(|f| f.id));
                events.extend(forced);
                break;
            }
            Ok(())
        })();
        a.last_token = Some(Instant::now());
        if k > 0 {
            // Forget the rejected drafts.
            a.accepted += kept - u;
            a.drafted += k;
            let len = self.cache.len() - a.input.len() + kept;
            self.cache.truncate(len);
        }
        a.input.clear();
        if a.state.finished().is_some() {
            a.unfed.clear();
        } else if !a.unfed.is_empty() && a.unfed.len() > self.cache.room() {
            a.unfed.clear();
            let tail = a.state.finish_length();
            if let Some(ev) = events.last_mut() {
                ev.text.push_str(&tail);
            }
        }
        result
    }

    /// Ends the request (as `Cancelled` if it had not ended) and returns its summary; the
    /// cache keeps the prompt and output for the next request's prefix.
    pub(crate) fn completion(&mut self) -> Option<Completion> {
        let a = self.active.take()?;
        let decode_ms = match (a.decode_start, a.last_token) {
            (Some(s), Some(e)) => (e - s).as_secs_f64() * 1e3,
            _ => 0.0,
        };
        let (ids, text, stop_reason) = a.state.into_output();
        Some(Completion {
            prompt_tokens: a.prompt.len(),
            prompt_ids: a.prompt.ids().to_vec(),
            completion_tokens: ids.len(),
            ids,
            text,
            cached_tokens: a.cached,
            prefill_ms: a.prefill_ms,
            decode_ms,
            stop_reason,
        })
    }
}
