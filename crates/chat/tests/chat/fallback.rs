//! GGUFs without `tokenizer.chat_template` get llama.cpp's built-in formats. The expected
//! strings are worked out by hand from `src/llama-chat.cpp` (`llm_chat_apply_template`), as
//! each test explains, and were checked against that code compiled and run
//! (`tests/data/llama_chat_check.cpp` prints them).

use hearth_chat::{ChatError, ChatTemplate, Fallback, Message};
use hearth_gguf::{Array, GgufFile, Metadata, Value};

fn meta(entries: &[(&str, Value)]) -> Metadata {
    Metadata::from_entries(entries.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
        .expect("metadata")
}

fn vocab(tokens: &[&str]) -> Value {
    Value::Array(Array::String(tokens.iter().map(|t| (*t).to_owned()).collect()))
}

#[test]
fn gemma3_fixture_gets_llama_cpp_gemma_format() {
    let Some(path) = hearth_testkit::model(hearth_testkit::GEMMA3_270M) else { return };
    let file = GgufFile::open(&path).expect("open fixture");
    let template = ChatTemplate::from_gguf(file.metadata()).expect("fallback compiles");
    assert!(template.is_fallback());
    assert_eq!(template.fallback(), Some(Fallback::Gemma));
    // tokens[2] and tokens[1] of the Gemma 3 vocab.
    assert_eq!(template.bos_token(), "<bos>");
    assert_eq!(template.eos_token(), "<eos>");

    let chat = [
        Message::system("  You are terse. \n"),
        Message::user("\tHi there\n"),
        Message::assistant("Hello!"),
        Message::user("Name a color."),
    ];
    // LLM_CHAT_TEMPLATE_GEMMA: the system text is trim()med and held back; the first user
    // turn prints "<start_of_turn>user\n", then the held system text and "\n\n", then its
    // own trimmed content and "<end_of_turn>\n"; "assistant" is written "model"; with
    // add_ass the prompt ends "<start_of_turn>model\n". No BOS: the tokenizer adds it.
    let expected = "<start_of_turn>user\nYou are terse.\n\nHi there<end_of_turn>\n\
                    <start_of_turn>model\nHello!<end_of_turn>\n\
                    <start_of_turn>user\nName a color.<end_of_turn>\n\
                    <start_of_turn>model\n";
    assert_eq!(template.render(&chat, true).expect("renders"), expected);
    // Without add_ass the last turn is the user's.
    let without = expected.strip_suffix("<start_of_turn>model\n").expect("suffix");
    assert_eq!(template.render(&chat, false).expect("renders"), without);
}

#[test]
fn gemma_merges_system_text_like_llama_cpp() {
    let template = ChatTemplate::from_fallback(Fallback::Gemma, "<bos>", "<eos>").expect("compiles");
    let chat = [
        Message::system("A."),
        Message::system(" B. "),
        Message::assistant("first"),
        Message::user("\u{a0}q\u{a0}"),
        Message::system("dropped"),
    ];
    // `system_prompt += trim(content)` concatenates without a separator ("A.B."); a `model`
    // turn does not take it, so it waits for the user turn; trim() is C isspace, which
    // leaves U+00A0 alone; a trailing system message has no turn to join and vanishes.
    let expected = "<start_of_turn>model\nfirst<end_of_turn>\n\
                    <start_of_turn>user\nA.B.\n\n\u{a0}q\u{a0}<end_of_turn>\n";
    assert_eq!(template.render(&chat, false).expect("renders"), expected);
}

#[test]
fn llama_and_qwen2_without_template_get_chatml() {
    for arch in ["llama", "qwen2"] {
        let m = meta(&[
            ("general.architecture", Value::String(arch.to_owned())),
            ("tokenizer.ggml.tokens", vocab(&["<unk>", "<s>", "</s>"])),
            ("tokenizer.ggml.bos_token_id", Value::U32(1)),
            ("tokenizer.ggml.eos_token_id", Value::U32(2)),
        ]);
        let template = ChatTemplate::from_gguf(&m).expect("fallback compiles");
        assert_eq!(template.fallback(), Some(Fallback::ChatMl), "{arch}");
        assert_eq!((template.bos_token(), template.eos_token()), ("<s>", "</s>"));
        let chat = [Message::system(" sys "), Message::user("hi")];
        // LLM_CHAT_TEMPLATE_CHATML: "<|im_start|>" role "\n" content "<|im_end|>\n" per
        // message, untrimmed; add_ass appends "<|im_start|>assistant\n".
        let expected =
            "<|im_start|>system\n sys <|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n";
        assert_eq!(template.render(&chat, true).expect("renders"), expected);
    }
}

#[test]
fn literal_chatml_and_tool_use_key_are_honoured() {
    let chatml = meta(&[("tokenizer.chat_template", Value::String("chatml".to_owned()))]);
    let t = ChatTemplate::from_gguf(&chatml).expect("compiles");
    assert_eq!(t.fallback(), Some(Fallback::ChatMl));

    let tool_use = meta(&[
        ("general.architecture", Value::String("gemma3".to_owned())),
        ("tokenizer.chat_template.tool_use", Value::String("{{ messages[0].content }}!".to_owned())),
    ]);
    let t = ChatTemplate::from_gguf(&tool_use).expect("compiles");
    assert!(!t.is_fallback());
    assert_eq!(t.render(&[Message::user("x")], false).expect("renders"), "x!");
    // No vocab: the token variables are empty, not an error.
    assert_eq!((t.bos_token(), t.eos_token()), ("", ""));
}

#[test]
fn tool_use_template_renders_tool_requests() {
    let both = meta(&[
        ("tokenizer.chat_template", Value::String("D{{ messages[0].content }}".to_owned())),
        (
            "tokenizer.chat_template.tool_use",
            Value::String("T{% for t in tools %}{{ t.function.name }}{% endfor %}".to_owned()),
        ),
    ]);
    let t = ChatTemplate::from_gguf(&both).expect("compiles");
    let msgs = [Message::user("x")];
    assert_eq!(t.render(&msgs, false).unwrap(), "Dx");
    let tool = serde_json::json!({"type": "function", "function": {"name": "f"}});
    let with_tools = hearth_chat::RenderOptions::default().with_tools(vec![tool]);
    assert_eq!(t.render_with(&msgs, &with_tools).unwrap(), "Tf");
    // llama.cpp reports the tool-use template's caps.
    assert!(t.tool_caps().supports_tools);

    // `chatml` next to a tool-use template: llama.cpp takes the tool-use one as default.
    let chatml = meta(&[
        ("tokenizer.chat_template", Value::String("chatml".to_owned())),
        ("tokenizer.chat_template.tool_use", Value::String("T".to_owned())),
    ]);
    let t = ChatTemplate::from_gguf(&chatml).expect("compiles");
    assert_eq!(t.render(&msgs, false).unwrap(), "T");
}

#[test]
fn bad_token_ids_are_errors_or_empty() {
    let out_of_range = meta(&[
        ("tokenizer.ggml.tokens", vocab(&["a", "b"])),
        ("tokenizer.ggml.bos_token_id", Value::U32(7)),
    ]);
    let err = ChatTemplate::from_gguf(&out_of_range).expect_err("id 7 of 2 tokens");
    assert!(
        matches!(err, ChatError::TokenIdOutOfRange { key: "tokenizer.ggml.bos_token_id", id: 7, n_vocab: 2 }),
        "{err}"
    );
    let negative = meta(&[
        ("tokenizer.ggml.tokens", vocab(&["a", "b"])),
        ("tokenizer.ggml.eos_token_id", Value::I32(-1)),
    ]);
    assert_eq!(ChatTemplate::from_gguf(&negative).expect("-1 means none").eos_token(), "");
    let wrong_type = meta(&[("tokenizer.chat_template", Value::U32(3))]);
    assert!(matches!(ChatTemplate::from_gguf(&wrong_type), Err(ChatError::Metadata(_))));
}
