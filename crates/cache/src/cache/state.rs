//! `State`: the entries in memory, their vector indexes (one per scope), the LRU order and
//! the expiry order. Pure bookkeeping: no clock, no store, no embedder.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::entry::Entry;
use crate::guards::Features;
use crate::index::FlatIndex;
use crate::scope::ScopeKey;

/// One entry in memory. Its vector lives in its scope's index only.
#[derive(Debug)]
struct Slot {
    /// The entry, without its vector.
    entry: Entry,
    /// What the guards compare, read from the prompt the first time it is a candidate.
    features: Option<Features>,
    /// The LRU clock's value at its last use.
    used: u64,
    bytes: u64,
}

/// Why entries left.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// Keys of entries that expired.
    pub expired: Vec<String>,
    /// Keys of entries evicted to stay within the limits.
    pub evicted: Vec<String>,
}

impl Removed {
    /// All the keys.
    pub fn keys(&self) -> Vec<String> {
        self.expired.iter().chain(&self.evicted).cloned().collect()
    }
}

/// The entries in memory.
#[derive(Debug, Default)]
pub struct State {
    next_id: u64,
    clock: u64,
    slots: HashMap<u64, Slot>,
    by_key: HashMap<String, u64>,
    indexes: HashMap<ScopeKey, FlatIndex>,
    /// LRU clock value → id, least recent first.
    lru: BTreeMap<u64, u64>,
    /// (expiry, id), soonest first.
    expiry: BTreeSet<(i64, u64)>,
    bytes: u64,
}

impl State {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Their size against `max_bytes`.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Adds `entry` (replacing the one with its key), then drops what expired at `now_ms` and
    /// the least recently used entries beyond `max_entries` / `max_bytes` (never the new one).
    /// An entry whose vector does not fit its scope's index (another length) is kept for
    /// exact hits only.
    pub fn insert(&mut self, mut entry: Entry, now_ms: i64, max_entries: usize, max_bytes: u64) -> Removed {
        self.remove(&entry.key);
        let bytes = entry.bytes();
        let id = self.next_id;
        self.next_id += 1;
        if let Some(v) = entry.embedding.take() {
            let index = self.indexes.entry(entry.scope.clone()).or_insert_with(|| FlatIndex::new(v.len()));
            if index.dim() == v.len() {
                index.insert(id, &v);
            } else {
                tracing::warn!(
                    key = entry.key,
                    got = v.len(),
                    want = index.dim(),
                    "a cache entry's vector has another length than its scope's: kept for exact hits only"
                );
            }
        }
        self.clock += 1;
        self.lru.insert(self.clock, id);
        self.expiry.insert((entry.expires_ms, id));
        self.by_key.insert(entry.key.clone(), id);
        self.bytes += bytes;
        self.slots.insert(id, Slot { entry, features: None, used: self.clock, bytes });
        let mut removed = Removed { expired: self.purge_expired(now_ms), evicted: Vec::new() };
        while self.slots.len() > max_entries.max(1) || (self.bytes > max_bytes && self.slots.len() > 1) {
            let Some((_, &victim)) = self.lru.iter().next() else { break };
            if victim == id {
                break;
            }
            if let Some(key) = self.remove_id(victim) {
                removed.evicted.push(key);
            }
        }
        removed
    }

    /// Removes the entry with `key`; `false` if there was none.
    pub fn remove(&mut self, key: &str) -> bool {
        match self.by_key.get(key) {
            Some(&id) => self.remove_id(id).is_some(),
            None => false,
        }
    }

    fn remove_id(&mut self, id: u64) -> Option<String> {
        let slot = self.slots.remove(&id)?;
        self.lru.remove(&slot.used);
        self.expiry.remove(&(slot.entry.expires_ms, id));
        self.by_key.remove(&slot.entry.key);
        self.bytes -= slot.bytes;
        if let Some(index) = self.indexes.get_mut(&slot.entry.scope) {
            index.remove(id);
            if index.is_empty() {
                self.indexes.remove(&slot.entry.scope);
            }
        }
        Some(slot.entry.key)
    }

    /// Drops the entries expired at `now_ms` (`expires_ms <= now_ms`); their keys.
    pub fn purge_expired(&mut self, now_ms: i64) -> Vec<String> {
        let mut keys = Vec::new();
        while let Some(&(expires, id)) = self.expiry.iter().next() {
            if expires > now_ms {
                break;
            }
            match self.remove_id(id) {
                Some(key) => keys.push(key),
                None => {
                    self.expiry.remove(&(expires, id));
                }
            }
        }
        keys
    }

