//! Table-driven tests of the routing decision: every reason reachable, edges of thresholds,
//! caps and cooldowns.

use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::config::{LocalModel, Provider, Remote};
use crate::escalation::{Evidence, Finish, should_escalate};

const CONFIG: &str = r#"
[[models]]
name = "small"
[[models]]
name = "big"
[[remotes]]
name = "claude"
provider = "anthropic"
model = "claude-haiku-4-5"
input_per_mtok = 1.0
output_per_mtok = 5.0
[[routes]]
tasks = ["classify", "extract"]
target = "small"
max_complexity = 0.5
escalate_to = "claude"
min_mean_logprob = -1.0
[[routes]]
tasks = ["summarize"]
target = "small"
escalate_to = "big"
buffer_streams = true
[[routes]]
tasks = ["reason", "plan"]
target = "claude"
fallback = "big"
[[routes]]
tasks = ["debug"]
target = "claude"
on_budget = "reject"
[budget]
daily_usd = 1.0
"#;

fn policy() -> Policy {
    let config = RouterConfig::from_toml_str(CONFIG).expect("parses");
    config.validate(&|_| true).expect("valid");
    Policy::new(config)
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

struct World {
    spend: Spend,
    health: Health,
    demoted: std::collections::BTreeSet<String>,
}

impl World {
    fn new() -> Self {
        World { spend: Spend::new(), health: Health::new(), demoted: Default::default() }
    }
    fn monitored(tasks: &[&str]) -> Self {
        let mut w = World::new();
        w.demoted = tasks.iter().map(|t| (*t).to_owned()).collect();
        w
    }
    fn broke() -> Self {
        let mut w = World::new();
        w.spend.record(1.0, now());
        w
    }
    fn claude_down() -> Self {
        let mut w = World::new();
        let r = Remote::new("claude", Provider::Anthropic, "m", 1.0, 5.0);
        for _ in 0..r.cooldown_after_failures {
            w.health.record_failure(&r, "529 overloaded_error: Overloaded", now());
        }
        w
    }
    fn state(&self) -> RouterState<'_> {
        RouterState { now: now(), spend: &self.spend, health: &self.health, demoted: &self.demoted }
    }
}

fn decide(p: &Policy, w: &World, model: &str, task: Option<&str>, text: &str) -> Decision {
    p.decide(&RouteInput { requested_model: model, task_hint: task, text, stream: false }, &w.state())
        .expect("known model")
}

const EASY: &str = "Classify: I love this phone.";
const HARD: &str = "First explain why the borrow checker rejects this, then compare both designs and \
                    analyze the trade-offs for latency under concurrency. What are the edge cases? Why?\n\
                    ```rust\nfn f(v: &mut Vec<i32>) {\n  let a = &v[0];\n  v.push(1);\n}\n```";

fn served(d: &Decision) -> (&str, Reason) {
    (d.target().unwrap_or("<rejected>"), d.reason)
}

#[test]
fn the_task_route_serves_easy_requests_and_keeps_escalation_open() {
    let (p, w) = (policy(), World::new());
    let d = decide(&p, &w, "auto", Some("classify"), EASY);
    assert_eq!(served(&d), ("small", Reason::Task));
    assert_eq!((d.route, d.escalate_to.as_deref(), d.buffer), (Some(0), Some("claude"), false));
    assert_eq!(d.task.source, crate::task::TaskSource::Given);
    assert_eq!(d.outcome, Outcome::Serve { target: "small".into(), local: true });
    // The guess finds the same task without a hint.
    let d = decide(&p, &w, "AUTO", None, EASY);
    assert_eq!((served(&d), d.task.source), (("small", Reason::Task), crate::task::TaskSource::Guessed));
}

