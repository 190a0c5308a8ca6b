//! PostgreSQL, against the real server `cargo xtask postgres start` runs (its URL in
//! `HEARTH_TEST_POSTGRES_URL`; `cargo xtask test` sets it): every column round-trips, two
//! nodes write one table at once, migrations are idempotent and safe to race, retention, TLS,
//! and a server restart in the middle of a run.
//!
//! Each test works in its own PostgreSQL schema (`search_path` in the URL's `options`), so
//! they run in parallel; the restart test takes [`SERVER`] exclusively.

use std::process::Command;
use std::sync::{Barrier, RwLock, RwLockReadGuard, RwLockWriteGuard};

use hearth_ledger::{Call, Ledger, LedgerConfig, PostgresStore, SqliteStore, Store, now_unix_ms, pg_schema};
use postgres::{Client, NoTls};

use crate::{full_call, small_call};

/// Shared by the tests that use the server; the restart test holds it alone.
static SERVER: RwLock<()> = RwLock::new(());

/// The test server's URL. Without one: a failure under `CI=true`, else a line saying how to
/// start it, and `None`.
fn server_url() -> Option<String> {
    if let Some(url) = std::env::var("HEARTH_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) {
        return Some(url);
    }
    let msg = "HEARTH_TEST_POSTGRES_URL is not set: start the test server with \
               `eval \"$(cargo xtask postgres start)\"` and run the tests again (cargo xtask test does both)";
    if hearth_testkit::in_ci() {
        panic!("{msg} (CI=true: a missing service fails, it never skips)");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// A test's own empty schema on the server: its URL, and a guard that keeps the server up.
struct Scratch {
    url: String,
    base: String,
    _shared: RwLockReadGuard<'static, ()>,
}

impl Scratch {
    fn new(name: &str) -> Option<Scratch> {
        let base = server_url()?;
        let shared = SERVER.read().unwrap_or_else(|e| e.into_inner());
        Some(Scratch { url: fresh_schema(&base, name), base, _shared: shared })
    }

    fn client(&self) -> Client {
        Client::connect(&self.url, NoTls).unwrap()
    }
}

/// Drops and creates the schema `name`; returns `base` with `search_path` set to it.
fn fresh_schema(base: &str, name: &str) -> String {
    let mut client = Client::connect(base, NoTls).expect("connecting to HEARTH_TEST_POSTGRES_URL");
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")).unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{name}")
}

fn ids(calls: &[Call]) -> Vec<&str> {
    calls.iter().map(|c| c.request_id.as_str()).collect()
}

#[test]
fn every_column_round_trips_with_the_sqlite_names() {
    let Some(db) = Scratch::new("hl_roundtrip") else { return };
    let mut store = PostgresStore::connect(&db.url).unwrap();
    let calls = vec![full_call("req-1", 1_700_000_000_123), small_call("req-2", 1_700_000_000_456)];
    store.insert(&calls).unwrap();
    assert_eq!(store.calls_since(0).unwrap(), calls);
    assert_eq!(ids(&store.calls_since(1_700_000_000_200).unwrap()), ["req-2"]);
    assert_eq!(store.count().unwrap(), 2);

    // The same column names, in the same order, as a SQLite ledger; PostgreSQL types.
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("l.sqlite")).unwrap();
    let sqlite_columns: Vec<String> = sqlite
        .connection()
        .prepare("SELECT name FROM pragma_table_info('calls') ORDER BY cid")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut client = db.client();
    let pg: Vec<(String, String)> = client
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = 'calls' ORDER BY ordinal_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let pg_columns: Vec<&str> = pg.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(pg_columns, sqlite_columns);
    let type_of = |c: &str| pg.iter().find(|(n, _)| n == c).map(|(_, t)| t.as_str()).unwrap();
    assert_eq!(type_of("local"), "boolean");
    assert_eq!(type_of("gen_ai_usage_input_tokens"), "bigint");
    assert_eq!(type_of("cost_usd"), "double precision");
    assert_eq!(type_of("tags"), "text");

    // Plain SQL sees plain values.
    let row = client
        .query_one(
            "SELECT gen_ai_usage_cache_read_input_tokens, local, status, tags::jsonb->>'team'
             FROM calls WHERE request_id = 'req-1'",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 800);
    assert!(!row.get::<_, bool>(1));
    assert_eq!(row.get::<_, &str>(2), "error");
    assert_eq!(row.get::<_, &str>(3), "billing \"ops\"");
}

#[test]
fn a_nul_character_or_a_huge_count_does_not_fail_the_batch() {
    let Some(db) = Scratch::new("hl_odd_values") else { return };
    let mut store = PostgresStore::connect(&db.url).unwrap();
    let mut odd = small_call("odd\0id", 5);
    odd.error_message = Some("bad\0byte".to_owned());
    odd.tags.insert("k\0".to_owned(), "v\0".to_owned());
    odd.input_tokens = Some(u64::MAX);
    store.insert(&[odd.clone(), small_call("fine", 6)]).unwrap();
    let back = store.calls_since(0).unwrap();
    assert_eq!(ids(&back), ["odd\u{fffd}id", "fine"]);
    assert_eq!(back[0].error_message.as_deref(), Some("bad\u{fffd}byte"));
    assert_eq!(back[0].tags, odd.tags, "tags are JSON text: a NUL is escaped, not replaced");
    assert_eq!(back[0].input_tokens, Some(i64::MAX as u64));
}

#[test]
fn two_nodes_write_one_table_at_the_same_time() {
    let Some(db) = Scratch::new("hl_fleet") else { return };
    const ROWS: usize = 2000;
    let node = |name: &str| LedgerConfig {
        url: Some(db.url.clone()),
        instance: Some(name.to_owned()),
        batch_rows: 64,
        batch_ms: 50,
        queue_capacity: ROWS,
        ..LedgerConfig::default()
    };
    let models = std::path::Path::new("/nonexistent/models");
    let nodes = [
        Ledger::open_config(&node("node-a"), models).unwrap(),
        Ledger::open_config(&node("node-b"), models).unwrap(),
    ];
    let start = Barrier::new(2);
    std::thread::scope(|s| {
        for (n, ledger) in nodes.iter().enumerate() {
            let start = &start;
            s.spawn(move || {
                start.wait();
                for i in 0..ROWS {
                    ledger.record(small_call(&format!("n{n}-{i}"), now_unix_ms()));
                }
                ledger.flush().unwrap();
            });
        }
    });
    for ledger in &nodes {
        let s = ledger.stats();
        assert_eq!((s.written, s.dropped, s.write_errors), (ROWS as u64, 0, 0), "{s:?}");
    }
    let per_node: Vec<(String, i64, i64)> = db
        .client()
        .query(
            "SELECT service_instance_id, COUNT(*), COUNT(DISTINCT request_id) FROM calls GROUP BY 1 ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let n = ROWS as i64;
    assert_eq!(per_node, [("node-a".to_owned(), n, n), ("node-b".to_owned(), n, n)]);
}

#[test]
fn migrations_are_idempotent_and_nodes_starting_together_do_not_race() {
    let Some(db) = Scratch::new("hl_migrate") else { return };
    const NODES: usize = 6;
    let start = Barrier::new(NODES);
    let opened: Vec<Result<PostgresStore, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..NODES)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    PostgresStore::connect(&db.url).map_err(|e| e.to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &opened {
        assert!(r.is_ok(), "{r:?}");
    }
    drop(opened);
    PostgresStore::connect(&db.url).unwrap(); // and once more, on a migrated database
    let mut client = db.client();
    assert_eq!(pg_schema::version(&mut client).unwrap(), pg_schema::LATEST);
    let versions: i64 = client.query_one("SELECT COUNT(*) FROM hearth_ledger_schema", &[]).unwrap().get(0);
    assert_eq!(versions, 1);
    let tables: Vec<String> = client
        .query("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tables, ["calls", "hearth_ledger_schema"]);
    let indexes: Vec<String> = client
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'calls'
             AND indexname <> 'calls_pkey' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(indexes, ["calls_route_time", "calls_task_time", "calls_time"]);

    // A database from a newer hearth is refused, with a hint and without the password.
    client.execute("UPDATE hearth_ledger_schema SET version = $1", &[&(pg_schema::LATEST + 1)]).unwrap();
    let e = PostgresStore::connect(&db.url).unwrap_err().to_string();
    assert!(e.contains("newer than this hearth") && e.contains("upgrade hearth"), "{e}");
    assert_no_password(&db.base, &e);
}

#[test]
fn prune_before_deletes_only_older_rows() {
    let Some(db) = Scratch::new("hl_prune") else { return };
    let mut store = PostgresStore::connect(&db.url).unwrap();
    let now = now_unix_ms();
    store
        .insert(&[small_call("a", now - 10_000), small_call("b", now - 5_000), small_call("c", now)])
        .unwrap();
    assert_eq!(store.prune_before(now - 5_000).unwrap(), 1);
    assert_eq!(ids(&store.calls_since(0).unwrap()), ["b", "c"]);
}

/// The password of `url` (`postgres://user:password@…`) appears nowhere in `text`.
fn assert_no_password(url: &str, text: &str) {
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(who, _)| who.split_once(':'));
    let (_, password) = password.expect("the test server's URL carries a password");
    assert!(!text.contains(password), "the password shows in: {text}");
}

#[test]
fn a_wrong_password_is_refused_without_showing_either() {
    let Some(db) = Scratch::new("hl_password") else { return };
    let wrong = db.url.replacen("://hearth:", "://hearth:wrong-pw-", 1);
    assert_ne!(wrong, db.url, "the test server's user is hearth");
    let e = PostgresStore::connect(&wrong).unwrap_err().to_string();
    assert!(e.contains("password authentication failed"), "{e}");
    assert!(e.contains("cannot connect to the ledger database postgres://hearth@"), "{e}");
    assert!(!e.contains("wrong-pw-"), "{e}");
    assert_no_password(&db.base, &e);
    let config = LedgerConfig { url: Some(db.url.clone()), ..LedgerConfig::default() };
    assert_no_password(&db.base, &format!("{config:?}"));
    assert_no_password(&db.base, &format!("{:?}", PostgresStore::connect(&db.url).unwrap()));
}

#[test]
fn sslmode_require_uses_tls_and_checks_the_certificate() {
    let Some(db) = Scratch::new("hl_tls") else { return };
    let ca = std::env::var("HEARTH_TEST_POSTGRES_CA")
        .expect("HEARTH_TEST_POSTGRES_CA is not set: use the whole line `cargo xtask postgres start` prints");
    let url = format!("{}&sslmode=require", db.url);
    // ledger-stress in its own process: SSL_CERT_FILE (the test CA) is read from its environment.
    let stress = |cert_file: &str| {
        Command::new(env!("CARGO_BIN_EXE_ledger-stress"))
            .args([url.as_str(), "10", "100", "1000"])
            .env("SSL_CERT_FILE", cert_file)
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap()
    };
    let trusted = stress(&ca);
    let out = String::from_utf8_lossy(&trusted.stdout);
    assert!(trusted.status.success(), "{out}{}", String::from_utf8_lossy(&trusted.stderr));
    assert!(out.contains("written=100 dropped=0"), "{out}");

    // Trusting another certificate (the server's own, not its issuer): no connection.
    let other = std::path::Path::new(&ca).with_file_name("server.crt");
    let untrusted = stress(other.to_str().unwrap());
    let err = String::from_utf8_lossy(&untrusted.stderr);
    assert!(!untrusted.status.success(), "connected without trusting the server");
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert_eq!(PostgresStore::connect(&db.url).unwrap().count().unwrap(), 100);
}

/// `cargo xtask postgres …` through the xtask binary (not cargo: this test runs inside one).
fn xtask_postgres(args: &[&str]) {
    let xtask = std::env::var("HEARTH_TEST_POSTGRES_XTASK").expect(
        "HEARTH_TEST_POSTGRES_XTASK is not set: use the whole line `cargo xtask postgres start` prints",
    );
    let status = Command::new(&xtask).arg("postgres").args(args).status().unwrap();
    assert!(status.success(), "{xtask} postgres {args:?} failed");
}

/// Starts the server again when dropped, so that a failed restart test leaves it running.
struct RestartOnDrop;

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        xtask_postgres(&["start"]);
    }
}

