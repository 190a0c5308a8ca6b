//! Two nodes sharing a cache through Redis, against the real server `cargo xtask redis start`
//! runs (its URL in `HEARTH_TEST_REDIS_URL`; `cargo xtask test` sets it): a hit on one node is
//! a hit on the other, evictions and expiry reach both, a node started later loads what is
//! there, a dead server is an error that says where.
//!
//! Each test uses its own key prefix, so they run in parallel on one server.

use std::path::Path;

use hearth_cache::{
    Cache, CacheConfig, CacheError, HitKind, Lookup, MissReason, RedisStore, StoreKind, now_unix_ms,
};

use crate::{q, scope, toy};

/// The test server's URL. Without one: a failure under `CI=true`, else a line saying how to
/// start it, and `None`.
fn server_url() -> Option<String> {
    if let Some(url) = std::env::var("HEARTH_TEST_REDIS_URL").ok().filter(|u| !u.is_empty()) {
        return Some(url);
    }
    let msg = "HEARTH_TEST_REDIS_URL is not set: start the test server with \
               `eval \"$(cargo xtask redis start)\"` and run the tests again (cargo xtask test does both)";
    if hearth_testkit::in_ci() {
        panic!("{msg} (CI=true: a missing service fails, it never skips)");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// A test's own prefix on the server; its keys are deleted when dropped.
struct Prefix {
    url: String,
    prefix: String,
}

impl Prefix {
    fn new(name: &str) -> Option<Prefix> {
        let url = server_url()?;
        let prefix = format!("hearth-test:{name}:{}:{}", std::process::id(), now_unix_ms());
        Some(Prefix { url, prefix })
    }

    fn config(&self) -> CacheConfig {
        CacheConfig {
            threshold: 0.6,
            store: StoreKind::Redis,
            redis_url: Some(self.url.clone()),
            redis_prefix: self.prefix.clone(),
            ..CacheConfig::default()
        }
    }

    fn node(&self, config: &CacheConfig) -> Cache {
        Cache::open(config, Some(toy()), Path::new("/unused")).unwrap()
    }

    fn redis(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str()).unwrap().get_connection().unwrap()
    }

    fn keys(&self) -> Vec<String> {
        let mut c = self.redis();
        redis::cmd("KEYS").arg(format!("{}:*", self.prefix)).query(&mut c).unwrap()
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        let keys = self.keys();
        if !keys.is_empty() {
            let mut c = self.redis();
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut c);
        }
    }
}

fn kind(l: Lookup) -> Option<HitKind> {
    match l {
        Lookup::Hit(h) => Some(h.kind),
        Lookup::Miss(_) => None,
    }
}

#[test]
fn a_hit_on_one_node_is_a_hit_on_the_other() {
    let Some(p) = Prefix::new("two_nodes") else { return };
    let (a, b) = (p.node(&p.config()), p.node(&p.config()));
    let s = scope("t");
    assert_eq!(kind(b.lookup(&q(&s, "What is the capital of France?")).unwrap()), None);
    a.insert(&q(&s, "What is the capital of France?"), "Paris", None).unwrap();
    a.insert(&q(&s, "How do I reverse a list in Python?"), "reversed()", None).unwrap();
    let h = match b.lookup(&q(&s, "what is the capital of FRANCE?")).unwrap() {
        Lookup::Hit(h) => h,
        Lookup::Miss(m) => panic!("node b missed: {m:?}"),
    };
    assert_eq!((h.kind, h.answer.as_str()), (HitKind::Exact, "Paris"));
    assert_eq!(
        kind(b.lookup(&q(&s, "Please, how do I reverse a list in Python")).unwrap()),
        Some(HitKind::Semantic)
    );
    // and back: b's insert reaches a
    b.insert(&q(&s, "Who wrote Hamlet?"), "Shakespeare", None).unwrap();
    assert_eq!(kind(a.lookup(&q(&s, "Who wrote Hamlet?")).unwrap()), Some(HitKind::Exact));
    // a node started later loads what is there
    let c = p.node(&p.config());
    assert_eq!(c.stats().entries, 3);
    assert_eq!(kind(c.lookup(&q(&s, "Who wrote Hamlet?")).unwrap()), Some(HitKind::Exact));
    // the guards hold on every node
    let m = b.lookup(&q(&s, "How do I not reverse a list in Python?")).unwrap();
    assert!(matches!(m, Lookup::Miss(ref m) if m.reason == MissReason::Guarded), "{m:?}");
}

#[test]
fn evictions_and_expiry_reach_every_node() {
    let Some(p) = Prefix::new("evictions") else { return };
    let config = CacheConfig { max_entries: 2, ttl_secs: 60, ..p.config() };
    let (a, b) = (p.node(&config), p.node(&config));
    let s = scope("t");
    for prompt in ["first question", "second question"] {
        a.insert(&q(&s, prompt), prompt, None).unwrap();
    }
    assert_eq!(b.sync().unwrap(), 2);
    assert_eq!(b.stats().entries, 2);
    a.insert(&q(&s, "third question"), "third question", None).unwrap();
    assert_eq!(kind(b.lookup(&q(&s, "first question")).unwrap()), None, "a evicted it, from Redis too");
    assert_eq!(kind(b.lookup(&q(&s, "third question")).unwrap()), Some(HitKind::Exact));
    assert_eq!(p.keys().iter().filter(|k| k.contains(":e:")).count(), 2);
    // an entry stored already expired: Redis drops it, and neither node serves it
    let long_ago = now_unix_ms() - 120_000;
    a.insert_at(&q(&s, "stale question"), "old", None, long_ago).unwrap();
    assert_eq!(kind(b.lookup(&q(&s, "stale question")).unwrap()), None);
    assert_eq!(kind(a.lookup(&q(&s, "stale question")).unwrap()), None);
    assert!(!p.keys().iter().any(|k| k.ends_with(&stale_key(&a, &s))), "{:?}", p.keys());
    // a live entry carries its expiry in Redis
    let mut c = p.redis();
    let key = format!("{}:e:{}", p.prefix, hearth_cache::exact_key(&a.scope_key(&s), "third question"));
    let ttl_ms: i64 = redis::cmd("PTTL").arg(&key).query(&mut c).unwrap();
    assert!(ttl_ms > 0 && ttl_ms <= 60_000, "{ttl_ms}");
}

fn stale_key(cache: &Cache, s: &hearth_cache::Scope) -> String {
    hearth_cache::exact_key(&cache.scope_key(s), "stale question")
}

#[test]
fn a_dead_server_is_an_error_that_says_where_without_the_password() {
    let Some(_) = server_url() else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://:pw-s3cret@127.0.0.1:{port}/0");
    let e = RedisStore::open(&url, "hearth-test:dead").unwrap_err();
    assert!(matches!(e, CacheError::Redis { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")) && !text.contains("pw-s3cret"), "{text}");
}
