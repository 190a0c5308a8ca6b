//! A decision in words (for `hearth route`) or as JSON (`hearth route --json`): the target,
//! the reason in a sentence, the task and where it came from, the complexity score with each
//! feature's value, weight and count, and the escalation target with its thresholds.

use std::fmt::{self, Write as _};

use serde::Serialize;

use crate::complexity::Complexity;
use crate::config::{ComplexityConfig, OnBudget, Route};
use crate::policy::{Decision, Outcome, Policy};
use crate::reason::Reason;
use crate::task::TaskSource;

/// A decision with the config it was made from, ready to print.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The decision.
    #[serde(flatten)]
    pub decision: Decision,
    /// The reason in a sentence.
    pub why: String,
    /// The route used, as configured.
    pub route_config: Option<RouteSummary>,
    /// The complexity rules (weights and saturation points).
    pub complexity_config: ComplexityConfig,
}

/// A route's settings that matter to a decision.
#[derive(Debug, Clone, Serialize)]
pub struct RouteSummary {
    /// Index in `[[routes]]`.
    pub index: usize,
    /// Its tasks.
    pub tasks: Vec<String>,
    /// Its target.
    pub target: String,
    /// Its complexity cut-off.
    pub max_complexity: Option<f64>,
    /// Where it escalates.
    pub escalate_to: Option<String>,
    /// Its local fallback.
    pub fallback: Option<String>,
    /// Past a spend cap.
    pub on_budget: OnBudget,
    /// The answer checks, in words (`mean logprob < -1`, `empty`, …).
    pub answer_checks: Vec<String>,
    /// Whether streams are buffered for escalation.
    pub buffer_streams: bool,
}

/// Explains `decision`, made by `policy`.
pub fn explain(policy: &Policy, decision: &Decision) -> Explanation {
    let config = policy.config();
    let route = decision.route.map(|i| (i, &config.routes[i]));
    let route_config = route.map(|(index, r)| RouteSummary {
        index,
        tasks: r.tasks.clone(),
        target: r.target.clone(),
        max_complexity: r.max_complexity,
        escalate_to: r.escalate_to.clone(),
        fallback: r.fallback.clone(),
        on_budget: config.on_budget(r),
        answer_checks: answer_checks(r),
        buffer_streams: r.buffer_streams,
    });
    Explanation {
        why: why(decision, route),
        decision: decision.clone(),
        route_config,
        complexity_config: config.complexity.clone(),
    }
}

/// The answer checks of a route, in words.
pub fn answer_checks(r: &Route) -> Vec<String> {
    let mut checks = Vec::new();
    if r.escalate_on_empty {
        checks.push("the answer is empty".to_owned());
    }
    if r.escalate_on_length_in_json {
        checks.push("it stops at the token limit inside JSON".to_owned());
    }
    if r.escalate_on_refusal {
        checks.push("it refuses".to_owned());
    }
    if let Some(v) = r.min_mean_logprob {
        checks.push(format!("mean token logprob < {v}"));
    }
    if let Some(v) = r.min_token_logprob {
        checks.push(format!("some token's logprob < {v}"));
    }
    if let Some(v) = r.min_label_margin {
        checks.push(format!("label margin < {v}"));
    }
    checks
}

