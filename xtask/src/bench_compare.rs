//! `cargo xtask bench-compare`: hearth and llama.cpp's llama-bench, alternately, on the same
//! GGUF files at each thread count; a table of pp512 / tg128 t/s with the ratio
//! hearth ÷ llama.cpp and tg as a share of the machine's bandwidth limit, written as JSON
//! and as an SVG chart of t/s per VPS tier (2 / 4 / 8 vCPU ≈ the $6 / $12 / $24 boxes).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::fixtures::cache_dir;
use crate::util::{root, run as sh};

/// Arguments of `bench-compare`.
#[derive(clap::Args)]
pub struct Args {
    /// Thread counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "2")]
    threads: Vec<usize>,
    /// Models: fixture or shape names (default: the three fixtures and four shapes).
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// Prompt tokens (pp test).
    #[arg(long, default_value_t = 512)]
    prompt: usize,
    /// Generated tokens (tg test).
    #[arg(long = "gen", default_value_t = 128)]
    gen_tokens: usize,
    /// Alternating rounds per model and thread count (each round runs llama-bench, then hearth).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Repetitions inside each program run.
    #[arg(long, default_value_t = 2)]
    reps: usize,
    /// Also measure hearth's batched decode with this many sequences (0 = skip).
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Output directory for bench-compare.json and bench-compare.svg.
    #[arg(long, default_value = "target/bench-compare")]
    out: PathBuf,
    /// Measure nothing: print the table and redraw the chart of an earlier run's
    /// bench-compare.json (into --out).
    #[arg(long)]
    from: Option<PathBuf>,
}

const DEFAULT_MODELS: [&str; 7] = [
    "qwen2.5-coder-0.5b-instruct-q4_k_m",
    "smollm2-135m-instruct-q4_1",
    "gemma3-270m-q4_k_m",
    "llama3.2-3b",
    "mistral-7b",
    "qwen2.5-coder-7b",
    "qwen2.5-coder-1.5b",
];

#[derive(Serialize, serde::Deserialize, Debug, Default, Clone)]
#[serde(default)]
struct Row {
    model: String,
    threads: usize,
    file_bytes: u64,
    bytes_per_token: u64,
    bandwidth_gbs: f64,
    llama_pp: Vec<f64>,
    llama_tg: Vec<f64>,
    hearth_pp: Vec<f64>,
    hearth_tg: Vec<f64>,
    hearth_tg_batch: Vec<f64>,
    /// The CPU and its SIMD flags ([`machine`]).
    machine: String,
}

/// The CPU model, its vCPU count and the SIMD flags that choose kernel tables, from
/// `/proc/cpuinfo` (e.g. `AMD EPYC, 2 vCPU, avx2 fma avx512f avx512bw avx512vl avx512_vnni
/// avx512_bf16`).
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    describe_cpu(&info)
}

fn describe_cpu(info: &str) -> String {
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    };
    let model = field("model name").or_else(|| field("CPU part")).unwrap_or_else(|| "unknown CPU".into());
    let cpus = info.lines().filter(|l| l.starts_with("processor")).count();
    let flags = field("flags").or_else(|| field("Features")).unwrap_or_default();
    let have: Vec<&str> = flags.split_whitespace().collect();
    let wanted = [
        "avx2",
        "fma",
        "avx512f",
        "avx512bw",
        "avx512vl",
        "avx512_vnni",
        "avx512_bf16",
        "asimd",
        "asimddp",
        "i8mm",
    ];
    let simd: Vec<&str> = wanted.into_iter().filter(|f| have.contains(f)).collect();
    format!("{model}, {cpus} vCPU, {}", simd.join(" "))
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 }
}

