//! `hearth-anthropic`: the Claude Messages API for hearth's router.
//!
//! - [`types`]: the wire types of `POST /v1/messages` (requests, responses, streaming events,
//!   errors) and `POST /v1/messages/count_tokens`, public and symmetric (`Serialize` +
//!   `Deserialize`) so hearth's server can serve the same API locally.
//! - [`Client`]: an async client (reqwest over rustls, tokio) with the official SDK's headers,
//!   timeouts and retry rules: [`Client::messages`], [`Client::messages_stream`] (a `Stream`
//!   of [`types::StreamEvent`]), [`Client::count_tokens`]. Answers come as [`Response`]
//!   (body, `request-id`, attempts); failures as [`Error`], whose [`ApiError`] names the
//!   upstream's status, `error.type` and message.
//! - [`retry`]: the retry policy as pure functions (which statuses, how long to wait).
//! - [`cache`]: [`cache::mark_cacheable`] puts `cache_control` on a system prompt (and tool
//!   list) long enough to be cached by the model.
//! - [`sse`]: server-sent events, decoding and encoding.
//!
//! ```no_run
//! use hearth_anthropic::{Client, ClientConfig};
//! use hearth_anthropic::types::{MessageParam, MessagesRequest};
//!
//! # async fn demo() -> Result<(), hearth_anthropic::Error> {
//! let client = Client::new(ClientConfig::new(std::env::var("ANTHROPIC_API_KEY").unwrap_or_default()))?;
//! let mut req = MessagesRequest::new("claude-haiku-4-5", 256, vec![MessageParam::user("Hello")]);
//! let min = hearth_anthropic::cache::min_cacheable_tokens(&req.model);
//! hearth_anthropic::cache::mark_cacheable(&mut req, min, None);
//! let answer = client.messages(&req).await?;
//! println!("{} ({:?}, {} attempts)", answer.body.text(), answer.request_id, answer.attempts);
//! # Ok(()) }
//! ```
//!
//! ## What follows the official Python SDK (`anthropic` 2.16.0), and where
//!
//! | behaviour | SDK file / constant |
//! | --- | --- |
//! | `anthropic-version: 2026-10-21` ([`ANTHROPIC_VERSION`]) | `_constants.py` `ANTHROPIC_API_VERSION` |
//! | key as `authorization: Bearer` ([`AuthScheme::Bearer`]; `x-api-key` on request) | `_client.py` `_api_key_auth` |
//! | `content-type` / `accept: application/json`, also for streams | `_base_client.py` `default_headers` |
//! | `x-stainless-retry-count: <retries taken>` | `_base_client.py` `_build_headers` |
//! | 2 retries, 600 s timeout, 5 s connect timeout | `_constants.py` `DEFAULT_MAX_RETRIES`, `DEFAULT_TIMEOUT` |
//! | retry on connection errors, timeouts, 408, 409, 429, 5xx; `x-should-retry` decides first | `_base_client.py` `_should_retry`, `_should_retry_exception` |
//! | wait `retry-after-ms`, else `retry-after` (seconds or HTTP date) | `_base_client.py` `_parse_retry_after_header` |
//! | else 0.5 s · 2ⁿ capped at 8 s, times `1 - 0.25·random()` | `_base_client.py` `_calculate_retry_timeout`, `INITIAL_RETRY_DELAY`, `MAX_RETRY_DELAY` |
//! | error = status + `error.type` + `error.message` + `request-id` | `_exceptions.py` `APIStatusError` |
//! | spend-limit 429s by `error.details.error_code` | `types/shared/enforced_spend_limit_reached_error.py` |
//! | SSE decoding; `error` event after a 200 raises | `_streaming.py` `SSEDecoder`, `Stream.__stream__` |
//! | no idempotency header | `_base_client.py` `_idempotency_header = None` |
//!
//! Deliberate differences (issue 10): a server wait is honoured only up to 60 s (2.16 honours
//! any); a spend-limit 429 is never retried; `user-agent` is `hearth/<version>`; `ping` events
//! are passed on and a stream cut before `message_stop` is an error. See [`retry`] and
//! [`config`].
//!
//! With the `fake` feature, `fake` holds a loopback fake of the API for tests (and the
//! `fake-anthropic` binary): it rejects what the API rejects, answers deterministically, and
//! plays injected faults.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cache;
mod client;
pub mod config;
mod error;
mod event_stream;
#[cfg(feature = "fake")]
pub mod fake;
pub mod retry;
pub mod sse;
pub mod types;

pub use client::{Client, Response};
pub use config::{ANTHROPIC_VERSION, AuthScheme, ClientConfig};
pub use error::{ApiError, Error};
pub use event_stream::EventStream;
