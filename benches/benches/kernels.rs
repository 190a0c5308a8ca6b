//! Kernel benchmarks: one criterion group per kernel × type × shape, the scalar table beside
//! the best SIMD table this CPU runs, on a 2-thread pool.
//!
//! - `matvec/<type>/<rows>x<cols>`: decode mat-vec (n = 1, the multi-row kernels; the types
//!   with an interleaved layout also in it, where the best table reads that layout).
//!   Throughput in **bytes of weights** per second (decode is a stream over the weights).
//! - `matvec_stream/<type>/<rows>x<cols>x<count>`: the same decode mat-vec over `count`
//!   matrices in turn, together larger than a small server's last-level cache (128 MiB), so
//!   the weights come from DRAM as in a real decode step (`matvec`'s single matrix is partly
//!   cache-resident and can read faster than memory allows). Beside the kernels, `read`:
//!   the same bytes summed as `u64`s on the same threads, matrix by matrix, the reference
//!   the kernels' streaming is judged against (about 10% under `hearth bench`'s bandwidth
//!   probe, one 512 MiB buffer in one dispatch). Bytes per second.
//! - `matmul_flop/<type>/<rows>x<cols>/n<N>`: N activation columns — 4 and 8 (batched
//!   decode, speculative verification: the multi-token kernels), 32 and 512 (prefill: the
//!   repacking GEMM), the interleaved layout too where it exists. Throughput counts **FLOPs** (`2·rows·cols·N`) as criterion
//!   "elements": read `elem/s` as FLOP/s. The scalar table is skipped at N ≥ 32 (minutes
//!   per sample).
//! - `ops/<op>/<len>`: f32 ops, elements per second (`ops/scores_widened/<hd>x<heads>x<pos>`:
//!   a prefill work item's attention scores, and `weighted_sum_widened` its sum of values,
//!   FLOPs per second).
//! - `pool/dispatch`: one empty `ThreadPool::run` (the per-matmul barrier cost).
//!
//! `cargo bench -p hearth-benches --bench kernels -- matvec/q4_K` runs a subset. Kernel
//! tables are selected through `Kernels::scalar()` / `Kernels::best()` (the ops through
//! their `Kernels::ops()`), not through `HEARTH_KERNELS`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
    measurement::WallTime,
};
use hearth_kernels::ops::{Ops, RopeCache, RopeMode, RopeParams};
use hearth_kernels::testing::{random_f32, random_row};
use hearth_kernels::{Activations, DType, Kernels, QMatrix, ThreadPool, matmul_with};

const THREADS: usize = 2;

/// The tables to compare: scalar, then the best one if it is not scalar.
fn tables() -> Vec<&'static Kernels> {
    let mut t = vec![Kernels::scalar()];
    if Kernels::best().name() != "scalar" {
        t.push(Kernels::best());
    }
    t
}

fn print_paths() {
    eprintln!(
        "hearth-kernels: process path {} (ops {}), benchmarking {:?} on {THREADS} threads",
        hearth_kernels::kernels().name(),
        hearth_kernels::ops::ops().name(),
        tables().iter().map(|k| k.name()).collect::<Vec<_>>()
    );
}

fn heavy_group<'a>(c: &'a mut Criterion, name: String) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    // Flat sampling: 10 samples of equal iteration counts (linear sampling would need 55
    // iterations at least, minutes for the slow scalar and n = 512 cases).
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g
}

/// Matrix-vector products (decode).
fn matvec(c: &mut Criterion) {
    print_paths();
    let pool = ThreadPool::new(THREADS);
    let shapes: [(DType, usize, usize); 11] = [
        (DType::Q4_K, 4096, 4096),
        (DType::Q4_K, 14336, 4096),
        (DType::Q5_K, 4096, 4096),
        (DType::Q6_K, 4096, 4096),
        (DType::Q6_K, 14336, 4096),
        (DType::Q8_0, 4096, 4096),
        (DType::Q8_0, 14336, 4096),
        (DType::Q5_0, 896, 4864),
        (DType::Q5_0, 4864, 896),
        (DType::Q4_0, 4096, 4096),
        (DType::Q4_1, 1536, 576),
    ];
    for (dt, rows, cols) in shapes {
        let bytes = random_row(dt, rows * cols, 1);
        let w = QMatrix::new(dt, rows, cols, &bytes).expect("valid matrix");
        let mut x = Activations::new();
        x.load(&random_f32(cols, 1.0, 2), cols);
        let mut out = vec![0.0f32; rows];
        let mut g = heavy_group(c, format!("matvec/{dt}/{rows}x{cols}"));
        g.throughput(Throughput::Bytes(w.n_bytes() as u64));
        for k in tables() {
            g.bench_function(k.name(), |b| {
                b.iter(|| {
                    // Re-quantizing the input is part of a real decode step.
                    x.data_mut();
                    matmul_with(k, &pool, &w, &mut x, &mut out);
                    black_box(&out);
                })
            });
        }
        // The layout a model loader repacks into where the best table has a kernel for it.
        if let Some(il) = Interleaved::new(dt, rows, cols, &bytes) {
            let wi = il.view();
            let k = Kernels::best();
            g.bench_function(format!("{}-interleaved", k.name()), |b| {
                b.iter(|| {
                    x.data_mut();
                    matmul_with(k, &pool, &wi, &mut x, &mut out);
                    black_box(&out);
                })
            });
        }
        g.finish();
    }
}

