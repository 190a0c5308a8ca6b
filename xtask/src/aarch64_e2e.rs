//! `cargo xtask aarch64-e2e`: the static aarch64 binary (test profile), end to end under qemu-user, on
//! each of `--cpus` (default `max` and `neoverse-n1`, the Oracle Free Tier Ampere A1's core:
//! NEON + dotprod, no i8mm):
//!
//! 1. **parity**: `hearth run --temperature 0 --json` on the SmolLM2 and Qwen2.5-Coder-0.5B
//!    fixtures, for golden prompts and one chat (rendered by the model's template), must
//!    give llama.cpp's prompt ids and its greedy tokens (`tests/golden/*.json`) step by step,
//!    as the x86 parity tests require: a different token is allowed only where llama.cpp's
//!    own top-1/top-2 gap is a near-tie (the comparison of that case stops there). The host's
//!    x86 binary is checked the same way, side by side, and so is `--plain-neon-cpu`
//!    (`cortex-a53`: no dotprod, so the plain `neon` kernel table).
//! 2. **tokenizer**: `hearth tokenize --jsonl` on the 45 texts of the tokenizer suite
//!    (`crates/tokenizer/tests/data/llama.cpp/`) with each of the four special-token
//!    settings must equal llama.cpp's reference ids and the x86 binary's output.
//! 3. **serve**: `hearth serve` on loopback answers a chat completion with a JSON-schema
//!    `response_format`; the answer must parse and hold the schema's required keys.
//!
//! The binary is built as `cargo xtask dist` builds it (static, the same RUSTFLAGS and
//! source) but with the `release-test` profile (no LTO) and `opt-level = 1` outside the crates
//! that run hot here (`dist::Profile::Test`), into `target/dist-test/`. The cross build was
//! most of this step's time: 803 s of 1039 in CI on a 2-vCPU EPYC with the shipped profile,
//! 603 s this way (Debian's rustc compiling for aarch64 is slow; LTO alone was not the cost).
//! `--release` checks the shipped build instead.
//!
//! Emulation is slow (roughly 20–50× native), so prompts are short and `--steps` few; the
//! timings printed say nothing about real ARM speed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

use crate::dist::{self, AARCH64};
use crate::fixtures::cache_dir;
use crate::util::root;

/// A top-1/top-2 gap below this in llama.cpp's logits is a near-tie (as in the x86 parity
/// tests, crates/models/tests/parity.rs).
const NEAR_TIE: f64 = 0.5;

/// The fixtures checked, with their golden files.
const MODELS: [(&str, &str); 2] =
    [("smollm2-135m-instruct-q4_1", "smollm2"), ("qwen2.5-coder-0.5b-instruct-q4_k_m", "qwen2.5-coder-0.5b")];

/// Arguments of `aarch64-e2e`.
#[derive(clap::Args)]
pub struct Args {
    /// qemu CPU models, comma-separated (`qemu-aarch64 -cpu help` lists them).
    #[arg(long, default_value = "max,neoverse-n1")]
    pub cpus: String,
    /// A qemu CPU without dotprod on which the `hearth run` parity is checked too, so the plain
    /// `neon` kernel table runs end to end (empty: skip).
    #[arg(long, default_value = "cortex-a53")]
    pub plain_neon_cpu: String,
    /// Greedy steps compared per golden case.
    #[arg(long, default_value_t = 6)]
    pub steps: usize,
    /// Use the aarch64 binary as it is instead of building it.
    #[arg(long)]
    pub no_build: bool,
    /// Check the shipped build (`--release`, thin LTO, target/dist/) instead of the same
    /// program built for tests (`--profile release-test`, cold crates at opt-level 1,
    /// target/dist-test/).
    #[arg(long)]
    pub release: bool,
}

impl Default for Args {
    fn default() -> Args {
        Args {
            cpus: "max,neoverse-n1".into(),
            plain_neon_cpu: "cortex-a53".into(),
            steps: 6,
            no_build: false,
            release: false,
        }
    }
}

