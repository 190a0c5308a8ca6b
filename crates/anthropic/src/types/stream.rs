//! Streaming events, the `data:` of each server-sent event when `stream: true` (SDK
//! `types/raw_message_stream_event.py` and the `raw_*_event.py` files it unites).
//!
//! The order the API sends: `message_start`; per block `content_block_start`,
//! `content_block_delta`*, `content_block_stop`; `message_delta` (stop reason, cumulative
//! usage); `message_stop`. `ping` may come anywhere; an `error` event may come after the
//! `200`, ending the stream.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::content::ContentBlock;
use super::error_body::ErrorObject;
use super::response::{Message, MessageDeltaUsage, StopReason};

/// One streaming event, tagged by `type`; unknown event types are kept in
/// [`StreamEvent::Other`] (the API documents that new ones may appear).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// The message shell: id, model, input usage; empty content.
    MessageStart {
        /// The message so far.
        message: Message,
    },
    /// A content block begins (text empty, tool_use input `{}`).
    ContentBlockStart {
        /// The block's position in `content`.
        index: usize,
        /// The block's start.
        content_block: ContentBlock,
    },
    /// More of a content block.
    ContentBlockDelta {
        /// The block's position.
        index: usize,
        /// The increment.
        delta: ContentDelta,
    },
    /// A content block is complete.
    ContentBlockStop {
        /// The block's position.
        index: usize,
    },
    /// Top-level changes: stop reason, and usage so far (cumulative).
    MessageDelta {
        /// Stop reason and sequence.
        delta: MessageDelta,
        /// Cumulative usage.
        usage: MessageDeltaUsage,
    },
    /// The message is complete.
    MessageStop,
    /// Keep-alive.
    Ping,
    /// The stream failed after the `200` (e.g. `overloaded_error`); nothing follows.
    Error {
        /// What went wrong.
        error: ErrorObject,
    },
    /// Any other event type, kept as received.
    #[serde(skip)]
    Other(Value),
}

super::open_enum_serde!(
    StreamEvent,
    [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
        "error",
    ]
);

impl StreamEvent {
    /// The SSE `event:` name of this event (its `type`).
    pub fn event_name(&self) -> &str {
        match self {
            StreamEvent::MessageStart { .. } => "message_start",
            StreamEvent::ContentBlockStart { .. } => "content_block_start",
            StreamEvent::ContentBlockDelta { .. } => "content_block_delta",
            StreamEvent::ContentBlockStop { .. } => "content_block_stop",
            StreamEvent::MessageDelta { .. } => "message_delta",
            StreamEvent::MessageStop => "message_stop",
            StreamEvent::Ping => "ping",
            StreamEvent::Error { .. } => "error",
            StreamEvent::Other(value) => value.get("type").and_then(Value::as_str).unwrap_or("unknown"),
        }
    }
}

/// The top-level part of a `message_delta` event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDelta {
    /// Why generation stopped.
    #[serde(default)]
    pub stop_reason: Option<StopReason>,
    /// The stop sequence that matched.
    #[serde(default)]
    pub stop_sequence: Option<String>,
}

/// The increment of a `content_block_delta` event, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentDelta {
    /// More text of a text block.
    TextDelta {
        /// The text.
        text: String,
    },
    /// More of a tool_use block's `input`, as a fragment of JSON text.
    InputJsonDelta {
        /// The fragment; the fragments of a block concatenate to its input.
        partial_json: String,
    },
    /// More thinking text.
    ThinkingDelta {
        /// The text.
        thinking: String,
    },
    /// The thinking block's signature.
    SignatureDelta {
        /// The signature.
        signature: String,
    },
    /// A citation for a text block.
    CitationsDelta {
        /// The citation, as JSON.
        citation: Value,
    },
    /// Any other delta type, kept as received.
    #[serde(skip)]
    Other(Value),
}

super::open_enum_serde!(
    ContentDelta,
    ["text_delta", "input_json_delta", "thinking_delta", "signature_delta", "citations_delta"]
);
