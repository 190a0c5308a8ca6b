//! Debian packages: what is installed, and installing what is missing with apt-get (through
//! sudo unless running as root). `apt-get update` runs only when asked or when an install
//! fails on stale package lists.

use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::util::run as sh;

/// `args` as an apt/dpkg command line, non-interactive, through sudo unless root; its output
/// goes to stderr (stdout may be for the shell, as with `cargo xtask postgres start`).
pub fn command(args: &[&str]) -> Command {
    let mut c = if is_root() {
        let mut c = Command::new(args[0]);
        c.env("DEBIAN_FRONTEND", "noninteractive").args(&args[1..]);
        c
    } else {
        let mut c = Command::new("sudo");
        c.arg("env").arg("DEBIAN_FRONTEND=noninteractive").args(args);
        c
    };
    c.stdin(Stdio::null()).stdout(std::io::stderr());
    c
}

/// Installs those of `packages` that are missing; `update` refreshes the lists first.
pub fn install(packages: &[&str], update: bool) -> Result<()> {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if update || !missing.iter().all(|p| known(p)) {
        sh(&mut command(&["apt-get", "update", "-qq"]))?;
    }
    let mut args = vec!["apt-get", "install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&missing);
    if sh(&mut command(&args)).is_err() {
        // stale lists (a superseded security version 404s): refresh once and retry
        sh(&mut command(&["apt-get", "update", "-qq"]))?;
        sh(&mut command(&args))?;
    }
    Ok(())
}

/// Whether the Debian package `pkg` is installed.
pub fn installed(pkg: &str) -> bool {
    output(Command::new("dpkg-query").args(["-W", "-f=${Status}", pkg]))
        .is_ok_and(|s| s.trim_end() == "install ok installed")
}

/// Whether apt knows `pkg` (its lists are fresh enough to install it).
pub fn known(pkg: &str) -> bool {
    Command::new("apt-cache")
        .args(["show", pkg])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_ok_and(|s| s.trim() == "0")
}

/// Stdout of a command that succeeded.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.stderr(Stdio::null()).output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed");
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
