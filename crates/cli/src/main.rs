//! `hearth`: the command-line front end. One file per subcommand; the work happens in the
//! library crates.
#![forbid(unsafe_code)]

use anyhow::Result;
use clap::{Parser, Subcommand};

mod bench;
mod chat;
mod common;
mod embed;
mod eval;
mod eval_run;
mod inspect;
mod pull;
mod report;
mod resolve;
mod route;
mod run;
mod serve;
mod serve_cache;
mod serve_config;
mod serve_ledger;
mod serve_monitor;
mod tokenize;

/// Fast local LLM inference for small CPU boxes.
///
/// MODEL arguments take a path to a .gguf file or a catalog name such as
/// `qwen2.5-coder:0.5b` (see `hearth pull --list`); catalog models are downloaded on first
/// use into $HEARTH_MODELS (default ~/.cache/hearth/models).
#[derive(Parser)]
#[command(name = "hearth", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Log level (error, warn, info, debug, trace) or a tracing filter; RUST_LOG wins over it.
    #[arg(long, global = true, default_value = "warn", env = "HEARTH_LOG")]
    log: String,
    /// More detail on stderr: -v logs at info (e.g. why Hugging Face was skipped), -vv at
    /// debug, -vvv at trace. Overrides --log.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Show what a GGUF model is: architecture, size, context, tensor types, tokenizer.
    ///
    /// Example: hearth inspect qwen2.5-coder:0.5b
    #[command(verbatim_doc_comment)]
    Inspect(inspect::Args),
    /// Download a catalog model (Hugging Face first, then pinned mirrors), sha256-checked.
    ///
    /// Example: hearth pull qwen2.5-coder:0.5b
    #[command(verbatim_doc_comment)]
    Pull(pull::Args),
    /// Generate from one prompt: streams text, or prints one JSON object with --json.
    ///
    /// Examples:
    ///   hearth run --prompt "def fibonacci(n):" --temperature 0
    ///   hearth run --chat "Summarize: ..."
    ///   hearth run --messages chat.json --json
    #[command(verbatim_doc_comment)]
    Run(run::Args),
    /// Talk to a model interactively (streams; keeps the conversation's cache between turns).
    ///
    /// Example: hearth chat --model qwen2.5-coder:0.5b --system "Answer briefly."
    #[command(verbatim_doc_comment)]
    Chat(chat::Args),
    /// Measure prompt processing (pp) and generation (tg) speed, llama-bench style.
    ///
    /// Example: hearth bench --model qwen2.5-coder:0.5b --threads 2 --batch 1,4
    #[command(verbatim_doc_comment)]
    Bench(bench::Args),
    /// Embed texts with an embedding model (bert, nomic-bert): one normalised vector per
    /// text; a summary line each, or an OpenAI `embeddings` response with --json.
    ///
    /// Examples:
    ///   hearth embed --model all-minilm "turn on dark mode" "enable the dark theme"
    ///   hearth embed --model nomic-embed-text --json "search_query: what is rust?"
    #[command(verbatim_doc_comment)]
    Embed(embed::Args),
    /// Turn text into token ids with a model's tokenizer.
    ///
    /// Examples:
    ///   hearth tokenize --model qwen2.5-coder:0.5b --json -- "Hello world"
    ///   hearth tokenize --model qwen2.5-coder:0.5b --jsonl texts.jsonl   (one JSON string per line)
    #[command(verbatim_doc_comment)]
    Tokenize(tokenize::Args),
    /// Serve the model over an OpenAI-compatible HTTP API (chat, completions, streaming,
    /// /health, /metrics), batching concurrent requests; or, with --config, several local
    /// models by name, each loaded on first use.
    ///
    /// Examples:
    ///   HEARTH_API_KEY=secret hearth serve --model qwen2.5-coder:0.5b --parallel 4
    ///   hearth serve --config /etc/hearth/hearth.toml
    #[command(verbatim_doc_comment)]
    Serve(serve::Args),
    /// Show where a request would go under a router config, and why, without calling
    /// anything: target, reason, task (given or guessed), complexity score with each
    /// feature, escalation target and thresholds.
    ///
    /// Examples:
    ///   hearth route --config hearth.toml "Classify this review: great phone"
    ///   hearth route --config hearth.toml --task plan "Migrate our Postgres cluster"
    ///   hearth route --config hearth.toml --model claude "Hi"       (explicit target)
    ///   hearth route --config hearth.toml --spent 50 "Why does X?"  (past a spend cap)
    ///   hearth route --config hearth.toml --down claude "Plan Y"    (remote cooling down)
    ///   cat prompt.txt | hearth route --config hearth.toml --json -
    #[command(verbatim_doc_comment)]
    Route(route::Args),
    /// What the ledger's calls cost and saved against the baseline model, per task, model,
    /// route, tag, day or week: calls, share answered locally, tokens, cost, baseline, saved,
    /// p50/p95 latency, cache hits, escalations by reason, errors. Reads the ledger that
    /// `hearth serve --config` writes ([ledger] path; default ledger.sqlite beside the models
    /// cache), read-only.
    ///
    /// Examples:
    ///   hearth report                                    (last 7 days by task, default ledger)
    ///   hearth report --config /etc/hearth/hearth.toml --since 24h --by route
    ///   hearth report --db ledger.sqlite --since 2026-11-01 --by week
    ///   hearth report --by tag --json | jq '.groups[] | {key, saved_usd}'
    ///   hearth report --since 30d --html report.html    (self-contained page with charts)
    #[command(verbatim_doc_comment)]
    Report(report::Args),
    /// Measure on labelled tasks how much can stay local, at what accuracy, for what cost:
    /// runs a suite (JSONL: task, messages, gold + scorer) through the config's local
    /// routes greedily, reads each answer's confidence as the router does, scores it, and
    /// sweeps the escalation thresholds per task type: coverage vs accuracy vs cost against
    /// all-remote, and the threshold with the most coverage whose kept-local answers reach a
    /// target (95% of the upper tier's accuracy, or --floor). Without the remote's API key
    /// its answers are assumed right, and the report says so.
    ///
    /// Examples:
    ///   hearth eval --config hearth.toml --suite my-tasks.jsonl
    ///   hearth eval --config hearth.toml --suite ~/.cache/hearth/suites/kaomoji.jsonl \
    ///       --limit 50 --json eval.json --html eval.html
    ///   hearth eval --config hearth.toml --suite tasks.jsonl --floor 0.9 --write-thresholds
    ///   hearth eval --config hearth.toml --from eval.json --target 0.9   (re-sweep, no generation)
    #[command(verbatim_doc_comment)]
    Eval(eval::Args),
}

