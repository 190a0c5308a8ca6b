//! `cargo xtask test`: the whole suite, as CI runs it (fixtures and the big shape-alike
//! models first).

use std::process::Command;

use anyhow::Result;

use crate::util::{root, run as sh};

/// Arguments of `test`.
#[derive(clap::Args)]
pub struct Args {
    /// Skip the aarch64/qemu kernel run (it installs Debian packages on first use).
    #[arg(long)]
    pub no_aarch64: bool,
}

/// Runs every test.
pub fn run(args: Args) -> Result<()> {
    crate::fixtures::run(crate::fixtures::Args::default())?;
    // The big-shape load test (tests/integration/big_shapes.rs) needs these (~11 GB).
    crate::shapes::run(crate::shapes::Args {
        only: crate::shapes::BIG.map(String::from).to_vec(),
        out: None,
    })?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    sh(Command::new(&cargo).current_dir(root()).args(["test", "--workspace", "--release"]))?;
    sh(Command::new(&cargo).current_dir(root()).env("HEARTH_KERNELS", "scalar").args([
        "test",
        "--release",
        "-p",
        "hearth-kernels",
    ]))?;
    if !args.no_aarch64 {
        crate::aarch64::run(crate::aarch64::Args {})?;
    }
    // `hearth serve` against the official OpenAI Python SDK.
    crate::sdk::test(crate::sdk::TestArgs::default())?;
    Ok(())
}