/// Builds the binary (unless told not to) and runs the three checks on every CPU.
pub fn run(args: Args) -> Result<()> {
    let profile = if args.release { dist::Profile::Release } else { dist::Profile::Test };
    let arm = if args.no_build {
        crate::aarch64::prepare()?;
        dist::path_for(AARCH64, profile)
    } else {
        dist::build(AARCH64, profile)?
    };
    ensure!(
        arm.exists(),
        "{} is missing: run `cargo xtask aarch64-e2e` without --no-build{}",
        arm.display(),
        if args.release { " (or `cargo xtask dist --target aarch64-unknown-linux-gnu`)" } else { "" }
    );
    // The host's binary, for the side-by-side lines: the test-profile build the tests use.
    let x86 = crate::util::test_bins()?.join("hearth");

    let models = cache_dir().join("models");
    for (file, _) in MODELS {
        let m = models.join(format!("{file}.gguf"));
        ensure!(m.exists(), "{} is missing; run `cargo xtask fixtures` first", m.display());
    }
    let scratch = dist::target_dir().join("aarch64-e2e");
    std::fs::create_dir_all(&scratch)?;
    let started = Instant::now();

    let mut lines = Vec::new();
    for (file, name) in MODELS {
        lines.push(parity(&Runner::native(&x86), &models, file, name, args.steps, &scratch)?);
    }
    let suite = TokenizerSuite::load(&scratch)?;
    for cpu in args.cpus.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let arm = Runner::qemu(&arm, cpu);
        for (file, name) in MODELS {
            lines.push(parity(&arm, &models, file, name, args.steps, &scratch)?);
            lines.push(suite.check(
                &arm,
                &Runner::native(&x86),
                &models.join(format!("{file}.gguf")),
                name,
            )?);
        }
        lines.push(serve(&arm, &models.join(format!("{}.gguf", MODELS[1].0)))?);
    }
    if !args.plain_neon_cpu.is_empty() {
        let plain = Runner::qemu(&arm, &args.plain_neon_cpu);
        for (file, name) in MODELS {
            lines.push(parity(&plain, &models, file, name, args.steps, &scratch)?);
        }
    }
    println!("\naarch64 end to end ({:.0} s):", started.elapsed().as_secs_f64());
    for l in &lines {
        println!("  {l}");
    }
    Ok(())
}

/// How to start the binary: natively or under `qemu-aarch64 -cpu CPU`.
struct Runner {
    bin: PathBuf,
    cpu: Option<String>,
}

impl Runner {
    fn native(bin: &Path) -> Runner {
        Runner { bin: bin.to_path_buf(), cpu: None }
    }

    fn qemu(bin: &Path, cpu: &str) -> Runner {
        Runner { bin: bin.to_path_buf(), cpu: Some(cpu.to_owned()) }
    }

    fn command(&self) -> Command {
        match &self.cpu {
            Some(cpu) if !cfg!(target_arch = "aarch64") => {
                let mut c = Command::new("qemu-aarch64");
                c.args(["-cpu", cpu]).arg(&self.bin);
                c
            }
            _ => Command::new(&self.bin),
        }
    }

    fn name(&self) -> String {
        match &self.cpu {
            Some(cpu) => format!("aarch64 (qemu -cpu {cpu})"),
            None => "x86_64 (native)".into(),
        }
    }

    /// Runs to the end; stdout, or an error with stderr.
    fn output(&self, args: &[&str]) -> Result<String> {
        let mut c = self.command();
        c.args(args).env("HEARTH_LOG", "warn");
        let out = c.output().with_context(|| format!("starting {}", self.bin.display()))?;
        if !out.status.success() {
            bail!(
                "{} {}: {}\n{}",
                self.name(),
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?)
    }
}

/// One golden case: the prompt (raw text or chat messages), llama.cpp's prompt ids and steps.
struct Case {
    what: String,
    prompt: Option<String>,
    messages: Option<Value>,
    prompt_ids: Vec<u64>,
    steps: Vec<Vec<(u64, f64)>>,
}

fn cases(golden: &Value) -> Result<Vec<Case>> {
    let steps = |c: &Value| -> Vec<Vec<(u64, f64)>> {
        c["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                s["top5"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| Some((p[0].as_u64()?, p[1].as_f64()?)))
                    .collect()
            })
            .collect()
    };
    let ids =
        |c: &Value| c["prompt_ids"].as_array().into_iter().flatten().filter_map(Value::as_u64).collect();
    let mut out = Vec::new();
    // The two short raw prompts and the shortest chat: enough to cover tokenizer, template,
    // every layer and the sampler, in seconds of emulation.
    for c in golden["completions"].as_array().context("golden: no completions")?.iter().take(2) {
        let prompt = c["prompt"].as_str().context("golden: prompt")?.to_owned();
        out.push(Case {
            what: format!("{prompt:?}"),
            prompt: Some(prompt),
            messages: None,
            prompt_ids: ids(c),
            steps: steps(c),
        });
    }
    let chat = golden["chats"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["steps"].as_array().is_some_and(|s| s.len() >= 2))
        .min_by_key(|c| c["prompt_ids"].as_array().map_or(usize::MAX, Vec::len))
        .context("golden: no chat")?;
    out.push(Case {
        what: format!("chat ({} prompt tokens)", ids(chat).len()),
        prompt: None,
        messages: Some(chat["messages"].clone()),
        prompt_ids: ids(chat),
        steps: steps(chat),
    });
    Ok(out)
}

