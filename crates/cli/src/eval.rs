//! `hearth eval`: runs a suite of labelled tasks through the configured local routes, reads
//! each answer's confidence signals as the router does, scores it against gold, and sweeps
//! the escalation thresholds (`hearth_eval`): per task type, how much can stay local at what
//! accuracy for what cost, and the threshold that keeps the target.
//!
//! The config's server runs in-process on a loopback port (its models loaded on first use,
//! no ledger, no cache, no monitor: nothing a run does is billed to production numbers or
//! answered from a cache); every task goes through it as a chat completion. See
//! `eval_run.rs` for one task's calls.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hearth_eval::suite::{self, Case};
use hearth_eval::{EvalReport, Record, Target, Upper};
use hearth_router::{Route, RouterConfig, Target as ConfigTarget};
use hearth_server::{Server, ServerConfig};

use crate::eval_run::{Plan, Runner, Tier};

/// Arguments of `hearth eval`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The router config (the file `hearth serve --config` reads): its routes say which
    /// local model answers each task type and where escalations go; its remotes' prices
    /// value them.
    #[arg(long, value_name = "FILE.toml")]
    config: PathBuf,
    /// A suite: one task per line (JSONL) with `task`, `messages`, optional
    /// `response_format`, and `score` ({"label": …}, {"fields": {…}}, {"contains": …},
    /// {"python_tests": …}, {"reference": …}). Repeatable.
    #[arg(long, value_name = "FILE.jsonl", required_unless_present = "from")]
    suite: Vec<PathBuf>,
    /// Re-sweep the answers of an earlier run (its --json file) instead of running a suite:
    /// another --target or --floor, or --write-thresholds, without generating again.
    #[arg(long, value_name = "EVAL.json", conflicts_with_all = ["suite", "limit", "tasks", "no_remote", "judge"])]
    from: Option<PathBuf>,
    /// Write the report as JSON here (per task type `n`, `accuracy`, the chosen threshold,
    /// coverage, costs, the curves; every task's answers and signals).
    #[arg(long, value_name = "OUT.json")]
    json: Option<PathBuf>,
    /// Write the report as one self-contained HTML page with the curves.
    #[arg(long, value_name = "OUT.html")]
    html: Option<PathBuf>,
    /// At most N tasks per task type, spread evenly over the suite (0: all).
    #[arg(long, default_value_t = 0, value_name = "N")]
    limit: usize,
    /// Only these task types (comma separated).
    #[arg(long, value_name = "TASKS", value_delimiter = ',')]
    tasks: Vec<String>,
    /// The accuracy the answers kept local must reach, as a share of the upper tier's.
    #[arg(long, default_value_t = 0.95, value_name = "SHARE")]
    target: f64,
    /// A fixed accuracy the answers kept local must reach instead (0..1).
    #[arg(long, value_name = "ACCURACY")]
    floor: Option<f64>,
    /// Write the chosen thresholds into the config file (comments kept; routes without
    /// escalate_to are left alone and named).
    #[arg(long)]
    write_thresholds: bool,
    /// Never call a remote, even with its API key set: escalated tasks are assumed answered
    /// right, priced on the local answer's token counts (the report says so).
    #[arg(long)]
    no_remote: bool,
    /// The remote that judges `reference` tasks (default: the [monitor] judge, else each
    /// task's upper tier when it is a remote).
    #[arg(long, value_name = "REMOTE")]
    judge: Option<String>,
    /// Tasks in flight at once (the local models batch them; use the models' `slots`).
    #[arg(long, default_value_t = 4, value_name = "N")]
    parallel: usize,
    /// Seconds a `python_tests` run may take (a line's `timeout_secs` wins).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    test_timeout: f64,
}

