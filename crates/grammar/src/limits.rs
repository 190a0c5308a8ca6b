//! Compile-time limits that make hostile constraints fail fast, before llguidance spends
//! seconds on them.
//!
//! llguidance's cost per lexeme grows with the square of the text it must force: a 500 kB
//! `const` takes ~4 s for its first token mask, `^a{1000000}$` runs its lexer out of fuel after
//! ~1 s (and `^(a{1000}){1000}$` after ~3 s), all inside one generation step. Its work limits
//! stop them eventually; these checks refuse them up front, in microseconds: no literal the
//! output would be forced through (a `const` or `enum` value, a property name, a choice) and no
//! run of characters a regex forces may be longer than [`MAX_FORCED_RUN`] bytes (~10 ms of
//! lexer work at most).

use regex_syntax::hir::{Class, Hir, HirKind};
use serde_json::{Map, Value};

use crate::GrammarError;

/// Longest literal (JSON text of a `const` / `enum` value, a property name, a choice) or
/// run of characters forced by a regex, in bytes.
pub const MAX_FORCED_RUN: usize = 4096;

/// Checks the literals and patterns of one schema object (its subschemas are visited by the
/// caller); `path` is its JSON pointer.
pub(crate) fn check_schema_object(obj: &Map<String, Value>, path: &str) -> Result<(), GrammarError> {
    let too_long = |what: String, len: usize| {
        GrammarError::TooComplex(format!(
            "{what} at `{path}` is {len} bytes long; at most {MAX_FORCED_RUN} are accepted"
        ))
    };
    if let Some(c) = obj.get("const") {
        let len = json_len(c);
        if len > MAX_FORCED_RUN {
            return Err(too_long("the `const` value".into(), len));
        }
    }
    if let Some(Value::Array(values)) = obj.get("enum") {
        for (i, v) in values.iter().enumerate() {
            let len = json_len(v);
            if len > MAX_FORCED_RUN {
                return Err(too_long(format!("`enum` value {i}"), len));
            }
        }
    }
    if let Some(Value::Object(props)) = obj.get("properties") {
        for name in props.keys() {
            if name.len() > MAX_FORCED_RUN {
                return Err(too_long("a property name".into(), name.len()));
            }
        }
    }
    if let Some(Value::Array(names)) = obj.get("required") {
        for name in names.iter().filter_map(Value::as_str) {
            if name.len() > MAX_FORCED_RUN {
                return Err(too_long("a `required` name".into(), name.len()));
            }
        }
    }
    if let Some(Value::String(rx)) = obj.get("pattern") {
        check_regex(rx).map_err(|run| forced(&format!("`pattern` at `{path}`"), run))?;
    }
    if let Some(Value::Object(pp)) = obj.get("patternProperties") {
        for rx in pp.keys() {
            check_regex(rx)
                .map_err(|run| forced(&format!("a `patternProperties` pattern at `{path}`"), run))?;
        }
    }
    Ok(())
}

/// Checks a regex constraint.
pub(crate) fn check_regex_constraint(rx: &str) -> Result<(), GrammarError> {
    check_regex(rx).map_err(|run| forced("the regex", run))
}

/// Checks the choices of a `Choices` constraint.
pub(crate) fn check_choices(choices: &[String]) -> Result<(), GrammarError> {
    match choices.iter().position(|c| c.len() > MAX_FORCED_RUN) {
        Some(i) => Err(GrammarError::TooComplex(format!(
            "choice {i} is {} bytes long; at most {MAX_FORCED_RUN} are accepted",
            choices[i].len()
        ))),
        None => Ok(()),
    }
}

fn forced(what: &str, run: usize) -> GrammarError {
    let run = if run == usize::MAX { "more than 2^64".to_owned() } else { run.to_string() };
    GrammarError::TooComplex(format!(
        "{what} forces a run of {run} bytes (a long literal or a large repetition count such as \
         `a{{1000000}}`); at most {MAX_FORCED_RUN} are accepted"
    ))
}

/// Bytes of `v`'s JSON text.
fn json_len(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len() + 2,
        other => serde_json::to_string(other).map_or(usize::MAX, |s| s.len()),
    }
}

