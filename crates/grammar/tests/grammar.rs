//! hearth-grammar against real GGUF vocabularies: the token environment, compilation and
//! rejection of every constraint kind, and matchers walked over known-good and known-bad
//! token sequences. (Generation with the model is tested in crates/engine/tests/grammar.rs.)

use std::sync::Arc;

use hearth_grammar::{Constraint, GrammarCompiler, GrammarError, Matcher};
use hearth_tokenizer::{Specials, Tokenizer};
use serde_json::json;

fn tokenizer(name: &str) -> Option<Arc<Tokenizer>> {
    let path = hearth_testkit::model(name)?;
    let file = hearth_gguf::GgufFile::open(&path).expect("open fixture");
    Some(Arc::new(Tokenizer::from_gguf(file.metadata()).expect("tokenizer")))
}

fn qwen() -> Option<(Arc<Tokenizer>, GrammarCompiler)> {
    let tok = tokenizer(hearth_testkit::QWEN_05B)?;
    let c = GrammarCompiler::new(tok.clone(), tok.n_vocab()).expect("compiler");
    Some((tok, c))
}

/// Feeds `text`'s tokens (hearth's tokenization) one by one; returns how many were allowed
/// before the first rejection.
fn walk(m: &mut Matcher, tok: &Tokenizer, text: &str) -> usize {
    let ids = tok.encode(text, Specials::NONE);
    for (i, &id) in ids.iter().enumerate() {
        if !m.allows(id).expect("allows") {
            return i;
        }
        m.consume(id).expect("consume");
    }
    ids.len()
}

fn accepts(c: &GrammarCompiler, tok: &Tokenizer, constraint: &Constraint, text: &str) -> bool {
    let mut m = c.compile(constraint).expect("compiles");
    let n = tok.encode(text, Specials::NONE).len();
    walk(&mut m, tok, text) == n && m.is_accepting().expect("is_accepting")
}

fn bit(mask: &[u32], t: u32) -> bool {
    mask[t as usize / 32] >> (t % 32) & 1 == 1
}

#[test]
fn special_tokens_are_marked_and_end_the_output() {
    let Some((tok, c)) = qwen() else { return };
    let im_end = tok.token_id("<|im_end|>").expect("qwen has <|im_end|>");
    assert!(c.end_tokens().contains(&im_end), "end tokens {:?}", c.end_tokens());
    assert_eq!(c.end_tokens()[0], tok.eot().unwrap_or(im_end));
    assert!(c.forces_tokens(), "qwen's BPE round-trips, so tokens are forced");
    assert!(c.n_vocab() >= tok.n_vocab());

    // Any text: a special token's *text* is fine, the special token itself never is, except
    // as the end.
    let mut m = c.compile(&Constraint::Regex("(?s:.*)".into())).unwrap();
    let im_start = tok.token_id("<|im_start|>").unwrap();
    assert!(!m.allows(im_start).unwrap());
    assert!(m.allows(im_end).unwrap(), "the empty text is complete: ending is allowed");
    assert_eq!(
        walk(&mut m, &tok, "<|im_start|> is text here"),
        tok.encode("<|im_start|> is text here", Specials::NONE).len()
    );
    let mask = m.compute_mask().unwrap().to_vec();
    assert!(!bit(&mask, im_start));
    assert!(bit(&mask, im_end));
    // Ids past the vocabulary are never allowed.
    assert!(!m.allows(c.n_vocab() as u32 + 5).unwrap());
}

