//! `hearth run`: one prompt in, generated text out (streamed), or one JSON object.

use std::io::Write;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hearth_engine::{Message, Prompt};
use serde::Serialize;

use crate::common::{ConstraintArgs, ModelArgs, SamplingArgs, SpeculationArgs};

/// Arguments of `hearth run`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["prompt", "prompt_file", "messages", "chat"])))]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// The prompt text (raw: no chat template; BOS only where the model says so).
    #[arg(long, short)]
    prompt: Option<String>,
    /// Read the raw prompt from a file ("-" for stdin).
    #[arg(long)]
    prompt_file: Option<String>,
    /// A JSON file of chat messages, `[{"role": "user", "content": "..."}]`, rendered with
    /// the model's chat template ("-" for stdin).
    #[arg(long)]
    messages: Option<String>,
    /// One user message, rendered with the model's chat template (shorthand for --messages).
    #[arg(long)]
    chat: Option<String>,
    /// Parse special-token text in a raw prompt (e.g. `<|im_start|>`) into special tokens.
    #[arg(long)]
    special: bool,
    #[command(flatten)]
    sampling: SamplingArgs,
    #[command(flatten)]
    constraint: ConstraintArgs,
    #[command(flatten)]
    speculation: SpeculationArgs,
    /// Print one JSON object (ids, text, timings, stop reason) instead of streaming text.
    #[arg(long)]
    json: bool,
}

/// The `--json` output. Fields are a stable contract: add, never rename.
#[derive(Serialize)]
struct JsonOut<'a> {
    prompt_ids: &'a [u32],
    ids: &'a [u32],
    text: &'a str,
    prompt_tokens: usize,
    completion_tokens: usize,
    prefill_ms: f64,
    decode_ms: f64,
    stop_reason: &'static str,
    cached_tokens: usize,
    prefill_tokens_per_s: f64,
    decode_tokens_per_s: f64,
    kernels: &'static str,
    threads: usize,
    /// Cold-start phases, from the start of the command: loading the model (resolve, map,
    /// read the tokenizer and template, build the engine and its threads).
    load_ms: f64,
    /// Rendering the chat template and tokenizing the prompt.
    template_ms: f64,
    /// From the start of the command to the first generated token (load + template +
    /// prefill + the first sample).
    first_token_ms: f64,
    /// The first decode step: from the first generated token to the second (`null` with
    /// fewer than two).
    first_decode_ms: Option<f64>,
}

fn read_input(path: &str) -> Result<String> {
    if path == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        return Ok(s);
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))
}

/// Parses a `--messages` file.
pub fn parse_messages(text: &str, what: &str) -> Result<Vec<Message>> {
    let msgs: Vec<Message> = serde_json::from_str(text).with_context(|| {
        format!("{what}: expected a JSON array of {{\"role\": ..., \"content\": ...}} objects")
    })?;
    if msgs.is_empty() {
        bail!("{what}: no messages");
    }
    Ok(msgs)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs `hearth run`.
pub fn run(args: Args) -> Result<()> {
    let start = Instant::now();
    let prompt = match (&args.prompt, &args.prompt_file, &args.messages, &args.chat) {
        (Some(p), ..) => Prompt::Text { text: p.clone(), parse_special: args.special },
        (_, Some(f), ..) => Prompt::Text { text: read_input(f)?, parse_special: args.special },
        (_, _, Some(f), _) => Prompt::Messages(parse_messages(&read_input(f)?, f)?),
        (.., Some(c)) => Prompt::Messages(vec![Message::user(c.clone())]),
        _ => bail!("give --prompt, --prompt-file, --messages or --chat"),
    };
    let constraint = args.constraint.constraint()?;
    let engine = args.model.load()?;
    let load_ms = ms(start.elapsed());
    let t = Instant::now();
    let ids = engine.tokenize_prompt(&prompt)?;
    let template_ms = ms(t.elapsed());
    let mut req = args.sampling.request(Prompt::Tokens(ids));
    req.constraint = constraint;
    let mut session = engine.session();
    session.speculate_with(
        args.speculation.speculation(engine.pool().n_threads(), engine.n_ctx())?,
        args.speculation.length(),
    )?;
    let stdout = std::io::stdout();
    let mut token_times: Vec<Instant> = Vec::with_capacity(2);
    let done = session.generate(&req, |ev| {
        if token_times.len() < 2 {
            token_times.push(Instant::now());
        }
        if !args.json {
            let mut out = stdout.lock();
            let _ = out.write_all(ev.text.as_bytes());
            let _ = out.flush();
        }
        ControlFlow::Continue(())
    })?;
    let first_token_ms = token_times.first().map_or(0.0, |t| ms(*t - start));
    let first_decode_ms = match token_times[..] {
        [a, b] => Some(ms(b - a)),
        _ => None,
    };
    if args.json {
        let rate = |n: usize, ms: f64| if ms > 0.0 { n as f64 * 1e3 / ms } else { 0.0 };
        let out = JsonOut {
            prompt_ids: &done.prompt_ids,
            ids: &done.ids,
            text: &done.text,
            prompt_tokens: done.prompt_tokens,
            completion_tokens: done.completion_tokens,
            prefill_ms: done.prefill_ms,
            decode_ms: done.decode_ms,
            stop_reason: done.stop_reason.as_str(),
            cached_tokens: done.cached_tokens,
            prefill_tokens_per_s: rate(done.prompt_tokens - done.cached_tokens, done.prefill_ms),
            decode_tokens_per_s: rate(done.completion_tokens, done.decode_ms),
            kernels: hearth_kernels::kernels().name(),
            threads: engine.pool().n_threads(),
            load_ms,
            template_ms,
            first_token_ms,
            first_decode_ms,
        };
        println!("{}", serde_json::to_string(&out)?);
    } else {
        println!();
        tracing::info!(
            prompt_tokens = done.prompt_tokens,
            completion_tokens = done.completion_tokens,
            load_ms,
            template_ms,
            prefill_ms = done.prefill_ms,
            first_token_ms,
            first_decode_ms,
            decode_ms = done.decode_ms,
            stop = done.stop_reason.as_str(),
            "done"
        );
    }
    Ok(())
}
