//! The router in the server (`ServerConfig::routing`): decisions and their headers, remote
//! calls through a loopback fake Anthropic API (`hearth_anthropic::fake`), retries, a dead
//! remote, budget caps, escalation of a local answer and streaming through the remote. The
//! local model is the SmolLM2 fixture; tests skip without it.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hearth_anthropic::fake::{FakeAnthropic, Fault};
use hearth_engine::{EngineOptions, SchedulerOptions};
use hearth_router::{RouterConfig, Spend};
use hearth_server::{AppState, ModelSpec, Routing, ServerConfig, router};
use serde_json::{Value, json};

use crate::support::{KEY, Reply, post, send};

pub(crate) const ANTHROPIC_KEY: &str = "sk-ant-test";

/// The config text: one local model `small`, the remote `claude` at `base_url` (key in
/// `TEST_ANTHROPIC_KEY`, no retries unless `retries`), then `extra` (routes, budget).
pub(crate) fn config_text(base_url: &str, retries: u32, extra: &str) -> String {
    format!(
        r#"
        [[models]]
        name = "small"
        [[remotes]]
        name = "claude"
        provider = "anthropic"
        model = "claude-haiku-4-5"
        base_url = "{base_url}"
        api_key_env = "TEST_ANTHROPIC_KEY"
        input_per_mtok = 1.00
        output_per_mtok = 5.00
        max_retries = {retries}
        cooldown_after_failures = 1
        {extra}
        "#
    )
}

const ROUTES: &str = r#"
    [[routes]]
    tasks = ["classify"]
    target = "small"
    [[routes]]
    tasks = ["reason"]
    target = "claude"
"#;

/// The key variable of OpenAI-compatible remotes in the tests (`openai_remote.rs`): the test
/// apps' own key, so another hearth accepts it.
pub(crate) const UPSTREAM_KEY_ENV: &str = "TEST_UPSTREAM_KEY";

/// The test environment: `TEST_ANTHROPIC_KEY` and [`UPSTREAM_KEY_ENV`] are set.
fn test_env(v: &str) -> Option<String> {
    match v {
        "TEST_ANTHROPIC_KEY" => Some(ANTHROPIC_KEY.to_owned()),
        UPSTREAM_KEY_ENV => Some(KEY.to_owned()),
        _ => None,
    }
}

/// The app and its routing, or `None` without the fixture.
pub(crate) fn app(text: &str) -> Option<(Router, Arc<Routing>)> {
    app_with(text, None)
}

/// [`app`], its routing writing to `ledger` if given.
pub(crate) fn app_with(
    text: &str,
    ledger: Option<Arc<hearth_router::hearth_ledger::Ledger>>,
) -> Option<(Router, Arc<Routing>)> {
    app_with_routing(text, |r| match &ledger {
        Some(l) => r.with_ledger(Arc::clone(l)),
        None => r,
    })
}

/// [`app_with`], with the response cache `cache` in front of the routing.
pub(crate) fn app_with_cache(
    text: &str,
    ledger: Option<Arc<hearth_router::hearth_ledger::Ledger>>,
    cache: Arc<hearth_cache::Cache>,
) -> Option<(Router, Arc<Routing>)> {
    app_with_routing(text, |r| {
        let r = r.with_cache(Arc::clone(&cache));
        match &ledger {
            Some(l) => r.with_ledger(Arc::clone(l)),
            None => r,
        }
    })
}

fn app_with_routing(text: &str, setup: impl FnOnce(Routing) -> Routing) -> Option<(Router, Arc<Routing>)> {
    app_with_state(text, setup).map(|(app, routing, _)| (app, routing))
}

/// [`app_with_routing`] with the server's state too.
pub(crate) fn app_with_state(
    text: &str,
    setup: impl FnOnce(Routing) -> Routing,
) -> Option<(Router, Arc<Routing>, AppState)> {
    let path = hearth_testkit::model(hearth_testkit::SMOLLM2_135M)?;
    let config = RouterConfig::from_toml_str(text).unwrap();
    config.validate(&|v| test_env(v).is_some()).unwrap();
    let env = test_env;
    let routing = Arc::new(setup(Routing::new(config, &env).unwrap()));
    let spec = ModelSpec {
        engine: EngineOptions { threads: 2, n_ctx: 512, n_batch: 64, ..Default::default() },
        scheduler: SchedulerOptions { slots: 1, max_queue: 8 },
        ..ModelSpec::new("small", path)
    };
    let config = ServerConfig {
        api_key: Some(KEY.into()),
        models: vec![spec],
        routing: Some(Arc::clone(&routing)),
        ..ServerConfig::default()
    };
    config.validate().unwrap();
    let state = AppState::new(config);
    Some((router(state.clone()).unwrap(), routing, state))
}

