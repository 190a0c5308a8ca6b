//! `POST /v1/messages` through the router (`ServerConfig::routing`): the same decisions as
//! chat completions, answered in Anthropic's shapes — locally, passed through to a loopback
//! fake Anthropic API (`hearth_anthropic::fake`), streamed, retried, fallen back, refused
//! past a cap, escalated. The local model is the SmolLM2 fixture; tests skip without it.

use std::time::SystemTime;

use axum::body::Body;
use axum::http::Request;
use hearth_anthropic::fake::Fault;
use hearth_anthropic::types::{ContentDelta, Message as ApiMessage, StreamEvent};
use hearth_router::Spend;
use serde_json::{Value, json};

use crate::messages::{assert_anthropic_error, events};
use crate::routing::{app, config_text, cost, fake, header, route_reason};
use crate::support::{KEY, Reply, post, send};

const ROUTES: &str = r#"
    [[routes]]
    tasks = ["classify"]
    target = "small"
    [[routes]]
    tasks = ["generate", "reason"]
    target = "claude"
"#;

fn ask(task: &str, text: &str) -> Value {
    json!({
        "model": "auto",
        "max_tokens": 8,
        "temperature": 0,
        "metadata": {"task": task},
        "system": "You are terse.",
        "messages": [{"role": "user", "content": text}],
    })
}

/// `POST /v1/messages` with `x-api-key` (as the anthropic SDKs send it) and `x-hearth-task`.
async fn post_with_task(app: &axum::Router, task: &str, body: Value) -> Reply {
    let req = Request::builder()
        .method("POST")
        .uri("/v1/messages")
        .header("x-api-key", KEY)
        .header("content-type", "application/json")
        .header("x-hearth-task", task)
        .body(Body::from(body.to_string()))
        .unwrap();
    send(app, req).await
}

#[tokio::test]
async fn auto_sends_a_classify_task_to_the_local_model_with_the_routing_headers() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let mut body = ask("x", "Spam or not: WIN A PRIZE");
    body.as_object_mut().unwrap().remove("metadata");
    let r = post_with_task(&app, "classify", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("small", "task"));
    assert_eq!(header(&r, "x-hearth-cost-usd"), "0");
    assert!(header(&r, "request-id").starts_with("req_"));
    let v = r.json();
    let msg: ApiMessage = serde_json::from_value(v.clone()).unwrap();
    assert!(msg.id.starts_with("msg_"), "{}", msg.id);
    assert_eq!(v["type"], "message");
    assert_eq!(v["model"], "small");
    assert_eq!(v["content"][0]["type"], "text");
    assert_eq!(v["hearth"]["route"], "small");
    assert_eq!(v["hearth"]["task"], "classify");
    assert_eq!(v["hearth"]["task_source"], "given");
    assert!(fake.requests().is_empty(), "nothing went upstream");
}

#[tokio::test]
async fn a_generate_task_is_passed_through_to_claude_with_its_model_swapped() {
    let fake = fake().await;
    let Some((app, routing)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    // Long enough for claude-haiku-4-5's 4096-token cache minimum (estimated at 4 chars a token).
    let system = "You write careful, well-tested Rust code. ".repeat(450);
    let body = json!({
        "model": "auto",
        "max_tokens": 20,
        "temperature": 0.5,
        "system": system,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u1", "task": "generate"},
        "messages": [{"role": "user", "content": "Write a haiku about rust"}],
    });
    let r = post(&app, "/v1/messages", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "task"));
    assert!(cost(&r) > 0.0);
    assert!(header(&r, "request-id").starts_with("req_fake_"), "the upstream's request-id is kept");
    let v = r.json();
    let msg: ApiMessage = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(msg.text(), "echo: Write a haiku about rust");
    assert_eq!(v["model"], "claude-haiku-4-5");
    assert!(v["usage"]["input_tokens"].as_u64().is_some());
    assert_eq!(v["hearth"]["task"], "generate");
    assert!(v["hearth"]["cost_usd"].as_f64().unwrap() > 0.0);

    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    let up = sent[0].json().unwrap();
    assert_eq!(up["model"], "claude-haiku-4-5");
    assert_eq!(up["max_tokens"], 20);
    assert_eq!(up["temperature"], 0.5);
    assert_eq!(up["stop_sequences"], json!(["END"]));
    assert_eq!(up["metadata"], json!({"user_id": "u1"}), "hearth's metadata.task is not sent");
    assert_eq!(up["system"][0]["text"], system.as_str());
    assert_eq!(up["system"][0]["cache_control"], json!({"type": "ephemeral"}));
    assert_eq!(up["messages"], json!([{"role": "user", "content": "Write a haiku about rust"}]));
    assert!(up.get("stream").is_none());
    assert!(routing.spend().spent_today(SystemTime::now()) > 0.0, "the cost is recorded");
}

