//! The cache through its public API, over the memory store and the toy embedder.

use std::sync::Arc;

use hearth_cache::{
    Cache, CacheConfig, CacheError, Embed, EmbedError, GuardReason, HitKind, Lookup, MemoryStore, MissReason,
    Sampling, Scope,
};

use crate::{config, q, scope, toy};

fn open(c: &CacheConfig) -> Cache {
    Cache::with_store(c, Some(toy()), Box::new(MemoryStore)).unwrap()
}

fn hit(l: Lookup) -> hearth_cache::Hit {
    match l {
        Lookup::Hit(h) => h,
        Lookup::Miss(m) => panic!("expected a hit, got {m:?}"),
    }
}

fn miss(l: Lookup) -> hearth_cache::Miss {
    match l {
        Lookup::Miss(m) => m,
        Lookup::Hit(h) => panic!("expected a miss, got {h:?}"),
    }
}

#[test]
fn exact_hit_folds_case_and_spaces_within_the_scope_only() {
    let cache = open(&CacheConfig { semantic: false, ..config(0.92) });
    let s = scope("tenant-a");
    assert!(cache.insert(&q(&s, "What is the capital of France?"), "Paris.", None).unwrap());
    let h = hit(cache.lookup(&q(&s, "  what is the CAPITAL of france?")).unwrap());
    assert_eq!((h.kind, h.similarity, h.answer.as_str()), (HitKind::Exact, 1.0, "Paris."));
    assert_eq!(h.cached_prompt, "What is the capital of France?");
    // the same prompt in another scope is a miss: tenant, system prompt, target, sampling, tools
    let others = [
        scope("tenant-b"),
        Scope { system: Some("Answer at length.".into()), ..s.clone() },
        Scope { target: "claude-haiku".into(), ..s.clone() },
        Scope { sampling: Sampling { max_tokens: Some(16), ..s.sampling.clone() }, ..s.clone() },
        Scope { tools: Some(serde_json::json!([{"type": "function"}])), ..s.clone() },
        Scope { response_format: Some(serde_json::json!({"type": "json_object"})), ..s.clone() },
    ];
    for other in &others {
        let m = miss(cache.lookup(&q(other, "What is the capital of France?")).unwrap());
        assert_eq!(m.reason, MissReason::NotFound, "{other:?}");
    }
    let st = cache.stats();
    assert_eq!((st.exact_hits, st.misses, st.inserts, st.entries), (1, others.len() as u64, 1, 1));
}

#[test]
fn semantic_hit_needs_the_threshold_and_the_guards() {
    let cache = open(&config(0.6));
    let s = scope("t");
    cache.insert(&q(&s, "How do I reverse a list in Python?"), "Use reversed() or [::-1].", None).unwrap();
    let h = hit(cache.lookup(&q(&s, "Please, how do I reverse a list in Python")).unwrap());
    assert_eq!(h.kind, HitKind::Semantic);
    assert!(h.similarity >= 0.6 && h.similarity < 1.0, "{}", h.similarity);
    // close enough for the toy embedder, refused by a guard, and counted
    cache.insert(&q(&s, "Turn on dark mode in the settings"), "Settings → Theme → Dark.", None).unwrap();
    let m = miss(cache.lookup(&q(&s, "Turn off dark mode in the settings")).unwrap());
    assert_eq!(m.reason, MissReason::Guarded);
    assert_eq!(m.rejected.len(), 1);
    assert_eq!(m.rejected[0].0, GuardReason::Polarity);
    assert!(m.rejected[0].1 >= 0.6 && m.best_similarity.is_some());
    assert_eq!(cache.stats().guard_rejections[&GuardReason::Polarity], 1);
    // without guards the same lookup is (wrongly) served: the guard is what stops it
    let unguarded = open(&CacheConfig { guards: false, ..config(0.6) });
    unguarded.insert(&q(&s, "Turn on dark mode in the settings"), "Settings → Theme → Dark.", None).unwrap();
    assert_eq!(
        hit(unguarded.lookup(&q(&s, "Turn off dark mode in the settings")).unwrap()).kind,
        HitKind::Semantic
    );
    // far below the threshold: a plain miss that reports the best similarity
    let m = miss(cache.lookup(&q(&s, "Bake a sourdough bread")).unwrap());
    assert_eq!(m.reason, MissReason::NotFound);
    assert!(m.best_similarity.is_some_and(|b| b < 0.6) && m.embedding.is_some());
}

#[test]
fn the_best_candidate_the_guards_accept_wins() {
    let cache = open(&config(0.3));
    let s = scope("t");
    cache.insert(&q(&s, "Give me three examples of prime numbers"), "2, 3, 5", None).unwrap();
    cache.insert(&q(&s, "Give me five examples of prime numbers"), "2, 3, 5, 7, 11", None).unwrap();
    let h = hit(cache.lookup(&q(&s, "Give me 5 examples of prime numbers, please")).unwrap());
    assert_eq!(h.answer, "2, 3, 5, 7, 11");
}

#[test]
fn sampled_requests_bypass_unless_configured() {
    let hot = Scope { sampling: Sampling { temperature: 0.7, ..Sampling::default() }, ..scope("t") };
    let cache = open(&config(0.9));
    assert!(!cache.insert(&q(&hot, "Write a haiku"), "…", None).unwrap());
    assert_eq!(miss(cache.lookup(&q(&hot, "Write a haiku")).unwrap()).reason, MissReason::Sampled);
    assert_eq!((cache.stats().sampled_bypasses, cache.stats().entries), (1, 0));
    let allowed = open(&CacheConfig { serve_sampled: true, ..config(0.9) });
    assert!(allowed.insert(&q(&hot, "Write a haiku"), "Old pond…", None).unwrap());
    assert_eq!(hit(allowed.lookup(&q(&hot, "Write a haiku")).unwrap()).answer, "Old pond…");
}

