//! `CacheStats`: the counters `/metrics` shows.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::guards::GuardReason;

/// A snapshot of the cache's counters since it was opened, and its size now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// Lookups answered from the exact cache.
    pub exact_hits: u64,
    /// Lookups answered from the semantic cache.
    pub semantic_hits: u64,
    /// Lookups that found nothing to serve (sampled and disabled ones not included).
    pub misses: u64,
    /// Lookups skipped because the request samples (`temperature > 0`, `serve_sampled` off).
    pub sampled_bypasses: u64,
    /// Semantic candidates above the threshold that a guard refused, by guard.
    pub guard_rejections: BTreeMap<GuardReason, u64>,
    /// Answers stored.
    pub inserts: u64,
    /// Entries dropped because they expired.
    pub expired: u64,
    /// Entries evicted (least recently used) to stay within `max_entries` / `max_bytes`.
    pub evicted: u64,
    /// Lookups or inserts that failed (embedder or store errors), answered without the cache.
    pub errors: u64,
    /// Entries held now.
    pub entries: u64,
    /// Their size now, as counted against `max_bytes`.
    pub bytes: u64,
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub exact_hits: AtomicU64,
    pub semantic_hits: AtomicU64,
    pub misses: AtomicU64,
    pub sampled_bypasses: AtomicU64,
    pub guard_rejections: [AtomicU64; GuardReason::ALL.len()],
    pub inserts: AtomicU64,
    pub expired: AtomicU64,
    pub evicted: AtomicU64,
    pub errors: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    pub fn reject(&self, reason: GuardReason) {
        let i = GuardReason::ALL.iter().position(|r| *r == reason).unwrap_or(0);
        Counters::bump(&self.guard_rejections[i], 1);
    }

    pub fn snapshot(&self, entries: u64, bytes: u64) -> CacheStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            exact_hits: get(&self.exact_hits),
            semantic_hits: get(&self.semantic_hits),
            misses: get(&self.misses),
            sampled_bypasses: get(&self.sampled_bypasses),
            guard_rejections: GuardReason::ALL
                .iter()
                .zip(&self.guard_rejections)
                .map(|(r, c)| (*r, get(c)))
                .collect(),
            inserts: get(&self.inserts),
            expired: get(&self.expired),
            evicted: get(&self.evicted),
            errors: get(&self.errors),
            entries,
            bytes,
        }
    }
}
