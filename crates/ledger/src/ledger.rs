//! `Ledger`: the handle the server holds. `record` never blocks; one writer thread owns the
//! store (see `worker`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::warn;

use crate::call::Call;
use crate::config::LedgerConfig;
use crate::error::LedgerError;
use crate::stats::{Counters, Stats};
use crate::store::{PostgresStore, SqliteStore, Store};
use crate::worker::{self, Msg, Settings};

/// The ledger: a bounded queue in front of one writer thread.
///
/// Dropping it writes what is queued and waits for the writer to finish.
#[derive(Debug)]
pub struct Ledger {
    tx: Option<SyncSender<Msg>>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl Ledger {
    /// Opens (creating and migrating) the SQLite file at `path` and starts the writer.
    pub fn open(path: &Path, config: &LedgerConfig) -> Result<Ledger, LedgerError> {
        config.validate()?;
        Ledger::with_store(Box::new(SqliteStore::open(path)?), config)
    }

    /// Opens the ledger `config` names and starts the writer: the PostgreSQL database at
    /// `url` when it is set (connecting and migrating now: an unreachable server fails here),
    /// else the SQLite file at [`LedgerConfig::resolved_path`] for `models_dir`.
    pub fn open_config(config: &LedgerConfig, models_dir: &Path) -> Result<Ledger, LedgerError> {
        config.validate()?;
        let store: Box<dyn Store> = match &config.url {
            Some(url) => Box::new(PostgresStore::connect(url)?),
            None => Box::new(SqliteStore::open(&config.resolved_path(models_dir))?),
        };
        Ledger::with_store(store, config)
    }

    /// Starts the writer on `store` (another backend, or a configured SQLite store).
    pub fn with_store(store: Box<dyn Store>, config: &LedgerConfig) -> Result<Ledger, LedgerError> {
        config.validate()?;
        let (tx, rx) = mpsc::sync_channel(config.queue_capacity);
        let counters = Arc::new(Counters::new());
        let settings = Settings {
            batch_rows: config.batch_rows,
            batch_every: Duration::from_millis(config.batch_ms),
            retain_days: config.retain_days,
            prune_every: worker::PRUNE_EVERY,
            instance: config.resolved_instance(),
        };
        let shared = Arc::clone(&counters);
        let thread = std::thread::Builder::new()
            .name("hearth-ledger".to_owned())
            .spawn(move || worker::run(store, rx, settings, shared))
            .map_err(LedgerError::Spawn)?;
        Ok(Ledger { tx: Some(tx), counters, thread: Some(thread) })
    }

    /// Queues `call` for writing; never blocks. When the queue is full (or the writer is gone)
    /// the row is dropped, counted in [`Ledger::dropped`], and a warning is logged at most
    /// every few seconds.
    pub fn record(&self, call: Call) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(Msg::Row(Box::new(call))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.count_drop(true),
            Err(TrySendError::Disconnected(_)) => self.count_drop(false),
        }
    }

    fn count_drop(&self, full: bool) {
        let c = &self.counters;
        let total = c.dropped.fetch_add(1, Relaxed) + 1;
        if full {
            c.dropped_queue_full.fetch_add(1, Relaxed);
        }
        if c.may_log_drop() {
            let why =
                if full { "its queue is full (the disk is slow or stuck)" } else { "its writer has stopped" };
            warn!(dropped_total = total, "ledger row dropped: {why}");
        }
    }

    /// Writes every row queued before this call; blocks until done (for shutdown and tests).
    /// A batch that cannot be written is dropped and counted, not returned as an error.
    pub fn flush(&self) -> Result<(), LedgerError> {
        let (reply, done) = mpsc::sync_channel(1);
        self.send(Msg::Flush(reply))?;
        done.recv().map_err(|_| LedgerError::WriterGone)
    }

    /// Writes what is queued, then deletes the rows older than `days` days; blocks until done
    /// and returns how many rows were deleted.
    pub fn prune_older_than(&self, days: u32) -> Result<u64, LedgerError> {
        let (reply, done) = mpsc::sync_channel(1);
        self.send(Msg::Prune { days, reply })?;
        done.recv().map_err(|_| LedgerError::WriterGone)?
    }

    fn send(&self, msg: Msg) -> Result<(), LedgerError> {
        let tx = self.tx.as_ref().ok_or(LedgerError::WriterGone)?;
        tx.send(msg).map_err(|_| LedgerError::WriterGone)
    }

    /// The counters (for `/metrics`).
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// Rows lost so far: queue full, writer gone, or a batch that failed twice.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Relaxed)
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            warn!("the ledger's writer thread panicked; queued rows may be lost");
        }
    }
}