fn why(d: &Decision, route: Option<(usize, &Route)>) -> String {
    let task = &d.task.name;
    let preferred = d.preferred.as_deref().unwrap_or("the remote");
    // A refusal's message already says what the note says.
    let note = match (&d.outcome, d.note.as_deref()) {
        (Outcome::Serve { .. }, Some(n)) => format!(": {n}"),
        _ => String::new(),
    };
    match (d.reason, route) {
        (Reason::Explicit, _) => {
            format!("the request names {:?}", d.preferred.as_deref().or(d.target()).unwrap_or(""))
        }
        (Reason::Default, _) if d.preferred.is_some() => {
            format!("no route lists {task:?}; {preferred} is unavailable")
        }
        (Reason::Default, _) => {
            format!("no route lists {task:?} and there is no \"*\" route: the first configured model")
        }
        (Reason::Task, Some((i, r))) if r.lists(task) => format!("routes[{i}] lists {task:?}"),
        (Reason::Task, Some((i, _))) => {
            format!("no route lists {task:?}; routes[{i}] is the catch-all (\"*\")")
        }
        (Reason::Complexity, Some((i, r))) => format!(
            "complexity {:.3} > routes[{i}].max_complexity {}, so routes[{i}].escalate_to",
            d.complexity.score,
            r.max_complexity.unwrap_or(1.0)
        ),
        (Reason::Budget, Some((i, _))) => {
            format!("{preferred} is past a spend cap, routes[{i}].on_budget{note}")
        }
        (Reason::RemoteUnavailable, Some((i, _))) => {
            format!("{preferred} is cooling down, routes[{i}].fallback{note}")
        }
        (reason, _) => format!("{reason}{note}"),
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.decision;
        match &d.outcome {
            Outcome::Serve { target, local } => {
                writeln!(f, "route       {target} ({})", if *local { "local" } else { "remote" })?
            }
            Outcome::Reject { status, message } => {
                writeln!(f, "route       refused with HTTP {status}: {message}")?
            }
        }
        writeln!(f, "reason      {}: {}", d.reason, self.why)?;
        let source = match (d.task.source, &d.task.matched) {
            (TaskSource::Given, _) => "given by the caller".to_owned(),
            (TaskSource::Guessed, Some(m)) => format!("guessed from {m:?}"),
            (TaskSource::Guessed, None) => "guessed: no rule matched".to_owned(),
        };
        writeln!(f, "task        {} ({source})", d.task.name)?;
        let cut = match &self.route_config {
            Some(RouteSummary { index, max_complexity: Some(m), .. }) => {
                format!(" (routes[{index}].max_complexity = {m})")
            }
            _ => String::new(),
        };
        writeln!(f, "complexity  {:.3}{cut}", d.complexity.score)?;
        f.write_str(&breakdown(&d.complexity, &self.complexity_config))?;
        match (&d.escalate_to, &self.route_config) {
            (Some(up), Some(r)) => {
                writeln!(f, "escalation  to {up} if {}", r.answer_checks.join(", or "))?;
                if d.buffer {
                    writeln!(f, "            (the stream is buffered until the answer is checked)")?;
                }
            }
            (None, Some(RouteSummary { escalate_to: Some(up), .. })) => {
                writeln!(f, "escalation  none now ({up} is configured: {})", no_escalation_why(d))?
            }
            _ => writeln!(f, "escalation  none")?,
        }
        Ok(())
    }
}

fn no_escalation_why(d: &Decision) -> &'static str {
    match (&d.outcome, d.reason) {
        (Outcome::Serve { local: false, .. }, _) => "a remote answer is final",
        (Outcome::Reject { .. }, _) => "the request is refused",
        (_, Reason::Budget | Reason::RemoteUnavailable) => "it is unavailable",
        _ => "no answer check is on, it is unavailable, or the stream is not buffered",
    }
}

