//! The JSON Schema corpus (crates/grammar/tests/schemas/corpus.json): every schema with its
//! prompt, generated greedily under the schema; 100% of the outputs must complete, parse and
//! validate (checked with the `jsonschema` crate, formats included).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use hearth_engine::{Constraint, StopReason};
use serde_json::Value;

use crate::{chat, engine};

/// Tokens allowed per answer unless a case says otherwise; every answer must finish within.
const MAX_TOKENS: usize = 160;

/// One corpus entry.
struct Case {
    name: String,
    prompt: String,
    schema: Value,
    max_tokens: usize,
}

fn corpus_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../grammar/tests/schemas/corpus.json")
}

fn load() -> Vec<Case> {
    let path = corpus_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let items: Vec<Value> = serde_json::from_str(&text).expect("corpus.json parses");
    items
        .into_iter()
        .map(|v| Case {
            name: v["name"].as_str().expect("name").to_owned(),
            prompt: v["prompt"].as_str().expect("prompt").to_owned(),
            schema: v["schema"].clone(),
            max_tokens: v.get("max_tokens").and_then(Value::as_u64).map_or(MAX_TOKENS, |n| n as usize),
        })
        .collect()
}

/// The features a schema exercises, found by walking it (not declared by hand).
fn features(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(schema, 0, &mut out);
    out.sort();
    out.dedup();
    out
}

fn walk(v: &Value, depth: usize, out: &mut Vec<String>) {
    let Value::Object(o) = v else { return };
    let mut add = |f: &str| out.push(f.to_owned());
    let ty = o.get("type").and_then(Value::as_str);
    if o.contains_key("properties") && depth > 0 {
        add("nested object");
    }
    if o.contains_key("minItems") || o.contains_key("maxItems") {
        add("array min/maxItems");
    }
    if o.contains_key("prefixItems") {
        add("tuple (prefixItems)");
    }
    for kw in ["enum", "const", "anyOf", "oneOf", "allOf", "pattern", "patternProperties"] {
        if o.contains_key(kw) {
            add(kw);
        }
    }
    if o.contains_key("$ref") || o.contains_key("$defs") || o.contains_key("definitions") {
        add("$ref/$defs");
    }
    if let Some(f) = o.get("format").and_then(Value::as_str) {
        add(&format!("format: {f}"));
    }
    if o.contains_key("minLength") || o.contains_key("maxLength") {
        add("string min/maxLength");
    }
    let bounded = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"]
        .iter()
        .any(|k| o.contains_key(*k));
    match (ty, bounded) {
        (Some("integer"), true) => add("bounded integer"),
        (Some("number"), true) => add("bounded number"),
        _ => {}
    }
    if o.get("additionalProperties") == Some(&Value::Bool(false)) {
        add("additionalProperties: false");
    }
    if let Some(Value::Object(props)) = o.get("properties") {
        let required: Vec<&str> = o
            .get("required")
            .and_then(Value::as_array)
            .map_or(Vec::new(), |r| r.iter().filter_map(Value::as_str).collect());
        if props.keys().any(|k| required.contains(&k.as_str())) {
            add("required properties");
        }
        if props.keys().any(|k| !required.contains(&k.as_str())) {
            add("optional properties");
        }
    }
    for (k, sub) in o {
        match (k.as_str(), sub) {
            ("properties" | "$defs" | "definitions" | "patternProperties", Value::Object(m)) => {
                m.values().for_each(|s| walk(s, depth + 1, out));
            }
            ("items" | "additionalProperties", s) => walk(s, depth + 1, out),
            ("anyOf" | "oneOf" | "allOf" | "prefixItems", Value::Array(a)) => {
                a.iter().for_each(|s| walk(s, depth + 1, out))
            }
            _ => {}
        }
    }
}

