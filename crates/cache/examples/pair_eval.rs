//! The semantic cache measured with a real embedder (issue 12, part 5): the labelled pair set
//! through [`eval::evaluate`] (paraphrase hit rate and false-hit rate per threshold, with and
//! without guards, per kind), the must-not-hit pairs the guards let through at 0.92, and the
//! latency of a lookup *including* the query's embedding.
//!
//! ```text
//! cargo run --release -p hearth-cache --example pair_eval -- \
//!     --embedder ~/.cache/hearth/models/all-minilm-l6-v2.gguf \
//!     --pairs tests/cache/pairs.jsonl [--json OUT] [--prompts 200]
//! ```
//!
//! Latency: the set's first `--prompts` distinct texts are the queries (real prompts, not
//! random vectors). Each is embedded alone (embedding p50/p99); then looked up, one at a time,
//! in a memory-store cache of 1k, 10k and 100k random unit vectors in the query's scope (a
//! miss: the full scan, the worst case), once embedding it (end to end) and once with its
//! vector replayed (the cache's own cost).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hearth_cache::eval::{self, PairKind};
use hearth_cache::guards::{self, Features};
use hearth_cache::index::dot;
use hearth_cache::{Cache, CacheConfig, Embed, EmbedError, Lookup, MemoryStore, Query, Scope, StoreKind};
use serde::Serialize;

/// The threshold `[cache]` ships with.
const DEFAULT_THRESHOLD: f32 = 0.92;

/// Cache sizes the lookup is timed at.
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// hearth's embedder as the cache's [`Embed`], remembering every vector so a lookup can be
/// replayed without the model (`replay`).
struct ModelEmbed {
    id: String,
    model: hearth_models::Embedder,
    seen: Mutex<HashMap<String, Vec<f32>>>,
    replay: AtomicBool,
}

impl ModelEmbed {
    fn vector(&self, text: &str) -> Option<Vec<f32>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).get(text).cloned()
    }
}

impl Embed for ModelEmbed {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if self.replay.load(Ordering::Relaxed) {
            return texts
                .iter()
                .map(|t| self.vector(t).ok_or_else(|| EmbedError::new(format!("never embedded: {t:?}"))))
                .collect();
        }
        let vectors = self.model.embed(texts).map_err(EmbedError::new)?;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        for (t, v) in texts.iter().zip(&vectors) {
            seen.insert((*t).to_owned(), v.clone());
        }
        Ok(vectors)
    }
}

struct Args {
    embedder: PathBuf,
    pairs: PathBuf,
    json: Option<PathBuf>,
    prompts: usize,
}

fn args() -> Result<Args> {
    let usage = "usage: pair_eval --embedder MODEL.gguf --pairs PAIRS.jsonl [--json OUT] [--prompts N]";
    let (mut embedder, mut pairs, mut json, mut prompts) = (None, None, None, 200);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value; {usage}"));
        match flag.as_str() {
            "--embedder" => embedder = Some(PathBuf::from(value()?)),
            "--pairs" => pairs = Some(PathBuf::from(value()?)),
            "--json" => json = Some(PathBuf::from(value()?)),
            "--prompts" => prompts = value()?.parse().context("--prompts takes a count")?,
            other => bail!("unknown argument {other}; {usage}"),
        }
    }
    Ok(Args {
        embedder: embedder.context(usage)?,
        pairs: pairs.context(usage)?,
        json,
        prompts: prompts.max(1),
    })
}

/// A must-not-hit pair the guards let through at or above a threshold.
#[derive(Debug, Serialize)]
struct Leak {
    kind: PairKind,
    a: String,
    b: String,
    similarity: f32,
}

/// p50 and p99, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
struct Percentiles {
    p50_ms: f64,
    p99_ms: f64,
}

impl Percentiles {
    fn of(mut t: Vec<Duration>) -> Percentiles {
        t.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        Percentiles { p50_ms: ms(t[t.len() / 2]), p99_ms: ms(t[(t.len() * 99 / 100).min(t.len() - 1)]) }
    }
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3} / {:.3} ms", self.p50_ms, self.p99_ms)
    }
}

