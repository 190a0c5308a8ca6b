//! The writer: batching, a full queue, write errors (simulated and a real full disk), flush on
//! drop, retention.

use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use hearth_ledger::{Ledger, LedgerConfig, SqliteStore, Store, now_unix_ms};

use crate::mem_store::{MemStore, Shared};
use crate::{full_call, small_call};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn config(batch_rows: usize, batch_ms: u64, queue_capacity: usize) -> LedgerConfig {
    LedgerConfig { batch_rows, batch_ms, queue_capacity, ..LedgerConfig::default() }
}

fn mem_ledger(c: &LedgerConfig) -> (Ledger, Shared) {
    let shared = Shared::default();
    (Ledger::with_store(Box::new(MemStore(shared.clone())), c).unwrap(), shared)
}

#[test]
fn many_rows_are_written_in_few_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let ledger = Ledger::open(&path, &config(100, 60_000, 2000)).unwrap();
    for i in 0..1000 {
        ledger.record(small_call(&format!("r{i}"), i));
    }
    ledger.flush().unwrap();
    let s = ledger.stats();
    assert_eq!((s.written, s.batches, s.dropped), (1000, 10, 0));
    assert_eq!(SqliteStore::open(&path).unwrap().count().unwrap(), 1000);
}

#[test]
fn a_partial_batch_is_committed_after_batch_ms_without_flush() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let ledger = Ledger::open(&path, &config(1000, 30, 100)).unwrap();
    for i in 0..5 {
        ledger.record(small_call(&format!("r{i}"), i));
    }
    let reader = SqliteStore::open(&path).unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while reader.count().unwrap() < 5 {
        assert!(Instant::now() < end, "the timer never committed the batch");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(ledger.stats().batches, 1);
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking() {
    let (ledger, shared) = mem_ledger(&config(1, 60_000, 8));
    shared.set_closed(true);
    ledger.record(small_call("first", 0));
    shared.wait_inserts(1); // the writer is stuck inside a write
    let start = Instant::now();
    for i in 0..100 {
        ledger.record(small_call(&format!("r{i}"), i));
    }
    assert!(start.elapsed() < Duration::from_millis(500), "record blocked: {:?}", start.elapsed());
    assert_eq!(ledger.dropped(), 92, "8 rows fit in the queue");
    shared.set_closed(false);
    ledger.flush().unwrap();
    let s = ledger.stats();
    assert_eq!((s.written, s.dropped, s.dropped_queue_full), (9, 92, 92));
    assert_eq!(shared.len(), 9);
}

#[test]
fn a_failed_batch_is_retried_once_then_dropped_and_the_writer_goes_on() {
    let (ledger, shared) = mem_ledger(&config(10, 60_000, 100));
    shared.fail_next.store(1, SeqCst);
    for i in 0..10 {
        ledger.record(small_call(&format!("a{i}"), i));
    }
    ledger.flush().unwrap();
    let s = ledger.stats();
    assert_eq!((s.written, s.write_errors, s.dropped), (10, 1, 0), "the retry saved the batch");

    shared.fail_next.store(2, SeqCst);
    for i in 0..10 {
        ledger.record(small_call(&format!("b{i}"), i));
    }
    ledger.flush().unwrap();
    let s = ledger.stats();
    assert_eq!((s.written, s.write_errors, s.dropped), (10, 3, 10), "two failures drop the batch");

    for i in 0..4 {
        ledger.record(small_call(&format!("c{i}"), i));
    }
    ledger.flush().unwrap();
    assert_eq!(ledger.stats().written, 14);
    assert_eq!(shared.len(), 14);
}

#[test]
fn a_full_disk_is_survived_and_writing_resumes_once_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let old = now_unix_ms() - 30 * DAY_MS;
    let mut store = SqliteStore::open(&path).unwrap();
    let mut big = full_call("old", old);
    big.error_message = Some("x".repeat(2000));
    let olds: Vec<_> =
        (0..200).map(|i| hearth_ledger::Call { request_id: format!("old{i}"), ..big.clone() }).collect();
    store.insert(&olds).unwrap();
    // The disk is full: the file may not grow past its current size.
    let pages: i64 = store.connection().query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    store.connection().pragma_update(None, "max_page_count", pages).unwrap();

    let ledger = Ledger::with_store(Box::new(store), &config(50, 60_000, 1000)).unwrap();
    for i in 0..200 {
        ledger.record(hearth_ledger::Call {
            request_id: format!("new{i}"),
            time_unix_ms: now_unix_ms(),
            ..big.clone()
        });
    }
    ledger.flush().unwrap();
    let s = ledger.stats();
    assert_eq!(s.dropped, 200, "{s:?}");
    assert_eq!(s.write_errors, 8, "4 batches, each tried twice: {s:?}");

    // Retention frees pages; the same writer stores new rows again.
    assert_eq!(ledger.prune_older_than(1).unwrap(), 200);
    for i in 0..50 {
        ledger.record(small_call(&format!("after{i}"), now_unix_ms()));
    }
    ledger.flush().unwrap();
    assert_eq!(ledger.stats().written, 50);
    drop(ledger);
    assert_eq!(SqliteStore::open(&path).unwrap().count().unwrap(), 50);
}

