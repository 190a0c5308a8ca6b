//! Exact comparison of a local answer with the judge's own answer to the same request, for
//! task types with one right answer (`classify`, `tag`, `extract`): no judge prompt, no
//! judge's taste, just "did they give the same labels / fields?".
//!
//! What counts as the same is written out here, so a report's "disagree" means a real
//! difference: case, surrounding whitespace, quotes, a trailing full stop, Markdown emphasis
//! and code fences do not count; a different label, a missing or different field do.

use serde_json::Value;

/// How two answers compared.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    /// They agree.
    Agree,
    /// They differ (what differs, in words).
    Disagree(String),
    /// The judge's answer cannot be compared (not JSON where JSON was expected): no verdict.
    Unusable(String),
}

/// Compares answers of `task` (`extract` compares JSON fields, `tag` sets of tags, anything
/// else labels). A JSON answer is compared as JSON whatever the task.
pub fn compare(task: &str, local: &str, judge: &str) -> Comparison {
    let (l, j) = (json_of(local), json_of(judge));
    if task.eq_ignore_ascii_case("extract") || (l.is_some() && j.is_some()) {
        let Some(j) = j else {
            return Comparison::Unusable(format!("the judge's answer is not JSON: {}", clip(judge)));
        };
        let Some(l) = l else {
            return Comparison::Disagree(format!("the local answer is not JSON: {}", clip(local)));
        };
        return match value_diff("", &l, &j) {
            None => Comparison::Agree,
            Some(d) => Comparison::Disagree(d),
        };
    }
    if task.eq_ignore_ascii_case("tag") {
        let (l, j) = (tags(local), tags(judge));
        return if l == j {
            Comparison::Agree
        } else {
            Comparison::Disagree(format!("tags {l:?} vs the judge's {j:?}"))
        };
    }
    let (l, j) = (label(local), label(judge));
    if l == j { Comparison::Agree } else { Comparison::Disagree(format!("label {l:?} vs the judge's {j:?}")) }
}

/// A label as compared: lowercase, without quotes, emphasis, fences and trailing punctuation;
/// `Label: x` and `The answer is x` keep only `x`'s line's last words after a colon.
pub fn label(text: &str) -> String {
    let text = strip_fences(text);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let line = line.rsplit_once(':').map_or(line, |(_, after)| after);
    line.trim_matches(|c: char| c.is_whitespace() || "\"'`*_.!,;".contains(c)).to_lowercase()
}

/// Tags as compared: a sorted set of labels, split on commas, semicolons and new lines (a
/// JSON array of strings too).
pub fn tags(text: &str) -> Vec<String> {
    let mut out: Vec<String> = match json_of(text) {
        Some(Value::Array(items)) => items.iter().map(|v| label(&scalar_text(v))).collect(),
        _ => strip_fences(text)
            .split([',', ';', '\n'])
            .map(|t| label(t.trim_start_matches(['-', '*', '•', ' '])))
            .collect(),
    };
    out.retain(|t| !t.is_empty());
    out.sort();
    out.dedup();
    out
}

/// The JSON value an answer holds (inside a code fence or not).
fn json_of(text: &str) -> Option<Value> {
    let t = strip_fences(text).trim();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    serde_json::from_str(t).ok()
}

fn strip_fences(text: &str) -> &str {
    let t = text.trim();
    let Some(rest) = t.strip_prefix("```") else { return t };
    let rest = rest.split_once('\n').map_or("", |(_, body)| body);
    rest.trim_end().strip_suffix("```").unwrap_or(rest).trim()
}

/// The first difference between two JSON values, `None` when they agree. Strings compare as
/// labels (case and surrounding punctuation aside), numbers by value, objects by every key
/// of either (a key missing on one side is a difference unless the other's value is null or
/// empty).
fn value_diff(path: &str, local: &Value, judge: &Value) -> Option<String> {
    match (local, judge) {
        (Value::Object(l), Value::Object(j)) => {
            let mut keys: Vec<&String> = l.keys().chain(j.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let at = format!("{path}.{k}");
                match (l.get(k), j.get(k)) {
                    (Some(a), Some(b)) => value_diff(&at, a, b),
                    (Some(v), None) | (None, Some(v)) if is_empty(v) => None,
                    (Some(_), None) => Some(format!("{at}: only in the local answer")),
                    (None, Some(_)) => Some(format!("{at}: missing from the local answer")),
                    (None, None) => None,
                }
            })
        }
        (Value::Array(l), Value::Array(j)) => {
            if l.len() != j.len() {
                return Some(format!("{path}: {} items vs the judge's {}", l.len(), j.len()));
            }
            l.iter().zip(j).enumerate().find_map(|(i, (a, b))| value_diff(&format!("{path}[{i}]"), a, b))
        }
        (Value::Number(a), Value::Number(b)) => {
            let same =
                a.as_f64().zip(b.as_f64()).is_some_and(|(x, y)| (x - y).abs() <= 1e-9 * x.abs().max(1.0));
            (!same).then(|| format!("{path}: {a} vs the judge's {b}"))
        }
        (a, b) if a.is_string() || b.is_string() => {
            let (x, y) = (label(&scalar_text(a)), label(&scalar_text(b)));
            (x != y).then(|| format!("{path}: {x:?} vs the judge's {y:?}"))
        }
        (a, b) => (a != b).then(|| format!("{path}: {a} vs the judge's {b}")),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn clip(text: &str) -> String {
    let t: String = text.chars().take(80).collect();
    if t.len() < text.len() { format!("{t}…") } else { t }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_ignore_case_quotes_emphasis_and_prefixes() {
        for (a, b) in [
            ("Negative", "negative"),
            ("**negative**.", "negative"),
            ("\"positive\"", "Positive"),
            ("Sentiment: negative", "negative"),
            ("```\nspam\n```", "spam"),
        ] {
            assert_eq!(compare("classify", a, b), Comparison::Agree, "{a} vs {b}");
        }
        assert!(matches!(compare("classify", "positive", "negative"), Comparison::Disagree(_)));
        assert!(matches!(compare("classify", "", "negative"), Comparison::Disagree(_)));
    }

    #[test]
    fn tags_compare_as_sets() {
        assert_eq!(compare("tag", "billing, Refund", "refund,billing"), Comparison::Agree);
        assert_eq!(compare("tag", "[\"a\", \"b\"]", "b, a"), Comparison::Agree);
        assert!(matches!(compare("tag", "billing", "billing, refund"), Comparison::Disagree(_)));
    }

    #[test]
    fn fields_compare_by_value_and_name_the_difference() {
        let judge = r#"{"company": "Lumen Labs", "amount": 12.5, "tags": ["a"], "note": null}"#;
        let same = "```json\n{\"amount\": 12.50, \"company\": \"lumen labs\", \"tags\": [\"A\"]}\n```";
        assert_eq!(compare("extract", same, judge), Comparison::Agree);
        let other = r#"{"company": "Lumen", "amount": 12.5, "tags": ["a"]}"#;
        assert_eq!(
            compare("extract", other, judge),
            Comparison::Disagree(".company: \"lumen\" vs the judge's \"lumen labs\"".into())
        );
        let missing = r#"{"company": "Lumen Labs", "tags": ["a"]}"#;
        assert!(
            matches!(compare("extract", missing, judge), Comparison::Disagree(d) if d.contains(".amount"))
        );
        assert!(matches!(compare("extract", "not json", judge), Comparison::Disagree(_)));
        assert!(matches!(compare("extract", same, "sorry"), Comparison::Unusable(_)));
    }
}
