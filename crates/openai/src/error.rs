//! What can go wrong talking to an OpenAI-compatible API, as typed errors that name the
//! upstream's own error (status, `error.type`, `error.code`, message, `x-request-id`) so
//! hearth can pass it on.
//!
//! Error bodies are read in both shapes servers send: OpenAI's (and llama-server's, and
//! hearth's) `{"error": {"message", "type", "param", "code"}}`, and the flat
//! `{"object": "error", "message", "type", "param", "code"}` of older vLLM releases. `code`
//! may be a string (`"rate_limit_exceeded"`), a number (`400`) or null.

use std::fmt;
use std::time::Duration;

use hearth_retry::{Hints, Retryable};
use serde_json::Value;

/// The most of a non-JSON error body quoted in an error message.
const MAX_QUOTED_BYTES: usize = 512;

/// A failed call to an OpenAI-compatible API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with an error status (after any retries).
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The API could not be reached, or the connection broke.
    #[error(
        "could not reach the OpenAI-compatible API at {url}: {message}; check base_url and that the server is up"
    )]
    Connection {
        /// The URL called.
        url: String,
        /// What failed (connect, TLS, reset, ...).
        message: String,
    },
    /// No answer (or, streaming, no next chunk) within the per-request timeout.
    #[error("the OpenAI-compatible API at {url} did not answer within {after:?}")]
    Timeout {
        /// The URL called.
        url: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// A `2xx` body (or a streamed chunk) that is not JSON.
    #[error(
        "the OpenAI-compatible API sent a {what} that is not valid JSON ({message}){}",
        RequestId(request_id)
    )]
    Decode {
        /// What was being read (`chat completion`, `stream chunk`).
        what: &'static str,
        /// The parser's complaint.
        message: String,
        /// The `x-request-id` header of the response.
        request_id: Option<String>,
    },
    /// An error inside a stream that had started with `200` (a chunk with an `error`
    /// member, or an `error` event); the stream ends with it.
    #[error("the OpenAI-compatible stream failed after it started: {0}")]
    Stream(Box<ApiError>),
    /// The stream ended (connection closed) before `data: [DONE]`.
    #[error(
        "the OpenAI-compatible stream ended before [DONE]{}: the answer is incomplete",
        RequestId(request_id)
    )]
    IncompleteStream {
        /// The `x-request-id` header of the response.
        request_id: Option<String>,
    },
    /// The client's configuration cannot be used (bad base URL, key with invalid characters).
    #[error("invalid OpenAI-compatible client configuration: {0}")]
    Config(String),
}

impl Error {
    /// Whether a new attempt of the same request may succeed: connection errors, timeouts, a
    /// cut stream, and the statuses the official SDK retries ([`ApiError::is_retryable`]).
    /// The client itself never retries once a stream has started.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.is_retryable(),
            Error::Connection { .. } | Error::Timeout { .. } | Error::IncompleteStream { .. } => true,
            Error::Stream(e) => matches!(e.kind.as_str(), "server_error" | "api_error" | "overloaded_error"),
            Error::Decode { .. } | Error::Config(_) => false,
        }
    }

    /// The upstream's `x-request-id`, when the error came with a response.
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

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

impl Retryable for Error {
    fn is_retryable(&self) -> bool {
        Error::is_retryable(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(e) => e.retry_after,
            _ => None,
        }
    }
}

/// An error answer of the API: its status, the error object's fields, and what the
/// response's headers said about retrying.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status (`200` for an error inside a stream).
    pub status: u16,
    /// `error.type`: `invalid_request_error`, `rate_limit_error`, `server_error`, ...
    /// (`unknown` when the body had none or was not JSON).
    pub kind: String,
    /// `error.message`, or the start of the raw body when it was not JSON.
    pub message: String,
    /// `error.code` as text (`rate_limit_exceeded`, `model_not_found`, `400`), when sent.
    pub code: Option<String>,
    /// `error.param`, the request field at fault, when sent.
    pub param: Option<String>,
    /// The `x-request-id` header.
    pub request_id: Option<String>,
    /// How long the API asked to wait (`retry-after-ms` / `retry-after`), when positive.
    pub retry_after: Option<Duration>,
    /// The `x-should-retry` header, when it was `true` or `false`.
    pub should_retry: Option<bool>,
}

impl ApiError {
    /// The error of a response with `status`, retry `hints` from its headers, its
    /// `x-request-id` and `body`: the error object's fields when the body is an error JSON,
    /// else the body's start as the message.
    pub fn from_response(status: u16, hints: Hints, request_id: Option<String>, body: &[u8]) -> ApiError {
        let mut error = match serde_json::from_slice::<Value>(body) {
            Ok(v) => error_object(&v).map_or_else(|| unknown(status, body), |o| fields(status, o)),
            Err(_) => unknown(status, body),
        };
        error.request_id = request_id;
        error.retry_after = hints.retry_after;
        error.should_retry = hints.should_retry;
        error
    }

    /// The error an in-stream error payload (`{"error": {...}}`, or the object itself)
    /// stands for, with status 200.
    pub fn from_stream(data: &Value, request_id: Option<String>) -> ApiError {
        let mut error = error_object(data)
            .map_or_else(|| ApiError { message: data.to_string(), ..unknown(200, b"") }, |o| fields(200, o));
        error.request_id = request_id;
        error
    }

    /// Whether the official SDK would retry this answer: `x-should-retry` first, then 408,
    /// 409, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        Hints { retry_after: self.retry_after, should_retry: self.should_retry }.should_retry(self.status)
    }
}

