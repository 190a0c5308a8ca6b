//! The API's error body (SDK `types/shared/error_response.py`, `error_object.py`,
//! `error_type.py`, `error_details.py`):
//! `{"type": "error", "error": {"type": ..., "message": ..., "details": {"error_code": ...}},
//! "request_id": ...}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An error response body, and (its `error`) the payload of a streaming `error` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "error")]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorObject,
    /// The request's id, as in the `request-id` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorBody {
    /// A body with the given `error.type` and message.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorBody { error: ErrorObject::new(kind, message), request_id: None }
    }
}

/// The `error` object: a broad type (`invalid_request_error`, `authentication_error`,
/// `rate_limit_error`, `overloaded_error`, ...), a human-readable message, and on newer API
/// versions `details.error_code`, a stable name of the cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// The broad category (`error.type`).
    #[serde(rename = "type")]
    pub kind: String,
    /// A human-readable explanation; its wording can change.
    #[serde(default)]
    pub message: String,
    /// Machine-readable detail (`{"error_code": ...}`), when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ErrorObject {
    /// An error object without details.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorObject { kind: kind.into(), message: message.into(), details: None }
    }

    /// `details.error_code` (e.g. `enforced_spend_limit_reached`), when a string.
    pub fn error_code(&self) -> Option<&str> {
        self.details.as_ref()?.get("error_code")?.as_str()
    }
}
