//! Suite files: one task per line (JSONL).
//!
//! ```json
//! {"task": "classify", "messages": [{"role": "user", "content": "Sentiment of: 'arrived broken'"}], "score": {"label": "negative"}}
//! {"task": "extract", "messages": [...], "response_format": {...}, "score": {"fields": {"company": "Lumen Labs"}}}
//! {"task": "generate", "messages": [...], "score": {"python_tests": "assert add(2, 3) == 5"}}
//! ```
//!
//! Keys: `task` (the router's task type; required), `messages` (OpenAI chat messages;
//! required), `score` (required, see [`Score`]), and optionally `id` (default
//! `line-N`), `category`, `response_format`, `max_tokens`, `temperature`, `top_p`, `seed`,
//! `source`. Without sampling keys a task runs greedy, so a run is reproducible. Blank lines
//! and lines starting with `//` are skipped. Unknown keys are kept out of the request (a
//! suite may carry notes).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a task's answer is scored against its gold: an object with exactly one of the keys
/// `label`, `fields`, `python_tests`, `contains`, `reference` (plus that scorer's options).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, try_from = "serde_json::Map<String, Value>")]
pub enum Score {
    /// `{"label": "negative"}`: the answer is this label (case, surrounding whitespace,
    /// quotes and a final full stop ignored; a JSON answer's `label` field or only string
    /// counts too).
    Label {
        /// The gold label.
        label: String,
    },
    /// `{"fields": {"company": "Lumen Labs"}}`: the answer is a JSON object whose fields have
    /// these values (strings compared trimmed and case-insensitively, numbers by value,
    /// anything else exactly); other fields are ignored.
    Fields {
        /// Field name → gold value.
        fields: BTreeMap<String, Value>,
    },
    /// `{"python_tests": "assert add(2, 3) == 5"}`: the answer's Python code (its first
    /// fenced block, else the whole answer) passes these tests in a sandboxed subprocess.
    PythonTests {
        /// Test code run after the answer's code.
        python_tests: String,
        /// The function the tests call; when the answer does not define it, `prompt` is
        /// prepended (the answer then completes the prompt's function body).
        #[serde(default)]
        entry_point: Option<String>,
        /// The code the answer completes (HumanEval's prompt); its imports are always kept.
        #[serde(default)]
        prompt: Option<String>,
        /// Seconds the tests may run (default 10).
        #[serde(default)]
        timeout_secs: Option<f64>,
    },
    /// `{"contains": "Paris"}` or `{"contains": ["Paris", "France"]}`: every string occurs in
    /// the answer (case-insensitive).
    Contains {
        /// The strings.
        contains: Needles,
    },
    /// `{"reference": "..."}`: a judge (the configured remote) decides whether the answer is
    /// correct given this reference answer; `{"reference": null}`: given the remote's own
    /// answer. Unscored without a remote.
    Reference {
        /// The reference answer, or `null`.
        reference: Option<String>,
    },
}

/// The keys that name a scorer.
pub const SCORERS: [&str; 5] = ["label", "fields", "python_tests", "contains", "reference"];

/// [`Score`] as its derive reads it, once [`Score`]'s `try_from` has checked the keys.
#[derive(Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum RawScore {
    Label {
        label: String,
    },
    Fields {
        fields: BTreeMap<String, Value>,
    },
    PythonTests {
        python_tests: String,
        #[serde(default)]
        entry_point: Option<String>,
        #[serde(default)]
        prompt: Option<String>,
        #[serde(default)]
        timeout_secs: Option<f64>,
    },
    Contains {
        contains: Needles,
    },
    Reference {
        reference: Option<String>,
    },
}

impl TryFrom<serde_json::Map<String, Value>> for Score {
    type Error = String;

    fn try_from(map: serde_json::Map<String, Value>) -> Result<Score, String> {
        let named: Vec<&str> = SCORERS.into_iter().filter(|k| map.contains_key(*k)).collect();
        if named.len() != 1 {
            return Err(format!(
                "score must have exactly one of {} (it has {})",
                SCORERS.join(", "),
                if named.is_empty() { "none".to_owned() } else { named.join(", ") }
            ));
        }
        let raw: RawScore = serde_json::from_value(Value::Object(map))
            .map_err(|e| format!("score.{}: {e} (wrong type, or an option it does not take)", named[0]))?;
        Ok(match raw {
            RawScore::Label { label } => Score::Label { label },
            RawScore::Fields { fields } => Score::Fields { fields },
            RawScore::PythonTests { python_tests, entry_point, prompt, timeout_secs } => {
                Score::PythonTests { python_tests, entry_point, prompt, timeout_secs }
            }
            RawScore::Contains { contains } => Score::Contains { contains },
            RawScore::Reference { reference } => Score::Reference { reference },
        })
    }
}

