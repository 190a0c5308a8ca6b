//! Repetition, frequency and presence penalties over a window of accepted tokens.

use std::collections::{HashMap, VecDeque};

use crate::SamplingParams;

/// Window history and per-token counts (llama.cpp's `llama_sampler_penalties`).
#[derive(Clone, Debug)]
pub(crate) struct Penalties {
    /// Window length; `usize::MAX` = unbounded (no history kept, counts only grow).
    last_n: usize,
    repeat: f32,
    freq: f32,
    present: f32,
    /// `[<= last_n]` token ids in the window, oldest first (empty when unbounded).
    history: VecDeque<u32>,
    /// Occurrences of each token in the window (entries are `>= 1`).
    counts: HashMap<u32, u32>,
}

/// Initial capacity of the window buffers; they grow past it only for long windows.
const RESERVE: usize = 4096;

impl Penalties {
    pub(crate) fn new(p: &SamplingParams) -> Self {
        let mut s = Self {
            last_n: p.penalty_last_n,
            repeat: p.repetition_penalty,
            freq: p.frequency_penalty,
            present: p.presence_penalty,
            history: VecDeque::new(),
            counts: HashMap::new(),
        };
        if s.enabled() {
            let reserve = s.last_n.min(RESERVE);
            s.counts.reserve(reserve);
            if s.last_n != usize::MAX {
                s.history.reserve(reserve);
            }
        }
        s
    }

    /// llama.cpp's `is_disabled` negated: a window and at least one penalty.
    pub(crate) fn enabled(&self) -> bool {
        self.last_n != 0 && !(self.repeat == 1.0 && self.freq == 0.0 && self.present == 0.0)
    }

    /// Whether applying would change any logit.
    pub(crate) fn active(&self) -> bool {
        self.enabled() && !self.counts.is_empty()
    }

    pub(crate) fn accept(&mut self, token: u32) {
        if !self.enabled() {
            return;
        }
        *self.counts.entry(token).or_insert(0) += 1;
        if self.last_n == usize::MAX {
            return;
        }
        if self.history.len() >= self.last_n
            && let Some(old) = self.history.pop_front()
            && let Some(c) = self.counts.get_mut(&old)
        {
            *c -= 1;
            if *c == 0 {
                self.counts.remove(&old);
            }
        }
        self.history.push_back(token);
    }

    /// Penalises `logits[t]` for each token `t` in the window, as llama.cpp does:
    /// repetition first (`/ repeat` if positive, `* repeat` otherwise), then
    /// `-= count * freq + present`. Ids outside `logits` are skipped.
    pub(crate) fn apply(&self, logits: &mut [f32]) {
        if !self.enabled() {
            return;
        }
        for (&token, &count) in &self.counts {
            let Some(l) = logits.get_mut(token as usize) else {
                continue;
            };
            if *l <= 0.0 {
                *l *= self.repeat;
            } else {
                *l /= self.repeat;
            }
            *l -= count as f32 * self.freq + self.present;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.history.clear();
        self.counts.clear();
    }

    /// Occurrences of `token` in the window.
    #[cfg(test)]
    pub(crate) fn count(&self, token: u32) -> u32 {
        self.counts.get(&token).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn penalties(last_n: usize) -> Penalties {
        Penalties::new(&SamplingParams {
            penalty_last_n: last_n,
            frequency_penalty: 1.0,
            ..SamplingParams::default()
        })
    }

    #[test]
    fn window_forgets_old_tokens() {
        let mut p = penalties(3);
        for t in [5, 5, 7, 8] {
            p.accept(t);
        }
        // Window is [5, 7, 8].
        assert_eq!((p.count(5), p.count(7), p.count(8)), (1, 1, 1));
        p.accept(9);
        assert_eq!(p.count(5), 0);
        assert!(!p.counts.contains_key(&5));
    }

    #[test]
    fn unbounded_window_counts_everything() {
        let mut p = penalties(usize::MAX);
        for _ in 0..1000 {
            p.accept(3);
        }
        assert_eq!(p.count(3), 1000);
        assert!(p.history.is_empty());
    }

    #[test]
    fn disabled_penalties_record_nothing() {
        let mut p = Penalties::new(&SamplingParams::default());
        p.accept(1);
        assert!(!p.active());
        assert_eq!(p.count(1), 0);
        let mut p = penalties(0);
        p.accept(1);
        assert!(!p.active());
    }
}
