//! Small helpers shared by subcommands.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs a command, echoing it, and fails if it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {}", show(cmd));
    let started = std::time::Instant::now();
    let status = cmd.status().with_context(|| format!("starting {}", show(cmd)))?;
    // Every command's wall time, so a slow CI run says which step took it.
    eprintln!("$ ({:.0} s, {})", started.elapsed().as_secs_f64(), status);
    if !status.success() {
        bail!("command failed ({status}): {}", show(cmd));
    }
    Ok(())
}

fn show(cmd: &Command) -> String {
    let mut s = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            s.push_str(&format!("{}={} ", k.to_string_lossy(), v.to_string_lossy()));
        }
    }
    s.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// The cargo profile `cargo xtask test` builds and runs everything with (Cargo.toml: the
/// release profile without LTO), in `target/release-test/`.
pub const TEST_PROFILE: &str = "release-test";

/// The folder holding the workspace's test-profile binaries (`hearth`, `fake-anthropic`),
/// built by the same command as the workspace tests, `cargo test --workspace --profile
/// release-test` (here `--no-run`). Same command, same resolved features: after the test run
/// this is a no-op. A `cargo build -p hearth` resolves features for that package alone (no
/// dev-dependencies, no other members) and recompiled ~40 crates, rustls and every hearth
/// crate among them.
pub fn test_bins() -> Result<PathBuf> {
    run(&mut test_build())?;
    Ok(crate::dist::target_dir().join(TEST_PROFILE))
}

/// `cargo test --workspace --profile release-test --no-run`: the workspace tests' build,
/// which [`test_bins`] and [`test_exes`] reuse.
fn test_build() -> Command {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root()).args(["test", "--workspace", "--profile", TEST_PROFILE, "--no-run"]);
    cmd
}

/// One test executable of the workspace's test-profile build: `package_dir` is its package's
/// folder (where `cargo test` runs it), `target` the test target's name (`hearth_kernels` for
/// a library's unit tests, `parity` for `tests/parity.rs`).
pub struct TestExe {
    pub package_dir: PathBuf,
    pub target: String,
    pub path: PathBuf,
}

impl TestExe {
    /// A command that runs this executable as `cargo test` would: in its package's folder,
    /// with `CARGO_MANIFEST_DIR` set, through `runner` (e.g. `qemu-x86_64 -cpu Haswell`)
    /// when given.
    pub fn command(&self, runner: &[&str]) -> Command {
        let mut cmd = match runner.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&self.path);
                c
            }
            None => Command::new(&self.path),
        };
        cmd.current_dir(&self.package_dir).env("CARGO_MANIFEST_DIR", &self.package_dir);
        cmd
    }
}

/// The test executables of the workspace's test build (`cargo test --workspace --profile
/// release-test --no-run`, a no-op after the workspace tests) whose package lives in
/// `package_dir` (relative to the root). Running these again, with another kernel table
/// forced or under an emulator, reuses the build: `cargo test -p <one package>` resolves
/// features for that package alone and recompiled part of the dependency tree on a clean
/// clone (syn, half and the crates above them: ~2.5 minutes of CI).
pub fn test_exes(package_dir: &str) -> Result<Vec<TestExe>> {
    let mut cmd = test_build();
    cmd.arg("--message-format=json-render-diagnostics");
    eprintln!("$ {}", show(&cmd));
    let out = cmd.stderr(std::process::Stdio::inherit()).output().context("starting cargo test --no-run")?;
    if !out.status.success() {
        bail!("cargo test --no-run failed ({})", out.status);
    }
    let want = root()
        .join(package_dir)
        .canonicalize()
        .with_context(|| format!("no package folder {package_dir}"))?;
    let mut exes = Vec::new();
    for line in out.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let msg: serde_json::Value = serde_json::from_slice(line).context("cargo's JSON message")?;
        let is_test = msg["profile"]["test"].as_bool() == Some(true);
        let (Some(exe), Some(manifest)) = (msg["executable"].as_str(), msg["manifest_path"].as_str()) else {
            continue;
        };
        let dir = PathBuf::from(manifest).parent().map(PathBuf::from).unwrap_or_default();
        if msg["reason"] == "compiler-artifact" && is_test && dir.canonicalize().ok().as_ref() == Some(&want)
        {
            let target = msg["target"]["name"].as_str().unwrap_or_default().to_string();
            exes.push(TestExe { package_dir: want.clone(), target, path: exe.into() });
        }
    }
    if exes.is_empty() {
        bail!("the test build has no test executables of {package_dir}");
    }
    Ok(exes)
}

/// The executable of test target `target` among `exes` (from [`test_exes`]).
pub fn test_exe<'a>(exes: &'a [TestExe], target: &str) -> Result<&'a TestExe> {
    exes.iter()
        .find(|e| e.target == target)
        .with_context(|| format!("the test build has no test target {target}"))
}

/// The cargo that runs xtask (`$CARGO`), or `cargo` from `PATH`.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}