#[derive(Debug, Serialize)]
struct SizeLatency {
    entries: usize,
    with_embedding: Percentiles,
    cache_only: Percentiles,
}

#[derive(Debug, Serialize)]
struct Latency {
    prompts: usize,
    threads: usize,
    embed_one: Percentiles,
    lookup_miss: Vec<SizeLatency>,
}

#[derive(Debug, Serialize)]
struct Output<'a> {
    report: &'a eval::Report,
    leaks_at_default: &'a [Leak],
    latency: &'a Latency,
}

/// splitmix64 and Box–Muller: random unit vectors for the filler entries.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f32 {
        ((self.next() >> 40) as f32 + 1.0) / (1u64 << 24) as f32
    }

    fn vector(&mut self, dim: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                let (u1, u2) = (self.unit(), self.unit());
                (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
            })
            .collect();
        let n = dot(&v, &v).sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    }
}

fn main() -> Result<()> {
    let args = args()?;
    let model = hearth_models::Embedder::open(&args.embedder).with_context(|| {
        format!("cannot load the embedder {}: `cargo xtask models` fetches it", args.embedder.display())
    })?;
    let stem = args.embedder.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let dim = model.dim();
    let embed = Arc::new(ModelEmbed {
        id: format!("{stem} ({dim}-d)"),
        model,
        seen: Mutex::default(),
        replay: AtomicBool::new(false),
    });
    let pairs = eval::read_pairs(&args.pairs)?;

    let started = Instant::now();
    let report = eval::evaluate(&pairs, embed.as_ref(), &eval::THRESHOLDS)?;
    println!("{}", report.markdown());
    println!("(pair set embedded and evaluated in {:.1} s)\n", started.elapsed().as_secs_f64());

    let leaks = leaks(&pairs, &embed, DEFAULT_THRESHOLD);
    println!("Must-not-hit pairs the guards let through at {DEFAULT_THRESHOLD:.2}: {}", leaks.len());
    for l in &leaks {
        println!("- {} ({:.4}): {:?} → {:?}", l.kind.as_str(), l.similarity, l.a, l.b);
    }
    if let Some(row) = report.row(DEFAULT_THRESHOLD, true)
        && row.false_hits_total() != leaks.len()
    {
        bail!(
            "the cache served {} false hits, the pairwise check found {}",
            row.false_hits_total(),
            leaks.len()
        );
    }
    println!();
    let refused = refused_paraphrases(&pairs, &embed, DEFAULT_THRESHOLD);
    println!("Paraphrases at or above {DEFAULT_THRESHOLD:.2} the guards refused: {}", refused.len());
    for (reason, l) in &refused {
        println!("- {reason} ({:.4}): {:?} → {:?}", l.similarity, l.a, l.b);
    }
    println!();

    let latency = latency(&pairs, &embed, dim, args.prompts)?;
    if let Some(out) = &args.json {
        let json = serde_json::to_string_pretty(&Output {
            report: &report,
            leaks_at_default: &leaks,
            latency: &latency,
        })?;
        std::fs::write(out, json).with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}

/// Must-not-hit pairs at or above `threshold` that the guards pass, most similar first.
fn leaks(pairs: &[eval::Pair], embed: &ModelEmbed, threshold: f32) -> Vec<Leak> {
    let mut leaks: Vec<Leak> = pairs
        .iter()
        .filter(|p| !p.hit)
        .filter_map(|p| {
            let (va, vb) = (embed.vector(&p.a)?, embed.vector(&p.b)?);
            let similarity = dot(&va, &vb) / (dot(&va, &va) * dot(&vb, &vb)).sqrt();
            let passes = guards::check(&Features::of(&p.a), &Features::of(&p.b)).is_ok();
            (similarity >= threshold && passes).then(|| Leak {
                kind: p.kind,
                a: p.a.clone(),
                b: p.b.clone(),
                similarity,
            })
        })
        .collect();
    leaks.sort_by(|x, y| y.similarity.total_cmp(&x.similarity));
    leaks
}

/// Paraphrase pairs at or above `threshold` that a guard refuses, with its reason, by reason
/// then most similar first.
fn refused_paraphrases(pairs: &[eval::Pair], embed: &ModelEmbed, threshold: f32) -> Vec<(String, Leak)> {
    let mut refused: Vec<(String, Leak)> = pairs
        .iter()
        .filter(|p| p.hit)
        .filter_map(|p| {
            let (va, vb) = (embed.vector(&p.a)?, embed.vector(&p.b)?);
            let similarity = dot(&va, &vb) / (dot(&va, &va) * dot(&vb, &vb)).sqrt();
            let reason = guards::check(&Features::of(&p.a), &Features::of(&p.b)).err()?;
            (similarity >= threshold).then(|| {
                (reason.to_string(), Leak { kind: p.kind, a: p.a.clone(), b: p.b.clone(), similarity })
            })
        })
        .collect();
    refused.sort_by(|x, y| x.0.cmp(&y.0).then(y.1.similarity.total_cmp(&x.1.similarity)));
    refused
}

fn latency(pairs: &[eval::Pair], embed: &Arc<ModelEmbed>, dim: usize, n: usize) -> Result<Latency> {
    let mut prompts: Vec<&str> = Vec::new();
    for p in pairs {
        for t in [p.a.as_str(), p.b.as_str()] {
            if prompts.len() < n && !prompts.contains(&t) {
                prompts.push(t);
            }
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    embed.embed(&prompts[..prompts.len().min(8)])?; // warm-up: scratch buffers, page-in
    let mut embed_one = Vec::with_capacity(prompts.len());
    for p in &prompts {
        let start = Instant::now();
        embed.embed(&[*p])?;
        embed_one.push(start.elapsed());
    }
    let embed_one = Percentiles::of(embed_one);
    println!(
        "Lookup latency, {} real prompts from the set one at a time, {dim}-d, {threads} threads, threshold \
         {DEFAULT_THRESHOLD:.2}, guards on, memory store, one scope of random unit vectors (every lookup a \
         miss: a full scan):\n",
        prompts.len()
    );
    println!("embedding one prompt alone: p50 / p99 = {embed_one}\n");
    println!("| entries | lookup incl. embedding p50 / p99 | lookup, vector replayed p50 / p99 |");
    println!("|---|---|---|");
    let mut rng = Rng(42);
    let scope = Scope { target: "latency".into(), ..Scope::default() };
    let mut lookup_miss = Vec::new();
    for entries in SIZES {
        let config = CacheConfig {
            store: StoreKind::Memory,
            max_entries: entries,
            max_bytes: u64::MAX,
            ..CacheConfig::default()
        };
        let as_embed: Arc<dyn Embed> = embed.clone();
        let cache = Cache::with_store(&config, Some(as_embed), Box::new(MemoryStore))?;
        for i in 0..entries {
            let prompt = format!("stored prompt {i}");
            cache.insert(&Query { scope: &scope, prompt: &prompt }, "an answer", Some(rng.vector(dim)))?;
        }
        let timed = |replay: bool| -> Result<Percentiles> {
            embed.replay.store(replay, Ordering::Relaxed);
            let mut t = Vec::with_capacity(prompts.len());
            for p in &prompts {
                let start = Instant::now();
                let l = cache.lookup(&Query { scope: &scope, prompt: p })?;
                t.push(start.elapsed());
                if !matches!(l, Lookup::Miss(_)) {
                    bail!("{p:?} hit a random vector: {l:?}");
                }
            }
            embed.replay.store(false, Ordering::Relaxed);
            Ok(Percentiles::of(t))
        };
        let with_embedding = timed(false)?;
        let cache_only = timed(true)?;
        println!("| {entries} | {with_embedding} | {cache_only} |");
        lookup_miss.push(SizeLatency { entries, with_embedding, cache_only });
    }
    println!();
    Ok(Latency { prompts: prompts.len(), threads, embed_one, lookup_miss })
}
