//! Tool calling on `/v1/chat/completions` routed to Claude (the loopback fake Anthropic API,
//! which checks tools and tool turns as the API does): OpenAI `tools` / `tool_choice` /
//! `parallel_tool_calls` go up as Anthropic's, `tool_use` blocks come back as `tool_calls`
//! (JSON and streamed chunk by chunk), a conversation that answers the calls reaches the fake
//! as `tool_use` + `tool_result` turns, and the ledger tags a tool-call turn's row. The local
//! model is the SmolLM2 fixture; tests skip without it.

use std::sync::Arc;

use hearth_router::hearth_ledger::{Call, Ledger, LedgerConfig, SqliteStore, Store};
use serde_json::{Value, json};

use crate::routing::{app, app_with, config_text, fake, route_reason};
use crate::support::{Reply, post};

const ROUTES: &str = r#"
    [[routes]]
    tasks = ["reason"]
    target = "claude"
    [[routes]]
    tasks = ["translate"]
    target = "small"
    escalate_to = "claude"
    min_mean_logprob = 0.0
    buffer_streams = true
"#;

fn function(name: &str, parameters: Value) -> Value {
    json!({"type": "function", "function": {"name": name, "description": format!("{name} tool"), "parameters": parameters}})
}

fn tools() -> Value {
    json!([
        function(
            "get_weather",
            json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
        ),
        function("get_time", json!({"type": "object", "properties": {"zone": {"type": "string"}}})),
    ])
}

/// A `reason` request (routed to Claude) offering [`tools`].
fn ask(task: &str, text: &str) -> Value {
    json!({
        "model": "auto",
        "max_tokens": 64,
        "metadata": {"task": task},
        "messages": [{"role": "user", "content": text}],
        "tools": tools(),
    })
}

/// The chunks of an SSE body (`[DONE]` checked and dropped).
fn chunks(r: &Reply) -> Vec<Value> {
    let events = r.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{}", r.body);
    events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect()
}

/// The tool calls of a stream, put together from their deltas as an OpenAI SDK does: by
/// `index`, the first delta with `id`, `type` and name, the rest adding to `arguments`.
fn assemble(chunks: &[Value]) -> Vec<Value> {
    let mut calls: Vec<Value> = Vec::new();
    for delta in chunks.iter().filter_map(|c| c.pointer("/choices/0/delta/tool_calls")) {
        for d in delta.as_array().unwrap() {
            let i = d["index"].as_u64().unwrap() as usize;
            if i == calls.len() {
                assert!(
                    d["id"].is_string() && d["type"] == "function" && d["function"]["name"].is_string(),
                    "{d}"
                );
                calls.push(d.clone());
            } else {
                assert!(d.get("id").is_none(), "only the first delta of a call has its id: {d}");
                let more = d["function"]["arguments"].as_str().unwrap();
                let args = calls[i]["function"]["arguments"].as_str().unwrap().to_owned() + more;
                calls[i]["function"]["arguments"] = json!(args);
            }
        }
    }
    calls
}

