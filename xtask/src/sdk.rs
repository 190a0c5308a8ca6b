//! `cargo xtask sdk-test` and `cargo xtask load`: `hearth serve` driven by the official
//! OpenAI and Anthropic Python SDKs (tests/sdk/), from a venv in the fixture cache with
//! pinned packages.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::fixtures::cache_dir;
use crate::util::{root, run as sh};

/// The model the SDK tests serve.
const MODEL: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m";

/// Arguments of `sdk-test`.
#[derive(clap::Args, Default)]
pub struct TestArgs {
    /// A hearth binary to test instead of building target/release-test/hearth.
    #[arg(long)]
    pub hearth: Option<PathBuf>,
    /// A fake-anthropic binary (the router test's remote) instead of building it.
    #[arg(long)]
    pub fake_anthropic: Option<PathBuf>,
}

/// Arguments of `load`.
#[derive(clap::Args)]
pub struct LoadArgs {
    /// Concurrent streaming clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Server slots (--parallel).
    #[arg(long, default_value_t = 4)]
    slots: usize,
    /// Tokens each client generates.
    #[arg(long, default_value_t = 64)]
    tokens: usize,
    /// Inference threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// A hearth binary instead of building target/release-test/hearth.
    #[arg(long)]
    hearth: Option<PathBuf>,
}

/// Runs tests/sdk/test_openai.py, then tests/sdk/test_anthropic.py (the `anthropic` SDK on
/// `/v1/messages`), test_tools.py, test_embeddings.py (`embeddings.create` on the MiniLM fixture), against `hearth serve` on the 0.5B fixture; then tests/sdk/test_router.py
/// (the `openai` SDK with `model: "auto"` against `hearth serve --config`, whose remote is the
/// `fake-anthropic` process).
pub fn test(args: TestArgs) -> Result<()> {
    let (python, hearth, model) = prepare(args.hearth)?;
    for script in ["test_openai.py", "test_anthropic.py", "test_tools.py"] {
        sh(Command::new(&python)
            .current_dir(root().join("tests/sdk"))
            .arg(script)
            .arg("--hearth")
            .arg(&hearth)
            .arg("--model")
            .arg(&model))?;
    }
    // `/v1/embeddings` on the MiniLM fixture, checked against llama.cpp's vectors.
    let embedder = cache_dir().join("models").join("all-minilm-l6-v2.gguf");
    if !embedder.exists() {
        bail!("{} is missing; run `cargo xtask fixtures` first", embedder.display());
    }
    sh(Command::new(&python)
        .current_dir(root().join("tests/sdk"))
        .arg("test_embeddings.py")
        .arg("--hearth")
        .arg(&hearth)
        .arg("--model")
        .arg(&model)
        .arg("--embedder")
        .arg(&embedder)
        .arg("--golden")
        .arg(root().join("tests/golden/embeddings_all-minilm-l6-v2.json")))?;
    let fake = match args.fake_anthropic {
        Some(f) => f,
        None => crate::util::test_bins()?.join("fake-anthropic"),
    };
    let fake =
        fake.canonicalize().with_context(|| format!("no fake-anthropic binary at {}", fake.display()))?;
    sh(Command::new(&python)
        .current_dir(root().join("tests/sdk"))
        .arg("test_router.py")
        .arg("--hearth")
        .arg(&hearth)
        .arg("--model")
        .arg(&model)
        .arg("--fake-anthropic")
        .arg(&fake))
}

/// Runs tests/sdk/load.py: concurrent streaming clients vs one client.
pub fn load(args: LoadArgs) -> Result<()> {
    let (python, hearth, model) = prepare(args.hearth)?;
    sh(Command::new(python)
        .current_dir(root().join("tests/sdk"))
        .arg("load.py")
        .arg("--hearth")
        .arg(&hearth)
        .arg("--model")
        .arg(&model)
        .args(["--clients", &args.clients.to_string(), "--slots", &args.slots.to_string()])
        .args(["--tokens", &args.tokens.to_string(), "--threads", &args.threads.to_string()]))
}

/// The venv's python, the hearth binary (built unless given) and the model path.
pub(crate) fn prepare(hearth: Option<PathBuf>) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let model = cache_dir().join("models").join(format!("{MODEL}.gguf"));
    if !model.exists() {
        bail!("{} is missing; run `cargo xtask fixtures` first", model.display());
    }
    let hearth = match hearth {
        Some(h) => h,
        None => crate::util::test_bins()?.join("hearth"),
    };
    let hearth =
        hearth.canonicalize().with_context(|| format!("no hearth binary at {}", hearth.display()))?;
    Ok((venv()?, hearth, model))
}

/// `$HEARTH_FIXTURES/venv-sdk` with tests/sdk/requirements.txt installed (again only when
/// the requirements change). Returns its python.
fn venv() -> Result<PathBuf> {
    let dir = cache_dir().join("venv-sdk");
    let python = dir.join("bin").join("python");
    let reqs_path = root().join("tests/sdk/requirements.txt");
    let reqs = fs::read_to_string(&reqs_path).with_context(|| format!("reading {}", reqs_path.display()))?;
    let stamp = dir.join(".hearth-requirements");
    if python.exists() && fs::read_to_string(&stamp).is_ok_and(|s| s == reqs) {
        return Ok(python);
    }
    if !python.exists() {
        let system = std::env::var("HEARTH_PYTHON").unwrap_or_else(|_| "python3".into());
        sh(Command::new(system).args(["-m", "venv"]).arg(&dir))
            .context("creating the SDK venv (Debian needs python3-venv)")?;
    }
    sh(Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-q", "-r"])
        .arg(&reqs_path))?;
    write(&stamp, &reqs)?;
    Ok(python)
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
