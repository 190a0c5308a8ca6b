//! [`SamplingParams`]: what the caller asks for, checked once by [`SamplingParams::validate`].

use crate::SamplerError;

/// How to choose the next token. Plain data; [`crate::Sampler::new`] validates it.
///
/// The stages run in llama.cpp's default order (`common/sampling.cpp`):
/// `logit_bias → penalties → top_k → top_p → min_p → temperature → dist`, and greedy
/// (argmax) when `temperature <= 0`.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingParams {
    /// Softmax temperature; logits of the surviving candidates are divided by it.
    /// `<= 0` selects greedy decoding (argmax, ties to the lowest id).
    pub temperature: f32,
    /// Keep the `top_k` most likely tokens; `0` turns it off.
    pub top_k: usize,
    /// Nucleus sampling: keep the smallest most-likely prefix whose probability (softmax of the
    /// candidates left by `top_k`, before temperature) reaches `top_p`. In `(0, 1]`; `1` = off.
    pub top_p: f32,
    /// Drop tokens whose probability is below `min_p` times the most likely one's
    /// (`logit < max_logit + ln(min_p)`). In `[0, 1]`; `0` = off.
    pub min_p: f32,
    /// llama.cpp's repetition penalty for tokens seen in the window: positive logits are
    /// divided by it, negative (and zero) logits multiplied. `1` = off; must be `> 0`.
    pub repetition_penalty: f32,
    /// OpenAI's frequency penalty: `logit -= count * frequency_penalty`, where `count` is the
    /// number of times the token occurs in the window. `0` = off.
    pub frequency_penalty: f32,
    /// OpenAI's presence penalty: `logit -= presence_penalty` if the token occurs in the
    /// window. `0` = off.
    pub presence_penalty: f32,
    /// The penalty window: the last `penalty_last_n` tokens given to [`crate::Sampler::accept`].
    /// `0` turns all three penalties off; `usize::MAX` counts every accepted token (OpenAI's
    /// semantics, where the counts cover the whole completion).
    pub penalty_last_n: usize,
    /// RNG seed; `None` draws one from the OS. See [`crate::Sampler::seed`].
    pub seed: Option<u64>,
    /// Added to the logit of the token before anything else (`-inf` bans it). Repeated
    /// entries for one token add up, as in llama.cpp.
    pub logit_bias: Vec<(u32, f32)>,
    /// Report [`crate::Sampled::logprob`] (OpenAI `logprobs: true`). Costs one extra pass
    /// with an `exp` per vocabulary entry; implied by `n_logprobs > 0`.
    pub logprobs: bool,
    /// How many alternatives to report in [`crate::Sampled::top`] (OpenAI `top_logprobs`);
    /// `0` = none.
    pub n_logprobs: usize,
}

impl Default for SamplingParams {
    /// llama.cpp's defaults: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, penalties
    /// off with a window of 64, random seed, no bias, no logprobs.
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repetition_penalty: 1.0,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            penalty_last_n: 64,
            seed: None,
            logit_bias: Vec::new(),
            logprobs: false,
            n_logprobs: 0,
        }
    }
}

impl SamplingParams {
    /// Greedy decoding (temperature 0): always the most likely token, lowest id on ties.
    pub fn greedy() -> Self {
        Self { temperature: 0.0, ..Self::default() }
    }

    /// Checks every field's range (token ids in `logit_bias` are checked against the
    /// vocabulary by [`crate::Sampler::new`]).
    pub fn validate(&self) -> Result<(), SamplerError> {
        if !self.temperature.is_finite() {
            return Err(SamplerError::Temperature(self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(SamplerError::TopP(self.top_p));
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return Err(SamplerError::MinP(self.min_p));
        }
        if !(self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite()) {
            return Err(SamplerError::RepetitionPenalty(self.repetition_penalty));
        }
        for (name, value) in
            [("frequency_penalty", self.frequency_penalty), ("presence_penalty", self.presence_penalty)]
        {
            if !value.is_finite() {
                return Err(SamplerError::Penalty { name, value });
            }
        }
        for &(token, bias) in &self.logit_bias {
            if bias.is_nan() || bias == f32::INFINITY {
                return Err(SamplerError::LogitBias { token, bias });
            }
        }
        Ok(())
    }

    /// Whether [`crate::Sampled::logprob`] is computed.
    pub(crate) fn wants_logprobs(&self) -> bool {
        self.logprobs || self.n_logprobs > 0
    }
}
