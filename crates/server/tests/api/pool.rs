//! Several local models at once (`ServerConfig::models`): each answers under its own name,
//! loads on its first request, unloads when idle or to make room in the memory budget (the
//! least recently used idle one, never one in use), and a model that fails to load is a 503
//! naming it while the others keep serving. Real fixtures: SmolLM2 (under several names) and
//! Gemma 3 270M, the two smallest.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::Router;
use futures_util::StreamExt;
use hearth_engine::{Engine, EngineOptions, Prompt, SchedulerOptions};
use hearth_server::{AppState, ModelSpec, ServerConfig, router};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{KEY, ban_eog, greedy_reference, post, request, send, user};

fn spec(name: &str, path: &Path) -> ModelSpec {
    ModelSpec {
        engine: EngineOptions { threads: 2, n_ctx: 512, n_batch: 64, ..Default::default() },
        scheduler: SchedulerOptions { slots: 1, max_queue: 8 },
        ..ModelSpec::new(name, path)
    }
}

fn pool_app(models: Vec<ModelSpec>, memory_budget: Option<u64>) -> (Router, AppState) {
    let config = ServerConfig { api_key: Some(KEY.into()), models, memory_budget, ..ServerConfig::default() };
    config.validate().unwrap();
    let state = AppState::new(config);
    (router(state.clone()).unwrap(), state)
}

fn smollm2() -> Option<PathBuf> {
    hearth_testkit::model(hearth_testkit::SMOLLM2_135M)
}

