//! `SqliteStore`: entries in one SQLite file (WAL, `synchronous=NORMAL`), so a restart keeps
//! the cache. One process writes a file; several nodes share a cache through Redis instead.
//!
//! The schema is versioned with `PRAGMA user_version`, as the ledger's: `MIGRATIONS[i]` takes
//! a file from version `i` to `i + 1` in one transaction; a shipped migration is never edited.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};

use super::Store;
use crate::entry::{Entry, embedding_from_bytes};
use crate::error::CacheError;
use crate::scope::ScopeKey;

/// The migrations, in order. Version 1: the `entries` table and its expiry index.
pub const MIGRATIONS: &[&str] = &["CREATE TABLE entries (
        key TEXT PRIMARY KEY,
        scope TEXT NOT NULL,
        prompt TEXT NOT NULL,
        answer TEXT NOT NULL,
        embedding BLOB,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
    );
    CREATE INDEX entries_expires ON entries (expires_ms);"];

/// The version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The cache's SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) and migrates the file at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, CacheError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| CacheError::CreateDir { path: dir.to_owned(), source })?;
        }
        let open_err = |source| CacheError::Open { path: path.to_owned(), source };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "the cache could not switch to WAL mode");
        }
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        migrate(&mut conn, path)?;
        Ok(SqliteStore { conn, path: path.to_owned() })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), CacheError> {
    let open_err = |source| CacheError::Open { path: path.to_owned(), source };
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(open_err)?;
    if found > LATEST {
        return Err(CacheError::TooNew { path: path.to_owned(), found, supported: LATEST });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction().map_err(open_err)?;
        tx.execute_batch(sql).map_err(open_err)?;
        tx.pragma_update(None, "user_version", from as i64 + 1).map_err(open_err)?;
        tx.commit().map_err(open_err)?;
        tracing::info!(path = %path.display(), version = from + 1, "migrated the cache");
    }
    Ok(())
}

impl Store for SqliteStore {
    fn load(&mut self, now_ms: i64) -> Result<Vec<Entry>, CacheError> {
        self.conn.execute("DELETE FROM entries WHERE expires_ms <= ?1", [now_ms])?;
        let mut stmt = self.conn.prepare(
            "SELECT key, scope, prompt, answer, embedding, created_ms, expires_ms FROM entries ORDER BY created_ms",
        )?;
        let rows = stmt.query_map([], |r| {
            let blob: Option<Vec<u8>> = r.get(4)?;
            Ok((
                Entry {
                    key: r.get(0)?,
                    scope: ScopeKey(r.get(1)?),
                    prompt: r.get(2)?,
                    answer: r.get(3)?,
                    embedding: None,
                    created_ms: r.get(5)?,
                    expires_ms: r.get(6)?,
                },
                blob,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (mut entry, blob) = row?;
            if let Some(bytes) = blob {
                entry.embedding = Some(embedding_from_bytes(&bytes).ok_or_else(|| CacheError::Decode {
                    key: entry.key.clone(),
                    message: format!("embedding of {} bytes is not a whole number of f32s", bytes.len()),
                })?);
            }
            out.push(entry);
        }
        Ok(out)
    }

    fn put(&mut self, e: &Entry) -> Result<(), CacheError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO entries (key, scope, prompt, answer, embedding, created_ms, expires_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![e.key, e.scope.0, e.prompt, e.answer, e.embedding_bytes(), e.created_ms, e.expires_ms],
        )?;
        Ok(())
    }

    fn remove(&mut self, keys: &[String]) -> Result<(), CacheError> {
        if keys.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM entries WHERE key = ?1")?;
            for k in keys {
                stmt.execute([k])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