fn sd(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

fn model_path(name: &str) -> Result<PathBuf> {
    let fixture = cache_dir().join("models").join(format!("{name}.gguf"));
    if fixture.exists() {
        return Ok(fixture);
    }
    if let Some(shape) = crate::shapes::SHAPES.iter().find(|s| s.name == name) {
        crate::shapes::run(crate::shapes::Args { only: vec![name.to_owned()], out: None })?;
        return Ok(cache_dir().join("shapes").join(shape.file_name()));
    }
    bail!("unknown model {name}: not a fixture (run `cargo xtask fixtures`) nor a shape")
}

/// Runs the comparison.
pub fn run(args: Args) -> Result<()> {
    if let Some(from) = &args.from {
        let text = std::fs::read_to_string(from).with_context(|| format!("reading {}", from.display()))?;
        let mut rows: Vec<Row> =
            serde_json::from_str(&text).with_context(|| format!("{}", from.display()))?;
        for r in rows.iter_mut().filter(|r| r.machine.is_empty()) {
            // runs before the machine was recorded: this one's, as that run's was not kept
            r.machine = machine();
        }
        return write_results(&rows, &args);
    }
    crate::fixtures::run(crate::fixtures::Args::default())?;
    let llama = crate::llama_cpp::llama_bench()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    sh(Command::new(&cargo).current_dir(root()).args(["build", "--release", "-p", "hearth"]))?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    let hearth = target.join("release").join("hearth");
    let models: Vec<String> =
        if args.models.is_empty() { DEFAULT_MODELS.map(String::from).to_vec() } else { args.models.clone() };
    std::fs::create_dir_all(&args.out)?;

    let mut rows = Vec::new();
    for name in &models {
        let path = model_path(name)?;
        for &t in &args.threads {
            let mut row = Row { model: name.clone(), threads: t, machine: machine(), ..Row::default() };
            for round in 0..args.rounds {
                eprintln!("bench-compare: {name} t={t} round {}/{}", round + 1, args.rounds);
                let (pp, tg) = run_llama(&llama, &path, t, &args)?;
                row.llama_pp.extend(pp);
                row.llama_tg.extend(tg);
                run_hearth(&hearth, &path, t, &args, &mut row, round == 0)?;
            }
            print_row(&row, &args);
            rows.push(row);
        }
    }
    write_results(&rows, &args)
}

fn write_results(rows: &[Row], args: &Args) -> Result<()> {
    std::fs::create_dir_all(&args.out)?;
    println!();
    print_table(rows, args);
    let json = args.out.join("bench-compare.json");
    std::fs::write(&json, serde_json::to_string_pretty(rows)?)?;
    let svg = args.out.join("bench-compare.svg");
    std::fs::write(&svg, chart(rows, args))?;
    println!("\nwrote {} and {}", json.display(), svg.display());
    Ok(())
}

fn run_llama(bin: &Path, model: &Path, t: usize, a: &Args) -> Result<(Vec<f64>, Vec<f64>)> {
    let out = Command::new(bin)
        .args(["-m", &model.to_string_lossy(), "-t", &t.to_string(), "-r", &a.reps.to_string(), "-o", "json"])
        .args(["-p", &a.prompt.to_string(), "-n", &a.gen_tokens.to_string()])
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    if !out.status.success() {
        bail!("llama-bench failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).context("llama-bench JSON")?;
    let (mut pp, mut tg) = (Vec::new(), Vec::new());
    for test in v.as_array().context("llama-bench output is not an array")? {
        let samples: Vec<f64> = test["samples_ts"]
            .as_array()
            .map(|s| s.iter().filter_map(|x| x.as_f64()).collect())
            .unwrap_or_default();
        if test["n_prompt"].as_u64().unwrap_or(0) > 0 {
            pp.extend(samples);
        } else {
            tg.extend(samples);
        }
    }
    Ok((pp, tg))
}

fn run_hearth(bin: &Path, model: &Path, t: usize, a: &Args, row: &mut Row, with_batch: bool) -> Result<()> {
    let json = a.out.join("hearth-bench.tmp.json");
    let batches = if with_batch && a.batch > 1 { format!("1,{}", a.batch) } else { "1".into() };
    let mut cmd = Command::new(bin);
    cmd.args(["bench", "-m", &model.to_string_lossy(), "-t", &t.to_string(), "-r", &a.reps.to_string()])
        .args(["-p", &a.prompt.to_string(), "-n", &a.gen_tokens.to_string(), "-b", &batches])
        .args(["--json", &json.to_string_lossy()]);
    let out = cmd.output().with_context(|| format!("running {}", bin.display()))?;
    if !out.status.success() {
        bail!("hearth bench failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    row.file_bytes = v["file_bytes"].as_u64().unwrap_or(0);
    row.bytes_per_token = v["bytes_per_token"].as_u64().unwrap_or(0);
    if let Some(bw) = v["bandwidth_gbs"].as_array().and_then(|a| a.first()).and_then(|p| p[1].as_f64()) {
        row.bandwidth_gbs = row.bandwidth_gbs.max(bw);
    }
    for r in v["results"].as_array().context("hearth bench JSON has no results")? {
        let samples: Vec<f64> = r["samples"]
            .as_array()
            .map(|s| s.iter().filter_map(|x| x.as_f64()).collect())
            .unwrap_or_default();
        let test = r["test"].as_str().unwrap_or("");
        let batch = r["batch"].as_u64().unwrap_or(1);
        if test.starts_with("pp") {
            row.hearth_pp.extend(samples);
        } else if batch > 1 {
            row.hearth_tg_batch.extend(samples);
        } else {
            row.hearth_tg.extend(samples);
        }
    }
    Ok(())
}

fn limit(row: &Row) -> f64 {
    if row.bytes_per_token == 0 { f64::NAN } else { row.bandwidth_gbs * 1e9 / row.bytes_per_token as f64 }
}

fn print_row(r: &Row, a: &Args) {
    eprintln!(
        "  pp{}: hearth {:.1} vs llama.cpp {:.1} ({:.2}x); tg{}: hearth {:.2} vs {:.2} ({:.2}x), limit {:.2}",
        a.prompt,
        mean(&r.hearth_pp),
        mean(&r.llama_pp),
        mean(&r.hearth_pp) / mean(&r.llama_pp),
        a.gen_tokens,
        mean(&r.hearth_tg),
        mean(&r.llama_tg),
        mean(&r.hearth_tg) / mean(&r.llama_tg),
        limit(r)
    );
}

fn print_table(rows: &[Row], a: &Args) {
    let (p, g) = (a.prompt, a.gen_tokens);
    if let Some(r) = rows.first() {
        println!("machine: {}\n", r.machine);
    }
    println!(
        "| model | threads | pp{p} hearth | pp{p} llama.cpp | ratio | tg{g} hearth | tg{g} llama.cpp | ratio | bw limit t/s | tg % of limit | tg{g} x{} aggregate |",
        a.batch
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let lim = limit(r);
        println!(
            "| {} | {} | {:.1} ± {:.1} | {:.1} ± {:.1} | {:.2}x | {:.2} ± {:.2} | {:.2} ± {:.2} | {:.2}x | {:.1} | {:.0}% | {} |",
            r.model,
            r.threads,
            mean(&r.hearth_pp),
            sd(&r.hearth_pp),
            mean(&r.llama_pp),
            sd(&r.llama_pp),
            mean(&r.hearth_pp) / mean(&r.llama_pp),
            mean(&r.hearth_tg),
            sd(&r.hearth_tg),
            mean(&r.llama_tg),
            sd(&r.llama_tg),
            mean(&r.hearth_tg) / mean(&r.llama_tg),
            lim,
            100.0 * mean(&r.hearth_tg) / lim,
            if r.hearth_tg_batch.is_empty() {
                "-".to_owned()
            } else {
                format!(
                    "{:.2} ({:.2}x one sequence)",
                    mean(&r.hearth_tg_batch),
                    mean(&r.hearth_tg_batch) / mean(&r.hearth_tg)
                )
            },
        );
    }
}

/// A model's name without the words that make labels collide (`-instruct`, the quant type).
fn short_name(m: &str) -> String {
    let m = m.replace("-instruct", "");
    match m.rsplit_once('-') {
        Some((base, q)) if q.starts_with('q') && q.contains('_') => base.to_owned(),
        _ => m,
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Grouped bars: one panel per test (pp, tg), one group per model, bars per thread tier,
/// hearth solid and llama.cpp hatched-light beside it.
fn chart(rows: &[Row], a: &Args) -> String {
    let models: Vec<&str> = {
        let mut m: Vec<&str> = Vec::new();
        for r in rows {
            if !m.contains(&r.model.as_str()) {
                m.push(&r.model);
            }
        }
        m
    };
    let threads: Vec<usize> = {
        let mut t: Vec<usize> = rows.iter().map(|r| r.threads).collect();
        t.sort_unstable();
        t.dedup();
        t
    };
    let tier = |t: usize| match t {
        2 => "2 vCPU (~$6/mo)".to_owned(),
        4 => "4 vCPU (~$12/mo)".to_owned(),
        8 => "8 vCPU (~$24/mo)".to_owned(),
        n => format!("{n} threads"),
    };
    let colors = ["#d9480f", "#1971c2", "#2f9e44", "#7048e8"];
    let (w, panel_h, left, top) = (1100.0, 300.0, 70.0, 40.0);
    let group_w = (w - left - 20.0) / models.len().max(1) as f64;
    let bar_w = group_w / (threads.len() as f64 * 2.0 + 1.0);
    let mut s = String::new();
    let h = top + 2.0 * (panel_h + 60.0) + 60.0;
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="20" font-size="15">hearth vs llama.cpp (solid: hearth, light: llama.cpp), tokens/s</text>"#
    );
    let machine = rows.first().map_or_else(machine, |r| r.machine.clone());
    let only = if threads.len() == 1 {
        format!(" · {} only: no larger machine was measured", tier(threads[0]))
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="{}" font-size="11">{}{only} · cargo xtask bench-compare</text>"#,
        h - 4.0,
        xml_escape(&machine)
    );
    for (pi, (label, pick_h, pick_l)) in [
        (format!("pp{} (prompt processing)", a.prompt), 0usize, 0usize),
        (format!("tg{} (generation)", a.gen_tokens), 1, 1),
    ]
    .into_iter()
    .enumerate()
    {
        let y0 = top + pi as f64 * (panel_h + 60.0) + 20.0;
        let val = |r: &Row, hearth: bool| match (hearth, pick_h.max(pick_l)) {
            (true, 0) => mean(&r.hearth_pp),
            (false, 0) => mean(&r.llama_pp),
            (true, _) => mean(&r.hearth_tg),
            (false, _) => mean(&r.llama_tg),
        };
        let max = rows
            .iter()
            .flat_map(|r| [val(r, true), val(r, false)])
            .filter(|v| v.is_finite())
            .fold(1.0f64, f64::max);
        let _ = writeln!(s, r#"<text x="{left}" y="{}" font-size="13">{label}</text>"#, y0 - 6.0);
        let _ = writeln!(
            s,
            r#"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/>"#,
            y0 + panel_h,
            w - 10.0,
            y0 + panel_h
        );
        for (mi, m) in models.iter().enumerate() {
            let gx = left + mi as f64 * group_w;
            for (ti, &t) in threads.iter().enumerate() {
                let Some(r) = rows.iter().find(|r| r.model == *m && r.threads == t) else { continue };
                for (k, hearth) in [true, false].into_iter().enumerate() {
                    let v = val(r, hearth);
                    if !v.is_finite() {
                        continue;
                    }
                    let bh = panel_h * v / max;
                    let x = gx + bar_w * (0.5 + (ti * 2 + k) as f64);
                    let op = if hearth { "1.0" } else { "0.35" };
                    let _ = writeln!(
                        s,
                        r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="{}" fill-opacity="{op}"><title>{m} {} {}: {v:.2} t/s</title></rect>"#,
                        y0 + panel_h - bh,
                        bar_w * 0.9,
                        colors[ti % colors.len()],
                        tier(t),
                        if hearth { "hearth" } else { "llama.cpp" },
                    );
                    if hearth {
                        // the value and its ratio to llama.cpp's
                        let ratio = v / val(r, false);
                        let _ = writeln!(
                            s,
                            r#"<text x="{x:.1}" y="{:.1}" font-size="9">{v:.0} ({ratio:.2}x)</text>"#,
                            y0 + panel_h - bh - 2.0
                        );
                    }
                }
            }
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10">{}</text>"#,
                gx + 2.0,
                y0 + panel_h + 14.0,
                short_name(m)
            );
        }
    }
    for (ti, &t) in threads.iter().enumerate() {
        let y = h - 26.0;
        let x = left + ti as f64 * 200.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{y}">{}</text>"#,
            y - 10.0,
            colors[ti % colors.len()],
            x + 16.0,
            tier(t)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_descriptions_name_the_model_and_the_simd_flags_that_pick_tables() {
        let x86 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx2 fma avx512f avx512bw avx512vl avx512_vnni avx512_bf16 x2apic\n\nprocessor\t: 1\nmodel name\t: AMD EPYC\n";
        assert_eq!(
            describe_cpu(x86),
            "AMD EPYC, 2 vCPU, avx2 fma avx512f avx512bw avx512vl avx512_vnni avx512_bf16"
        );
        let arm = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp\nCPU part\t: 0xd0c\n";
        assert_eq!(describe_cpu(arm), "0xd0c, 1 vCPU, asimd asimddp");
        assert_eq!(describe_cpu(""), "unknown CPU, 0 vCPU, ");
    }

    #[test]
    fn a_single_thread_tier_chart_says_so_and_names_the_machine() {
        let args = Args {
            threads: vec![2],
            models: vec![],
            prompt: 512,
            gen_tokens: 128,
            rounds: 1,
            reps: 1,
            batch: 4,
            out: PathBuf::from("unused"),
            from: None,
        };
        let row = Row {
            model: "m".into(),
            threads: 2,
            machine: "AMD EPYC <x>, 2 vCPU, avx2".into(),
            llama_pp: vec![10.0],
            hearth_pp: vec![20.0],
            llama_tg: vec![5.0],
            hearth_tg: vec![6.0],
            ..Row::default()
        };
        let svg = chart(&[row], &args);
        assert!(svg.contains("AMD EPYC &lt;x&gt;, 2 vCPU, avx2 · 2 vCPU (~$6/mo) only"), "{svg}");
        assert!(svg.contains("m 2 vCPU (~$6/mo) hearth: 6.00 t/s"), "{svg}");
        assert!(svg.contains("6 (1.20x)"), "{svg}");
        assert_eq!(short_name("qwen2.5-coder-0.5b-instruct-q4_k_m"), "qwen2.5-coder-0.5b");
        assert_eq!(short_name("smollm2-135m-instruct-q4_1"), "smollm2-135m");
        assert_eq!(short_name("mistral-7b"), "mistral-7b");
    }
}