async fn health(app: &Router) -> Value {
    let r = send(app, request("GET", "/health", None, Some(KEY))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// The `/health` entry of model `name`.
async fn model_health(app: &Router, name: &str) -> Value {
    let h = health(app).await;
    h["models"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["name"] == name).cloned())
        .unwrap_or_else(|| panic!("no {name} in {h}"))
}

/// `name`'s state in `/v1/models` (`hearth.state`).
async fn listed_state(app: &Router, name: &str) -> Value {
    let r = send(app, request("GET", "/v1/models", None, Some(KEY))).await;
    let v = r.json();
    let m = v["data"].as_array().and_then(|d| d.iter().find(|m| m["id"] == name).cloned());
    m.unwrap_or_else(|| panic!("{name} not listed: {v}"))["hearth"]["state"].clone()
}

/// Waits (up to a minute, polling) until `name`'s `/health` state is `want`.
async fn until_state(app: &Router, name: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let m = model_health(app, name).await;
        if m["state"] == want {
            return;
        }
        assert!(Instant::now() < deadline, "{name} never became {want}: {m}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn chat(app: &Router, model: &str, text: &str, max_tokens: u32) -> crate::support::Reply {
    post(
        app,
        "/v1/chat/completions",
        json!({"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens, "temperature": 0}),
    )
    .await
}

async fn states(app: &Router, names: &[&str]) -> Vec<String> {
    let mut v = Vec::new();
    for n in names {
        v.push(model_health(app, n).await["state"].as_str().unwrap_or("?").to_owned());
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_models_answer_under_their_own_names_loaded_on_first_use() {
    let (Some(small), Some(gemma)) = (smollm2(), hearth_testkit::model(hearth_testkit::GEMMA3_270M)) else {
        return;
    };
    let (app, _) = pool_app(vec![spec("small", &small), spec("gemma", &gemma)], None);

    let list = send(&app, request("GET", "/v1/models", None, Some(KEY))).await.json();
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["small", "gemma", "auto"]);
    assert_eq!(listed_state(&app, "small").await, "unloaded", "nothing loads before its first request");
    assert_eq!(listed_state(&app, "gemma").await, "unloaded");
    assert_eq!(model_health(&app, "small").await["loads"], 0);
    let one = send(&app, request("GET", "/v1/models/gemma", None, Some(KEY))).await;
    assert_eq!(one.json()["hearth"]["kind"], "local");

    const Q: &str = "What is the capital of France?";
    let mut generated = std::collections::HashMap::<String, u64>::new();
    let mut count = |name: &str, r: &crate::support::Reply| {
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_eq!(v["model"], name);
        *generated.entry(name.to_owned()).or_default() += v["usage"]["completion_tokens"].as_u64().unwrap();
    };
    for (name, path) in [("small", &small), ("gemma", &gemma)] {
        let r = chat(&app, name, Q, 8).await;
        count(name, &r);
        let v = r.json();
        assert_eq!(v["model"], name);
        // The answer is that model's own greedy answer.
        let e =
            Engine::load(path, EngineOptions { threads: 2, n_ctx: 512, n_batch: 64, ..Default::default() })
                .unwrap();
        let (text, _) = greedy_reference(&e, Prompt::Messages(user(Q)), 8, &[]);
        assert_eq!(v["choices"][0]["message"]["content"], text.as_str(), "{name}");
        assert_eq!(listed_state(&app, name).await, "loaded");
    }
    assert_eq!(states(&app, &["small", "gemma"]).await, ["loaded", "loaded"], "both served at once");

    // `auto` (and no model) go to the first model while there are no routes.
    count("small", &chat(&app, "auto", Q, 2).await);
    count("small", &post(&app, "/v1/completions", json!({"prompt": "Hello", "max_tokens": 2})).await);
    let r =
        post(&app, "/v1/completions", json!({"model": "gemma", "prompt": "Hello", "max_tokens": 2})).await;
    count("gemma", &r);

    let m = send(&app, request("GET", "/metrics", None, Some(KEY))).await.body;
    for name in ["small", "gemma"] {
        assert!(m.contains(&format!("hearth_model_ready{{model=\"{name}\"}} 1")), "{m}");
        assert!(m.contains(&format!("hearth_model_loads_total{{model=\"{name}\"}} 1")), "{m}");
        assert!(m.contains(&format!("hearth_slots_total{{model=\"{name}\"}} 1")), "{m}");
    }
    let tokens = |name: &str| -> u64 {
        let key = format!("hearth_completion_tokens_total{{model=\"{name}\"}} ");
        m.lines()
            .find_map(|l| l.strip_prefix(&key))
            .unwrap_or_else(|| panic!("{key} in {m}"))
            .parse()
            .unwrap()
    };
    for name in ["small", "gemma"] {
        assert_eq!(tokens(name), generated[name], "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_model_is_404_listing_the_names() {
    let Some(small) = smollm2() else { return };
    let (app, _) = pool_app(vec![spec("small", &small), spec("other", &small)], None);
    let r = chat(&app, "gpt-4o", "hi", 2).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let e = r.error();
    assert_eq!(e["code"], "model_not_found");
    assert_eq!(e["param"], "model");
    let msg = e["message"].as_str().unwrap();
    for name in ["gpt-4o", "small", "other", "auto"] {
        assert!(msg.contains(&format!("{name:?}")), "{msg}");
    }
    let r = send(&app, request("GET", "/v1/models/gpt-4o", None, Some(KEY))).await;
    assert_eq!(r.status, 404);
    assert!(r.error()["message"].as_str().unwrap().contains("\"small\""));
    assert_eq!(states(&app, &["small", "other"]).await, ["unloaded", "unloaded"], "nothing loaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_wait_for_one_load() {
    let Some(small) = smollm2() else { return };
    let (app, _) = pool_app(vec![spec("small", &small)], None);
    let calls = (0..3).map(|i| {
        let app = app.clone();
        tokio::spawn(async move { chat(&app, "small", &format!("Count to {i}"), 2).await })
    });
    for c in calls.collect::<Vec<_>>() {
        let r = c.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(model_health(&app, "small").await["loads"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_model_unloads_after_its_keep_alive_and_reloads_on_demand() {
    let Some(small) = smollm2() else { return };
    let quick = ModelSpec { idle_unload: Some(Duration::from_millis(300)), ..spec("quick", &small) };
    let kept = ModelSpec { idle_unload: None, ..spec("kept", &small) };
    let (app, _) = pool_app(vec![quick, kept], None);
    let tokens = |r: &crate::support::Reply| {
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["usage"]["completion_tokens"].as_u64().unwrap()
    };
    tokens(&chat(&app, "kept", "hi", 2).await);
    let mut generated = tokens(&chat(&app, "quick", "hi", 2).await);
    until_state(&app, "quick", "unloaded").await;
    let q = model_health(&app, "quick").await;
    assert_eq!((q["loads"].as_u64(), q["unloads"].as_u64()), (Some(1), Some(1)), "{q}");
    assert_eq!(q["resident_bytes"], 0);
    assert_eq!(model_health(&app, "kept").await["state"], "loaded", "no keep-alive: stays loaded");

    generated += tokens(&chat(&app, "quick", "hi again", 2).await);
    assert_eq!(model_health(&app, "quick").await["loads"], 2);
    // Counters survive the unload.
    let m = send(&app, request("GET", "/metrics", None, Some(KEY))).await.body;
    assert!(m.contains(&format!("hearth_completion_tokens_total{{model=\"quick\"}} {generated}\n")), "{m}");
}

/// Three names on the SmolLM2 file, with a budget that holds two of them.
fn three_in_a_budget_of_two(small: &Path) -> (Router, AppState) {
    let file = std::fs::metadata(small).unwrap().len();
    let specs = ["a", "b", "c"].iter().map(|n| spec(n, small)).collect();
    // Two models (file + KV caches, ~12 MB each here) fit; a third file does not.
    pool_app(specs, Some(3 * file - 1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_budget_the_least_recently_used_idle_model_is_unloaded() {
    let Some(small) = smollm2() else { return };
    let (app, _) = three_in_a_budget_of_two(&small);
    for name in ["a", "b", "a"] {
        assert_eq!(chat(&app, name, "hi", 2).await.status, 200);
    }
    assert_eq!(states(&app, &["a", "b", "c"]).await, ["loaded", "loaded", "unloaded"]);
    // b was used less recently than a.
    let r = chat(&app, "c", "hi", 2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(states(&app, &["a", "b", "c"]).await, ["loaded", "unloaded", "loaded"]);
    assert_eq!(model_health(&app, "b").await["unloads"], 1);
    let h = health(&app).await;
    let held: u64 =
        h["models"].as_array().unwrap().iter().map(|m| m["resident_bytes"].as_u64().unwrap()).sum();
    assert!(held <= h["memory_budget_bytes"].as_u64().unwrap(), "{h}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_in_use_is_never_unloaded_to_make_room() {
    let Some(small) = smollm2() else { return };
    let e = crate::support::engine().expect("the fixture loads");
    // Long contexts, so that the streams below outlast the test's steps by far.
    let long_spec = |name: &str| {
        let mut s = spec(name, &small);
        s.engine.n_ctx = 2048;
        s
    };
    // What one model holds (file + KV caches), measured on a pool of its own ...
    let (probe, _) = pool_app(vec![long_spec("probe")], None);
    assert_eq!(chat(&probe, "probe", "hi", 1).await.status, 200);
    let resident = model_health(&probe, "probe").await["resident_bytes"].as_u64().unwrap();
    drop(probe);
    // ... so that two fit and a third file does not.
    let file = std::fs::metadata(&small).unwrap().len();
    let specs = ["a", "b", "c"].iter().map(|n| long_spec(n)).collect();
    let (app, _) = pool_app(specs, Some(2 * resident + file / 2));
    let long = |model: &str| json!({"model": model, "prompt": "Once upon a time", "max_tokens": 2000, "temperature": 0, "stream": true, "logit_bias": ban_eog(&e)});

    // a streams (held open, unread); b answers after it, so a is the least recently used.
    let a =
        app.clone().oneshot(request("POST", "/v1/completions", Some(&long("a")), Some(KEY))).await.unwrap();
    assert_eq!(a.status(), 200);
    assert_eq!(chat(&app, "b", "hi", 2).await.status, 200);
    assert_eq!(model_health(&app, "a").await["in_use"], 1);

    let r = chat(&app, "c", "hi", 2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(states(&app, &["a", "b", "c"]).await, ["loaded", "unloaded", "loaded"], "b went, not a");
    assert_eq!(model_health(&app, "a").await["in_use"], 1, "a is still generating");

    // With a and c both in use, b cannot be loaded: a clear 503, nothing unloaded.
    let c =
        app.clone().oneshot(request("POST", "/v1/completions", Some(&long("c")), Some(KEY))).await.unwrap();
    assert_eq!(c.status(), 200);
    let r = chat(&app, "b", "hi", 2).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.headers["retry-after"], "1");
    let err = r.error();
    assert_eq!(err["code"], "memory_budget_full");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("\"b\"") && msg.contains("\"a\"") && msg.contains("\"c\""), "{msg}");
    assert_eq!(states(&app, &["a", "b", "c"]).await, ["loaded", "unloaded", "loaded"]);

    // a's stream was never disturbed: it is still sending tokens.
    let mut body = a.into_body().into_data_stream();
    let mut text = String::new();
    while crate::support::sse_data(&text).len() < 3 {
        let chunk = tokio::time::timeout(Duration::from_secs(60), body.next()).await.expect("a streams");
        text.push_str(std::str::from_utf8(&chunk.unwrap().unwrap()).unwrap());
    }
    for event in crate::support::sse_data(&text) {
        let v: Value = serde_json::from_str(&event).unwrap_or_else(|_| panic!("{event}"));
        assert!(v["choices"][0]["text"].is_string(), "{event}");
    }
    // Once a and c are gone (their clients left), b loads in place of the older of them.
    drop((body, c));
    assert_eq!(model_health(&app, "a").await["in_use"], 0);
    let r = chat(&app, "b", "hi", 2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(states(&app, &["a", "b", "c"]).await, ["unloaded", "loaded", "loaded"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_load_is_503_naming_the_model_while_the_others_serve() {
    let Some(small) = smollm2() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.gguf");
    let bytes = std::fs::read(&small).unwrap();
    std::fs::write(&broken, &bytes[..1 << 20]).unwrap();
    let (app, _) = pool_app(vec![spec("good", &small), spec("broken", &broken)], None);

    let r = chat(&app, "broken", "hi", 2).await;
    assert_eq!(r.status, 503, "{}", r.body);
    let e = r.error();
    assert_eq!(e["code"], "model_load_failed");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("\"broken\"") && msg.contains("failed to load"), "{msg}");
    let h = model_health(&app, "broken").await;
    assert_eq!(h["state"], "failed");
    assert!(h["error"].as_str().is_some_and(|e| !e.is_empty()), "{h}");

    let r = chat(&app, "good", "hi", 2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["model"], "good");

    // A later request retries the load: with the file whole again, it serves.
    std::fs::write(&broken, &bytes).unwrap();
    let r = chat(&app, "broken", "hi", 2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(model_health(&app, "broken").await["state"], "loaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_configs_are_checked_before_serving() {
    let Some(small) = smollm2() else { return };
    let bad = |models: Vec<ModelSpec>, budget: Option<u64>| ServerConfig {
        port: 0,
        models,
        memory_budget: budget,
        ..ServerConfig::default()
    };
    let check = |c: ServerConfig| async move {
        hearth_server::Server::bind(c).await.map(|_| ()).unwrap_err().to_string()
    };
    let e = check(bad(vec![spec("x", &small), spec("x", &small)], None)).await;
    assert!(e.contains("\"x\" is used twice"), "{e}");
    let e = check(bad(vec![spec("auto", &small)], None)).await;
    assert!(e.contains("\"auto\""), "{e}");
    let e = check(bad(vec![spec("gone", Path::new("/nonexistent/m.gguf"))], None)).await;
    assert!(e.contains("\"gone\"") && e.contains("/nonexistent/m.gguf"), "{e}");
    let e = check(bad(vec![spec("big", &small)], Some(1 << 20))).await;
    assert!(e.contains("\"big\"") && e.contains("larger than the memory budget"), "{e}");
    // A pool is served with `serve`, not with a single model's loader.
    let server = hearth_server::Server::bind(bad(vec![spec("s", &small)], None)).await.unwrap();
    let r = server.run(|| Err("unused".into()), std::future::pending()).await;
    assert!(r.unwrap_err().to_string().contains("Server::serve"));
}
