//! Tool calling on `/v1/chat/completions` with a local model (SmolLM2, whose template knows
//! no tools: hearth's fallback syntax): calls always parse and validate under every
//! `tool_choice`, streamed calls arrive as OpenAI's deltas, a tool result goes back in, and
//! a tool whose schema cannot be enforced is a 400 naming the tool and the keyword.

use serde_json::{Value, json};

use crate::support::{app, config, post};

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20},
                "unit": {"enum": ["celsius", "fahrenheit"]}}, "required": ["city"], "additionalProperties": false}}},
        {"type": "function", "function": {"name": "calculator", "description": "Evaluate arithmetic",
            "parameters": {"type": "object", "properties": {"expression": {"type": "string", "maxLength": 30}},
                "required": ["expression"], "additionalProperties": false}}}
    ])
}

fn body(choice: Value, stream: bool) -> Value {
    json!({"messages": [{"role": "user", "content": "What is the weather in Paris?"}], "tools": tools(),
           "tool_choice": choice, "temperature": 0, "max_tokens": 96, "stream": stream})
}

/// Checks a `tool_calls` entry: a known tool, arguments that are a JSON object valid
/// against its schema; returns the name.
fn valid_call(call: &Value) -> String {
    assert_eq!(call["type"], "function", "{call}");
    assert!(call["id"].as_str().is_some_and(|id| id.starts_with("call_")), "{call}");
    let name = call["function"]["name"].as_str().unwrap().to_owned();
    let tool = tools()
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == name)
        .cloned()
        .expect("known tool");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).expect("arguments parse");
    assert!(jsonschema::options().build(&tool["function"]["parameters"]).unwrap().is_valid(&args), "{call}");
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_and_named_choices_return_calls_that_validate() {
    let Some((app, _)) = app(config(2, 8)) else { return };
    let v = post(&app, "/v1/chat/completions", body(json!("required"), false)).await.json();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{v}");
    let calls = choice["message"]["tool_calls"].as_array().expect("tool_calls");
    assert!(!calls.is_empty());
    calls.iter().for_each(|c| drop(valid_call(c)));

    let named = json!({"type": "function", "function": {"name": "calculator"}});
    let v = post(&app, "/v1/chat/completions", body(named, false)).await.json();
    let calls = v["choices"][0]["message"]["tool_calls"].as_array().expect("tool_calls");
    assert!(calls.iter().all(|c| valid_call(c) == "calculator"), "{v}");

    let v = post(&app, "/v1/chat/completions", body(json!("none"), false)).await.json();
    assert!(v["choices"][0]["message"].get("tool_calls").is_none(), "{v}");
    assert!(v["choices"][0]["message"]["content"].is_string(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_calls_arrive_as_openai_deltas() {
    let Some((app, _)) = app(config(2, 8)) else { return };
    let plain = post(&app, "/v1/chat/completions", body(json!("required"), false)).await.json();
    let events = post(&app, "/v1/chat/completions", body(json!("required"), true)).await.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> =
        events.iter().filter(|d| *d != "[DONE]").map(|d| serde_json::from_str(d).unwrap()).collect();
    // Assemble the calls the way the SDKs do: by index, name once, arguments concatenated.
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for c in &chunks {
        for d in c["choices"][0]["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let i = d["index"].as_u64().unwrap() as usize;
            if i == calls.len() {
                calls.push((
                    d["id"].as_str().unwrap().into(),
                    d["function"]["name"].as_str().unwrap().into(),
                    String::new(),
                ));
            }
            calls[i].2 += d["function"]["arguments"].as_str().unwrap_or("");
        }
    }
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "tool_calls");
    let want = plain["choices"][0]["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), want.len(), "{events:?}");
    for ((_, name, args), w) in calls.iter().zip(want) {
        assert_eq!(
            (name.as_str(), args.as_str()),
            (w["function"]["name"].as_str().unwrap(), w["function"]["arguments"].as_str().unwrap())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_result_goes_back_in_and_the_model_answers() {
    let Some((app, _)) = app(config(2, 8)) else { return };
    let first = post(&app, "/v1/chat/completions", body(json!("required"), false)).await.json();
    let msg = first["choices"][0]["message"].clone();
    let call = msg["tool_calls"][0].clone();
    let mut b = body(json!("auto"), false);
    let msgs = b["messages"].as_array_mut().unwrap();
    msgs.push(msg);
    msgs.push(json!({"role": "tool", "tool_call_id": call["id"], "content": "18 degrees celsius, sunny"}));
    b["tool_choice"] = json!("none");
    let r = post(&app, "/v1/chat/completions", b.clone()).await;
    let v = r.json();
    assert!(v["choices"][0]["message"]["content"].as_str().is_some_and(|t| !t.is_empty()), "{v}");
    // A tool turn without the id of its call is a 400 naming the field.
    b["messages"][2].as_object_mut().unwrap().remove("tool_call_id");
    let v = post(&app, "/v1/chat/completions", b).await.json();
    assert_eq!(v["error"]["param"], "messages[2].tool_call_id", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unenforceable_or_malformed_tools_are_400s_naming_them() {
    let Some((app, _)) = app(config(2, 8)) else { return };
    let mut b = body(json!("auto"), false);
    b["tools"][1]["function"]["parameters"]["properties"]["tags"] =
        json!({"type": "array", "uniqueItems": true});
    let v = post(&app, "/v1/chat/completions", b).await.json();
    assert_eq!(v["error"]["param"], "tools[1].function.parameters", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("calculator") && msg.contains("uniqueItems"), "{msg}");

    for (patch, param) in [
        (json!({"type": "retrieval"}), "tools[0].type"),
        (json!({"type": "function", "function": {"description": "x"}}), "tools[0].function.name"),
        (json!({"type": "function", "function": {"name": "bad name"}}), "tools[0].function.name"),
        (
            json!({"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}),
            "tools[0].function.parameters",
        ),
    ] {
        let mut b = body(json!("auto"), false);
        b["tools"][0] = patch;
        let r = post(&app, "/v1/chat/completions", b).await;
        let v = r.json();
        assert_eq!(v["error"]["param"], param, "{v}");
    }
    let v = post(
        &app,
        "/v1/chat/completions",
        body(json!({"type": "function", "function": {"name": "nope"}}), false),
    )
    .await
    .json();
    assert_eq!(v["error"]["param"], "tool_choice", "{v}");
}
