//! The PostgreSQL schema and its migrations, versioned in the table
//! `hearth_ledger_schema (version)` (one row).
//!
//! Same rules as the SQLite [`schema`](crate::schema): `MIGRATIONS[i]` takes a database from
//! version `i` to `i + 1` in one transaction together with the version bump, and a shipped
//! migration is never edited. Each step first takes a transaction-scoped advisory lock
//! ([`LOCK_KEY`]) and reads the version under it, so nodes of a fleet starting together
//! migrate one after the other: the first does the work, the others find it done.
//!
//! The versions are PostgreSQL's own: version 1 is SQLite's version 2 (the `calls` table with
//! `service_instance_id` and the three indexes), in PostgreSQL types (see `store/postgres`).

use postgres::{Client, GenericClient};
use tracing::info;

use crate::error::LedgerError;

/// The migrations, in order. Version 1: the `calls` table and its time, task and route indexes.
pub const MIGRATIONS: &[&str] = &[
    // v1
    "CREATE TABLE calls (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        time_unix_ms BIGINT NOT NULL,
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
        local BOOLEAN NOT NULL,
        streamed BOOLEAN NOT NULL,
        gen_ai_usage_input_tokens BIGINT,
        gen_ai_usage_output_tokens BIGINT,
        gen_ai_usage_cache_read_input_tokens BIGINT,
        gen_ai_usage_cache_creation_input_tokens BIGINT,
        semantic_cache_hit BOOLEAN NOT NULL,
        latency_ms BIGINT NOT NULL,
        time_to_first_token_ms BIGINT,
        local_tokens_per_s DOUBLE PRECISION,
        complexity DOUBLE PRECISION,
        mean_logprob DOUBLE PRECISION,
        min_logprob DOUBLE PRECISION,
        label_margin DOUBLE PRECISION,
        cost_usd DOUBLE PRECISION NOT NULL,
        baseline_cost_usd DOUBLE PRECISION,
        escalation_parent TEXT,
        status TEXT NOT NULL,
        error_type TEXT,
        error_message TEXT,
        service_instance_id TEXT
    );
    CREATE INDEX calls_time ON calls (time_unix_ms);
    CREATE INDEX calls_task_time ON calls (task, time_unix_ms);
    CREATE INDEX calls_route_time ON calls (route, time_unix_ms);",
];

/// The version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// The advisory lock migrations hold (`pg_advisory_xact_lock`): "hearthLg" in ASCII.
pub const LOCK_KEY: i64 = 0x6865_6172_7468_4c67;

/// The database's version (0: no ledger yet), read through `client`'s `search_path`.
pub fn version(client: &mut impl GenericClient) -> Result<i64, postgres::Error> {
    let exists: bool =
        client.query_one("SELECT to_regclass('hearth_ledger_schema') IS NOT NULL", &[])?.try_get(0)?;
    if !exists {
        return Ok(0);
    }
    let row = client.query_opt("SELECT version FROM hearth_ledger_schema", &[])?;
    row.map_or(Ok(0), |r| r.try_get(0))
}

/// Brings the database (`database`: its name without the password, for messages) to
/// [`LATEST`]; refuses a newer one.
pub fn migrate(client: &mut Client, database: &str) -> Result<(), LedgerError> {
    loop {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
        let found = version(&mut tx)?;
        if found > LATEST {
            return Err(LedgerError::TooNewDatabase {
                database: database.to_owned(),
                found,
                supported: LATEST,
            });
        }
        if found == LATEST {
            tx.commit()?;
            return Ok(());
        }
        let to = found + 1;
        let step = |tx: &mut postgres::Transaction<'_>| {
            if found == 0 {
                tx.batch_execute(
                    "CREATE TABLE IF NOT EXISTS hearth_ledger_schema (version BIGINT NOT NULL)",
                )?;
            }
            tx.batch_execute(MIGRATIONS[found as usize])?;
            tx.execute("DELETE FROM hearth_ledger_schema", &[])?;
            tx.execute("INSERT INTO hearth_ledger_schema (version) VALUES ($1)", &[&to])?;
            Ok(())
        };
        step(&mut tx).map_err(|source| LedgerError::MigrateDatabase { version: to, source })?;
        tx.commit().map_err(|source| LedgerError::MigrateDatabase { version: to, source })?;
        info!(database, version = to, "ledger schema migrated");
    }
}
