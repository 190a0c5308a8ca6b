//! Round trips of the wire types through JSON shaped as the API sends and accepts it.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::*;

/// Parses `value` as `T`, writes it back, and checks the JSON is unchanged.
fn round_trip<T: Serialize + DeserializeOwned + std::fmt::Debug>(value: Value) -> T {
    let parsed: T = serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}: {value}"));
    let back = serde_json::to_value(&parsed).unwrap();
    assert_eq!(back, value, "{parsed:?}");
    parsed
}

#[test]
fn a_full_request_round_trips() {
    let req: MessagesRequest = round_trip(json!({
        "model": "claude-haiku-4-5",
        "max_tokens": 256,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", "name": "calc", "input": {"expr": "2+2"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "4"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
            ]}
        ],
        "stop_sequences": ["\n\nHuman:"],
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "metadata": {"user_id": "u-1"},
        "stream": true,
        "tools": [
            {"name": "calc", "description": "Evaluates", "input_schema": {"type": "object"},
             "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
        ],
        "tool_choice": {"type": "tool", "name": "calc", "disable_parallel_tool_use": true},
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
        "thinking": {"type": "enabled", "budget_tokens": 2048}
    }));
    assert_eq!(req.max_tokens, 256);
    assert_eq!(req.messages[1].role, Role::Assistant);
    assert_eq!(req.extra["thinking"]["budget_tokens"], 2048);
    assert_eq!(req.tools.as_ref().unwrap()[1].kind.as_deref(), Some("web_search_20250305"));
    assert_eq!(req.tools.as_ref().unwrap()[1].extra["max_uses"], 3);
    assert!(matches!(req.output_config.as_ref().unwrap().format, Some(OutputFormat::JsonSchema { .. })));
    assert_eq!(req.system.as_ref().unwrap().text(), "Be brief.");
}

#[test]
fn a_request_without_max_tokens_is_an_error_naming_it() {
    let err = serde_json::from_value::<MessagesRequest>(json!({
        "model": "m", "messages": [{"role": "user", "content": "hi"}]
    }))
    .unwrap_err();
    assert!(err.to_string().contains("max_tokens"), "{err}");
}

#[test]
fn tool_choices_round_trip() {
    for choice in [
        json!({"type": "auto"}),
        json!({"type": "any", "disable_parallel_tool_use": false}),
        json!({"type": "tool", "name": "t"}),
        json!({"type": "none"}),
    ] {
        round_trip::<ToolChoice>(choice);
    }
}

#[test]
fn a_response_with_unknown_fields_is_read() {
    let msg: Message = serde_json::from_value(json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
        "content": [
            {"type": "text", "text": "Hi", "citations": null},
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
        ],
        "stop_reason": "end_turn", "stop_sequence": null,
        "container": null, "stop_details": null, "brand_new_field": {"x": 1},
        "usage": {"input_tokens": 10, "output_tokens": 3, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0, "cache_creation": {"ephemeral_5m_input_tokens": 0,
                  "ephemeral_1h_input_tokens": 0}, "service_tier": "standard", "inference_geo": "us"}
    }))
    .unwrap();
    assert_eq!(msg.text(), "Hi");
    assert_eq!(msg.stop_reason, Some(StopReason::EndTurn));
    assert_eq!(msg.usage.input_tokens, 10);
    assert_eq!(msg.usage.cache_read_input_tokens, Some(0));
    assert!(matches!(&msg.content[1], ContentBlock::Other(v) if v["type"] == "server_tool_use"));
}

#[test]
fn a_response_round_trips() {
    round_trip::<Message>(json!({
        "type": "message", "id": "msg_01", "role": "assistant", "model": "claude-haiku-4-5",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "calc", "input": {"x": 1}},
                    {"type": "tool_use", "id": "toolu_2", "name": "calc", "input": {},
                     "caller": {"type": "code_execution_20260120", "tool_id": "srvtoolu_1"}},
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "abc"}],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 5, "output_tokens": 7, "cache_creation_input_tokens": 2048,
                  "cache_read_input_tokens": 0}
    }));
}