#[test]
fn mask_agrees_with_token_checks() {
    let Some((tok, c)) = qwen() else { return };
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
    let mut m = c.compile(&Constraint::JsonSchema(schema)).unwrap();
    assert_eq!(walk(&mut m, &tok, "{\"n\": 1"), tok.encode("{\"n\": 1", Specials::NONE).len());
    let mask = m.compute_mask().unwrap().to_vec();
    assert!(mask.len() >= c.n_vocab().div_ceil(32));
    let mut allowed = 0;
    for t in 0..tok.n_vocab() as u32 {
        let b = bit(&mask, t);
        allowed += usize::from(b);
        // Checking every token is slow in debug builds; a stride covers the vocabulary.
        if t % 97 == 0 || b {
            assert_eq!(m.allows(t).unwrap(), b, "token {t} {:?}", tok.token_text(t));
        }
    }
    // Digits, `}` and `,`-less continuations: some but far from all tokens.
    assert!(allowed > 5 && allowed < 2000, "{allowed} tokens allowed");
    for ok in ["2", "}", "0"] {
        let id = tok.encode(ok, Specials::NONE)[0];
        assert!(bit(&mask, id), "{ok:?} should be allowed after {{\"n\": 1");
    }
    assert!(!bit(&mask, tok.encode("a", Specials::NONE)[0]));
    assert!(m.stats().masks == 1 && m.stats().checks > 0);
}

