//! Tool conversations rendered by hearth-chat must equal llama.cpp's renders byte for byte:
//! `tests/golden/chat_tools.json` holds OpenAI requests (messages with `tool_calls` and
//! `tool` turns, plus `tools`) and, per fixture model, the prompt llama-server's
//! `/apply-template` rendered for each and the template caps its `/props` reported
//! (written by `cargo xtask chat-goldens`).

use hearth_chat::{ChatTemplate, Fallback, Message, RenderOptions};
use hearth_gguf::GgufFile;
use serde_json::Value;

fn golden() -> Value {
    let path = hearth_testkit::golden_dir().join("chat_tools.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("chat_tools.json parses")
}

/// The golden entry of `name`.
fn entry<'a>(golden: &'a Value, name: &str) -> &'a Value {
    let file = format!("{name}.gguf");
    golden["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == file.as_str())
        .expect("model in golden")
}

/// The request of the conversation called `name`.
fn request<'a>(golden: &'a Value, name: &str) -> &'a Value {
    let conv = golden["conversations"].as_array().unwrap().iter().find(|c| c["name"] == name);
    &conv.unwrap_or_else(|| panic!("conversation {name} missing"))["request"]
}

/// The template llama.cpp rendered with: the GGUF's own, or (when the GGUF has none)
/// llama.cpp's built-in ChatML, which is hearth's `Fallback::ChatMl`.
fn template_for(name: &str, golden: &Value) -> Option<ChatTemplate> {
    let path = hearth_testkit::model(name)?;
    let file = GgufFile::open(&path).expect("open fixture");
    let shipped = ChatTemplate::from_gguf(file.metadata()).expect("template compiles");
    let e = entry(golden, name);
    if let Ok(sha) = std::fs::read_to_string(path.with_extension("gguf.sha256")) {
        assert_eq!(sha.trim(), e["sha256"], "{name}: the golden was made from another file");
    }
    if e["template"] == "gguf" {
        assert!(!shipped.is_fallback(), "{name}: llama.cpp used the GGUF's template");
        Some(shipped)
    } else {
        Some(ChatTemplate::from_fallback(Fallback::ChatMl, shipped.bos_token(), shipped.eos_token()).unwrap())
    }
}

fn check_model(name: &str) {
    let golden = golden();
    let Some(template) = template_for(name, &golden) else { return };
    let e = entry(&golden, name);

    let caps = template.tool_caps();
    let theirs = &e["caps"];
    for (key, ours) in [
        ("supports_tools", caps.supports_tools),
        ("supports_tool_calls", caps.supports_tool_calls),
        ("supports_parallel_tool_calls", caps.supports_parallel_tool_calls),
        ("supports_object_arguments", caps.supports_object_arguments),
        ("supports_system_role", caps.supports_system_role),
    ] {
        assert_eq!(theirs[key], ours, "{name}: {key} differs from llama.cpp's caps");
    }

    let renders = e["renders"].as_array().unwrap();
    assert!(!renders.is_empty(), "{name}: no renders");
    for r in renders {
        let conv = r["conversation"].as_str().unwrap();
        let req = request(&golden, conv);
        let messages: Vec<Message> = serde_json::from_value(req["messages"].clone())
            .unwrap_or_else(|e| panic!("{conv}: messages: {e}"));
        let tools: Vec<Value> = req["tools"].as_array().cloned().unwrap_or_default();
        let opts = RenderOptions::generation_prompt(req["add_generation_prompt"].as_bool().unwrap_or(true))
            .with_tools(tools);
        let ours = template.render_with(&messages, &opts).unwrap_or_else(|e| panic!("{name}/{conv}: {e}"));
        assert_eq!(ours, r["prompt"].as_str().unwrap(), "{name}/{conv}: differs from llama.cpp's render");
    }
}

#[test]
fn qwen_tool_conversations_match_llama_cpp() {
    check_model(hearth_testkit::QWEN_05B);
}

#[test]
fn smollm2_tool_conversations_match_llama_cpp() {
    check_model(hearth_testkit::SMOLLM2_135M);
}

#[test]
fn chatml_fallback_tool_conversations_match_llama_cpp() {
    // Gemma 3 270M ships no template: llama.cpp renders it with its built-in ChatML.
    check_model(hearth_testkit::GEMMA3_270M);
}

#[test]
fn golden_covers_native_and_non_native_tool_templates() {
    let golden = golden();
    let models = golden["models"].as_array().unwrap();
    assert!(models.iter().any(|m| m["caps"]["supports_tools"] == true));
    assert!(models.iter().any(|m| m["caps"]["supports_tools"] == false));
    let names: Vec<&str> =
        golden["conversations"].as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
    for needed in ["weather_single_call", "calculator_parallel_calls", "extraction_object_arguments"] {
        assert!(names.contains(&needed), "{needed} missing");
    }
}