/// `Err(run)` when `rx` forces a run of more than [`MAX_FORCED_RUN`] bytes. A regex that
/// does not parse here is left to the grammar engine to report.
fn check_regex(rx: &str) -> Result<(), usize> {
    let Ok(hir) = regex_syntax::ParserBuilder::new().build().parse(rx) else { return Ok(()) };
    let (_, run) = runs(&hir);
    if run > MAX_FORCED_RUN { Err(run) } else { Ok(()) }
}

/// For a regex: `(full, run)`, where `full` is the length of the one string it matches if it
/// matches exactly one, and `run` (an upper bound on) the longest run of bytes it forces in a
/// row. Saturating: repetition counts multiply.
fn runs(h: &Hir) -> (Option<usize>, usize) {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => (Some(0), 0),
        HirKind::Literal(lit) => (Some(lit.0.len()), lit.0.len()),
        HirKind::Class(class) => match single(class) {
            Some(len) => (Some(len), len),
            None => (None, 0),
        },
        HirKind::Capture(c) => runs(&c.sub),
        HirKind::Repetition(r) => {
            let (full, run) = runs(&r.sub);
            match full {
                Some(len) => {
                    let forced = len.saturating_mul(r.min as usize);
                    ((r.max == Some(r.min)).then_some(forced), run.max(forced))
                }
                None => (None, run),
            }
        }
        HirKind::Concat(parts) => {
            let (mut cur, mut best, mut all_full) = (0usize, 0usize, true);
            for p in parts {
                match runs(p) {
                    (Some(len), _) => cur = cur.saturating_add(len),
                    (None, run) => {
                        all_full = false;
                        best = best.max(cur.saturating_add(run));
                        cur = run;
                    }
                }
                best = best.max(cur);
            }
            (all_full.then_some(cur), best)
        }
        HirKind::Alternation(alts) => (None, alts.iter().map(|a| runs(a).1).max().unwrap_or(0)),
    }
}

/// The UTF-8 length of a class's only member, if it has exactly one.
fn single(class: &Class) -> Option<usize> {
    match class {
        Class::Unicode(u) => match u.ranges() {
            [r] if r.start() == r.end() => Some(r.start().len_utf8()),
            _ => None,
        },
        Class::Bytes(b) => match b.ranges() {
            [r] if r.start() == r.end() => Some(1),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rx: &str) -> usize {
        runs(&regex_syntax::parse(rx).unwrap()).1
    }

    #[test]
    fn forced_runs_of_regexes() {
        assert_eq!(run("^a{1000000}$"), 1_000_000);
        assert_eq!(run("^(a{1000}){1000}$"), 1_000_000);
        assert_eq!(run("^(abcdefghij){2000}$"), 20_000);
        assert_eq!(run("x(ab){3,5}y"), 7);
        assert_eq!(run("[a-z]{100000}"), 0);
        assert_eq!(run("a{0,1000000}"), 1);
        assert_eq!(run("(a|b{5000}){1000}"), 5000);
        assert_eq!(run("^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), 1);
        assert_eq!(run("((a{4294967295}){4294967295}){4294967295}"), usize::MAX);
        assert!(check_regex("^(a{100}){40}$").is_ok());
        assert_eq!(check_regex("^(a{100}){41}$"), Err(4100));
        assert!(check_regex("(unclosed").is_ok(), "left to llguidance");
    }

    #[test]
    fn long_literals_are_refused_with_their_path() {
        let obj = |v: Value| v.as_object().unwrap().clone();
        let long = "a".repeat(MAX_FORCED_RUN + 1);
        assert!(check_schema_object(&obj(serde_json::json!({"const": "a".repeat(4094)})), "/").is_ok());
        for s in [
            serde_json::json!({"const": long}),
            serde_json::json!({"enum": ["x", long]}),
            serde_json::json!({"properties": {long.clone(): {}}}),
            serde_json::json!({"required": [long]}),
            serde_json::json!({"pattern": "^a{5000}$"}),
            serde_json::json!({"patternProperties": {"^a{5000}$": {}}}),
        ] {
            let e = check_schema_object(&obj(s.clone()), "/properties/p").unwrap_err();
            assert!(matches!(&e, GrammarError::TooComplex(m) if m.contains("`/properties/p`")), "{s}: {e}");
        }
    }
}
