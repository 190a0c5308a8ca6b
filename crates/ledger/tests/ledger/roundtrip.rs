//! SQLite: every column round-trips, the columns carry the OpenTelemetry names, a v1 file
//! migrates, and retention deletes by time.

use hearth_ledger::{SqliteStore, Store, now_unix_ms, schema};
use rusqlite::Connection;

use crate::{full_call, small_call};

#[test]
fn every_column_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/ledger.sqlite");
    let mut store = SqliteStore::open(&path).unwrap();
    let calls = vec![full_call("req-1", 1_700_000_000_123), small_call("req-2", 1_700_000_000_456)];
    store.insert(&calls).unwrap();
    let back = store.calls_since(0).unwrap();
    assert_eq!(back, calls);
    assert_eq!(store.count().unwrap(), 2);
    assert_eq!(store.calls_since(1_700_000_000_200).unwrap().len(), 1);

    // The columns are there under their OpenTelemetry names, with SQL values.
    let conn = Connection::open(&path).unwrap();
    let row: (String, String, i64, i64, i64, i64, String, String) = conn
        .query_row(
            "SELECT gen_ai_request_model, gen_ai_provider_name, gen_ai_usage_input_tokens,
                    gen_ai_usage_output_tokens, gen_ai_usage_cache_read_input_tokens,
                    gen_ai_usage_cache_creation_input_tokens, tags, status
             FROM calls WHERE request_id = 'req-1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
        )
        .unwrap();
    assert_eq!(row.0, "auto");
    assert_eq!(row.1, "anthropic");
    assert_eq!((row.2, row.3, row.4, row.5), (1200, 310, 800, 150));
    let tags: serde_json::Value = serde_json::from_str(&row.6).unwrap();
    assert_eq!(tags["team"], "billing \"ops\"");
    assert_eq!(row.7, "error");
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_v1_file_migrates_to_latest_keeping_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO calls (time_unix_ms, request_id, gen_ai_operation_name, tags, route, reason,
                gen_ai_provider_name, gen_ai_request_model, local, streamed, gen_ai_usage_input_tokens,
                semantic_cache_hit, latency_ms, cost_usd, status)
             VALUES (5, 'old-1', 'chat', '{\"user\":\"u\"}', 'qwen', 'task', 'hearth', 'auto', 1, 0, 7, 0, 90, 0.0, 'ok')",
            [],
        )
        .unwrap();
    }
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(schema::version(store.connection()).unwrap(), schema::LATEST);
    const { assert!(schema::LATEST >= 2, "the test must cross at least one migration") };
    let rows = store.calls_since(0).unwrap();
    assert_eq!(rows.len(), 1);
    let old = &rows[0];
    assert_eq!((old.request_id.as_str(), old.input_tokens, old.latency_ms), ("old-1", Some(7), 90));
    assert_eq!(old.tags.get("user").map(String::as_str), Some("u"));
    assert_eq!(old.service_instance_id, None);
    let mut indexes: Vec<String> = store
        .connection()
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'calls' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    indexes.sort();
    assert_eq!(indexes, ["calls_route_time", "calls_task_time", "calls_time"]);
}

#[test]
fn a_file_from_a_newer_hearth_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.sqlite");
    Connection::open(&path).unwrap().pragma_update(None, "user_version", schema::LATEST + 5).unwrap();
    let e = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(e.contains("newer than this hearth") && e.contains("upgrade hearth"), "{e}");
}

#[test]
fn prune_before_deletes_only_older_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("l.sqlite")).unwrap();
    let now = now_unix_ms();
    store
        .insert(&[small_call("a", now - 10_000), small_call("b", now - 5_000), small_call("c", now)])
        .unwrap();
    assert_eq!(store.prune_before(now - 5_000).unwrap(), 1);
    let left: Vec<_> = store.calls_since(0).unwrap().into_iter().map(|c| c.request_id).collect();
    assert_eq!(left, ["b", "c"]);
}