/// Runs `hearth eval`.
pub fn run(args: Args) -> Result<()> {
    let target = match args.floor {
        Some(f) if (0.0..=1.0).contains(&f) => Target::Floor(f),
        Some(f) => bail!("--floor {f}: give an accuracy between 0 and 1 (0.9 for 90%)"),
        None if args.target > 0.0 && args.target <= 1.0 => Target::OfUpper(args.target),
        None => bail!(
            "--target {}: give a share between 0 and 1 (0.95: 95% of the upper tier's accuracy)",
            args.target
        ),
    };
    let config = load_config(&args.config)?;
    let (suite_name, when, upper, records) = match &args.from {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let earlier: EvalReport = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a `hearth eval --json` report", path.display()))?;
            eprintln!(
                "hearth eval: re-sweeping {} answers from {} ({})",
                earlier.records.len(),
                path.display(),
                earlier.when
            );
            (earlier.suite, earlier.when, earlier.upper, earlier.records)
        }
        None => run_suites(&args, &config)?,
    };
    // Where the config's present thresholds put each answer.
    let escalates_now = |r: &Record| match (config.route_for(&r.task), &r.evidence) {
        (Some((_, route)), Some(e)) => hearth_router::should_escalate(route, e).is_some(),
        _ => false,
    };
    let report = EvalReport::build(
        suite_name,
        args.config.display().to_string(),
        when,
        upper,
        target,
        records,
        &escalates_now,
    );
    print!("{}", report.to_text());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        eprintln!("hearth eval: wrote {}", path.display());
    }
    if let Some(path) = &args.html {
        std::fs::write(path, hearth_eval::html::render(&report))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("hearth eval: wrote {}", path.display());
    }
    if args.write_thresholds {
        write_thresholds(&args.config, &config, &report)?;
    }
    Ok(())
}

/// Runs the suites through the config's server: (suite names, start time, upper tier, records).
fn run_suites(args: &Args, config: &RouterConfig) -> Result<(String, String, Upper, Vec<Record>)> {
    let mut cases = Vec::new();
    for path in &args.suite {
        let mut loaded = suite::load(path)?;
        if args.suite.len() > 1 {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            for c in &mut loaded {
                if !c.id.contains('/') {
                    c.id = format!("{stem}/{}", c.id);
                }
            }
        }
        cases.extend(loaded);
    }
    if !args.tasks.is_empty() {
        let wanted: Vec<String> = args.tasks.iter().map(|t| t.trim().to_ascii_lowercase()).collect();
        cases.retain(|c| wanted.contains(&c.task));
        if cases.is_empty() {
            bail!("no task of type {} in the suite", wanted.join(", "));
        }
    }
    let cases = suite::limit_per_task(cases, args.limit);
    let keys = KeyState::read(config, args.no_remote);
    let plans = plan_all(config, &cases, &keys, args.judge.as_deref())?;
    let base = args.config.parent().unwrap_or(Path::new(".")).to_owned();
    let upper = describe_upper(&plans, args.no_remote);
    eprintln!(
        "hearth eval: {} tasks ({}); local {}; upper tier {}{}",
        cases.len(),
        task_counts(&cases),
        names(plans.iter().map(|p| p.local.as_str())),
        upper.model,
        if upper.sent { " (sent and scored)" } else { " (assumed right: no API key, or --no-remote)" }
    );
    let when = hearth_ledger::report::minute_text(hearth_ledger::now_unix_ms());
    let records = runtime()?.block_on(run_cases(config, &base, cases, plans, args))?;
    let suite_name = args.suite.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
    Ok((suite_name, when, upper, records))
}

/// Reads and validates the config; a remote's API key may be missing (its answers are then
/// assumed, and the report says so).
fn load_config(path: &Path) -> Result<RouterConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let config = RouterConfig::from_toml_str(&text).with_context(|| path.display().to_string())?;
    config.validate(&|_| true).with_context(|| path.display().to_string())?;
    if config.models.is_empty() {
        bail!("{}: no [[models]] entry: hearth eval measures local models; add one", path.display());
    }
    Ok(config)
}

/// Which remotes can be called: their API key is set (and --no-remote not given).
pub struct KeyState {
    present: Vec<String>,
}

