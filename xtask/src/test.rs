//! `cargo xtask test`: the whole suite, as CI runs it: the lint gate first (it is the
//! cheapest to fail), then fixtures and the big shape-alike models, then the tests (the
//! workspace's with a throwaway PostgreSQL server, `cargo xtask postgres`, and a throwaway
//! Redis server, `cargo xtask redis`).

use std::process::Command;

use anyhow::Result;

use crate::util::{TEST_PROFILE, cargo, root, run as sh};

/// Arguments of `test`.
#[derive(clap::Args)]
pub struct Args {
    /// Skip the lint gate (`cargo fmt --check`, `cargo clippy -D warnings`) for local
    /// iteration; CI always runs it.
    #[arg(long)]
    pub no_lint: bool,
    /// Skip the aarch64/qemu runs: kernel tests and the dist binary end to end (they install
    /// Debian packages on first use).
    #[arg(long)]
    pub no_aarch64: bool,
}

/// The x86 kernel tables other than the best one, end to end and where the CPU lacks the
/// best one's features: the model parity tests (llama.cpp's golden tokens) with the AVX2
/// table forced, and the kernel tests on an emulated AVX2-only CPU (`qemu-x86_64 -cpu
/// Haswell`: AVX2 + FMA + F16C, no AVX-512), where the AVX-512 tables must not be offered
/// and nothing may raise an illegal instruction.
fn x86_tables() -> Result<()> {
    let cargo = cargo();
    sh(Command::new(&cargo).current_dir(root()).env("HEARTH_KERNELS", "avx2").args([
        "test",
        "--profile",
        TEST_PROFILE,
        "-p",
        "hearth-models",
        "--test",
        "parity",
    ]))?;
    if std::env::var("SKIP_INSTALL").as_deref() != Ok("1") {
        crate::apt::install(&["qemu-user"], false)?;
    }
    // The dot/dequantize/dispatch suite, and the batch kernels and matmul of the compute
    // suite (its f32-op tests are left out: qemu's emulated AVX2 signs some zeros of gelu
    // differently from real hardware).
    for filter in [&["--test", "kernels"][..], &["--test", "compute", "--", "batch::", "matmul::"]] {
        sh(Command::new(&cargo)
            .current_dir(root())
            .env("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER", "qemu-x86_64 -cpu Haswell")
            .args(["test", "--profile", TEST_PROFILE, "-p", "hearth-kernels"])
            .args(filter))?;
    }
    Ok(())
}

/// Runs every test.
pub fn run(args: Args) -> Result<()> {
    let started = std::time::Instant::now();
    let result = steps(args);
    eprintln!("cargo xtask test: {:.0} s in all", started.elapsed().as_secs_f64());
    result
}

/// Runs `f` as one named step and prints its wall time, so a slow run says where it went.
fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let started = std::time::Instant::now();
    let result = f();
    eprintln!("== step {name}: {:.0} s", started.elapsed().as_secs_f64());
    result
}

fn steps(args: Args) -> Result<()> {
    if !args.no_lint {
        step("lint", lint)?;
    }
    step("fixtures", || crate::fixtures::run(crate::fixtures::Args::default()))?;
    // The HTML report's screenshot test (crates/cli/tests/report_screenshot.rs) runs among the
    // workspace tests below and needs Debian's chromium.
    step("chromium", crate::report_screenshot::install)?;
    // The big-shape load test (tests/integration/big_shapes.rs) needs these (~11 GB).
    step("shapes", || {
        crate::shapes::run(crate::shapes::Args {
            only: crate::shapes::BIG.map(String::from).to_vec(),
            out: None,
        })
    })?;
    let cargo = cargo();
    // hearth-ledger's PostgreSQL tests get a server; it is stopped when `pg` drops, failure or not.
    let pg = crate::postgres::Server::start()?;
    // hearth-cache's Redis tests (two nodes sharing a cache) get one too, stopped the same way.
    let redis = crate::redis::Server::start()?;
    let mut workspace = Command::new(&cargo);
    workspace.current_dir(root()).args(["test", "--workspace", "--profile", TEST_PROFILE]);
    for (key, value) in pg.env()?.into_iter().chain(redis.env()?) {
        workspace.env(key, value);
    }
    step("workspace tests", || sh(&mut workspace))?;
    drop(redis);
    drop(pg);
    step("scalar kernels", || {
        sh(Command::new(&cargo).current_dir(root()).env("HEARTH_KERNELS", "scalar").args([
            "test",
            "--profile",
            TEST_PROFILE,
            "-p",
            "hearth-kernels",
        ]))
    })?;
    if cfg!(target_arch = "x86_64") {
        step("x86 tables", x86_tables)?;
    }
    if !args.no_aarch64 {
        step("aarch64 kernels", || crate::aarch64::run(crate::aarch64::Args {}))?;
        // The whole program on ARM: the static dist binary under qemu (run, tokenize, serve).
        step("aarch64 e2e", || crate::aarch64_e2e::run(crate::aarch64_e2e::Args::default()))?;
    }
    // `hearth serve` against the official OpenAI Python SDK.
    step("sdk", || crate::sdk::test(crate::sdk::TestArgs::default()))?;
    // Its tool calling on a subset of BFCL: every call must parse.
    step("bfcl", || crate::bfcl::ci(None))?;
    // deploy/oracle-free-tier.md, run as written in a sandbox.
    step("deploy-check", || crate::deploy_check::run(crate::deploy_check::Args {}))?;
    Ok(())
}

/// The lint gate: the tree is rustfmt-formatted (`rustfmt.toml`) and clippy finds nothing,
/// warnings included, in any crate or target (in the test profile like every other step, so
/// it reuses the test build's compiled build scripts and proc macros).
pub fn lint() -> Result<()> {
    let cargo = cargo();
    sh(Command::new(&cargo).current_dir(root()).args(["fmt", "--all", "--check"]))?;
    sh(Command::new(&cargo).current_dir(root()).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--profile",
        TEST_PROFILE,
        "--",
        "-D",
        "warnings",
    ]))
}
