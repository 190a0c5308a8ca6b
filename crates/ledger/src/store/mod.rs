//! `Store`: where the writer puts rows. SQLite ([`SqliteStore`]), the default, and
//! PostgreSQL ([`PostgresStore`]) for fleets of nodes writing one ledger.

mod columns;
mod postgres;
mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::call::Call;
use crate::error::LedgerError;

/// A ledger backend, owned by the writer thread.
pub trait Store: Send {
    /// Inserts `rows` in one transaction: all of them are stored, or none.
    fn insert(&mut self, rows: &[Call]) -> Result<(), LedgerError>;

    /// Deletes the rows that started before `cutoff_unix_ms`; returns how many.
    fn prune_before(&mut self, cutoff_unix_ms: i64) -> Result<u64, LedgerError>;

    /// The rows that started at or after `since_unix_ms`, oldest first (rows with the same
    /// time in the order they were written). `hearth report` reads through this.
    fn calls_since(&mut self, since_unix_ms: i64) -> Result<Vec<Call>, LedgerError>;
}
