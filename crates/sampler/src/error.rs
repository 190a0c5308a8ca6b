//! The error type: invalid sampling parameters and stop strings.

/// Why a [`crate::SamplingParams`], [`crate::Sampler`] or [`crate::StopMatcher`] was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SamplerError {
    /// `temperature` is NaN or infinite (any finite value is fine; `<= 0` means greedy).
    #[error("temperature must be finite, got {0}")]
    Temperature(f32),
    /// `top_p` is outside `(0, 1]`.
    #[error("top_p must be in (0, 1], got {0}")]
    TopP(f32),
    /// `min_p` is outside `[0, 1]`.
    #[error("min_p must be in [0, 1], got {0}")]
    MinP(f32),
    /// `repetition_penalty` is not a finite number `> 0` (`1` turns it off).
    #[error("repetition_penalty must be finite and > 0, got {0}")]
    RepetitionPenalty(f32),
    /// `frequency_penalty` or `presence_penalty` is NaN or infinite.
    #[error("{name} must be finite, got {value}")]
    Penalty {
        /// Which parameter.
        name: &'static str,
        /// The value given.
        value: f32,
    },
    /// A `logit_bias` entry is NaN or `+inf` (`-inf` is allowed: it bans the token).
    #[error("logit_bias for token {token} must be finite or -inf, got {bias}")]
    LogitBias {
        /// The token the bias is for.
        token: u32,
        /// The bias given.
        bias: f32,
    },
    /// A `logit_bias` entry names a token outside the vocabulary.
    #[error("logit_bias names token {token}, out of range for a vocabulary of {n_vocab}")]
    TokenOutOfRange {
        /// The token id given.
        token: u32,
        /// The vocabulary size of the sampler.
        n_vocab: usize,
    },
    /// The vocabulary size is 0 or does not fit token ids in `u32`.
    #[error("vocabulary size must be in 1..=2^32, got {0}")]
    VocabSize(usize),
    /// A stop string is empty (it would match before any text).
    #[error("stop string {index} is empty")]
    EmptyStop {
        /// Position of the empty string in the list given.
        index: usize,
    },
}