#[test]
fn json_schema_accepts_valid_and_rejects_invalid_documents() {
    let Some((tok, c)) = qwen() else { return };
    let schema = Constraint::JsonSchema(json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 10},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
        },
        "required": ["name", "age"],
        "additionalProperties": false,
    }));
    assert!(accepts(&c, &tok, &schema, r#"{"name": "Ann", "age": 31}"#));
    assert!(accepts(&c, &tok, &schema, r#"{"name": "Ann", "age": 31, "tags": ["a", "b"]}"#));
    for bad in [
        r#"{"name": "Ann"}"#,                                    // missing required
        r#"{"name": "Ann", "age": 121}"#,                        // over maximum
        r#"{"name": "Ann", "age": 3.5}"#,                        // not an integer
        r#"{"name": "Ann", "age": 3, "x": 1}"#,                  // additionalProperties: false
        r#"{"name": "Ann", "age": 3, "tags": ["c"]}"#,           // not in enum
        r#"{"name": "Ann", "age": 3, "tags": ["a", "a", "b"]}"#, // maxItems
        r#"{"name": "Annabelle Lee", "age": 3}"#,                // maxLength
        r#"{"name":"Ann","age":3}"#,                             // hearth's layout has spaces
    ] {
        assert!(!accepts(&c, &tok, &schema, bad), "accepted {bad}");
    }
}

#[test]
fn any_json_object() {
    let Some((tok, c)) = qwen() else { return };
    assert!(accepts(&c, &tok, &Constraint::JsonObject, r#"{"a": [1, 2.5, null, true], "b": {"c": "d"}}"#));
    assert!(accepts(&c, &tok, &Constraint::JsonObject, "{}"));
    assert!(!accepts(&c, &tok, &Constraint::JsonObject, "[1]"));
    assert!(!accepts(&c, &tok, &Constraint::JsonObject, "\"x\""));
}

#[test]
fn regex_and_lark() {
    let Some((tok, c)) = qwen() else { return };
    let date = Constraint::Regex(r"^\d{4}-\d{2}-\d{2}$".into());
    assert!(accepts(&c, &tok, &date, "2024-05-17"));
    assert!(!accepts(&c, &tok, &date, "2024-5-17"));
    assert!(!accepts(&c, &tok, &date, "2024-05-17x"));

    let lark = Constraint::Lark(
        r#"
        start: expr
        expr: term (("+" | "-") term)*
        term: NUMBER | "(" expr ")"
        NUMBER: /[0-9]+/
        "#
        .into(),
    );
    assert!(accepts(&c, &tok, &lark, "1+(2-30)"));
    assert!(!accepts(&c, &tok, &lark, "1+"));
    assert!(!accepts(&c, &tok, &lark, "1*2"));
}

#[test]
fn choices_force_the_rest_of_a_unique_prefix() {
    let Some((tok, c)) = qwen() else { return };
    let choices = Constraint::Choices(vec!["positive".into(), "negative".into(), "neutral (n/a)".into()]);
    for ch in ["positive", "negative", "neutral (n/a)"] {
        assert!(accepts(&c, &tok, &choices, ch), "{ch}");
    }
    assert!(!accepts(&c, &tok, &choices, "positive!"));
    assert!(!accepts(&c, &tok, &choices, "pos"));

    // A single choice leaves nothing to sample: all of it is forced, and the matcher is done.
    let mut m = c.compile(&Constraint::Choices(vec!["{\"answer\": 42}".into()])).unwrap();
    let forced = m.consume_forced().unwrap();
    assert_eq!(tok.decode(&forced, false), "{\"answer\": 42}");
    assert!(m.is_finished() || m.is_accepting().unwrap());
    assert_eq!(m.stats().forced, forced.len() as u64);
}

#[test]
fn forced_tokens_inside_a_schema() {
    let Some((tok, c)) = qwen() else { return };
    // After `{` the only property is `"location": `; its name is forced.
    let schema = json!({
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
        "additionalProperties": false,
    });
    let mut m = c.compile(&Constraint::JsonSchema(schema)).unwrap();
    // Forced: the object's opening up to the value (the last quote may be left to merge
    // with the value's first token).
    let text = tok.decode(&m.consume_forced().unwrap(), false);
    let full = "{\"location\": \"Paris\"";
    assert!(full.starts_with(&text) && text.len() >= "{\"location".len(), "forced {text:?}");
    // Drive the value by hand; then the closing brace is forced.
    let n = walk(&mut m, &tok, &full[text.len()..]);
    assert_eq!(n, tok.encode(&full[text.len()..], Specials::NONE).len());
    assert_eq!(tok.decode(&m.consume_forced().unwrap(), false), "}");
    assert!(m.is_finished(), "nothing can follow the object");
}

#[test]
fn unsupported_keywords_are_named() {
    let Some((_, c)) = qwen() else { return };
    let cases = [
        (json!({"type": "array", "uniqueItems": true}), "uniqueItems"),
        (json!({"type": "object", "properties": {"a": {"not": {"type": "null"}}}}), "not"),
        (json!({"type": "array", "contains": {"type": "integer"}}), "contains"),
        (json!({"if": {"type": "string"}, "then": {"minLength": 1}}), "if"),
        // Unknown to draft-06, so llguidance alone would ignore it.
        (json!({"$schema": "http://json-schema.org/draft-06/schema#", "if": {}, "then": {}}), "if"),
        (json!({"type": "object", "propertyNames": {"pattern": "^a"}}), "propertyNames"),
        (json!({"type": "object", "dependentRequired": {"a": ["b"]}}), "dependentRequired"),
        (json!({"type": "object", "unevaluatedProperties": false}), "unevaluatedProperties"),
    ];
    for (schema, kw) in cases {
        match c.compile(&Constraint::JsonSchema(schema.clone())) {
            Err(e @ GrammarError::UnsupportedKeyword { .. }) => {
                assert!(e.to_string().contains(&format!("`{kw}`")), "{e}");
            }
            other => panic!("{schema}: expected UnsupportedKeyword({kw}), got {other:?}"),
        }
    }
}

#[test]
fn schemas_that_cannot_be_enforced_are_errors() {
    let Some((_, c)) = qwen() else { return };
    let cases = [
        // oneOf whose branches overlap: exactly-one cannot be enforced.
        (json!({"oneOf": [{"type": "integer"}, {"type": "number"}]}), "`oneOf` whose branches may overlap"),
        (
            json!({"$defs": {"a": {"type": "object", "properties": {"k": {"const": 1}}, "required": ["k"]},
                             "b": {"type": "object", "properties": {"k": {"const": 2}}, "required": ["k"]}},
                   "oneOf": [{"$ref": "#/$defs/a"}, {"$ref": "#/$defs/b"}]}),
            "behind `$ref`",
        ),
        (json!({"type": "string", "format": "not-a-format"}), "not-a-format"),
        (json!({"type": "object", "minProperties": 1, "properties": {"a": {}}}), "Properties"),
        (json!({"type": "integer", "minimum": 5, "maximum": 1}), ""),
        (json!({"$ref": "#/$defs/missing"}), "missing"),
        (json!({"type": "strin"}), "strin"),
        (json!({"x-guidance": {"lenient": true}, "type": "string"}), "lenient"),
        (json!({"x-guidance": {"coerce_one_of": true}}), "coerce_one_of"),
        (json!(false), "false"),
        (json!(3), "3"),
    ];
    for (schema, needle) in cases {
        let err = c.compile(&Constraint::JsonSchema(schema.clone())).expect_err(&schema.to_string());
        assert!(matches!(err, GrammarError::Schema(_) | GrammarError::NotEnforced(_)), "{schema}: {err:?}");
        assert!(err.to_string().contains(needle), "{schema}: {err}");
    }
}

#[test]
fn malformed_regex_and_grammars_are_errors() {
    let Some((_, c)) = qwen() else { return };
    for rx in ["(unclosed", "a{3,1}", "[z-a]", "*"] {
        let err = c.compile(&Constraint::Regex(rx.into())).expect_err(rx);
        assert!(matches!(err, GrammarError::Regex(_)), "{rx}: {err:?}");
    }
    for src in ["start: foo", "start: (\"a\"", "", "start: /[/", "x: \"a\""] {
        let err = c.compile(&Constraint::Lark(src.into())).expect_err(src);
        assert!(matches!(err, GrammarError::Lark(_)), "{src:?}: {err:?}");
    }
    assert_eq!(c.compile(&Constraint::Choices(vec![])).unwrap_err(), GrammarError::EmptyChoices);
    let huge = Constraint::Regex("a".repeat(hearth_grammar::MAX_CONSTRAINT_BYTES + 1));
    assert!(matches!(c.compile(&huge), Err(GrammarError::TooLarge { .. })));
}

#[test]
fn work_limits_stop_hostile_grammars() {
    let Some(tok) = tokenizer(hearth_testkit::QWEN_05B) else { return };
    let limits = hearth_grammar::ParserLimits { max_grammar_size: 200, ..hearth_grammar::default_limits() };
    let c = GrammarCompiler::with_limits(tok.clone(), tok.n_vocab(), limits).unwrap();
    let props: serde_json::Map<String, serde_json::Value> =
        (0..200).map(|i| (format!("p{i}"), json!({"type": "string"}))).collect();
    let err = c.compile(&Constraint::JsonSchema(json!({"type": "object", "properties": props}))).unwrap_err();
    assert!(matches!(err, GrammarError::TooComplex(_)), "{err:?}");
    assert!(err.is_client_error());
}

#[test]
fn a_failed_matcher_stays_failed() {
    let Some((tok, c)) = qwen() else { return };
    let mut m = c.compile(&Constraint::Regex("ab".into())).unwrap();
    let x = tok.encode("x", Specials::NONE)[0];
    assert!(!m.allows(x).unwrap());
    let err = m.consume(x).unwrap_err();
    assert!(matches!(err, GrammarError::Matcher(_)), "{err:?}");
    assert!(m.is_finished());
    assert!(m.compute_mask().is_err());
    assert!(m.allows(x).is_err() || !m.allows(x).unwrap());
    assert!(m.error_message().is_some());
}

#[test]
fn other_vocabularies_work_too() {
    // Gemma 3 (SentencePiece) and SmolLM2 (BPE): the trie builds and constraints hold.
    for name in [hearth_testkit::GEMMA3_270M, hearth_testkit::SMOLLM2_135M] {
        let Some(tok) = tokenizer(name) else { continue };
        let c = GrammarCompiler::new(tok.clone(), tok.n_vocab()).unwrap();
        assert!(!c.end_tokens().is_empty(), "{name}");
        let schema = Constraint::JsonSchema(
            json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}),
        );
        let mut m = c.compile(&schema).unwrap();
        // Drive with forced tokens and the token checks, in the mask's terms.
        let mut out = m.consume_forced().unwrap();
        let want = "{\"ok\": true}";
        loop {
            let done = tok.decode(&out, false);
            if m.is_finished() || (done == want && m.is_accepting().unwrap()) {
                break;
            }
            let rest = &want[done.len()..];
            let mask = m.compute_mask().unwrap().to_vec();
            // The longest allowed token that spells the next part of `rest`.
            let t = (0..tok.n_vocab() as u32)
                .filter(|&t| {
                    bit(&mask, t)
                        && !tok.token_bytes(t).is_empty()
                        && rest.as_bytes().starts_with(tok.token_bytes(t))
                })
                .max_by_key(|&t| tok.token_bytes(t).len())
                .unwrap_or_else(|| panic!("{name}: no allowed token continues {done:?}"));
            m.consume(t).unwrap();
            out.push(t);
            out.extend(m.consume_forced().unwrap());
        }
        assert_eq!(tok.decode(&out, false), want, "{name}");
    }
}

#[test]
fn compiler_and_matcher_can_move_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<GrammarCompiler>();
    send::<Matcher>();
}

/// Issue 19 item 2: a schema that admits no value (a `$ref` cycle) or would take seconds
/// of lexer work (a huge literal or repetition) is refused at compile time, quickly, with an
/// error that is the caller's (a 400 in the server), not a matcher failure mid-generation.
#[test]
fn hostile_schemas_fail_fast_at_compile_time_as_client_errors() {
    let Some((_, c)) = qwen() else { return };
    let cases = [
        (json!({"$ref": "#"}), "admits no output"),
        (
            json!({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}),
            "admits no output",
        ),
        (json!({"type": "object", "properties": {"a": {"$ref": "#"}}, "required": ["a"]}), "too complex"),
        (json!({"type": "string", "pattern": "^a{1000000}$"}), "forces a run of 1000000 bytes"),
        (json!({"type": "string", "pattern": "^(a{1000}){1000}$"}), "forces a run of 1000000 bytes"),
        (
            json!({"properties": {"p": {"type": "string", "pattern": "^(abcdefghij){2000}$"}}}),
            "/properties/p",
        ),
        (json!({"const": "a".repeat(500_000)}), "`const` value"),
        (json!({"type": "array", "minItems": 100000, "items": {"const": "x"}}), "too complex"),
    ];
    for (schema, needle) in cases {
        let t0 = std::time::Instant::now();
        let err = c.compile(&Constraint::JsonSchema(schema.clone())).expect_err(needle);
        let took = t0.elapsed();
        let shown: String = schema.to_string().chars().take(80).collect();
        assert!(err.is_client_error(), "{shown}: {err:?}");
        assert!(
            matches!(err, GrammarError::TooComplex(_) | GrammarError::Unsatisfiable(_)),
            "{shown}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(needle) && !msg.contains("non-verbose"), "{shown}: {msg}");
        assert!(took < std::time::Duration::from_millis(500), "{shown}: took {took:?}");
    }
    for rx in ["a{1000000}", "(a{1000}){1000}"] {
        let err = c.compile(&Constraint::Regex(rx.into())).unwrap_err();
        assert!(matches!(err, GrammarError::TooComplex(_)), "{rx}: {err:?}");
    }
    // Just under the limits: compiles, and the first step is cheap.
    let ok = json!({"type": "string", "pattern": "^(a{100}){40}$"});
    let mut m = c.compile(&Constraint::JsonSchema(ok)).unwrap();
    assert!(m.consume_forced().unwrap().len() > 100);
}
