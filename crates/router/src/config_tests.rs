//! Tests of the config format and its validation.

use super::*;
use crate::validate::Problem;

/// The minimal file of issue 10, exactly as written there.
pub(crate) const ISSUE_MINIMAL: &str = r#"
[[models]]                       # local models: catalog name or .gguf path, mmap'd on first use
name = "qwen2.5-coder:0.5b"
[[remotes]]
name = "claude"
provider = "anthropic"           # also "openai": any OpenAI-compatible API (OpenAI, vLLM, llama-server, another hearth)
model = "claude-haiku-4-5"
base_url = "https://api.anthropic.com"
api_key_env = "ANTHROPIC_API_KEY"
input_per_mtok = 1.00            # USD per million tokens
output_per_mtok = 5.00
[[routes]]
tasks = ["classify", "extract", "tag", "summarize"]
target = "qwen2.5-coder:0.5b"
max_complexity = 0.6
escalate_to = "claude"
[[routes]]
tasks = ["generate", "reason", "plan", "debug"]
target = "claude"
"#;

fn env_with(vars: &'static [&'static str]) -> impl Fn(&str) -> bool {
    move |v| vars.contains(&v)
}

fn problems(config: &RouterConfig, env: &dyn Fn(&str) -> bool) -> Vec<Problem> {
    match config.validate(env) {
        Ok(()) => Vec::new(),
        Err(e) => e.problems().to_vec(),
    }
}

fn parse(text: &str) -> RouterConfig {
    RouterConfig::from_toml_str(text).unwrap_or_else(|e| panic!("parses: {e}"))
}

#[test]
fn the_issue_minimal_file_parses_and_validates_as_written() {
    let c = parse(ISSUE_MINIMAL);
    c.validate(&env_with(&["ANTHROPIC_API_KEY"])).expect("valid");
    assert_eq!(c.models, vec![LocalModel::named("qwen2.5-coder:0.5b")]);
    let r = &c.remotes[0];
    assert_eq!(
        (r.name.as_str(), r.provider, r.model.as_str()),
        ("claude", Provider::Anthropic, "claude-haiku-4-5")
    );
    assert_eq!(r.base_url(), "https://api.anthropic.com");
    assert_eq!(r.api_key_env(), Some("ANTHROPIC_API_KEY"));
    assert_eq!((r.input_per_mtok, r.output_per_mtok), (1.0, 5.0));
    assert_eq!((r.cache_write_per_mtok(), r.cache_read_per_mtok()), (1.25, 0.1));
    assert_eq!((r.max_retries, r.timeout_secs, r.prompt_caching), (2, 600, true));
    assert_eq!(c.routes.len(), 2);
    assert_eq!(c.routes[0].max_complexity, Some(0.6));
    assert_eq!(c.routes[0].escalate_to.as_deref(), Some("claude"));
    assert!(c.routes[0].escalate_on_length_in_json && c.routes[0].escalate_on_empty);
    assert_eq!(c.route_for("extract").map(|(i, _)| i), Some(0));
    assert_eq!(c.route_for("PLAN").map(|(i, _)| i), Some(1));
    assert_eq!(c.route_for("chat"), None);
    assert_eq!(c.on_budget(&c.routes[1]), OnBudget::Local);
    assert_eq!(c.model_names(), vec!["qwen2.5-coder:0.5b", "claude", "auto"]);
    assert_eq!(c.models[0].idle_unload(), Some(Duration::from_secs(300)));
}

#[test]
fn a_missing_api_key_names_the_variable_and_the_routes_using_it() {
    let c = parse(ISSUE_MINIMAL);
    let p = problems(&c, &env_with(&[]));
    assert_eq!(p.len(), 1, "{p:?}");
    let Problem::MissingEnv { key, var, needed_by } = &p[0] else { panic!("{p:?}") };
    assert_eq!(key, "remotes[0].api_key_env");
    assert_eq!(var, "ANTHROPIC_API_KEY");
    assert!(needed_by.contains("routes[0], routes[1]"), "{needed_by}");
    assert!(p[0].to_string().contains("export ANTHROPIC_API_KEY="), "{}", p[0]);
}

