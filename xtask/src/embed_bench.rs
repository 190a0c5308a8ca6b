//! `cargo xtask embed-bench`: embedding throughput of hearth and llama.cpp's
//! `llama-embedding`, alternately, on the same GGUF files: one batch of 32 texts (the
//! embed-goldens texts, repeated), texts/s and tokens/s, best of `--rounds`.
//!
//! What is timed, on both sides, is the encoder pass over the whole batch with pooling and
//! normalisation, after the model is loaded and the texts tokenized:
//! - hearth: `hearth embed`'s own measurement around `Embedder::embed_tokens` (the
//!   "in X ms" of its summary on stderr);
//! - llama.cpp: from its `batch_decode: n_tokens = …` log line (written just before the
//!   decode) to its `llama_perf_context_print` line (after the vectors are printed: 32 short
//!   lines and the similarity matrix), from the log's own timestamps (`-lv 4 --perf`), with
//!   its warm-up run on, as by default.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use crate::fixtures::cache_dir;
use crate::util::{root, run as sh};

/// Arguments of `embed-bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Threads for both programs.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Alternating rounds (each runs llama-embedding, then hearth); the best is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Texts in the batch.
    #[arg(long, default_value_t = 32)]
    texts: usize,
}

const MODELS: [&str; 2] = ["all-minilm-l6-v2", crate::nomic_tiny::NAME];
const SEPARATOR: &str = "<#hearth-sep#>";

/// Runs the comparison and prints a table.
pub fn run(args: Args) -> Result<()> {
    ensure!(args.rounds > 0 && args.texts > 0, "--rounds and --texts must be at least 1");
    let llama = crate::llama_cpp::llama_embedding()?;
    sh(Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())).current_dir(root()).args([
        "build",
        "--release",
        "-p",
        "hearth",
    ]))?;
    let hearth = root().join("target").join("release").join("hearth");
    let texts: Vec<&str> = crate::embed_goldens::TEXTS.iter().copied().cycle().take(args.texts).collect();
    println!(
        "| model | threads | texts | tokens | hearth texts/s | llama.cpp texts/s | hearth ÷ llama.cpp |"
    );
    println!("|---|---|---|---|---|---|---|");
    for name in MODELS {
        let gguf = cache_dir().join("models").join(format!("{name}.gguf"));
        ensure!(gguf.exists(), "{} missing: run `cargo xtask fixtures` first", gguf.display());
        let (mut best_h, mut best_l, mut tokens) = (f64::MAX, f64::MAX, 0);
        for round in 0..args.rounds {
            let l = time_llama(&llama, &gguf, &texts, args.threads)?;
            let (h, n) = time_hearth(&hearth, &gguf, &texts, args.threads)?;
            eprintln!(
                "embed-bench: {name} round {round}: llama.cpp {l:.1} ms, hearth {h:.1} ms ({n} tokens)"
            );
            (best_h, best_l, tokens) = (best_h.min(h), best_l.min(l), n);
        }
        let per_s = |ms: f64| texts.len() as f64 / (ms / 1e3);
        println!(
            "| {name} | {} | {} | {tokens} | {:.1} | {:.1} | {:.2} |",
            args.threads,
            texts.len(),
            per_s(best_h),
            per_s(best_l),
            best_l / best_h
        );
    }
    Ok(())
}

/// Milliseconds of hearth's embedding pass, and the batch's token count.
fn time_hearth(bin: &Path, gguf: &Path, texts: &[&str], threads: usize) -> Result<(f64, usize)> {
    let out = Command::new(bin)
        .args(["embed", "--model", &gguf.to_string_lossy(), "--threads", &threads.to_string()])
        .args(["--"])
        .args(texts)
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("hearth embed failed: {stderr}");
    }
    // "<n> texts, <t> tokens in <ms> ms (...)"
    let line =
        stderr.lines().find(|l| l.contains(" tokens in ")).context("no timing line from hearth embed")?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let tokens = words.get(2).and_then(|w| w.parse().ok()).context("token count")?;
    let ms = words.get(5).and_then(|w| w.parse().ok()).context("milliseconds")?;
    Ok((ms, tokens))
}

/// Milliseconds from llama-embedding's decode log line to its perf line.
fn time_llama(bin: &PathBuf, gguf: &Path, texts: &[&str], threads: usize) -> Result<f64> {
    let out = Command::new(bin)
        .args(["-m", &gguf.to_string_lossy(), "-t", &threads.to_string()])
        .args(["-c", "2048", "-b", "2048", "-ub", "2048", "--perf", "-lv", "4"])
        .args(["--embd-separator", SEPARATOR, "-p", &texts.join(SEPARATOR)])
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("llama-embedding failed: {log}");
    }
    let stamp = |needle: &str| -> Result<f64> {
        let line = log.lines().find(|l| l.contains(needle)).with_context(|| format!("no '{needle}' line"))?;
        parse_stamp(line).with_context(|| format!("no timestamp on {line:?}"))
    };
    let decodes = log.lines().filter(|l| l.contains("batch_decode: n_tokens")).count();
    ensure!(decodes == 1, "llama-embedding split the batch into {decodes} decodes");
    Ok(stamp("llama_perf_context_print")? - stamp("batch_decode: n_tokens")?)
}

/// The `M.ss.mmm.uuu` timestamp common/log.cpp puts in front of a line, in milliseconds.
fn parse_stamp(line: &str) -> Option<f64> {
    let stamp = line.split_whitespace().next()?;
    let parts: Vec<f64> = stamp.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [m, s, ms, us] = parts[..] else { return None };
    Some((m * 60.0 + s) * 1e3 + ms + us / 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_timestamps_parse_to_milliseconds() {
        assert_eq!(parse_stamp("0.01.427.182 I llama_perf"), Some(1427.182));
        assert_eq!(parse_stamp("2.03.000.500 W x"), Some(123_000.5));
        assert_eq!(parse_stamp("01.427.182 I x"), None);
        assert_eq!(parse_stamp("no stamp"), None);
    }
}
