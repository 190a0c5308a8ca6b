//! Cache lookup latency at 1k, 10k and 100k entries in one scope (the worst case: a lookup
//! scans every vector of its scope), 384-d random unit vectors (MiniLM's size), memory store,
//! threshold 0.92, guards on.
//!
//! The query's embedding is not included: queries come with precomputed vectors (an embedder
//! that looks them up), so these are the cache's own costs; add the embedder's time per
//! prompt for the end-to-end figure.
//!
//! First a summary, measured with `Instant` and printed: p50 / p99 of [`Cache::lookup`] for
//!
//! - `miss`: a random vector (nothing within the threshold: a full scan, no candidates);
//! - `semantic hit`: a vector at cosine ~0.96 to a stored one, with a reworded prompt (a full
//!   scan, the guards on one candidate, the answer cloned);
//! - `exact hit`: the stored prompt in other case (hash lookup, no embedding, no scan).
//!
//! Then criterion groups `cache/lookup_miss/<n>` and `cache/index_search/<n>` (the flat
//! index's scan alone).
//!
//! `cargo bench -p hearth-cache --bench lookup`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use hearth_cache::index::{FlatIndex, dot};
use hearth_cache::{
    Cache, CacheConfig, Embed, EmbedError, HitKind, Lookup, MemoryStore, Query, Sampling, Scope, StoreKind,
};

const DIM: usize = 384;
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// splitmix64: a small, seeded generator (the bench needs no statistical quality).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f32 {
        ((self.next() >> 40) as f32 + 1.0) / (1u64 << 24) as f32
    }

    /// A random unit vector (Gaussian components, normalised).
    fn vector(&mut self) -> Vec<f32> {
        let mut v: Vec<f32> = (0..DIM)
            .map(|_| {
                let (u1, u2) = (self.unit(), self.unit());
                (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
            })
            .collect();
        let n = dot(&v, &v).sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    }

    /// A unit vector at cosine ~`cos` to `v`.
    fn near(&mut self, v: &[f32], cos: f32) -> Vec<f32> {
        let noise = self.vector();
        let sin = (1.0 - cos * cos).sqrt();
        let mut w: Vec<f32> = v.iter().zip(&noise).map(|(a, b)| cos * a + sin * b).collect();
        let n = dot(&w, &w).sqrt();
        w.iter_mut().for_each(|x| *x /= n);
        w
    }
}

/// Prompts with precomputed vectors.
#[derive(Default)]
struct Table(Mutex<HashMap<String, Vec<f32>>>);

impl Embed for Table {
    fn model_id(&self) -> &str {
        "bench-table"
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let map = self.0.lock().unwrap();
        texts
            .iter()
            .map(|t| map.get(*t).cloned().ok_or_else(|| EmbedError::new(format!("no vector: {t}"))))
            .collect()
    }
}

struct Bench {
    cache: Cache,
    table: Arc<Table>,
    scope: Scope,
    vectors: Vec<Vec<f32>>,
}

fn build(n: usize, rng: &mut Rng) -> Bench {
    let table = Arc::new(Table::default());
    let config = CacheConfig {
        store: StoreKind::Memory,
        max_entries: n,
        max_bytes: u64::MAX,
        ..CacheConfig::default()
    };
    let cache = Cache::with_store(&config, Some(table.clone()), Box::new(MemoryStore)).unwrap();
    let scope = Scope {
        target: "bench".into(),
        sampling: Sampling { temperature: 0.0, ..Sampling::default() },
        ..Scope::default()
    };
    let mut vectors = Vec::with_capacity(n);
    for i in 0..n {
        let v = rng.vector();
        let prompt = format!("Summarize support ticket {i} for the weekly report");
        let answer = format!("Ticket {i}: the customer could not log in; reset the password.");
        cache.insert(&Query { scope: &scope, prompt: &prompt }, &answer, Some(v.clone())).unwrap();
        vectors.push(v);
    }
    Bench { cache, table, scope, vectors }
}

impl Bench {
    /// A prompt and its vector, registered with the embedder.
    fn query(&self, prompt: String, v: Vec<f32>) -> String {
        self.table.0.lock().unwrap().insert(prompt.clone(), v);
        prompt
    }

    fn lookup(&self, prompt: &str) -> (Duration, Lookup) {
        let start = Instant::now();
        let l = self.cache.lookup(&Query { scope: &self.scope, prompt }).unwrap();
        (start.elapsed(), l)
    }
}

fn percentiles(mut t: Vec<Duration>) -> (Duration, Duration) {
    t.sort();
    (t[t.len() / 2], t[(t.len() * 99 / 100).min(t.len() - 1)])
}

fn summary() {
    println!(
        "cache lookup latency, {DIM}-d unit vectors, one scope, threshold 0.92, guards on (no query embedding):"
    );
    println!("| entries | miss p50 / p99 | semantic hit p50 / p99 | exact hit p50 / p99 |");
    println!("|---|---|---|---|");
    let mut rng = Rng(42);
    for n in SIZES {
        let b = build(n, &mut rng);
        let samples = if n >= 100_000 { 200 } else { 1000 };
        let (mut miss, mut semantic, mut exact) = (Vec::new(), Vec::new(), Vec::new());
        for s in 0..samples {
            let p = b.query(format!("random question {s}"), rng.vector());
            let (t, l) = b.lookup(&p);
            assert!(matches!(l, Lookup::Miss(_)));
            miss.push(t);
            let i = (rng.next() as usize) % n;
            let p = b.query(
                format!("Please summarize support ticket {i} for the weekly report"),
                rng.near(&b.vectors[i], 0.96),
            );
            let (t, l) = b.lookup(&p);
            assert!(matches!(l, Lookup::Hit(ref h) if h.kind == HitKind::Semantic), "{l:?}");
            semantic.push(t);
            let (t, l) = b.lookup(&format!("SUMMARIZE support ticket {i} for the weekly report"));
            assert!(matches!(l, Lookup::Hit(ref h) if h.kind == HitKind::Exact));
            exact.push(t);
        }
        let fmt = |t: Vec<Duration>| {
            let (p50, p99) = percentiles(t);
            format!("{:.3} / {:.3} ms", p50.as_secs_f64() * 1e3, p99.as_secs_f64() * 1e3)
        };
        println!("| {n} | {} | {} | {} |", fmt(miss), fmt(semantic), fmt(exact));
    }
}

fn benches(c: &mut Criterion) {
    summary();
    let mut rng = Rng(7);
    for n in SIZES {
        let b = build(n, &mut rng);
        let mut group = c.benchmark_group("cache");
        if n >= 100_000 {
            group.sample_size(20);
        }
        let p = b.query("a question nobody asked".into(), rng.vector());
        group.bench_function(format!("lookup_miss/{n}"), |bench| bench.iter(|| black_box(b.lookup(&p))));
        let mut index = FlatIndex::new(DIM);
        for (i, v) in b.vectors.iter().enumerate() {
            index.insert(i as u64, v);
        }
        let q = rng.vector();
        group.bench_function(format!("index_search/{n}"), |bench| {
            bench.iter(|| black_box(index.search(black_box(&q), 0.92, 4)))
        });
        group.finish();
    }
}

criterion_group!(lookup, benches);
criterion_main!(lookup);
