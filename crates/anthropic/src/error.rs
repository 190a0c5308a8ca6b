//! What can go wrong talking to the Anthropic API, as typed errors that name the upstream's
//! own error (status, `error.type`, message, `request-id`) so hearth can pass it on.

use std::fmt;
use std::time::Duration;

use crate::retry;

/// A failed call to the Anthropic API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with an error status (after any retries).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The API could not be reached, or the connection broke.
    #[error("could not reach the Anthropic API at {url}: {message}; check base_url and the network")]
    Connection {
        /// The URL called.
        url: String,
        /// What failed (connect, TLS, reset, ...).
        message: String,
    },
    /// No answer (or, streaming, no next chunk) within the per-request timeout.
    #[error("the Anthropic API at {url} did not answer within {after:?}")]
    Timeout {
        /// The URL called.
        url: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// A `2xx` body (or a streamed event) that is not the JSON the API documents.
    #[error("the Anthropic API sent a {what} that is not valid JSON ({message}){}", RequestId(request_id))]
    Decode {
        /// What was being read (`message`, `token count`, `stream event`).
        what: &'static str,
        /// The parser's complaint.
        message: String,
        /// The `request-id` header of the response.
        request_id: Option<String>,
    },
    /// An `error` event in a stream that had started with `200`; the stream ends with it.
    #[error("the Anthropic stream failed after it started: {0}")]
    Stream(ApiError),
    /// The stream ended (connection closed) before its `message_stop` event.
    #[error(
        "the Anthropic stream ended before message_stop{}: the answer is incomplete",
        RequestId(request_id)
    )]
    IncompleteStream {
        /// The `request-id` header of the response.
        request_id: Option<String>,
    },
    /// The client's configuration cannot be used (bad base URL, key with invalid characters).
    #[error("invalid Anthropic client configuration: {0}")]
    Config(String),
}

impl Error {
    /// Whether a new attempt of the same request may succeed: connection errors, timeouts, and
    /// the statuses the official SDK retries (see [`retry::should_retry`]), never a spend-limit
    /// 429. A stream `error` event of a transient kind (`overloaded_error`, `api_error`) counts
    /// too, though the client itself never retries once a stream has started.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.is_retryable(),
            Error::Connection { .. } | Error::Timeout { .. } | Error::IncompleteStream { .. } => true,
            Error::Stream(e) => matches!(e.kind.as_str(), "overloaded_error" | "api_error" | "timeout_error"),
            Error::Decode { .. } | Error::Config(_) => false,
        }
    }

    /// The upstream's `request-id`, when the error came with a response.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api(e) | Error::Stream(e) => e.request_id.as_deref(),
            Error::Decode { request_id, .. } | Error::IncompleteStream { request_id } => {
                request_id.as_deref()
            }
            _ => None,
        }
    }
}

/// An error answer of the API: its status, `error.type`, message, and what the response's
/// headers said about retrying.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status (`200` for an `error` event inside a stream).
    pub status: u16,
    /// `error.type`: `invalid_request_error`, `rate_limit_error`, `overloaded_error`, ...
    /// (`unknown` when the body was not the API's error JSON).
    pub kind: String,
    /// `error.message`, or the raw body when it was not JSON.
    pub message: String,
    /// `error.details.error_code`, a stable name of the cause (newer API versions).
    pub error_code: Option<String>,
    /// The `request-id` header (or the body's `request_id`).
    pub request_id: Option<String>,
    /// How long the API asked to wait (`retry-after-ms` / `retry-after`), when positive.
    pub retry_after: Option<Duration>,
    /// The `x-should-retry` header, when it was `true` or `false`.
    pub should_retry: Option<bool>,
}

impl ApiError {
    /// Whether the official SDK would retry this answer (`x-should-retry` first, then 408, 409,
    /// 429, 5xx), except that a 429 saying the spend limit is reached is never retried.
    pub fn is_retryable(&self) -> bool {
        let header = self.should_retry.map(|b| if b { "true" } else { "false" });
        retry::should_retry(self.status, header) && !self.is_spend_limit()
    }

    /// Whether this is a 429 because the organization's spend limit is reached (see
    /// [`retry::is_spend_limit`]): waiting will not help.
    pub fn is_spend_limit(&self) -> bool {
        retry::is_spend_limit(self.status, self.error_code.as_deref(), &self.message)
    }
}

impl retry::Retryable for Error {
    fn is_retryable(&self) -> bool {
        Error::is_retryable(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(api) => api.retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Anthropic API error {} {}: {}", self.status, self.kind, self.message)?;
        if let Some(code) = &self.error_code {
            write!(f, " [{code}]")?;
        }
        write!(f, "{}", RequestId(&self.request_id))
    }
}

impl std::error::Error for ApiError {}

/// Formats ` (request-id X)` when there is one.
struct RequestId<'a>(&'a Option<String>);

impl fmt::Display for RequestId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, " (request-id {id})"),
            None => Ok(()),
        }
    }
}
