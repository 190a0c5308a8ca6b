//! `cargo xtask aarch64-test`: NEON kernels executed under qemu-user.

use anyhow::{Result, bail};

/// Arguments of `aarch64-test`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the aarch64 kernel tests.
pub fn run(_args: Args) -> Result<()> {
    bail!("aarch64-test is not wired yet")
}
