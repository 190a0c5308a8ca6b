//! `MemStore`: an in-memory `Store` for writer tests that can hold the writer inside a write
//! (a closed gate) and fail the next writes on demand.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use hearth_ledger::{Call, LedgerError, Store};

/// The state a test keeps after handing the store to a ledger.
#[derive(Debug, Clone, Default)]
pub struct Shared {
    pub rows: Arc<Mutex<Vec<Call>>>,
    pub inserts: Arc<AtomicU64>,
    pub fail_next: Arc<AtomicU64>,
    gate: Arc<(Mutex<bool>, Condvar)>,
}

impl Shared {
    /// While closed, a write waits inside `insert`.
    pub fn set_closed(&self, closed: bool) {
        *self.gate.0.lock().unwrap() = closed;
        self.gate.1.notify_all();
    }

    /// Waits until `insert` has been entered `n` times.
    pub fn wait_inserts(&self, n: u64) {
        let end = Instant::now() + Duration::from_secs(10);
        while self.inserts.load(SeqCst) < n {
            assert!(Instant::now() < end, "the writer never called insert");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn len(&self) -> usize {
        self.rows.lock().unwrap().len()
    }
}

#[derive(Debug)]
pub struct MemStore(pub Shared);

impl Store for MemStore {
    fn insert(&mut self, rows: &[Call]) -> Result<(), LedgerError> {
        self.0.inserts.fetch_add(1, SeqCst);
        let (m, cv) = &*self.0.gate;
        let mut closed = m.lock().unwrap();
        while *closed {
            closed = cv.wait(closed).unwrap();
        }
        if self.0.fail_next.load(SeqCst) > 0 {
            self.0.fail_next.fetch_sub(1, SeqCst);
            return Err(LedgerError::Config("simulated write failure".to_owned()));
        }
        self.0.rows.lock().unwrap().extend_from_slice(rows);
        Ok(())
    }

    fn prune_before(&mut self, cutoff_unix_ms: i64) -> Result<u64, LedgerError> {
        let mut rows = self.0.rows.lock().unwrap();
        let before = rows.len();
        rows.retain(|c| c.time_unix_ms >= cutoff_unix_ms);
        Ok((before - rows.len()) as u64)
    }

    fn calls_since(&mut self, since_unix_ms: i64) -> Result<Vec<Call>, LedgerError> {
        let mut rows: Vec<Call> =
            self.0.rows.lock().unwrap().iter().filter(|c| c.time_unix_ms >= since_unix_ms).cloned().collect();
        rows.sort_by_key(|c| c.time_unix_ms); // stable: the same time keeps the write order
        Ok(rows)
    }
}
