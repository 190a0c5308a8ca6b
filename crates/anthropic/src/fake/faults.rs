//! Faults a test can queue on the fake: each `/v1/...` request takes the next one, if any.
//! As JSON (for `POST /_fake/faults`) a fault is tagged by `kind`, e.g.
//! `[{"kind": "overloaded"}, {"kind": "rate_limit", "retry_after": "0.2"}]`.

use serde::{Deserialize, Serialize};

/// One injected misbehaviour, consumed by the next API request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// 429 `rate_limit_error`, with `retry-after` / `retry-after-ms` when given.
    RateLimit {
        /// The `retry-after` header (seconds or an HTTP date).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<String>,
        /// The `retry-after-ms` header.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<String>,
    },
    /// 529 `overloaded_error`.
    Overloaded,
    /// 500 `api_error`.
    ServerError,
    /// 429 `rate_limit_error` saying the spend limit is reached, with `details.error_code`
    /// `enforced_spend_limit_reached` (no `x-should-retry`: the client's own rule must stop).
    SpendLimit,
    /// Any error answer.
    Error {
        /// HTTP status.
        status: u16,
        /// `error.type`.
        error_type: String,
        /// `error.message`.
        message: String,
        /// `x-should-retry: true|false`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        should_retry: Option<bool>,
        /// The `retry-after` header.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<String>,
        /// `error.details.error_code`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_code: Option<String>,
    },
    /// Wait this long before handling the request (longer than a client's timeout: a hang).
    Hang {
        /// Milliseconds.
        ms: u64,
    },
    /// Answer `200` with a body cut in the middle of its JSON (streaming: a cut event).
    MalformedJson,
    /// Answer a streaming request with `200`, a few events, then an `error` event.
    StreamError {
        /// `error.type` of the event.
        #[serde(default = "overloaded")]
        error_type: String,
        /// `error.message` of the event.
        #[serde(default = "overloaded_message")]
        message: String,
    },
}

fn overloaded() -> String {
    "overloaded_error".into()
}

fn overloaded_message() -> String {
    "Overloaded".into()
}

impl Fault {
    /// A 429 with `retry-after: <secs>`.
    pub fn rate_limit_after(secs: f64) -> Self {
        Fault::RateLimit { retry_after: Some(secs.to_string()), retry_after_ms: None }
    }

    /// A `status` error with `x-should-retry: false`.
    pub fn no_retry(status: u16) -> Self {
        Fault::Error {
            status,
            error_type: if status == 529 { "overloaded_error" } else { "api_error" }.into(),
            message: "Internal server error".into(),
            should_retry: Some(false),
            retry_after: None,
            error_code: None,
        }
    }

    /// An `error` event (overloaded) after the stream has started.
    pub fn stream_error() -> Self {
        Fault::StreamError { error_type: overloaded(), message: overloaded_message() }
    }

    /// The error answer this fault stands for, if it is one.
    pub(crate) fn error_reply(&self) -> Option<ErrorReply> {
        let reply = |status, kind: &str, message: &str| ErrorReply {
            status,
            kind: kind.to_owned(),
            message: message.to_owned(),
            headers: Vec::new(),
            error_code: None,
        };
        Some(match self {
            Fault::RateLimit { retry_after, retry_after_ms } => {
                let mut r =
                    reply(429, "rate_limit_error", "Number of request tokens has exceeded your rate limit");
                if let Some(v) = retry_after {
                    r.headers.push(("retry-after", v.clone()));
                }
                if let Some(v) = retry_after_ms {
                    r.headers.push(("retry-after-ms", v.clone()));
                }
                r
            }
            Fault::Overloaded => reply(529, "overloaded_error", "Overloaded"),
            Fault::ServerError => reply(500, "api_error", "Internal server error"),
            Fault::SpendLimit => {
                let mut r = reply(
                    429,
                    "rate_limit_error",
                    "You have reached your specified API usage limits. You will regain access on the 1st of \
                     next month at 00:00 UTC.",
                );
                r.error_code = Some("enforced_spend_limit_reached".into());
                r
            }
            Fault::Error { status, error_type, message, should_retry, retry_after, error_code } => {
                let mut r = reply(*status, error_type, message);
                if let Some(b) = should_retry {
                    r.headers.push(("x-should-retry", b.to_string()));
                }
                if let Some(v) = retry_after {
                    r.headers.push(("retry-after", v.clone()));
                }
                r.error_code = error_code.clone();
                r
            }
            Fault::Hang { .. } | Fault::MalformedJson | Fault::StreamError { .. } => return None,
        })
    }
}

/// An error answer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorReply {
    pub status: u16,
    pub kind: String,
    pub message: String,
    pub headers: Vec<(&'static str, String)>,
    pub error_code: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn faults_read_from_json_as_tests_write_them() {
        let faults: Vec<Fault> = serde_json::from_value(json!([
            {"kind": "overloaded"},
            {"kind": "rate_limit", "retry_after": "0.2"},
            {"kind": "stream_error"},
            {"kind": "hang", "ms": 1500},
            {"kind": "error", "status": 500, "error_type": "api_error", "message": "x", "should_retry": false}
        ]))
        .unwrap();
        assert_eq!(faults[0], Fault::Overloaded);
        assert_eq!(faults[1], Fault::rate_limit_after(0.2));
        assert_eq!(faults[2], Fault::stream_error());
        assert_eq!(faults[3], Fault::Hang { ms: 1500 });
        assert_eq!(faults[4].error_reply().unwrap().headers, [("x-should-retry", "false".to_owned())]);
    }
}
