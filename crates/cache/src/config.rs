//! `CacheConfig`: the `[cache]` section of the `serve --config` TOML file.
//!
//! ```toml
//! [cache]
//! embedder = "all-minilm"   # catalog name or .gguf path of the embedding model
//! threshold = 0.92          # cosine similarity a semantic hit needs
//! enabled = true            # false: keep the settings, serve nothing from the cache
//! exact = true              # the exact cache (same scope, same prompt up to case and spaces)
//! semantic = true           # the semantic cache (same scope, similar prompt, guards agree)
//! guards = true             # check negation, polarity, numbers, names, order, content words
//! serve_sampled = false     # serve requests with temperature > 0 from the cache too
//! ttl_secs = 86400          # an entry is served for this long after it was stored
//! max_entries = 100000      # past this, the least recently used entries go
//! max_bytes = 268435456     # … and past this size (prompts, answers, vectors)
//! store = "sqlite"          # "sqlite" (default), "redis" (several nodes), "memory"
//! path = "/var/lib/hearth/cache.sqlite" # sqlite: default cache.sqlite beside the models cache
//! ```
//!
//! Several nodes share one cache in Redis (`redis_url` only with `store = "redis"`):
//!
//! ```toml
//! [cache]
//! store = "redis"
//! redis_url = "redis://:secret@cache.internal:6379/0"
//! redis_prefix = "hearth:cache"   # keys and the event stream live under this prefix
//! ```
//!
//! The section's presence turns the cache on (the caller holds an `Option<CacheConfig>`);
//! every key is optional. Unknown keys are errors. The URL's password never shows in errors
//! or `Debug` output.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CacheError;

/// File name of the default SQLite cache, placed beside the models cache directory.
pub const DEFAULT_FILE_NAME: &str = "cache.sqlite";

/// Where entries are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// A SQLite file: the cache survives a restart (the default).
    Sqlite,
    /// A Redis server shared by several nodes: a hit on one node is a hit on all.
    Redis,
    /// This process's memory only.
    Memory,
}

/// The `[cache]` section.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// `enabled`: serve from and store into the cache (default true); `false` keeps the
    /// section but turns the cache off.
    pub enabled: bool,
    /// `exact`: the exact cache: same scope and the same prompt up to case and whitespace
    /// (default true).
    pub exact: bool,
    /// `semantic`: the semantic cache: same scope, a prompt whose embedding scores at least
    /// `threshold`, and (with `guards`) the guards agree (default true). Needs `embedder`.
    pub semantic: bool,
    /// `embedder`: the embedding model, a catalog name (`all-minilm`, `bge-small`,
    /// `nomic-embed-text`) or a `.gguf` path (default `all-minilm`). The caller loads it.
    pub embedder: String,
    /// `threshold`: the cosine similarity a semantic hit needs, in (0, 1] (default 0.92).
    pub threshold: f32,
    /// `guards`: before a semantic hit is served, negation, polarity words, numbers, names,
    /// their order and the content words must agree between the two prompts (default true;
    /// see [`crate::guards`]). `false` serves on similarity alone: measured to serve wrong
    /// answers (negations, swapped names, changed numbers).
    pub guards: bool,
    /// `serve_sampled`: also serve (and store) requests with `temperature > 0`, whose
    /// answers are samples (default false: such requests bypass the cache).
    pub serve_sampled: bool,
    /// `ttl_secs`: an entry is served for this many seconds after it was stored (≥ 1; default
    /// 86400, one day).
    pub ttl_secs: u64,
    /// `max_entries`: past this many entries the least recently used ones are evicted (≥ 1;
    /// default 100000).
    pub max_entries: usize,
    /// `max_bytes`: past this many bytes of prompts, answers and vectors the least recently
    /// used entries are evicted (≥ 1; default 256 MiB).
    pub max_bytes: u64,
    /// `store`: `sqlite` (default), `redis` or `memory`.
    pub store: StoreKind,
    /// `path`: the SQLite file (`store = "sqlite"` only). `None`: [`DEFAULT_FILE_NAME`] beside
    /// the models cache, see [`CacheConfig::resolved_path`].
    pub path: Option<PathBuf>,
    /// `redis_url`: the Redis server (`redis://[:password@]host[:port][/db]`), required by and
    /// only allowed with `store = "redis"`.
    pub redis_url: Option<String>,
    /// `redis_prefix`: the prefix of the cache's Redis keys and event stream (default
    /// `hearth:cache`); nodes sharing a cache use the same one.
    pub redis_prefix: String,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            exact: true,
            semantic: true,
            embedder: "all-minilm".to_owned(),
            threshold: 0.92,
            guards: true,
            serve_sampled: false,
            ttl_secs: 86_400,
            max_entries: 100_000,
            max_bytes: 256 << 20,
            store: StoreKind::Sqlite,
            path: None,
            redis_url: None,
            redis_prefix: "hearth:cache".to_owned(),
        }
    }
}

