//! The schema and its migrations, versioned with `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` takes a file from version `i` to `i + 1`; each runs in one transaction
//! together with the `user_version` bump, so a file is always at a whole version. A shipped
//! migration is never edited: a change is a new migration appended to the list.

use std::path::Path;

use rusqlite::Connection;
use tracing::info;

use crate::error::LedgerError;

/// The migrations, in order. Version 1: the `calls` table and its time index. Version 2: the
/// node column for fleets (`service_instance_id`) and the report's task and route indexes.
pub const MIGRATIONS: &[&str] = &[
    // v1
    "CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        time_unix_ms INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        gen_ai_response_id TEXT,
        gen_ai_operation_name TEXT NOT NULL,
        task TEXT,
        tags TEXT NOT NULL DEFAULT '{}',
        route TEXT NOT NULL,
        reason TEXT NOT NULL,
        gen_ai_provider_name TEXT NOT NULL,
        gen_ai_request_model TEXT NOT NULL,
        gen_ai_response_model TEXT,
        local INTEGER NOT NULL,
        streamed INTEGER NOT NULL,
        gen_ai_usage_input_tokens INTEGER,
        gen_ai_usage_output_tokens INTEGER,
        gen_ai_usage_cache_read_input_tokens INTEGER,
        gen_ai_usage_cache_creation_input_tokens INTEGER,
        semantic_cache_hit INTEGER NOT NULL,
        latency_ms INTEGER NOT NULL,
        time_to_first_token_ms INTEGER,
        local_tokens_per_s REAL,
        complexity REAL,
        mean_logprob REAL,
        min_logprob REAL,
        label_margin REAL,
        cost_usd REAL NOT NULL,
        baseline_cost_usd REAL,
        escalation_parent TEXT,
        status TEXT NOT NULL,
        error_type TEXT,
        error_message TEXT
    );
    CREATE INDEX calls_time ON calls (time_unix_ms);",
    // v2
    "ALTER TABLE calls ADD COLUMN service_instance_id TEXT;
    CREATE INDEX calls_task_time ON calls (task, time_unix_ms);
    CREATE INDEX calls_route_time ON calls (route, time_unix_ms);",
];

/// The version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// The file's `PRAGMA user_version`.
pub fn version(conn: &Connection) -> Result<i64, rusqlite::Error> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings `conn` (the file at `path`, for messages) to [`LATEST`]; refuses a newer file.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), LedgerError> {
    let found = version(conn)?;
    if found > LATEST {
        return Err(LedgerError::TooNew { path: path.to_owned(), found, supported: LATEST });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let to = from as i64 + 1;
        let step = |conn: &mut Connection| {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", to)?;
            tx.commit()
        };
        step(conn).map_err(|source| LedgerError::Migrate { version: to, source })?;
        info!(path = %path.display(), version = to, "ledger schema migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_reaches_latest_and_a_newer_one_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        assert_eq!(version(&conn).unwrap(), LATEST);
        migrate(&mut conn, Path::new(":memory:")).unwrap(); // idempotent
        conn.pragma_update(None, "user_version", LATEST + 1).unwrap();
        let e = migrate(&mut conn, Path::new("x.sqlite")).unwrap_err();
        assert!(matches!(e, LedgerError::TooNew { found, .. } if found == LATEST + 1), "{e}");
    }
}
