//! `cargo xtask dist [--target TRIPLE]`: one static Linux binary that runs on a machine
//! without Rust: glibc linked statically (`+crt-static`), TLS through rustls, no OpenSSL
//! anywhere in the dependency tree, debug info dropped.
//!
//! - `x86_64-unknown-linux-gnu` (the default) → `target/dist/hearth`, built by the host
//!   toolchain.
//! - `aarch64-unknown-linux-gnu` → `target/dist/aarch64-unknown-linux-gnu/hearth`, cross-built
//!   on x86_64 with Debian's toolchain (`gcc-aarch64-linux-gnu` links, `rustc-web` with the
//!   prebuilt arm64 std compiles; installed when missing, as `cargo xtask aarch64-test` does)
//!   and checked under `qemu-aarch64`. For the Oracle Cloud Free Tier's Ampere A1 and other
//!   ARM servers: see deploy/oracle-free-tier.md.
//!
//! Each is checked by reading its ELF header (machine, no interpreter, no dynamic section:
//! statically linked), `file` when installed, and `hearth --version`; size and sha256 printed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{root, run as sh};

/// The host's triple, built by default.
pub const X86_64: &str = "x86_64-unknown-linux-gnu";
/// The ARM server triple, cross-built.
pub const AARCH64: &str = "aarch64-unknown-linux-gnu";

/// The crates whose speed the aarch64 end-to-end checks feel under qemu (20–50× slower than
/// native): built at `opt-level = 3` in [`Profile::Test`], the rest at 1.
const HOT_CRATES: [&str; 7] = [
    "hearth-kernels",
    "hearth-models",
    "hearth-tokenizer",
    "hearth-sampler",
    "hearth-grammar",
    "llguidance",
    "toktrie",
];

/// `+crt-static` alone gives a static PIE, which glibc's ldd reports as "statically linked";
/// `relocation-model=static` makes it a classic static executable ("not a dynamic
/// executable"), with no startup self-relocation.
const RUSTFLAGS: &str = "-C target-feature=+crt-static -C relocation-model=static";

/// Arguments of `dist`.
#[derive(clap::Args)]
pub struct Args {
    /// Target: x86_64-unknown-linux-gnu (the host) or aarch64-unknown-linux-gnu (ARM servers
    /// such as the Oracle Free Tier's Ampere A1; cross-built, checked under qemu).
    #[arg(long, default_value = X86_64)]
    pub target: String,
}

/// Builds, copies and checks the binary.
pub fn run(args: Args) -> Result<()> {
    build(&args.target, Profile::Release).map(|_| ())
}

/// Which cargo profile builds the static binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// `--release` (thin LTO): what `cargo xtask dist` ships, in `target/dist/`.
    Release,
    /// `--profile release-test`: the same source, flags and static linking, without LTO and
    /// at `opt-level = 1` except [`HOT_CRATES`], in `target/dist-test/`. For the checks that
    /// run the program (`cargo xtask aarch64-e2e` in CI): the aarch64 cross build took 603 s
    /// instead of 803 on a 2-vCPU EPYC, and a binary built this way is never copied where a
    /// shipped one goes.
    Test,
}

impl Profile {
    /// Extra `cargo build` arguments: the test build compiles everything at `opt-level = 1`
    /// except the crates the checks run hot under emulation ([`HOT_CRATES`]: the forward
    /// pass, the tokenizer, sampling and constrained decoding), which keep the profile's 3.
    fn extra_args(self) -> Vec<String> {
        match self {
            Profile::Release => Vec::new(),
            Profile::Test => {
                let mut args = vec!["--config".to_string(), "profile.release-test.opt-level=1".into()];
                for krate in HOT_CRATES {
                    args.push("--config".into());
                    args.push(format!("profile.release-test.package.{krate}.opt-level=3"));
                }
                args
            }
        }
    }

