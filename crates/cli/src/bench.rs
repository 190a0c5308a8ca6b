//! `hearth bench`: prompt processing (pp) and text generation (tg) speed, measured as
//! llama-bench measures them, plus batched decode and the machine's read bandwidth.
//!
//! - `ppN`: N prompt tokens processed as one batch from an empty cache.
//! - `tgN`: N tokens decoded one at a time from an empty context (logits of each computed,
//!   no sampling).
//! - `tgN xB` (with `--batch B`): B sequences decoding together, one forward pass per step;
//!   aggregate tokens/s.
//!
//! The limit column: for tg, the measured read bandwidth over the bytes of weights a token
//! reads; for pp, the measured int8 multiply-add peak of the CPU's widest `vpdpbusd`, or on
//! AVX2 without VNNI of `vpmaddubsw` + `vpaddw` pairs ([`hearth_kernels::probe`]), over the
//! weights' multiply-adds per token (attention not counted; `-` where the CPU is not probed).
//!
//! Each test runs once as warm-up, then `--reps` times; t/s is reported as mean ± sd.

use std::time::Instant;

use anyhow::{Result, bail};
use hearth_kernels::ThreadPool;
use hearth_models::{KvCache, Logits, Model, Scratch, SeqInput};
use serde::Serialize;

/// Arguments of `hearth bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A .gguf file or a catalog name.
    #[arg(long, short)]
    model: String,
    /// Thread counts to test, comma-separated.
    #[arg(long, short = 't', value_delimiter = ',', default_value = "2")]
    threads: Vec<usize>,
    /// Prompt tokens for the pp test (0 skips it).
    #[arg(long, short = 'p', default_value_t = 512)]
    prompt: usize,
    /// Generated tokens for the tg test (0 skips it).
    #[arg(long = "gen", short = 'n', default_value_t = 128)]
    gen_tokens: usize,
    /// Sequences decoding together for the batched tg test (1 = no batched test).
    #[arg(long, short = 'b', value_delimiter = ',', default_value = "1")]
    batch: Vec<usize>,
    /// Measured repetitions per test (after one warm-up run).
    #[arg(long, short = 'r', default_value_t = 3)]
    reps: usize,
    /// Prompt tokens per forward pass in the pp test.
    #[arg(long, default_value_t = 512)]
    ubatch: usize,
    /// Skip the probes of the limits: read bandwidth (tg) and int8 multiply-add peak (pp).
    #[arg(long)]
    no_bandwidth: bool,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<String>,
    /// Instead of pp/tg: decode the built-in set of repetitive prompts (extraction, code
    /// edits; benches/prompts/repetitive.json) greedily, plain and with speculative
    /// decoding, check the outputs are identical and report effective tokens/s.
    #[command(flatten)]
    speculation: crate::common::SpeculationArgs,
}

/// The fixed prompt set of the speculative benchmark.
const REPETITIVE: &str = include_str!("../../../benches/prompts/repetitive.json");

#[derive(serde::Deserialize)]
struct SpecPrompt {
    name: String,
    messages: Vec<hearth_engine::Message>,
}

/// Plain vs speculative greedy decoding on the fixed prompt set.
fn run_speculative(args: &Args, path: &std::path::Path) -> Result<()> {
    use hearth_engine::{Engine, EngineOptions, Prompt, Request, SamplingParams};
    let threads = args.threads.first().copied().unwrap_or(2);
    let engine =
        Engine::load(path, EngineOptions { threads, n_ctx: 2048, n_batch: 512, ..Default::default() })?;
    let spec = args
        .speculation
        .speculation(threads, 2048)?
        .ok_or_else(|| anyhow::anyhow!("--lookup or --draft-model"))?;
    let prompts: Vec<SpecPrompt> = serde_json::from_str(REPETITIVE)?;
    println!("| prompt | tokens | plain t/s | speculative t/s | speedup | drafted | accepted | identical |");
    println!("|---|---|---|---|---|---|---|---|");
    let (mut plain_ms, mut spec_ms, mut toks) = (0.0, 0.0, 0usize);
    for p in &prompts {
        let mut req = Request::new(Prompt::Messages(p.messages.clone()));
        req.sampling = SamplingParams::greedy();
        req.max_tokens = args.gen_tokens.max(1);
        let mut best = (f64::MAX, f64::MAX);
        let (mut plain_ids, mut spec_ids, mut stats) = (Vec::new(), Vec::new(), (0, 0));
        for _ in 0..args.reps {
            let mut s = engine.session();
            let done = s.stream(&req)?.completion()?;
            best.0 = best.0.min(done.decode_ms);
            plain_ids = done.ids;
            let mut s = engine.session();
            s.speculate_with(Some(spec.clone()), args.speculation.length())?;
            let mut g = s.stream(&req)?;
            for ev in g.by_ref() {
                ev?;
            }
            stats = g.speculation_stats();
            let done = g.completion()?;
            best.1 = best.1.min(done.decode_ms);
            spec_ids = done.ids;
        }
        let n = plain_ids.len();
        let same = plain_ids == spec_ids;
        println!(
            "| {} | {n} | {:.2} | {:.2} | {:.2}x | {} | {} | {} |",
            p.name,
            n as f64 * 1e3 / best.0,
            n as f64 * 1e3 / best.1,
            best.0 / best.1,
            stats.0,
            stats.1,
            if same { "yes" } else { "NO" }
        );
        if !same {
            bail!("speculative output differs from plain greedy on '{}'", p.name);
        }
        plain_ms += best.0;
        spec_ms += best.1;
        toks += n;
    }
    println!(
        "overall: plain {:.2} t/s, speculative {:.2} t/s, {:.2}x ({} tokens, {threads} threads, kernels {})",
        toks as f64 * 1e3 / plain_ms,
        toks as f64 * 1e3 / spec_ms,
        plain_ms / spec_ms,
        toks,
        hearth_kernels::kernels().name()
    );
    Ok(())
}

