//! `/v1/messages` and `/v1/messages/count_tokens`: Anthropic's shapes over the local model —
//! the message, the streaming event order, stop reasons, usage, errors, `x-api-key`.

use axum::body::Body;
use axum::http::Request;
use hearth_anthropic::types::{Message as ApiMessage, StreamEvent};
use hearth_engine::{Message, Prompt};
use serde_json::{Value, json};

use crate::support::{KEY, app, config, greedy_reference, post, send, user};

const Q: &str = "What is the capital of France? Answer in one sentence.";

fn ask(extra: Value) -> Value {
    let mut body = json!({"model": "anything", "max_tokens": 12, "temperature": 0,
        "messages": [{"role": "user", "content": Q}]});
    if let (Some(b), Value::Object(x)) = (body.as_object_mut(), extra) {
        b.extend(x);
    }
    body
}

/// The events of an Anthropic SSE body: (`event:` name, parsed data), the two checked to agree.
pub(crate) fn events(body: &str) -> Vec<StreamEvent> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let name = e.lines().find_map(|l| l.strip_prefix("event: ")).expect("an event name");
            let data = e.lines().find_map(|l| l.strip_prefix("data: ")).expect("data");
            let ev: StreamEvent = serde_json::from_str(data).unwrap_or_else(|err| panic!("{err}: {data}"));
            assert_eq!(ev.event_name(), name, "{e}");
            ev
        })
        .collect()
}

