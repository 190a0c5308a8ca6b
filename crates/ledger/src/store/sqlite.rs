//! `SqliteStore`: the ledger in one SQLite file, WAL mode, `synchronous=NORMAL`.
//!
//! WAL with `synchronous=NORMAL` never corrupts the file on a crash or `kill -9`: a
//! transaction that was not committed (and, after a power cut, at worst the last few
//! committed ones) is lost, the rest stays. Readers (`hearth report`, through
//! [`SqliteStore::open_read_only`]) do not block the writer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::Store;
use super::columns;
use crate::call::Call;
use crate::error::LedgerError;
use crate::schema;

/// How long a statement waits for another connection's lock before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The ledger's SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    /// The `SELECT` that reads rows (columns an older file lacks read as `NULL`).
    select: String,
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) and migrates the file at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, LedgerError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| LedgerError::CreateDir { path: dir.to_owned(), source })?;
        }
        let open_err = |source| LedgerError::Open { path: path.to_owned(), source };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "the ledger could not switch to WAL mode");
        }
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        schema::migrate(&mut conn, path)?;
        Ok(SqliteStore { conn, path: path.to_owned(), select: columns::select_sql() })
    }

    /// Opens the file at `path` for reading only: never creates it (a missing file is
    /// [`LedgerError::Missing`]), never migrates it (an older file is read as it is, the
    /// columns it predates as `NULL`), refuses a newer schema ([`LedgerError::TooNew`]) and
    /// a file without the `calls` table ([`LedgerError::NotALedger`]). Writing through it fails.
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, LedgerError> {
        if !path.is_file() {
            return Err(LedgerError::Missing { path: path.to_owned() });
        }
        let open_err = |source| LedgerError::Open { path: path.to_owned(), source };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let found = schema::version(&conn).map_err(open_err)?;
        if found > schema::LATEST {
            return Err(LedgerError::TooNew { path: path.to_owned(), found, supported: schema::LATEST });
        }
        let present: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('calls')")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(open_err)?;
        if found == 0 || present.is_empty() {
            return Err(LedgerError::NotALedger { path: path.to_owned() });
        }
        let select = columns::select_sql_with(|c| present.iter().any(|p| p == c));
        Ok(SqliteStore { conn, path: path.to_owned(), select })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for tests that set pragmas or read columns directly.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// How many rows the ledger holds.
    pub fn count(&self) -> Result<u64, LedgerError> {
        let n: i64 = self.conn.query_row("SELECT COUNT(*) FROM calls", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// USD paid to remotes (rows with `local = 0`) by calls that started at or after
    /// `since_unix_ms`: what `hearth serve` restores its spend against the caps from.
    pub fn remote_cost_since(&self, since_unix_ms: i64) -> Result<f64, LedgerError> {
        let sql = "SELECT COALESCE(SUM(cost_usd), 0.0) FROM calls WHERE local = 0 AND time_unix_ms >= ?1";
        Ok(self.conn.query_row(sql, [since_unix_ms], |r| r.get(0))?)
    }
}

impl Store for SqliteStore {
    fn insert(&mut self, rows: &[Call]) -> Result<(), LedgerError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(&columns::insert_sql())?;
            for row in rows {
                columns::insert(&mut stmt, row)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn prune_before(&mut self, cutoff_unix_ms: i64) -> Result<u64, LedgerError> {
        let n = self.conn.execute("DELETE FROM calls WHERE time_unix_ms < ?1", [cutoff_unix_ms])?;
        Ok(n as u64)
    }

    fn calls_since(&mut self, since_unix_ms: i64) -> Result<Vec<Call>, LedgerError> {
        let sql = format!("{} WHERE time_unix_ms >= ?1 ORDER BY time_unix_ms, id", self.select);
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([since_unix_ms])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(columns::read(row)?);
        }
        Ok(out)
    }
}