#[test]
fn an_anthropic_remote_without_api_key_env_needs_anthropic_api_key() {
    let mut c = parse(ISSUE_MINIMAL);
    c.remotes[0].api_key_env = None;
    let p = problems(&c, &env_with(&[]));
    assert!(
        matches!(&p[..], [Problem::MissingEnv { key, var, .. }] if key == "remotes[0].name" && var == "ANTHROPIC_API_KEY"),
        "{p:?}"
    );
}

#[test]
fn an_openai_remote_without_api_key_env_sends_no_key_and_needs_none() {
    let text = r#"
[[remotes]]
name = "box"
provider = "openai"
model = "qwen"
base_url = "http://10.0.0.2:8080/"
input_per_mtok = 0
output_per_mtok = 0
"#;
    let c = parse(text);
    c.validate(&env_with(&[])).expect("valid without any variable");
    let r = &c.remotes[0];
    assert_eq!((r.api_key_env(), r.base_url()), (None, "http://10.0.0.2:8080"));
    for url in ["https://api.openai.com/v1", "https://api.openai.com/v1/", "https://api.openai.com"] {
        let r = Remote { base_url: Some(url.into()), ..r.clone() };
        assert_eq!(r.base_url(), "https://api.openai.com", "{url}");
    }
    assert_eq!(Remote { base_url: None, ..r.clone() }.base_url(), "https://api.openai.com");
    assert_eq!(c.on_budget(&Route { on_budget: None, ..route("*", "box") }), OnBudget::Reject);
}

#[test]
fn a_config_with_no_remotes_is_valid() {
    let c = parse(
        r#"
[[models]]
name = "llama3.2:3b"
[[models]]
name = "mistral:7b"
slots = 2
idle_unload_secs = 0
[[routes]]
tasks = ["classify"]
target = "llama3.2:3b"
[[routes]]
tasks = ["summarize"]
target = "mistral:7b"
"#,
    );
    c.validate(&env_with(&[])).expect("valid");
    assert_eq!(c.models[1].idle_unload(), None);
    assert_eq!(c.reference_remote(), None);
}

#[test]
fn unknown_keys_are_parse_errors_naming_the_key() {
    let text = ISSUE_MINIMAL.replace("escalate_to = \"claude\"", "escalate_too = \"claude\"");
    let err = RouterConfig::from_toml_str(&text).expect_err("typo");
    let msg = err.to_string();
    assert!(msg.contains("escalate_too"), "{msg}");
    let err = RouterConfig::from_toml_str("[budget]\ndaily = 3\n").expect_err("typo");
    assert!(err.to_string().contains("daily"), "{err}");
    let err = RouterConfig::from_toml_str("[complexity.weights]\nlenght = 1\n").expect_err("typo");
    assert!(err.to_string().contains("lenght"), "{err}");
}

#[test]
fn a_wrong_provider_is_a_parse_error_listing_the_choices() {
    let text = ISSUE_MINIMAL.replace("provider = \"anthropic\"", "provider = \"claude\"");
    let msg = RouterConfig::from_toml_str(&text).expect_err("bad provider").to_string();
    assert!(msg.contains("anthropic") && msg.contains("openai"), "{msg}");
}

fn route(task: &str, target: &str) -> Route {
    Route::new(vec![task.into()], target)
}

fn two_targets() -> RouterConfig {
    RouterConfig {
        models: vec![LocalModel::named("small")],
        remotes: vec![Remote::new("claude", Provider::Anthropic, "claude-haiku-4-5", 1.0, 5.0)],
        ..RouterConfig::default()
    }
}

fn keys(c: &RouterConfig) -> Vec<String> {
    problems(c, &|_| true).iter().map(|p| p.key().to_owned()).collect()
}

