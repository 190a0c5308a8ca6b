//! [`Judge`]: how the monitor reaches models (the thin adapter; `hearth serve` implements it
//! over its Claude / OpenAI clients and its local model pool, tests over the fake upstream).

use std::future::Future;

use hearth_router::{Remote, SampledRequest, Usage};

/// A model's answer to a judge call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JudgeReply {
    /// The answer's text (for a request with a schema: the JSON).
    pub text: String,
    /// Its token usage (prices it for remotes).
    pub usage: Usage,
    /// The upstream's id for the call.
    pub upstream_id: Option<String>,
    /// The model id the upstream reports.
    pub model: Option<String>,
    /// Answered through the Message Batches API (billed at half price).
    pub batch: bool,
}

/// Why a judge call gave no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct JudgeError {
    /// What failed.
    pub message: String,
    /// The upstream's request id, when it sent one.
    pub upstream_id: Option<String>,
}

impl JudgeError {
    /// An error with no upstream id.
    pub fn new(message: impl Into<String>) -> JudgeError {
        JudgeError { message: message.into(), upstream_id: None }
    }
}

/// The models a monitor calls. Calls may be slow; they run on the monitor's worker, never
/// on a client's request.
pub trait Judge: Sync {
    /// `remote` answers `request` (its schema, when set, enforced by structured output:
    /// Anthropic's `output_config.format`, OpenAI's `response_format`).
    fn ask(
        &self,
        remote: &Remote,
        request: &SampledRequest,
    ) -> impl Future<Output = Result<JudgeReply, JudgeError>> + Send;

    /// Local model `model` answers `request` greedily (shadow samples of a moved-up type).
    fn local(
        &self,
        model: &str,
        request: &SampledRequest,
    ) -> impl Future<Output = Result<JudgeReply, JudgeError>> + Send;
}
