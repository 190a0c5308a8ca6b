//! The tool-call grammar against the real Qwen2.5 and SmolLM2 vocabularies: every syntax
//! compiles, admits the calls its parser reads (and the parser reads them back), and rejects
//! unknown tools, invalid arguments and calls where none are allowed. The syntax is read off
//! the fixtures' own chat templates.

use std::sync::Arc;

use hearth_chat::ChatTemplate;
use hearth_grammar::{GrammarCompiler, Matcher};
use hearth_tokenizer::{Specials, Tokenizer};
use hearth_tools::{CallSyntax, ToolChoice, ToolDef, ToolSet, grammar, parse};
use serde_json::json;

struct Model {
    tok: Arc<Tokenizer>,
    compiler: GrammarCompiler,
    syntax: CallSyntax,
}

fn model(name: &str) -> Option<Model> {
    let path = hearth_testkit::model(name)?;
    let file = hearth_gguf::GgufFile::open(&path).expect("open fixture");
    let tok = Arc::new(Tokenizer::from_gguf(file.metadata()).expect("tokenizer"));
    let template = ChatTemplate::from_gguf(file.metadata()).expect("template");
    let compiler = GrammarCompiler::new(tok.clone(), tok.n_vocab()).expect("compiler");
    Some(Model { syntax: CallSyntax::detect(template.tools_source()), tok, compiler })
}

fn tools(choice: ToolChoice, parallel: bool) -> ToolSet {
    let weather = json!({
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
        "required": ["city"],
        "additionalProperties": false
    });
    let calc = json!({
        "type": "object",
        "properties": {"expression": {"$ref": "#/$defs/expr"}},
        "required": ["expression"],
        "$defs": {"expr": {"type": "string", "maxLength": 40}}
    });
    ToolSet::new(
        vec![
            ToolDef::new("get_weather", Some("Current weather".into()), Some(weather)),
            ToolDef::new("calculator", None, Some(calc)),
        ],
        choice,
        parallel,
    )
    .unwrap()
}

/// True when the constraint admits `text` (hearth's tokenization, special tokens parsed as
/// the model would emit them) and may end after it.
fn admits(m: &Model, set: &ToolSet, text: &str) -> bool {
    let constraint = grammar(set, m.syntax).expect("a grammar");
    let mut matcher: Matcher =
        m.compiler.compile(&constraint).unwrap_or_else(|e| panic!("{e}\n{constraint:?}"));
    let ids = m.tok.encode(text, Specials { add_bos_eos: false, parse_control: true });
    for &id in &ids {
        if !matcher.allows(id).expect("allows") {
            return false;
        }
        matcher.consume(id).expect("consume");
    }
    matcher.is_finished() || matcher.is_accepting().expect("accepting")
}

fn hermes(calls: &[&str]) -> String {
    calls.iter().map(|c| format!("<tool_call>\n{c}\n</tool_call>")).collect::<Vec<_>>().join("\n")
}

#[test]
fn qwen_calls_always_parse() {
    let Some(m) = model(hearth_testkit::QWEN_05B) else { return };
    assert_eq!(m.syntax, CallSyntax::Hermes);
    // `<tool_call>` is one token of Qwen's vocabulary, and the grammar lets the model use it.
    assert_eq!(m.tok.encode("<tool_call>", Specials { add_bos_eos: false, parse_control: true }).len(), 1);

    let weather = r#"{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}"#;
    let calc = r#"{"name": "calculator", "arguments": {"expression": "2 + 3"}}"#;
    let auto = tools(ToolChoice::Auto, true);
    for ok in [hermes(&[weather]), hermes(&[weather, calc]), "It is sunny in Paris.".to_owned()] {
        assert!(admits(&m, &auto, &ok), "should admit {ok:?}");
        parse(&ok, m.syntax, &auto).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
    }
    let bad = [
        hermes(&[r#"{"name": "rm_rf", "arguments": {}}"#]),
        hermes(&[r#"{"name": "get_weather", "arguments": {"unit": "celsius"}}"#]),
        hermes(&[r#"{"name": "get_weather", "arguments": {"city": "Paris", "unit": "kelvin"}}"#]),
        hermes(&[r#"{"name": "get_weather", "arguments": {"city": "Paris", "extra": 1}}"#]),
        hermes(&[
            r#"{"name": "calculator", "arguments": {"expression": "1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1"}}"#,
        ]),
        format!("{}\n", hermes(&[weather])) + "and some text",
        // Text before a call would hide an unchecked call inside the text.
        format!("Sure.\n{}", hermes(&[r#"{"name": "rm_rf", "arguments": {}}"#])),
    ];
    for b in &bad {
        assert!(!admits(&m, &auto, b), "should reject {b:?}");
    }
    // Only one call without parallel calls; only calls with `required`; only the named tool.
    assert!(!admits(&m, &tools(ToolChoice::Auto, false), &hermes(&[weather, calc])));
    assert!(admits(&m, &tools(ToolChoice::Auto, false), &hermes(&[weather])));
    assert!(!admits(&m, &tools(ToolChoice::Required, true), "It is sunny."));
    assert!(admits(&m, &tools(ToolChoice::Required, true), &hermes(&[calc])));
    let only_calc = tools(ToolChoice::Function("calculator".into()), true);
    assert!(!admits(&m, &only_calc, &hermes(&[weather])));
    assert!(admits(&m, &only_calc, &hermes(&[calc])));
    assert!(grammar(&tools(ToolChoice::None, true), m.syntax).is_none());
}

#[test]
fn smollm2_uses_the_fallback_syntax() {
    let Some(m) = model(hearth_testkit::SMOLLM2_135M) else { return };
    assert_eq!(m.syntax, CallSyntax::Json);
    let auto = tools(ToolChoice::Auto, true);
    let turn = r#"{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}, {"name": "calculator", "arguments": {"expression": "6*7"}}]}"#;
    assert!(admits(&m, &auto, turn));
    let p = parse(turn, m.syntax, &auto).unwrap();
    assert_eq!(p.calls.len(), 2);
    assert!(admits(&m, &auto, "Hello there."));
    assert!(!admits(&m, &auto, r#"{"tool_calls": []}"#));
    assert!(!admits(&m, &tools(ToolChoice::Auto, false), turn));
    assert!(!admits(&m, &auto, r#"{"tool_calls": [{"name": "calculator", "arguments": {"expr": "1"}}]}"#));
}

#[test]
fn llama3_syntax_compiles_and_admits_one_call() {
    let Some(mut m) = model(hearth_testkit::SMOLLM2_135M) else { return };
    m.syntax = CallSyntax::Llama3;
    let set = tools(ToolChoice::Required, false);
    let call = r#"{"name": "get_weather", "parameters": {"city": "Rome"}}"#;
    assert!(admits(&m, &set, call));
    assert_eq!(parse(call, m.syntax, &set).unwrap().calls[0].name, "get_weather");
    assert!(!admits(&m, &set, r#"{"name": "get_weather", "arguments": {"city": "Rome"}}"#));
}
