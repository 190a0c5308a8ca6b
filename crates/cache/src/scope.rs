//! `Scope`: everything besides the prompt that changes the answer. A hit, exact or semantic,
//! needs the same scope; its hash is the [`ScopeKey`] every entry is filed under.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::text::normalize;

/// What must be equal, besides a close enough prompt, for a cached answer to be served.
/// Strings are compared exactly (a system prompt that differs by a space is another scope);
/// JSON values by content (key order does not matter).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    /// The task type the router guessed or was told (`classify`, `extract`, …).
    pub task: Option<String>,
    /// The route target that answers: a local model's name or a remote's name.
    pub target: String,
    /// The system prompt (all system messages, joined as the caller renders them).
    pub system: Option<String>,
    /// `response_format` as sent (JSON mode, or a JSON Schema with its name and `strict`).
    pub response_format: Option<Value>,
    /// The tools offered and `tool_choice`, as sent.
    pub tools: Option<Value>,
    /// The sampling settings.
    pub sampling: Sampling,
    /// Who asks: the API key's id, else the request's `user`. Answers are never shared
    /// across tenants.
    pub tenant: Option<String>,
    /// Anything else the caller knows changes the answer (`reasoning_effort`, a grammar, the
    /// model's revision, …), by name.
    pub extra: BTreeMap<String, Value>,
}

/// The sampling settings that change what is generated. `temperature` is the one the request
/// runs with: the caller fills in its default when the request has none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// The effective temperature; above 0 the answer is a sample, and such requests are
    /// served from the cache only when `[cache] serve_sampled = true`.
    pub temperature: f32,
    /// `top_p`.
    pub top_p: Option<f32>,
    /// `top_k`.
    pub top_k: Option<u32>,
    /// `min_p`.
    pub min_p: Option<f32>,
    /// `seed`.
    pub seed: Option<u64>,
    /// `max_tokens` / `max_completion_tokens`.
    pub max_tokens: Option<u32>,
    /// Stop sequences, in request order.
    pub stop: Vec<String>,
    /// `presence_penalty`.
    pub presence_penalty: Option<f32>,
    /// `frequency_penalty`.
    pub frequency_penalty: Option<f32>,
    /// `repeat_penalty` / `repetition_penalty`.
    pub repetition_penalty: Option<f32>,
    /// `logit_bias` as sent.
    pub logit_bias: Option<Value>,
    /// `n`: how many choices.
    pub n: Option<u32>,
    /// `logprobs` / `top_logprobs`: the answer carries them.
    pub logprobs: Option<u32>,
}

impl Sampling {
    /// Whether the answer is a random sample (`temperature > 0`).
    pub fn is_sampled(&self) -> bool {
        self.temperature > 0.0
    }
}

/// A scope's hash (32 hex digits of SHA-256 over its canonical JSON and the embedder's id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ScopeKey(pub String);

impl std::fmt::Display for ScopeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Bumped when what goes into a key changes, so old entries are never matched by new keys.
const KEY_VERSION: &str = "hearth-cache-scope-v1";

impl Scope {
    /// The key entries of this scope are filed under. `embedder` is the embedder's id
    /// ([`crate::Embed::model_id`]): vectors of different embedders are never compared, so
    /// changing the embedder starts a fresh cache.
    pub fn key(&self, embedder: &str) -> ScopeKey {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        let mut text = String::new();
        canonical_json(&value, &mut text);
        let mut h = Sha256::new();
        for part in [KEY_VERSION, embedder, &text] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        ScopeKey(hex(&h.finalize()[..16]))
    }
}

/// The exact cache's key: the scope and the prompt as [`normalize`] leaves it.
pub fn exact_key(scope: &ScopeKey, prompt: &str) -> String {
    let mut h = Sha256::new();
    h.update(scope.0.as_bytes());
    h.update([0]);
    h.update(normalize(prompt).as_bytes());
    hex(&h.finalize()[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON with object keys sorted at every level (serde_json may keep insertion order when
/// another crate turns on its `preserve_order`), so equal values hash equally.
fn canonical_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn base() -> Scope {
        Scope {
            task: Some("classify".into()),
            target: "qwen2.5:0.5b".into(),
            system: Some("You are terse.".into()),
            response_format: Some(
                json!({"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}}),
            ),
            tools: None,
            sampling: Sampling { temperature: 0.0, max_tokens: Some(64), ..Sampling::default() },
            tenant: Some("key-1".into()),
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn every_field_changes_the_key() {
        let k = base().key("all-minilm");
        assert_eq!(k, base().key("all-minilm"), "stable");
        assert_eq!(k.0.len(), 32);
        let variants: Vec<Scope> = vec![
            Scope { task: Some("extract".into()), ..base() },
            Scope { target: "claude-haiku".into(), ..base() },
            Scope { system: Some("You are terse. ".into()), ..base() },
            Scope { response_format: None, ..base() },
            Scope { tools: Some(json!([{"type": "function", "function": {"name": "f"}}])), ..base() },
            Scope { tenant: Some("key-2".into()), ..base() },
            Scope { tenant: None, ..base() },
            Scope { extra: BTreeMap::from([("reasoning_effort".into(), json!("high"))]), ..base() },
            Scope { sampling: Sampling { temperature: 0.7, ..base().sampling }, ..base() },
            Scope { sampling: Sampling { top_p: Some(0.9), ..base().sampling }, ..base() },
            Scope { sampling: Sampling { top_k: Some(40), ..base().sampling }, ..base() },
            Scope { sampling: Sampling { seed: Some(7), ..base().sampling }, ..base() },
            Scope { sampling: Sampling { max_tokens: Some(65), ..base().sampling }, ..base() },
            Scope { sampling: Sampling { stop: vec!["\n".into()], ..base().sampling }, ..base() },
            Scope { sampling: Sampling { logprobs: Some(1), ..base().sampling }, ..base() },
        ];
        for v in &variants {
            assert_ne!(v.key("all-minilm"), k, "{v:?}");
        }
        assert_ne!(base().key("bge-small"), k, "the embedder is part of the scope");
    }

    #[test]
    fn json_key_order_does_not_matter() {
        let a = Scope { tools: Some(json!({"a": 1, "b": {"c": 2, "d": 3}})), ..base() };
        let b = Scope { tools: serde_json::from_str(r#"{"b": {"d": 3, "c": 2}, "a": 1}"#).ok(), ..base() };
        assert_eq!(a.key("e"), b.key("e"));
    }

    #[test]
    fn exact_key_folds_case_and_whitespace_only() {
        let s = base().key("e");
        assert_eq!(exact_key(&s, "Is this SPAM?"), exact_key(&s, "  is this\n spam?"));
        assert_ne!(exact_key(&s, "Is this spam?"), exact_key(&s, "Is this spam"));
        assert_ne!(exact_key(&s, "x"), exact_key(&base().key("other"), "x"));
    }
}