/// One string or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Needles {
    /// One.
    One(String),
    /// Several, all required.
    All(Vec<String>),
}

impl Needles {
    /// The strings.
    pub fn as_slice(&self) -> &[String] {
        match self {
            Needles::One(s) => std::slice::from_ref(s),
            Needles::All(v) => v,
        }
    }
}

impl Score {
    /// The scorer's name, as reports show it.
    pub fn kind(&self) -> &'static str {
        match self {
            Score::Label { .. } => "label",
            Score::Fields { .. } => "fields",
            Score::PythonTests { .. } => "python_tests",
            Score::Contains { .. } => "contains",
            Score::Reference { .. } => "reference",
        }
    }
}

/// One task of a suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Unique within the suite (`line-N` when the line gives none).
    #[serde(default)]
    pub id: String,
    /// The router's task type (`classify`, `extract`, `code`, …).
    pub task: String,
    /// Where it came from (a dataset's category), for the report.
    #[serde(default)]
    pub category: Option<String>,
    /// OpenAI chat messages.
    pub messages: Vec<Value>,
    /// OpenAI `response_format` (`json_object`, `json_schema`).
    #[serde(default)]
    pub response_format: Option<Value>,
    /// How the answer is scored.
    pub score: Score,
    /// Token limit of the answer (default 512).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Sampling temperature (default 0: greedy).
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default)]
    pub top_p: Option<f64>,
    /// Sampling seed.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Provenance (`package==version`).
    #[serde(default)]
    pub source: Option<String>,
}

/// The default answer length limit.
pub const DEFAULT_MAX_TOKENS: u32 = 512;

impl Case {
    /// The chat-completions body for `model`: greedy unless the case sets sampling keys,
    /// with log-probabilities and two alternatives per token (the router's confidence
    /// signals).
    pub fn body(&self, model: &str) -> Value {
        let mut body = serde_json::json!({
            "model": model,
            "messages": self.messages,
            "max_tokens": self.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            "temperature": self.temperature.unwrap_or(0.0),
            "logprobs": true,
            "top_logprobs": 2,
        });
        if let Some(rf) = &self.response_format {
            body["response_format"] = rf.clone();
        }
        if let Some(p) = self.top_p {
            body["top_p"] = p.into();
        }
        if let Some(s) = self.seed {
            body["seed"] = s.into();
        }
        body
    }

    /// Whether the answer is meant to be JSON.
    pub fn json_expected(&self) -> bool {
        self.response_format
            .as_ref()
            .and_then(|rf| rf.get("type"))
            .and_then(Value::as_str)
            .is_some_and(|t| t == "json_object" || t == "json_schema")
    }
}

/// A suite that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not a task.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong, and what a line must hold.
        message: String,
    },
    /// No task at all.
    #[error("{0}: no tasks (each line is a JSON object with task, messages and score)")]
    Empty(String),
}

/// Reads a suite file.
pub fn load(path: &Path) -> Result<Vec<Case>, SuiteError> {
    let name = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|source| SuiteError::Io { path: name.clone(), source })?;
    parse(&text, &name)
}

/// Parses a suite's text (`name` for errors).
pub fn parse(text: &str, name: &str) -> Result<Vec<Case>, SuiteError> {
    let mut cases = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("//") {
            continue;
        }
        let err = |message: String| SuiteError::Line { path: name.to_owned(), line: i + 1, message };
        let value: Value = serde_json::from_str(trimmed).map_err(|e| err(format!("not JSON: {e}")))?;
        let mut case: Case = serde_json::from_value(value).map_err(|e| err(e.to_string()))?;
        if case.task.trim().is_empty() {
            return Err(err("task is empty".into()));
        }
        if case.messages.is_empty() {
            return Err(err("messages is empty".into()));
        }
        if case.id.is_empty() {
            case.id = format!("line-{}", i + 1);
        }
        if !ids.insert(case.id.clone()) {
            return Err(err(format!("id {:?} appears twice", case.id)));
        }
        case.task = case.task.trim().to_ascii_lowercase();
        cases.push(case);
    }
    if cases.is_empty() {
        return Err(SuiteError::Empty(name.to_owned()));
    }
    Ok(cases)
}

