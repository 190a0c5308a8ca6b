//! `POST /v1/messages` and `POST /v1/messages/count_tokens` request bodies (SDK
//! `types/message_create_params.py`, `types/message_count_tokens_params.py`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::content::{MessageContent, TextBlock};

/// The body of `POST /v1/messages`.
///
/// `model`, `max_tokens` and `messages` are required by the API and so are plain fields here.
/// `temperature`, `top_p` and `top_k` are not in SDK 2.16's `MessageCreateParams` (newer models
/// refuse them) but older SDKs and clients still send them, so hearth accepts and forwards them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    /// The model, e.g. `claude-haiku-4-5`.
    pub model: String,
    /// The most tokens to generate (0 only pre-warms the prompt cache).
    pub max_tokens: u32,
    /// The conversation: turns alternating `user` / `assistant`, starting with `user`.
    pub messages: Vec<MessageParam>,
    /// The system prompt, top-level (never a message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemPrompt>,
    /// Strings that end generation (`stop_reason: "stop_sequence"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    /// Sampling temperature, 0 to 1 (legacy models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling (legacy models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k sampling (legacy models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// `{"user_id": ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Answer as server-sent events. The client sets it; callers need not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// How the model must use the tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Output format (structured output: `{"format": {"type": "json_schema", "schema": ...}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig>,
    /// Top-level automatic caching: the API marks the last cacheable block itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl>,
    /// Any other top-level field (`thinking`, `service_tier`, `container`, ...), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl MessagesRequest {
    /// A request with the three required fields and nothing else.
    pub fn new(model: impl Into<String>, max_tokens: u32, messages: Vec<MessageParam>) -> Self {
        MessagesRequest {
            model: model.into(),
            max_tokens,
            messages,
            system: None,
            stop_sequences: None,
            temperature: None,
            top_p: None,
            top_k: None,
            metadata: None,
            stream: None,
            tools: None,
            tool_choice: None,
            output_config: None,
            cache_control: None,
            extra: Map::new(),
        }
    }
}

/// One input turn (SDK `MessageParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageParam {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: MessageContent,
}

impl MessageParam {
    /// A `user` turn.
    pub fn user(content: impl Into<MessageContent>) -> Self {
        MessageParam { role: Role::User, content: content.into() }
    }

    /// An `assistant` turn (a prefill when last).
    pub fn assistant(content: impl Into<MessageContent>) -> Self {
        MessageParam { role: Role::Assistant, content: content.into() }
    }
}

/// A turn's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The caller.
    User,
    /// The model.
    Assistant,
    /// SDK 2.16's `SystemMessageParam`; the API's documented form (and the fake's rule) is the
    /// top-level `system` field, so hearth never sends one.
    System,
}

/// The top-level system prompt: a string or text blocks (which may carry `cache_control`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SystemPrompt {
    /// `"system": "You are ..."`.
    Text(String),
    /// `"system": [{"type": "text", "text": ..., "cache_control": ...}]`.
    Blocks(Vec<SystemBlock>),
}

impl SystemPrompt {
    /// The prompt's text, blocks joined with nothing between.
    pub fn text(&self) -> String {
        match self {
            SystemPrompt::Text(text) => text.clone(),
            SystemPrompt::Blocks(blocks) => {
                blocks.iter().map(|SystemBlock::Text(b)| b.text.as_str()).collect()
            }
        }
    }
}

/// A system-prompt block: the API allows text blocks only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SystemBlock {
    /// `{"type": "text", "text": ...}`.
    Text(TextBlock),
}

/// A prompt-cache breakpoint: `{"type": "ephemeral"}`, optionally with `"ttl": "5m" | "1h"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CacheControl {
    /// The only kind the API has.
    Ephemeral {
        /// `5m` (the default) or `1h`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl: Option<String>,
    },
}

impl CacheControl {
    /// `{"type": "ephemeral"}` with the default 5-minute lifetime.
    pub fn ephemeral() -> Self {
        CacheControl::Ephemeral { ttl: None }
    }
}

/// Request metadata (SDK `MetadataParam`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// An opaque id of the end user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Any other key, kept as sent (the API itself accepts only `user_id`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool definition. Custom tools have `name`, `description` and `input_schema`; server tools
/// (`{"type": "web_search_20250305", ...}`) have a `type` and their own fields, kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// How the model calls it.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON schema of the `input` the model produces (custom tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    /// `custom`, or a server tool's versioned type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A prompt-cache breakpoint after this tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl>,
    /// Any other field (`strict`, `input_examples`, server-tool options), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Tool {
    /// A custom tool.
    pub fn custom(name: impl Into<String>, description: impl Into<String>, input_schema: Value) -> Self {
        Tool {
            name: name.into(),
            description: Some(description.into()),
            input_schema: Some(input_schema),
            kind: None,
            cache_control: None,
            extra: Map::new(),
        }
    }
}

/// How the model must use the tools (SDK `ToolChoiceParam`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    Auto {
        /// At most one tool call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// The model must call some tool.
    Any {
        /// Exactly one tool call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// The model must call the named tool.
    Tool {
        /// The tool.
        name: String,
        /// Exactly one tool call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// No tool calls.
    None,
}

/// Output configuration (SDK `OutputConfigParam`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputConfig {
    /// Structured output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<OutputFormat>,
    /// `low` ... `max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A structured-output format (SDK `JSONOutputFormatParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputFormat {
    /// `{"type": "json_schema", "schema": {...}}`: the answer is JSON valid against `schema`.
    JsonSchema {
        /// The JSON schema.
        schema: Value,
    },
}

/// The body of `POST /v1/messages/count_tokens`: a messages request without `max_tokens`,
/// sampling or streaming fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountTokensRequest {
    /// The model whose tokenizer counts.
    pub model: String,
    /// The conversation.
    pub messages: Vec<MessageParam>,
    /// The system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemPrompt>,
    /// Tool definitions (counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// Tool choice (changes the count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Output configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig>,
    /// Top-level cache control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl>,
    /// Any other field (`thinking`, `speed`, ...), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The count-tokens fields of a messages request; its other fields (`max_tokens`, sampling,
/// `stream`, `metadata`, `stop_sequences`) are not accepted by the endpoint and are dropped.
impl From<&MessagesRequest> for CountTokensRequest {
    fn from(req: &MessagesRequest) -> Self {
        let extra = req.extra.iter().filter(|(k, _)| k.as_str() == "thinking");
        CountTokensRequest {
            model: req.model.clone(),
            messages: req.messages.clone(),
            system: req.system.clone(),
            tools: req.tools.clone(),
            tool_choice: req.tool_choice.clone(),
            output_config: req.output_config.clone(),
            cache_control: req.cache_control.clone(),
            extra: extra.map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }
}

/// The answer of `count_tokens` (SDK `MessageTokensCount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCount {
    /// Tokens across messages, system prompt and tools.
    pub input_tokens: u64,
}
