//! What a caller asks for ([`Request`]) and what it gets back ([`TokenEvent`], [`Completion`]).

use hearth_chat::Message;
use hearth_grammar::Constraint;
use hearth_sampler::SamplingParams;
use serde::Serialize;

use crate::CancelToken;

/// The input of a generation.
#[derive(Clone, Debug)]
pub enum Prompt {
    /// Raw text: BOS only where the GGUF says `add_bos_token`; special-token text is
    /// literal text unless `parse_special`.
    Text {
        /// The prompt text.
        text: String,
        /// Parse special-token text (`<|im_start|>`) into special ids.
        parse_special: bool,
    },
    /// A conversation, rendered with the model's chat template and the generation prompt;
    /// special tokens are parsed.
    Messages(Vec<Message>),
    /// A conversation with tool definitions (OpenAI `tools[]` objects), rendered as
    /// [`Prompt::Messages`] with the template's `tools` variable set; a template that does not
    /// render tools, tool calls or tool results gets them written into the conversation as
    /// text (`hearth-chat`'s tool fallback).
    MessagesWithTools {
        /// The conversation.
        messages: Vec<Message>,
        /// The tool definitions.
        tools: Vec<serde_json::Value>,
    },
    /// Token ids, used as given.
    Tokens(Vec<u32>),
}

impl Prompt {
    /// A raw-text prompt (special-token text kept literal).
    pub fn text(text: impl Into<String>) -> Prompt {
        Prompt::Text { text: text.into(), parse_special: false }
    }
}

/// One generation request.
#[derive(Clone, Debug)]
pub struct Request {
    /// The input.
    pub prompt: Prompt,
    /// How to pick tokens.
    pub sampling: SamplingParams,
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Strings that end generation when produced (never emitted).
    pub stop: Vec<String>,
    /// Keep going past end-of-generation tokens (benchmarks).
    pub ignore_eos: bool,
    /// Cancels the generation from another thread.
    pub cancel: Option<CancelToken>,
    /// What the output must be (a JSON Schema, a regex, ...); `None` for free text. The
    /// output then always satisfies it: tokens the grammar rejects are never sampled, tokens
    /// it forces are taken without sampling, and an end-of-generation token ends the output
    /// only where the grammar is complete. A finished grammar ends the generation
    /// (`StopReason::Eos`, even with `ignore_eos`); `max_tokens` can still cut it short
    /// (`StopReason::Length`: the output is then incomplete).
    pub constraint: Option<Constraint>,
}

impl Request {
    /// A request with default sampling, 256 tokens and no stop strings.
    pub fn new(prompt: Prompt) -> Request {
        Request {
            prompt,
            sampling: SamplingParams::default(),
            max_tokens: 256,
            stop: Vec::new(),
            ignore_eos: false,
            cancel: None,
            constraint: None,
        }
    }
}

/// Why a generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model produced an end-of-generation token.
    Eos,
    /// `max_tokens` reached, or the context is full.
    Length,
    /// A stop string was produced.
    Stop,
    /// The caller cancelled.
    Cancelled,
}

impl StopReason {
    /// The `--json` / API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Eos => "eos",
            StopReason::Length => "length",
            StopReason::Stop => "stop",
            StopReason::Cancelled => "cancelled",
        }
    }
}

/// One generated token, as it streams.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenEvent {
    /// The token id.
    pub id: u32,
    /// Text that became safe to show with this token (complete UTF-8, never part of a stop
    /// string); may be empty.
    pub text: String,
    /// `ln p(id)` when logprobs were asked for, else NaN.
    pub logprob: f32,
    /// The most likely alternatives `(id, logprob)` when asked for.
    pub top: Vec<(u32, f32)>,
}

/// The result of a finished generation.
#[derive(Clone, Debug, Serialize)]
pub struct Completion {
    /// The prompt's token ids.
    pub prompt_ids: Vec<u32>,
    /// The generated ids (end-of-generation tokens excluded).
    pub ids: Vec<u32>,
    /// The generated text (stop string excluded).
    pub text: String,
    /// `prompt_ids.len()`.
    pub prompt_tokens: usize,
    /// `ids.len()`.
    pub completion_tokens: usize,
    /// Prompt tokens taken from the cache instead of recomputed.
    pub cached_tokens: usize,
    /// Time to process the prompt.
    pub prefill_ms: f64,
    /// Time to generate.
    pub decode_ms: f64,
    /// Why it ended.
    pub stop_reason: StopReason,
}