/// `redis_url` shows without its password.
impl std::fmt::Debug for CacheConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheConfig")
            .field("enabled", &self.enabled)
            .field("exact", &self.exact)
            .field("semantic", &self.semantic)
            .field("embedder", &self.embedder)
            .field("threshold", &self.threshold)
            .field("guards", &self.guards)
            .field("serve_sampled", &self.serve_sampled)
            .field("ttl_secs", &self.ttl_secs)
            .field("max_entries", &self.max_entries)
            .field("max_bytes", &self.max_bytes)
            .field("store", &self.store)
            .field("path", &self.path)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_prefix", &self.redis_prefix)
            .finish()
    }
}

impl CacheConfig {
    /// The SQLite file: `path`, else [`default_path`] for `models_dir`.
    pub fn resolved_path(&self, models_dir: &Path) -> PathBuf {
        self.path.clone().unwrap_or_else(|| default_path(models_dir))
    }

    /// Where the entries are, for logs (a Redis URL without its password).
    pub fn location(&self, models_dir: &Path) -> String {
        match self.store {
            StoreKind::Sqlite => self.resolved_path(models_dir).display().to_string(),
            StoreKind::Redis => self.redis_url.as_deref().map(redact_url).unwrap_or_default(),
            StoreKind::Memory => "memory".to_owned(),
        }
    }

    /// Checks the keys and names the one at fault.
    pub fn validate(&self) -> Result<(), CacheError> {
        let bad = |msg: String| Err(CacheError::Config(msg));
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return bad(format!(
                "`threshold` is {}: it must be above 0 and at most 1 (e.g. 0.92)",
                self.threshold
            ));
        }
        if self.semantic && self.embedder.trim().is_empty() {
            return bad("`embedder` is empty: name an embedding model (e.g. \"all-minilm\") or set `semantic = false`".into());
        }
        for (key, zero) in [
            ("ttl_secs", self.ttl_secs == 0),
            ("max_entries", self.max_entries == 0),
            ("max_bytes", self.max_bytes == 0),
        ] {
            if zero {
                return bad(format!("`{key}` must be at least 1"));
            }
        }
        match (self.store, &self.redis_url) {
            (StoreKind::Redis, None) => {
                return bad(
                    "`store = \"redis\"` needs `redis_url` (e.g. \"redis://127.0.0.1:6379/0\")".into()
                );
            }
            (StoreKind::Redis, Some(url)) if !(url.starts_with("redis://") || url.starts_with("unix://")) => {
                return bad(format!(
                    "`redis_url` {} is not a redis:// or unix:// URL (TLS, rediss://, is not supported)",
                    redact_url(url)
                ));
            }
            (StoreKind::Sqlite | StoreKind::Memory, Some(_)) => {
                return bad("`redis_url` is set but `store` is not \"redis\": set `store = \"redis\"` or remove `redis_url`".into());
            }
            _ => {}
        }
        if self.path.is_some() && self.store != StoreKind::Sqlite {
            return bad(
                "`path` is only for `store = \"sqlite\"`: remove it or set `store = \"sqlite\"`".into()
            );
        }
        if self.redis_prefix.is_empty() {
            return bad("`redis_prefix` is empty: nodes sharing a cache need a common prefix".into());
        }
        Ok(())
    }
}

