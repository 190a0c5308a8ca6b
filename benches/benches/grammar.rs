//! Grammar-constrained decoding on the Qwen2.5-Coder-0.5B fixture.
//!
//! First a summary, measured with `Instant` and printed (criterion cannot time a whole
//! generation sensibly):
//!
//! - decode tokens/s over the first [`CASES`] prompts of the JSON Schema corpus
//!   (crates/grammar/tests/schemas/corpus.json), greedy, with the schema and without it (the
//!   same prompts, the same number of tokens, `ignore_eos`);
//! - the time spent in the matcher (token checks, masks, consuming, forcing) as a share of
//!   the constrained decode time: the constrained overhead, which must stay under 2%;
//! - `compute_mask` and `allows` p50/p99 from replaying every constrained output through a
//!   fresh matcher, a full mask at every position (what a mask-always sampler would pay).
//!
//! Then criterion groups: `grammar/compile/<case>` (schema → matcher),
//! `grammar/allows` (the sample-first check) and `grammar/compute_mask/<state>` (a full mask
//! at the first position with a choice, and at the position allowing the most tokens; clones
//! share llguidance's caches, so these are warm figures).
//!
//! `cargo bench -p hearth-benches --bench grammar`; `HEARTH_THREADS` (default 2) sets the
//! forward pass's threads. Skipped when the fixture is missing.

use std::hint::black_box;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hearth_engine::{Constraint, Engine, EngineOptions, Message, Prompt, Request, SamplingParams};
use hearth_grammar::Matcher;
use serde_json::Value;

/// Corpus prompts used for the decode comparison.
const CASES: usize = 12;

fn engine() -> Option<Engine> {
    let path = hearth_testkit::model(hearth_testkit::QWEN_05B)?;
    let threads = std::env::var("HEARTH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    Some(
        Engine::load(path, EngineOptions { threads, n_ctx: 1024, n_batch: 128, ..Default::default() })
            .expect("load qwen"),
    )
}

/// `(name, prompt, schema)` of the corpus's first `n` cases.
fn corpus(n: usize) -> Vec<(String, String, Value)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/grammar/tests/schemas/corpus.json");
    let items: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("corpus")).expect("corpus parses");
    items
        .iter()
        .take(n)
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_owned(),
                v["prompt"].as_str().unwrap().to_owned(),
                v["schema"].clone(),
            )
        })
        .collect()
}

