//! `cargo xtask aarch64-test`: the kernel tests cross-compiled for aarch64 and executed
//! under qemu-user, so the NEON code runs in CI on x86_64 machines.
//!
//! Self-contained (it does not need `../shared/scripts/aarch64-test.sh`, whose steps it
//! reproduces) and idempotent:
//!
//! 1. On Debian/Ubuntu x86_64, installs what is missing: `qemu-user`, the aarch64 C
//!    toolchain (linker), and Debian's `rustc-web`/`cargo-web` with the prebuilt aarch64
//!    std `libstd-rust-web-dev:arm64` (multiarch; nothing is downloaded from outside the
//!    distribution's archive). `apt-get update` runs only when a package is unknown.
//! 2. Runs `cargo test --profile release-test --target aarch64-unknown-linux-gnu -p
//!    hearth-kernels` from the workspace root with qemu as the runner, twice: `-cpu max`
//!    (NEON + dotprod: the scalar, `neon` and `neon-dotprod` tables are all tested) and
//!    `-cpu cortex-a53` (ARMv8.0, no dotprod: the fallback path and its detection).
//!
//! On an aarch64 host it simply runs the tests natively.
//!
//! Environment knobs: `AARCH64_TOOLCHAIN=debian|rustup` (default debian: `/usr/bin/cargo`
//! and `/usr/bin/rustc`; rustup needs `rustup target add aarch64-unknown-linux-gnu`),
//! `SKIP_INSTALL=1` (never touch apt), `HEARTH_QEMU_CPUS` (comma-separated qemu CPU
//! models, default `max,cortex-a53`), `CARGO_TARGET_DIR` (default `target/aarch64-qemu`,
//! kept apart from the host toolchain's builds).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::apt;
use crate::util::{root, run as sh};

const TARGET: &str = "aarch64-unknown-linux-gnu";
const PACKAGES: [&str; 6] = [
    "qemu-user",
    "gcc-aarch64-linux-gnu",
    "libc6-dev-arm64-cross",
    "rustc-web",
    "cargo-web",
    "libstd-rust-web-dev:arm64",
];

/// Arguments of `aarch64-test`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the aarch64 kernel tests.
pub fn run(_args: Args) -> Result<()> {
    if cfg!(target_arch = "aarch64") {
        return sh(Command::new(crate::util::cargo()).current_dir(root()).args([
            "test",
            "--profile",
            crate::util::TEST_PROFILE,
            "-p",
            "hearth-kernels",
        ]));
    }
    prepare()?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target").join("aarch64-qemu"));
    let cpus = std::env::var("HEARTH_QEMU_CPUS").unwrap_or_else(|_| "max,cortex-a53".into());
    for cpu in cpus.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let mut cmd = cargo(&target_dir)?;
        cmd.env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER", format!("qemu-aarch64 -cpu {cpu}")).args([
            "test",
            "--profile",
            crate::util::TEST_PROFILE,
            "--target",
            TARGET,
            "-p",
            "hearth-kernels",
        ]);
        sh(&mut cmd).with_context(|| format!("aarch64 kernel tests under qemu -cpu {cpu}"))?;
    }
    Ok(())
}

/// On an x86_64 Debian/Ubuntu host, installs what cross-building and qemu need (unless
/// `SKIP_INSTALL=1`).
pub fn prepare() -> Result<()> {
    if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        bail!("cross-building for aarch64 runs on x86_64 Linux (Debian/Ubuntu)");
    }
    if std::env::var("SKIP_INSTALL").as_deref() != Ok("1") {
        install()?;
    }
    Ok(())
}

/// A `cargo` for aarch64 (the toolchain of `AARCH64_TOOLCHAIN`, Debian's by default) with
/// the cross linker and C compiler set and `target_dir` as its target dir; the caller adds
/// the subcommand and `--target`.
pub fn cargo(target_dir: &Path) -> Result<Command> {
    let toolchain = std::env::var("AARCH64_TOOLCHAIN").unwrap_or_else(|_| "debian".into());
    let mut cmd = match toolchain.as_str() {
        "debian" => {
            let lib = Path::new("/usr/lib/rustlib").join(TARGET).join("lib");
            if !lib.is_dir() {
                bail!("the aarch64 std is missing ({}); install libstd-rust-web-dev:arm64", lib.display());
            }
            let mut c = Command::new("/usr/bin/cargo");
            c.env("RUSTC", "/usr/bin/rustc").env("RUSTDOC", "/usr/bin/rustdoc");
            c
        }
        "rustup" => Command::new("cargo"),
        other => bail!("AARCH64_TOOLCHAIN must be debian or rustup, not {other:?}"),
    };
    // Variables of the `cargo xtask` invocation that would point the inner cargo at the
    // host toolchain.
    for var in ["RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER", "RUSTUP_TOOLCHAIN", "QEMU_LD_PREFIX"] {
        cmd.env_remove(var);
    }
    if toolchain == "debian" {
        cmd.env_remove("CARGO");
    }
    // No `-L /usr/aarch64-linux-gnu` for qemu: the guest must use the multiarch glibc that
    // libstd-rust-web-dev:arm64 pulls in, not the cross one (mixing them hangs threads). A
    // static build (`cargo xtask dist`) links the cross toolchain's libc.a, the same glibc.
    cmd.current_dir(root())
        .env("CARGO_TARGET_DIR", target_dir)
        .env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", "aarch64-linux-gnu-gcc")
        .env("CC_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-gcc")
        .env("AR_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-ar");
    Ok(cmd)
}

/// Installs the missing Debian packages (and the arm64 architecture).
fn install() -> Result<()> {
    let foreign = apt::output(Command::new("dpkg").arg("--print-foreign-architectures")).context(
        "dpkg not found: aarch64-test needs Debian/Ubuntu (or SKIP_INSTALL=1 with the tools present)",
    )?;
    let mut need_update = false;
    if !foreign.lines().any(|l| l.trim() == "arm64") {
        sh(&mut apt::command(&["dpkg", "--add-architecture", "arm64"]))?;
        need_update = true;
    }
    apt::install(&PACKAGES, need_update)
}
