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
    run(Command::new(cargo()).current_dir(root()).args([
        "test",
        "--workspace",
        "--profile",
        TEST_PROFILE,
        "--no-run",
    ]))?;
    Ok(crate::dist::target_dir().join(TEST_PROFILE))
}

/// The cargo that runs xtask (`$CARGO`), or `cargo` from `PATH`.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}