#[test]
fn names_are_unique_across_models_and_remotes_and_auto_is_reserved() {
    let mut c = two_targets();
    c.models.push(LocalModel::named("claude"));
    c.remotes.push(Remote::new("AUTO", Provider::Openai, "m", 0.0, 0.0));
    c.models.push(LocalModel::named(" "));
    let p = problems(&c, &|_| true);
    assert!(
        p.contains(&Problem::DuplicateName {
            key: "remotes[0].name".into(),
            name: "claude".into(),
            first: "models[1].name".into()
        }),
        "{p:?}"
    );
    assert!(p.contains(&Problem::ReservedName { key: "remotes[1].name".into() }), "{p:?}");
    assert!(p.contains(&Problem::EmptyName { key: "models[2].name".into() }), "{p:?}");
    assert!(RouterConfig::default().validate(&|_| true).unwrap_err().problems() == [Problem::NothingToServe]);
}

#[test]
fn route_references_must_exist_and_fallbacks_must_be_local() {
    let mut c = two_targets();
    c.routes.push(Route {
        escalate_to: Some("opus".into()),
        fallback: Some("claude".into()),
        ..route("code", "smal")
    });
    c.routes.push(Route { escalate_to: Some("small".into()), ..route("chat", "small") });
    let p = problems(&c, &|_| true);
    assert!(
        p.contains(&Problem::UnknownName {
            key: "routes[0].target".into(),
            name: "smal".into(),
            known: vec!["small".into(), "claude".into()]
        }),
        "{p:?}"
    );
    assert!(keys(&c).contains(&"routes[0].escalate_to".to_owned()));
    assert!(
        p.contains(&Problem::NotLocal { key: "routes[0].fallback".into(), name: "claude".into() }),
        "{p:?}"
    );
    assert!(
        p.contains(&Problem::EscalatesToItself { key: "routes[1].escalate_to".into(), name: "small".into() })
    );
    assert!(
        p[0].to_string().starts_with(
            "routes[0].target: \"smal\" is not a configured model or remote (known: small, claude)"
        ),
        "{}",
        p[0]
    );
}

#[test]
fn a_task_may_appear_in_one_route_only_and_one_catch_all() {
    let mut c = two_targets();
    c.routes.push(Route { tasks: vec!["classify".into(), "Tag".into()], ..route("", "small") });
    c.routes.push(Route { tasks: vec!["tag".into(), "*".into()], ..route("", "claude") });
    c.routes.push(route("*", "small"));
    c.routes.push(Route { tasks: vec![], ..route("", "small") });
    let p = problems(&c, &|_| true);
    assert!(
        p.contains(&Problem::TaskInTwoRoutes {
            key: "routes[1].tasks".into(),
            task: "tag".into(),
            first: "routes[0]".into()
        }),
        "{p:?}"
    );
    assert!(
        p.contains(&Problem::TaskInTwoRoutes {
            key: "routes[2].tasks".into(),
            task: "*".into(),
            first: "routes[1]".into()
        }),
        "{p:?}"
    );
    assert!(p.contains(&Problem::NoTasks { key: "routes[3].tasks".into() }), "{p:?}");
}

#[test]
fn the_catch_all_serves_unlisted_tasks_after_the_listing_route() {
    let mut c = two_targets();
    c.routes.push(route("*", "claude"));
    c.routes.push(route("classify", "small"));
    c.validate(&|_| true).expect("valid");
    assert_eq!(c.route_for("classify").map(|(i, _)| i), Some(1));
    assert_eq!(c.route_for("anything").map(|(i, _)| i), Some(0));
}

