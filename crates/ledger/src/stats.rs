//! The writer's counters (for `/metrics`) and the rate limit on "rows dropped" logs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// At most one "rows dropped" warning per this many milliseconds.
const DROP_LOG_EVERY_MS: u64 = 10_000;

/// A snapshot of the counters since the ledger started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Rows committed to the store.
    pub written: u64,
    /// Transactions committed (each holds up to `batch_rows` rows).
    pub batches: u64,
    /// Rows lost: the queue was full, or their batch failed twice.
    pub dropped: u64,
    /// Of `dropped`, the rows refused because the queue was full.
    pub dropped_queue_full: u64,
    /// Failed write attempts (a batch that fails, then succeeds on retry, counts one).
    pub write_errors: u64,
    /// Rows deleted by retention.
    pub pruned: u64,
}

/// The live counters, shared by the handle and the writer thread.
#[derive(Debug)]
pub(crate) struct Counters {
    pub written: AtomicU64,
    pub batches: AtomicU64,
    pub dropped: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub write_errors: AtomicU64,
    pub pruned: AtomicU64,
    started: Instant,
    /// Milliseconds after `started` of the last drop warning, plus one (0: never).
    last_drop_log: AtomicU64,
}

impl Counters {
    pub fn new() -> Counters {
        Counters {
            written: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            dropped_queue_full: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
            pruned: AtomicU64::new(0),
            started: Instant::now(),
            last_drop_log: AtomicU64::new(0),
        }
    }

    pub fn snapshot(&self) -> Stats {
        Stats {
            written: self.written.load(Relaxed),
            batches: self.batches.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Relaxed),
            write_errors: self.write_errors.load(Relaxed),
            pruned: self.pruned.load(Relaxed),
        }
    }

    /// Whether a drop warning may be logged now (true at most once per [`DROP_LOG_EVERY_MS`]).
    pub fn may_log_drop(&self) -> bool {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX).saturating_add(1);
        let last = self.last_drop_log.load(Relaxed);
        if last != 0 && now.saturating_sub(last) < DROP_LOG_EVERY_MS {
            return false;
        }
        self.last_drop_log.compare_exchange(last, now, Relaxed, Relaxed).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_logs_are_rate_limited() {
        let c = Counters::new();
        assert!(c.may_log_drop());
        assert!((0..1000).all(|_| !c.may_log_drop()));
    }
}