    /// The entry with `key` in `scope`, marked used; `None` if absent.
    pub fn exact(&mut self, key: &str, scope: &ScopeKey) -> Option<&Entry> {
        let id = *self.by_key.get(key)?;
        if self.slots.get(&id).is_none_or(|s| &s.entry.scope != scope) {
            return None;
        }
        self.touch(id);
        self.slots.get(&id).map(|s| &s.entry)
    }

    /// Up to `k` entries of `scope` scoring at least `min` against `query`, best first; plus
    /// the best score of any entry of the scope (`None` when it has no vectors, or `query`
    /// has another length).
    pub fn candidates(
        &self,
        scope: &ScopeKey,
        query: &[f32],
        min: f32,
        k: usize,
    ) -> (Vec<(u64, f32)>, Option<f32>) {
        let Some(index) = self.indexes.get(scope).filter(|ix| ix.dim() == query.len()) else {
            return (Vec::new(), None);
        };
        let found = index.search(query, min, k);
        (found.hits, found.best)
    }

    /// Entry `id`'s guard features (read from its prompt on first use).
    pub fn features(&mut self, id: u64) -> Option<&Features> {
        let slot = self.slots.get_mut(&id)?;
        Some(slot.features.get_or_insert_with(|| Features::of(&slot.entry.prompt)))
    }

    /// Entry `id`, without marking it used.
    pub fn entry(&self, id: u64) -> Option<&Entry> {
        self.slots.get(&id).map(|s| &s.entry)
    }

    /// Marks entry `id` used now (it becomes the last to be evicted).
    pub fn touch(&mut self, id: u64) {
        if let Some(slot) = self.slots.get_mut(&id) {
            self.lru.remove(&slot.used);
            self.clock += 1;
            slot.used = self.clock;
            self.lru.insert(self.clock, id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, scope: &str, v: Option<Vec<f32>>, expires_ms: i64) -> Entry {
        Entry {
            key: key.into(),
            scope: ScopeKey(scope.into()),
            prompt: format!("prompt {key}"),
            answer: format!("answer {key}"),
            embedding: v,
            created_ms: 0,
            expires_ms,
        }
    }

    #[test]
    fn lru_evicts_the_least_recently_used_and_never_the_new_entry() {
        let mut s = State::default();
        for k in ["a", "b", "c"] {
            assert_eq!(s.insert(entry(k, "s", None, 100), 0, 3, u64::MAX), Removed::default());
        }
        let scope = ScopeKey("s".into());
        assert!(s.exact("a", &scope).is_some(), "a is now the most recent");
        let r = s.insert(entry("d", "s", None, 100), 0, 3, u64::MAX);
        assert_eq!(r.evicted, ["b"]);
        assert_eq!(s.len(), 3);
        // bytes: one entry's worth of budget keeps the newest only
        let one = entry("e", "s", None, 100).bytes();
        let r = s.insert(entry("e", "s", None, 100), 0, 10, one);
        assert_eq!(r.evicted, ["c", "a", "d"]);
        assert_eq!((s.len(), s.bytes()), (1, one));
    }

    #[test]
    fn expiry_and_scope_and_replacement() {
        let mut s = State::default();
        s.insert(entry("a", "s", Some(vec![1.0, 0.0]), 50), 0, 10, u64::MAX);
        s.insert(entry("b", "s", Some(vec![0.0, 1.0]), 150), 0, 10, u64::MAX);
        let scope = ScopeKey("s".into());
        assert!(s.exact("a", &ScopeKey("other".into())).is_none(), "another scope never hits");
        let (found, best) = s.candidates(&scope, &[1.0, 0.0], 0.5, 4);
        assert_eq!((found.len(), best), (1, Some(1.0)));
        assert_eq!(s.purge_expired(50), ["a"]);
        assert!(s.exact("a", &scope).is_none());
        let (found, best) = s.candidates(&scope, &[1.0, 0.0], 0.5, 4);
        assert_eq!((found.len(), best), (0, Some(0.0)));
        // replacing keeps one entry and its new vector
        s.insert(entry("b", "s", Some(vec![1.0, 0.0]), 150), 60, 10, u64::MAX);
        assert_eq!(s.len(), 1);
        let (found, _) = s.candidates(&scope, &[1.0, 0.0], 0.99, 4);
        assert_eq!(found.len(), 1);
        assert_eq!(s.entry(found[0].0).map(|e| e.key.as_str()), Some("b"));
        // a vector of another length is kept for exact hits only
        s.insert(entry("c", "s", Some(vec![1.0, 0.0, 0.0]), 150), 60, 10, u64::MAX);
        assert!(s.exact("c", &scope).is_some());
        assert_eq!(s.candidates(&scope, &[1.0, 0.0, 0.0], 0.0, 4), (Vec::new(), None));
        assert!(s.remove("b") && s.remove("c") && !s.remove("c"));
        assert_eq!((s.len(), s.bytes()), (0, 0));
    }
}
