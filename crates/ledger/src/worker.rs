//! The writer thread: owns the store, gathers rows into batches, commits each batch in one
//! transaction (every `batch_rows` rows or `batch_ms` after a batch's first row), retries a
//! failed batch once, and applies retention at start-up and once a day.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use crate::call::{Call, now_unix_ms};
use crate::error::LedgerError;
use crate::stats::Counters;
use crate::store::Store;

/// Pause before retrying a failed batch (lets a busy lock or a transient I/O error pass).
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// How often retention runs after start-up.
pub(crate) const PRUNE_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What the handle sends the writer.
#[derive(Debug)]
pub(crate) enum Msg {
    /// A row to write.
    Row(Box<Call>),
    /// Write what is queued before this, then answer.
    Flush(SyncSender<()>),
    /// Write what is queued, delete rows older than `days`, answer how many.
    Prune { days: u32, reply: SyncSender<Result<u64, LedgerError>> },
}

/// The writer's settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub batch_rows: usize,
    pub batch_every: Duration,
    pub retain_days: Option<u32>,
    /// How often retention runs after start-up ([`PRUNE_EVERY`]; shorter in tests).
    pub prune_every: Duration,
    /// `service_instance_id` for rows that come without one.
    pub instance: Option<String>,
}

struct Worker {
    store: Box<dyn Store>,
    counters: Arc<Counters>,
    batch: Vec<Call>,
}

/// The writer thread's body; returns when every handle is gone, after writing what is queued.
pub(crate) fn run(store: Box<dyn Store>, rx: Receiver<Msg>, settings: Settings, counters: Arc<Counters>) {
    let mut w = Worker { store, counters, batch: Vec::with_capacity(settings.batch_rows) };
    let mut next_prune = settings.retain_days.map(|days| {
        let _ = w.prune(days);
        Instant::now() + settings.prune_every
    });
    let mut deadline: Option<Instant> = None;
    loop {
        let wake = match (deadline, next_prune) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let msg = match wake {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(t) => rx.recv_timeout(t.saturating_duration_since(Instant::now())),
        };
        match msg {
            Ok(Msg::Row(call)) => {
                if w.batch.is_empty() {
                    deadline = Some(Instant::now() + settings.batch_every);
                }
                let mut call = *call;
                if call.service_instance_id.is_none() {
                    call.service_instance_id.clone_from(&settings.instance);
                }
                w.batch.push(call);
                if w.batch.len() >= settings.batch_rows {
                    w.write();
                    deadline = None;
                }
            }
            Ok(Msg::Flush(reply)) => {
                w.write();
                deadline = None;
                let _ = reply.send(());
            }
            Ok(Msg::Prune { days, reply }) => {
                w.write();
                deadline = None;
                let _ = reply.send(w.prune(days));
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                w.write();
                return;
            }
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            w.write();
            deadline = None;
        }
        if let (Some(days), Some(at)) = (settings.retain_days, next_prune)
            && now >= at
        {
            let _ = w.prune(days);
            next_prune = Some(now + settings.prune_every);
        }
    }
}

impl Worker {
    /// Commits the batch; on failure retries once, then drops it and counts its rows.
    fn write(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let rows = self.batch.len() as u64;
        let c = &self.counters;
        let first = match self.store.insert(&self.batch) {
            Ok(()) => None,
            Err(e) => {
                c.write_errors.fetch_add(1, Relaxed);
                warn!(error = %e, rows, "ledger write failed; retrying the batch once");
                std::thread::sleep(RETRY_PAUSE);
                self.store.insert(&self.batch).err()
            }
        };
        match first {
            None => {
                c.written.fetch_add(rows, Relaxed);
                c.batches.fetch_add(1, Relaxed);
            }
            Some(e) => {
                c.write_errors.fetch_add(1, Relaxed);
                let dropped = c.dropped.fetch_add(rows, Relaxed) + rows;
                if c.may_log_drop() {
                    error!(error = %e, rows, dropped_total = dropped,
                        "ledger batch dropped after a failed retry (is the disk full or the file read-only?)");
                }
            }
        }
        self.batch.clear();
    }

    /// Deletes rows older than `days` days.
    fn prune(&mut self, days: u32) -> Result<u64, LedgerError> {
        let cutoff = now_unix_ms().saturating_sub(i64::from(days).saturating_mul(DAY_MS));
        match self.store.prune_before(cutoff) {
            Ok(n) => {
                self.counters.pruned.fetch_add(n, Relaxed);
                if n > 0 {
                    info!(rows = n, days, "ledger retention deleted old rows");
                }
                Ok(n)
            }
            Err(e) => {
                warn!(error = %e, days, "ledger retention failed; rows are kept until the next run");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::mpsc;

    use super::*;

    /// Records the cutoffs retention asked for (and keeps no rows).
    struct Cutoffs(Arc<Mutex<Vec<i64>>>);

    impl Store for Cutoffs {
        fn insert(&mut self, _: &[Call]) -> Result<(), LedgerError> {
            Ok(())
        }
        fn prune_before(&mut self, cutoff_unix_ms: i64) -> Result<u64, LedgerError> {
            self.0.lock().unwrap().push(cutoff_unix_ms);
            Ok(1)
        }
        fn calls_since(&mut self, _: i64) -> Result<Vec<Call>, LedgerError> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn retention_runs_at_start_up_and_then_periodically_while_idle() {
        let cutoffs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::sync_channel(4);
        let settings = Settings {
            batch_rows: 10,
            batch_every: Duration::from_secs(60),
            retain_days: Some(3),
            prune_every: Duration::from_millis(20),
            instance: None,
        };
        let counters = Arc::new(Counters::new());
        let store = Box::new(Cutoffs(Arc::clone(&cutoffs)));
        let shared = Arc::clone(&counters);
        let thread = std::thread::spawn(move || run(store, rx, settings, shared));
        let end = Instant::now() + Duration::from_secs(10);
        while cutoffs.lock().unwrap().len() < 3 {
            assert!(Instant::now() < end, "retention did not repeat");
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(tx);
        thread.join().unwrap();
        let first = cutoffs.lock().unwrap()[0];
        let expected = now_unix_ms() - 3 * DAY_MS;
        assert!((expected - first).abs() < 10_000, "cutoff {first} is not 3 days ago ({expected})");
        assert!(counters.snapshot().pruned >= 3);
    }
}
