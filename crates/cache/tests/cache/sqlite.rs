//! The SQLite store: a restart keeps the cache (vectors included), expired and evicted
//! entries leave the file, a newer schema is refused.

use std::path::Path;

use hearth_cache::{Cache, CacheConfig, CacheError, HitKind, Lookup, SqliteStore, StoreKind, now_unix_ms};

use crate::{q, scope, toy};

fn sqlite(path: &Path) -> CacheConfig {
    CacheConfig {
        threshold: 0.6,
        store: StoreKind::Sqlite,
        path: Some(path.to_owned()),
        ..CacheConfig::default()
    }
}

fn rows(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT count(*) FROM entries", [], |r| r.get(0)).unwrap()
}

fn kind(l: Lookup) -> Option<HitKind> {
    match l {
        Lookup::Hit(h) => Some(h.kind),
        Lookup::Miss(_) => None,
    }
}

#[test]
fn a_restart_keeps_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/cache.sqlite");
    let s = scope("t");
    {
        let cache = Cache::open(&sqlite(&path), Some(toy()), Path::new("/unused")).unwrap();
        cache.insert(&q(&s, "How do I reverse a list in Python?"), "reversed()", None).unwrap();
        cache.insert(&q(&s, "What is the capital of France?"), "Paris", None).unwrap();
    }
    assert_eq!(rows(&path), 2);
    let cache = Cache::open(&sqlite(&path), Some(toy()), Path::new("/unused")).unwrap();
    assert_eq!(cache.stats().entries, 2);
    assert_eq!(kind(cache.lookup(&q(&s, "what is the capital of france?")).unwrap()), Some(HitKind::Exact));
    let semantic = cache.lookup(&q(&s, "How do I reverse a list in Python, please")).unwrap();
    assert_eq!(kind(semantic), Some(HitKind::Semantic), "the vectors were persisted");
    // another embedder is another scope: nothing of the old one is served
    let other = Cache::open(
        &sqlite(&path),
        Some(std::sync::Arc::new(hearth_cache::HashEmbedder::new(64))),
        Path::new("/x"),
    )
    .unwrap();
    assert_eq!(kind(other.lookup(&q(&s, "What is the capital of France?")).unwrap()), None);
}

#[test]
fn expired_and_evicted_entries_leave_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite");
    let s = scope("t");
    let config = CacheConfig { ttl_secs: 60, max_entries: 3, ..sqlite(&path) };
    {
        let cache = Cache::open(&config, Some(toy()), Path::new("/unused")).unwrap();
        let long_ago = now_unix_ms() - 120_000;
        cache.insert_at(&q(&s, "stale question"), "old", None, long_ago).unwrap();
        for p in ["one", "two", "three", "four"] {
            cache.insert(&q(&s, &format!("question {p}")), p, None).unwrap();
        }
        let st = cache.stats();
        assert_eq!((st.entries, st.expired, st.evicted), (3, 1, 1));
    }
    assert_eq!(rows(&path), 3);
    // a smaller limit at the next start trims the file too
    let cache =
        Cache::open(&CacheConfig { max_entries: 2, ..config }, Some(toy()), Path::new("/unused")).unwrap();
    assert_eq!(cache.stats().entries, 2);
    assert_eq!(rows(&path), 2);
    assert_eq!(kind(cache.lookup(&q(&s, "question four")).unwrap()), Some(HitKind::Exact));
}

#[test]
fn the_default_file_is_beside_the_models_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("hearth/models");
    let config = CacheConfig { threshold: 0.9, ..CacheConfig::default() };
    Cache::open(&config, Some(toy()), &models).unwrap();
    let file = dir.path().join("hearth/cache.sqlite");
    assert!(file.is_file());
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let e = SqliteStore::open(&file).unwrap_err();
    assert!(matches!(e, CacheError::TooNew { found: 99, .. }), "{e}");
    assert!(e.to_string().contains("upgrade hearth"), "{e}");
}
