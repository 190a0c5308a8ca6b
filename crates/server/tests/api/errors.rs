//! Errors in OpenAI's shape with the right statuses: auth, validation, context overflow,
//! body limit, unknown routes, loading.

use hearth_engine::Prompt;
use hearth_server::{AppState, ServerConfig, router};
use serde_json::json;

use crate::support::{KEY, app, config, engine, post, request, send, user};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_is_required_except_for_health() {
    let Some((app, _)) = app(config(1, 4)) else { return };
    let body = json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1});
    for key in [None, Some("wrong")] {
        let r = send(&app, request("POST", "/v1/chat/completions", Some(&body), key)).await;
        assert_eq!(r.status, 401, "{key:?}");
        assert_eq!(r.error()["code"], "invalid_api_key");
        assert_eq!(r.headers["www-authenticate"], "Bearer");
    }
    for path in ["/v1/models", "/metrics"] {
        assert_eq!(send(&app, request("GET", path, None, None)).await.status, 401, "{path}");
        assert_eq!(send(&app, request("GET", path, None, Some(KEY))).await.status, 200, "{path}");
    }
    let h = send(&app, request("GET", "/health", None, None)).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["status"], "ok");
    let ok = send(&app, request("POST", "/v1/chat/completions", Some(&body), Some(KEY))).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_parameters_are_400_naming_the_parameter() {
    let Some((app, _)) = app(config(1, 4)) else { return };
    let msgs = json!([{"role": "user", "content": "hi"}]);
    for (body, param) in [
        (json!({"messages": msgs, "n": 2}), "n"),
        (json!({"messages": msgs, "temperature": 3}), "temperature"),
        (json!({"messages": msgs, "temperature": "warm"}), "temperature"),
        (json!({"messages": msgs, "max_tokens": 0}), "max_tokens"),
        (json!({"messages": msgs, "stop": 5}), "stop"),
        (json!({"model": "x"}), "messages"),
        (json!({"messages": []}), "messages"),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}),
            "messages[0].content[0].type",
        ),
        (json!({"messages": [{"role": "wizard", "content": "hi"}]}), "messages[0].role"),
    ] {
        let r = post(&app, "/v1/chat/completions", body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let e = r.error();
        assert_eq!(e["type"], "invalid_request_error");
        assert_eq!(e["param"], param, "{body}");
    }
    let r = post(&app, "/v1/completions", json!({"prompt": ["a", "b"]})).await;
    assert_eq!((r.status.as_u16(), r.error()["param"].as_str()), (400, Some("prompt")));
    let r = post(&app, "/v1/completions", json!({"prompt": [999_999_999u32]})).await;
    assert_eq!((r.status.as_u16(), r.error()["param"].as_str()), (400, Some("prompt")));
    let bad = send(
        &app,
        axum::http::Request::post("/v1/chat/completions")
            .header("authorization", format!("Bearer {KEY}"))
            .body(axum::body::Body::from("{not json"))
            .unwrap(),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.error()["message"].as_str().unwrap().contains("not valid JSON"));
    // Unknown fields are ignored.
    let ok = post(
        &app,
        "/v1/chat/completions",
        json!({"messages": msgs, "max_tokens": 1, "tools": [], "parallel_tool_calls": false, "user": "u1"}),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_longer_than_the_context_is_400_naming_both_lengths() {
    let Some((app, state)) = app(config(1, 4)) else { return };
    let long = "the quick brown fox jumps over the lazy dog ".repeat(80);
    let n = state.ready().unwrap().engine.tokenize_prompt(&Prompt::Messages(user(&long))).unwrap().len();
    assert!(n > 512);
    let r =
        post(&app, "/v1/chat/completions", json!({"messages": [{"role": "user", "content": long}]})).await;
    assert_eq!(r.status, 400);
    let e = r.error();
    assert_eq!(e["code"], "context_length_exceeded");
    assert_eq!(e["param"], "messages");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains(&n.to_string()) && msg.contains("512"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_unknown_routes_and_wrong_methods() {
    let Some(e) = engine() else { return };
    let state = AppState::new(ServerConfig { max_body_bytes: 1024, ..crate::support::config(1, 4) });
    state.set_engine(e);
    let app = router(state).unwrap();
    let big = json!({"messages": [{"role": "user", "content": "x".repeat(4000)}]});
    let r = post(&app, "/v1/chat/completions", big).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.error()["code"], "request_too_large");
    let r = send(&app, request("GET", "/v1/engines", None, Some(KEY))).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error()["code"], "unknown_url");
    let r = send(&app, request("GET", "/v1/chat/completions", None, Some(KEY))).await;
    assert_eq!(r.status, 405);
    r.error();
    let r = send(&app, request("GET", "/v1/models/other", None, Some(KEY))).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error()["code"], "model_not_found");
    let r = send(&app, request("GET", "/v1/models/smollm2-test", None, Some(KEY))).await;
    assert_eq!(r.json()["id"], "smollm2-test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_loading_health_and_generation_answer_503() {
    let state = AppState::new(config(1, 4));
    let app = router(state.clone()).unwrap();
    let h = send(&app, request("GET", "/health", None, None)).await;
    assert_eq!(h.status, 503);
    assert_eq!(h.error()["code"], "model_loading");
    let r =
        post(&app, "/v1/chat/completions", json!({"messages": [{"role": "user", "content": "hi"}]})).await;
    assert_eq!(r.status, 503);
    assert!(r.headers.contains_key("retry-after"));
    let m = send(&app, request("GET", "/v1/models", None, Some(KEY))).await;
    assert_eq!(m.json()["data"][0]["id"], "smollm2-test");
    let Some(e) = engine() else { return };
    state.set_engine(e);
    assert_eq!(send(&app, request("GET", "/health", None, None)).await.status, 200);
}
