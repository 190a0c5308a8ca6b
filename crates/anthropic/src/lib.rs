//! `hearth-anthropic`: the Claude Messages API for hearth's router.
//!
//! - [`types`]: the wire types of `POST /v1/messages` (requests, responses, streaming events,
//!   errors) and `POST /v1/messages/count_tokens`, public and symmetric (`Serialize` +
//!   `Deserialize`) so hearth's server can serve the same API locally.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod types;