    /// The cargo profile's name (its folder under the target triple).
    fn name(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Test => "release-test",
        }
    }
}

/// Builds the static binary for `triple` with `profile` and checks it; returns its path.
pub fn build(triple: &str, profile: Profile) -> Result<PathBuf> {
    if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        bail!("`cargo xtask dist` builds on an x86_64 Linux host");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    no_openssl(&cargo)?;
    let target = target_dir();
    let (mut cmd, built_in) = match triple {
        X86_64 => (Command::new(&cargo), target.clone()),
        AARCH64 => {
            // Its own target dir: the kernel tests' aarch64 build has other RUSTFLAGS, and
            // sharing one would rebuild everything at each switch.
            let dir = target.join("aarch64-dist");
            crate::aarch64::prepare()?;
            (crate::aarch64::cargo(&dir)?, dir)
        }
        other => bail!("--target must be {X86_64} or {AARCH64}, not {other:?}"),
    };
    let out = path_for(triple, profile);
    // The release profiles keep debug info for profiling; a shipped binary drops it (~90 MB
    // with it).
    let var = profile.name().to_uppercase().replace('-', "_");
    sh(cmd
        .current_dir(root())
        .env("RUSTFLAGS", RUSTFLAGS)
        .env(format!("CARGO_PROFILE_{var}_DEBUG"), "false")
        .env(format!("CARGO_PROFILE_{var}_STRIP"), "symbols")
        .args(["build", "--profile", profile.name(), "--target", triple, "-p", "hearth"])
        .args(profile.extra_args()))?;

    let built = built_in.join(triple).join(profile.name()).join("hearth");
    let dir = out.parent().expect("a file in a folder");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::copy(&built, &out)
        .with_context(|| format!("copying {} to {}", built.display(), out.display()))?;
    check(&out, triple)?;
    Ok(out)
}

/// Where cargo builds (`CARGO_TARGET_DIR` or `target/`).
pub fn target_dir() -> PathBuf {
    let dir =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    dir.canonicalize().unwrap_or(dir)
}

/// The static binary of `triple` built with `profile` (built or not): `target/dist/` for
/// the release profile, `target/dist-test/` for the test profile.
pub fn path_for(triple: &str, profile: Profile) -> PathBuf {
    let dir = target_dir().join(match profile {
        Profile::Release => "dist",
        Profile::Test => "dist-test",
    });
    match triple {
        X86_64 => dir.join("hearth"),
        _ => dir.join(triple).join("hearth"),
    }
}

/// Checks the ELF header, runs `--version` (under qemu for aarch64), prints size and sha256.
fn check(out: &Path, triple: &str) -> Result<()> {
    let bytes = std::fs::read(out).with_context(|| format!("reading {}", out.display()))?;
    let elf = Elf::parse(&bytes).with_context(|| format!("{} is not an ELF executable", out.display()))?;
    let want = if triple == AARCH64 { EM_AARCH64 } else { EM_X86_64 };
    if elf.machine != want {
        bail!("{}: ELF machine {} (want {})", out.display(), machine_name(elf.machine), machine_name(want));
    }
    if elf.interpreter || elf.dynamic {
        bail!(
            "{} is dynamically linked (PT_INTERP {}, PT_DYNAMIC {}): RUSTFLAGS in the environment may override {RUSTFLAGS:?}",
            out.display(),
            elf.interpreter,
            elf.dynamic
        );
    }
    println!(
        "{}: ELF 64-bit {}, {}, statically linked (no PT_INTERP, no PT_DYNAMIC)",
        out.display(),
        machine_name(elf.machine),
        if elf.executable { "executable" } else { "static PIE" }
    );
    if let Ok(file) = Command::new("file").arg(out).output() {
        println!("$ file {}\n{}", out.display(), String::from_utf8_lossy(&file.stdout).trim_end());
    }

    let mut version = if triple == AARCH64 && !cfg!(target_arch = "aarch64") {
        let mut c = Command::new("qemu-aarch64");
        c.args(["-cpu", "neoverse-n1"]).arg(out);
        c
    } else {
        Command::new(out)
    };
    let shown = format!(
        "{}{} --version",
        if triple == AARCH64 { "qemu-aarch64 -cpu neoverse-n1 " } else { "" },
        out.display()
    );
    let v = version.arg("--version").output().with_context(|| format!("running {shown}"))?;
    if !v.status.success() {
        bail!("{shown} failed: {}", String::from_utf8_lossy(&v.stderr));
    }
    println!("$ {shown}\n{}", String::from_utf8_lossy(&v.stdout).trim_end());

    let sum = Command::new("sha256sum").arg(out).output().context("running sha256sum")?;
    let sha = String::from_utf8_lossy(&sum.stdout);
    let sha = sha.split_whitespace().next().unwrap_or("?");
    println!("{}: {:.1} MB, sha256 {sha}, static, {triple}", out.display(), bytes.len() as f64 / 1e6);
    Ok(())
}

