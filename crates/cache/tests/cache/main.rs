//! hearth-cache's tests (one binary): the cache's behaviour through its public API (scope,
//! exact and semantic hits, guards, sampling, TTL, LRU, errors), SQLite persistence across a
//! restart, the labelled pair set and its measurement, and two nodes sharing a cache through
//! Redis (against `cargo xtask redis start`'s server).

mod behaviour;
mod pairs;
mod redis;
mod sqlite;

use std::sync::Arc;

use hearth_cache::{CacheConfig, Embed, HashEmbedder, Query, Sampling, Scope, StoreKind};

/// The toy embedder the tests use (not a semantic model: see `HashEmbedder`).
pub fn toy() -> Arc<dyn Embed> {
    Arc::new(HashEmbedder::new(256))
}

/// A memory cache config; `threshold` low enough for the toy embedder's rewordings.
pub fn config(threshold: f32) -> CacheConfig {
    CacheConfig { threshold, store: StoreKind::Memory, ..CacheConfig::default() }
}

/// A greedy scope for `tenant`.
pub fn scope(tenant: &str) -> Scope {
    Scope {
        task: Some("qa".into()),
        target: "qwen2.5:0.5b".into(),
        system: Some("Answer briefly.".into()),
        sampling: Sampling { temperature: 0.0, max_tokens: Some(128), ..Sampling::default() },
        tenant: Some(tenant.into()),
        ..Scope::default()
    }
}

/// `prompt` in `scope`.
pub fn q<'a>(scope: &'a Scope, prompt: &'a str) -> Query<'a> {
    Query { scope, prompt }
}
