//! Scorers: whether an answer matches its gold ([`crate::suite::Score`]). Pure, except
//! `python_tests`, which runs code in a subprocess ([`crate::python`]).

use std::collections::BTreeMap;

use serde_json::Value;

/// The answer with surrounding whitespace, quotes, backticks and punctuation removed,
/// lowercased, inner whitespace collapsed.
pub fn normalize(s: &str) -> String {
    let trimmed = s.trim_matches(|c: char| !c.is_alphanumeric());
    trimmed.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Whether `answer` is the label `gold`: the whole answer, its first line, or (a JSON
/// answer) its `label` field or its only string value, normalized.
pub fn label(answer: &str, gold: &str) -> bool {
    let gold = normalize(gold);
    if normalize(answer) == gold {
        return true;
    }
    if answer.lines().find(|l| !l.trim().is_empty()).is_some_and(|l| normalize(l) == gold) {
        return true;
    }
    if let Some(Value::Object(map)) = json_of(answer) {
        let pick = map.get("label").or_else(|| {
            let strings: Vec<&Value> = map.values().filter(|v| v.is_string()).collect();
            (strings.len() == 1).then(|| strings[0])
        });
        return pick.and_then(Value::as_str).is_some_and(|s| normalize(s) == gold);
    }
    false
}

/// The JSON value in `answer`: the whole answer, else its first fenced block.
pub fn json_of(answer: &str) -> Option<Value> {
    serde_json::from_str(answer.trim()).ok().or_else(|| {
        let block = fenced_blocks(answer).into_iter().next()?;
        serde_json::from_str(block.trim()).ok()
    })
}

/// Whether two JSON values agree as field values: strings trimmed, whitespace-collapsed and
/// case-insensitive; a number and a numeric string by value; `null` gold matches `null`, a
/// missing field or an empty string; arrays element by element; objects field by field.
pub fn value_matches(answer: Option<&Value>, gold: &Value) -> bool {
    match (answer, gold) {
        (None | Some(Value::Null), Value::Null) => true,
        (Some(Value::String(s)), Value::Null) => s.trim().is_empty(),
        // An empty gold string: the field is absent from the text; `null` or no field agrees.
        (None | Some(Value::Null), Value::String(g)) => g.trim().is_empty(),
        (None, _) => false,
        (Some(a), Value::String(g)) => match a {
            Value::String(s) => squash(s) == squash(g),
            Value::Number(n) => g.trim().parse::<f64>().ok() == n.as_f64(),
            Value::Bool(b) => squash(g) == b.to_string(),
            _ => false,
        },
        (Some(a), Value::Number(g)) => match a {
            Value::Number(n) => n.as_f64() == g.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok() == g.as_f64(),
            _ => false,
        },
        (Some(Value::Array(a)), Value::Array(g)) => {
            a.len() == g.len() && a.iter().zip(g).all(|(x, y)| value_matches(Some(x), y))
        }
        (Some(Value::Object(a)), Value::Object(g)) => g.iter().all(|(k, v)| value_matches(a.get(k), v)),
        (Some(a), g) => a == g,
    }
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Whether `answer` is a JSON object whose fields match `gold` (see [`value_matches`]).
pub fn fields(answer: &str, gold: &BTreeMap<String, Value>) -> bool {
    match json_of(answer) {
        Some(Value::Object(map)) => gold.iter().all(|(k, v)| value_matches(map.get(k), v)),
        _ => false,
    }
}

/// Which of `gold`'s fields the answer gets right (for the report's detail).
pub fn fields_right(answer: &str, gold: &BTreeMap<String, Value>) -> usize {
    match json_of(answer) {
        Some(Value::Object(map)) => gold.iter().filter(|(k, v)| value_matches(map.get(*k), v)).count(),
        _ => 0,
    }
}

/// Whether every needle occurs in `answer`, case-insensitively.
pub fn contains(answer: &str, needles: &[String]) -> bool {
    let hay = answer.to_lowercase();
    needles.iter().all(|n| hay.contains(&n.to_lowercase()))
}

/// The bodies of the answer's fenced blocks (```lang … ```), in order.
pub fn fenced_blocks(answer: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in answer.lines() {
        let fence = line.trim_start().starts_with("```");
        match (&mut current, fence) {
            (None, true) => current = Some(Vec::new()),
            (Some(lines), true) => {
                blocks.push(lines.join("\n"));
                current = None;
            }
            (Some(lines), false) => lines.push(line),
            (None, false) => {}
        }
    }
    // An answer cut at the token limit inside its block still has its code.
    if let Some(lines) = current
        && !lines.is_empty()
    {
        blocks.push(lines.join("\n"));
    }
    blocks
}

/// The program to test: the answer's code (the fenced block that defines `entry_point`, else
/// its first block, else the whole answer); when it does not define `entry_point` and a
/// `prompt` is given, the prompt followed by the answer (a completed body); the prompt's
/// import lines always come first.
pub fn program(answer: &str, entry_point: Option<&str>, prompt: Option<&str>) -> String {
    let defines = |code: &str| entry_point.is_some_and(|e| code.contains(&format!("def {e}(")));
    let blocks = fenced_blocks(answer);
    let code =
        blocks.iter().find(|b| defines(b)).or(blocks.first()).cloned().unwrap_or_else(|| answer.to_owned());
    match prompt {
        Some(prompt) if !defines(&code) && entry_point.is_some() => format!("{prompt}{code}\n"),
        Some(prompt) => {
            let imports: Vec<&str> =
                prompt.lines().filter(|l| l.starts_with("import ") || l.starts_with("from ")).collect();
            format!("{}\n{code}\n", imports.join("\n"))
        }
        None => format!("{code}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_forgive_case_quotes_and_a_full_stop_but_not_other_words() {
        assert!(label("Negative.", "negative"));
        assert!(label("  \"negative\"\n", "negative"));
        assert!(label("negative\nBecause it arrived broken.", "negative"));
        assert!(label(r#"{"label": "Negative"}"#, "negative"));
        assert!(label(r#"{"sentiment": "negative", "score": 3}"#, "negative"));
        assert!(!label("positive", "negative"));
        assert!(!label("The sentiment is negative", "negative"));
        assert!(!label("not negative", "negative"));
        assert!(!label("", "negative"));
    }

    #[test]
    fn fields_compare_values_not_formatting() {
        let gold: BTreeMap<String, Value> = [
            ("company".into(), json!("Lumen Labs")),
            ("year".into(), json!(2024)),
            ("city".into(), json!(null)),
        ]
        .into();
        assert!(fields(r#"{"company": " lumen  labs", "year": "2024", "extra": 1}"#, &gold));
        assert!(fields("```json\n{\"company\": \"Lumen Labs\", \"year\": 2024, \"city\": \"\"}\n```", &gold));
        assert!(!fields(r#"{"company": "Lumen", "year": 2024}"#, &gold));
        assert!(!fields(r#"{"company": "Lumen Labs"}"#, &gold), "a missing year is wrong");
        assert!(!fields("Lumen Labs, 2024", &gold));
        assert_eq!(fields_right(r#"{"company": "Lumen", "year": 2024}"#, &gold), 2);
    }

    #[test]
    fn contains_needs_every_needle() {
        assert!(contains("The capital is PARIS, France", &["paris".into(), "france".into()]));
        assert!(!contains("The capital is Paris", &["paris".into(), "france".into()]));
    }

    #[test]
    fn the_program_is_the_defining_block_or_the_prompt_completed() {
        let prompt = "from typing import List\n\ndef add(a: int, b: int) -> int:\n    \"\"\"Sum.\"\"\"\n";
        let whole =
            "Here:\n```python\nimport math\n```\n```python\ndef add(a, b):\n    return a + b\n```\nDone.";
        let p = program(whole, Some("add"), Some(prompt));
        assert!(p.starts_with("from typing import List\n"), "{p}");
        assert!(p.contains("def add(a, b):\n    return a + b") && !p.contains("\"\"\"Sum"), "{p}");
        let body = "```python\n    return a + b\n```";
        let p = program(body, Some("add"), Some(prompt));
        assert!(p.starts_with(prompt) && p.ends_with("    return a + b\n"), "{p}");
        assert_eq!(program("def f():\n    pass", None, None), "def f():\n    pass\n");
        let cut = "```python\ndef add(a, b):\n    return a + b";
        assert!(program(cut, Some("add"), None).contains("return a + b"));
    }
}
