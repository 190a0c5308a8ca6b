//! `Cache`: lookups and inserts over the in-memory [`State`], the store behind it and the
//! embedder.

mod state;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use crate::config::{CacheConfig, StoreKind};
use crate::embed::{Embed, normalized};
use crate::entry::{Entry, now_unix_ms};
use crate::error::CacheError;
use crate::guards::{self, Features, GuardReason};
use crate::scope::{Scope, ScopeKey, exact_key};
use crate::stats::{CacheStats, Counters};
use crate::store::{Change, MemoryStore, RedisStore, SqliteStore, Store};
pub use state::{Removed, State};

/// Semantic candidates above the threshold that the guards look at, best first.
pub const CANDIDATES: usize = 4;

/// A request as the cache sees it.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// Everything besides the prompt that changes the answer.
    pub scope: &'a Scope,
    /// The text compared: for a chat request, its non-system messages as the caller renders
    /// them (e.g. `user: …` lines; a one-message request is just that message).
    pub prompt: &'a str,
}

/// Which cache answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    /// The same prompt up to case and whitespace.
    Exact,
    /// A prompt similar enough, that the guards let through.
    Semantic,
}

impl HitKind {
    /// `"exact"` or `"semantic"`, as in the `x-hearth-cache` header.
    pub fn as_str(self) -> &'static str {
        match self {
            HitKind::Exact => "exact",
            HitKind::Semantic => "semantic",
        }
    }
}

/// A cached answer to serve.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Which cache.
    pub kind: HitKind,
    /// Cosine similarity of the two prompts (1 for an exact hit).
    pub similarity: f32,
    /// The answer stored.
    pub answer: String,
    /// The prompt it was stored for.
    pub cached_prompt: String,
    /// The entry's key.
    pub key: String,
    /// When it was stored (Unix ms).
    pub created_ms: i64,
}

/// Why nothing was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissReason {
    /// `[cache] enabled = false`.
    Disabled,
    /// The request samples (`temperature > 0`) and `serve_sampled` is off: neither served nor
    /// stored.
    Sampled,
    /// No entry of the scope came close enough.
    NotFound,
    /// Entries came close enough but a guard refused each of them.
    Guarded,
}

/// Nothing to serve, and what the lookup learnt.
#[derive(Debug, Clone, PartialEq)]
pub struct Miss {
    /// Why.
    pub reason: MissReason,
    /// The prompt's vector, to hand back to [`Cache::insert`] so it is not embedded twice.
    pub embedding: Option<Vec<f32>>,
    /// The best similarity of any entry in the scope, for the response header.
    pub best_similarity: Option<f32>,
    /// The guards' refusals, with each candidate's similarity, best first.
    pub rejected: Vec<(GuardReason, f32)>,
}

/// A lookup's result.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// Serve this.
    Hit(Hit),
    /// Answer the request, then (if it finished cleanly) [`Cache::insert`] the answer.
    Miss(Miss),
}

impl Lookup {
    fn miss(reason: MissReason) -> Lookup {
        Lookup::Miss(Miss { reason, embedding: None, best_similarity: None, rejected: Vec::new() })
    }
}

