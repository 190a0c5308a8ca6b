//! `MemoryStore`: the index is all there is.

use super::Store;
use crate::entry::Entry;
use crate::error::CacheError;

/// Keeps nothing: entries live in the process's index and die with it.
#[derive(Debug, Default)]
pub struct MemoryStore;

impl Store for MemoryStore {
    fn load(&mut self, _now_ms: i64) -> Result<Vec<Entry>, CacheError> {
        Ok(Vec::new())
    }

    fn put(&mut self, _entry: &Entry) -> Result<(), CacheError> {
        Ok(())
    }

    fn remove(&mut self, _keys: &[String]) -> Result<(), CacheError> {
        Ok(())
    }
}