#[test]
fn complexity_above_max_goes_to_escalate_to_and_equality_stays() {
    let (p, w) = (policy(), World::new());
    let d = decide(&p, &w, "auto", Some("extract"), HARD);
    assert!(d.complexity.score > 0.5, "{:?}", d.complexity);
    assert_eq!(served(&d), ("claude", Reason::Complexity));
    assert_eq!(d.escalate_to, None, "a remote answer is final");

    // Exactly at max_complexity: stays on the route's target.
    let score = p.scorer().score(EASY).score;
    let mut config = p.config().clone();
    config.routes[0].max_complexity = Some(score);
    let d = decide(&Policy::new(config.clone()), &w, "auto", Some("classify"), EASY);
    assert_eq!(served(&d), ("small", Reason::Task));
    config.routes[0].max_complexity = Some(score - 1e-9);
    let d = decide(&Policy::new(config), &w, "auto", Some("classify"), EASY);
    assert_eq!(served(&d), ("claude", Reason::Complexity));
}

#[test]
fn explicit_names_go_straight_there_without_escalation() {
    let (p, w) = (policy(), World::new());
    for name in ["small", "big", "claude"] {
        let d = decide(&p, &w, name, Some("classify"), HARD);
        assert_eq!(served(&d), (name, Reason::Explicit));
        assert_eq!((d.route, d.escalate_to.as_deref()), (None, None));
    }
    let e = p
        .decide(
            &RouteInput { requested_model: "gpt-4", task_hint: None, text: "", stream: false },
            &w.state(),
        )
        .expect_err("unknown");
    assert_eq!(e.known, vec!["small", "big", "claude", "auto"]);
    assert!(e.to_string().contains("\"gpt-4\" is not served here"), "{e}");
}

#[test]
fn explicit_remote_past_the_cap_or_cooling_down_is_refused() {
    let p = policy();
    let d = decide(&p, &World::broke(), "claude", None, EASY);
    let Outcome::Reject { status, message } = &d.outcome else { panic!("{d:?}") };
    assert_eq!((*status, d.reason), (429, Reason::Explicit));
    assert!(message.contains("budget.daily_usd") && message.contains("explicitly"), "{message}");
    let d = decide(&p, &World::claude_down(), "claude", None, EASY);
    let Outcome::Reject { status, message } = &d.outcome else { panic!("{d:?}") };
    assert_eq!(*status, 503);
    assert!(message.contains("529 overloaded_error"), "{message}");
    // Local models are never refused for budget.
    assert_eq!(served(&decide(&p, &World::broke(), "small", None, EASY)), ("small", Reason::Explicit));
}

#[test]
fn past_the_cap_on_budget_local_serves_the_fallback_or_a_local_model() {
    let (p, w) = (policy(), World::broke());
    // reason/plan: target claude with fallback big.
    let d = decide(&p, &w, "auto", Some("plan"), EASY);
    assert_eq!((served(&d), d.preferred.as_deref()), (("big", Reason::Budget), Some("claude")));
    assert!(d.note.as_deref().is_some_and(|n| n.contains("budget.daily_usd")), "{:?}", d.note);
    // classify escalated by complexity: back to the route's local target, no escalation open.
    let d = decide(&p, &w, "auto", Some("classify"), HARD);
    assert_eq!(served(&d), ("small", Reason::Budget));
    assert_eq!(d.escalate_to, None, "claude is past the cap");
    // A route whose escalate_to is local keeps escalating past the cap.
    let d = decide(&p, &w, "auto", Some("summarize"), EASY);
    assert_eq!((served(&d), d.escalate_to.as_deref()), (("small", Reason::Task), Some("big")));
}

#[test]
fn past_the_cap_on_budget_reject_is_a_429_naming_the_cap() {
    let d = decide(&policy(), &World::broke(), "auto", Some("debug"), EASY);
    let Outcome::Reject { status, message } = &d.outcome else { panic!("{d:?}") };
    assert_eq!((*status, d.reason, d.preferred.as_deref()), (429, Reason::Budget, Some("claude")));
    assert!(message.contains("daily remote spend cap of $1.00 (budget.daily_usd)"), "{message}");
    assert!(message.contains("routes[3].on_budget"), "{message}");
}

