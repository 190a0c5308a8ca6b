//! `hearth-server`: the OpenAI-compatible HTTP API over one loaded model, or over a
//! [`ModelPool`] of several local models chosen by the request's `model`, each loaded on
//! first use and unloaded when idle or past the memory budget.
//!
//! - `POST /v1/chat/completions`, `POST /v1/completions`: JSON, or SSE with `stream: true`
//!   (`data: {chunk}` … `data: [DONE]`), in OpenAI's shapes (usage, logprobs, errors).
//! - `POST /v1/messages`, `POST /v1/messages/count_tokens`: Anthropic's Messages API
//!   (JSON or its SSE events, Anthropic-shaped errors), served by the local model.
//! - `GET /v1/models`, `GET /health` (503 while loading), `GET /metrics` (Prometheus).
//!
//! Key types: [`ServerConfig`] (address, API key, CORS, slots); [`Server`] (bind, then run
//! with a model loader and a shutdown future); [`AppState`] + [`router`] for embedding the
//! routes elsewhere or testing them without a socket; [`ApiError`], the one place engine
//! errors become HTTP statuses.
//!
//! Requests become [`hearth_engine::Request`]s for the engine thread
//! ([`hearth_engine::Scheduler`]): it batches the decode steps of every slot into one
//! forward pass and reuses shared prompt prefixes. Each request's events come back through
//! a tokio channel; a client that disconnects drops the receiver, which cancels its
//! generation and frees its slot.
//!
//! ```no_run
//! use hearth_server::{Server, ServerConfig, shutdown_signal};
//! # async fn serve(path: std::path::PathBuf) -> Result<(), hearth_server::ServerError> {
//! let config = ServerConfig { model_id: "qwen2.5-coder:0.5b".into(), ..ServerConfig::default() };
//! let server = Server::bind(config).await?; // 127.0.0.1:8080; /health says 503 from now
//! let load = move || {
//!     hearth_engine::Engine::load(&path, Default::default()).map_err(Into::into)
//! };
//! server.run(load, shutdown_signal()).await // serves until Ctrl-C / SIGTERM
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod anthropic_error;
mod auth;
mod body;
mod browser;
mod chat;
mod completions;
mod config;
mod embedders;
mod embeddings;
mod embeddings_request;
mod embeddings_response;
mod error;
mod generate;
mod health;
mod messages;
mod messages_stream;
mod metrics;
mod models;
pub mod pool;
mod request;
mod response;
mod route;
mod router;
mod select;
mod serve;
mod sse;
mod state;
mod tools;
mod validate;

pub use config::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_PORT, ServerConfig, parse_host,
};
pub use embedders::{EmbedderSpec, Embedders};
pub use error::{ApiError, ServerError};
pub use metrics::Metrics;
pub use pool::{Lease, LoadState, ModelPool, ModelSpec, ModelStatus, PoolError};
pub use route::cache::ModelEmbed;
pub use route::escalate::evidence as answer_evidence;
pub use route::monitor::ServerJudge as MonitorJudge;
pub use route::{Routing, RoutingError};
pub use router::router;
pub use serve::{LoadError, Server, shutdown_signal};
pub use state::{AppState, Ready};
pub use validate::{CallSyntax, Endpoint, ModelShape, ValidatedRequest, validate_request};
