//! A broken or hostile template is a `ChatError` that names the problem, never a panic.

use hearth_chat::{ChatError, ChatTemplate, Message};

fn user() -> Vec<Message> {
    vec![Message::user("hi")]
}

#[test]
fn raise_exception_keeps_the_templates_message() {
    let t = ChatTemplate::from_source(
        "{% if messages[0].role != 'system' %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}",
        "",
        "",
    )
    .unwrap();
    match t.render(&user(), true) {
        Err(ChatError::Raised { message }) => {
            assert_eq!(message, "Conversation roles must alternate user/assistant/user/assistant/...");
        }
        other => panic!("expected Raised, got {other:?}"),
    }
}

#[test]
fn raise_exception_inside_a_macro_is_still_raised() {
    let src = "{% macro check(m) %}{% if m.role == 'user' %}{{ raise_exception('no users: ' ~ m.content) }}{% endif %}{% endmacro %}\
               {% for m in messages %}{{ check(m) }}{% endfor %}";
    let t = ChatTemplate::from_source(src, "", "").unwrap();
    assert!(
        matches!(t.render(&user(), false), Err(ChatError::Raised { message }) if message == "no users: hi")
    );
}

#[test]
fn syntax_errors_name_the_line() {
    let err = ChatTemplate::from_source("line one\n{% if messages %}\n{{ x }", "", "").unwrap_err();
    match &err {
        ChatError::Syntax { detail } => assert!(detail.contains("chat:"), "no location in {detail:?}"),
        other => panic!("expected Syntax, got {other:?}"),
    }
    let err = ChatTemplate::from_source("{% if %}", "", "").unwrap_err();
    assert!(matches!(err, ChatError::Syntax { .. }), "{err:?}");
    let err = ChatTemplate::from_source("{% unknowntag %}", "", "").unwrap_err();
    assert!(matches!(err, ChatError::Syntax { .. }), "{err:?}");
}

#[test]
fn runtime_errors_are_render_errors() {
    for src in [
        "{{ messages[0].content + 1 }}",
        "{{ undefined_thing.attr }}",
        "{{ messages | tojson(indent=[1]) }}",
        "{{ 'x'.nosuchmethod() }}",
        "{{ 1 / 0 }}",
    ] {
        let t = ChatTemplate::from_source(src, "", "").unwrap();
        match t.render(&user(), false) {
            Err(ChatError::Render { detail }) => assert!(!detail.is_empty(), "{src}"),
            other => panic!("{src}: expected Render, got {other:?}"),
        }
    }
}

#[test]
fn runaway_templates_stop() {
    // Infinite-ish loops and recursion end in an error, not a hang or a stack overflow.
    for src in [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    ] {
        let t = ChatTemplate::from_source(src, "", "").unwrap();
        assert!(matches!(t.render(&user(), false), Err(ChatError::Render { .. })), "{src}");
    }
}

#[test]
fn long_conversations_fit_the_step_budget() {
    // The budget that stops runaway templates leaves real ones plenty of room: the Qwen2.5
    // template over 5000 messages.
    let Some(path) = hearth_testkit::model(hearth_testkit::QWEN_05B) else { return };
    let file = hearth_gguf::GgufFile::open(&path).expect("open fixture");
    let t = ChatTemplate::from_gguf(file.metadata()).expect("template compiles");
    let chat: Vec<Message> =
        (0..5000)
            .map(|i| {
                if i % 2 == 0 { Message::user(format!("question {i}")) } else { Message::assistant("answer") }
            })
            .collect();
    let out = t.render(&chat, true).expect("renders within budget");
    assert_eq!(out.matches("<|im_start|>").count(), 5002, "system + 5000 + generation prompt");
}
