//! Regression tests for the hardening review (issue 19) and the JSON Schema `format`
//! papercut (issue 17), one per item, named after it.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use hearth_engine::{EngineOptions, MAX_THREADS};
use hearth_server::{AppState, Server, ServerConfig, router};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{KEY, app, config, engine, post, request, send};

fn schema_request(schema: Value, strict: Option<bool>) -> Value {
    let mut spec = json!({"name": "out", "schema": schema});
    if let Some(s) = strict {
        spec["strict"] = json!(s);
    }
    json!({
        "messages": [{"role": "user", "content": "Answer in JSON."}],
        "max_tokens": 8,
        "temperature": 0,
        "response_format": {"type": "json_schema", "json_schema": spec},
    })
}

/// 19.2: schema mistakes (cyclic `$ref`, repetition counts or literals too large to force)
/// are the client's: 400 naming `response_format` and the problem, fast, with no
/// `<non-verbose/>` leaking from llguidance; before, 500 "grammar matcher: NoExtensionBias".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue19_2_schema_mistakes_are_400s_naming_the_problem() {
    let Some((app, _)) = app(config(1, 4)) else { return };
    for (schema, needle) in [
        (json!({"$ref": "#"}), "admits no output"),
        (
            json!({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}),
            "admits no output",
        ),
        (json!({"type": "object", "properties": {"a": {"$ref": "#"}}, "required": ["a"]}), "too complex"),
        (json!({"type": "string", "pattern": "^a{1000000}$"}), "forces a run of 1000000 bytes"),
        (json!({"type": "string", "pattern": "^(a{1000}){1000}$"}), "forces a run of 1000000 bytes"),
        (
            json!({"type": "object", "properties": {"k": {"const": "x".repeat(100_000)}}}),
            "`const` value at `/properties/k`",
        ),
    ] {
        let t0 = Instant::now();
        let r = post(&app, "/v1/chat/completions", schema_request(schema.clone(), None)).await;
        let shown: String = schema.to_string().chars().take(80).collect();
        assert_eq!(r.status, 400, "{shown}: {}", r.body);
        let e = r.error();
        assert_eq!(e["param"], "response_format", "{shown}");
        let msg = e["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{shown}: {msg}");
        assert!(!msg.contains("non-verbose"), "{shown}: {msg}");
        assert!(t0.elapsed() < Duration::from_secs(5), "{shown}: took {:?}", t0.elapsed());
    }
}

/// 17.6b: an unknown `format` is an annotation (JSON Schema): accepted, not enforced, and
/// said in `X-Hearth-Warning`; with `strict: true` it is a 400 naming it. Before: a hard
/// error ("Unknown format: path").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue17_6b_unknown_formats_are_warnings_unless_strict() {
    let Some((app, _)) = app(config(1, 4)) else { return };
    let schema = json!({
        "type": "object",
        "properties": {"file": {"type": "string", "format": "path"}, "net": {"type": "string", "format": "cidr"}},
        "required": ["file", "net"],
    });
    for strict in [None, Some(false)] {
        let r = post(&app, "/v1/chat/completions", schema_request(schema.clone(), strict)).await;
        assert_eq!(r.status, 200, "{strict:?}: {}", r.body);
        let warnings: Vec<&str> =
            r.headers.get_all("x-hearth-warning").iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains(r#"unknown format "path" at /properties/file"#)
                && warnings[0].contains(r#"unknown format "cidr" at /properties/net"#),
            "{warnings:?}"
        );
    }
    // Streams say it too (headers come first).
    let mut body = schema_request(schema.clone(), None);
    body["stream"] = json!(true);
    let r = post(&app, "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200);
    assert!(r.headers.contains_key("x-hearth-warning"));

    let r = post(&app, "/v1/chat/completions", schema_request(schema, Some(true))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let e = r.error();
    assert_eq!(e["param"], "response_format.json_schema.schema");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("\"path\"") && msg.contains("strict"), "{msg}");

    // Known formats are enforced and warn about nothing.
    let known = json!({"type": "string", "format": "date"});
    let r = post(&app, "/v1/chat/completions", schema_request(known, Some(true))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.headers.contains_key("x-hearth-warning"));
}

/// A server on 127.0.0.1 whose model never loads (connection handling needs none); it
/// stops when the returned sender is dropped.
async fn serve_without_model(config: ServerConfig) -> (std::net::SocketAddr, std::sync::mpsc::Sender<()>) {
    let server = Server::bind(ServerConfig { port: 0, ..config }).await.unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    tokio::spawn(server.run(
        move || {
            let _ = stopped.recv();
            Err("the test is over".into())
        },
        std::future::pending(),
    ));
    (addr, stop)
}

/// Reads until the server closes the connection (or `limit` passes); returns what came and
/// whether it closed.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut out = Vec::new();
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
        }
    }
}

