//! Serving behaviour: a full queue, clients that go away, metrics, CORS, binding rules,
//! load failures and shutdown — partly over a real socket.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hearth_server::{Server, ServerConfig, ServerError};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

use crate::support::{KEY, app, ban_eog, config, engine, post, request, send};

/// Waits (up to a minute) until `cond` holds.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn long_request(e: &hearth_engine::Engine, stream: bool, max_tokens: u32) -> Value {
    json!({"prompt": "Once upon a time", "max_tokens": max_tokens, "temperature": 0, "stream": stream, "logit_bias": ban_eog(e)})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_503_with_retry_after() {
    let Some((app, state)) = app(config(1, 1)) else { return };
    let ready = state.ready().unwrap();
    let stats = ready.scheduler.stats().clone();
    // A holds the only slot (its response arrives once it is admitted) ...
    let a = app
        .clone()
        .oneshot(request("POST", "/v1/completions", Some(&long_request(&ready.engine, true, 300)), Some(KEY)))
        .await
        .unwrap();
    assert_eq!(a.status(), 200);
    // ... B waits in the queue ...
    let app2 = app.clone();
    let b = tokio::spawn(async move {
        post(&app2, "/v1/completions", json!({"prompt": "Hi", "max_tokens": 2})).await
    });
    until("B is queued", || stats.queued.load(Ordering::Relaxed) == 1).await;
    // ... so C is refused.
    let c = post(&app, "/v1/completions", json!({"prompt": "Hello", "max_tokens": 2})).await;
    assert_eq!(c.status, 503, "{}", c.body);
    assert_eq!(c.headers["retry-after"], "1");
    assert_eq!(c.error()["code"], "queue_full");
    drop(a);
    let b = b.await.unwrap();
    assert_eq!(b.status, 200, "{}", b.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_stream_cancels_its_generation_and_frees_the_slot() {
    let Some((app, state)) = app(config(1, 4)) else { return };
    let ready = state.ready().unwrap();
    let a = app
        .clone()
        .oneshot(request("POST", "/v1/completions", Some(&long_request(&ready.engine, true, 400)), Some(KEY)))
        .await
        .unwrap();
    let mut body = a.into_body().into_data_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    drop(body);
    // The slot is free long before A's 400 tokens.
    let b = post(
        &app,
        "/v1/completions",
        json!({"prompt": "Hi", "max_tokens": 3, "temperature": 0, "logit_bias": ban_eog(&ready.engine)}),
    )
    .await;
    assert_eq!(b.status, 200);
    assert_eq!(b.json()["usage"]["completion_tokens"], 3);
    let generated = ready.scheduler.stats().completion_tokens.load(Ordering::Relaxed);
    assert!(generated < 400, "A was cancelled after {} tokens", generated - 3);
}

/// Sends raw HTTP/1.1 and returns the open connection.
async fn open(addr: SocketAddr, method: &str, path: &str, body: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    s
}

/// `GET /health` over the socket, parsed.
async fn health(addr: SocketAddr) -> Value {
    let mut s = open(addr, "GET", "/health", "").await;
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or(Value::Null)
}

async fn until_idle(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while health(addr).await["slots_busy"] != 0 {
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_socket_disconnects_cancel_and_shutdown_is_graceful() {
    let Some(e) = engine() else { return };
    let server = Server::bind(ServerConfig { port: 0, ..config(1, 4) }).await.unwrap();
    let addr = server.local_addr().unwrap();
    let state = server.state().clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let loaded = e.clone();
    let running = tokio::spawn(server.run(move || Ok(loaded), async move {
        let _ = stop_rx.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(60);
    while health(addr).await["status"] != "ok" {
        assert!(Instant::now() < deadline, "the model never became ready");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    for stream in [true, false] {
        let before = state.ready().unwrap().scheduler.stats().completion_tokens.load(Ordering::Relaxed);
        let mut s = open(addr, "POST", "/v1/completions", &long_request(&e, stream, 400).to_string()).await;
        if stream {
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        } else {
            until("the request has a slot", || {
                state.ready().unwrap().scheduler.stats().completion_tokens.load(Ordering::Relaxed) > before
            })
            .await;
        }
        drop(s);
        until_idle(addr).await;
        let after = state.ready().unwrap().scheduler.stats().completion_tokens.load(Ordering::Relaxed);
        assert!(after - before < 400, "stream={stream}: the generation ran to the end after the client left");
    }

    stop_tx.send(()).unwrap();
    let r =
        tokio::time::timeout(Duration::from_secs(60), running).await.expect("the server stopped").unwrap();
    assert!(r.is_ok(), "{r:?}");
    assert!(TcpStream::connect(addr).await.is_err(), "no longer listening");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_load_stops_the_server_with_the_reason() {
    let server = Server::bind(ServerConfig { port: 0, ..config(1, 4) }).await.unwrap();
    let r = server.run(|| Err("no such model: nope.gguf".into()), std::future::pending()).await;
    match r {
        Err(ServerError::Load(msg)) => assert!(msg.contains("nope.gguf"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_address_needs_a_key_or_insecure() {
    let open = ServerConfig { host: "0.0.0.0".into(), port: 0, api_key: None, ..ServerConfig::default() };
    let refused = Server::bind(open.clone()).await;
    assert!(matches!(refused, Err(ServerError::Insecure { .. })), "{refused:?}");
    assert!(Server::bind(ServerConfig { api_key: Some("k".into()), ..open.clone() }).await.is_ok());
    assert!(Server::bind(ServerConfig { insecure: true, ..open.clone() }).await.is_ok());
    let blank_key = Server::bind(ServerConfig { api_key: Some("  ".into()), ..open }).await;
    assert!(matches!(blank_key, Err(ServerError::Insecure { .. })), "a blank key is no key");
    assert!(
        Server::bind(ServerConfig { port: 0, ..ServerConfig::default() }).await.is_ok(),
        "loopback needs no key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_prometheus_text_with_the_counters() {
    let Some((app, _)) = app(config(2, 8)) else { return };
    let ok = post(
        &app,
        "/v1/chat/completions",
        json!({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}),
    )
    .await;
    assert_eq!(ok.status, 200);
    let _ = post(&app, "/v1/chat/completions", json!({"n": 3})).await;
    let m = send(&app, request("GET", "/metrics", None, Some(KEY))).await;
    assert_eq!(m.status, 200);
    assert!(m.headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let mut samples = std::collections::HashMap::new();
    for line in m.body.lines() {
        if let Some(c) = line.strip_prefix('#') {
            assert!(c.starts_with(" HELP ") || c.starts_with(" TYPE "), "{line}");
            continue;
        }
        let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample line {line:?}"));
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let metric = name.split('{').next().unwrap();
        assert!(metric.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
        samples.insert(name.to_owned(), v);
    }
    let get = |k: &str| *samples.get(k).unwrap_or_else(|| panic!("no {k} in\n{}", m.body));
    assert_eq!(get("hearth_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"}"), 1.0);
    assert_eq!(get("hearth_requests_total{endpoint=\"/v1/chat/completions\",status=\"400\"}"), 1.0);
    assert!(get("hearth_completion_tokens_total") >= 1.0);
    assert!(get("hearth_prompt_tokens_total") >= 1.0);
    assert_eq!(get("hearth_queue_depth"), 0.0);
    assert_eq!(get("hearth_slots_total"), 2.0);
    assert_eq!(get("hearth_time_to_first_token_seconds_count"), 1.0);
    assert_eq!(get("hearth_time_to_first_token_seconds_bucket{le=\"+Inf\"}"), 1.0);
    assert!(get("hearth_time_per_output_token_seconds_count") >= 1.0);
    assert!(get("hearth_generation_tokens_per_second") >= 0.0);
    assert_eq!(get("hearth_model_ready{model=\"smollm2-test\"}"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_off_by_default_and_allows_configured_origins() {
    let preflight = || {
        axum::http::Request::builder()
            .method("OPTIONS")
            .uri("/v1/chat/completions")
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let Some((closed, _)) = app(config(1, 4)) else { return };
    let r = send(&closed, preflight()).await;
    assert!(!r.headers.contains_key("access-control-allow-origin"));
    let Some((open, _)) =
        app(ServerConfig { cors_origins: vec!["https://app.example.com".into()], ..config(1, 4) })
    else {
        return;
    };
    let r = send(&open, preflight()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["access-control-allow-origin"], "https://app.example.com");
    let other = axum::http::Request::builder()
        .method("OPTIONS")
        .uri("/v1/chat/completions")
        .header("origin", "https://evil.example.com")
        .header("access-control-request-method", "POST")
        .body(axum::body::Body::empty())
        .unwrap();
    assert!(!send(&open, other).await.headers.contains_key("access-control-allow-origin"));
}
