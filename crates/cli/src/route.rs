//! `hearth route`: where a request would go under a router config, and why, without calling
//! anything: target, reason, task (given or guessed), complexity with its breakdown, and the
//! escalation target with its thresholds. `--spent` and `--down` show the budget and cooldown
//! rules.

use std::io::Read;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use hearth_router::{
    Health, Policy, Problem, RouteInput, RouterConfig, RouterState, Spend, explain, process_env,
};

/// Arguments of `hearth route`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The router config (the file `hearth serve --config` takes; see
    /// deploy/hearth.example.toml).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The task, as a request's `metadata.task` or `X-Hearth-Task` header gives it (default:
    /// guessed from the text).
    #[arg(long)]
    task: Option<String>,
    /// The request's `model`: `auto` lets the router decide; a model or remote name goes
    /// straight there.
    #[arg(long, default_value = "auto")]
    model: String,
    /// Judge a streamed request (its answer is escalated only if the route has
    /// buffer_streams).
    #[arg(long)]
    stream: bool,
    /// Remote spend so far today and this month, in USD (to see the budget rules).
    #[arg(long, value_name = "USD", default_value_t = 0.0)]
    spent: f64,
    /// Treat this remote as cooling down after failures (repeatable).
    #[arg(long, value_name = "REMOTE")]
    down: Vec<String>,
    /// Print the decision as JSON.
    #[arg(long)]
    json: bool,
    /// The request text (system prompt and last user message); `-` or nothing reads stdin.
    text: Option<String>,
}

/// Runs `hearth route`.
pub fn run(args: Args) -> Result<()> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("reading the config {}", args.config.display()))?;
    let config =
        RouterConfig::from_toml_str(&text).with_context(|| format!("in {}", args.config.display()))?;
    // Everything but the environment must be right; missing API keys only warn here, since
    // nothing is called (hearth serve refuses to start without them).
    config.validate(&|_| true).with_context(|| format!("in {}", args.config.display()))?;
    if let Err(e) = config.validate(&process_env) {
        for p in e.problems() {
            if let Problem::MissingEnv { .. } = p {
                eprintln!("warning: {p}");
            }
        }
    }
    let request = match args.text.as_deref() {
        Some(t) if t != "-" => t.to_owned(),
        _ => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).context("reading the request text from stdin")?;
            s
        }
    };

    let now = SystemTime::now();
    let spend = Spend::restore(now, args.spent, args.spent);
    let mut health = Health::new();
    for name in &args.down {
        let Some(remote) = config.remote(name) else {
            bail!(
                "--down {name:?}: no such remote in {} (remotes: {})",
                args.config.display(),
                remote_names(&config)
            )
        };
        for _ in 0..remote.cooldown_after_failures.max(1) {
            health.record_failure(remote, "marked down with --down", now);
        }
    }
    let policy = Policy::new(config);
    let state =
        RouterState { now, spend: &spend, health: &health, demoted: &hearth_router::policy::NONE_DEMOTED };
    let input = RouteInput {
        requested_model: &args.model,
        task_hint: args.task.as_deref(),
        text: &request,
        stream: args.stream,
    };
    let decision = policy.decide(&input, &state)?;
    let explanation = explain(&policy, &decision);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&explanation)?);
    } else {
        print!("{explanation}");
    }
    Ok(())
}

fn remote_names(config: &RouterConfig) -> String {
    let names: Vec<&str> = config.remotes.iter().map(|r| r.name.as_str()).collect();
    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: impl FnOnce(&mut Args)) -> Args {
        let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/hearth.example.toml");
        let mut a = Args {
            config,
            task: None,
            model: "auto".into(),
            stream: false,
            spent: 0.0,
            down: Vec::new(),
            json: true,
            text: Some("Classify this review: great phone".into()),
        };
        extra(&mut a);
        a
    }

    #[test]
    fn the_example_config_explains_decisions() {
        run(args(|_| {})).expect("explains");
        run(args(|a| {
            a.json = false;
            a.spent = 100.0;
            a.down = vec!["claude".into()];
            a.task = Some("plan".into());
        }))
        .expect("explains a refusal too");
    }

    #[test]
    fn unknown_names_are_errors_that_list_the_choices() {
        let e = run(args(|a| a.down = vec!["opus".into()])).expect_err("no such remote").to_string();
        assert!(e.contains("claude, gpu-box"), "{e}");
        let e = run(args(|a| a.model = "gpt".into())).expect_err("no such model").to_string();
        assert!(e.contains("\"gpt\" is not served here"), "{e}");
        let e = run(args(|a| a.config = "/nonexistent.toml".into())).expect_err("no file").to_string();
        assert!(e.contains("/nonexistent.toml"), "{e}");
    }
}