#[test]
fn a_server_restart_loses_only_the_rows_sent_while_it_was_down() {
    let Some(base) = server_url() else { return };
    let _alone: RwLockWriteGuard<'_, ()> = SERVER.write().unwrap_or_else(|e| e.into_inner());
    let url = fresh_schema(&base, "hl_restart");
    let config = LedgerConfig {
        url: Some(url.clone()),
        batch_rows: 10,
        batch_ms: 60_000,
        queue_capacity: 100,
        ..LedgerConfig::default()
    };
    let ledger = Ledger::open_config(&config, std::path::Path::new("/nonexistent/models")).unwrap();
    let batch = |tag: &str| {
        for i in 0..10 {
            ledger.record(small_call(&format!("{tag}{i}"), now_unix_ms()));
        }
        ledger.flush().unwrap();
    };
    batch("before");
    assert_eq!(ledger.stats().written, 10);
    {
        let _restart = RestartOnDrop;
        xtask_postgres(&["stop", "--keep"]);
        batch("down");
        let s = ledger.stats();
        assert_eq!((s.written, s.dropped, s.write_errors), (10, 10, 2), "tried twice, then dropped: {s:?}");
    }
    batch("after");
    batch("later");
    let s = ledger.stats();
    assert_eq!((s.written, s.dropped, s.write_errors), (30, 10, 2), "reconnected on the first try: {s:?}");
    let mut store = PostgresStore::connect(&url).unwrap();
    let back = store.calls_since(0).unwrap();
    let tags: std::collections::BTreeSet<&str> =
        back.iter().map(|c| c.request_id.trim_end_matches(|ch: char| ch.is_ascii_digit())).collect();
    assert_eq!(back.len(), 30);
    assert_eq!(tags.into_iter().collect::<Vec<_>>(), ["after", "before", "later"]);
}