/// 19.6: slow clients cannot hold connections: headers must arrive within
/// `header_timeout` (idle keep-alive connections close then too), bodies within
/// `body_timeout` (408), at most `max_connections` are open (the next gets 503), and a
/// declared `Content-Length` over the limit is a 413 before the body is read — even with
/// `Expect: 100-continue`, which gets no `100 Continue`. Before: half-sent headers held a
/// connection > 70 s, 3,000 idle connections were held, and 100-continue was answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue19_6_slow_clients_are_cut_off_and_connections_capped() {
    let (addr, _stop) = serve_without_model(ServerConfig {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        max_connections: 4,
        max_body_bytes: 1024,
        ..config(1, 4)
    })
    .await;

    // Half the headers, then nothing: closed after the header timeout.
    let t0 = Instant::now();
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"POST /v1/completions HTTP/1.1\r\nHost: localhost\r\n").await.unwrap();
    let (_, closed) = read_until_closed(&mut half, Duration::from_secs(10)).await;
    assert!(closed && t0.elapsed() < Duration::from_secs(5), "open after {:?}", t0.elapsed());

    // A complete request, then an idle keep-alive connection: closed after the timeout too.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let (first, closed) = read_until_closed(&mut idle, Duration::from_secs(10)).await;
    assert!(first.starts_with("HTTP/1.1 503"), "{first}");
    assert!(closed, "an idle keep-alive connection stays open");

    // Over the limit with Expect: 100-continue: 413 at once, no 100 Continue.
    let mut big = TcpStream::connect(addr).await.unwrap();
    big.write_all(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: 100000000\r\nExpect: 100-continue\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (reply, _) = read_until_closed(&mut big, Duration::from_secs(5)).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(!reply.contains("100 Continue"), "{reply}");
    assert!(reply.contains("request_too_large"), "{reply}");

    // A body that stops halfway: 408 after the body timeout.
    let t0 = Instant::now();
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"messages\":"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (reply, _) = read_until_closed(&mut slow, Duration::from_secs(10)).await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("body_timeout") && t0.elapsed() < Duration::from_secs(5), "{reply}");

    // Four connections held open; the fifth is refused with a 503 at once.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fifth = TcpStream::connect(addr).await.unwrap();
    let (reply, closed) = read_until_closed(&mut fifth, Duration::from_secs(5)).await;
    assert!(closed, "the fifth connection was kept");
    assert!(reply.is_empty() || reply.starts_with("HTTP/1.1 503"), "{reply}");
    // Once the held ones time out, connections are served again.
    for mut h in held {
        assert!(read_until_closed(&mut h, Duration::from_secs(10)).await.1);
    }
    let mut again = TcpStream::connect(addr).await.unwrap();
    again.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let (reply, _) = read_until_closed(&mut again, Duration::from_secs(5)).await;
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
}

/// A request to `path` with a `Host` header and, for POST, a body of `content_type`.
fn addressed(
    method: &str,
    path: &str,
    host: &str,
    content_type: Option<&str>,
    key: Option<&str>,
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path).header("host", host);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    if let Some(k) = key {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    let body = if method == "POST" {
        Body::from(json!({"prompt": "Hi", "max_tokens": 1}).to_string())
    } else {
        Body::empty()
    };
    b.body(body).unwrap()
}

