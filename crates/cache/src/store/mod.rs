//! `Store`: where entries are kept beyond the in-process index. [`MemoryStore`] (nothing
//! kept), [`SqliteStore`] (one file, survives a restart) and [`RedisStore`] (shared by several
//! nodes, each following the others' inserts and evictions).

mod memory;
mod redis;
mod sqlite;

pub use memory::MemoryStore;
pub use redis::RedisStore;
pub use sqlite::SqliteStore;

use crate::entry::Entry;
use crate::error::CacheError;

/// A change another node made, for this node's index to follow.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// An entry was stored (or replaced).
    Put(Entry),
    /// An entry was evicted or expired.
    Remove(String),
}

/// A cache backend. The cache calls it with its own lock released, from whichever thread runs
/// the lookup or insert.
pub trait Store: Send {
    /// Every entry that has not expired at `now_ms`, for the index at start-up; a store may
    /// delete the expired ones meanwhile.
    fn load(&mut self, now_ms: i64) -> Result<Vec<Entry>, CacheError>;

    /// Stores `entry` (replacing one with the same key).
    fn put(&mut self, entry: &Entry) -> Result<(), CacheError>;

    /// Deletes the entries with these keys (absent ones are fine).
    fn remove(&mut self, keys: &[String]) -> Result<(), CacheError>;

    /// What other nodes changed since the last call (or since [`Store::load`]), oldest first.
    /// Stores that only this process writes return nothing.
    fn changes(&mut self) -> Result<Vec<Change>, CacheError> {
        Ok(Vec::new())
    }
}