#[test]
fn a_cooling_remote_falls_back_or_is_a_503_naming_the_upstream_error() {
    let (p, w) = (policy(), World::claude_down());
    let d = decide(&p, &w, "auto", Some("reason"), EASY);
    assert_eq!((served(&d), d.preferred.as_deref()), (("big", Reason::RemoteUnavailable), Some("claude")));
    assert!(d.note.as_deref().is_some_and(|n| n.contains("tried again in 30 s")), "{:?}", d.note);
    let d = decide(&p, &w, "auto", Some("extract"), HARD);
    assert_eq!(
        served(&d),
        ("small", Reason::RemoteUnavailable),
        "complexity escalation falls back to the target"
    );
    let d = decide(&p, &w, "auto", Some("classify"), EASY);
    assert_eq!((served(&d), d.escalate_to.as_deref()), (("small", Reason::Task), None));
    let d = decide(&p, &w, "auto", Some("debug"), EASY);
    let Outcome::Reject { status, message } = &d.outcome else { panic!("{d:?}") };
    assert_eq!((*status, d.reason), (503, Reason::RemoteUnavailable));
    assert!(message.contains("Overloaded") && message.contains("routes[3].fallback"), "{message}");
}

#[test]
fn the_cooldown_expires_and_the_remote_serves_again() {
    let (p, w) = (policy(), World::claude_down());
    let later = RouterState {
        now: now() + Duration::from_secs(30),
        spend: &w.spend,
        health: &w.health,
        demoted: &crate::policy::NONE_DEMOTED,
    };
    let d = p
        .decide(
            &RouteInput { requested_model: "auto", task_hint: Some("reason"), text: "", stream: false },
            &later,
        )
        .expect("decides");
    assert_eq!(served(&d), ("claude", Reason::Task));
}

#[test]
fn unrouted_tasks_go_to_the_first_model_and_a_catch_all_takes_them() {
    let (p, w) = (policy(), World::new());
    let d = decide(&p, &w, "auto", Some("translate"), EASY);
    assert_eq!((served(&d), d.route), (("small", Reason::Default), None));
    let mut config = p.config().clone();
    config.routes.push(Route { tasks: vec!["*".into()], ..config.routes[3].clone() });
    let d = decide(&Policy::new(config), &w, "auto", Some("translate"), EASY);
    assert_eq!((served(&d), d.route), (("claude", Reason::Task), Some(4)));
}

#[test]
fn a_remote_only_config_defaults_to_its_remote_and_refuses_past_the_cap() {
    let config = RouterConfig {
        remotes: vec![Remote::new("claude", Provider::Anthropic, "m", 1.0, 5.0)],
        budget: crate::config::Budget { daily_usd: Some(0.0), ..Default::default() },
        ..RouterConfig::default()
    };
    let p = Policy::new(config);
    let d = decide(&p, &World::new(), "auto", None, "hi");
    let Outcome::Reject { status, .. } = d.outcome else { panic!("{d:?}") };
    assert_eq!((status, d.reason), (429, Reason::Budget));
    let empty = Policy::new(RouterConfig::default());
    assert!(matches!(
        decide(&empty, &World::new(), "auto", None, "").outcome,
        Outcome::Reject { status: 503, .. }
    ));
}

#[test]
fn streams_are_escalated_only_through_a_buffering_route() {
    let (p, w) = (policy(), World::new());
    let stream = |task| {
        p.decide(
            &RouteInput { requested_model: "auto", task_hint: Some(task), text: EASY, stream: true },
            &w.state(),
        )
        .expect("decides")
    };
    let d = stream("classify");
    assert_eq!((d.escalate_to.as_deref(), d.buffer), (None, false));
    let d = stream("summarize");
    assert_eq!((d.escalate_to.as_deref(), d.buffer), (Some("big"), true));
}

#[test]
fn a_route_without_answer_checks_leaves_no_escalation() {
    let mut config = policy().config().clone();
    let r = &mut config.routes[0];
    (r.min_mean_logprob, r.escalate_on_empty, r.escalate_on_length_in_json, r.escalate_on_refusal) =
        (None, false, false, false);
    let d = decide(&Policy::new(config), &World::new(), "auto", Some("classify"), EASY);
    assert_eq!((served(&d), d.escalate_to.as_deref()), (("small", Reason::Task), None));
}

