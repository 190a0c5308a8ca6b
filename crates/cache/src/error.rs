//! The cache's errors.

use std::path::PathBuf;

use crate::embed::EmbedError;

/// What went wrong configuring, opening or using the cache. A caller serving a request treats
/// any of them as a miss (and logs it): the cache never fails a request.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The `[cache]` section is unusable.
    #[error("invalid [cache] config: {0}")]
    Config(String),
    /// The embedder failed on a prompt.
    #[error("the cache's embedder failed: {0} (the request is answered without the cache)")]
    Embed(#[from] EmbedError),
    /// The embedder returned something unusable.
    #[error(
        "the cache's embedder ({model}) returned {got}: expected one non-zero, finite vector per text (check `[cache] embedder`)"
    )]
    BadEmbedding {
        /// The embedder's id.
        model: String,
        /// What came back.
        got: String,
    },
    /// The SQLite file could not be opened, created or migrated.
    #[error(
        "cannot open the cache at {path}: {source} (check that the directory is writable, or set `[cache] path`)"
    )]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// The cache's directory could not be created.
    #[error("cannot create the cache's directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file's schema is newer than this build knows.
    #[error(
        "the cache at {path} has schema version {found}, newer than this hearth's {supported}: upgrade hearth or point `[cache] path` at another file"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its `PRAGMA user_version`.
        found: i64,
        /// The newest version this build writes.
        supported: i64,
    },
    /// A SQLite read or write failed.
    #[error("cache database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The Redis server could not be reached, or refused a command.
    #[error(
        "cache Redis error at {server}: {source} (check that Redis runs there and that `[cache] redis_url` has the right host, port, password and database)"
    )]
    Redis {
        /// The server, without its password.
        server: String,
        /// Why.
        source: redis::RedisError,
    },
    /// A stored entry could not be decoded.
    #[error("cache entry {key}: {message}")]
    Decode {
        /// The entry's key.
        key: String,
        /// What is wrong.
        message: String,
    },
}