/// [`DEFAULT_FILE_NAME`] beside `models_dir`: in its parent directory, or inside it when it
/// has no parent.
pub fn default_path(models_dir: &Path) -> PathBuf {
    match models_dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join(DEFAULT_FILE_NAME),
        _ => models_dir.join(DEFAULT_FILE_NAME),
    }
}

/// `url` without its password (`redis://:***@host:6379/0` → `redis://host:6379/0`).
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or_default();
                if user.is_empty() {
                    format!("{scheme}://{host}")
                } else {
                    format!("{scheme}://{user}@{host}")
                }
            }
            None => url.to_owned(),
        },
        None => "(not a URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_section_parses_as_written() {
        let c: CacheConfig = toml::from_str("embedder = \"all-minilm\"\nthreshold = 0.92\n").unwrap();
        assert_eq!(c, CacheConfig::default());
        assert!(c.enabled && c.exact && c.semantic && c.guards && !c.serve_sampled);
        c.validate().unwrap();
    }

    #[test]
    fn every_key_parses_and_unknown_keys_fail() {
        let text = r#"
            enabled = false
            exact = false
            semantic = true
            embedder = "/models/bge-small.gguf"
            threshold = 0.95
            guards = false
            serve_sampled = true
            ttl_secs = 60
            max_entries = 10
            max_bytes = 1000
            store = "redis"
            redis_url = "redis://:pw-s3cret@10.0.0.5:6379/2"
            redis_prefix = "fleet:cache"
        "#;
        let c: CacheConfig = toml::from_str(text).unwrap();
        c.validate().unwrap();
        assert_eq!(c.store, StoreKind::Redis);
        assert_eq!((c.ttl_secs, c.max_entries, c.max_bytes), (60, 10, 1000));
        assert!(!format!("{c:?}").contains("pw-s3cret"));
        assert_eq!(c.location(Path::new("/m")), "redis://10.0.0.5:6379/2");
        let typo = toml::from_str::<CacheConfig>("treshold = 0.9").unwrap_err().to_string();
        assert!(typo.contains("treshold"), "{typo}");
        assert!(toml::from_str::<CacheConfig>("store = \"postgres\"").is_err());
    }

    #[test]
    fn validate_names_the_key() {
        let cases: Vec<(CacheConfig, &str)> = vec![
            (CacheConfig { threshold: 0.0, ..Default::default() }, "`threshold`"),
            (CacheConfig { threshold: 1.5, ..Default::default() }, "`threshold`"),
            (CacheConfig { embedder: " ".into(), ..Default::default() }, "`embedder`"),
            (CacheConfig { ttl_secs: 0, ..Default::default() }, "`ttl_secs`"),
            (CacheConfig { max_entries: 0, ..Default::default() }, "`max_entries`"),
            (CacheConfig { max_bytes: 0, ..Default::default() }, "`max_bytes`"),
            (CacheConfig { store: StoreKind::Redis, ..Default::default() }, "needs `redis_url`"),
            (
                CacheConfig {
                    store: StoreKind::Redis,
                    redis_url: Some("rediss://h".into()),
                    ..Default::default()
                },
                "not a redis://",
            ),
            (CacheConfig { redis_url: Some("redis://h".into()), ..Default::default() }, "`store` is not"),
            (
                CacheConfig { store: StoreKind::Memory, path: Some("/x".into()), ..Default::default() },
                "`path`",
            ),
        ];
        for (c, want) in cases {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
        let no_embedder = CacheConfig { semantic: false, embedder: String::new(), ..Default::default() };
        no_embedder.validate().unwrap();
    }

    #[test]
    fn paths_and_redaction() {
        assert_eq!(
            default_path(Path::new("/h/.cache/hearth/models")),
            Path::new("/h/.cache/hearth/cache.sqlite")
        );
        assert_eq!(redact_url("redis://:pw@h:1/0"), "redis://h:1/0");
        assert_eq!(redact_url("redis://user:pw@h:1"), "redis://user@h:1");
        assert_eq!(redact_url("redis://h:1"), "redis://h:1");
    }
}
