//! `cargo xtask embed-goldens`: llama.cpp's embeddings of [`TEXTS`], the reference
//! `hearth_models::Embedder` is checked against (cosine ≥ 0.999 per text,
//! `crates/models/tests/embed.rs`).
//!
//! Builds `llama-embedding` from the pinned sdist (see `llama_cpp.rs`) and runs it once per
//! fixture embedder with all texts in one call, the model's own pooling (no `--pooling`),
//! L2 normalisation (`--embd-normalize 2`, its default, spelled out) and JSON output; writes
//! `tests/golden/embeddings_<model>.json` with the texts, the vectors, the model's sha256
//! and the flags.

use std::fs;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use hearth_gguf::GgufFile;
use serde_json::{Value, json};

use crate::fixtures::{cache_dir, llama_cpp_sdist};
use crate::util::root;

/// The fixture embedders: the real all-MiniLM-L6-v2 and the shape-alike nomic-bert.
const MODELS: [&str; 2] = ["all-minilm-l6-v2", crate::nomic_tiny::NAME];

/// Separates the texts on llama-embedding's command line (texts may hold newlines).
const SEPARATOR: &str = "<#hearth-sep#>";

/// The texts: short and long, punctuation, numbers, casing, accents, other scripts, emoji,
/// a newline and a tab, a control-token text, a near-paraphrase pair and a negation pair.
pub const TEXTS: [&str; 22] = [
    "Hello, world!",
    "turn on dark mode",
    "turn off dark mode",
    "Switch the interface to the dark theme.",
    "The invoice for order #4521 totals $1,299.99, due on 2025-03-14.",
    "What's the capital of France? It's Paris.",
    "A quick brown fox jumps over the lazy dog.",
    "Café déjà vu: naïve résumé façade, Zürich, São Paulo.",
    "東京は日本の首都です。",
    "Москва — столица России.",
    "I love this! 😀🎉 Best day ever!!!",
    "x",
    "THE COMMITTEE WILL RECONVENE AT 3 P.M. SHARP.",
    "line one\nline two\tand a tab",
    "Rust's borrow checker rejects two mutable references to the same value at once.",
    "The patient was given 250 mg of amoxicillin three times a day for 7 days.",
    "Is it true that water boils at 100 °C at sea level?",
    "The cat sat on the mat.",
    "The cat did not sit on the mat.",
    "[SEP] tokens in user text are parsed as control tokens by llama.cpp",
    "e-mail: someone@example.com, url: https://example.org/a?b=c&d=e",
    "In the beginning of the twentieth century, the small fishing village on the northern coast \
     slowly grew into a busy harbour town, as merchants from the south arrived with grain, timber \
     and salt, built warehouses along the river, and brought with them new customs, new languages \
     and, eventually, the railway that connected the town to the capital and changed it forever.",
];

/// Arguments of `embed-goldens`.
#[derive(clap::Args)]
pub struct Args {
    /// Threads for llama-embedding.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// Runs llama-embedding on every fixture embedder and writes the golden files.
pub fn run(args: Args) -> Result<()> {
    let bin = crate::llama_cpp::llama_embedding()?;
    let sdist = llama_cpp_sdist();
    for name in MODELS {
        let gguf = cache_dir().join("models").join(format!("{name}.gguf"));
        ensure!(gguf.exists(), "{} missing: run `cargo xtask fixtures` first", gguf.display());
        let file = GgufFile::open(&gguf)?;
        let arch = file.metadata().architecture()?.to_owned();
        let dim = file.metadata().usize(&format!("{arch}.embedding_length"))?;
        let pooling = match file.metadata().u32(&format!("{arch}.pooling_type"))? {
            1 => "mean",
            2 => "cls",
            3 => "last",
            other => bail!("{name}: pooling type {other} is not a sentence embedding"),
        };
        drop(file);
        let flags = [
            "--embd-normalize",
            "2",
            "--embd-output-format",
            "json",
            "-c",
            "2048",
            "-b",
            "2048",
            "-ub",
            "2048",
        ];
        eprintln!("embed-goldens: {name}: llama-embedding on {} texts", TEXTS.len());
        let out = Command::new(&bin)
            .args(["-m", &gguf.to_string_lossy(), "-t", &args.threads.to_string()])
            .args(flags)
            .args(["--embd-separator", SEPARATOR, "-p", &TEXTS.join(SEPARATOR)])
            .output()
            .with_context(|| format!("running {}", bin.display()))?;
        if !out.status.success() {
            bail!("llama-embedding failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
        }
        let embeddings = parse(&String::from_utf8_lossy(&out.stdout))
            .with_context(|| format!("{name}: reading llama-embedding's JSON output"))?;
        ensure!(
            embeddings.len() == TEXTS.len(),
            "{name}: {} vectors for {} texts",
            embeddings.len(),
            TEXTS.len()
        );
        ensure!(embeddings.iter().all(|v| v.len() == dim), "{name}: vectors are not {dim} long");
        let sha256 = hearth_hub::download::sha256_file(&gguf)?;
        let golden = json!({
            "reference": format!(
                "llama.cpp vendored in llama-cpp-python {} (sdist sha256 {}): llama-embedding -t {} {} (pooling from the GGUF), texts joined by --embd-separator",
                sdist.version, sdist.sha256, args.threads, flags.join(" ")
            ),
            "model": format!("{name}.gguf"),
            "sha256": sha256,
            "pooling": pooling,
            "dim": dim,
            "texts": TEXTS,
            "embeddings": "@@VECTORS@@",
        });
        let path = root().join("tests").join("golden").join(format!("embeddings_{name}.json"));
        fs::write(&path, render(&golden, &embeddings)?)?;
        eprintln!("embed-goldens: wrote {}", path.display());
    }
    Ok(())
}

/// The vectors of llama-embedding's `--embd-output-format json` (an OpenAI-style
/// `{"object": "list", "data": [{"embedding": [...]}, ...]}` on stdout, between log lines).
fn parse(stdout: &str) -> Result<Vec<Vec<f32>>> {
    let start = stdout.find("{\n  \"object\"").context("no JSON object in the output")?;
    let mut de = serde_json::Deserializer::from_str(&stdout[start..]).into_iter::<Value>();
    let v = de.next().context("empty JSON")??;
    let data = v["data"].as_array().context("no data array")?;
    data.iter()
        .map(|d| {
            d["embedding"]
                .as_array()
                .context("no embedding")?
                .iter()
                .map(|x| x.as_f64().map(|x| x as f32).context("not a number"))
                .collect()
        })
        .collect()
}

/// Pretty JSON with each vector on one line, its numbers as f32 shortest round-trip
/// decimals (the file stays small, readable and diffs by text).
fn render(golden: &Value, embeddings: &[Vec<f32>]) -> Result<String> {
    let lines: Vec<String> = embeddings
        .iter()
        .map(|v| serde_json::to_string(v).map(|s| format!("    {s}")))
        .collect::<Result<_, _>>()?;
    let text = serde_json::to_string_pretty(golden)?
        .replace("\"@@VECTORS@@\"", &format!("[\n{}\n  ]", lines.join(",\n")));
    Ok(text + "\n")
}