const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

fn machine_name(m: u16) -> String {
    match m {
        EM_X86_64 => "x86-64".into(),
        EM_AARCH64 => "ARM aarch64".into(),
        other => format!("machine {other}"),
    }
}

/// What the checks need from a 64-bit little-endian ELF file.
struct Elf {
    machine: u16,
    /// `ET_EXEC` (a classic executable) rather than `ET_DYN` (PIE or library).
    executable: bool,
    /// Has a `PT_INTERP` program header (asks for a dynamic loader).
    interpreter: bool,
    /// Has a `PT_DYNAMIC` program header.
    dynamic: bool,
}

impl Elf {
    fn parse(b: &[u8]) -> Option<Elf> {
        let u16_at = |o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?));
        let u32_at = |o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?));
        let u64_at = |o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?));
        // magic, ELFCLASS64, ELFDATA2LSB
        if b.get(..6)? != b"\x7fELF\x02\x01" {
            return None;
        }
        let (phoff, phentsize, phnum) = (usize::try_from(u64_at(0x20)?).ok()?, u16_at(0x36)?, u16_at(0x38)?);
        let mut elf = Elf {
            machine: u16_at(0x12)?,
            executable: u16_at(0x10)? == 2,
            interpreter: false,
            dynamic: false,
        };
        for i in 0..usize::from(phnum) {
            match u32_at(phoff.checked_add(i * usize::from(phentsize))?)? {
                2 => elf.dynamic = true,
                3 => elf.interpreter = true,
                _ => {}
            }
        }
        Some(elf)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF header with `phnum` program headers of the given types.
    fn elf(machine: u16, e_type: u16, types: &[u32]) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56 * types.len()];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        b[0x10..0x12].copy_from_slice(&e_type.to_le_bytes());
        b[0x12..0x14].copy_from_slice(&machine.to_le_bytes());
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for (i, t) in types.iter().enumerate() {
            b[64 + 56 * i..68 + 56 * i].copy_from_slice(&t.to_le_bytes());
        }
        b
    }

    #[test]
    fn the_elf_check_tells_static_from_dynamic_and_names_the_machine() {
        let s = Elf::parse(&elf(EM_AARCH64, 2, &[1, 1, 4])).unwrap();
        assert!(s.machine == EM_AARCH64 && s.executable && !s.interpreter && !s.dynamic);
        let d = Elf::parse(&elf(EM_X86_64, 3, &[6, 3, 1, 2])).unwrap();
        assert!(d.machine == EM_X86_64 && !d.executable && d.interpreter && d.dynamic);
        assert!(Elf::parse(b"#!/bin/sh\n").is_none());
        let mut truncated = elf(EM_AARCH64, 2, &[1, 1]);
        truncated.truncate(80);
        assert!(Elf::parse(&truncated).is_none(), "a header past the end is not read");
    }
}