/// Bytes the `matvec_stream` matrices add up to at least: more than the last-level cache of
/// the small servers hearth is for.
const STREAM_BYTES: usize = 128 << 20;

/// Decode mat-vecs streaming from DRAM: `count` matrices of one shape in turn, on every SIMD
/// table this CPU has, in the file's layout and the interleaved one, and the plain read of
/// the same bytes.
fn matvec_stream(c: &mut Criterion) {
    let pool = ThreadPool::new(THREADS);
    // The FFN matrices of a 3B model (Llama-3.2-3B: 3072 × 8192), in the two K-quant types
    // a Q4_K_M file stores its matrices in.
    let shapes: [(DType, usize, usize); 2] = [(DType::Q4_K, 3072, 8192), (DType::Q6_K, 3072, 8192)];
    for (dt, rows, cols) in shapes {
        let first = random_row(dt, rows * cols, 11);
        let count = STREAM_BYTES.div_ceil(first.len());
        let mut files = vec![first];
        files.extend((1..count).map(|i| random_row(dt, rows * cols, 11 + i as u64)));
        let total: usize = files.iter().map(Vec::len).sum();
        let mut x = Activations::new();
        x.load(&random_f32(cols, 1.0, 2), cols);
        let mut out = vec![0.0f32; rows];
        let mut g = heavy_group(c, format!("matvec_stream/{dt}/{rows}x{cols}x{count}"));
        g.throughput(Throughput::Bytes(total as u64));
        let mut sums = vec![0u64; pool.n_threads()];
        g.bench_function("read", |b| {
            b.iter(|| {
                for f in &files {
                    read_sum(&pool, f, &mut sums);
                }
                black_box(&sums);
            })
        });
        let ws: Vec<QMatrix<'_>> =
            files.iter().map(|f| QMatrix::new(dt, rows, cols, f).expect("valid matrix")).collect();
        let il: Vec<Interleaved> = files.iter().filter_map(|f| Interleaved::new(dt, rows, cols, f)).collect();
        let wi: Vec<QMatrix<'_>> = il.iter().map(Interleaved::view).collect();
        // The interleaved layout only where every matrix has it (the best table reads it).
        let layouts: &[(&str, &[QMatrix<'_>])] =
            if wi.len() == files.len() { &[("", &ws), ("-interleaved", &wi)] } else { &[("", &ws)] };
        // Every SIMD table this CPU runs: on some CPUs a narrower table streams faster (Zen 4
        // runs 512-bit operations as two 256-bit halves).
        for k in Kernels::available().into_iter().filter(|k| k.name() != "scalar") {
            for &(layout, mats) in layouts {
                g.bench_function(format!("{}{layout}", k.name()), |b| {
                    b.iter(|| {
                        for w in mats {
                            x.data_mut();
                            matmul_with(k, &pool, w, &mut x, &mut out);
                        }
                        black_box(&out);
                    })
                });
            }
        }
        g.finish();
    }
}

/// Sums `bytes` as little-endian `u64`s, each pool thread a contiguous share, into `sums`
/// (one per thread): a read of every byte with next to no work per byte.
fn read_sum(pool: &ThreadPool, bytes: &[u8], sums: &mut [u64]) {
    let nth = pool.n_threads();
    let share = bytes.len().div_ceil(nth).next_multiple_of(64);
    let sums = std::sync::Mutex::new(sums);
    pool.run(&|ith, _| {
        let part = bytes.chunks(share).nth(ith).unwrap_or(&[]);
        let mut acc = [0u64; 8];
        let (words, _) = part.as_chunks::<64>();
        for line in words {
            for (a, w) in acc.iter_mut().zip(line.as_chunks::<8>().0) {
                *a = a.wrapping_add(u64::from_le_bytes(*w));
            }
        }
        let s = acc.iter().fold(0u64, |x, y| x.wrapping_add(*y));
        sums.lock().expect("no panic while summing")[ith] = s;
    });
}

/// A matrix repacked into the layout a model loader uses where the best table has a kernel
/// for it ([`QMatrix::wants_interleaved`]).
struct Interleaved {
    dt: DType,
    rows: usize,
    cols: usize,
    bytes: Vec<u8>,
}

impl Interleaved {
    fn new(dt: DType, rows: usize, cols: usize, file_bytes: &[u8]) -> Option<Interleaved> {
        let len = QMatrix::interleaved_len(dt, rows, cols)?;
        if !QMatrix::wants_interleaved(dt, rows) {
            return None;
        }
        let mut bytes = vec![0u8; len];
        QMatrix::interleave(dt, rows, cols, file_bytes, &mut bytes).expect("interleavable");
        Some(Interleaved { dt, rows, cols, bytes })
    }

    fn view(&self) -> QMatrix<'_> {
        QMatrix::interleaved(self.dt, self.rows, self.cols, &self.bytes).expect("interleaved view")
    }
}

/// Matrix-matrix products: 4 and 8 columns (batched decode), 32 and 512 (prefill).
fn matmul(c: &mut Criterion) {
    let pool = ThreadPool::new(THREADS);
    let shapes: [(DType, usize, usize); 7] = [
        (DType::Q4_K, 4096, 4096),
        (DType::Q5_K, 4096, 4096),
        (DType::Q6_K, 4096, 4096),
        (DType::Q8_0, 4096, 4096),
        (DType::Q5_0, 896, 4864),
        (DType::Q4_0, 4096, 4096),
        (DType::Q4_1, 1536, 576),
    ];
    for (dt, rows, cols) in shapes {
        let bytes = random_row(dt, rows * cols, 3);
        let w = QMatrix::new(dt, rows, cols, &bytes).expect("valid matrix");
        let interleaved = Interleaved::new(dt, rows, cols, &bytes);
        for n in [4usize, 8, 32, 512] {
            let mut x = Activations::new();
            x.load(&random_f32(n * cols, 1.0, 4), cols);
            let mut out = vec![0.0f32; n * rows];
            let mut g = heavy_group(c, format!("matmul_flop/{dt}/{rows}x{cols}/n{n}"));
            g.throughput(Throughput::Elements((2 * rows * cols * n) as u64));
            for k in tables() {
                if n >= 32 && k.name() == "scalar" {
                    continue;
                }
                g.bench_function(k.name(), |b| {
                    b.iter(|| {
                        x.data_mut();
                        matmul_with(k, &pool, &w, &mut x, &mut out);
                        black_box(&out);
                    })
                });
            }
            if let Some(wi) = &interleaved {
                let k = Kernels::best();
                g.bench_function(format!("{}-interleaved", k.name()), |b| {
                    b.iter(|| {
                        x.data_mut();
                        matmul_with(k, &pool, &wi.view(), &mut x, &mut out);
                        black_box(&out);
                    })
                });
            }
            g.finish();
        }
    }
}

/// The op tables to compare, like [`tables`]: the scalar table's ops and the best table's.
fn op_tables() -> Vec<&'static Ops> {
    let mut t = vec![Kernels::scalar().ops()];
    if Kernels::best().ops().name() != "scalar" {
        t.push(Kernels::best().ops());
    }
    t
}

fn light_group<'a>(c: &'a mut Criterion, name: String, elements: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(elements as u64));
    g
}

