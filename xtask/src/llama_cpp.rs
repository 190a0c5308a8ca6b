//! llama.cpp built once from the pinned llama-cpp-python sdist into the fixture cache:
//! `llama-bench`, the peer every speed figure of hearth is compared against,
//! `llama-server`, whose `/apply-template` renders the chat-template goldens, and
//! `llama-embedding`, whose vectors are the embedding goldens.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::fixtures::{cache_dir, download, llama_cpp_sdist};
use crate::util::run as sh;

/// Path of the built `llama-bench`, building it first when missing.
///
/// Built with `-march=native`, as llama.cpp is by default. Some VMs advertise AMX
/// (`amx_tile`, `amx_int8` in `/proc/cpuinfo`, e.g. Sapphire Rapids guests) but do not let a
/// process use it, and llama.cpp's AMX matmul then dies of SIGILL; there it is built again
/// without AMX (`build-noamx`), which is what llama.cpp can run on that box, and the fact is
/// printed.
pub fn llama_bench() -> Result<PathBuf> {
    let bin = build_target("build", &["-DLLAMA_BUILD_SERVER=OFF"], "llama-bench")?;
    if !dies_of_sigill(&bin)? {
        return Ok(bin);
    }
    eprintln!(
        "llama-bench: the -march=native build dies of SIGILL on this CPU (AMX advertised but not \
         usable); using a build without AMX"
    );
    let no_amx = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16";
    let bin = build_target(
        "build-noamx",
        &[
            "-DLLAMA_BUILD_SERVER=OFF",
            &format!("-DCMAKE_C_FLAGS={no_amx}"),
            &format!("-DCMAKE_CXX_FLAGS={no_amx}"),
        ],
        "llama-bench",
    )?;
    if dies_of_sigill(&bin)? {
        bail!("{} dies of SIGILL even without AMX: run it by hand to see the instruction", bin.display());
    }
    Ok(bin)
}

/// Whether `llama-bench` dies of an illegal instruction on a tiny run of the smallest
/// fixture (prompt and generation, so the matmul kernels it would pick run).
fn dies_of_sigill(bin: &Path) -> Result<bool> {
    use std::os::unix::process::ExitStatusExt;
    let model = cache_dir().join("models").join("smollm2-135m-instruct-q4_1.gguf");
    if !model.exists() {
        crate::fixtures::run(crate::fixtures::Args::default())?;
    }
    let out = Command::new(bin)
        .args(["-m", &model.to_string_lossy(), "-t", "1", "-r", "1", "-p", "64", "-n", "2"])
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    Ok(out.status.signal() == Some(4))
}

/// Path of the built `llama-server` (its own build tree, so the bench build keeps its
/// flags), building it first when missing. No TLS, no curl: it only serves loopback.
pub fn llama_server() -> Result<PathBuf> {
    build_target(
        "build-server",
        &["-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_TOOLS=ON"],
        "llama-server",
    )
}

/// Path of the built `llama-embedding` (an example program, so its own build tree with
/// examples on; the other trees keep their flags), building it first when missing.
pub fn llama_embedding() -> Result<PathBuf> {
    build_target(
        "build-embedding",
        &["-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_EXAMPLES=ON"],
        "llama-embedding",
    )
}

/// The unpacked llama.cpp source tree of the pinned sdist (downloaded and unpacked first
/// when missing).
pub fn source() -> Result<PathBuf> {
    let src = cache_dir().join("llama.cpp").join("src");
    if !src.join("CMakeLists.txt").exists() {
        let sdist = llama_cpp_sdist();
        let tarball = download(&cache_dir(), &sdist)?;
        unpack_vendor(&tarball, &sdist.member, &src)?;
    }
    Ok(src)
}

/// Configures `build_dir` (under the cache's `llama.cpp/`) with the common release flags
/// plus `flags`, builds `target` and returns `bin/<target>`. A stamp holding the sdist's
/// sha256 skips all of it once built.
fn build_target(build_dir: &str, flags: &[&str], target: &str) -> Result<PathBuf> {
    let root = cache_dir().join("llama.cpp");
    let sdist = llama_cpp_sdist();
    let build = root.join(build_dir);
    let bin = build.join("bin").join(target);
    let stamp = build.join(format!(".built-{target}"));
    if bin.exists() && fs::read_to_string(&stamp).map(|s| s.trim() == sdist.sha256).unwrap_or(false) {
        return Ok(bin);
    }
    let src = source()?;
    let cmake = cmake()?;
    let mut configure = Command::new(&cmake);
    configure.args([
        "-S",
        &src.to_string_lossy(),
        "-B",
        &build.to_string_lossy(),
        "-DCMAKE_BUILD_TYPE=Release",
        "-DGGML_NATIVE=ON",
        "-DLLAMA_CURL=OFF",
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
    ]);
    configure.args(flags);
    sh(&mut configure)?;
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get()).to_string();
    sh(Command::new(&cmake).args(["--build", &build.to_string_lossy(), "--target", target, "-j", &jobs]))?;
    if !bin.exists() {
        bail!("the build finished but {} is missing", bin.display());
    }
    fs::write(&stamp, &sdist.sha256)?;
    Ok(bin)
}

/// Extracts `prefix` (the vendored llama.cpp tree) of the sdist into `dest`.
fn unpack_vendor(tarball: &Path, prefix: &str, dest: &Path) -> Result<()> {
    eprintln!("llama.cpp: unpacking {} into {}", tarball.display(), dest.display());
    let tmp = dest.with_extension("part");
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(File::open(tarball)?));
    for entry in tar.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let Some(rel) = path.strip_prefix(prefix) else { continue };
        if rel.is_empty() || rel.split('/').any(|c| c == "..") {
            continue;
        }
        let out = tmp.join(rel);
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent)?;
        }
        entry.unpack(&out).with_context(|| format!("unpacking {rel}"))?;
    }
    let _ = fs::remove_dir_all(dest);
    fs::rename(&tmp, dest)?;
    Ok(())
}

/// `cmake` from PATH, or installed from PyPI into a venv in the cache when missing.
fn cmake() -> Result<PathBuf> {
    if Command::new("cmake").arg("--version").output().map(|o| o.status.success()).unwrap_or(false) {
        return Ok(PathBuf::from("cmake"));
    }
    let venv = cache_dir().join("venv-cmake");
    let bin = venv.join("bin").join("cmake");
    if !bin.exists() {
        eprintln!("llama.cpp: cmake not found; installing it from PyPI into {}", venv.display());
        sh(Command::new("python3").args(["-m", "venv", &venv.to_string_lossy()]))?;
        sh(Command::new(venv.join("bin").join("pip")).args(["install", "--quiet", "cmake"]))?;
    }
    Ok(bin)
}
