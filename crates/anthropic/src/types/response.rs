//! The response of `POST /v1/messages` (SDK `types/message.py`, `types/usage.py`,
//! `types/message_delta_usage.py`, `types/stop_reason.py`).

use serde::{Deserialize, Serialize};

use super::content::ContentBlock;
use super::request::Role;

/// A generated message (SDK `Message`); also the `message` of a `message_start` event, where
/// `content` is empty and `stop_reason` null.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "message")]
pub struct Message {
    /// `msg_...`.
    pub id: String,
    /// Always `assistant`.
    pub role: Role,
    /// What the model produced.
    pub content: Vec<ContentBlock>,
    /// The model that answered.
    pub model: String,
    /// Why generation stopped; null only in `message_start`.
    #[serde(default)]
    pub stop_reason: Option<StopReason>,
    /// The stop sequence that matched, if any.
    #[serde(default)]
    pub stop_sequence: Option<String>,
    /// Billed tokens.
    pub usage: Usage,
}

impl Message {
    /// The text of all text blocks, joined with nothing between.
    pub fn text(&self) -> String {
        self.content.iter().filter_map(ContentBlock::as_text).collect()
    }
}

/// Why generation stopped (SDK `StopReason`); a value this crate does not know is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A natural end.
    EndTurn,
    /// `max_tokens` (or the model's limit) reached.
    MaxTokens,
    /// One of `stop_sequences` was generated.
    StopSequence,
    /// The model called tools.
    ToolUse,
    /// A long turn paused; send the response back to continue.
    PauseTurn,
    /// Classifiers stopped the output.
    Refusal,
    /// The context window is full.
    ModelContextWindowExceeded,
    /// Any other reason, kept as sent.
    #[serde(untagged)]
    Other(String),
}

/// Billed tokens of a message (SDK `Usage`). Total input is `input_tokens +
/// cache_creation_input_tokens + cache_read_input_tokens`; the three are priced apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens after the last cache breakpoint (full price).
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens written to the prompt cache (cache-write price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// Input tokens read from the prompt cache (cache-read price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// `standard`, `priority` or `batch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
}

/// The usage of a `message_delta` event (SDK `MessageDeltaUsage`): **cumulative** counts for
/// the whole message so far, not increments. Input counts may be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeltaUsage {
    /// Output tokens so far.
    pub output_tokens: u64,
    /// Input tokens (cumulative), when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Cache-write tokens (cumulative), when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// Cache-read tokens (cumulative), when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
}

impl Usage {
    /// The usage after a `message_delta`: its cumulative counts replace the ones it carries.
    pub fn apply_delta(&mut self, delta: &MessageDeltaUsage) {
        self.output_tokens = delta.output_tokens;
        if let Some(n) = delta.input_tokens {
            self.input_tokens = n;
        }
        if let Some(n) = delta.cache_creation_input_tokens {
            self.cache_creation_input_tokens = Some(n);
        }
        if let Some(n) = delta.cache_read_input_tokens {
            self.cache_read_input_tokens = Some(n);
        }
    }
}