#[test]
fn disabled_serves_and_stores_nothing() {
    let cache = open(&CacheConfig { enabled: false, ..config(0.9) });
    let s = scope("t");
    assert!(!cache.insert(&q(&s, "x"), "y", None).unwrap());
    assert_eq!(miss(cache.lookup(&q(&s, "x")).unwrap()).reason, MissReason::Disabled);
    assert_eq!(cache.stats().entries, 0);
}

#[test]
fn entries_expire_after_ttl() {
    let cache = open(&CacheConfig { ttl_secs: 10, ..config(0.5) });
    let s = scope("t");
    cache.insert_at(&q(&s, "What is the boiling point of water?"), "100 °C", None, 1_000).unwrap();
    assert_eq!(
        hit(cache.lookup_at(&q(&s, "what is the boiling point of water?"), 10_999).unwrap()).kind,
        HitKind::Exact
    );
    assert_eq!(
        hit(cache.lookup_at(&q(&s, "What's the boiling point of water"), 10_999).unwrap()).kind,
        HitKind::Semantic
    );
    let m = miss(cache.lookup_at(&q(&s, "What is the boiling point of water?"), 11_000).unwrap());
    assert_eq!((m.reason, m.best_similarity), (MissReason::NotFound, None));
    assert_eq!((cache.stats().expired, cache.stats().entries), (1, 0));
}

#[test]
fn lru_eviction_keeps_the_recently_used() {
    let cache = open(&CacheConfig { max_entries: 2, ..config(0.99) });
    let s = scope("t");
    for p in ["first prompt", "second prompt"] {
        cache.insert(&q(&s, p), p, None).unwrap();
    }
    hit(cache.lookup(&q(&s, "first prompt")).unwrap());
    cache.insert(&q(&s, "third prompt"), "third prompt", None).unwrap();
    assert_eq!(miss(cache.lookup(&q(&s, "second prompt")).unwrap()).reason, MissReason::NotFound);
    hit(cache.lookup(&q(&s, "first prompt")).unwrap());
    hit(cache.lookup(&q(&s, "third prompt")).unwrap());
    assert_eq!((cache.stats().evicted, cache.stats().entries), (1, 2));
    // max_bytes: one big answer pushes the others out, never itself
    let small = open(&CacheConfig { max_bytes: 4096, ..config(0.99) });
    small.insert(&q(&s, "a"), "1", None).unwrap();
    small.insert(&q(&s, "b"), &"x".repeat(2000), None).unwrap();
    assert_eq!(small.stats().entries, 1);
    assert!(small.stats().bytes <= 4096);
    hit(small.lookup(&q(&s, "b")).unwrap());
}

#[test]
fn a_miss_hands_its_vector_to_insert() {
    let cache = open(&config(0.9));
    let s = scope("t");
    let m = miss(cache.lookup(&q(&s, "Summarize this article")).unwrap());
    assert!(cache.insert(&q(&s, "Summarize this article"), "…", m.embedding).unwrap());
    assert_eq!(hit(cache.lookup(&q(&s, "summarize this article")).unwrap()).kind, HitKind::Exact);
}

/// An embedder that fails, or returns a zero vector.
struct Broken {
    zero: bool,
}

impl Embed for Broken {
    fn model_id(&self) -> &str {
        "broken"
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if self.zero {
            Ok(texts.iter().map(|_| vec![0.0; 8]).collect())
        } else {
            Err(EmbedError::new("model gone"))
        }
    }
}

#[test]
fn embedder_failures_are_errors_counted_not_panics() {
    let s = scope("t");
    for zero in [false, true] {
        let cache =
            Cache::with_store(&config(0.9), Some(Arc::new(Broken { zero })), Box::new(MemoryStore)).unwrap();
        let e = cache.lookup(&q(&s, "x")).unwrap_err();
        match (zero, &e) {
            (false, CacheError::Embed(_)) => assert!(e.to_string().contains("model gone")),
            (true, CacheError::BadEmbedding { .. }) => assert!(e.to_string().contains("zero")),
            _ => panic!("unexpected {e:?}"),
        }
        assert!(cache.insert(&q(&s, "x"), "y", None).is_err());
        assert_eq!(cache.stats().errors, 2);
    }
    let no_embedder = Cache::with_store(&config(0.9), None, Box::new(MemoryStore)).unwrap_err();
    assert!(no_embedder.to_string().contains("needs an embedder"), "{no_embedder}");
    let exact_only = CacheConfig { semantic: false, ..config(0.9) };
    let cache = Cache::with_store(&exact_only, None, Box::new(MemoryStore)).unwrap();
    cache.insert(&q(&s, "x"), "y", None).unwrap();
    assert_eq!(hit(cache.lookup(&q(&s, "X")).unwrap()).answer, "y");
}

#[test]
fn threads_share_one_cache() {
    let cache = Arc::new(open(&config(0.95)));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                let s = scope("shared");
                for i in 0..50 {
                    let prompt = format!("question number {i} from thread {}", t % 2);
                    if let Lookup::Miss(m) = cache.lookup(&q(&s, &prompt)).unwrap() {
                        cache.insert(&q(&s, &prompt), &prompt, m.embedding).unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let st = cache.stats();
    assert_eq!(st.entries, 100);
    assert_eq!(st.exact_hits + st.semantic_hits + st.misses, 200);
    let s = scope("shared");
    for i in 0..50 {
        let prompt = format!("question number {i} from thread 1");
        assert_eq!(hit(cache.lookup(&q(&s, &prompt)).unwrap()).answer, prompt);
    }
}