/// One measured test.
#[derive(Serialize, Debug, Clone)]
pub struct TestResult {
    /// `pp512`, `tg128`, `tg128x4`.
    pub test: String,
    /// Threads used.
    pub threads: usize,
    /// Sequences decoding together (1 for pp and tg).
    pub batch: usize,
    /// Tokens per second (aggregate over the batch), mean over reps.
    pub tps_mean: f64,
    /// Standard deviation of tokens per second.
    pub tps_sd: f64,
    /// Every rep's tokens per second.
    pub samples: Vec<f64>,
}

/// The whole run.
#[derive(Serialize, Debug)]
pub struct Report {
    /// Model path.
    pub model: String,
    /// File size.
    pub file_bytes: u64,
    /// Architecture.
    pub arch: String,
    /// Weight bytes read per decoded token.
    pub bytes_per_token: u64,
    /// Kernel path in use.
    pub kernels: &'static str,
    /// Measured read bandwidth per thread count, GB/s.
    pub bandwidth_gbs: Vec<(usize, f64)>,
    /// Multiply-adds of the weight matrices per token (the pp limit's divisor).
    pub macs_per_token: u64,
    /// Measured int8 multiply-add peak per thread count, G/s (absent where not probed).
    pub int8_peak_gmacs: Vec<(usize, f64)>,
    /// Results.
    pub results: Vec<TestResult>,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as u32
    }
}

