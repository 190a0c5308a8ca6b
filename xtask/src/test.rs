//! `cargo xtask test`: the whole suite, as CI runs it: the lint gate first (it is the
//! cheapest to fail), then fixtures and the big shape-alike models, then the tests (the
//! workspace's with a throwaway PostgreSQL server, `cargo xtask postgres`, and a throwaway
//! Redis server, `cargo xtask redis`).

use std::process::Command;

use anyhow::Result;

use crate::util::{TEST_PROFILE, cargo, root, run as sh, test_exe, test_exes};

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
    /// Run only this step (repeatable), by the name `== step NAME` prints, with `-` for
    /// spaces: `--only scalar-kernels --only x86-tables`. For local iteration on one step;
    /// the steps that run the test build's executables again build it first if needed.
    #[arg(long, value_name = "STEP")]
    pub only: Vec<String>,
}

/// Every step of `cargo xtask test`, in order (the names `--only` takes).
const STEPS: [&str; 12] = [
    "lint",
    "fixtures",
    "chromium",
    "shapes",
    "workspace tests",
    "scalar kernels",
    "x86 tables",
    "aarch64 kernels",
    "aarch64 e2e",
    "sdk",
    "bfcl",
    "deploy-check",
];

/// The x86 kernel tables other than the best one, end to end and where the CPU lacks the
/// best one's features: the model parity tests (llama.cpp's golden tokens) with the AVX2
/// table forced, and the kernel tests on an emulated AVX2-only CPU (`qemu-x86_64 -cpu
/// Haswell`: AVX2 + FMA + F16C, no AVX-512), where the AVX-512 tables must not be offered
/// and nothing may raise an illegal instruction.
fn x86_tables() -> Result<()> {
    // The executables the workspace tests built, run again (`util::test_exes`: no rebuild).
    sh(test_exe(&test_exes("crates/models")?, "parity")?.command(&[]).env("HEARTH_KERNELS", "avx2"))?;
    if std::env::var("SKIP_INSTALL").as_deref() != Ok("1") {
        crate::apt::install(&["qemu-user"], false)?;
    }
    // The dot/dequantize/dispatch suite, and the batch kernels and matmul of the compute
    // suite (its f32-op tests are left out: qemu's emulated AVX2 signs some zeros of gelu
    // differently from real hardware).
    let haswell = ["qemu-x86_64", "-cpu", "Haswell"];
    let kernels = test_exes("kernels")?;
    sh(&mut test_exe(&kernels, "kernels")?.command(&haswell))?;
    sh(test_exe(&kernels, "compute")?.command(&haswell).args(["batch::", "matmul::"]))?;
    Ok(())
}

/// Runs every test.
pub fn run(args: Args) -> Result<()> {
    let started = std::time::Instant::now();
    let result = steps(args);
    eprintln!("cargo xtask test: {:.0} s in all", started.elapsed().as_secs_f64());
    result
}

/// `name` as `--only` spells it: `-` for spaces (`deploy-check` is the same either way).
fn spelled(name: &str) -> String {
    name.replace(' ', "-")
}

fn steps(args: Args) -> Result<()> {
    let only: Vec<String> = args.only.iter().map(|s| spelled(s.trim())).collect();
    if let Some(bad) = only.iter().find(|o| !STEPS.iter().any(|s| spelled(s) == **o)) {
        let names: Vec<String> = STEPS.iter().map(|s| spelled(s)).collect();
        anyhow::bail!("no step named {bad:?}; the steps are: {}", names.join(", "));
    }
    // Runs `f` as one named step and prints its wall time, so a slow run says where it went.
    let step = |name: &str, f: &mut dyn FnMut() -> Result<()>| -> Result<()> {
        debug_assert!(STEPS.contains(&name), "step {name:?} is missing from STEPS");
        if !only.is_empty() && !only.contains(&spelled(name)) {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let result = f();
        eprintln!("== step {name}: {:.0} s", started.elapsed().as_secs_f64());
        result
    };
    if !args.no_lint || only.iter().any(|o| o == "lint") {
        step("lint", &mut lint)?;
    }
    step("fixtures", &mut || crate::fixtures::run(crate::fixtures::Args::default()))?;
    // The HTML report's screenshot test (crates/cli/tests/report_screenshot.rs) runs among the
    // workspace tests below and needs Debian's chromium.
    step("chromium", &mut crate::report_screenshot::install)?;
    // The big-shape load test (tests/integration/big_shapes.rs) needs these (~11 GB).
    step("shapes", &mut || {
        crate::shapes::run(crate::shapes::Args {
            only: crate::shapes::BIG.map(String::from).to_vec(),
            out: None,
        })
    })?;
    step("workspace tests", &mut || {
        // hearth-ledger's PostgreSQL tests get a server; it is stopped when `pg` drops,
        // failure or not.
        let pg = crate::postgres::Server::start()?;
        // hearth-cache's Redis tests (two nodes sharing a cache) get one too, stopped the
        // same way.
        let redis = crate::redis::Server::start()?;
        let mut workspace = Command::new(cargo());
        workspace.current_dir(root()).args(["test", "--workspace", "--profile", TEST_PROFILE]);
        for (key, value) in pg.env()?.into_iter().chain(redis.env()?) {
            workspace.env(key, value);
        }
        sh(&mut workspace)
    })?;
    // hearth-kernels' unit and integration tests again with the scalar table forced (the
    // doc tests ran above and pick no table).
    step("scalar kernels", &mut || {
        for exe in test_exes("kernels")? {
            sh(exe.command(&[]).env("HEARTH_KERNELS", "scalar"))?;
        }
        Ok(())
    })?;
    if cfg!(target_arch = "x86_64") {
        step("x86 tables", &mut x86_tables)?;
    }
    if !args.no_aarch64 {
        step("aarch64 kernels", &mut || crate::aarch64::run(crate::aarch64::Args {}))?;
        // The whole program on ARM: the static dist binary under qemu (run, tokenize, serve).
        step("aarch64 e2e", &mut || crate::aarch64_e2e::run(crate::aarch64_e2e::Args::default()))?;
    }
    // `hearth serve` against the official OpenAI Python SDK.
    step("sdk", &mut || crate::sdk::test(crate::sdk::TestArgs::default()))?;
    // Its tool calling on a subset of BFCL: every call must parse.
    step("bfcl", &mut || crate::bfcl::ci(None))?;
    // deploy/oracle-free-tier.md, run as written in a sandbox.
    step("deploy-check", &mut || crate::deploy_check::run(crate::deploy_check::Args {}))?;
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