/// `hearth run` greedy on each golden case of `file`; one summary line.
fn parity(r: &Runner, models: &Path, file: &str, name: &str, steps: usize, scratch: &Path) -> Result<String> {
    let golden_path = root().join("tests").join("golden").join(format!("{file}.json"));
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(&golden_path)
            .with_context(|| format!("reading {}", golden_path.display()))?,
    )?;
    let model = models.join(format!("{file}.gguf"));
    let (mut matched, mut requested, mut kernels, mut ties) = (0, 0, String::new(), 0);
    let started = Instant::now();
    for case in cases(&golden)? {
        let n = steps.min(case.steps.len());
        requested += n;
        let mut args: Vec<String> = vec![
            "run".into(),
            "-m".into(),
            model.display().to_string(),
            "--temperature".into(),
            "0".into(),
            "--ignore-eos".into(),
            "-n".into(),
            n.to_string(),
            "-c".into(),
            "512".into(),
            "-t".into(),
            "2".into(),
            "--json".into(),
        ];
        if let Some(p) = &case.prompt {
            args.extend(["--prompt".into(), p.clone()]);
        } else {
            let f = scratch.join(format!("{name}-chat.json"));
            std::fs::write(&f, serde_json::to_string(&case.messages)?)?;
            args.extend(["--messages".into(), f.display().to_string()]);
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out: Value = serde_json::from_str(&r.output(&argv)?)
            .with_context(|| format!("{} {name} {}: not JSON", r.name(), case.what))?;
        kernels = out["kernels"].as_str().unwrap_or("?").to_owned();
        let prompt_ids: Vec<u64> =
            out["prompt_ids"].as_array().into_iter().flatten().filter_map(Value::as_u64).collect();
        ensure!(
            prompt_ids == case.prompt_ids,
            "{} {name} {}: prompt ids {prompt_ids:?}, llama.cpp's {:?}",
            r.name(),
            case.what,
            case.prompt_ids
        );
        let ids: Vec<u64> = out["ids"].as_array().into_iter().flatten().filter_map(Value::as_u64).collect();
        for (i, step) in case.steps.iter().take(n).enumerate() {
            let (want, top) = step[0];
            let ours = ids.get(i).copied();
            if ours == Some(want) {
                matched += 1;
                continue;
            }
            let gap = top - step.get(1).map_or(f64::NEG_INFINITY, |s| s.1);
            ensure!(
                gap < NEAR_TIE,
                "{} {name} {}: step {i}: hearth chose {ours:?}, llama.cpp {want} (top-1/top-2 gap {gap:.3} ≥ {NEAR_TIE})",
                r.name(),
                case.what
            );
            ties += 1;
            break;
        }
    }
    let tie_note = if ties > 0 { format!(" ({ties} case(s) stopped at a near-tie)") } else { String::new() };
    Ok(format!(
        "{}: hearth run {name}: {matched}/{requested} greedy steps = llama.cpp's, prompt ids equal{tie_note} [kernels {kernels}, {:.1} s]",
        r.name(),
        started.elapsed().as_secs_f64()
    ))
}

/// The tokenizer suite: texts and, per model, llama.cpp's ids for each special-token setting.
struct TokenizerSuite {
    jsonl: PathBuf,
    texts: usize,
}

impl TokenizerSuite {
    fn dir() -> PathBuf {
        root().join("crates/tokenizer/tests/data/llama.cpp")
    }

    fn load(scratch: &Path) -> Result<TokenizerSuite> {
        let inputs = std::fs::read_to_string(Self::dir().join("inputs.txt"))?;
        let texts: Vec<&str> = inputs.split("\n@@@@\n").collect();
        let jsonl = scratch.join("tokenizer-inputs.jsonl");
        let mut out = String::new();
        for t in &texts {
            out.push_str(&serde_json::to_string(t)?);
            out.push('\n');
        }
        std::fs::write(&jsonl, out)?;
        Ok(TokenizerSuite { jsonl, texts: texts.len() })
    }

    /// llama.cpp's ids of `model-<file>.ref` for (add_special, parse_special).
    fn reference(name_file: &str, add: bool, parse: bool) -> Result<Vec<Vec<u64>>> {
        let path = Self::dir().join(format!("model-{name_file}.ref"));
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let key = format!(" {} {}:", u8::from(add), u8::from(parse));
        let mut out = Vec::new();
        for line in text.lines().filter_map(|l| l.strip_prefix("tok ")) {
            let Some((index, ids)) = line.split_once(key.as_str()) else { continue };
            ensure!(index.parse::<usize>() == Ok(out.len()), "{}: tok lines out of order", path.display());
            out.push(ids.split_whitespace().map(str::parse).collect::<Result<_, _>>()?);
        }
        Ok(out)
    }