#[test]
fn every_corpus_output_parses_and_validates() {
    let Some(engine) = engine() else { return };
    let cases = load();
    assert!(cases.len() >= 100, "the corpus has {} schemas; at least 100 are required", cases.len());

    let mut table: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let (mut tokens, mut forced, mut masks, mut checks) = (0usize, 0u64, 0u64, 0u64);
    let (mut decode_ms, mut grammar_ms) = (0.0f64, 0.0f64);
    let t0 = Instant::now();
    let mut session = engine.session();
    let mut stderr = std::io::stderr();
    // Every output, as it comes: HEARTH_GRAMMAR_VERBOSE=1.
    let verbose = std::env::var_os("HEARTH_GRAMMAR_VERBOSE").is_some_and(|v| v != "0");
    for case in &cases {
        for f in features(&case.schema) {
            *table.entry(f).or_default() += 1;
        }
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&case.schema)
            .unwrap_or_else(|e| panic!("{}: the corpus schema itself is invalid: {e}", case.name));
        let mut req = chat(&case.prompt, case.max_tokens);
        req.constraint = Some(Constraint::JsonSchema(case.schema.clone()));
        let mut generation = match session.stream(&req) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{}: cannot start: {e}", case.name));
                continue;
            }
        };
        let mut error = None;
        for ev in generation.by_ref() {
            if let Err(e) = ev {
                error = Some(e);
            }
        }
        let stats = generation.grammar_stats().expect("a constrained generation has stats");
        let done = match (error, generation.completion()) {
            (Some(e), _) | (None, Err(e)) => {
                failures.push(format!("{}: generation failed: {e}", case.name));
                continue;
            }
            (None, Ok(done)) => done,
        };
        tokens += done.completion_tokens;
        decode_ms += done.decode_ms;
        grammar_ms += stats.total_time().as_secs_f64() * 1e3;
        (forced, masks, checks) = (forced + stats.forced, masks + stats.masks, checks + stats.checks);
        if verbose {
            let _ = writeln!(
                stderr,
                "[{}] {:?} {} tokens: {}",
                case.name, done.stop_reason, done.completion_tokens, done.text
            );
        }
        if done.stop_reason == StopReason::Length {
            failures.push(format!(
                "{}: hit max_tokens={} before the JSON was complete: {}",
                case.name, case.max_tokens, done.text
            ));
            continue;
        }
        assert_eq!(done.stop_reason, StopReason::Eos, "{}", case.name);
        let value: Value = match serde_json::from_str(&done.text) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{}: output does not parse ({e}): {}", case.name, done.text));
                continue;
            }
        };
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        if !errors.is_empty() {
            failures.push(format!(
                "{}: output does not validate: {}: {}",
                case.name,
                errors.join("; "),
                done.text
            ));
        }
    }

    let _ = writeln!(stderr, "\nJSON Schema corpus: {} schemas, by feature:", cases.len());
    for (feature, n) in &table {
        let _ = writeln!(stderr, "  {feature:<30} {n:>4}");
    }
    let _ = writeln!(
        stderr,
        "{tokens} tokens ({forced} forced, {checks} checked, {masks} full masks) in {:.1} s; decode {:.0} ms, of which in the matcher {:.0} ms ({:.2}%)",
        t0.elapsed().as_secs_f64(),
        decode_ms,
        grammar_ms,
        100.0 * grammar_ms / decode_ms.max(1e-9),
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus outputs failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_features_are_covered() {
    // Runs without the model: the corpus itself must cover every feature the issue lists.
    let cases = load();
    let mut table: BTreeMap<String, usize> = BTreeMap::new();
    for case in &cases {
        jsonschema::options()
            .should_validate_formats(true)
            .build(&case.schema)
            .unwrap_or_else(|e| panic!("{}: invalid schema: {e}", case.name));
        assert!(!case.prompt.is_empty(), "{}", case.name);
        for f in features(&case.schema) {
            *table.entry(f).or_default() += 1;
        }
    }
    let names: std::collections::HashSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), cases.len(), "corpus names must be unique");
    for feature in [
        "nested object",
        "array min/maxItems",
        "enum",
        "const",
        "anyOf",
        "oneOf",
        "$ref/$defs",
        "pattern",
        "format: date",
        "format: email",
        "format: uuid",
        "bounded number",
        "bounded integer",
        "additionalProperties: false",
        "required properties",
        "optional properties",
    ] {
        let n = table.get(feature).copied().unwrap_or(0);
        assert!(n >= 5, "only {n} corpus schemas exercise {feature:?}");
    }
}