impl KeyState {
    fn read(config: &RouterConfig, no_remote: bool) -> KeyState {
        let present = config
            .remotes
            .iter()
            .filter(|_| !no_remote)
            .filter(|r| match r.api_key_env() {
                Some(var) => std::env::var(var).is_ok_and(|k| !k.trim().is_empty()),
                None => true,
            })
            .map(|r| r.name.clone())
            .collect();
        KeyState { present }
    }

    /// Whether `remote` can be called.
    pub fn callable(&self, remote: &str) -> bool {
        self.present.iter().any(|p| p == remote)
    }
}

/// Per case: the local model that answers it, its upper tier, and its route.
fn plan_all(
    config: &RouterConfig,
    cases: &[Case],
    keys: &KeyState,
    judge: Option<&str>,
) -> Result<Vec<Plan>> {
    if let Some(j) = judge
        && config.remote(j).is_none()
    {
        bail!("--judge {j}: no [[remotes]] entry is called that");
    }
    let judge = judge.map(str::to_owned).or_else(|| config.monitor.as_ref().map(|m| m.judge.clone()));
    cases
        .iter()
        .map(|c| {
            let route = config.route_for(&c.task).map(|(i, r)| (i, r.clone()));
            let local = local_for(config, route.as_ref().map(|(_, r)| r))?;
            let upper_name = upper_for(config, route.as_ref().map(|(_, r)| r)).with_context(|| {
                format!("task type {}: no remote or bigger model to compare with: add a [[remotes]] entry (its prices value escalated calls) or an escalate_to", c.task)
            })?;
            let upper = match config.target(&upper_name) {
                Some(ConfigTarget::Local(_)) => Tier::Local(upper_name),
                Some(ConfigTarget::Remote(r)) if keys.callable(&r.name) => Tier::Remote { name: upper_name, sent: true },
                _ => Tier::Remote { name: upper_name, sent: false },
            };
            let judge = judge
                .clone()
                .or_else(|| match &upper {
                    Tier::Remote { name, .. } => Some(name.clone()),
                    Tier::Local(_) => None,
                })
                .filter(|j| keys.callable(j));
            Ok(Plan { local, upper, route, judge })
        })
        .collect()
}

/// The local model for a route: its target if local, else its fallback, else its
/// escalate_to if local, else the first [[models]] entry.
fn local_for(config: &RouterConfig, route: Option<&Route>) -> Result<String> {
    let is_local = |n: &str| config.local(n).is_some();
    let pick = route.and_then(|r| {
        [Some(&r.target), r.fallback.as_ref(), r.escalate_to.as_ref()]
            .into_iter()
            .flatten()
            .find(|n| is_local(n))
            .cloned()
    });
    pick.or_else(|| config.models.first().map(|m| m.name.clone()))
        .context("the config has no [[models]] entry")
}

/// The upper tier for a route: its escalate_to, else its target if remote, else the
/// reference remote (`[budget] compare_to`, else the first remote).
fn upper_for(config: &RouterConfig, route: Option<&Route>) -> Option<String> {
    route
        .and_then(|r| r.escalate_to.clone().or_else(|| config.remote(&r.target).map(|_| r.target.clone())))
        .or_else(|| config.reference_remote().map(|r| r.name.clone()))
}

fn describe_upper(plans: &[Plan], no_remote: bool) -> Upper {
    let model = names(plans.iter().map(|p| p.upper.name()));
    let unsent: Vec<&str> = plans.iter().filter(|p| !p.upper.sent()).map(|p| p.upper.name()).collect();
    let assumption = (!unsent.is_empty()).then(|| {
        format!(
            "{}'s answers were not fetched ({}): every escalated task counts as answered right, priced at its configured prices on the local answer's token counts; reference tasks without a judge are not scored. Set the API key to measure instead.",
            names(unsent.iter().copied()),
            if no_remote { "--no-remote" } else { "its API key is not set" }
        )
    });
    Upper { model, sent: unsent.is_empty(), assumption }
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let mut v: Vec<&str> = it.collect();
    v.sort_unstable();
    v.dedup();
    v.join(", ")
}

