//! `cargo xtask report-screenshot`: the HTML report (`hearth report --html`) opened in
//! headless Chromium and its screenshot checked (`crates/cli/tests/report_screenshot.rs`).
//!
//! Installs Debian's `chromium` (and a font, `fonts-dejavu-core`) with apt when missing, like
//! `aarch64-test` installs its packages: `apt-get update` only when a package is unknown, and
//! once more when an install fails on stale lists. `SKIP_INSTALL=1` never touches apt.
//! `cargo xtask test` calls [`install`] before the workspace tests, which include the
//! screenshot test (under `CI=true` it fails without Chromium).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::util::{root, run as sh};

/// What the screenshot needs: the browser and one font to draw the text with.
const PACKAGES: [&str; 2] = ["chromium", "fonts-dejavu-core"];

/// Arguments of `report-screenshot`.
#[derive(clap::Args, Default)]
pub struct Args {
    /// Where the sample report.html and report.png are kept (default target/report-screenshot).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Installs Chromium if needed, then runs the screenshot test, keeping its files.
pub fn run(args: Args) -> Result<()> {
    install()?;
    let out = args.out.unwrap_or_else(|| root().join("target/report-screenshot"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    sh(Command::new(cargo)
        .current_dir(root())
        .env("HEARTH_SCREENSHOT_OUT", &out)
        .env("CI", "true") // a missing browser is a failure here, never a skip
        .args(["test", "--profile", crate::util::TEST_PROFILE, "-p", "hearth", "--test", "report_screenshot"])
        .args(["--", "--nocapture"]))?;
    println!("{}", out.join("report.png").display());
    Ok(())
}

/// Installs the missing [`PACKAGES`] with apt (as root, or through sudo).
pub fn install() -> Result<()> {
    if std::env::var_os("SKIP_INSTALL").is_some_and(|v| v == "1") {
        return Ok(());
    }
    let missing: Vec<&str> = PACKAGES.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if Command::new("apt-get").arg("--version").stdout(Stdio::null()).status().is_err() {
        bail!(
            "apt-get not found: the report screenshot needs Debian's {} (or SKIP_INSTALL=1 and \
             HEARTH_CHROMIUM=/path/to/chromium)",
            missing.join(", ")
        );
    }
    let root_user = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let apt = |args: &[&str]| -> Command {
        let mut c = if root_user {
            let mut c = Command::new(args[0]);
            c.args(&args[1..]);
            c
        } else {
            let mut c = Command::new("sudo");
            c.args(args);
            c
        };
        c.env("DEBIAN_FRONTEND", "noninteractive").stdin(Stdio::null());
        c
    };
    let known = |p: &str| {
        Command::new("apt-cache")
            .args(["show", p])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !missing.iter().all(|p| known(p)) {
        sh(&mut apt(&["apt-get", "update", "-qq"]))?;
    }
    let mut args = vec!["apt-get", "install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&missing);
    if sh(&mut apt(&args)).is_err() {
        // stale lists (a superseded security version 404s): refresh once and retry
        sh(&mut apt(&["apt-get", "update", "-qq"]))?;
        sh(&mut apt(&args))?;
    }
    Ok(())
}

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.trim_ascii_end() == b"install ok installed")
}