/// The error object of a body: its `error` member when that is an object, else the body
/// itself when it carries a `message` (the flat vLLM form).
fn error_object(v: &Value) -> Option<&serde_json::Map<String, Value>> {
    match v.get("error") {
        Some(Value::Object(o)) => Some(o),
        Some(Value::String(_)) | None => {
            v.as_object().filter(|o| o.get("message").is_some_and(Value::is_string))
        }
        _ => None,
    }
}

/// A JSON scalar as text (`"x"` → `x`, `400` → `400`); null and containers give `None`.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn fields(status: u16, o: &serde_json::Map<String, Value>) -> ApiError {
    ApiError {
        status,
        kind: text(o.get("type")).unwrap_or_else(|| "unknown".to_owned()),
        message: text(o.get("message")).unwrap_or_else(|| Value::Object(o.clone()).to_string()),
        code: text(o.get("code")),
        param: text(o.get("param")),
        request_id: None,
        retry_after: None,
        should_retry: None,
    }
}

fn unknown(status: u16, body: &[u8]) -> ApiError {
    let quoted = String::from_utf8_lossy(&body[..body.len().min(MAX_QUOTED_BYTES)]);
    let quoted = quoted.trim();
    ApiError {
        status,
        kind: "unknown".to_owned(),
        message: if quoted.is_empty() {
            format!("HTTP {status} with an empty body")
        } else {
            quoted.to_owned()
        },
        code: None,
        param: None,
        request_id: None,
        retry_after: None,
        should_retry: None,
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpenAI-compatible API error {} {}: {}", self.status, self.kind, self.message)?;
        if let Some(code) = &self.code {
            write!(f, " [{code}]")?;
        }
        if let Some(param) = &self.param {
            write!(f, " (param {param})")?;
        }
        write!(f, "{}", RequestId(&self.request_id))
    }
}

impl std::error::Error for ApiError {}

/// Formats ` (x-request-id X)` when there is one.
struct RequestId<'a>(&'a Option<String>);

impl fmt::Display for RequestId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, " (x-request-id {id})"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(retry_after: Option<u64>, should_retry: Option<bool>) -> Hints {
        Hints { retry_after: retry_after.map(Duration::from_secs), should_retry }
    }

    #[test]
    fn an_openai_error_body_becomes_a_typed_error() {
        let body = br#"{"error": {"message": "Rate limit reached for gpt-4o", "type": "requests",
            "param": null, "code": "rate_limit_exceeded"}}"#;
        let e = ApiError::from_response(429, hints(Some(2), None), Some("req_1".into()), body);
        assert_eq!(e.kind, "requests");
        assert_eq!(e.message, "Rate limit reached for gpt-4o");
        assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"));
        assert_eq!(e.param, None);
        assert_eq!(e.retry_after, Some(Duration::from_secs(2)));
        assert!(e.is_retryable());
        let text = e.to_string();
        assert!(
            text.contains("429") && text.contains("rate_limit_exceeded") && text.contains("req_1"),
            "{text}"
        );
    }

    #[test]
    fn numeric_codes_params_and_the_flat_vllm_form_are_read() {
        let llama = br#"{"error": {"code": 400, "message": "the request exceeds the context", "type": "invalid_request_error"}}"#;
        let e = ApiError::from_response(400, Hints::default(), None, llama);
        assert_eq!((e.kind.as_str(), e.code.as_deref()), ("invalid_request_error", Some("400")));
        assert!(!e.is_retryable());
        let vllm = br#"{"object": "error", "message": "bad temperature", "type": "BadRequestError", "param": "temperature", "code": 400}"#;
        let e = ApiError::from_response(400, Hints::default(), None, vllm);
        assert_eq!(e.message, "bad temperature");
        assert_eq!(e.param.as_deref(), Some("temperature"));
        assert!(e.to_string().contains("param temperature"));
    }

    #[test]
    fn a_body_that_is_not_an_error_json_is_quoted() {
        let e = ApiError::from_response(502, Hints::default(), None, b"<html>Bad Gateway</html>");
        assert_eq!((e.kind.as_str(), e.message.as_str()), ("unknown", "<html>Bad Gateway</html>"));
        assert!(e.is_retryable());
        let e = ApiError::from_response(503, Hints::default(), None, b"{\"detail\": \"down\"}");
        assert_eq!(e.message, "{\"detail\": \"down\"}", "JSON without an error object is quoted too");
        assert_eq!(
            ApiError::from_response(500, Hints::default(), None, b"").message,
            "HTTP 500 with an empty body"
        );
        let long = vec![b'x'; 4096];
        assert_eq!(
            ApiError::from_response(500, Hints::default(), None, &long).message.len(),
            MAX_QUOTED_BYTES
        );
    }

    #[test]
    fn x_should_retry_decides_before_the_status() {
        let no = ApiError::from_response(503, hints(None, Some(false)), None, b"");
        assert!(!no.is_retryable());
        let yes = ApiError::from_response(400, hints(None, Some(true)), None, b"");
        assert!(yes.is_retryable());
        assert!(Error::Timeout { url: "u".into(), after: Duration::from_secs(1) }.is_retryable());
        assert!(!Error::Config("x".into()).is_retryable());
    }

    #[test]
    fn stream_errors_have_status_200() {
        let e = ApiError::from_stream(
            &serde_json::json!({"error": {"message": "overloaded", "type": "server_error", "code": null}}),
            Some("r".into()),
        );
        assert_eq!((e.status, e.kind.as_str(), e.message.as_str()), (200, "server_error", "overloaded"));
        assert_eq!(e.code, None);
        assert!(Error::Stream(Box::new(e)).is_retryable());
        let odd = ApiError::from_stream(&serde_json::json!({"error": 7}), None);
        assert_eq!(odd.kind, "unknown");
    }
}
