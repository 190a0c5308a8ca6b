//! `/v1/chat/completions`: shapes, streaming, usage, logprobs, prefix reuse, seeds.

use hearth_engine::Prompt;
use serde_json::{Value, json};

use crate::support::{app, config, greedy_reference, post, user};

const Q: &str = "What is the capital of France? Answer in one sentence.";

fn ask(extra: Value) -> Value {
    let mut body = json!({"model": "anything", "messages": [{"role": "user", "content": Q}], "temperature": 0, "max_tokens": 12});
    if let (Some(b), Value::Object(x)) = (body.as_object_mut(), extra) {
        b.extend(x);
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_streaming_matches_greedy_decoding_in_openai_shape() {
    let Some((app, state)) = app(config(2, 8)) else { return };
    let e = state.ready().unwrap().engine.clone();
    let (want, n) = greedy_reference(&e, Prompt::Messages(user(Q)), 12, &[]);

    let r = post(&app, "/v1/chat/completions", ask(json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/json");
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["model"], "smollm2-test", "the served model's id is reported");
    let choice = &v["choices"][0];
    assert_eq!(v["choices"].as_array().unwrap().len(), 1);
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], want.as_str());
    assert_eq!(choice["logprobs"], Value::Null);
    let reason = if n == 12 { "length" } else { "stop" };
    assert_eq!(choice["finish_reason"], reason);
    let u = &v["usage"];
    assert_eq!(u["completion_tokens"], n);
    let prompt = e.tokenize_prompt(&Prompt::Messages(user(Q))).unwrap().len();
    assert_eq!(u["prompt_tokens"], prompt);
    assert_eq!(u["total_tokens"], prompt + n);
    assert!(u["prompt_tokens_details"]["cached_tokens"].is_u64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_sends_role_first_finish_reason_last_then_usage_and_done() {
    let Some((app, _)) = app(config(2, 8)) else { return };
    let whole = post(&app, "/v1/chat/completions", ask(json!({}))).await.json();

    let r = post(
        &app,
        "/v1/chat/completions",
        ask(json!({"stream": true, "stream_options": {"include_usage": true}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    assert!(r.body.contains("data: {"), "SSE framing");
    let events = r.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> =
        events[..events.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    let id = chunks[0]["id"].as_str().unwrap();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], id, "one id for the whole stream");
        assert!(c.get("usage").is_some(), "include_usage: every chunk has usage (null but the last)");
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let (usage_chunk, rest) = chunks.split_last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    for k in ["prompt_tokens", "completion_tokens", "total_tokens"] {
        assert_eq!(usage_chunk["usage"][k], whole["usage"][k], "{k}");
    }
    // The second request reuses the first one's prompt.
    assert!(usage_chunk["usage"]["prompt_tokens_details"]["cached_tokens"].as_u64().unwrap() > 0);
    let (last, middle) = rest.split_last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], whole["choices"][0]["finish_reason"]);
    assert_eq!(last["choices"][0]["delta"], json!({}));
    let text: String = middle.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, whole["choices"][0]["message"]["content"].as_str().unwrap());
    for c in &middle[1..] {
        assert_eq!(c["choices"][0]["finish_reason"], Value::Null);
        assert_eq!(c["usage"], Value::Null);
    }

    // Without include_usage no chunk has a usage field.
    let plain = post(&app, "/v1/chat/completions", ask(json!({"stream": true}))).await;
    assert!(plain.events().iter().all(|d| !d.contains("\"usage\"")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_prompt_prefix_is_reported_as_cached_tokens() {
    let Some((app, _)) = app(config(1, 8)) else { return };
    let system = "You are a careful assistant who answers every question briefly and precisely.";
    let body = |q: &str| json!({"messages": [{"role": "system", "content": system}, {"role": "user", "content": q}], "temperature": 0, "max_tokens": 3});
    let first = post(&app, "/v1/chat/completions", body("Name a color.")).await.json();
    let second = post(&app, "/v1/chat/completions", body("Name a fruit.")).await.json();
    assert_eq!(first["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    let cached = second["usage"]["prompt_tokens_details"]["cached_tokens"].as_u64().unwrap();
    let prompt = second["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(cached >= 15 && cached < prompt, "cached {cached} of {prompt}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logprobs_have_openai_fields_and_agree_with_the_text() {
    let Some((app, _)) = app(config(2, 8)) else { return };
    let v =
        post(&app, "/v1/chat/completions", ask(json!({"logprobs": true, "top_logprobs": 3}))).await.json();
    let content = v["choices"][0]["logprobs"]["content"].as_array().unwrap();
    assert_eq!(content.len() as u64, v["usage"]["completion_tokens"].as_u64().unwrap());
    let mut bytes = Vec::new();
    for t in content {
        let lp = t["logprob"].as_f64().unwrap();
        assert!(lp <= 0.0);
        let tb: Vec<u8> = t["bytes"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect();
        bytes.extend_from_slice(&tb);
        let top = t["top_logprobs"].as_array().unwrap();
        assert_eq!(top.len(), 3);
        // Greedy: the chosen token is the most likely one.
        assert_eq!(top[0]["token"], t["token"]);
        assert!((top[0]["logprob"].as_f64().unwrap() - lp).abs() < 1e-6);
        assert!(top.windows(2).all(|w| w[0]["logprob"].as_f64() >= w[1]["logprob"].as_f64()));
    }
    assert_eq!(String::from_utf8(bytes).unwrap(), v["choices"][0]["message"]["content"].as_str().unwrap());

    let s = post(&app, "/v1/chat/completions", ask(json!({"logprobs": true, "stream": true}))).await;
    let with_lp = s.events().iter().filter(|d| d.contains("\"logprobs\":{\"content\":[{")).count();
    assert!(with_lp > 0, "streamed chunks carry logprobs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_sample() {
    let Some((app, _)) = app(config(2, 8)) else { return };
    let body = |seed: u64| json!({"messages": [{"role": "user", "content": "Write a word."}], "temperature": 1.0, "max_tokens": 16, "seed": seed});
    let text = |v: Value| v["choices"][0]["message"]["content"].as_str().unwrap().to_owned();
    let a = text(post(&app, "/v1/chat/completions", body(7)).await.json());
    let b = text(post(&app, "/v1/chat/completions", body(7)).await.json());
    assert_eq!(a, b);
    let others: Vec<String> = futures_seeds(&app, body).await.into_iter().map(text).collect();
    assert!(others.iter().any(|t| *t != a), "different seeds vary: {a:?} vs {others:?}");
}

async fn futures_seeds(app: &axum::Router, body: impl Fn(u64) -> Value) -> Vec<Value> {
    let mut out = Vec::new();
    for seed in [1, 2, 3, 4] {
        out.push(post(app, "/v1/chat/completions", body(seed)).await.json());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_parts_and_developer_messages_are_accepted() {
    let Some((app, _)) = app(config(2, 8)) else { return };
    let parts = json!({"messages": [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": Q}]}
    ], "temperature": 0, "max_tokens": 4});
    let plain = json!({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": Q}
    ], "temperature": 0, "max_tokens": 4});
    let a = post(&app, "/v1/chat/completions", parts).await.json();
    let b = post(&app, "/v1/chat/completions", plain).await.json();
    assert_eq!(a["choices"][0]["message"], b["choices"][0]["message"]);
    assert_eq!(a["usage"]["prompt_tokens"], b["usage"]["prompt_tokens"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_format_json_schema_is_enforced_and_bad_schemas_are_400() {
    let Some((app, _)) = app(config(2, 8)) else { return };
    let schema = json!({
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 24}, "is_capital": {"type": "boolean"}},
        "required": ["city", "is_capital"],
        "additionalProperties": false
    });
    let format = |schema: &Value| json!({"type": "json_schema", "json_schema": {"name": "city", "strict": true, "schema": schema}});
    let body = |format: Value, stream: bool| {
        json!({"messages": [{"role": "user", "content": "Describe Paris."}], "temperature": 0, "max_tokens": 64,
               "response_format": format, "stream": stream})
    };
    let v = post(&app, "/v1/chat/completions", body(format(&schema), false)).await.json();
    assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");
    let text = v["choices"][0]["message"]["content"].as_str().unwrap();
    let out: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(jsonschema::options().build(&schema).unwrap().is_valid(&out), "{text}");

    let s = post(&app, "/v1/chat/completions", body(format(&schema), true)).await;
    let streamed: String = s
        .events()
        .iter()
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| {
            let c: Value = serde_json::from_str(d).unwrap();
            c["choices"][0]["delta"]["content"].as_str().map(str::to_owned)
        })
        .collect();
    assert_eq!(streamed, text);

    let obj = post(&app, "/v1/chat/completions", body(json!({"type": "json_object"}), false)).await.json();
    if obj["choices"][0]["finish_reason"] == "stop" {
        let o: Value =
            serde_json::from_str(obj["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
        assert!(o.is_object());
    }

    let unsupported = json!({"type": "array", "items": {"type": "integer"}, "uniqueItems": true});
    let r = post(&app, "/v1/chat/completions", body(format(&unsupported), false)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let e = r.error();
    assert_eq!(e["param"], "response_format");
    assert!(e["message"].as_str().unwrap().contains("uniqueItems"), "{e}");
}
