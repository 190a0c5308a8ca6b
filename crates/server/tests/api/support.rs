//! Shared helpers: the engine, an app over it, requests, SSE parsing.

use std::ops::ControlFlow;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use hearth_engine::{Engine, EngineOptions, Message, Prompt, SamplingParams, SchedulerOptions};
use hearth_server::{AppState, ServerConfig, router};
use serde_json::Value;
use tower::ServiceExt;

/// The API key of the test apps.
pub const KEY: &str = "sk-test-key";

/// The engine on the SmolLM2 fixture (512-token context), or `None` (skip).
pub fn engine() -> Option<Engine> {
    let path = hearth_testkit::model(hearth_testkit::SMOLLM2_135M)?;
    Some(
        Engine::load(path, EngineOptions { threads: 2, n_ctx: 512, n_batch: 64, ..Default::default() })
            .unwrap(),
    )
}

/// A config with the test key and `slots` / `max_queue`.
pub fn config(slots: usize, max_queue: usize) -> ServerConfig {
    ServerConfig {
        api_key: Some(KEY.into()),
        model_id: "smollm2-test".into(),
        scheduler: SchedulerOptions { slots, max_queue },
        ..ServerConfig::default()
    }
}

/// A ready app over the fixture.
pub fn app(config: ServerConfig) -> Option<(Router, AppState)> {
    let e = engine()?;
    let state = AppState::new(config);
    state.set_engine(e);
    Some((router(state.clone()).unwrap(), state))
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The `data:` payloads of an SSE body, `[DONE]` included.
    pub fn events(&self) -> Vec<String> {
        sse_data(&self.body)
    }

    /// The OpenAI error object, checked for its shape.
    pub fn error(&self) -> Value {
        let v = self.json();
        let e = v.get("error").unwrap_or_else(|| panic!("no error object: {}", self.body)).clone();
        for k in ["message", "type", "param", "code"] {
            assert!(e.get(k).is_some(), "error without {k}: {}", self.body);
        }
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
        e
    }
}

/// The `data:` payloads of SSE text.
pub fn sse_data(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|ev| ev.lines().find_map(|l| l.strip_prefix("data: ")).map(str::to_owned))
        .collect()
}

/// Builds a request; `key` adds `Authorization: Bearer`.
pub fn request(method: &str, path: &str, body: Option<&Value>, key: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(k) = key {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    let body = match body {
        Some(v) => {
            b = b.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    b.body(body).unwrap()
}

/// Sends a request and reads the whole response.
pub async fn send(app: &Router, req: Request<Body>) -> Reply {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes =
        tokio::time::timeout(Duration::from_secs(300), axum::body::to_bytes(resp.into_body(), usize::MAX))
            .await
            .expect("the response ended")
            .unwrap();
    Reply { status, headers, body: String::from_utf8(bytes.to_vec()).unwrap() }
}

/// `POST path` with the key.
pub async fn post(app: &Router, path: &str, body: Value) -> Reply {
    send(app, request("POST", path, Some(&body), Some(KEY))).await
}

/// What greedy decoding of `prompt` gives with the engine directly: (text, completion tokens).
pub fn greedy_reference(e: &Engine, prompt: Prompt, max_tokens: usize, stop: &[&str]) -> (String, usize) {
    let mut r = hearth_engine::Request::new(prompt);
    r.sampling = SamplingParams::greedy();
    r.max_tokens = max_tokens;
    r.stop = stop.iter().map(|s| s.to_string()).collect();
    let c = e.session().generate(&r, |_| ControlFlow::Continue(())).unwrap();
    (c.text, c.completion_tokens)
}

/// A user message.
pub fn user(text: &str) -> Vec<Message> {
    vec![Message::user(text)]
}

/// The ids of the end-of-generation tokens, as `logit_bias` keys banning them.
pub fn ban_eog(e: &Engine) -> Value {
    let mut m = serde_json::Map::new();
    for id in e.tokenizer().eog_ids() {
        m.insert(id.to_string(), Value::from(-100));
    }
    Value::Object(m)
}
