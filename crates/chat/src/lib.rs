//! `hearth-chat`: a model's chat template, read from its GGUF and rendered with minijinja
//! byte for byte as Hugging Face's `apply_chat_template` (and llama.cpp) render it.
//!
//! - [`ChatTemplate::from_gguf`] takes `tokenizer.chat_template` (or a built-in
//!   [`Fallback`] when the GGUF has none) and the BOS/EOS token strings; it compiles once
//!   and is `Send + Sync`.
//! - [`ChatTemplate::render`] / [`ChatTemplate::render_with`] turn [`Message`]s (plus
//!   [`RenderOptions`]: tools, extra variables) into the prompt text the tokenizer encodes,
//!   special-token text included. [`ChatTemplate::render_literal`] also reports which bytes
//!   are message text, so a tokenizer can keep `<|im_start|>` written by a user as text.
//! - Tool conversations: [`Message`]s carry OpenAI's `tool_calls` / `tool_call_id` / `name`,
//!   [`RenderOptions::tools`] the tool definitions; both reach the template exactly as
//!   llama.cpp passes them (byte-exact renders). [`ChatTemplate::tool_caps`] says what the
//!   template renders natively (probed as llama.cpp probes it), and
//!   [`RenderOptions::tool_fallback`] writes what it cannot render into the conversation as
//!   text (minja's polyfill).
//! - Errors are [`ChatError`] values: a template that does not compile, one that calls
//!   `raise_exception(...)` (the message is kept), one that fails or runs too long.
//!
//! The environment matches HF's: `trim_blocks`, `lstrip_blocks`, loop controls, Jinja2's
//! lenient undefined values, Python string/dict methods (`.strip()`, `.get()`, `.items()`),
//! `raise_exception`, `strftime_now` and HF's `tojson` (`json.dumps` formatting, non-ASCII
//! kept).
//!
//! ```no_run
//! use hearth_chat::{ChatTemplate, Message};
//!
//! let file = hearth_gguf::GgufFile::open("model.gguf")?;
//! let template = ChatTemplate::from_gguf(file.metadata())?;
//! let mut history = vec![Message::system("Answer in one word.")];
//! loop {
//!     history.push(Message::user("What color is the sky?"));
//!     let prompt = template.render(&history, true)?;
//!     // tokenize `prompt` (special tokens parsed), generate until EOS, detokenize:
//!     let reply = String::from("Blue");
//!     history.push(Message::assistant(reply));
//! #   let _ = prompt;
//! #   break;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod caps;
mod environment;
mod error;
mod fallback;
mod hf_tags;
mod literal;
mod message;
mod strftime;
mod template;
mod tojson;
mod tool_fallback;
mod tools;

pub use caps::ToolCaps;
pub use error::ChatError;
pub use fallback::Fallback;
pub use literal::Rendered;
pub use message::{FunctionCall, Message, RenderOptions, ToolCall};
pub use template::{ChatTemplate, KEY_CHAT_TEMPLATE, KEY_CHAT_TEMPLATE_TOOL_USE};

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn chat_template_is_send_sync() {
        assert_send_sync::<super::ChatTemplate>();
    }
}