#[tokio::test]
async fn openai_tools_go_to_claude_and_its_tool_use_comes_back_as_tool_calls() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let mut body = ask("reason", "Use get_weather for Paris");
    body["tool_choice"] = json!("auto");
    let r = post(&app, "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "task"));
    let v = r.json();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(
        choice["message"]["content"], "echo: Use get_weather for Paris",
        "Claude's text before its call"
    );
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert!(calls[0]["id"].as_str().unwrap().starts_with("toolu_"), "{calls:?}");
    assert_eq!(
        (calls[0]["type"].as_str(), calls[0]["function"]["name"].as_str()),
        (Some("function"), Some("get_weather"))
    );
    let arguments: Value = serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"city": ""}));

    let up = fake.requests()[0].json().unwrap();
    assert_eq!(
        up["tools"][0],
        json!({"name": "get_weather", "description": "get_weather tool",
               "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}})
    );
    assert_eq!(up["tool_choice"], json!({"type": "auto"}));

    // `required` without parallel calls: Claude must call one tool, and says nothing else.
    let mut body = ask("reason", "Weather and time in Paris?");
    body["tool_choice"] = json!("required");
    body["parallel_tool_calls"] = json!(false);
    let r = post(&app, "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let message = &r.json()["choices"][0]["message"];
    assert_eq!(message["content"], Value::Null, "no text beside the call: {message}");
    assert_eq!(message["tool_calls"].as_array().unwrap().len(), 1);
    assert_eq!(
        fake.requests()[1].json().unwrap()["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );

    // A named function.
    let mut body = ask("reason", "What time is it?");
    body["tool_choice"] = json!({"type": "function", "function": {"name": "get_time"}});
    let r = post(&app, "/v1/chat/completions", body).await;
    assert_eq!(
        r.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_time",
        "{}",
        r.body
    );
    assert_eq!(
        fake.requests()[2].json().unwrap()["tool_choice"],
        json!({"type": "tool", "name": "get_time"})
    );
}

#[tokio::test]
async fn a_streamed_tool_use_arrives_as_tool_call_deltas_indexed_by_call() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let mut body = ask("reason", "Call get_weather and get_time for Paris");
    body["stream"] = json!(true);
    let r = post(&app, "/v1/chat/completions", body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let chunks = chunks(&r);
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"));
    let text: String =
        chunks.iter().filter_map(|c| c.pointer("/choices/0/delta/content")?.as_str()).collect();
    assert_eq!(text, "echo: Call get_weather and get_time for Paris");
    // Content blocks 1 and 2 of Claude's answer are tool calls 0 and 1.
    let first = chunks.iter().find_map(|c| c.pointer("/choices/0/delta/tool_calls/0")).unwrap();
    assert_eq!(first["index"], 0);
    assert_eq!(first["function"], json!({"name": "get_weather", "arguments": ""}));
    let calls = assemble(&chunks);
    let names: Vec<&str> = calls.iter().map(|c| c["function"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["get_weather", "get_time"]);
    let fragments = chunks
        .iter()
        .filter(|c| {
            c.pointer("/choices/0/delta/tool_calls/0/id").is_none()
                && c.pointer("/choices/0/delta/tool_calls").is_some()
        })
        .count();
    assert!(fragments >= 2, "the input arrives in fragments: {}", r.body);

    body["stream"] = json!(false);
    let whole = post(&app, "/v1/chat/completions", body).await.json();
    for (streamed, whole) in
        calls.iter().zip(whole["choices"][0]["message"]["tool_calls"].as_array().unwrap())
    {
        let args =
            |c: &Value| serde_json::from_str::<Value>(c["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args(streamed), args(whole));
    }
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn a_conversation_answering_the_calls_reaches_claude_as_tool_use_and_tool_result_turns() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let first =
        post(&app, "/v1/chat/completions", ask("reason", "get_weather and get_time for Paris, please")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let assistant = first.json()["choices"][0]["message"].clone();
    let calls = assistant["tool_calls"].as_array().unwrap().clone();
    assert_eq!(calls.len(), 2);

    let mut body = ask("reason", "get_weather and get_time for Paris, please");
    let messages = body["messages"].as_array_mut().unwrap();
    messages.push(assistant.clone());
    messages.push(json!({"role": "tool", "tool_call_id": calls[0]["id"], "content": "18C and sunny"}));
    messages.push(json!({"role": "tool", "tool_call_id": calls[1]["id"], "content": [{"type": "text", "text": " at 14:05"}]}));
    let second = post(&app, "/v1/chat/completions", body.clone()).await;
    assert_eq!(second.status, 200, "the fake checks every tool_use is answered: {}", second.body);
    let v = second.json();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["choices"][0]["message"]["content"], "echo: 18C and sunny at 14:05");
    assert!(v["choices"][0]["message"].get("tool_calls").is_none());

    let up = fake.requests()[1].json().unwrap();
    let turns = up["messages"].as_array().unwrap();
    assert_eq!(turns.len(), 3, "user, assistant, one user turn with both results: {up}");
    let use_ids: Vec<&Value> = turns[1]["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .map(|b| &b["id"])
        .collect();
    assert_eq!(use_ids, [&calls[0]["id"], &calls[1]["id"]]);
    assert_eq!(turns[1]["content"][1]["input"], json!({"city": ""}), "arguments parsed back to the input");
    assert_eq!(
        turns[2]["content"],
        json!([
            {"type": "tool_result", "tool_use_id": calls[0]["id"], "content": "18C and sunny"},
            {"type": "tool_result", "tool_use_id": calls[1]["id"], "content": " at 14:05"},
        ])
    );

    // Arguments that are not JSON are the client's error, named.
    body["messages"][1]["tool_calls"][0]["function"]["arguments"] = json!("{\"city\": ");
    let bad = post(&app, "/v1/chat/completions", body).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.error()["param"], "messages[1].tool_calls[0].function.arguments");
    assert_eq!(fake.requests().len(), 2, "nothing sent upstream");
}

#[tokio::test]
async fn an_escalated_buffered_stream_replays_the_remote_tool_calls() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let mut body = ask("translate", "Use get_time");
    body["stream"] = json!(true);
    // Greedy, so the local answer is the same every run: sampled at the default temperature
    // it was now and then a malformed tool call (`invalid_output`) instead of an unsure one.
    body["temperature"] = json!(0);
    let r = post(&app, "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "low_confidence"));
    let chunks = chunks(&r);
    let calls = assemble(&chunks);
    assert_eq!(calls.len(), 1, "{}", r.body);
    assert_eq!(calls[0]["function"]["name"], "get_time");
    assert_eq!(
        serde_json::from_str::<Value>(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"zone": ""})
    );
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn a_tool_call_turns_ledger_row_is_tagged_with_its_calls() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let ledger = Arc::new(Ledger::open(&path, &LedgerConfig::default()).unwrap());
    let Some((app, _)) = app_with(&config_text(&fake.base_url(), 0, ROUTES), Some(Arc::clone(&ledger)))
    else {
        return;
    };
    let two = post(&app, "/v1/chat/completions", ask("reason", "get_weather and get_time")).await;
    assert_eq!(two.status, 200, "{}", two.body);
    let mut streamed = ask("reason", "get_time");
    streamed["stream"] = json!(true);
    let one = post(&app, "/v1/chat/completions", streamed).await;
    assert_eq!(one.status, 200, "{}", one.body);
    let none = post(&app, "/v1/chat/completions", ask("reason", "Hello")).await;
    assert_eq!(none.status, 200, "{}", none.body);

    ledger.flush().unwrap();
    let rows: Vec<Call> = SqliteStore::open(&path).unwrap().calls_since(0).unwrap();
    let tags: Vec<Option<&str>> = rows.iter().map(|c| c.tags.get("tool_calls").map(String::as_str)).collect();
    assert_eq!(tags, [Some("2"), Some("1"), None], "{rows:?}");
    assert!(rows[1].streamed);
}