#[test]
fn the_answer_checks_give_low_confidence_and_invalid_output() {
    let (p, w) = (policy(), World::new());
    let d = decide(&p, &w, "auto", Some("classify"), EASY);
    let route = &p.config().routes[d.route.expect("routed")];
    let unsure = Evidence::of_answer("positive", &[-2.0, -1.5], Finish::Stop, false, None);
    assert_eq!(should_escalate(route, &unsure), Some(Reason::LowConfidence));
    let looping = Evidence::of_answer("{\"label\": \"pos pos pos", &[-0.1; 8], Finish::Length, true, None);
    assert_eq!(should_escalate(route, &looping), Some(Reason::InvalidOutput));
    let sure = Evidence::of_answer("positive", &[-0.01], Finish::Stop, false, None);
    assert_eq!(should_escalate(route, &sure), None);
}

#[test]
fn a_task_the_monitor_moved_up_is_served_by_escalate_to_unless_pinned() {
    let p = policy();
    let w = World::monitored(&["classify", "summarize", "reason"]);
    let d = decide(&p, &w, "auto", Some("Classify"), EASY);
    assert_eq!((served(&d), d.escalate_to.as_deref()), (("claude", Reason::Demoted), None));
    // A bigger local model as escalate_to: served locally, no further escalation.
    let d = decide(&p, &w, "auto", Some("summarize"), EASY);
    assert_eq!(served(&d), ("big", Reason::Demoted));
    // A remote route has no escalate_to: unchanged. An explicit model: unchanged.
    assert_eq!(served(&decide(&p, &w, "auto", Some("reason"), EASY)), ("claude", Reason::Task));
    assert_eq!(served(&decide(&p, &w, "small", Some("classify"), EASY)), ("small", Reason::Explicit));
    // A complexity escalation keeps its reason.
    assert_eq!(served(&decide(&p, &w, "auto", Some("classify"), HARD)), ("claude", Reason::Complexity));
    // Claude cooling down: the route's local target serves, as for any remote target.
    let mut down = World::claude_down();
    down.demoted = w.demoted.clone();
    assert_eq!(served(&decide(&p, &down, "auto", Some("classify"), EASY)).0, "small");
    // Pinned: the monitor only reports.
    let mut config = p.config().clone();
    config.routes[0].pinned = true;
    let pinned = Policy::new(config);
    assert_eq!(served(&decide(&pinned, &w, "auto", Some("classify"), EASY)).0, "small");
}

#[test]
fn every_reason_is_reachable() {
    let p = policy();
    let mut seen = std::collections::HashSet::new();
    let worlds = [World::new(), World::broke(), World::claude_down(), World::monitored(&["classify"])];
    for w in &worlds {
        for model in ["auto", "small", "claude"] {
            for task in ["classify", "summarize", "reason", "debug", "translate"] {
                for text in [EASY, HARD] {
                    seen.insert(decide(&p, w, model, Some(task), text).reason);
                }
            }
        }
    }
    let route = &p.config().routes[0];
    seen.extend(should_escalate(route, &Evidence::of_answer("", &[], Finish::Stop, false, None)));
    seen.extend(should_escalate(route, &Evidence::of_answer("a", &[-3.0], Finish::Stop, false, None)));
    for r in Reason::ALL {
        assert!(seen.contains(&r), "{r} never reached");
    }
}

#[test]
fn decisions_serialize_for_the_hearth_object() {
    let d = decide(&policy(), &World::new(), "auto", Some("classify"), EASY);
    let json = serde_json::to_value(&d).expect("serializes");
    assert_eq!(json["action"], "serve");
    assert_eq!(json["target"], "small");
    assert_eq!(json["reason"], "task");
    assert_eq!(json["task"]["name"], "classify");
    assert_eq!(json["task"]["source"], "given");
    assert!(json["complexity"]["features"]["reasoning"].is_number());
    let _ = LocalModel::named("unused");
}