#[tokio::test]
async fn a_claude_model_id_goes_to_the_remote_serving_it_and_an_unknown_one_is_a_404() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let mut body = ask("classify", "Hello");
    body["model"] = json!("claude-haiku-4-5");
    let r = post(&app, "/v1/messages", body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "explicit"));
    body["model"] = json!("claude-opus-9");
    let r = post(&app, "/v1/messages", body).await;
    assert_anthropic_error(&r, 404, "not_found_error");
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("claude-opus-9"));
}

#[tokio::test]
async fn a_streamed_remote_answer_is_relayed_in_anthropics_event_sequence() {
    let fake = fake().await;
    let Some((app, routing)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let mut body = ask("reason", "Count to three");
    body["stream"] = json!(true);
    let r = post(&app, "/v1/messages", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["content-type"], "text/event-stream");
    assert_eq!(route_reason(&r), ("claude", "task"));
    assert!(header(&r, "request-id").starts_with("req_fake_"));
    let evs = events(&r.body);
    let names: Vec<&str> = evs.iter().map(StreamEvent::event_name).filter(|n| *n != "ping").collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(&names[names.len() - 3..], ["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names[1], "content_block_start");
    let text: String = evs
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ContentBlockDelta { delta: ContentDelta::TextDelta { text }, .. } => {
                Some(text.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(text, "echo: Count to three");
    let Some(StreamEvent::MessageDelta { usage, .. }) =
        evs.iter().find(|e| e.event_name() == "message_delta")
    else {
        panic!("no message_delta")
    };
    assert!(usage.output_tokens > 0);
    assert!(routing.spend().spent_today(SystemTime::now()) > 0.0, "the cost is recorded at message_stop");
    assert!(fake.requests()[0].json().unwrap()["stream"] == true);
}

#[tokio::test]
async fn an_overloaded_remote_is_retried_then_answers() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 2, ROUTES)) else { return };
    fake.push_fault(Fault::Overloaded);
    let r = post(&app, "/v1/messages", ask("reason", "Plan a trip")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "task"));
    assert_eq!(r.json()["content"][0]["text"], "echo: Plan a trip");
    assert_eq!(fake.requests().len(), 2, "the 529, then the answer");
}

#[tokio::test]
async fn a_dead_remote_falls_back_to_the_local_model() {
    let routes = r#"
        [[routes]]
        tasks = ["reason"]
        target = "claude"
        fallback = "small"
    "#;
    // Nothing listens on port 9 (discard): the connection is refused.
    let Some((app, _)) = app(&config_text("http://127.0.0.1:9", 0, routes)) else { return };
    let r = post(&app, "/v1/messages", ask("reason", "Plan a trip")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("small", "remote_unavailable"));
    assert_eq!(header(&r, "x-hearth-cost-usd"), "0");
    let v = r.json();
    assert_eq!(v["type"], "message");
    assert_eq!(v["model"], "small");
    assert_eq!(v["hearth"]["reason"], "remote_unavailable");
}

#[tokio::test]
async fn a_dead_remote_without_fallback_is_a_502_api_error_naming_it() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    fake.push_fault(Fault::ServerError);
    let r = post(&app, "/v1/messages", ask("reason", "Plan a trip")).await;
    assert_anthropic_error(&r, 502, "api_error");
    assert_eq!(header(&r, "x-hearth-route"), "claude");
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("claude") && message.contains("500"), "{message}");
}