fn main() {
    let cli = Cli::parse();
    init_tracing(log_filter(&cli.log, cli.verbose));
    let result: Result<()> = match cli.cmd {
        Cmd::Inspect(a) => inspect::run(a),
        Cmd::Pull(a) => pull::run(a),
        Cmd::Run(a) => run::run(a),
        Cmd::Chat(a) => chat::run(a),
        Cmd::Tokenize(a) => tokenize::run(a),
        Cmd::Embed(a) => embed::run(a),
        Cmd::Bench(a) => bench::run(a),
        Cmd::Serve(a) => serve::run(a),
        Cmd::Route(a) => route::run(a),
        Cmd::Report(a) => report::run(a),
        Cmd::Eval(a) => eval::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        for cause in e.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        std::process::exit(1);
    }
}

/// The tracing filter: `--log`, raised by each `-v`.
fn log_filter(log: &str, verbose: u8) -> &str {
    match verbose {
        0 => log,
        1 => "info",
        2 => "debug",
        _ => "trace",
    }
}

fn init_tracing(level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        // Duplicate flags (a global -v against a subcommand's -v) fail here.
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_takes_a_config_or_a_model_not_both() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|_| ()).map_err(|e| e.to_string());
        assert!(parse(&["hearth", "serve", "--config", "h.toml"]).is_ok());
        assert!(parse(&["hearth", "serve", "--config", "h.toml", "--port", "9000"]).is_ok());
        for extra in [["--model", "m.gguf"], ["--parallel", "2"], ["--threads", "4"]] {
            let e = parse(&[&["hearth", "serve", "--config", "h.toml"], &extra[..]].concat()).unwrap_err();
            assert!(e.contains("cannot be used with"), "{e}");
        }
    }

    #[test]
    fn each_v_raises_the_log_level() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).expect("parses");
        let filter = |args: &[&str]| {
            let cli = parse(args);
            log_filter(&cli.log, cli.verbose).to_owned()
        };
        assert_eq!(filter(&["hearth", "pull", "--list"]), "warn");
        assert_eq!(filter(&["hearth", "pull", "-v", "--list"]), "info");
        assert_eq!(filter(&["hearth", "-vv", "pull"]), "debug");
        assert_eq!(filter(&["hearth", "inspect", "-vvv", "m.gguf", "--all"]), "trace");
        assert_eq!(filter(&["hearth", "--log", "error", "pull"]), "error");
    }
}
