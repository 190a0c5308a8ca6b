//! What one task's run produced: the local answer with its confidence signals and score,
//! and the upper tier's (the route's `escalate_to` or the reference remote), sent for real or
//! assumed.

use serde::{Deserialize, Serialize};

use hearth_router::Evidence;

/// One answer (local or upper tier).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// Which model answered (`small`, `claude`).
    pub model: String,
    /// The answer's text (cut to a few KiB in reports).
    pub answer: String,
    /// Whether it is right; `None`: not scored (no judge for a `reference` task, an error).
    pub correct: Option<bool>,
    /// Why it is wrong or unscored (a failed test's exception, a judge's note, an error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Prompt tokens (as the model counted them).
    pub input_tokens: u64,
    /// Answer tokens.
    pub output_tokens: u64,
    /// USD: a remote's price for these tokens; a local model's wall time at
    /// `[budget] local_usd_per_hour`.
    pub cost_usd: f64,
    /// Wall time of the call.
    pub latency_ms: u64,
    /// The token counts are estimates (no call was made: the local answer's counts).
    #[serde(default)]
    pub estimated: bool,
    /// The call failed (its error); the attempt is then unscored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One task of the suite, run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The case's id.
    pub id: String,
    /// Its task type.
    pub task: String,
    /// Its category, if the suite gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The scorer (`label`, `fields`, `python_tests`, `contains`, `reference`).
    pub scorer: String,
    /// The local answer.
    pub local: Attempt,
    /// Its confidence signals, as the router measures them.
    pub evidence: Option<Evidence>,
    /// The route's answer checks (empty, refusal, JSON cut short) would escalate it whatever
    /// the thresholds.
    pub invalid_output: bool,
    /// The upper tier's answer: sent for real, or assumed (`correct: true`, estimated tokens).
    pub upper: Attempt,
}

/// Which confidence signal a threshold applies to (the route's key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// `min_mean_logprob`: the mean token log-probability.
    MeanLogprob,
    /// `min_token_logprob`: the lowest token log-probability.
    MinLogprob,
    /// `min_label_margin`: the label's probability lead over the runner-up (classify, tag).
    LabelMargin,
}

impl Signal {
    /// Every signal, in the order ties are broken.
    pub const ALL: [Signal; 3] = [Signal::MeanLogprob, Signal::LabelMargin, Signal::MinLogprob];

    /// The route key that sets its threshold.
    pub fn key(self) -> &'static str {
        match self {
            Signal::MeanLogprob => "min_mean_logprob",
            Signal::MinLogprob => "min_token_logprob",
            Signal::LabelMargin => "min_label_margin",
        }
    }

    /// Its value in `evidence`.
    pub fn of(self, evidence: &Evidence) -> Option<f64> {
        match self {
            Signal::MeanLogprob => evidence.mean_logprob,
            Signal::MinLogprob => evidence.min_logprob,
            Signal::LabelMargin => evidence.label_margin,
        }
    }
}