fn task_counts(cases: &[Case]) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for c in cases {
        *counts.entry(c.task.as_str()).or_default() += 1;
    }
    counts.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", ")
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hearth-eval")
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Starts the config's server on a loopback port and runs every case through it.
async fn run_cases(
    config: &RouterConfig,
    base: &Path,
    cases: Vec<Case>,
    plans: Vec<Plan>,
    args: &Args,
) -> Result<Vec<Record>> {
    // Keys that are not set are never used (their remotes are not called); the clients still
    // need a value to be built.
    let env = |var: &str| {
        std::env::var(var).ok().filter(|k| !k.trim().is_empty()).or_else(|| Some("hearth-eval-unused".into()))
    };
    let routing = hearth_server::Routing::new(config.clone(), &env).context("building the remote clients")?;
    let mut server_config = ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        memory_budget: crate::serve_config::memory_budget(config)?,
        routing: Some(Arc::new(routing)),
        ..ServerConfig::default()
    };
    server_config.models = crate::serve_config::specs(config, base, crate::resolve::model_file)?;
    server_config.validate()?;
    let server = Server::bind(server_config).await?;
    let addr = server.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));
    let runner = Arc::new(Runner::new(
        &format!("http://{addr}"),
        config.clone(),
        Duration::from_secs_f64(args.test_timeout.max(0.1)),
    )?);
    let bar = hearth_hub::bars::steps(cases.len() as u64, "tasks");
    bar.set_message("hearth eval");
    let limit = Arc::new(tokio::sync::Semaphore::new(args.parallel.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (i, (case, plan)) in cases.into_iter().zip(plans).enumerate() {
        let (runner, limit, bar) = (runner.clone(), limit.clone(), bar.clone());
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let out = runner.run(&case, &plan).await;
            bar.inc(1);
            (i, out)
        });
    }
    let mut out: Vec<Option<Record>> = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (i, record) = joined.context("a task's worker panicked")?;
        if out.len() <= i {
            out.resize_with(i + 1, || None);
        }
        out[i] = Some(record);
    }
    bar.finish_and_clear();
    let _ = stop.send(());
    if let Ok(Err(e)) = serving.await {
        tracing::warn!("the in-process server stopped with: {e}");
    }
    Ok(out.into_iter().flatten().collect())
}

/// `--write-thresholds`: the chosen thresholds into the config file.
fn write_thresholds(path: &Path, config: &RouterConfig, report: &EvalReport) -> Result<()> {
    let choices: Vec<hearth_eval::thresholds::Choice> = report
        .tasks
        .iter()
        .filter_map(|(task, t)| {
            Some(hearth_eval::thresholds::Choice {
                task: task.clone(),
                key: t.signal.clone()?,
                threshold: t.threshold,
            })
        })
        .collect();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // Only task types a route lists (or the catch-all) get a route's thresholds.
    let (new_text, written) =
        hearth_eval::thresholds::write(&text, &choices, |task| config.route_for(task).map(|(i, _)| i))?;
    // The edited file must still be a valid config before it replaces the old one.
    let edited = RouterConfig::from_toml_str(&new_text)?;
    edited
        .validate(&|_| true)
        .context("the config with the new thresholds does not validate (not written)")?;
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, &new_text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    for line in &written.set {
        eprintln!("hearth eval: set {line}");
    }
    for line in &written.removed {
        eprintln!("hearth eval: removed {line}");
    }
    for task in &written.skipped {
        eprintln!(
            "hearth eval: {task}: not written: its route has no escalate_to (add one, then run with --write-thresholds again)"
        );
    }
    for (task, t) in &report.tasks {
        if t.scored > 0 && t.signal.is_none() {
            eprintln!(
                "hearth eval: {task}: no threshold keeps the target; route it to {} instead",
                t.upper_model
            );
        }
    }
    eprintln!("hearth eval: wrote thresholds into {}", path.display());
    Ok(())
}