/// The response cache: an exact and a semantic cache over one set of entries, each entry
/// filed under its request's [`Scope`].
///
/// ```text
/// match cache.lookup(&Query { scope: &scope, prompt: &prompt })? {
///     Lookup::Hit(hit) => serve(hit.answer),            // x-hearth-cache: exact|semantic
///     Lookup::Miss(miss) => {
///         let answer = generate()?;                     // x-hearth-cache: miss
///         if finished_cleanly {                         // never errors, cut-offs, refusals
///             cache.insert(&query, &answer, miss.embedding)?;
///         }
///     }
/// }
/// ```
///
/// **Only clean answers may be stored**: the cache cannot tell a truncated, failed or
/// judge-overruled answer from a good one, so the caller stores only answers that finished
/// normally (`stop`, or a tool call) and were accepted. A stored answer is served to every
/// request of the same scope whose prompt matches, until it expires or is evicted.
///
/// Thread-safe; lookups and inserts lock it briefly (the embedder runs outside the lock).
/// Store writes are synchronous: call [`Cache::insert`] after the response is sent.
pub struct Cache {
    config: CacheConfig,
    embedder: Option<Arc<dyn Embed>>,
    embedder_id: String,
    /// Lock order: `store` before `state` when both are held.
    store: Mutex<Box<dyn Store>>,
    state: Mutex<State>,
    counters: Counters,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("config", &self.config).field("embedder", &self.embedder_id).finish()
    }
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cache {
    /// Opens the cache `config` describes: its store (the SQLite file, by default beside
    /// `models_dir`; Redis; or memory), loaded into the index. `embedder` is required when
    /// `semantic` is on.
    pub fn open(
        config: &CacheConfig,
        embedder: Option<Arc<dyn Embed>>,
        models_dir: &Path,
    ) -> Result<Cache, CacheError> {
        config.validate()?;
        let store: Box<dyn Store> = match config.store {
            StoreKind::Memory => Box::new(MemoryStore),
            StoreKind::Sqlite => Box::new(SqliteStore::open(&config.resolved_path(models_dir))?),
            StoreKind::Redis => {
                let url = config.redis_url.as_deref().unwrap_or_default();
                Box::new(RedisStore::open(url, &config.redis_prefix)?)
            }
        };
        Cache::with_store(config, embedder, store)
    }

    /// A cache over `store` (loaded into the index now), whatever `config.store` says.
    pub fn with_store(
        config: &CacheConfig,
        embedder: Option<Arc<dyn Embed>>,
        mut store: Box<dyn Store>,
    ) -> Result<Cache, CacheError> {
        config.validate()?;
        if config.semantic && embedder.is_none() {
            return Err(CacheError::Config(
                "`semantic = true` needs an embedder: load `embedder` and pass it, or set `semantic = false`"
                    .into(),
            ));
        }
        let embedder_id = embedder.as_ref().map_or_else(|| "none".to_owned(), |e| e.model_id().to_owned());
        let now = now_unix_ms();
        let mut state = State::default();
        let mut dropped = Vec::new();
        for entry in store.load(now)? {
            dropped.extend(state.insert(entry, now, config.max_entries, config.max_bytes).keys());
        }
        store.remove(&dropped)?;
        tracing::info!(entries = state.len(), bytes = state.bytes(), "cache loaded");
        Ok(Cache {
            config: config.clone(),
            embedder,
            embedder_id,
            store: Mutex::new(store),
            state: Mutex::new(state),
            counters: Counters::default(),
        })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// The key entries of `scope` are filed under (with this cache's embedder).
    pub fn scope_key(&self, scope: &Scope) -> ScopeKey {
        scope.key(&self.embedder_id)
    }

    /// The counters and the size now.
    pub fn stats(&self) -> CacheStats {
        let state = lock(&self.state);
        self.counters.snapshot(state.len() as u64, state.bytes())
    }

    /// Looks `query` up now. See [`Cache::lookup_at`].
    pub fn lookup(&self, query: &Query<'_>) -> Result<Lookup, CacheError> {
        self.lookup_at(query, now_unix_ms())
    }

    /// Looks `query` up at `now_ms`: first the exact cache, then the semantic one (embedding
    /// the prompt, up to [`CANDIDATES`] entries at or above `threshold` in the scope, best
    /// first; the first the guards let through is the hit). An error (embedder, store) is
    /// counted in [`CacheStats::errors`]; the caller answers without the cache.
    pub fn lookup_at(&self, query: &Query<'_>, now_ms: i64) -> Result<Lookup, CacheError> {
        let result = self.lookup_inner(query, now_ms);
        match &result {
            Ok(Lookup::Hit(h)) if h.kind == HitKind::Exact => Counters::bump(&self.counters.exact_hits, 1),
            Ok(Lookup::Hit(_)) => Counters::bump(&self.counters.semantic_hits, 1),
            Ok(Lookup::Miss(m)) if m.reason == MissReason::Sampled => {
                Counters::bump(&self.counters.sampled_bypasses, 1)
            }
            Ok(Lookup::Miss(m)) if m.reason == MissReason::Disabled => {}
            Ok(Lookup::Miss(_)) => Counters::bump(&self.counters.misses, 1),
            Err(_) => Counters::bump(&self.counters.errors, 1),
        }
        result
    }

    fn lookup_inner(&self, query: &Query<'_>, now_ms: i64) -> Result<Lookup, CacheError> {
        if !self.config.enabled {
            return Ok(Lookup::miss(MissReason::Disabled));
        }
        if query.scope.sampling.is_sampled() && !self.config.serve_sampled {
            return Ok(Lookup::miss(MissReason::Sampled));
        }
        // Another thread syncing (or inserting) is as good: its changes land meanwhile.
        if let Ok(mut store) = self.store.try_lock() {
            self.apply_changes(&mut **store, now_ms)?;
        }
        let scope = self.scope_key(query.scope);
        let key = self.config.exact.then(|| exact_key(&scope, query.prompt));
        if let Some(key) = &key {
            let mut state = lock(&self.state);
            self.expire(&mut state, now_ms);
            if let Some(e) = state.exact(key, &scope) {
                return Ok(Lookup::Hit(Hit {
                    kind: HitKind::Exact,
                    similarity: 1.0,
                    answer: e.answer.clone(),
                    cached_prompt: e.prompt.clone(),
                    key: e.key.clone(),
                    created_ms: e.created_ms,
                }));
            }
        }
        if !self.config.semantic {
            return Ok(Lookup::miss(MissReason::NotFound));
        }
        let vector = self.embed(query.prompt)?;
        let mut state = lock(&self.state);
        self.expire(&mut state, now_ms);
        let (candidates, best_similarity) =
            state.candidates(&scope, &vector, self.config.threshold, CANDIDATES);
        let mut rejected = Vec::new();
        let mut asked: Option<Features> = None;
        for (id, similarity) in candidates {
            if self.config.guards {
                let asked = asked.get_or_insert_with(|| Features::of(query.prompt));
                let Some(cached) = state.features(id) else { continue };
                if let Err(reason) = guards::check(cached, asked) {
                    self.counters.reject(reason);
                    rejected.push((reason, similarity));
                    continue;
                }
            }
            state.touch(id);
            let Some(e) = state.entry(id) else { continue };
            // The same prompt stored while this lookup was embedding (its exact check ran
            // before the insert landed) is still an exact hit.
            let same = key.as_ref() == Some(&e.key);
            return Ok(Lookup::Hit(Hit {
                kind: if same { HitKind::Exact } else { HitKind::Semantic },
                similarity: if same { 1.0 } else { similarity },
                answer: e.answer.clone(),
                cached_prompt: e.prompt.clone(),
                key: e.key.clone(),
                created_ms: e.created_ms,
            }));
        }
        let reason = if rejected.is_empty() { MissReason::NotFound } else { MissReason::Guarded };
        Ok(Lookup::Miss(Miss { reason, embedding: Some(vector), best_similarity, rejected }))
    }

    /// Stores `answer` for `query` now. See [`Cache::insert_at`].
    pub fn insert(
        &self,
        query: &Query<'_>,
        answer: &str,
        embedding: Option<Vec<f32>>,
    ) -> Result<bool, CacheError> {
        self.insert_at(query, answer, embedding, now_unix_ms())
    }

    /// Stores `answer` for `query` at `now_ms`, for `ttl_secs`; `embedding` is the prompt's
    /// vector from the lookup's [`Miss`] (embedded here when `None`). Returns whether it was
    /// stored: not when the cache is off or the request samples without `serve_sampled`.
    /// The caller stores **only clean answers** (see [`Cache`]). Entries past the limits are
    /// evicted, least recently used first, from the store too.
    pub fn insert_at(
        &self,
        query: &Query<'_>,
        answer: &str,
        embedding: Option<Vec<f32>>,
        now_ms: i64,
    ) -> Result<bool, CacheError> {
        let result = self.insert_inner(query, answer, embedding, now_ms);
        if result.is_err() {
            Counters::bump(&self.counters.errors, 1);
        }
        result
    }

    fn insert_inner(
        &self,
        query: &Query<'_>,
        answer: &str,
        embedding: Option<Vec<f32>>,
        now_ms: i64,
    ) -> Result<bool, CacheError> {
        let c = &self.config;
        if !c.enabled || (!c.exact && !c.semantic) || (query.scope.sampling.is_sampled() && !c.serve_sampled)
        {
            return Ok(false);
        }
        let embedding = match (c.semantic, embedding) {
            (false, _) => None,
            (true, Some(v)) => Some(self.check_vector(vec![v], 1)?.remove(0)),
            (true, None) => Some(self.embed(query.prompt)?),
        };
        let scope = self.scope_key(query.scope);
        let ttl_ms = i64::try_from(c.ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let entry = Entry {
            key: exact_key(&scope, query.prompt),
            scope,
            prompt: query.prompt.to_owned(),
            answer: answer.to_owned(),
            embedding,
            created_ms: now_ms,
            expires_ms: now_ms.saturating_add(ttl_ms),
        };
        let mut store = lock(&self.store);
        store.put(&entry)?;
        let removed = lock(&self.state).insert(entry, now_ms, c.max_entries, c.max_bytes);
        Counters::bump(&self.counters.inserts, 1);
        self.count_removed(&removed);
        store.remove(&removed.keys())?;
        Ok(true)
    }

    /// Applies what other nodes changed in the store (Redis); returns how many changes. A
    /// lookup does this itself; call it to follow other nodes between lookups.
    pub fn sync(&self) -> Result<usize, CacheError> {
        let mut store = lock(&self.store);
        self.apply_changes(&mut **store, now_unix_ms())
    }

    /// Other nodes' changes into the index. Entries this node then holds beyond its limits
    /// leave its index only: the node that inserted decides what leaves the shared store.
    fn apply_changes(&self, store: &mut dyn Store, now_ms: i64) -> Result<usize, CacheError> {
        let changes = store.changes()?;
        if changes.is_empty() {
            return Ok(0);
        }
        let mut state = lock(&self.state);
        for change in &changes {
            match change {
                Change::Put(e) if e.expires_ms > now_ms => {
                    let removed =
                        state.insert(e.clone(), now_ms, self.config.max_entries, self.config.max_bytes);
                    self.count_removed(&removed);
                }
                Change::Put(e) => {
                    state.remove(&e.key);
                }
                Change::Remove(key) => {
                    state.remove(key);
                }
            }
        }
        Ok(changes.len())
    }

    fn expire(&self, state: &mut State, now_ms: i64) {
        let expired = state.purge_expired(now_ms);
        Counters::bump(&self.counters.expired, expired.len() as u64);
    }

    fn count_removed(&self, removed: &Removed) {
        Counters::bump(&self.counters.expired, removed.expired.len() as u64);
        Counters::bump(&self.counters.evicted, removed.evicted.len() as u64);
    }

    /// The prompt's unit vector.
    fn embed(&self, prompt: &str) -> Result<Vec<f32>, CacheError> {
        let embedder = self.embedder.as_ref().ok_or_else(|| {
            CacheError::Config("the semantic cache has no embedder (set `semantic = false`)".into())
        })?;
        let vectors = embedder.embed(&[prompt])?;
        Ok(self.check_vector(vectors, 1)?.remove(0))
    }

    /// `vectors` normalised, if there are `n` of them, all of one non-zero length.
    fn check_vector(&self, vectors: Vec<Vec<f32>>, n: usize) -> Result<Vec<Vec<f32>>, CacheError> {
        let bad = |got: String| CacheError::BadEmbedding { model: self.embedder_id.clone(), got };
        if vectors.len() != n {
            return Err(bad(format!("{} vectors for {n} texts", vectors.len())));
        }
        vectors
            .into_iter()
            .map(|v| {
                let len = v.len();
                normalized(v).ok_or_else(|| bad(format!("a zero or non-finite vector of {len} numbers")))
            })
            .collect()
    }
}
