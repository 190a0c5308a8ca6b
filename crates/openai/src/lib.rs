//! `hearth-openai`: a client for OpenAI-compatible chat completions — OpenAI itself, vLLM,
//! llama.cpp's `llama-server`, Ollama, or another hearth — for hearth's router.
//!
//! - [`Client`]: an async client (reqwest over rustls, tokio) with the official SDK's
//!   headers, timeouts and retry rules: [`Client::chat_completions`] (JSON) and
//!   [`Client::chat_completions_stream`] (a `Stream` of `chat.completion.chunk` objects,
//!   [`ChunkStream`]). Request and response bodies are JSON values, passed through as they
//!   are: hearth forwards its client's body (every field kept, `model` replaced) and relays
//!   the answer. Answers come as [`Response`] (body, `x-request-id`, attempts); failures as
//!   [`Error`], whose [`ApiError`] names the upstream's status, `error.type`, `error.code`
//!   and message.
//! - [`Usage`]: the token counts of an answer (`usage.prompt_tokens`, `completion_tokens`,
//!   `prompt_tokens_details.cached_tokens`).
//! - [`stream::classify`]: what one server-sent event of a chat stream means (a chunk,
//!   `[DONE]`, an error), as a pure function.
//!
//! ## Where the API is: `base_url`
//!
//! As in the OpenAI SDKs, `base_url` may end in `/v1` (`https://api.openai.com/v1`,
//! `http://localhost:8000/v1`); a server root without it (`http://localhost:8080`) gets `/v1`
//! added. Either way the client posts to `<base>/v1/chat/completions`. See
//! [`config::chat_completions_url`].
//!
//! ## What follows the official Python SDK (`openai` 2.x), and where
//!
//! | behaviour | SDK file / constant |
//! | --- | --- |
//! | key as `authorization: Bearer <key>`; no key, no header (local servers) | `_client.py` `auth_headers` |
//! | `content-type` / `accept: application/json`, also for streams | `_base_client.py` `default_headers` |
//! | `x-stainless-retry-count: <retries taken>` | `_base_client.py` `_build_headers` |
//! | 2 retries, 600 s timeout, 5 s connect timeout | `_constants.py` `DEFAULT_MAX_RETRIES`, `DEFAULT_TIMEOUT` |
//! | retry on connection errors, timeouts, 408, 409, 429, 5xx; `x-should-retry` decides first | `_base_client.py` `_should_retry` (shared with the Anthropic SDK: `hearth-retry`) |
//! | wait `retry-after-ms`, else `retry-after` (seconds or HTTP date), up to 60 s | `_base_client.py` `_parse_retry_after_header` |
//! | else 0.5 s · 2ⁿ capped at 8 s, times `1 - 0.25·random()` | `_base_client.py` `_calculate_retry_timeout` |
//! | error = status + `error.message`, `error.type`, `error.code`, `error.param` + `x-request-id` | `_exceptions.py` `APIStatusError`, `_base_client.py` `_make_status_error` |
//! | `x-request-id` kept on answers | `_legacy_response.py` / `_response.py` `request_id` |
//! | SSE: `data: [DONE]` ends the stream; a chunk with an `error` member (or an `error` event) raises | `_streaming.py` `Stream.__stream__` |
//!
//! Deliberate differences: `user-agent` is `hearth/<version>` and no `X-Stainless-Lang/OS`
//! headers (they describe a Python runtime); a stream that ends without `[DONE]` is an error
//! ([`Error::IncompleteStream`]), where the SDK ends silently, so a cut answer is never taken
//! for a whole one.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
pub mod config;
mod error;
pub mod stream;
mod usage;

pub use client::{Client, Response};
pub use config::ClientConfig;
pub use error::{ApiError, Error};
pub use stream::ChunkStream;
pub use usage::Usage;
