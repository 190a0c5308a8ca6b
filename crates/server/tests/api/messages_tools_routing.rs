//! Tool use on `/v1/messages` routed to Claude: `tools` (with their cache marks and server
//! tools), `tool_choice` (with `disable_parallel_tool_use`), `tool_use` and `tool_result`
//! blocks reach the fake Anthropic API unchanged, and its `tool_use` blocks and
//! `input_json_delta` events come back unchanged. Tests skip without the SmolLM2 fixture.

use hearth_anthropic::types::{ContentBlock, ContentDelta, Message as ApiMessage, StreamEvent};
use serde_json::{Value, json};

use crate::messages::events;
use crate::routing::{app, config_text, fake, route_reason};
use crate::support::post;

const ROUTES: &str = r#"
    [[routes]]
    tasks = ["reason"]
    target = "claude"
"#;

fn tools() -> Value {
    json!([
        {"name": "get_weather", "description": "The weather",
         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
         "cache_control": {"type": "ephemeral"}},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 2},
    ])
}

fn ask(text: &str) -> Value {
    json!({
        "model": "auto",
        "max_tokens": 64,
        "metadata": {"task": "reason"},
        "messages": [{"role": "user", "content": text}],
        "tools": tools(),
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
    })
}

#[tokio::test]
async fn tools_and_tool_turns_pass_through_to_claude_unchanged() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let r = post(&app, "/v1/messages", ask("Weather in Paris?")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(route_reason(&r), ("claude", "task"));
    let v = r.json();
    assert_eq!(v["stop_reason"], "tool_use");
    let mut call = v["content"][0].clone();
    assert_eq!((call["type"].as_str(), call["name"].as_str()), (Some("tool_use"), Some("get_weather")));
    assert_eq!(call["input"], json!({"city": ""}));
    let up = fake.requests()[0].json().unwrap();
    assert_eq!(up["tools"], tools(), "tools as sent: cache mark, server tool and its options kept");
    assert_eq!(up["tool_choice"], json!({"type": "any", "disable_parallel_tool_use": true}));

    let mut body = ask("Weather in Paris?");
    body["tool_choice"] = json!({"type": "auto"});
    // A field hearth does not model (code execution's `caller`) goes back as sent.
    call["caller"] = json!({"type": "direct"});
    let turns = body["messages"].as_array_mut().unwrap();
    turns.push(json!({"role": "assistant", "content": [{"type": "text", "text": "Checking."}, call]}));
    turns.push(json!({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": call["id"], "is_error": false,
         "content": [{"type": "text", "text": "18C"}], "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "text", "text": " Thanks."},
    ]}));
    let sent = body["messages"].clone();
    let r = post(&app, "/v1/messages", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let msg: ApiMessage = serde_json::from_value(r.json()).unwrap();
    assert_eq!(msg.text(), "echo: 18C Thanks.");
    assert_eq!(fake.requests()[1].json().unwrap()["messages"], sent, "tool turns as sent");
}

#[tokio::test]
async fn a_streamed_tool_use_is_relayed_event_by_event() {
    let fake = fake().await;
    let Some((app, _)) = app(&config_text(&fake.base_url(), 0, ROUTES)) else { return };
    let mut body = ask("Weather in Paris?");
    body["stream"] = json!(true);
    let r = post(&app, "/v1/messages", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let evs = events(&r.body);
    let start = evs.iter().find_map(|e| match e {
        StreamEvent::ContentBlockStart { index: 0, content_block: ContentBlock::ToolUse(b) } => Some(b),
        _ => None,
    });
    let start = start.unwrap_or_else(|| panic!("no tool_use start: {}", r.body));
    assert_eq!((start.name.as_str(), &start.input), ("get_weather", &json!({})));
    let fragments: Vec<&str> = evs
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ContentBlockDelta {
                delta: ContentDelta::InputJsonDelta { partial_json }, ..
            } => Some(partial_json.as_str()),
            _ => None,
        })
        .collect();
    assert!(fragments.len() > 1, "{fragments:?}");
    assert_eq!(serde_json::from_str::<Value>(&fragments.concat()).unwrap(), json!({"city": ""}));
    let stop = evs.iter().find_map(|e| match e {
        StreamEvent::MessageDelta { delta, .. } => delta.stop_reason.clone(),
        _ => None,
    });
    assert_eq!(stop.map(|s| serde_json::to_value(s).unwrap()), Some(json!("tool_use")));
}
