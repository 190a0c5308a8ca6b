//! OpenAI's response shapes: completions, streamed chunks, usage and logprobs.

use hearth_engine::{StopReason, TokenEvent};
use hearth_tokenizer::Tokenizer;
use serde::Serialize;
use serde::ser::SerializeMap;

/// `usage`.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub total_tokens: usize,
    pub prompt_tokens_details: PromptDetails,
}

/// `usage.prompt_tokens_details`.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct PromptDetails {
    pub cached_tokens: usize,
}

impl Usage {
    pub fn new(prompt_tokens: usize, completion_tokens: usize, cached_tokens: usize) -> Usage {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            prompt_tokens_details: PromptDetails { cached_tokens },
        }
    }
}

/// `finish_reason` for a stop reason; `None` for a cancelled generation (not a finish).
pub(crate) fn finish_reason(r: StopReason) -> Option<&'static str> {
    match r {
        StopReason::Eos | StopReason::Stop => Some("stop"),
        StopReason::Length => Some("length"),
        StopReason::Cancelled => None,
    }
}

/// The common head of every response object.
#[derive(Debug, Serialize)]
pub(crate) struct Head<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: u64,
    pub model: &'a str,
    pub system_fingerprint: &'static str,
}

/// What `system_fingerprint` reports.
pub(crate) const FINGERPRINT: &str = concat!("hearth-", env!("CARGO_PKG_VERSION"));

// ---- chat ----------------------------------------------------------------------------

/// `chat.completion`.
#[derive(Debug, Serialize)]
pub(crate) struct ChatCompletion<'a> {
    #[serde(flatten)]
    pub head: Head<'a>,
    pub choices: [ChatChoice; 1],
    pub usage: Usage,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChatChoice {
    pub index: u32,
    pub message: AssistantMessage,
    pub logprobs: Option<ChatLogprobs>,
    pub finish_reason: &'static str,
}

#[derive(Debug, Serialize)]
pub(crate) struct AssistantMessage {
    pub role: &'static str,
    /// `null` for a turn that only calls tools.
    pub content: Option<String>,
    pub refusal: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<serde_json::Value>,
}

/// `chat.completion.chunk`. `usage` is absent unless `stream_options.include_usage`, then
/// `null` on every chunk but the last.
#[derive(Debug, Serialize)]
pub(crate) struct ChatChunk<'a> {
    #[serde(flatten)]
    pub head: Head<'a>,
    pub choices: Vec<ChunkChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Option<Usage>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    pub logprobs: Option<ChatLogprobs>,
    pub finish_reason: Option<&'static str>,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Streamed calls: `[{index, id, type, function: {name, arguments}}]`, then argument
    /// pieces `[{index, function: {arguments}}]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<serde_json::Value>>,
}

/// `choices[].logprobs` of chat.
#[derive(Debug, Default, Serialize)]
pub(crate) struct ChatLogprobs {
    pub content: Vec<TokenLogprob>,
    pub refusal: Option<Vec<TokenLogprob>>,
}

/// One entry of `logprobs.content`.
#[derive(Debug, Serialize)]
pub(crate) struct TokenLogprob {
    pub token: String,
    pub logprob: f32,
    pub bytes: Vec<u8>,
    pub top_logprobs: Vec<TopLogprob>,
}

/// One alternative of `top_logprobs`.
#[derive(Debug, Serialize)]
pub(crate) struct TopLogprob {
    pub token: String,
    pub logprob: f32,
    pub bytes: Vec<u8>,
}

/// A logprob JSON can carry: forced tokens (NaN: the grammar left no choice) are certain,
/// impossible ones are OpenAI's -9999.
fn finite(lp: f32) -> f32 {
    if lp.is_nan() {
        0.0
    } else if lp.is_finite() {
        lp
    } else {
        -9999.0
    }
}

/// The logprob entry of a generated token; `None` for end-of-generation tokens (OpenAI does
/// not list them).
pub(crate) fn token_logprob(tok: &Tokenizer, ev: &TokenEvent) -> Option<TokenLogprob> {
    if tok.is_eog(ev.id) {
        return None;
    }
    let piece = |id: u32| {
        let bytes = tok.token_to_piece(id, false);
        (String::from_utf8_lossy(&bytes).into_owned(), bytes)
    };
    let (token, bytes) = piece(ev.id);
    let top_logprobs = ev
        .top
        .iter()
        .map(|&(id, lp)| {
            let (token, bytes) = piece(id);
            TopLogprob { token, logprob: finite(lp), bytes }
        })
        .collect();
    Some(TokenLogprob { token, logprob: finite(ev.logprob), bytes, top_logprobs })
}

