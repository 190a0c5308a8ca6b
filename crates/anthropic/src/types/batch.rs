//! The Message Batches API (`/v1/messages/batches`): many messages requests in one, answered
//! within 24 hours at half the price (the SDK's `messages.batches`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Message, MessagesRequest};

/// One request of a batch (SDK `batch_create_params.Request`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRequest {
    /// The caller's id for the request (1–64 of `a-zA-Z0-9_-`), unique in the batch; results
    /// come back in any order, named by it.
    pub custom_id: String,
    /// The messages request (not streamed).
    pub params: MessagesRequest,
}

/// The body of `POST /v1/messages/batches`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchCreate {
    /// The requests.
    pub requests: Vec<BatchRequest>,
}

/// A batch (SDK `MessageBatch`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageBatch {
    /// `msgbatch_…`.
    pub id: String,
    /// Always `message_batch`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `in_progress`, `canceling` or `ended`.
    pub processing_status: String,
    /// Requests by state.
    pub request_counts: RequestCounts,
    /// RFC 3339, when processing ended.
    #[serde(default)]
    pub ended_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: 24 hours after creation.
    pub expires_at: String,
    /// RFC 3339, when the results were archived.
    #[serde(default)]
    pub archived_at: Option<String>,
    /// RFC 3339, when cancellation was asked.
    #[serde(default)]
    pub cancel_initiated_at: Option<String>,
    /// Where the results are, once ended.
    #[serde(default)]
    pub results_url: Option<String>,
}

impl MessageBatch {
    /// Processing has ended: every request succeeded, errored, was canceled or expired.
    pub fn ended(&self) -> bool {
        self.processing_status == "ended"
    }
}

/// A batch's requests by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCounts {
    /// Still processing.
    pub processing: u64,
    /// Answered.
    pub succeeded: u64,
    /// Failed.
    pub errored: u64,
    /// Canceled.
    pub canceled: u64,
    /// Not answered within 24 hours.
    pub expired: u64,
}

/// One line of a batch's results (`.jsonl`; SDK `MessageBatchIndividualResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    /// The request's `custom_id`.
    pub custom_id: String,
    /// What became of it.
    pub result: BatchOutcome,
}

/// What became of one request of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BatchOutcome {
    /// Its message.
    Succeeded {
        /// The answer.
        message: Message,
    },
    /// Its error (the API's error body).
    Errored {
        /// `{"type": "error", "error": {"type": ..., "message": ...}}`.
        error: Value,
    },
    /// Canceled before it was processed.
    Canceled,
    /// Not processed within 24 hours.
    Expired,
}