    fn check(&self, arm: &Runner, x86: &Runner, model: &Path, name: &str) -> Result<String> {
        let file = model.file_stem().and_then(|s| s.to_str()).context("model file name")?;
        let parse_lines = |s: String| -> Result<Vec<Vec<u64>>> {
            s.lines().map(|l| Ok(serde_json::from_str(l)?)).collect()
        };
        let started = Instant::now();
        let mut checked = 0;
        for (add, parse) in [(false, false), (false, true), (true, false), (true, true)] {
            let mut args = vec!["tokenize", "--model"];
            let m = model.display().to_string();
            args.push(&m);
            let jsonl = self.jsonl.display().to_string();
            args.extend(["--jsonl", jsonl.as_str()]);
            if add {
                args.push("--add-special");
            }
            if parse {
                args.push("--special");
            }
            let ours = parse_lines(arm.output(&args)?)?;
            let host = parse_lines(x86.output(&args)?)?;
            let want = Self::reference(file, add, parse)?;
            ensure!(
                ours.len() == self.texts && want.len() == self.texts,
                "{name}: {} texts, {} ids, {} reference",
                self.texts,
                ours.len(),
                want.len()
            );
            for (i, ((a, h), w)) in ours.iter().zip(&host).zip(&want).enumerate() {
                ensure!(
                    a == w,
                    "{} {name} text {i} (add_special {add}, special {parse}): {a:?}, llama.cpp {w:?}",
                    arm.name()
                );
                ensure!(a == h, "{} {name} text {i}: aarch64 {a:?}, x86 {h:?}", arm.name());
                checked += 1;
            }
        }
        Ok(format!(
            "{}: hearth tokenize {name}: {checked}/{checked} texts × settings = llama.cpp's ids = x86's [{:.1} s]",
            arm.name(),
            started.elapsed().as_secs_f64()
        ))
    }
}

/// A server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `hearth serve` on a free loopback port; one chat completion with a JSON schema.
fn serve(r: &Runner, model: &Path) -> Result<String> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = format!("127.0.0.1:{port}");
    let mut c = r.command();
    c.args(["serve", "-m"])
        .arg(model)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "-t", "2", "--parallel", "1", "-c", "512"])
        .env("HEARTH_LOG", "warn")
        .env_remove("HEARTH_API_KEY")
        .stdout(Stdio::null());
    let mut server = Server(c.spawn().with_context(|| format!("starting {} serve", r.name()))?);
    let started = Instant::now();
    loop {
        if let Ok((200, _)) = http(&addr, "GET", "/health", None) {
            break;
        }
        if let Some(status) = server.0.try_wait()? {
            bail!("{} serve exited before answering /health: {status}", r.name());
        }
        ensure!(
            started.elapsed() < Duration::from_secs(300),
            "{} serve: /health not ready in 300 s",
            r.name()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let ready = started.elapsed();
    let schema = json!({
        "type": "object",
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        "required": ["city", "country"],
        "additionalProperties": false,
    });
    let body = json!({
        "model": "default",
        "messages": [{"role": "user", "content": "Where is the Eiffel Tower? Answer with the city and the country."}],
        "temperature": 0,
        "max_tokens": 32,
        "response_format": {"type": "json_schema", "json_schema": {"name": "place", "strict": true, "schema": schema}},
    });
    let asked = Instant::now();
    let (status, reply) = http(&addr, "POST", "/v1/chat/completions", Some(&body.to_string()))?;
    ensure!(status == 200, "{} serve: HTTP {status}: {reply}", r.name());
    let v: Value = serde_json::from_str(&reply).with_context(|| format!("reply is not JSON: {reply}"))?;
    let content = v["choices"][0]["message"]["content"].as_str().context("no message content")?;
    let answer: Value = serde_json::from_str(content)
        .with_context(|| format!("{} serve: content is not JSON: {content:?}", r.name()))?;
    ensure!(
        answer["city"].is_string()
            && answer["country"].is_string()
            && answer.as_object().is_some_and(|o| o.len() == 2),
        "{} serve: {answer} does not follow the schema",
        r.name()
    );
    drop(server);
    Ok(format!(
        "{}: hearth serve: POST /v1/chat/completions (json_schema place) → 200, finish_reason {}, content {content} [ready in {:.1} s, answered in {:.1} s]",
        r.name(),
        v["choices"][0]["finish_reason"],
        ready.as_secs_f64(),
        asked.elapsed().as_secs_f64()
    ))
}

/// A minimal HTTP/1.1 exchange (`Connection: close`); status and body (chunked decoded).
fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(600)))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text.split_once("\r\n\r\n").context("no HTTP header end")?;
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("no HTTP status")?;
    let chunked = head.lines().any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding: chunked"));
    Ok((status, if chunked { dechunk(rest)? } else { rest.to_owned() }))
}

fn dechunk(mut s: &str) -> Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").context("bad chunk")?;
        let n = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)?;
        if n == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..n).context("short chunk")?);
        s = rest.get(n + 2..).context("short chunk")?;
    }
}