fn stats(samples: &[f64]) -> (f64, f64) {
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let var = if samples.len() > 1 {
        samples.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// Processes `n` random tokens from an empty cache, `ubatch` per forward pass.
fn run_pp(
    model: &Model,
    pool: &ThreadPool,
    cache: &mut KvCache,
    s: &mut Scratch,
    n: usize,
    ubatch: usize,
    rng: &mut Rng,
) -> Result<f64> {
    let nv = model.config().n_vocab;
    let tokens: Vec<u32> = (0..n).map(|_| rng.next(nv)).collect();
    cache.clear();
    let t0 = Instant::now();
    let chunks = n.div_ceil(ubatch);
    for (i, chunk) in tokens.chunks(ubatch).enumerate() {
        let want = if i + 1 == chunks { Logits::Last } else { Logits::None };
        model.forward(pool, &mut [SeqInput::new(chunk, cache, want)], s)?;
    }
    Ok(n as f64 / t0.elapsed().as_secs_f64())
}

/// Decodes `n` tokens one at a time in each of the `caches` together, from empty.
fn run_tg(
    model: &Model,
    pool: &ThreadPool,
    caches: &mut [KvCache],
    s: &mut Scratch,
    n: usize,
    rng: &mut Rng,
) -> Result<f64> {
    let nv = model.config().n_vocab;
    for c in caches.iter_mut() {
        c.clear();
    }
    let mut toks: Vec<[u32; 1]> = caches.iter().map(|_| [rng.next(nv)]).collect();
    let t0 = Instant::now();
    for _ in 0..n {
        let mut batch: Vec<SeqInput<'_>> =
            caches.iter_mut().zip(&toks).map(|(c, t)| SeqInput::new(t, c, Logits::Last)).collect();
        model.forward(pool, &mut batch, s)?;
        for t in toks.iter_mut() {
            t[0] = rng.next(nv);
        }
    }
    Ok((n * caches.len()) as f64 / t0.elapsed().as_secs_f64())
}

/// Streams a buffer larger than any cache on all pool threads; returns GB/s.
pub fn bandwidth(pool: &ThreadPool) -> f64 {
    const BYTES: usize = 512 << 20;
    let words = BYTES / 8;
    let mut buf: Vec<u64> = (0..words as u64).collect();
    let mut locals = vec![0u64; pool.n_threads()];
    let mut best = 0.0f64;
    for _ in 0..4 {
        let t0 = Instant::now();
        pool.for_each_chunk(&mut buf, words / (pool.n_threads() * 8), &mut locals, &|_, chunk, acc| {
            let mut a = [0u64; 8];
            for c in chunk.chunks_exact(8) {
                for i in 0..8 {
                    a[i] = a[i].wrapping_add(c[i]);
                }
            }
            *acc = acc.wrapping_add(a.iter().fold(0u64, |x, y| x.wrapping_add(*y)));
        });
        best = best.max(BYTES as f64 / t0.elapsed().as_secs_f64() / 1e9);
    }
    std::hint::black_box(&locals);
    best
}

/// Runs `hearth bench`.
pub fn run(args: Args) -> Result<()> {
    if args.reps == 0 {
        bail!("--reps must be at least 1");
    }
    let path = crate::resolve::model_file(&args.model)?;
    if args.speculation.lookup || args.speculation.draft_model.is_some() {
        return run_speculative(&args, &path);
    }
    let model = Model::open(&path)?;
    let cfg = model.config().clone();
    let file_bytes = model.file().file_len();
    let bpt = model.bytes_per_token() as u64;
    let macs = model.macs_per_token();
    let kernels = hearth_kernels::kernels().name();
    println!(
        "model {} ({:?}, {:.2} GB, {:.2} GB read per token), kernels {kernels}",
        path.display(),
        cfg.arch,
        file_bytes as f64 / 1e9,
        bpt as f64 / 1e9
    );

    let mut plan: Vec<(usize, &str, usize)> = Vec::new();
    for &t in &args.threads {
        if args.prompt > 0 {
            plan.push((t, "pp", 1));
        }
        if args.gen_tokens > 0 {
            for &b in &args.batch {
                plan.push((t, "tg", b.max(1)));
            }
        }
    }
    let total_steps = plan.len() * (args.reps + 1);
    let bar = hearth_hub::bars::steps(total_steps as u64, "runs");

    let mut results = Vec::new();
    let mut bandwidths = Vec::new();
    let mut peaks = Vec::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for &threads in &args.threads {
        let pool = ThreadPool::try_new(threads)?;
        if !args.no_bandwidth {
            bar.set_message(format!("bandwidth t={threads}"));
            bandwidths.push((threads, bandwidth(&pool)));
            if args.prompt > 0 {
                bar.set_message(format!("int8 peak t={threads}"));
                peaks.extend(hearth_kernels::probe::int8_peak(&pool).map(|g| (threads, g)));
            }
        }
        let mut scratch = Scratch::new();
        let n_ctx = (args.prompt.max(args.gen_tokens) + 8).max(64);
        for &(t, kind, b) in plan.iter().filter(|p| p.0 == threads) {
            let name = if kind == "pp" {
                format!("pp{}", args.prompt)
            } else if b > 1 {
                format!("tg{}x{b}", args.gen_tokens)
            } else {
                format!("tg{}", args.gen_tokens)
            };
            let mut caches: Vec<KvCache> = (0..b).map(|_| model.new_cache(n_ctx)).collect();
            let mut samples = Vec::new();
            for rep in 0..=args.reps {
                bar.set_message(format!("{name} t={t} rep {rep}"));
                let tps = if kind == "pp" {
                    run_pp(&model, &pool, &mut caches[0], &mut scratch, args.prompt, args.ubatch, &mut rng)?
                } else {
                    run_tg(&model, &pool, &mut caches, &mut scratch, args.gen_tokens, &mut rng)?
                };
                if rep > 0 {
                    samples.push(tps);
                }
                bar.inc(1);
            }
            let (mean, sd) = stats(&samples);
            results.push(TestResult {
                test: name,
                threads: t,
                batch: b,
                tps_mean: mean,
                tps_sd: sd,
                samples,
            });
        }
    }
    bar.finish_and_clear();

    println!("| {:>7} | {:>10} | {:>14} | {:>22} |", "threads", "test", "t/s", "limit (t/s)");
    println!("|{:-<9}|{:-<12}|{:-<16}|{:-<24}|", "", "", "", "");
    let of = |probe: &[(usize, f64)], t: usize| probe.iter().find(|(pt, _)| *pt == t).map(|(_, v)| *v);
    for r in &results {
        let limit = if r.test.starts_with("tg") {
            of(&bandwidths, r.threads).map(|gbs| gbs * 1e9 / bpt as f64 * r.batch as f64)
        } else {
            of(&peaks, r.threads).map(|g| g * 1e9 / macs.max(1) as f64)
        };
        let limit_s = match limit {
            Some(l) => format!("{:.2} ({:.0}% reached)", l / r.batch as f64, 100.0 * r.tps_mean / l),
            None => "-".to_owned(),
        };
        println!(
            "| {:>7} | {:>10} | {:>7.2} ± {:<5.2} | {:>22} |",
            r.threads, r.test, r.tps_mean, r.tps_sd, limit_s
        );
    }
    for (t, gbs) in &bandwidths {
        println!("read bandwidth, {t} threads: {gbs:.1} GB/s");
    }
    for (t, g) in &peaks {
        println!(
            "int8 multiply-add peak, {t} threads: {g:.0} G/s (pp limit: {:.2} G multiply-adds per token, attention not counted)",
            macs as f64 / 1e9
        );
    }
    if let Some(file) = &args.json {
        let report = Report {
            model: path.display().to_string(),
            file_bytes,
            arch: format!("{:?}", cfg.arch),
            bytes_per_token: bpt,
            kernels,
            bandwidth_gbs: bandwidths,
            macs_per_token: macs,
            int8_peak_gmacs: peaks,
            results,
        };
        std::fs::write(file, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}
