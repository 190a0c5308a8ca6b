//! `provider = "openai"` remotes, with another hearth as the upstream: server A serves the
//! SmolLM2 fixture plainly on a loopback port; app B routes to it as the remote `hearth-a`.
//! A routed answer is A's own (same greedy text), with B's routing headers and a cost from
//! A's usage; streams are relayed chunk by chunk; a dead upstream falls back or is a 502
//! naming it; a 429 with `retry-after` is waited out. Tests skip without the fixture.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hearth_router::RouterConfig;
use hearth_server::Routing;
use serde_json::{Value, json};

use crate::routing::{UPSTREAM_KEY_ENV, app, chat, cost, header, route_reason};
use crate::support::{self, Reply, post};

/// B's config: local `small`, the remote `hearth-a` at `base_url` (A's key from
/// [`UPSTREAM_KEY_ENV`], USD 1 / 5 per million tokens), then `extra` (routes).
fn config_text(base_url: &str, retries: u32, extra: &str) -> String {
    format!(
        r#"
        [[models]]
        name = "small"
        [[remotes]]
        name = "hearth-a"
        provider = "openai"
        model = "smollm2-test"
        base_url = "{base_url}"
        api_key_env = "{UPSTREAM_KEY_ENV}"
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
    tasks = ["reason"]
    target = "hearth-a"
"#;

/// Server A on a loopback port, `layer`ed (to inject failures); A's app (to ask it directly)
/// and its base URL in the SDKs' form (`http://127.0.0.1:N/v1`). `None` without the fixture.
async fn upstream(layer: impl FnOnce(Router) -> Router) -> Option<(Router, String)> {
    let (a, _) = support::app(support::config(1, 8))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = layer(a.clone());
    tokio::spawn(async move { axum::serve(listener, served).await.unwrap() });
    Some((a, format!("http://{addr}/v1")))
}

/// What A answers itself to B's body (`model` set to A's).
async fn direct(a: &Router, mut body: Value) -> Value {
    body["model"] = json!("smollm2-test");
    let r = post(a, "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// The cost of `usage` at USD 1 / 5 per million (cached prompt tokens at half price).
fn expected_cost(usage: &Value) -> f64 {
    let prompt = usage["prompt_tokens"].as_u64().unwrap() as f64;
    let cached =
        usage.pointer("/prompt_tokens_details/cached_tokens").and_then(Value::as_u64).unwrap_or(0) as f64;
    ((prompt - cached) * 1.0 + cached * 0.5 + usage["completion_tokens"].as_u64().unwrap() as f64 * 5.0) / 1e6
}

fn content(v: &Value) -> &str {
    v["choices"][0]["message"]["content"].as_str().unwrap()
}

fn chunks(r: &Reply) -> Vec<Value> {
    let events = r.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{}", r.body);
    events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_request_gets_the_upstream_hearths_answer_and_its_cost() {
    let Some((a, base)) = upstream(|r| r).await else { return };
    let Some((b, routing)) = app(&config_text(&base, 0, ROUTES)) else { return };
    let body = chat("reason", "Why is the sky blue?");
    let expected = direct(&a, body.clone()).await;

    let r = post(&b, "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("hearth-a", "task"));
    let v = r.json();
    assert_eq!(content(&v), content(&expected), "A's greedy answer, relayed");
    // A's own counts (its prefix cache may serve part of the repeated prompt, so
    // `cached_tokens` may differ between the two calls).
    for k in ["prompt_tokens", "completion_tokens"] {
        assert_eq!(v["usage"][k], expected["usage"][k], "{k}");
    }
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(v["hearth"]["route"], "hearth-a", "B's hearth object, not A's");
    let want = expected_cost(&v["usage"]);
    assert!(want > 0.0);
    assert!((cost(&r) - want).abs() < 1e-9, "{} vs {want}", cost(&r));
    assert!((v["hearth"]["cost_usd"].as_f64().unwrap() - want).abs() < 1e-12);
    assert!((routing.spend().spent_today(SystemTime::now()) - want).abs() < 1e-12, "the cost is recorded");

    // Named explicitly.
    let mut body = chat("classify", "Why is the sky blue?");
    body["model"] = json!("hearth-a");
    let r = post(&b, "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("hearth-a", "explicit"));
    assert_eq!(content(&r.json()), content(&expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_is_relayed_with_usage_only_when_asked() {
    let Some((a, base)) = upstream(|r| r).await else { return };
    let Some((b, routing)) = app(&config_text(&base, 0, ROUTES)) else { return };
    let expected = direct(&a, chat("reason", "Count to three")).await;
    let text = |chunks: &[Value]| -> String {
        chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect()
    };

    let spent = || routing.spend().spent_today(SystemTime::now());
    let mut body = chat("reason", "Count to three");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let r = post(&b, "/v1/chat/completions", body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("hearth-a", "task"));
    let with_usage = chunks(&r);
    assert_eq!(text(&with_usage), content(&expected), "A's greedy answer, relayed");
    assert!(with_usage.iter().all(|c| c["object"] == "chat.completion.chunk"));
    let last = with_usage.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["completion_tokens"], expected["usage"]["completion_tokens"]);
    let first_cost = expected_cost(&last["usage"]);
    assert!(first_cost > 0.0);
    assert!((spent() - first_cost).abs() < 1e-12, "the cost is recorded at the end of the stream");

    body.as_object_mut().unwrap().remove("stream_options");
    let r = post(&b, "/v1/chat/completions", body).await;
    assert_eq!(route_reason(&r), ("hearth-a", "task"));
    let plain = chunks(&r);
    assert_eq!(text(&plain), content(&expected));
    assert!(plain.iter().all(|c| c.get("usage").is_none()), "usage was not asked for: {plain:?}");
    // The upstream was still asked for the usage, so this stream's cost is known too: between
    // the price of its tokens with the whole prompt cached and with none of it.
    let second_cost = spent() - first_cost;
    let mut bounds = [expected["usage"].clone(), expected["usage"].clone()];
    bounds[0]["prompt_tokens_details"] = json!({"cached_tokens": 0});
    bounds[1]["prompt_tokens_details"] = json!({"cached_tokens": expected["usage"]["prompt_tokens"]});
    let (most, least) = (expected_cost(&bounds[0]), expected_cost(&bounds[1]));
    assert!(
        second_cost > 0.0 && least - 1e-12 <= second_cost && second_cost <= most + 1e-12,
        "{second_cost}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_upstream_is_a_502_naming_it_or_falls_back_to_a_local_model() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let Some((b, _)) = app(&config_text(&dead, 0, ROUTES)) else { return };
    let r = post(&b, "/v1/chat/completions", chat("reason", "Plan a trip")).await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(header(&r, "x-hearth-route"), "hearth-a");
    let message = r.error()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("hearth-a") && message.contains(&dead), "{message}");

    let fallback = r#"
        [[routes]]
        tasks = ["reason"]
        target = "hearth-a"
        fallback = "small"
    "#;
    let Some((b, _)) = app(&config_text(&dead, 0, fallback)) else { return };
    let r = post(&b, "/v1/chat/completions", chat("reason", "Plan a trip")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("small", "remote_unavailable"));
    assert_eq!(header(&r, "x-hearth-cost-usd"), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_waited_out_then_answered() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let rate_limit_first = move |req: Request, next: Next| {
        let seen = Arc::clone(&seen);
        async move {
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                let body = json!({"error": {"message": "Rate limit reached", "type": "requests",
                    "param": null, "code": "rate_limit_exceeded"}});
                let mut resp: Response =
                    (axum::http::StatusCode::TOO_MANY_REQUESTS, body.to_string()).into_response();
                resp.headers_mut().insert("retry-after", "1".parse().unwrap());
                return resp;
            }
            next.run(req).await
        }
    };
    let Some((_, base)) = upstream(|r| r.layer(axum::middleware::from_fn(rate_limit_first))).await else {
        return;
    };
    let Some((b, _)) = app(&config_text(&base, 2, ROUTES)) else { return };
    let start = Instant::now();
    let r = post(&b, "/v1/chat/completions", chat("reason", "Plan a trip")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("hearth-a", "task"));
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "retry-after: 1 was waited for ({:?})",
        start.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the 429, then the answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_confidence_local_answer_escalates_to_an_openai_remote() {
    let Some((a, base)) = upstream(|r| r).await else { return };
    let routes = r#"
        [[routes]]
        tasks = ["classify"]
        target = "small"
        escalate_to = "hearth-a"
        min_mean_logprob = 0.0
    "#;
    let Some((b, _)) = app(&config_text(&base, 0, routes)) else { return };
    let body = chat("classify", "Spam or not: WIN A PRIZE");
    let expected = direct(&a, body.clone()).await;
    let r = post(&b, "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("hearth-a", "low_confidence"));
    assert!(cost(&r) > 0.0);
    assert_eq!(content(&r.json()), content(&expected));
}

#[test]
fn openai_remotes_start_with_or_without_a_key_but_never_with_a_missing_one() {
    let text = config_text("http://127.0.0.1:9/v1", 0, ROUTES);
    let e = Routing::new(RouterConfig::from_toml_str(&text).unwrap(), &|_| None).unwrap_err();
    assert!(e.to_string().contains(UPSTREAM_KEY_ENV), "{e}");
    let keyless = text.replace(&format!("api_key_env = \"{UPSTREAM_KEY_ENV}\""), "");
    let routing = Routing::new(RouterConfig::from_toml_str(&keyless).unwrap(), &|_| None).unwrap();
    assert!(routing.openai_client("hearth-a").is_some());
    assert!(routing.anthropic_client("hearth-a").is_none());
    let bad = text.replace("http://127.0.0.1:9/v1", "ftp://example.com");
    let e = Routing::new(RouterConfig::from_toml_str(&bad).unwrap(), &|_| Some("k".into())).unwrap_err();
    assert!(e.to_string().contains("hearth-a") && e.to_string().contains("ftp"), "{e}");
}
