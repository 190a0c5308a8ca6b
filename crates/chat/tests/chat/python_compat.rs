//! The Python-isms and HF globals real templates use. Every expected string is what Jinja2
//! 3.1 renders under HF's environment (`tests/data/hf_reference.py`'s `render` setup) for the
//! same template and context: one user message `"  Hi  "`, `bos_token` `<s>`, clock
//! 2024-07-26T13:05:09Z.

use std::time::{Duration, UNIX_EPOCH};

use hearth_chat::{ChatError, ChatTemplate, Message, RenderOptions};

fn render(source: &str) -> Result<String, ChatError> {
    let template = ChatTemplate::from_source(source, "<s>", "</s>")?;
    let opts = RenderOptions {
        add_generation_prompt: true,
        now: Some(UNIX_EPOCH + Duration::from_secs(1_721_999_109)),
        ..RenderOptions::default()
    };
    template.render_with(&[Message::user("  Hi  ")], &opts)
}

fn check(source: &str, jinja2: &str) {
    match render(source) {
        Ok(out) => assert_eq!(out, jinja2, "template: {source}"),
        Err(e) => panic!("template: {source}\nfailed: {e}"),
    }
}

#[test]
fn string_methods() {
    check(
        "{{ '  a b  '.strip() }}|{{ 'xxhixx'.lstrip('x') }}|{{ 'hi\\n'.rstrip() }}|{{ 'a,b,c'.split(',')[1] }}|\
         {{ 'a b  c'.split() | length }}|{{ 'hello'.startswith('he') }}|{{ 'hello'.endswith(('x', 'lo')) }}|\
         {{ 'Hi'.upper() }}{{ 'Hi'.lower() }}|{{ 'aXa'.replace('a', 'b') }}|{{ 'hello world'.title() }}",
        "a b|hixx|hi|b|3|True|True|HIhi|bXb|Hello World",
    );
    check(
        "{{ messages[0].content | trim }}|{{ messages[0]['content'].strip() }}|{{ messages | length }}|\
         {{ messages[-1].role }}|{{ 'abc'[::-1] }}|{{ 'abc'[1:] }}",
        "Hi|Hi|1|user|cba|bc",
    );
}

#[test]
fn dict_methods() {
    check(
        "{% set d = {'b': 1, 'a': [2, 3]} %}{{ d.get('a') }}|{{ d.get('zz', 'dflt') }}|{{ d.get('zz') }}|\
         {% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{{ d.keys() | list }}|{{ d.values() | list | length }}",
        "[2, 3]|dflt|None|b=1;a=[2, 3];|['b', 'a']|2",
    );
}

#[test]
fn loop_controls_and_namespace() {
    check(
        "{% for m in [1, 2, 3, 4, 5] %}{% if m == 2 %}{% continue %}{% endif %}{% if m == 4 %}{% break %}{% endif %}{{ m }}{% endfor %}",
        "13",
    );
    check(
        "{% set ns = namespace(found=false, n=0) %}{% for m in messages %}{% set ns.found = true %}\
         {% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.found }} {{ ns.n }}",
        "True 1",
    );
}

#[test]
fn values_print_as_python_str() {
    check(
        "{{ [1, 'a', true, none] }}|{{ {'k': 1.5} }}|{{ true }}|{{ none }}|{{ 1e16 }}|{{ 2.50 }}|{{ 7 / 2 }}",
        "[1, 'a', True, None]|{'k': 1.5}|True|None|1e+16|2.5|3.5",
    );
}

#[test]
fn tojson_is_hf_json_dumps() {
    check(
        "{{ {'b': 'é<&>', 'a': [1, 2.0, none, true, {}]} | tojson }}|{{ {'x': 'é'} | tojson(ensure_ascii=True) }}|\
         {{ [1, {'y': 2}] | tojson(indent=2) }}|{{ {'b': 1, 'a': 2} | tojson(sort_keys=true, separators=(',', ':')) }}",
        "{\"b\": \"é<&>\", \"a\": [1, 2.0, null, true, {}]}|{\"x\": \"\\u00e9\"}|[\n  1,\n  {\n    \"y\": 2\n  }\n]|{\"a\":2,\"b\":1}",
    );
}

#[test]
fn tools_reach_the_template_in_order() {
    let template =
        ChatTemplate::from_source("{% for t in tools %}{{ t | tojson }}{% endfor %}", "", "").unwrap();
    let tool: serde_json::Value = serde_json::from_str(
        r#"{"function": {"parameters": {"z": 1, "a": {"y": [true, null], "b": "ü"}}, "name": "f"}, "type": "function"}"#,
    )
    .unwrap();
    let opts = RenderOptions { tools: Some(vec![tool]), ..RenderOptions::default() };
    // The tool is rebuilt as llama.cpp rebuilds it; json.dumps keeps the schema's order.
    assert_eq!(
        template.render_with(&[], &opts).unwrap(),
        r#"{"type": "function", "function": {"name": "f", "description": "", "parameters": {"z": 1, "a": {"y": [true, null], "b": "ü"}}}}"#
    );
}

#[test]
fn trim_blocks_lstrip_blocks_and_no_trailing_newline() {
    check(
        "  {% if true %}\n    x\n  {% endif %}\n{# c #}\n  y  \n{% for i in range(2) %}\n{{ i }}\n{% endfor %}\n",
        "    x\n  y  \n0\n1\n",
    );
}

#[test]
fn undefined_is_lenient_like_jinja2() {
    check(
        "{{ undefined_var }}|{{ undefined_var | length }}|{% for x in undefined_var %}no{% endfor %}|\
         {{ 'yes' if not undefined_var else 'no' }}|{{ undefined_var is defined }}|\
         {{ messages[0].missing is defined }}|{{ messages[0].missing }}",
        "|0||yes|False|False|",
    );
    // Jinja2 raises UndefinedError here too.
    assert!(matches!(render("{{ undefined_var.attr }}"), Err(ChatError::Render { .. })));
}

#[test]
fn type_tests_follow_jinja2() {
    check(
        "{{ none is iterable }}|{{ 'x' is iterable }}|{{ 3 is iterable }}|{{ 'x' is sequence }}|\
         {{ {} is sequence }}|{{ none is sequence }}|{{ [] is mapping }}|{{ 'x' is string }}",
        "False|True|False|True|True|False|False|True",
    );
}

#[test]
fn strftime_now_and_generation_tags() {
    check("{{ strftime_now('%d %b %Y') }}", "26 Jul 2024");
    check("{% generation %}G{% endgeneration %}", "G");
}

#[test]
fn extra_variables_override_and_add() {
    let template = ChatTemplate::from_source(
        "{{ bos_token }}{% if enable_thinking is defined and not enable_thinking %}/no_think{% endif %}",
        "<s>",
        "",
    )
    .unwrap();
    let mut opts = RenderOptions::default();
    opts.extra.insert("enable_thinking".to_owned(), false.into());
    assert_eq!(template.render_with(&[], &opts).unwrap(), "<s>/no_think");
    opts.extra.insert("bos_token".to_owned(), "<BOS>".into());
    assert_eq!(template.render_with(&[], &opts).unwrap(), "<BOS>/no_think");
}

#[test]
fn messages_deserialize_with_extra_fields() {
    let m: Vec<Message> = serde_json::from_str(
        r#"[{"role": "assistant", "content": "x", "tool_calls": [], "refusal": null}, {"role": "user", "content": "y", "name": "n"}]"#,
    )
    .unwrap();
    assert_eq!(m, vec![Message::assistant("x"), Message::user("y").with_name("n")]);
}
