//! Reading rows back: `Store::calls_since` means the same on every backend, and the report's
//! read-only opener never creates, never migrates and refuses what it cannot read.

use hearth_ledger::{Ledger, LedgerConfig, LedgerError, SqliteStore, Store, schema};
use rusqlite::Connection;

use crate::mem_store::{MemStore, Shared};
use crate::{full_call, small_call};

/// The contract every backend keeps: rows at or after the cutoff, oldest first, rows with the
/// same time in write order.
fn reads_back_oldest_first(store: &mut dyn Store) {
    let rows = [small_call("c", 300), small_call("a", 100), full_call("b1", 200), small_call("b2", 200)];
    store.insert(&rows[..2]).unwrap();
    store.insert(&rows[2..]).unwrap();
    let ids = |calls: Vec<hearth_ledger::Call>| calls.into_iter().map(|c| c.request_id).collect::<Vec<_>>();
    assert_eq!(ids(store.calls_since(0).unwrap()), ["a", "b1", "b2", "c"]);
    assert_eq!(ids(store.calls_since(200).unwrap()), ["b1", "b2", "c"], "the cutoff is inclusive");
    assert_eq!(ids(store.calls_since(301).unwrap()), Vec::<String>::new());
    assert_eq!(store.calls_since(200).unwrap()[0], rows[2], "every field comes back");
}

#[test]
fn calls_since_is_the_same_on_sqlite_and_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    reads_back_oldest_first(&mut SqliteStore::open(&dir.path().join("l.sqlite")).unwrap());
    reads_back_oldest_first(&mut MemStore(Shared::default()));
}

#[test]
fn a_missing_ledger_is_not_created_and_the_error_says_how_one_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nowhere/ledger.sqlite");
    let e = SqliteStore::open_read_only(&path).unwrap_err();
    assert!(matches!(e, LedgerError::Missing { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains(&path.display().to_string()) && msg.contains("hearth serve --config"), "{msg}");
    assert!(!path.exists() && !path.parent().unwrap().exists(), "nothing was created");
}

#[test]
fn the_reader_sees_what_a_running_ledger_committed_and_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let ledger = Ledger::open(&path, &LedgerConfig::default()).unwrap();
    ledger.record(small_call("first", 1));
    ledger.flush().unwrap();
    let mut reader = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(reader.calls_since(0).unwrap().len(), 1);
    ledger.record(small_call("second", 2));
    ledger.flush().unwrap();
    assert_eq!(reader.calls_since(0).unwrap().len(), 2, "WAL: the reader sees new commits");
    assert!(reader.insert(&[small_call("x", 3)]).is_err(), "read-only");
    drop(ledger);
    assert_eq!(SqliteStore::open_read_only(&path).unwrap().count().unwrap(), 2);
}

#[test]
fn an_older_file_is_read_as_it_is_without_migrating() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO calls (time_unix_ms, request_id, gen_ai_operation_name, tags, route, reason,
                gen_ai_provider_name, gen_ai_request_model, local, streamed, semantic_cache_hit,
                latency_ms, cost_usd, status)
             VALUES (5, 'old-1', 'chat', '{}', 'qwen', 'task', 'hearth', 'auto', 1, 0, 0, 90, 0.0, 'ok')",
            [],
        )
        .unwrap();
    }
    let mut reader = SqliteStore::open_read_only(&path).unwrap();
    let rows = reader.calls_since(0).unwrap();
    assert_eq!((rows[0].request_id.as_str(), rows[0].service_instance_id.as_deref()), ("old-1", None));
    assert_eq!(schema::version(reader.connection()).unwrap(), 1, "not migrated");
}

#[test]
fn a_newer_schema_and_a_foreign_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let newer = dir.path().join("new.sqlite");
    Connection::open(&newer).unwrap().pragma_update(None, "user_version", schema::LATEST + 1).unwrap();
    let e = SqliteStore::open_read_only(&newer).unwrap_err();
    assert!(matches!(e, LedgerError::TooNew { .. }), "{e}");
    assert!(e.to_string().contains("upgrade hearth"), "{e}");

    let foreign = dir.path().join("other.sqlite");
    Connection::open(&foreign).unwrap().execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
    let e = SqliteStore::open_read_only(&foreign).unwrap_err();
    assert!(matches!(e, LedgerError::NotALedger { .. }), "{e}");
    assert!(e.to_string().contains("no `calls` table"), "{e}");
}