#[test]
fn numbers_out_of_range_name_their_key() {
    let mut c = two_targets();
    c.routes.push(Route {
        max_complexity: Some(1.5),
        escalate_to: Some("claude".into()),
        min_mean_logprob: Some(0.5),
        min_token_logprob: Some(f64::NAN),
        min_label_margin: Some(-0.1),
        ..route("classify", "small")
    });
    c.remotes[0].output_per_mtok = -1.0;
    c.remotes[0].cache_read_per_mtok = Some(f64::INFINITY);
    c.budget.daily_usd = Some(-5.0);
    c.complexity.weights.code = -1.0;
    c.complexity.many_questions = 0;
    c.models[0].slots = 0;
    let k = keys(&c);
    for want in [
        "routes[0].max_complexity",
        "routes[0].min_mean_logprob",
        "routes[0].min_token_logprob",
        "routes[0].min_label_margin",
        "remotes[0].output_per_mtok",
        "remotes[0].cache_read_per_mtok",
        "budget.daily_usd",
        "complexity.weights.code",
        "complexity.many_questions",
        "models[0].slots",
    ] {
        assert!(k.contains(&want.to_owned()), "{want} missing from {k:?}");
    }
}

#[test]
fn the_edges_of_ranges_are_accepted() {
    let mut c = two_targets();
    c.routes.push(Route {
        max_complexity: Some(1.0),
        escalate_to: Some("claude".into()),
        min_mean_logprob: Some(0.0),
        min_token_logprob: Some(-20.0),
        min_label_margin: Some(0.0),
        ..route("classify", "small")
    });
    c.routes.push(Route {
        max_complexity: Some(0.0),
        escalate_to: Some("claude".into()),
        ..route("tag", "small")
    });
    c.budget.daily_usd = Some(0.0);
    c.remotes[0].input_per_mtok = 0.0;
    c.validate(&|_| true).expect("edges are valid");
}

#[test]
fn thresholds_without_escalate_to_and_local_on_budget_without_models_are_errors() {
    let mut c = two_targets();
    c.routes.push(Route { max_complexity: Some(0.5), ..route("a", "small") });
    c.routes.push(Route { min_mean_logprob: Some(-1.0), ..route("b", "small") });
    assert_eq!(keys(&c), vec!["routes[0].max_complexity", "routes[1].escalate_to"]);
    let mut c = two_targets();
    c.models.clear();
    c.routes.push(Route { on_budget: Some(OnBudget::Local), ..route("a", "claude") });
    assert_eq!(keys(&c), vec!["routes[0].on_budget"]);
}

#[test]
fn budget_compare_to_and_server_key_are_checked() {
    let mut c = two_targets();
    c.budget.compare_to = Some("gpt".into());
    c.server.api_key_env = Some("HEARTH_API_KEY".into());
    let p = problems(&c, &env_with(&["ANTHROPIC_API_KEY"]));
    assert_eq!(
        p.iter().map(Problem::key).collect::<Vec<_>>(),
        vec!["budget.compare_to", "server.api_key_env"]
    );
    c.budget.compare_to = Some("claude".into());
    assert_eq!(c.reference_remote().map(|r| r.name.as_str()), Some("claude"));
}

#[test]
fn every_problem_is_listed_at_once() {
    let mut c = two_targets();
    c.routes.push(route("a", "nope"));
    c.routes.push(route("a", "small"));
    let err = c.validate(&|_| false).expect_err("three problems");
    assert_eq!(err.problems().len(), 3, "{err}");
    assert_eq!(err.to_string().lines().count(), 4, "{err}");
}