fn breakdown(c: &Complexity, cfg: &ComplexityConfig) -> String {
    let (f, n, w) = (&c.features, &c.counts, &cfg.weights);
    let rows = [
        ("length", f.length, w.length, format!("{} of {} chars", n.chars, cfg.long_input_chars)),
        ("code", f.code, w.code, format!("{} of {} code lines", n.code_lines, cfg.many_code_lines)),
        (
            "reasoning",
            f.reasoning,
            w.reasoning,
            format!("{} of {} markers", n.reasoning_markers, cfg.many_reasoning_markers),
        ),
        ("multi_step", f.multi_step, w.multi_step, format!("{} of {} steps", n.steps, cfg.many_steps)),
        (
            "questions",
            f.questions,
            w.questions,
            format!("{} of {} questions", n.questions, cfg.many_questions),
        ),
        ("jargon", f.jargon, w.jargon, format!("{} of {} terms", n.jargon_terms, cfg.many_jargon_terms)),
    ];
    let mut out = String::from("            feature     value  weight  count\n");
    for (name, value, weight, count) in rows {
        let _ = writeln!(out, "            {name:<11} {value:>5.2}  {weight:>6.2}  {count}");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::budget::Spend;
    use crate::config::RouterConfig;
    use crate::cooldown::Health;
    use crate::policy::{RouteInput, RouterState};

    const CONFIG: &str = r#"
[[models]]
name = "small"
[[remotes]]
name = "claude"
provider = "anthropic"
model = "claude-haiku-4-5"
input_per_mtok = 1.0
output_per_mtok = 5.0
[[routes]]
tasks = ["classify"]
target = "small"
max_complexity = 0.6
escalate_to = "claude"
min_mean_logprob = -1.0
[[routes]]
tasks = ["*"]
target = "claude"
on_budget = "reject"
[budget]
daily_usd = 2
"#;

    fn explained(task: Option<&str>, text: &str, spent: f64) -> Explanation {
        let policy = Policy::new(RouterConfig::from_toml_str(CONFIG).expect("parses"));
        let now = UNIX_EPOCH + Duration::from_secs(1_750_000_000);
        let mut spend = Spend::new();
        spend.record(spent, now);
        let health = Health::new();
        let state =
            RouterState { now, spend: &spend, health: &health, demoted: &crate::policy::NONE_DEMOTED };
        let d = policy
            .decide(&RouteInput { requested_model: "auto", task_hint: task, text, stream: false }, &state)
            .expect("decides");
        explain(&policy, &d)
    }

    #[test]
    fn the_text_names_target_reason_task_complexity_and_escalation() {
        let text = explained(None, "Classify this review: great!", 0.0).to_string();
        for want in [
            "route       small (local)",
            "reason      task: routes[0] lists \"classify\"",
            "task        classify (guessed from \"classify\")",
            "(routes[0].max_complexity = 0.6)",
            "length",
            "jargon",
            "escalation  to claude if the answer is empty, or it stops at the token limit inside JSON, or it refuses, or mean token logprob < -1",
        ] {
            assert!(text.contains(want), "{want:?} missing from:\n{text}");
        }
    }

    #[test]
    fn catch_all_and_refusals_are_explained() {
        let text = explained(Some("poetry"), "a poem", 0.0).to_string();
        assert!(text.contains("route       claude (remote)"), "{text}");
        assert!(text.contains("routes[1] is the catch-all"), "{text}");
        assert!(text.contains("task        poetry (given by the caller)"), "{text}");
        assert!(text.contains("escalation  none\n"), "{text}");
        let hard = "Why? Prove it step by step, then compare designs and analyze the trade-offs. \
                    First the latency, then the concurrency, finally the deadlock. Why not? How?";
        let text = explained(Some("classify"), hard, 0.0).to_string();
        assert!(
            text.contains("reason      complexity: complexity 0.")
                && text.contains("> routes[0].max_complexity 0.6"),
            "{text}"
        );
        assert!(text.contains("none now (claude is configured: a remote answer is final)"), "{text}");
        let text = explained(Some("poetry"), "a poem", 5.0).to_string();
        assert!(text.contains("refused with HTTP 429") && text.contains("budget.daily_usd"), "{text}");
    }

    #[test]
    fn the_json_carries_the_decision_and_the_route() {
        let e = explained(Some("classify"), "ok", 0.0);
        let json = serde_json::to_value(&e).expect("serializes");
        assert_eq!(json["target"], "small");
        assert_eq!(json["reason"], "task");
        assert_eq!(json["escalate_to"], "claude");
        assert_eq!(json["route_config"]["index"], 0);
        assert_eq!(json["route_config"]["answer_checks"].as_array().map(Vec::len), Some(4));
        assert_eq!(json["complexity_config"]["weights"]["reasoning"], 0.3);
    }
}