fn request(prompt: &str, schema: Option<&Value>, max_tokens: usize) -> Request {
    let mut r = Request::new(Prompt::Messages(vec![
        Message::new("system", "You are a data extraction assistant. Answer with JSON only."),
        Message::new("user", prompt),
    ]));
    r.sampling = SamplingParams::greedy();
    r.max_tokens = max_tokens;
    r.constraint = schema.map(|s| Constraint::JsonSchema(s.clone()));
    r
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Decode with and without the schemas, and mask times from replays; printed.
fn summary(engine: &Engine) -> Vec<Vec<u32>> {
    let cases = corpus(CASES);
    let mut session = engine.session();
    let (mut c_tokens, mut c_ms, mut g_ms, mut forced, mut masks, mut checks) =
        (0usize, 0.0f64, 0.0f64, 0u64, 0u64, 0u64);
    let (mut u_tokens, mut u_ms) = (0usize, 0.0f64);
    let mut outputs = Vec::new();
    for (name, prompt, schema) in &cases {
        let mut generation = session.stream(&request(prompt, Some(schema), 160)).expect("constrained run");
        for ev in generation.by_ref() {
            ev.expect("token");
        }
        let stats = generation.grammar_stats().expect("stats");
        let done = generation.completion().expect("completion");
        assert!(done.completion_tokens > 0, "{name}");
        c_tokens += done.completion_tokens;
        c_ms += done.decode_ms;
        g_ms += stats.total_time().as_secs_f64() * 1e3;
        (forced, masks, checks) = (forced + stats.forced, masks + stats.masks, checks + stats.checks);

        let mut free = request(prompt, None, done.completion_tokens);
        free.ignore_eos = true;
        let plain = session.generate(&free, |_| ControlFlow::Continue(())).expect("unconstrained run");
        u_tokens += plain.completion_tokens;
        u_ms += plain.decode_ms;
        outputs.push((schema.clone(), done.ids));
    }

    // Replays: a full mask and a token check at every position of every output.
    let compiler = engine.grammar().expect("grammar compiler");
    let (mut mask_t, mut choice_t, mut allow_t) = (Vec::new(), Vec::new(), Vec::new());
    for (schema, ids) in &outputs {
        let mut m = compiler.compile(&Constraint::JsonSchema(schema.clone())).expect("compile");
        for &id in ids {
            let t = Instant::now();
            let allowed = allowed(m.compute_mask().expect("mask"));
            let dt = t.elapsed();
            mask_t.push(dt);
            if allowed > 1 {
                choice_t.push(dt);
            }
            let t = Instant::now();
            assert!(m.allows(id).expect("allows"));
            allow_t.push(t.elapsed());
            m.consume(id).expect("consume");
        }
    }
    mask_t.sort();
    choice_t.sort();
    allow_t.sort();

    let rate = |n: usize, ms: f64| n as f64 * 1e3 / ms;
    let mut out = std::io::stderr();
    let _ = writeln!(
        out,
        "\ngrammar summary ({} corpus prompts, {} threads, kernels {}):",
        cases.len(),
        engine.pool().n_threads(),
        hearth_kernels::kernels().name()
    );
    let _ = writeln!(
        out,
        "  decode without schema: {u_tokens} tokens in {u_ms:.0} ms = {:.1} tok/s",
        rate(u_tokens, u_ms)
    );
    let _ = writeln!(
        out,
        "  decode with schema:    {c_tokens} tokens in {c_ms:.0} ms = {:.1} tok/s ({forced} forced, {checks} sampled and checked, {masks} full masks)",
        rate(c_tokens, c_ms)
    );
    let _ = writeln!(
        out,
        "  time in the matcher:   {g_ms:.1} ms = {:.2}% of constrained decode time",
        100.0 * g_ms / c_ms
    );
    let _ = writeln!(
        out,
        "  compute_mask (replay, every position, n={}): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        mask_t.len(),
        percentile(&mask_t, 0.5).as_secs_f64() * 1e6,
        percentile(&mask_t, 0.99).as_secs_f64() * 1e6,
        mask_t.last().unwrap().as_secs_f64() * 1e6,
    );
    let _ = writeln!(
        out,
        "  compute_mask where there is a choice (n={}):     p50 {:.1} µs, p99 {:.1} µs",
        choice_t.len(),
        percentile(&choice_t, 0.5).as_secs_f64() * 1e6,
        percentile(&choice_t, 0.99).as_secs_f64() * 1e6,
    );
    let _ = writeln!(
        out,
        "  allows (sample-first check):             p50 {:.1} µs, p99 {:.1} µs",
        percentile(&allow_t, 0.5).as_secs_f64() * 1e6,
        percentile(&allow_t, 0.99).as_secs_f64() * 1e6,
    );
    outputs.into_iter().map(|(_, ids)| ids).collect()
}

/// Number of tokens set in a mask.
fn allowed(mask: &[u32]) -> u32 {
    mask.iter().map(|w| w.count_ones()).sum()
}

/// A matcher advanced through the first `n` tokens of `ids`.
fn matcher_at(engine: &Engine, schema: &Value, ids: &[u32]) -> Matcher {
    let mut m = engine.grammar().unwrap().compile(&Constraint::JsonSchema(schema.clone())).unwrap();
    for &id in ids {
        m.consume(id).unwrap();
    }
    m
}

fn benches(c: &mut Criterion) {
    let Some(engine) = engine() else { return };
    let outputs = summary(&engine);
    let cases = corpus(CASES);
    let compiler = engine.grammar().unwrap();

    let mut g = c.benchmark_group("grammar/compile");
    for (name, _, schema) in cases.iter().take(4) {
        let constraint = Constraint::JsonSchema(schema.clone());
        g.bench_function(name.as_str(), |b| b.iter(|| compiler.compile(black_box(&constraint)).unwrap()));
    }
    g.finish();

    // States from the first case's real output: the first position with a choice (a
    // property value starts) and the one allowing the most tokens (inside a string).
    let (_, _, schema) = &cases[0];
    let ids = &outputs[0];
    let widths: Vec<u32> = (0..ids.len())
        .map(|n| allowed(matcher_at(&engine, schema, &ids[..n]).compute_mask().unwrap()))
        .collect();
    let first_choice = widths.iter().position(|&w| w > 1).unwrap_or(0);
    let widest = (0..ids.len()).max_by_key(|&n| widths[n]).unwrap_or(0);
    let mut g = c.benchmark_group("grammar/compute_mask");
    for (state, n) in [("first_choice", first_choice), ("widest", widest)] {
        let m = matcher_at(&engine, schema, &ids[..n]);
        g.bench_function(state, |b| {
            b.iter_batched(|| m.clone(), |mut m| m.compute_mask().unwrap().len(), BatchSize::SmallInput)
        });
    }
    g.finish();

    let m = matcher_at(&engine, schema, &ids[..widest]);
    let next = ids[widest];
    c.bench_function("grammar/allows", |b| {
        b.iter_batched(|| m.clone(), |mut m| m.allows(black_box(next)).unwrap(), BatchSize::SmallInput)
    });
}

criterion_group! {
    name = grammar;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(grammar);