pub(crate) async fn fake() -> FakeAnthropic {
    FakeAnthropic::start(ANTHROPIC_KEY).await.unwrap()
}

pub(crate) fn chat(task: &str, text: &str) -> Value {
    json!({
        "model": "auto",
        "max_tokens": 8,
        "temperature": 0,
        "metadata": {"task": task},
        "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": text}],
    })
}

pub(crate) fn header<'a>(r: &'a Reply, name: &str) -> &'a str {
    r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name}: {:?}", r.headers))
}

pub(crate) fn cost(r: &Reply) -> f64 {
    header(r, "x-hearth-cost-usd").parse().unwrap()
}

pub(crate) fn route_reason(r: &Reply) -> (&str, &str) {
    (header(r, "x-hearth-route"), header(r, "x-hearth-reason"))
}

#[tokio::test]
async fn a_classify_task_goes_to_the_local_model() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let r = post(&app, "/v1/chat/completions", chat("classify", "Spam or not: WIN A PRIZE")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("small", "task"));
    assert_eq!(header(&r, "x-hearth-cost-usd"), "0");
    let v = r.json();
    assert_eq!(v["hearth"]["route"], "small");
    assert_eq!(v["hearth"]["task"], "classify");
    assert_eq!(v["hearth"]["task_source"], "given");
    assert!(v["hearth"]["complexity"].is_number());
    assert!(v["choices"][0]["message"]["content"].is_string());
    assert!(fake.requests().is_empty(), "nothing went upstream");
}

#[tokio::test]
async fn completions_follow_the_routes_and_a_remote_decision_is_a_clear_400() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let body = json!({"model": "auto", "prompt": "def add(a, b):", "max_tokens": 8, "temperature": 0,
        "metadata": {"task": "classify"}});
    let r = post(&app, "/v1/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("small", "task"));
    let v = r.json();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(
        (v["hearth"]["route"].as_str(), v["hearth"]["task"].as_str()),
        (Some("small"), Some("classify"))
    );
    let body = json!({"model": "auto", "prompt": "Why?", "max_tokens": 8, "metadata": {"task": "reason"}});
    let r = post(&app, "/v1/completions", body).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "task"));
    assert!(r.body.contains("/v1/chat/completions"), "{}", r.body);
    assert!(fake.requests().is_empty(), "nothing went upstream");
}

