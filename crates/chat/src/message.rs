//! What a template is rendered from: the conversation and the render options.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// One chat message, as an OpenAI-style `{"role": .., "content": ..}` object.
///
/// Deserializing ignores fields it does not know (`name`, `tool_calls`, ...), so requests that
/// carry them parse today; templates see exactly `role` and `content`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user`, `assistant` (or `tool`, ...), passed to the template unchanged.
    pub role: String,
    /// The message text.
    pub content: String,
}

impl Message {
    /// A message with the given role and text.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Message {
        Message { role: role.into(), content: content.into() }
    }

    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Message {
        Message::new("system", content)
    }

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Message {
        Message::new("user", content)
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<String>) -> Message {
        Message::new("assistant", content)
    }
}

/// Everything a render takes besides the messages.
///
/// The template context is built as Hugging Face's `apply_chat_template` builds it:
/// `messages`, `add_generation_prompt`, `bos_token`, `eos_token`, `tools` (`none` when not
/// given), `documents` (`none`) and the function `strftime_now`, then every entry of [`RenderOptions::extra`] on top, so
/// `extra` can set template switches such as `enable_thinking` or `date_string`, or override
/// any of the above.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RenderOptions {
    /// Append the header of the assistant's next turn (what a completion continues from).
    pub add_generation_prompt: bool,
    /// Tool definitions (OpenAI `tools[]` objects), passed as the `tools` variable.
    pub tools: Option<Vec<serde_json::Value>>,
    /// Further template variables; these win over the built-in ones.
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// The clock `strftime_now(..)` reads (UTC); `None` is the system clock. Fixing it
    /// makes renders of date-printing templates (Llama 3.x, Granite, gpt-oss) reproducible.
    pub now: Option<SystemTime>,
}

impl RenderOptions {
    /// Options with only `add_generation_prompt` set.
    pub fn generation_prompt(add_generation_prompt: bool) -> RenderOptions {
        RenderOptions { add_generation_prompt, ..RenderOptions::default() }
    }
}
