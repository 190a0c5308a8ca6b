//! The client against a scripted OpenAI-compatible server on loopback (a small axum app in
//! this file): what is sent, retries as the SDK does them, error bodies, streams.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use hearth_openai::{Client, ClientConfig, Error, Usage};
use serde_json::{Value, json};

/// One scripted answer: status, headers, body, and a delay before it.
#[derive(Clone, Default)]
struct Script {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

impl Script {
    fn json(status: u16, body: Value) -> Script {
        Script { status, body: body.to_string(), ..Script::default() }
    }
    fn header(mut self, name: &'static str, value: &str) -> Script {
        self.headers.push((name, value.to_owned()));
        self
    }
}

/// What the server saw and what it will answer next (a completion when nothing is queued).
#[derive(Default)]
struct Upstream {
    script: Mutex<VecDeque<Script>>,
    seen: Mutex<Vec<(HeaderMap, Value)>>,
}

fn completion() -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "upstream-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14,
            "prompt_tokens_details": {"cached_tokens": 4}}})
}

async fn handle(State(up): State<Arc<Upstream>>, headers: HeaderMap, body: Bytes) -> Response {
    up.seen.lock().unwrap().push((headers, serde_json::from_slice(&body).unwrap_or(Value::Null)));
    let next = up.script.lock().unwrap().pop_front();
    let script = next.unwrap_or_else(|| Script::json(200, completion()).header("x-request-id", "req-ok"));
    tokio::time::sleep(script.delay).await;
    let mut resp = (StatusCode::from_u16(script.status).unwrap(), script.body).into_response();
    for (name, value) in script.headers {
        resp.headers_mut().insert(name, value.parse().unwrap());
    }
    resp
}

/// A server on a free loopback port; its base URL (`http://127.0.0.1:N/v1`).
async fn upstream() -> (Arc<Upstream>, String) {
    let up = Arc::new(Upstream::default());
    let app =
        Router::new().route("/v1/chat/completions", axum::routing::post(handle)).with_state(Arc::clone(&up));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (up, format!("http://{addr}/v1"))
}

fn client(base: &str, key: Option<&str>, retries: u32) -> Client {
    let mut config = ClientConfig::new(base);
    config.max_retries = retries;
    config.timeout = Duration::from_secs(5);
    if let Some(k) = key {
        config = config.with_api_key(k);
    }
    Client::new(config).unwrap()
}

fn body() -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0,
        "metadata": {"task": "classify"}, "stream": true, "stream_options": {"include_usage": true}})
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_completion_is_posted_as_given_with_the_key_and_answered_with_its_request_id() {
    let (up, base) = upstream().await;
    let answer = client(&base, Some("sk-test"), 0).chat_completions(&body()).await.unwrap();
    assert_eq!(answer.body["choices"][0]["message"]["content"], "hello");
    assert_eq!(answer.request_id.as_deref(), Some("req-ok"));
    assert_eq!(answer.attempts, 1);
    assert_eq!(
        Usage::of(&answer.body),
        Some(Usage { prompt_tokens: 12, completion_tokens: 2, cached_tokens: 4 })
    );
    let seen = up.seen.lock().unwrap();
    let (headers, sent) = &seen[0];
    assert_eq!(header(headers, "authorization"), Some("Bearer sk-test"));
    assert_eq!(header(headers, "x-stainless-retry-count"), Some("0"));
    assert_eq!(header(headers, "content-type"), Some("application/json"));
    let mut expected = body();
    expected.as_object_mut().unwrap().retain(|k, _| k != "stream" && k != "stream_options");
    assert_eq!(*sent, expected, "every other field is kept");
}

#[tokio::test]
async fn without_a_key_no_authorization_goes_out_and_a_root_base_url_gets_v1() {
    let (up, base) = upstream().await;
    let root = base.strip_suffix("/v1").unwrap();
    client(root, None, 0).chat_completions(&body()).await.unwrap();
    assert_eq!(header(&up.seen.lock().unwrap()[0].0, "authorization"), None);
}

#[tokio::test]
async fn a_429_is_retried_after_the_wait_the_server_asked_for() {
    let (up, base) = upstream().await;
    let limited = json!({"error": {"message": "Rate limit reached", "type": "requests", "param": null,
        "code": "rate_limit_exceeded"}});
    up.script.lock().unwrap().push_back(Script::json(429, limited).header("retry-after-ms", "700"));
    let start = Instant::now();
    let answer = client(&base, None, 2).chat_completions(&body()).await.unwrap();
    // A first backoff is at most 0.5 s: only the header explains 0.7 s.
    assert!(start.elapsed() >= Duration::from_millis(700), "{:?}", start.elapsed());
    assert_eq!(answer.attempts, 2);
    let counts: Vec<String> = up
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(h, _)| header(h, "x-stainless-retry-count").unwrap().to_owned())
        .collect();
    assert_eq!(counts, ["0", "1"]);
}