#[tokio::test]
async fn metrics_count_routed_requests_with_their_cost_and_savings() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let r = post(&app, "/v1/chat/completions", chat("classify", "Spam or not: WIN A PRIZE")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(&app, "/v1/chat/completions", chat("reason", "Why is the sky blue?")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let paid = cost(&r);
    // A task name no route lists and hearth does not know is labelled `other`.
    let r = post(&app, "/v1/chat/completions", chat("my-own-task-1234", "Hello")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let m = send(&app, crate::support::request("GET", "/metrics", None, Some(KEY))).await;
    assert_eq!(m.status, 200);
    let value = |series: &str| -> f64 {
        let line = m
            .body
            .lines()
            .find(|l| l.starts_with(series))
            .unwrap_or_else(|| panic!("no {series}:\n{}", m.body));
        line[series.len()..].trim().parse().unwrap()
    };
    assert_eq!(value(r#"hearth_routed_requests_total{task="classify",route="small",reason="task"}"#), 1.0);
    assert_eq!(value(r#"hearth_routed_requests_total{task="reason",route="claude",reason="task"}"#), 1.0);
    assert_eq!(value(r#"hearth_routed_requests_total{task="other",route="small",reason="default"}"#), 1.0);
    assert!((value(r#"hearth_cost_usd_total{task="reason",route="claude"}"#) - paid).abs() < 1e-9, "{paid}");
    assert_eq!(value(r#"hearth_cost_usd_total{task="classify",route="small"}"#), 0.0);
    assert!(
        value(r#"hearth_saved_usd_total{task="classify",route="small"}"#) > 0.0,
        "claude's price of the local tokens"
    );
    assert!(!m.body.contains("my-own-task"), "free-form task names never become labels");
}

#[tokio::test]
async fn a_reason_task_goes_to_the_remote_with_system_top_level() {
    let fake = fake().await;
    let Some((app, routing)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let req = Request::builder()
        .method("POST")
        .uri("/v1/chat/completions")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .header("x-hearth-task", "reason");
    let mut body = chat("x", "Why is the sky blue?");
    body.as_object_mut().unwrap().remove("metadata");
    let r = send(&app, req.body(Body::from(body.to_string())).unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "task"));
    assert!(cost(&r) > 0.0);
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "echo: Why is the sky blue?");
    assert_eq!(v["hearth"]["task"], "reason");
    assert!(v["hearth"]["cost_usd"].as_f64().unwrap() > 0.0);
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    let upstream = sent[0].json().unwrap();
    assert_eq!(upstream["system"], "You are terse.");
    assert_eq!(upstream["max_tokens"], 8);
    assert_eq!(upstream["messages"], json!([{"role": "user", "content": "Why is the sky blue?"}]));
    assert!(routing.spend().spent_today(SystemTime::now()) > 0.0, "the cost is recorded");
}

#[tokio::test]
async fn naming_the_remote_goes_there_explicitly() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let mut body = chat("classify", "Hello");
    body["model"] = json!("claude");
    let r = post(&app, "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "explicit"));
    assert_eq!(r.json()["hearth"]["reason"], "explicit");
}

#[tokio::test]
async fn models_lists_the_local_models_the_remotes_and_auto() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let r = send(&app, crate::support::request("GET", "/v1/models", None, Some(KEY))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let data = r.json()["data"].as_array().cloned().unwrap();
    let kinds: Vec<(&str, &str)> =
        data.iter().map(|m| (m["id"].as_str().unwrap(), m["hearth"]["kind"].as_str().unwrap())).collect();
    assert_eq!(kinds, [("small", "local"), ("claude", "remote"), ("auto", "router")]);
    assert_eq!(data[1]["hearth"]["provider"], "anthropic");
    assert_eq!(data[1]["hearth"]["upstream_model"], "claude-haiku-4-5");
    let one = send(&app, crate::support::request("GET", "/v1/models/claude", None, Some(KEY))).await;
    assert_eq!(one.json()["id"], "claude", "{}", one.body);
}

#[tokio::test]
async fn an_overloaded_remote_is_retried() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 2, ROUTES)) else { return };
    fake.push_fault(Fault::Overloaded);
    let r = post(&app, "/v1/chat/completions", chat("reason", "Plan a trip")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "task"));
    assert_eq!(fake.requests().len(), 2, "the 529, then the answer");
}

#[tokio::test]
async fn a_dead_remote_without_fallback_is_a_502_naming_its_error_then_a_503() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    fake.push_fault(Fault::ServerError);
    let r = post(&app, "/v1/chat/completions", chat("reason", "Plan a trip")).await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(header(&r, "x-hearth-route"), "claude");
    let e = r.error();
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("claude") && message.contains("500"), "{message}");
    // One failure cools it down (cooldown_after_failures = 1): now refused without a call.
    let r = post(&app, "/v1/chat/completions", chat("reason", "Plan a trip")).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(header(&r, "x-hearth-reason"), "remote_unavailable");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_dead_remote_with_a_fallback_is_served_locally() {
    let fake = fake().await;
    let routes = r#"
        [[routes]]
        tasks = ["reason"]
        target = "claude"
        fallback = "small"
    "#;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, routes)) else { return };
    fake.push_fault(Fault::Overloaded);
    let r = post(&app, "/v1/chat/completions", chat("reason", "Plan a trip")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("small", "remote_unavailable"));
    assert_eq!(header(&r, "x-hearth-cost-usd"), "0");
    // Cooling down now: the decision itself falls back, without calling.
    let r = post(&app, "/v1/chat/completions", chat("reason", "Plan a trip")).await;
    assert_eq!(route_reason(&r), ("small", "remote_unavailable"));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn past_the_daily_cap_a_route_rejects_or_serves_locally_as_configured() {
    let fake = fake().await;
    let routes = r#"
        [budget]
        daily_usd = 0.5
        [[routes]]
        tasks = ["reason"]
        target = "claude"
        on_budget = "reject"
        [[routes]]
        tasks = ["plan"]
        target = "claude"
        fallback = "small"
        on_budget = "local"
    "#;
    let Some((app, routing)) = app(&config_text(&fake.base_url(), 0, routes)) else { return };
    routing.set_spend(Spend::restore(SystemTime::now(), 0.75, 0.75));
    let r = post(&app, "/v1/chat/completions", chat("reason", "Why?")).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(header(&r, "x-hearth-reason"), "budget");
    let message = r.error()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("daily") && message.contains("0.5"), "{message}");
    let r = post(&app, "/v1/chat/completions", chat("plan", "Plan a trip")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("small", "budget"));
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn a_low_confidence_local_answer_escalates_and_both_attempts_are_accounted() {
    let fake = fake().await;
    let routes = r#"
        [[routes]]
        tasks = ["classify"]
        target = "small"
        escalate_to = "claude"
        min_mean_logprob = 0.0
    "#;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, routes)) else { return };
    let r = post(&app, "/v1/chat/completions", chat("classify", "Spam or not: WIN A PRIZE")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "low_confidence"));
    assert!(cost(&r) > 0.0);
    let v = r.json();
    assert_eq!(v["choices"][0]["message"]["content"], "echo: Spam or not: WIN A PRIZE");
    assert!(v["choices"][0]["logprobs"].is_null());
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_close_call_between_labels_escalates_on_the_label_margin() {
    let fake = fake().await;
    let routes = |margin: &str| {
        format!(
            r#"
            [[routes]]
            tasks = ["classify"]
            target = "small"
            escalate_to = "claude"
            min_label_margin = {margin}
        "#
        )
    };
    // A margin of 1.0 is never reached (the runner-up always has some probability).
    let Some((strict, _)) = app(&config_text(&fake.base_url(), 0, &routes("1.0"))) else { return };
    let r = post(&strict, "/v1/chat/completions", chat("classify", "Spam or not: WIN A PRIZE")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "low_confidence"));
    assert_eq!(fake.requests().len(), 1);
    // A margin of 0.0 always is (greedy picks the most likely token); the client's one
    // alternative per token comes back, not the two the margin was measured with.
    let Some((lenient, _)) = app(&config_text(&fake.base_url(), 0, &routes("0.0"))) else { return };
    let mut body = chat("classify", "Spam or not: WIN A PRIZE");
    body["logprobs"] = json!(true);
    body["top_logprobs"] = json!(1);
    let r = post(&lenient, "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("small", "task"));
    let v = r.json();
    let tokens = v["choices"][0]["logprobs"]["content"].as_array().cloned().unwrap_or_default();
    assert!(!tokens.is_empty(), "{v}");
    assert!(tokens.iter().all(|t| t["top_logprobs"].as_array().map(Vec::len) == Some(1)), "{v}");
    assert_eq!(fake.requests().len(), 1, "no second remote call");
}

#[tokio::test]
async fn a_confident_enough_local_answer_stays_local_without_logprobs_unasked() {
    let fake = fake().await;
    let routes = r#"
        [[routes]]
        tasks = ["classify"]
        target = "small"
        escalate_to = "claude"
        min_mean_logprob = -1000.0
    "#;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, routes)) else { return };
    let r = post(&app, "/v1/chat/completions", chat("classify", "Spam or not: WIN A PRIZE")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("small", "task"));
    assert!(r.json()["choices"][0]["logprobs"].is_null(), "logprobs were collected, not sent");
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn a_json_answer_cut_by_the_token_limit_escalates_as_invalid_output() {
    let fake = fake().await;
    let routes = r#"
        [[routes]]
        tasks = ["extract"]
        target = "small"
        escalate_to = "claude"
    "#;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, routes)) else { return };
    let mut body = chat("extract", "Give the name and age of Ann, 31, as JSON.");
    body["max_tokens"] = json!(3);
    body["response_format"] = json!({"type": "json_object"});
    let r = post(&app, "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "invalid_output"));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_stream_through_the_remote_arrives_as_chunks_in_order() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let mut body = chat("reason", "Count to three");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let r = post(&app, "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "task"));
    let events = r.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> =
        events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "echo: Count to three");
    let n = chunks.len();
    assert_eq!(chunks[n - 2]["choices"][0]["finish_reason"], "stop");
    assert!(chunks[n - 1]["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"));
}

#[tokio::test]
async fn an_error_event_mid_stream_becomes_an_error_object_then_done() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    fake.push_fault(Fault::stream_error());
    let mut body = chat("reason", "Count to three");
    body["stream"] = json!(true);
    let r = post(&app, "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let events = r.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let err: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert!(err["error"]["message"].as_str().unwrap().contains("mid-stream"), "{err}");
}

#[test]
fn a_remote_without_its_api_key_is_a_start_up_error_naming_the_variable() {
    let config = RouterConfig::from_toml_str(&config_text("http://127.0.0.1:9", 0, ROUTES)).unwrap();
    let e = Routing::new(config, &|_| None).unwrap_err();
    assert!(e.to_string().contains("TEST_ANTHROPIC_KEY"), "{e}");
}