#[test]
fn load_reads_parses_and_names_the_file() {
    let dir = std::env::temp_dir().join(format!("hearth-router-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let missing = dir.join("missing.toml");
    let e = RouterConfig::load(&missing).expect_err("missing");
    assert!(matches!(e, ConfigError::Read { .. }) && e.to_string().contains("missing.toml"), "{e}");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[[models]]\nnmae = \"x\"\n").expect("write");
    let e = RouterConfig::load(&bad).expect_err("typo");
    assert!(e.to_string().contains("bad.toml") && e.to_string().contains("nmae"), "{e}");
    let good = dir.join("good.toml");
    std::fs::write(&good, "[[models]]\nname = \"m.gguf\"\n").expect("write");
    assert_eq!(RouterConfig::load(&good).expect("loads").models[0].name, "m.gguf");
    std::fs::remove_dir_all(&dir).ok();
}

const EXAMPLE: &str = include_str!("../../../deploy/hearth.example.toml");

#[test]
fn the_deploy_example_parses_and_validates() {
    let c = parse(EXAMPLE);
    c.validate(&env_with(&["ANTHROPIC_API_KEY", "HEARTH_API_KEY"])).expect("valid");
    let missing = problems(&c, &env_with(&[]));
    assert_eq!(
        missing.iter().map(Problem::key).collect::<Vec<_>>(),
        vec!["remotes[0].api_key_env", "server.api_key_env"]
    );
    // "The defaults are shown" in [complexity].
    let defaults = ComplexityConfig { jargon: c.complexity.jargon.clone(), ..ComplexityConfig::default() };
    assert_eq!(c.complexity, defaults);
    assert_eq!(c.route_for("anything").map(|(i, _)| i), Some(4));
}

#[test]
fn every_key_is_documented_in_the_deploy_example() {
    // Every field of every table, with its Options set, must appear as `key =` in the example.
    let mut route = c_route();
    route.max_complexity = Some(0.5);
    let full = RouterConfig {
        server: ServerSection {
            host: Some(String::new()),
            port: Some(1),
            api_key_env: Some(String::new()),
            memory_budget_mb: Some(1),
            embedding_models: vec!["e".into()],
        },
        models: vec![LocalModel { path: Some("x".into()), ..LocalModel::named("m") }],
        remotes: vec![Remote {
            base_url: Some(String::new()),
            api_key_env: Some(String::new()),
            cache_read_per_mtok: Some(0.0),
            cache_write_per_mtok: Some(0.0),
            ..Remote::new("r", Provider::Openai, "m", 0.0, 0.0)
        }],
        routes: vec![route],
        budget: Budget {
            daily_usd: Some(1.0),
            monthly_usd: Some(1.0),
            compare_to: Some(String::new()),
            local_usd_per_hour: Some(0.0),
        },
        complexity: ComplexityConfig::default(),
        ledger: hearth_ledger::LedgerConfig {
            path: Some("x".into()),
            url: Some("postgres://x".into()),
            instance: Some("x".into()),
            retain_days: Some(1),
            ..hearth_ledger::LedgerConfig::default()
        },
        cache: Some(hearth_cache::CacheConfig {
            path: Some("x".into()),
            redis_url: Some("redis://x".into()),
            ..hearth_cache::CacheConfig::default()
        }),
        monitor: Some(crate::MonitorConfig {
            state_file: Some("x".into()),
            ..crate::MonitorConfig::new("r")
        }),
    };
    let json = serde_json::to_value(&full).expect("serializes");
    let mut keys = Vec::new();
    collect_keys(&json, &mut keys);
    let lines: Vec<&str> = EXAMPLE.lines().map(str::trim_start).collect();
    for key in keys {
        assert!(
            lines.iter().any(|l| l.trim_start_matches("# ").starts_with(&format!("{key} =")))
                || lines.contains(&format!("[{key}]").as_str())
                || lines.contains(&format!("[[{key}]]").as_str())
                || lines.contains(&format!("[complexity.{key}]").as_str()),
            "{key} is not in deploy/hearth.example.toml"
        );
    }
}

fn collect_keys(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                assert!(!v.is_null(), "{k} is unset in the fully populated config");
                out.push(k.clone());
                collect_keys(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_keys(i, out)),
        _ => {}
    }
}

fn c_route() -> Route {
    Route {
        escalate_to: Some("x".into()),
        min_mean_logprob: Some(-1.0),
        min_token_logprob: Some(-1.0),
        min_label_margin: Some(0.1),
        fallback: Some("x".into()),
        on_budget: Some(OnBudget::Local),
        ..route("a", "b")
    }
}
