//! `--write-thresholds`: the chosen thresholds into the config file, its comments and layout
//! kept (toml_edit). Per route, each key takes the strictest (highest) value any of its task
//! types chose, so every task type keeps its target; the route's other threshold keys are
//! removed (the sweep measured each task type with one signal). A route without
//! `escalate_to` is left alone and named (a threshold there would be a config error).

use std::collections::BTreeMap;

use toml_edit::{DocumentMut, Item, value};

/// A task type's choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Its task type.
    pub task: String,
    /// The route key (`min_mean_logprob`, …).
    pub key: String,
    /// The threshold (`None`: none needed).
    pub threshold: Option<f64>,
}

/// What was changed, for the user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Written {
    /// `routes[i].key = value` lines set.
    pub set: Vec<String>,
    /// `routes[i].key` lines removed.
    pub removed: Vec<String>,
    /// Task types whose route has no `escalate_to` (nothing written for them).
    pub skipped: Vec<String>,
}

/// The config text can't be edited.
#[derive(Debug, thiserror::Error)]
pub enum ThresholdsError {
    /// Not TOML.
    #[error("the config is not TOML: {0}")]
    Parse(String),
}

const KEYS: [&str; 3] = ["min_mean_logprob", "min_token_logprob", "min_label_margin"];

/// `toml_text` with the choices written; `route_of` maps a task type to its route's index.
pub fn write(
    toml_text: &str,
    choices: &[Choice],
    route_of: impl Fn(&str) -> Option<usize>,
) -> Result<(String, Written), ThresholdsError> {
    let mut doc: DocumentMut =
        toml_text.parse().map_err(|e: toml_edit::TomlError| ThresholdsError::Parse(e.to_string()))?;
    let mut written = Written::default();
    let mut per_route: BTreeMap<usize, BTreeMap<String, Option<f64>>> = BTreeMap::new();
    for c in choices {
        let Some(i) = route_of(&c.task) else {
            written.skipped.push(c.task.clone());
            continue;
        };
        let slot = per_route.entry(i).or_default().entry(c.key.clone()).or_insert(c.threshold);
        *slot = match (*slot, c.threshold) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    let Some(routes) = doc.get_mut("routes").and_then(Item::as_array_of_tables_mut) else {
        written.skipped.extend(choices.iter().map(|c| c.task.clone()));
        return Ok((doc.to_string(), written));
    };
    for (i, keys) in per_route {
        let Some(table) = routes.get_mut(i) else { continue };
        if table.get("escalate_to").is_none() {
            written
                .skipped
                .extend(choices.iter().filter(|c| route_of(&c.task) == Some(i)).map(|c| c.task.clone()));
            continue;
        }
        for key in KEYS {
            match keys.get(key) {
                Some(Some(v)) => {
                    table.insert(key, value(round_down(*v)));
                    written.set.push(format!("routes[{i}].{key} = {}", round_down(*v)));
                }
                _ => {
                    if table.remove(key).is_some() {
                        written.removed.push(format!("routes[{i}].{key}"));
                    }
                }
            }
        }
    }
    Ok((doc.to_string(), written))
}

/// `v` to 6 decimals, never above `v` (an answer exactly at the measured threshold still
/// stays local).
fn round_down(v: f64) -> f64 {
    (v * 1e6).floor() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"# my router
[[models]]
name = "small"

[[routes]]
tasks = ["classify", "tag"]   # labels
target = "small"
escalate_to = "claude"
min_token_logprob = -3.0

[[routes]]
tasks = ["extract"]
target = "small"
"#;

    #[test]
    fn thresholds_are_written_strictest_per_route_and_comments_stay() {
        let choices = [
            Choice { task: "classify".into(), key: "min_label_margin".into(), threshold: Some(0.25) },
            Choice { task: "tag".into(), key: "min_label_margin".into(), threshold: Some(0.4000004) },
            Choice { task: "extract".into(), key: "min_mean_logprob".into(), threshold: Some(-0.3) },
        ];
        let route_of = |t: &str| match t {
            "classify" | "tag" => Some(0),
            "extract" => Some(1),
            _ => None,
        };
        let (text, w) = write(CONFIG, &choices, route_of).unwrap();
        assert!(text.starts_with("# my router\n"), "{text}");
        assert!(text.contains("tasks = [\"classify\", \"tag\"]   # labels"), "{text}");
        assert!(text.contains("min_label_margin = 0.4\n"), "{text}");
        assert!(!text.contains("min_token_logprob"), "{text}");
        assert_eq!(w.set, ["routes[0].min_label_margin = 0.4"]);
        assert_eq!(w.removed, ["routes[0].min_token_logprob"]);
        assert_eq!(w.skipped, ["extract"]);
        let parsed: toml_edit::DocumentMut = text.parse().unwrap();
        assert_eq!(parsed["routes"][0]["min_label_margin"].as_float(), Some(0.4));
    }
}