#[test]
fn drop_writes_what_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let ledger = Ledger::open(&path, &config(1000, 60_000, 100)).unwrap();
    for i in 0..7 {
        ledger.record(small_call(&format!("r{i}"), i));
    }
    drop(ledger);
    assert_eq!(SqliteStore::open(&path).unwrap().count().unwrap(), 7);
}

#[test]
fn retain_days_prunes_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let now = now_unix_ms();
    SqliteStore::open(&path)
        .unwrap()
        .insert(&[
            small_call("old", now - 10 * DAY_MS),
            small_call("week", now - 4 * DAY_MS),
            small_call("new", now),
        ])
        .unwrap();
    let ledger =
        Ledger::open(&path, &LedgerConfig { retain_days: Some(5), ..LedgerConfig::default() }).unwrap();
    ledger.flush().unwrap();
    assert_eq!(ledger.stats().pruned, 1);
    assert_eq!(ledger.prune_older_than(2).unwrap(), 1);
    drop(ledger);
    let left: Vec<_> =
        SqliteStore::open(&path).unwrap().calls_since(0).unwrap().into_iter().map(|c| c.request_id).collect();
    assert_eq!(left, ["new"]);
}

#[test]
fn an_invalid_config_is_refused() {
    let e = Ledger::with_store(Box::new(MemStore(Shared::default())), &config(0, 1, 1)).unwrap_err();
    assert!(e.to_string().contains("batch_rows"), "{e}");
}

#[test]
fn the_handle_can_be_shared_across_threads() {
    fn shared<T: Send + Sync>(_: &T) {}
    let (ledger, shared_store) = mem_ledger(&config(10, 60_000, 1000));
    shared(&ledger);
    let ledger = std::sync::Arc::new(ledger);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let ledger = std::sync::Arc::clone(&ledger);
            std::thread::spawn(move || {
                (0..25).for_each(|i| ledger.record(small_call(&format!("t{t}-{i}"), i)))
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    ledger.flush().unwrap();
    assert_eq!(shared_store.len(), 100);
}

#[test]
fn rows_without_a_node_get_the_configured_instance() {
    let c = LedgerConfig { instance: Some("node-x".to_owned()), ..config(10, 60_000, 100) };
    let (ledger, shared) = mem_ledger(&c);
    ledger.record(small_call("bare", 1));
    ledger.record(full_call("named", 2)); // carries "node-a"
    ledger.flush().unwrap();
    let nodes: Vec<_> = shared
        .rows
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.service_instance_id.clone().unwrap_or_default())
        .collect();
    assert_eq!(nodes, ["node-x", "node-a"]);

    let off = LedgerConfig { instance: Some(String::new()), ..config(10, 60_000, 100) };
    let (ledger, shared) = mem_ledger(&off);
    ledger.record(small_call("bare", 1));
    ledger.flush().unwrap();
    assert_eq!(shared.rows.lock().unwrap()[0].service_instance_id, None);
}