#[tokio::test]
async fn an_upstream_400_reaches_the_client_as_a_400_with_its_message() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    fake.push_fault(Fault::Error {
        status: 400,
        error_type: "invalid_request_error".into(),
        message: "messages.0.content: too long".into(),
        should_retry: None,
        retry_after: None,
        error_code: None,
    });
    let r = post(&app, "/v1/messages", ask("reason", "Plan a trip")).await;
    assert_anthropic_error(&r, 400, "invalid_request_error");
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.starts_with("messages.0.content: too long"), "{message}");
    // The remote is not blamed: the next request goes there again.
    let r = post(&app, "/v1/messages", ask("reason", "Plan a trip")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn past_the_daily_cap_a_rejecting_route_is_a_429_naming_the_cap() {
    let fake = fake().await;
    let routes = r#"
        [budget]
        daily_usd = 0.5
        [[routes]]
        tasks = ["reason"]
        target = "claude"
        on_budget = "reject"
    "#;
    let Some((app, routing)) = app(&config_text(&fake.base_url(), 0, routes)) else { return };
    routing.set_spend(Spend::restore(SystemTime::now(), 0.75, 0.75));
    let r = post(&app, "/v1/messages", ask("reason", "Why?")).await;
    assert_anthropic_error(&r, 429, "rate_limit_error");
    assert_eq!(header(&r, "x-hearth-reason"), "budget");
    assert_eq!(header(&r, "x-hearth-route"), "claude");
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("daily") && message.contains("0.5"), "{message}");
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn a_low_confidence_local_answer_is_escalated_to_the_remote() {
    let fake = fake().await;
    let routes = r#"
        [[routes]]
        tasks = ["classify"]
        target = "small"
        escalate_to = "claude"
        min_mean_logprob = 0.0
    "#;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, routes)) else { return };
    let r = post(&app, "/v1/messages", ask("classify", "Spam or not: WIN A PRIZE")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "low_confidence"));
    assert!(cost(&r) > 0.0);
    let v = r.json();
    assert_eq!(v["content"][0]["text"], "echo: Spam or not: WIN A PRIZE");
    assert_eq!(v["model"], "claude-haiku-4-5");
    assert_eq!(v["hearth"]["reason"], "low_confidence");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_label_margin_below_the_routes_threshold_escalates_and_one_above_stays() {
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
    // 1.0 is never reached (the runner-up always has some probability); 0.0 always is.
    for (margin, expected) in [("1.0", ("claude", "low_confidence")), ("0.0", ("small", "task"))] {
        let Some((router, _)) = app(&config_text(&fake.base_url(), 0, &routes(margin))) else { return };
        let r = post(&router, "/v1/messages", ask("classify", "Spam or not: WIN A PRIZE")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(route_reason(&r), expected, "min_label_margin = {margin}");
    }
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_confident_local_answer_stays_local_and_a_buffered_stream_is_replayed() {
    let fake = fake().await;
    let routes = r#"
        [[routes]]
        tasks = ["classify"]
        target = "small"
        escalate_to = "claude"
        min_mean_logprob = -1000.0
        buffer_streams = true
    "#;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, routes)) else { return };
    let mut body = ask("classify", "Spam or not: WIN A PRIZE");
    body["stream"] = json!(true);
    let r = post(&app, "/v1/messages", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("small", "task"));
    let names: Vec<String> = events(&r.body).iter().map(|e| e.event_name().to_owned()).collect();
    assert_eq!(names.first().map(String::as_str), Some("message_start"));
    assert_eq!(names.last().map(String::as_str), Some("message_stop"));
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn count_tokens_counts_with_the_target_the_router_picks() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let body = json!({"model": "auto", "system": "You are terse.",
        "messages": [{"role": "user", "content": "Spam or not: WIN A PRIZE"}]});
    let req = Request::builder()
        .method("POST")
        .uri("/v1/messages/count_tokens")
        .header("x-api-key", KEY)
        .header("content-type", "application/json")
        .header("x-hearth-task", "classify")
        .body(Body::from(body.to_string()))
        .unwrap();
    let r = send(&app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("small", "task"));
    assert!(r.json()["input_tokens"].as_u64().unwrap() > 0);
    assert!(fake.requests().is_empty());

    let mut body = body;
    body["model"] = json!("claude-haiku-4-5");
    let r = post(&app, "/v1/messages/count_tokens", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "explicit"));
    assert_eq!(header(&r, "x-hearth-cost-usd"), "0");
    assert!(r.json()["input_tokens"].as_u64().unwrap() > 0);
    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/v1/messages/count_tokens");
    assert_eq!(sent[0].json().unwrap()["model"], "claude-haiku-4-5");
}