/// At most `limit` cases per task type, spread evenly over each type's cases in file order
/// (the same ones every run); `0` keeps all.
pub fn limit_per_task(cases: Vec<Case>, limit: usize) -> Vec<Case> {
    if limit == 0 {
        return cases;
    }
    let mut by_task: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, c) in cases.iter().enumerate() {
        by_task.entry(c.task.clone()).or_default().push(i);
    }
    let mut keep = vec![false; cases.len()];
    for idx in by_task.values() {
        let n = idx.len();
        let k = limit.min(n);
        for j in 0..k {
            keep[idx[j * n / k]] = true;
        }
    }
    cases.into_iter().zip(keep).filter_map(|(c, k)| k.then_some(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUE_LINES: &str = r#"{"task": "classify", "messages": [{"role": "user", "content": "Sentiment of: 'arrived broken'"}], "score": {"label": "negative"}}
{"task": "extract", "messages": [{"role": "user", "content": "Lumen Labs hired me"}], "response_format": {"type": "json_object"}, "score": {"fields": {"company": "Lumen Labs"}}}
{"task": "generate", "messages": [{"role": "user", "content": "Write add"}], "score": {"python_tests": "assert add(2, 3) == 5"}}
"#;

    #[test]
    fn the_issue_lines_parse_as_written() {
        let cases = parse(ISSUE_LINES, "s.jsonl").unwrap();
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[0].score, Score::Label { label: "negative".into() });
        assert!(matches!(&cases[1].score, Score::Fields { fields } if fields["company"] == "Lumen Labs"));
        assert!(cases[1].json_expected());
        assert!(
            matches!(&cases[2].score, Score::PythonTests { python_tests, .. } if python_tests.contains("add(2, 3)"))
        );
        assert_eq!(cases[2].id, "line-3");
        let body = cases[0].body("small");
        assert_eq!(body["temperature"], 0.0);
        assert_eq!(body["logprobs"], true);
        assert_eq!(body["top_logprobs"], 2);
        assert_eq!(body["max_tokens"], 512);
    }

    #[test]
    fn bad_lines_name_their_line_and_what_is_wrong() {
        let e = parse("{\"task\": \"x\"}\n", "s.jsonl").unwrap_err().to_string();
        assert!(e.starts_with("s.jsonl:1: "), "{e}");
        assert!(e.contains("messages"), "{e}");
        let e = parse("\n\n{\"task\": \"x\", \"messages\": [1], \"score\": {\"nope\": 1}}", "s")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s:3: ") && e.contains("score must have exactly one of"), "{e}");
        let e =
            parse(r#"{"task": "x", "messages": [1], "score": {"label": 3}}"#, "s").unwrap_err().to_string();
        assert!(e.contains("score.label"), "{e}");
        assert!(matches!(parse("\n// only a note\n", "s"), Err(SuiteError::Empty(_))));
        let dup = "{\"id\":\"a\",\"task\":\"x\",\"messages\":[1],\"score\":{\"label\":\"y\"}}\n";
        assert!(parse(&dup.repeat(2), "s").unwrap_err().to_string().contains("twice"));
    }

    #[test]
    fn sampling_keys_and_reference_null_are_kept() {
        let line = r#"{"task": "chat", "messages": [1], "temperature": 0.7, "seed": 3, "score": {"reference": null}}"#;
        let c = &parse(line, "s").unwrap()[0];
        assert_eq!(c.score, Score::Reference { reference: None });
        let b = c.body("m");
        assert_eq!((b["temperature"].as_f64(), b["seed"].as_u64()), (Some(0.7), Some(3)));
    }

    #[test]
    fn the_limit_spreads_evenly_per_task() {
        let mut text = String::new();
        for i in 0..10 {
            text.push_str(&format!("{{\"task\":\"a\",\"messages\":[{i}],\"score\":{{\"label\":\"x\"}}}}\n"));
        }
        text.push_str("{\"task\":\"b\",\"messages\":[1],\"score\":{\"label\":\"x\"}}\n");
        let cases = limit_per_task(parse(&text, "s").unwrap(), 3);
        let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["line-1", "line-4", "line-7", "line-11"]);
    }
}
