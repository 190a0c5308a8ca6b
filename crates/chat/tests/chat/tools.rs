//! Tool conversations: what the fixture templates support natively (llama.cpp's caps), and
//! the tool fallback for templates that render no tools (minja's polyfill), byte for byte.

use hearth_chat::{ChatTemplate, Fallback, Message, RenderOptions, ToolCall};
use hearth_gguf::GgufFile;
use serde_json::json;

fn fixture_template(name: &str) -> Option<ChatTemplate> {
    let path = hearth_testkit::model(name)?;
    let file = GgufFile::open(&path).expect("open fixture");
    Some(ChatTemplate::from_gguf(file.metadata()).expect("template compiles"))
}

fn weather_tool() -> serde_json::Value {
    json!({"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }})
}

fn conversation() -> Vec<Message> {
    vec![
        Message::system("Be brief."),
        Message::user("Weather in Paris?"),
        Message::assistant_tool_calls(
            "",
            vec![ToolCall::function("call_1", "get_weather", r#"{"city": "Paris"}"#)],
        ),
        Message::tool("call_1", "18 C, sunny").with_name("get_weather"),
    ]
}

#[test]
fn qwen_renders_tools_natively_with_object_arguments() {
    let Some(t) = fixture_template(hearth_testkit::QWEN_05B) else { return };
    let caps = t.tool_caps();
    assert!(t.supports_tools(), "{caps:?}");
    assert!(caps.supports_parallel_tool_calls && caps.supports_object_arguments && caps.supports_system_role);
    let opts = RenderOptions::generation_prompt(true).with_tools(vec![weather_tool()]);
    let out = t.render_with(&conversation(), &opts).unwrap();
    // Arguments print as an object (llama.cpp parses them for this template), not a string.
    assert!(
        out.contains(
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
        ),
        "{out}"
    );
    assert!(out.contains("<tool_response>\n18 C, sunny\n</tool_response>"), "{out}");
    assert!(
        out.contains("\"name\": \"get_weather\", \"description\": \"Current weather in a city.\""),
        "{out}"
    );
    // The fallback changes nothing on a template that renders tools itself.
    let with_fallback = RenderOptions { tool_fallback: true, ..opts };
    assert_eq!(t.render_with(&conversation(), &with_fallback).unwrap(), out);
}

#[test]
fn smollm2_and_chatml_render_no_tools() {
    let chatml = ChatTemplate::from_fallback(Fallback::ChatMl, "", "<|im_end|>").unwrap();
    let gemma = ChatTemplate::from_fallback(Fallback::Gemma, "<bos>", "<eos>").unwrap();
    let mut templates = vec![chatml, gemma];
    templates.extend(fixture_template(hearth_testkit::SMOLLM2_135M));
    for t in templates {
        let caps = t.tool_caps();
        assert!(!t.supports_tools() && !caps.supports_tools && !caps.supports_tool_calls, "{caps:?}");
        assert!(!caps.supports_object_arguments);
    }
}

#[test]
fn without_the_fallback_a_tools_less_template_drops_tools_as_llama_cpp_does() {
    let t = ChatTemplate::from_fallback(Fallback::ChatMl, "", "<|im_end|>").unwrap();
    let opts = RenderOptions::generation_prompt(true).with_tools(vec![weather_tool()]);
    assert_eq!(
        t.render_with(&conversation(), &opts).unwrap(),
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n\
         <|im_start|>assistant\n<|im_end|>\n<|im_start|>tool\n18 C, sunny<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn chatml_fallback_writes_tools_calls_and_results_as_minja_does() {
    let t = ChatTemplate::from_fallback(Fallback::ChatMl, "", "<|im_end|>").unwrap();
    let opts = RenderOptions { tool_fallback: true, ..RenderOptions::generation_prompt(true) }
        .with_tools(vec![weather_tool()]);
    let expected = concat!(
        "<|im_start|>system\nBe brief.\n\n",
        "You can call any of the following tools to satisfy the user's requests: [\n",
        "  {\n    \"type\": \"function\",\n    \"function\": {\n      \"name\": \"get_weather\",\n",
        "      \"description\": \"Current weather in a city.\",\n      \"parameters\": {\n",
        "        \"type\": \"object\",\n        \"properties\": {\n          \"city\": {\n",
        "            \"type\": \"string\"\n          }\n        },\n        \"required\": [\n",
        "          \"city\"\n        ]\n      }\n    }\n  }\n]\n\n",
        "Example tool call syntax:\n\n",
        "{\n  \"tool_calls\": [\n    {\n      \"name\": \"tool_name\",\n      \"arguments\": {\n",
        "        \"arg1\": \"some_value\"\n      },\n      \"id\": \"call_1___\"\n    }\n  ]\n}\n\n",
        "<|im_end|>\n",
        "<|im_start|>user\nWeather in Paris?<|im_end|>\n",
        "<|im_start|>assistant\n{\n  \"tool_calls\": [\n    {\n      \"name\": \"get_weather\",\n",
        "      \"arguments\": {\n        \"city\": \"Paris\"\n      },\n      \"id\": \"call_1\"\n    }\n  ]\n}<|im_end|>\n",
        "<|im_start|>user\n{\n  \"tool_response\": {\n    \"tool\": \"get_weather\",\n",
        "    \"content\": \"18 C, sunny\",\n    \"tool_call_id\": \"call_1\"\n  }\n}<|im_end|>\n",
        "<|im_start|>assistant\n",
    );
    assert_eq!(t.render_with(&conversation(), &opts).unwrap(), expected);
}

#[test]
fn fallback_keeps_text_next_to_calls_and_adds_a_system_turn() {
    let t = ChatTemplate::from_fallback(Fallback::ChatMl, "", "<|im_end|>").unwrap();
    let msgs = [
        Message::user("Add 2 and 3, then 4 and 5."),
        Message::assistant_tool_calls(
            "On it.",
            vec![
                ToolCall::function("a", "add", r#"{"x": 2, "y": 3}"#),
                ToolCall::function("b", "add", r#"{"x": 4, "y": 5}"#),
            ],
        ),
    ];
    let tool = json!({"type": "function", "function": {"name": "add"}});
    let opts = RenderOptions { tool_fallback: true, ..RenderOptions::default() }.with_tools(vec![tool]);
    let out = t.render_with(&msgs, &opts).unwrap();
    assert!(out.starts_with("<|im_start|>system\nYou can call any of the following tools"), "{out}");
    assert!(out.contains("\"id\": \"b\"\n    }\n  ],\n  \"content\": \"On it.\"\n}<|im_end|>\n"), "{out}");
    // Only calls, no tools: the calls are still written as text, and no system turn appears.
    let opts = RenderOptions { tool_fallback: true, ..RenderOptions::default() };
    let out = t.render_with(&msgs, &opts).unwrap();
    assert!(out.starts_with("<|im_start|>user\n") && out.contains("\"name\": \"add\""), "{out}");
}

#[test]
fn malformed_tools_and_arguments_are_errors() {
    let Some(t) = fixture_template(hearth_testkit::QWEN_05B) else { return };
    let bad_tool = RenderOptions::default().with_tools(vec![json!({"type": "function", "function": {}})]);
    assert!(matches!(
        t.render_with(&conversation(), &bad_tool),
        Err(hearth_chat::ChatError::InvalidTool { index: 0, .. })
    ));
    let msgs =
        [Message::assistant_tool_calls("", vec![ToolCall::function("c", "get_weather", "{city: Paris}")])];
    let err = t.render_with(&msgs, &RenderOptions::default()).unwrap_err();
    assert!(
        matches!(&err, hearth_chat::ChatError::ToolArguments { name, .. } if name == "get_weather"),
        "{err}"
    );
}

#[test]
fn smollm2_fallback_shows_tools_and_an_example_call() {
    let Some(t) = fixture_template(hearth_testkit::SMOLLM2_135M) else { return };
    let msgs = [Message::user("Weather in Paris?")];
    let opts = RenderOptions { tool_fallback: true, ..RenderOptions::generation_prompt(true) }
        .with_tools(vec![weather_tool()]);
    let out = t.render_with(&msgs, &opts).unwrap();
    let expected_head = "<|im_start|>system\nYou can call any of the following tools to satisfy the user's requests: [\n  {\n    \"type\": \"function\",";
    assert!(out.starts_with(expected_head), "{out}");
    // The example is SmolLM2's own rendering of a fallback call, EOS cut.
    assert!(
        out.contains("\n\nExample tool call syntax:\n\n{\n  \"tool_calls\": [\n    {\n      \"name\": \"tool_name\",\n      \"arguments\": {\n        \"arg1\": \"some_value\"\n      },\n      \"id\": \"call_1___\"\n    }\n  ]\n}\n\n<|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n"),
        "{out}"
    );
}
