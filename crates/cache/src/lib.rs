//! hearth's response cache: an exact cache and a semantic one over the same entries, scoped,
//! guarded, bounded, and kept in SQLite or shared through Redis. Independent of the model
//! code: embeddings come through the [`Embed`] trait.
//!
//! - [`Cache`] is the handle: [`Cache::lookup`] a [`Query`] (a [`Scope`] and the prompt) →
//!   [`Lookup::Hit`] (exact or semantic, with the similarity) or [`Lookup::Miss`] (with the
//!   prompt's vector); after answering a miss *cleanly*, [`Cache::insert`] the answer.
//!   [`Cache::stats`] for `/metrics` (hits, misses, guard rejections by reason, evictions).
//! - [`Scope`]: task, route target, system prompt, response format, tools, sampling settings,
//!   tenant, and (in its key) the embedder. A hit needs the same scope. Requests with
//!   `temperature > 0` bypass the cache unless `serve_sampled`.
//! - [`guards`]: what must agree between two prompts before a semantic hit is served
//!   (negation, polarity, numbers, names, order, content words), each refusal counted.
//! - [`index`]: the in-process flat vector index (exact cosine over unit vectors).
//! - [`store`]: [`SqliteStore`] (the default: survives restarts), [`RedisStore`] (several
//!   nodes; each follows the others' inserts and evictions through a Redis stream),
//!   [`MemoryStore`]. TTL, `max_entries`, `max_bytes`, LRU eviction.
//! - [`CacheConfig`]: the `[cache]` section (`embedder = "all-minilm"`, `threshold = 0.92`, …).
//! - [`eval`]: the labelled pair set's measurement: paraphrase hit rate and false-hit rate per
//!   threshold, with and without guards, as a Markdown table.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cache;
mod config;
mod embed;
mod entry;
mod error;
pub mod eval;
pub mod guards;
pub mod index;
mod scope;
mod stats;
pub mod store;
pub mod text;

pub use cache::{CANDIDATES, Cache, Hit, HitKind, Lookup, Miss, MissReason, Query};
pub use config::{CacheConfig, DEFAULT_FILE_NAME, StoreKind, default_path, redact_url};
pub use embed::{Embed, EmbedError, HashEmbedder, normalized};
pub use entry::{Entry, now_unix_ms};
pub use error::CacheError;
pub use guards::GuardReason;
pub use scope::{Sampling, Scope, ScopeKey, exact_key};
pub use stats::CacheStats;
pub use store::{Change, MemoryStore, RedisStore, SqliteStore, Store};
