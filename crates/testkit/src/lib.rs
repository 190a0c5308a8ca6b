//! Test support shared by every crate's tests and benches.
//!
//! Fixtures are fetched by `cargo xtask fixtures` into a cache outside the repository
//! (`$HEARTH_FIXTURES`, default `~/.cache/hearth`). Tests ask for them here:
//!
//! ```no_run
//! let Some(model) = hearth_testkit::model(hearth_testkit::QWEN_05B) else { return };
//! ```
//!
//! When a fixture is missing the helper prints how to fetch it and returns `None`, so a
//! developer without the cache can still run the rest — except under `CI=true`, where a
//! missing fixture panics: CI never skips a test.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

mod golden;
pub use golden::{Chat, Completion, EmbedGolden, Golden, Message, Step, TokenizeCase};

/// SmolLM2-135M-Instruct, Q4_1 (`llama` architecture, `smollm` BPE).
pub const SMOLLM2_135M: &str = "smollm2-135m-instruct-q4_1";
/// Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (`qwen2`, mostly Q5_0/Q8_0).
pub const QWEN_05B: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m";
/// Gemma 3 270M, Q4_K_M (`gemma3`, SPM vocab, no chat template).
pub const GEMMA3_270M: &str = "gemma3-270m-q4_k_m";
/// all-MiniLM-L6-v2 converted to GGUF (BERT, WordPiece).
pub const MINILM_L6: &str = "all-minilm-l6-v2";
/// A shape-alike nomic-embed-text (`nomic-bert`: 2 blocks, random f16 weights, MiniLM's
/// vocabulary), written by `cargo xtask fixtures`.
pub const NOMIC_BERT_TINY: &str = "nomic-bert-tiny";

/// The three generative fixture models.
pub const GENERATIVE_MODELS: [&str; 3] = [SMOLLM2_135M, QWEN_05B, GEMMA3_270M];

/// Root of the fixture cache: `$HEARTH_FIXTURES`, else `~/.cache/hearth`.
pub fn fixtures_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HEARTH_FIXTURES").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("hearth")
}

/// True when running under CI (`CI=true` or `CI=1`).
pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"))
}

fn found(path: PathBuf) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    let how = if path.starts_with(fixtures_dir().join("shapes")) {
        "cargo xtask shapes"
    } else {
        "cargo xtask fixtures"
    };
    let msg = format!(
        "fixture {} is missing; run `{how}` to make it (cache: {})",
        path.display(),
        fixtures_dir().display()
    );
    if in_ci() {
        panic!("{msg} (CI=true: missing fixtures fail, they never skip)");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// Path of a fixture model GGUF, e.g. `model(QWEN_05B)`.
pub fn model(name: &str) -> Option<PathBuf> {
    found(fixtures_dir().join("models").join(format!("{name}.gguf")))
}

/// Path of one of llama.cpp's vocab-suite files, e.g. `vocab("ggml-vocab-qwen2.gguf.inp")`.
pub fn vocab(file: &str) -> Option<PathBuf> {
    found(fixtures_dir().join("vocab").join(file))
}

/// Any other file under the cache, e.g. `file("models/all-minilm-l6-v2/tokenizer.json")`.
pub fn file(rel: &str) -> Option<PathBuf> {
    found(fixtures_dir().join(rel))
}

/// The workspace root (where the top-level Cargo.toml is).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

/// The repository's copy of llama.cpp's golden outputs (`tests/golden/`).
pub fn golden_dir() -> PathBuf {
    workspace_root().join("tests").join("golden")
}
