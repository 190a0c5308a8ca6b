//! `cargo xtask dist`: one static x86_64 Linux binary, `target/dist/hearth`, that runs on a
//! machine without Rust: glibc linked statically (`+crt-static`), TLS through rustls, no
//! OpenSSL anywhere in the dependency tree. Checked with `ldd` and `hearth --version`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{root, run as sh};

const TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// Arguments of `dist`.
#[derive(clap::Args)]
pub struct Args {}

/// Builds, copies and checks the binary.
pub fn run(_args: Args) -> Result<()> {
    if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        bail!("`cargo xtask dist` builds on an x86_64 Linux host");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    no_openssl(&cargo)?;

    // `+crt-static` alone gives a static PIE, which glibc's ldd reports as "statically
    // linked"; `relocation-model=static` makes it a classic static executable, which ldd
    // reports as "not a dynamic executable" and which has no startup self-relocation.
    let rustflags = "-C target-feature=+crt-static -C relocation-model=static";
    // The release profile keeps debug info for profiling; a shipped binary drops it (~90 MB
    // with it).
    sh(Command::new(&cargo)
        .current_dir(root())
        .env("RUSTFLAGS", rustflags)
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        .args(["build", "--release", "--target", TRIPLE, "-p", "hearth"]))?;

    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    let built = target.join(TRIPLE).join("release").join("hearth");
    let dist = target.join("dist");
    std::fs::create_dir_all(&dist).with_context(|| format!("creating {}", dist.display()))?;
    let out = dist.join("hearth");
    std::fs::copy(&built, &out)
        .with_context(|| format!("copying {} to {}", built.display(), out.display()))?;

    // Either answer means no shared library is loaded ("statically linked" would be a
    // static PIE, e.g. when RUSTFLAGS in the environment override ours).
    let ldd = Command::new("ldd").arg(&out).output().context("running ldd")?;
    let said = format!("{}{}", String::from_utf8_lossy(&ldd.stdout), String::from_utf8_lossy(&ldd.stderr));
    println!("$ ldd {}\n{}", out.display(), said.trim_end());
    if !(said.contains("not a dynamic executable") || said.contains("statically linked")) {
        bail!("{} is dynamically linked", out.display());
    }

    let version = Command::new(&out).arg("--version").output().context("running hearth --version")?;
    if !version.status.success() {
        bail!("{} --version failed: {}", out.display(), String::from_utf8_lossy(&version.stderr));
    }
    let size = std::fs::metadata(&out).map_or(0, |m| m.len());
    println!("$ {} --version\n{}", out.display(), String::from_utf8_lossy(&version.stdout).trim_end());
    println!("{}: {:.1} MB, static, x86_64 Linux", out.display(), size as f64 / 1e6);
    Ok(())
}

/// Fails if any crate of the workspace, on any target, depends on OpenSSL.
fn no_openssl(cargo: &str) -> Result<()> {
    for krate in ["openssl-sys", "openssl", "native-tls"] {
        let out = Command::new(cargo)
            .current_dir(root())
            .args(["tree", "--workspace", "--target", "all", "-i", krate])
            .output()
            .context("running cargo tree")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() && !stdout.trim().is_empty() {
            bail!("{krate} is in the dependency tree (hearth must use rustls):\n{stdout}");
        }
        if !out.status.success() && !stderr.contains("did not match any packages") {
            bail!("cargo tree -i {krate} failed: {stderr}");
        }
        println!("$ cargo tree -i {krate}: not in the dependency tree");
    }
    Ok(())
}