/// f32 ops at model sizes.
fn f32_ops(c: &mut Criterion) {
    let n = 4096;
    let x = random_f32(n, 2.0, 5);
    let w = random_f32(n, 1.0, 6);
    let mut out = vec![0.0f32; n];
    let mut g = light_group(c, format!("ops/rmsnorm/{n}"), n);
    for t in op_tables() {
        g.bench_function(t.name(), |b| b.iter(|| t.rmsnorm(black_box(&x), &w, 1e-5, &mut out)));
    }
    g.finish();

    let mut g = light_group(c, format!("ops/softmax/{n}"), n);
    for t in op_tables() {
        let mut y = x.clone();
        g.bench_function(t.name(), |b| {
            b.iter(|| {
                y.copy_from_slice(&x);
                t.softmax(&mut y);
            })
        });
    }
    g.finish();

    let ff = 14336;
    let gate = random_f32(ff, 4.0, 7);
    let up = random_f32(ff, 1.0, 8);
    let mut h = vec![0.0f32; ff];
    for (name, is_geglu) in [("swiglu", false), ("geglu", true)] {
        let mut g = light_group(c, format!("ops/{name}/{ff}"), ff);
        for t in op_tables() {
            g.bench_function(t.name(), |b| {
                b.iter(|| {
                    if is_geglu {
                        t.geglu(black_box(&gate), &up, &mut h)
                    } else {
                        t.swiglu(black_box(&gate), &up, &mut h)
                    }
                })
            });
        }
        g.finish();
    }

    // Attention helpers over one head of 128 and a 4096-position f16 cache.
    let (hd, ctx) = (128, 4096);
    let q = random_f32(hd, 1.0, 9);
    let kf = random_f32(hd * ctx, 1.0, 10);
    let mut k16 = vec![0u16; hd * ctx];
    Kernels::scalar().ops().f32_to_f16_row(&kf, &mut k16);
    let mut g = light_group(c, format!("ops/dot_f32_f16/{hd}x{ctx}"), hd * ctx);
    for t in op_tables() {
        g.bench_function(t.name(), |b| {
            b.iter(|| k16.chunks_exact(hd).map(|k| t.dot_f32_f16(black_box(&q), k)).sum::<f32>())
        });
    }
    g.finish();
    let mut acc = vec![0.0f32; hd];
    let mut g = light_group(c, format!("ops/axpy_f16/{hd}x{ctx}"), hd * ctx);
    for t in op_tables() {
        g.bench_function(t.name(), |b| {
            b.iter(|| k16.chunks_exact(hd).for_each(|v| t.axpy_f16(&mut acc, 0.01, black_box(v))))
        });
    }
    g.finish();
    let w = random_f32(ctx, 0.01, 5);
    let mut g = light_group(c, format!("ops/weighted_sum_f16/{hd}x{ctx}"), hd * ctx);
    for t in op_tables() {
        g.bench_function(t.name(), |b| b.iter(|| t.weighted_sum_f16(&mut acc, black_box(&w), &k16, hd)));
    }
    g.finish();
    // Prefill attention on widened caches: `nq` query heads sharing one kv head (a work item
    // of `attention`) against 512 positions, as Gemma 3 270M (256 × 4), Mistral-7B
    // (128 × 4), Qwen2.5-0.5B (64 × 7) and Llama-3.2-3B (128 × 3) run it. FLOPs per second.
    let pos = 512;
    for (hd, nq) in [(256, 4), (128, 4), (64, 7), (128, 3)] {
        let q = random_f32(hd * nq, 1.0, 12);
        let keys = random_f32(hd * pos, 1.0, 13);
        let mut scores = vec![0.0f32; nq * pos];
        let mut g = light_group(c, format!("ops/scores_widened/{hd}x{nq}x{pos}"), 2 * hd * nq * pos);
        for t in op_tables() {
            g.bench_function(t.name(), |b| {
                b.iter(|| t.scores_f16_widened(black_box(&q), nq, &keys, hd, 0.1, &mut scores))
            });
        }
        g.finish();
        let weights = random_f32(nq * pos, 0.01, 14);
        let mut o = vec![0.0f32; nq * hd];
        let mut g = light_group(c, format!("ops/weighted_sum_widened/{hd}x{nq}x{pos}"), 2 * hd * nq * pos);
        for t in op_tables() {
            g.bench_function(t.name(), |b| {
                b.iter(|| t.weighted_sum_f16_widened(&mut o, nq, black_box(&weights), &keys, hd))
            });
        }
        g.finish();
    }
    let mut g = light_group(c, format!("ops/f32_to_f16/{n}"), n);
    let mut h16 = vec![0u16; n];
    for t in op_tables() {
        g.bench_function(t.name(), |b| b.iter(|| t.f32_to_f16_row(black_box(&x), &mut h16)));
    }
    g.finish();

    // RoPE for 32 heads of 128 at one position: cached rows vs computing cos/sin.
    let p = RopeParams::new(RopeMode::Neox, 128, 1_000_000.0);
    let cache = RopeCache::new(p, None, 4096);
    let mut qh = random_f32(32 * 128, 1.0, 11);
    let mut g = light_group(c, "ops/rope/32x128".to_string(), 32 * 128);
    g.bench_function("cached", |b| b.iter(|| cache.apply(black_box(&mut qh), 128, 1234)));
    g.bench_function("uncached", |b| {
        b.iter(|| hearth_kernels::ops::rope::rope(&p, None, black_box(&mut qh), 128, 1234))
    });
    g.finish();
}

/// The cost of one empty dispatch: the floor under every matmul.
fn pool_dispatch(c: &mut Criterion) {
    let pool = ThreadPool::new(THREADS);
    let mut g = c.benchmark_group("pool/dispatch");
    g.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    g.bench_function(format!("{THREADS}threads"), |b| {
        b.iter(|| {
            pool.run(&|ith, nth| {
                black_box((ith, nth));
            })
        })
    });
    g.finish();
}

criterion_group!(benches, matvec, matvec_stream, matmul, f32_ops, pool_dispatch);
criterion_main!(benches);
