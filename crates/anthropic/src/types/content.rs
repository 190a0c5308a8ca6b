//! Content blocks: what a turn is made of, in requests and responses (SDK `ContentBlockParam`
//! and `ContentBlock`, one type here since their shapes agree on the blocks hearth uses).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::request::CacheControl;

/// A turn's content: a plain string (shorthand for one text block) or a list of blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// `"content": "Hello"`.
    Text(String),
    /// `"content": [{"type": "text", "text": "Hello"}, ...]`.
    Blocks(Vec<ContentBlock>),
}

impl MessageContent {
    /// The text of the content: the string, or the text blocks joined with nothing between.
    pub fn text(&self) -> String {
        match self {
            MessageContent::Text(text) => text.clone(),
            MessageContent::Blocks(blocks) => blocks.iter().filter_map(ContentBlock::as_text).collect(),
        }
    }
}

impl From<&str> for MessageContent {
    fn from(text: &str) -> Self {
        MessageContent::Text(text.to_owned())
    }
}

impl From<String> for MessageContent {
    fn from(text: String) -> Self {
        MessageContent::Text(text)
    }
}

/// One content block, tagged by `type`. Block types this crate does not model (documents,
/// server tool results, ...) are kept whole in [`ContentBlock::Other`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// `{"type": "text", "text": ...}`.
    Text(TextBlock),
    /// `{"type": "image", "source": ...}` (requests only).
    Image(ImageBlock),
    /// `{"type": "tool_use", "id", "name", "input"}`: the model calls a tool.
    ToolUse(ToolUseBlock),
    /// `{"type": "tool_result", "tool_use_id", "content"}`: the caller answers a tool call.
    ToolResult(ToolResultBlock),
    /// `{"type": "thinking", "thinking", "signature"}`: extended thinking output.
    Thinking(ThinkingBlock),
    /// `{"type": "redacted_thinking", "data"}`.
    RedactedThinking(RedactedThinkingBlock),
    /// Any other block type, kept as received.
    #[serde(skip)]
    Other(Value),
}

super::open_enum_serde!(
    ContentBlock,
    ["text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking"]
);

impl ContentBlock {
    /// A text block without cache control.
    pub fn text(text: impl Into<String>) -> Self {
        ContentBlock::Text(TextBlock::new(text))
    }

    /// The text of a text block; `None` for any other block.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            ContentBlock::Text(block) => Some(&block.text),
            _ => None,
        }
    }

    /// The block's cache mark, for the block types that have one.
    pub fn cache_control(&self) -> Option<&CacheControl> {
        match self {
            ContentBlock::Text(b) => b.cache_control.as_ref(),
            ContentBlock::Image(b) => b.cache_control.as_ref(),
            ContentBlock::ToolUse(b) => b.cache_control.as_ref(),
            ContentBlock::ToolResult(b) => b.cache_control.as_ref(),
            _ => None,
        }
    }

    /// The block's `cache_control` slot, for the block types that have one.
    pub fn cache_control_mut(&mut self) -> Option<&mut Option<CacheControl>> {
        match self {
            ContentBlock::Text(b) => Some(&mut b.cache_control),
            ContentBlock::Image(b) => Some(&mut b.cache_control),
            ContentBlock::ToolUse(b) => Some(&mut b.cache_control),
            ContentBlock::ToolResult(b) => Some(&mut b.cache_control),
            _ => None,
        }
    }
}

/// A text block (SDK `TextBlockParam` / `TextBlock`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextBlock {
    /// The text.
    pub text: String,
    /// A prompt-cache breakpoint at this block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl>,
    /// Citations (responses) or citation locations (requests), kept as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citations: Option<Value>,
}

impl TextBlock {
    /// A text block without cache control or citations.
    pub fn new(text: impl Into<String>) -> Self {
        TextBlock { text: text.into(), cache_control: None, citations: None }
    }
}

/// An image block (SDK `ImageBlockParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBlock {
    /// Where the image comes from.
    pub source: ImageSource,
    /// A prompt-cache breakpoint at this block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl>,
}

/// An image's source, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    /// Inline bytes: `{"type": "base64", "media_type": "image/png", "data": ...}`.
    Base64 {
        /// `image/jpeg`, `image/png`, `image/gif` or `image/webp`.
        media_type: String,
        /// The image, base64-encoded.
        data: String,
    },
    /// `{"type": "url", "url": ...}`.
    Url {
        /// Where the API fetches the image.
        url: String,
    },
    /// Any other source type (e.g. `file`), kept as received.
    #[serde(skip)]
    Other(Value),
}

super::open_enum_serde!(ImageSource, ["base64", "url"]);

/// The model calls a tool (SDK `ToolUseBlock` / `ToolUseBlockParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUseBlock {
    /// The call's id, echoed by the matching `tool_result`.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments, a JSON object.
    pub input: Value,
    /// A prompt-cache breakpoint at this block (requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl>,
    /// Any other field (`caller`, when code execution made the call: it must go back
    /// unchanged with the block in the next turn), kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ToolUseBlock {
    /// A call of tool `name` with `input`, without cache control or other fields.
    pub fn new(id: impl Into<String>, name: impl Into<String>, input: Value) -> Self {
        ToolUseBlock { id: id.into(), name: name.into(), input, cache_control: None, extra: Map::new() }
    }
}

/// The caller's answer to a tool call (SDK `ToolResultBlockParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResultBlock {
    /// The `id` of the `tool_use` block answered.
    pub tool_use_id: String,
    /// The result: a string or blocks; absent for an empty result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ToolResultContent>,
    /// Whether the tool failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    /// A prompt-cache breakpoint at this block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl>,
}

/// A tool result's content: a string or a list of blocks (text, image, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolResultContent {
    /// `"content": "259.75 USD"`.
    Text(String),
    /// `"content": [{"type": "text", ...}]`.
    Blocks(Vec<ContentBlock>),
}

/// Extended thinking output (SDK `ThinkingBlock`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinkingBlock {
    /// The model's reasoning text.
    pub thinking: String,
    /// The signature to send back with the block in a later turn.
    pub signature: String,
}

/// Thinking the API returns encrypted (SDK `RedactedThinkingBlock`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedactedThinkingBlock {
    /// Opaque data to send back unchanged.
    pub data: String,
}