#[test]
fn an_unknown_stop_reason_is_kept() {
    let reason: StopReason = serde_json::from_value(json!("brand_new_reason")).unwrap();
    assert_eq!(reason, StopReason::Other("brand_new_reason".into()));
    assert_eq!(serde_json::to_value(&reason).unwrap(), json!("brand_new_reason"));
    let known: StopReason = serde_json::from_value(json!("model_context_window_exceeded")).unwrap();
    assert_eq!(known, StopReason::ModelContextWindowExceeded);
}

#[test]
fn unknown_blocks_survive_a_round_trip_and_malformed_known_ones_do_not_parse() {
    round_trip::<ContentBlock>(json!({"type": "document", "source": {"type": "text", "data": "x"}}));
    round_trip::<ImageSource>(json!({"type": "file", "file_id": "file_1"}));
    let err = serde_json::from_value::<ContentBlock>(json!({"type": "text"})).unwrap_err();
    assert!(err.to_string().contains("text"), "{err}");
    let err = serde_json::from_value::<ContentBlock>(json!({"text": "no type"})).unwrap_err();
    assert!(err.to_string().contains("type"), "{err}");
}

#[test]
fn every_known_tag_parses_as_its_variant() {
    for tag in ContentBlock::KNOWN_TYPES {
        let parsed = serde_json::from_value::<ContentBlock>(json!({"type": tag}));
        // Each known block has required fields, so a bare tag must fail rather than become Other.
        assert!(parsed.is_err(), "{tag} parsed as {parsed:?}");
    }
    for tag in StreamEvent::KNOWN_TYPES {
        let parsed = serde_json::from_value::<StreamEvent>(json!({"type": tag}));
        assert!(!matches!(parsed, Ok(StreamEvent::Other(_))), "{tag} fell through to Other");
    }
}

#[test]
fn stream_events_round_trip() {
    let events = [
        json!({"type": "message_start", "message": {"type": "message", "id": "msg_1", "role": "assistant",
            "model": "claude-haiku-4-5", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 25, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "ping"}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}),
        json!({"type": "content_block_delta", "index": 1,
               "delta": {"type": "input_json_delta", "partial_json": "{\"loc"}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "thinking_delta", "thinking": "a"}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "signature_delta", "signature": "s"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
               "usage": {"output_tokens": 15, "input_tokens": 25, "cache_read_input_tokens": 0}}),
        json!({"type": "message_stop"}),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        json!({"type": "brand_new_event", "payload": [1, 2]}),
    ];
    let names: Vec<String> =
        events.into_iter().map(|e| round_trip::<StreamEvent>(e).event_name().to_owned()).collect();
    assert_eq!(names[0], "message_start");
    assert_eq!(names[10], "error");
    assert_eq!(names[11], "brand_new_event");
}

#[test]
fn delta_usage_is_cumulative() {
    let mut usage = Usage { input_tokens: 25, output_tokens: 1, ..Usage::default() };
    usage.apply_delta(&MessageDeltaUsage { output_tokens: 15, ..MessageDeltaUsage::default() });
    usage.apply_delta(&MessageDeltaUsage {
        output_tokens: 40,
        cache_read_input_tokens: Some(7),
        ..Default::default()
    });
    assert_eq!(usage.input_tokens, 25);
    assert_eq!(usage.output_tokens, 40);
    assert_eq!(usage.cache_read_input_tokens, Some(7));
}

#[test]
fn error_bodies_round_trip_and_expose_the_error_code() {
    let body: ErrorBody = round_trip(json!({
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "spend limit",
                  "details": {"error_code": "enforced_spend_limit_reached"}},
        "request_id": "req_011"
    }));
    assert_eq!(body.error.kind, "rate_limit_error");
    assert_eq!(body.error.error_code(), Some("enforced_spend_limit_reached"));
    assert_eq!(body.request_id.as_deref(), Some("req_011"));
}

#[test]
fn count_tokens_takes_only_the_fields_the_endpoint_accepts() {
    let mut req = MessagesRequest::new("claude-haiku-4-5", 100, vec![MessageParam::user("hi")]);
    req.temperature = Some(0.2);
    req.extra.insert("thinking".into(), json!({"type": "adaptive"}));
    req.extra.insert("service_tier".into(), json!("auto"));
    let count = serde_json::to_value(CountTokensRequest::from(&req)).unwrap();
    assert_eq!(
        count,
        json!({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}],
               "thinking": {"type": "adaptive"}})
    );
    round_trip::<TokenCount>(json!({"input_tokens": 14}));
}