// ---- completions ---------------------------------------------------------------------

/// `text_completion`, whole or as a streamed chunk (`usage` as in [`ChatChunk`]).
#[derive(Debug, Serialize)]
pub(crate) struct TextCompletion<'a> {
    #[serde(flatten)]
    pub head: Head<'a>,
    pub choices: Vec<TextChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Option<Usage>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct TextChoice {
    pub text: String,
    pub index: u32,
    pub logprobs: Option<LegacyLogprobs>,
    pub finish_reason: Option<&'static str>,
}

/// `choices[].logprobs` of the completions API.
#[derive(Debug, Default, Serialize)]
pub(crate) struct LegacyLogprobs {
    pub tokens: Vec<String>,
    pub token_logprobs: Vec<f32>,
    pub top_logprobs: Vec<OrderedMap>,
    pub text_offset: Vec<usize>,
}

impl LegacyLogprobs {
    /// Appends `ev`'s entry; `offset` is where its text starts in the choice's text.
    /// Returns the length of the token's text (0 for an end-of-generation token).
    pub fn push(&mut self, tok: &Tokenizer, ev: &TokenEvent, offset: usize) -> usize {
        let Some(t) = token_logprob(tok, ev) else { return 0 };
        let len = t.bytes.len();
        self.tokens.push(t.token);
        self.token_logprobs.push(t.logprob);
        self.top_logprobs
            .push(OrderedMap(t.top_logprobs.into_iter().map(|a| (a.token, a.logprob)).collect()));
        self.text_offset.push(offset);
        len
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// `{token: logprob}` in the order given (most likely first).
#[derive(Debug, Default)]
pub(crate) struct OrderedMap(pub Vec<(String, f32)>);

impl Serialize for OrderedMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A 200 response with `value` as its JSON body.
pub(crate) fn json_response<T: Serialize>(value: &T) -> axum::response::Response {
    use axum::response::IntoResponse;
    ([(axum::http::header::CONTENT_TYPE, "application/json")], json(value)).into_response()
}

/// The JSON text of a response object.
pub(crate) fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!(r#"{{"error":{{"message":"serializing the response: {e}","type":"server_error","param":null,"code":null}}}}"#))
}

/// The response header that says what a request asked for and hearth ignored.
pub(crate) const WARNING_HEADER: &str = "x-hearth-warning";

/// `resp` with one `X-Hearth-Warning` header per warning (printable ASCII: other characters
/// escaped; each cut at 512 bytes).
pub(crate) fn with_warnings(
    mut resp: axum::response::Response,
    warnings: &[String],
) -> axum::response::Response {
    for w in warnings {
        let mut text = String::with_capacity(w.len());
        for c in w.chars() {
            if c == ' ' || c.is_ascii_graphic() {
                text.push(c);
            } else {
                text.extend(c.escape_unicode());
            }
            if text.len() > 512 {
                text.truncate(509);
                text.push_str("...");
                break;
            }
        }
        if let Ok(v) = axum::http::HeaderValue::from_str(&text) {
            resp.headers_mut().append(WARNING_HEADER, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_carry_null_usage_only_when_asked() {
        let head = || Head {
            id: "c",
            object: "chat.completion.chunk",
            created: 1,
            model: "m",
            system_fingerprint: FINGERPRINT,
        };
        let plain = ChatChunk { head: head(), choices: vec![], usage: None };
        assert!(!json(&plain).contains("usage"));
        let asked = ChatChunk { head: head(), choices: vec![], usage: Some(None) };
        assert!(json(&asked).contains(r#""usage":null"#));
        let last = ChatChunk { head: head(), choices: vec![], usage: Some(Some(Usage::new(3, 4, 1))) };
        assert!(json(&last).contains(
            r#""usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":1}}"#
        ));
    }

    #[test]
    fn logprobs_stay_finite() {
        assert_eq!(finite(f32::NAN), 0.0);
        assert_eq!(finite(f32::NEG_INFINITY), -9999.0);
        assert_eq!(finite(-1.5), -1.5);
        let m = OrderedMap(vec![("b".into(), -0.1), ("a".into(), -2.0)]);
        assert_eq!(json(&m), r#"{"b":-0.1,"a":-2.0}"#);
    }
}