/// 19.8: without an API key, only requests addressed to loopback names, IP addresses or
/// `--allowed-host` names are answered (DNS rebinding: `Host: evil.example` is 403), and
/// POST bodies must be declared JSON (a cross-site `text/plain` form post is 415); CORS
/// stays off. With a key, neither check applies. Before: any `Host` and `text/plain` were
/// served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue19_8_without_a_key_only_loopback_hosts_and_json_bodies() {
    let Some(e) = engine() else { return };
    let open = ServerConfig { api_key: None, allowed_hosts: vec!["hearth.lan".into()], ..config(1, 4) };
    let state = AppState::new(open);
    state.set_engine(e.clone());
    let app = router(state).unwrap();
    for host in ["evil.example", "evil.example:8080", "localhost.evil.example"] {
        for (method, path) in [("GET", "/v1/models"), ("GET", "/health"), ("POST", "/v1/completions")] {
            let r = send(&app, addressed(method, path, host, Some("application/json"), None)).await;
            assert_eq!(r.status, 403, "{host} {path}: {}", r.body);
            assert_eq!(r.error()["code"], "host_not_allowed");
        }
    }
    for ct in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let r = send(&app, addressed("POST", "/v1/completions", "localhost:8080", ct, None)).await;
        assert_eq!(r.status, 415, "{ct:?}: {}", r.body);
        assert_eq!(r.error()["code"], "unsupported_media_type");
    }
    for host in ["localhost:8080", "127.0.0.1:8080", "[::1]:8080", "hearth.lan:8080", "192.168.1.5"] {
        let r = send(
            &app,
            addressed("POST", "/v1/completions", host, Some("application/json; charset=utf-8"), None),
        )
        .await;
        assert_eq!(r.status, 200, "{host}: {}", r.body);
        assert!(!r.headers.contains_key("access-control-allow-origin"));
    }
    let mut with_origin = addressed("GET", "/v1/models", "localhost", None, None);
    with_origin.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    let r = send(&app, with_origin).await;
    assert_eq!(r.status, 200);
    assert!(!r.headers.contains_key("access-control-allow-origin"), "CORS is off unless configured");

    // With a key the key decides.
    let Some((keyed, _)) = app_with_key() else { return };
    let r = send(&keyed, addressed("POST", "/v1/completions", "evil.example", Some("text/plain"), Some(KEY)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

fn app_with_key() -> Option<(axum::Router, AppState)> {
    app(config(1, 4))
}

/// 19.9: with a key, `/health` says only its status to callers without it; unknown routes
/// and wrong methods are 401 before 404/405; a key of the wrong length is refused like any
/// wrong key (digests are compared, not lengths). Before: model id and slots for anyone,
/// 404/405 without a key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue19_9_health_details_need_the_key_and_auth_comes_first() {
    let Some((app, _)) = app(config(1, 4)) else { return };
    let h = send(&app, request("GET", "/health", None, None)).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.json(), json!({"status": "ok"}));
    let h = send(&app, request("GET", "/health", None, Some("wrong"))).await;
    assert_eq!(h.json(), json!({"status": "ok"}));
    let h = send(&app, request("GET", "/health", None, Some(KEY))).await;
    let v = h.json();
    assert_eq!(v["model"], "smollm2-test");
    assert_eq!(v["slots_total"], 1);

    for (method, path) in [("GET", "/v1/engines"), ("GET", "/v1/chat/completions"), ("DELETE", "/v1/models")]
    {
        let r = send(&app, request(method, path, None, None)).await;
        assert_eq!(r.status, 401, "{method} {path}");
        assert_eq!(r.error()["code"], "invalid_api_key");
    }
    assert_eq!(send(&app, request("GET", "/v1/engines", None, Some(KEY))).await.status, 404);
    assert_eq!(send(&app, request("GET", "/v1/chat/completions", None, Some(KEY))).await.status, 405);

    for wrong in ["", "s", "sk-test-kex", "sk-test-key-and-more", &"k".repeat(10_000)] {
        let r = send(&app, request("GET", "/v1/models", None, Some(wrong))).await;
        assert_eq!(r.status, 401, "{wrong:?}");
    }
}

/// 19.9: `--threads 100000` aborted the process ("failed to set up alternative stack guard
/// page"); now it is an error naming the cap, found before the model file is even opened.
#[test]
fn issue19_9_absurd_thread_counts_are_errors_not_aborts() {
    let opts = EngineOptions { threads: 100_000, ..EngineOptions::default() };
    let err = hearth_engine::Engine::load("/nonexistent/model.gguf", opts).unwrap_err().to_string();
    assert!(err.contains("100000 threads") && err.contains(&MAX_THREADS.to_string()), "{err}");
    let err = EngineOptions { n_batch: 0, ..EngineOptions::default() }.validate().unwrap_err().to_string();
    assert!(err.contains("batch"), "{err}");
    assert!(EngineOptions { threads: MAX_THREADS, ..EngineOptions::default() }.validate().is_ok());
}

/// 19.9: settings are checked before the port is bound (`--batch-size 0` bound the port and
/// then failed): a bad server setting fails `Server::bind` without binding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue19_9_bad_settings_fail_before_binding() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    for bad in [
        ServerConfig { max_connections: 0, ..ServerConfig::default() },
        ServerConfig { header_timeout: Duration::ZERO, ..ServerConfig::default() },
        ServerConfig { allowed_hosts: vec!["http://x:80".into()], ..ServerConfig::default() },
        ServerConfig { cors_origins: vec!["ftp://x".into()], ..ServerConfig::default() },
    ] {
        // The port is taken: an error about the setting (not "address in use") shows the
        // setting was checked first.
        let err = Server::bind(ServerConfig { port, ..bad }).await.unwrap_err().to_string();
        assert!(!err.contains("cannot listen"), "{err}");
    }
}