pub(crate) fn assert_anthropic_error(r: &crate::support::Reply, status: u16, kind: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let v = r.json();
    assert_eq!(v["type"], "error", "{}", r.body);
    assert_eq!(v["error"]["type"], kind, "{}", r.body);
    assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    let id = r.headers["request-id"].to_str().unwrap();
    assert!(id.starts_with("req_"), "{id}");
    assert_eq!(v["request_id"], id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_streaming_answers_a_message_matching_greedy_decoding() {
    let Some((app, state)) = app(config(2, 8)) else { return };
    let e = state.ready().unwrap().engine.clone();
    let (want, n) = greedy_reference(&e, Prompt::Messages(user(Q)), 12, &[]);

    let r = post(&app, "/v1/messages", ask(json!({"metadata": {"user_id": "u1"}}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/json");
    assert!(r.headers["request-id"].to_str().unwrap().starts_with("req_"));
    assert_eq!(r.headers["x-hearth-route"], "smollm2-test");
    assert_eq!(r.headers["x-hearth-reason"], "explicit");
    let v = r.json();
    let msg: ApiMessage = serde_json::from_value(v.clone()).unwrap();
    assert!(msg.id.starts_with("msg_"), "{}", msg.id);
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "smollm2-test");
    assert_eq!(v["content"], json!([{"type": "text", "text": want}]));
    assert_eq!(v["stop_reason"], if n == 12 { "max_tokens" } else { "end_turn" });
    assert_eq!(v["stop_sequence"], Value::Null);
    let prompt = e.tokenize_prompt(&Prompt::Messages(user(Q))).unwrap().len();
    assert_eq!(v["usage"]["input_tokens"], prompt);
    assert_eq!(v["usage"]["output_tokens"], n);
    assert_eq!(v["usage"]["cache_read_input_tokens"], 0);
    assert_eq!(v["usage"]["cache_creation_input_tokens"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_prompt_as_blocks_is_the_leading_system_turn() {
    let Some((app, state)) = app(config(2, 8)) else { return };
    let e = state.ready().unwrap().engine.clone();
    let sys = "You answer in French.";
    let conv = vec![Message::system(sys), Message::user(Q)];
    let (want, _) = greedy_reference(&e, Prompt::Messages(conv), 8, &[]);
    let r = post(
        &app,
        "/v1/messages",
        ask(json!({"max_tokens": 8, "system": [{"type": "text", "text": sys}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": Q}]}]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["content"][0]["text"], want.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_tokens_and_stop_sequences_set_the_stop_reason() {
    let Some((app, state)) = app(config(2, 8)) else { return };
    let e = state.ready().unwrap().engine.clone();
    let (free, _) = greedy_reference(&e, Prompt::Messages(user(Q)), 12, &[]);

    let r = post(&app, "/v1/messages", ask(json!({"max_tokens": 2}))).await;
    let v = r.json();
    assert_eq!(v["stop_reason"], "max_tokens", "{}", r.body);
    assert_eq!(v["usage"]["output_tokens"], 2);

    // A stop sequence taken from the middle of the free answer.
    let words: Vec<&str> = free.split_whitespace().collect();
    assert!(words.len() >= 3, "the fixture's answer is too short: {free:?}");
    let stop = words[2].to_owned();
    let (want, _) = greedy_reference(&e, Prompt::Messages(user(Q)), 12, &[&stop]);
    let r = post(&app, "/v1/messages", ask(json!({"stop_sequences": ["@@never@@", stop]}))).await;
    let v = r.json();
    assert_eq!(v["stop_reason"], "stop_sequence", "{}", r.body);
    assert_eq!(v["stop_sequence"], stop.as_str());
    assert_eq!(v["content"][0]["text"], want.as_str());

    let r = post(&app, "/v1/messages", ask(json!({"stream": true, "stop_sequences": [stop]}))).await;
    let evs = events(&r.body);
    let delta = evs.iter().find_map(|e| match e {
        StreamEvent::MessageDelta { delta, .. } => Some(delta.clone()),
        _ => None,
    });
    let delta = delta.expect("a message_delta");
    assert_eq!(serde_json::to_value(&delta.stop_reason).unwrap(), "stop_sequence");
    assert_eq!(delta.stop_sequence.as_deref(), Some(stop.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_sends_the_apis_event_sequence() {
    let Some((app, _)) = app(config(2, 8)) else { return };
    let whole = post(&app, "/v1/messages", ask(json!({}))).await.json();

    let r = post(&app, "/v1/messages", ask(json!({"stream": true}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    assert_eq!(r.headers["x-hearth-route"], "smollm2-test");
    let evs = events(&r.body);
    let names: Vec<&str> = evs.iter().map(StreamEvent::event_name).collect();
    assert_eq!(&names[..3], ["message_start", "content_block_start", "ping"], "{names:?}");
    assert_eq!(&names[names.len() - 3..], ["content_block_stop", "message_delta", "message_stop"]);
    assert!(names[3..names.len() - 3].iter().all(|n| *n == "content_block_delta"), "{names:?}");

    let StreamEvent::MessageStart { message } = &evs[0] else { unreachable!() };
    assert!(message.id.starts_with("msg_"));
    assert!(message.content.is_empty() && message.stop_reason.is_none());
    assert_eq!(message.usage.input_tokens, whole["usage"]["input_tokens"].as_u64().unwrap());
    let text: String = evs
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ContentBlockDelta {
                index: 0,
                delta: hearth_anthropic::types::ContentDelta::TextDelta { text },
            } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, whole["content"][0]["text"].as_str().unwrap());
    let StreamEvent::MessageDelta { delta, usage } = &evs[evs.len() - 2] else { unreachable!() };
    assert_eq!(serde_json::to_value(&delta.stop_reason).unwrap(), whole["stop_reason"]);
    assert_eq!(usage.output_tokens, whole["usage"]["output_tokens"].as_u64().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_in_anthropics_shape() {
    let Some((app, _)) = app(config(2, 8)) else { return };
    let r = post(&app, "/v1/messages", json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_anthropic_error(&r, 400, "invalid_request_error");
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("max_tokens"));

    let image = json!({"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}]}]});
    let r = post(&app, "/v1/messages", ask(image)).await;
    assert_anthropic_error(&r, 400, "invalid_request_error");
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("image"));

    let r = post(&app, "/v1/messages", ask(json!({"temperature": 1.5}))).await;
    assert_anthropic_error(&r, 400, "invalid_request_error");
    let r = post(&app, "/v1/messages", ask(json!({"messages": []}))).await;
    assert_anthropic_error(&r, 400, "invalid_request_error");
    let r = post(&app, "/v1/messages", json!([1, 2])).await;
    assert_anthropic_error(&r, 400, "invalid_request_error");

    // The OpenAI routes keep OpenAI's shape.
    let r = post(&app, "/v1/chat/completions", json!({"model": "m", "messages": []})).await;
    assert_eq!(r.status, 400);
    r.error();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_is_taken_as_x_api_key_or_bearer() {
    let Some((app, _)) = app(config(2, 8)) else { return };
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "Hi"}]});
    let with = |headers: &[(&str, &str)]| {
        let mut b = Request::builder()
            .method("POST")
            .uri("/v1/messages/count_tokens")
            .header("content-type", "application/json");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::from(body.to_string())).unwrap()
    };
    let r = send(&app, with(&[("x-api-key", KEY), ("anthropic-version", "2023-06-01")])).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(&app, with(&[("authorization", &format!("Bearer {KEY}"))])).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(&app, with(&[("x-api-key", "sk-wrong")])).await;
    assert_anthropic_error(&r, 401, "authentication_error");
    let r = send(&app, with(&[])).await;
    assert_anthropic_error(&r, 401, "authentication_error");
    // x-api-key opens the OpenAI routes too; their refusals stay OpenAI-shaped.
    let models = Request::builder().uri("/v1/models").header("x-api-key", KEY).body(Body::empty()).unwrap();
    assert_eq!(send(&app, models).await.status, 200);
    let r = send(&app, Request::builder().uri("/v1/models").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, 401);
    r.error();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_tokens_counts_the_rendered_prompt() {
    let Some((app, state)) = app(config(2, 8)) else { return };
    let e = state.ready().unwrap().engine.clone();
    let sys = "Be brief.";
    let want =
        e.tokenize_prompt(&Prompt::Messages(vec![Message::system(sys), Message::user(Q)])).unwrap().len();
    let r = post(
        &app,
        "/v1/messages/count_tokens",
        json!({"model": "m", "system": sys, "messages": [{"role": "user", "content": Q}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"input_tokens": want}));
    assert_eq!(r.headers["x-hearth-route"], "smollm2-test");

    let r = post(&app, "/v1/messages/count_tokens", json!({"model": "m", "messages": []})).await;
    assert_anthropic_error(&r, 400, "invalid_request_error");
}
