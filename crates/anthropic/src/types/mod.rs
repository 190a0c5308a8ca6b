//! Wire types of the Claude Messages API, shared by the client (requests out, responses in)
//! and by hearth's server (requests in, responses out): every type is `Serialize` and
//! `Deserialize`, and a value survives a round trip through JSON.
//!
//! Names follow the official Python SDK (`anthropic` 2.16, `anthropic/types/`):
//! [`MessagesRequest`] is `MessageCreateParams`, [`MessageParam`] an input turn, [`Message`]
//! the response, [`StreamEvent`] `RawMessageStreamEvent`, [`ErrorBody`] `ErrorResponse`.
//!
//! Tolerance, because the API grows: unknown fields in any object are ignored when read;
//! unknown content-block, delta, image-source and stream-event types are kept whole as
//! `Other(serde_json::Value)` and written back unchanged; unknown stop reasons are kept as
//! [`StopReason::Other`]. Request fields this crate does not model (`thinking`, `service_tier`,
//! `container`, ...) ride in [`MessagesRequest::extra`], so a request passed through hearth
//! keeps them. A *known* type with malformed fields is an error, never silently `Other`.

mod batch;
mod content;
mod error_body;
mod request;
mod response;
mod stream;

pub use batch::{BatchCreate, BatchOutcome, BatchRequest, BatchResult, MessageBatch, RequestCounts};
pub use content::{
    ContentBlock, ImageBlock, ImageSource, MessageContent, RedactedThinkingBlock, TextBlock, ThinkingBlock,
    ToolResultBlock, ToolResultContent, ToolUseBlock,
};
pub use error_body::{ErrorBody, ErrorObject};
pub use request::{
    CacheControl, CountTokensRequest, MessageParam, MessagesRequest, Metadata, OutputConfig, OutputFormat,
    Role, SystemBlock, SystemPrompt, TokenCount, Tool, ToolChoice,
};
pub use response::{Message, MessageDeltaUsage, StopReason, Usage};
pub use stream::{ContentDelta, MessageDelta, StreamEvent};

/// Serde for an internally tagged enum (`"type"`) with a catch-all `Other(Value)` variant.
///
/// The enum derives `Serialize`/`Deserialize` with `#[serde(remote = "Self")]` (so the derived
/// code becomes inherent functions) and marks `Other` `#[serde(skip)]`. The impls here read
/// the value once, hand objects whose `type` is one of `$known` to the derived code (so a
/// malformed known block is an error naming the field) and keep anything else as `Other`.
macro_rules! open_enum_serde {
    ($ty:ident, [$($known:literal),+ $(,)?]) => {
        impl $ty {
            /// The `type` tags this crate models; any other is kept as `Other`.
            pub const KNOWN_TYPES: &'static [&'static str] = &[$($known),+];
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = ::serde_json::Value::deserialize(d)?;
                let tag = value.get("type").and_then(::serde_json::Value::as_str);
                match tag {
                    Some(t) if Self::KNOWN_TYPES.contains(&t) => {
                        $ty::deserialize(value).map_err(::serde::de::Error::custom)
                    }
                    Some(_) => Ok($ty::Other(value)),
                    None => Err(::serde::de::Error::custom(concat!(
                        stringify!($ty),
                        ": expected an object with a string `type`"
                    ))),
                }
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $ty::Other(value) => value.serialize(s),
                    known => $ty::serialize(known, s),
                }
            }
        }
    };
}
pub(crate) use open_enum_serde;

#[cfg(test)]
mod tests;