#[tokio::test]
async fn client_errors_and_x_should_retry_false_are_not_retried() {
    let (up, base) = upstream().await;
    let bad = json!({"error": {"message": "Unknown model", "type": "invalid_request_error", "param": "model",
        "code": "model_not_found"}});
    up.script.lock().unwrap().push_back(Script::json(404, bad).header("x-request-id", "req-404"));
    let Err(Error::Api(e)) = client(&base, None, 2).chat_completions(&body()).await else { panic!("a 404") };
    assert_eq!(
        (e.status, e.kind.as_str(), e.code.as_deref()),
        (404, "invalid_request_error", Some("model_not_found"))
    );
    assert_eq!(e.request_id.as_deref(), Some("req-404"));
    assert_eq!(up.seen.lock().unwrap().len(), 1);

    up.script.lock().unwrap().push_back(Script::json(500, json!({})).header("x-should-retry", "false"));
    let Err(Error::Api(e)) = client(&base, None, 2).chat_completions(&body()).await else { panic!("a 500") };
    assert_eq!(e.should_retry, Some(false));
    assert_eq!(up.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn when_retries_run_out_the_last_error_is_returned() {
    let (up, base) = upstream().await;
    let fail = |n: u16| {
        Script { status: n, body: format!("failure {n}"), ..Script::default() }.header("retry-after-ms", "1")
    };
    up.script.lock().unwrap().extend([fail(500), fail(503), fail(502), fail(500)]);
    let Err(Error::Api(e)) = client(&base, None, 2).chat_completions(&body()).await else {
        panic!("an error")
    };
    assert_eq!((e.status, e.message.as_str()), (502, "failure 502"));
    assert_eq!(up.seen.lock().unwrap().len(), 3, "2 retries");
}

#[tokio::test]
async fn a_server_that_is_down_or_slow_is_a_typed_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let e = client(&dead, None, 0).chat_completions(&body()).await.unwrap_err();
    assert!(matches!(e, Error::Connection { .. }), "{e}");
    assert!(e.is_retryable() && e.to_string().contains(&dead), "{e}");

    let (up, base) = upstream().await;
    up.script
        .lock()
        .unwrap()
        .push_back(Script { delay: Duration::from_secs(3), ..Script::json(200, completion()) });
    let mut config = ClientConfig::new(&base);
    config.max_retries = 0;
    config.timeout = Duration::from_millis(300);
    let e = Client::new(config).unwrap().chat_completions(&body()).await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
}

fn sse(events: &[&str]) -> Script {
    let body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    Script { status: 200, body, ..Script::default() }
        .header("content-type", "text/event-stream")
        .header("x-request-id", "req-stream")
}

#[tokio::test]
async fn a_stream_yields_its_chunks_until_done() {
    let (up, base) = upstream().await;
    let c = |content: &str| {
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0,
        "delta": {"content": content}, "finish_reason": null}], "usage": null})
        .to_string()
    };
    let usage =
        json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}).to_string();
    up.script.lock().unwrap().push_back(sse(&[&c("he"), &c("llo"), &usage, "[DONE]"]));
    let stream = client(&base, None, 0).chat_completions_stream(&body()).await.unwrap();
    assert_eq!(stream.request_id(), Some("req-stream"));
    let chunks: Vec<Value> = stream.map(Result::unwrap).collect().await;
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "llo");
    assert_eq!(Usage::of(&chunks[2]).unwrap().completion_tokens, 2);
    let sent = &up.seen.lock().unwrap()[0].1;
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"], json!({"include_usage": true}), "stream_options go as given");
}

#[tokio::test]
async fn a_stream_cut_before_done_or_failing_inside_ends_with_an_error() {
    let (up, base) = upstream().await;
    let chunk = json!({"id": "c", "choices": [{"index": 0, "delta": {"content": "x"}}]}).to_string();
    let error =
        json!({"error": {"message": "upstream fell over", "type": "server_error", "code": null}}).to_string();
    up.script.lock().unwrap().extend([sse(&[&chunk]), sse(&[&chunk, &error, &chunk, "[DONE]"])]);
    let client = client(&base, None, 0);
    let items: Vec<_> = client.chat_completions_stream(&body()).await.unwrap().collect().await;
    assert_eq!(items.len(), 2);
    assert!(matches!(&items[1], Err(Error::IncompleteStream { request_id: Some(id) }) if id == "req-stream"));
    let items: Vec<_> = client.chat_completions_stream(&body()).await.unwrap().collect().await;
    assert_eq!(items.len(), 2, "nothing after the error");
    let Err(Error::Stream(e)) = &items[1] else { panic!("{items:?}") };
    assert_eq!(e.message, "upstream fell over");
}
