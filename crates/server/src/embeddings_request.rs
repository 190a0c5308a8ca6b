//! The body of `POST /v1/embeddings` as OpenAI defines it, checked: `input` as one string,
//! an array of strings, one array of token ids or an array of them; `encoding_format`
//! `float` (default) or `base64` (little-endian f32, what the OpenAI SDKs ask for by
//! default); `dimensions` (the first N components, normalised again: meaningful for
//! Matryoshka-trained embedders such as nomic-embed-text v1.5); `user`. hearth adds
//! `truncate` (cut inputs longer than the model's context instead of answering 400, as
//! Ollama's `truncate` does).

use serde::Deserialize;

use crate::ApiError;

/// Most inputs in one request (OpenAI's limit).
pub const MAX_INPUTS: usize = 2048;

/// What `input` holds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    Text(String),
    /// Several texts.
    Texts(Vec<String>),
    /// One text as token ids.
    Tokens(Vec<u32>),
    /// Several texts as token ids.
    TokenLists(Vec<Vec<u32>>),
}

/// One input, as the embedder takes it.
#[derive(Debug, Clone, PartialEq)]
pub enum OneInput {
    /// Text, tokenized by the embedder.
    Text(String),
    /// Token ids, used as they are.
    Tokens(Vec<u32>),
}

/// The request body as sent.
#[derive(Debug, Deserialize)]
pub struct EmbeddingsBody {
    /// The embedding model.
    pub model: Option<String>,
    /// What to embed.
    pub input: Option<serde_json::Value>,
    /// `float` or `base64`.
    pub encoding_format: Option<String>,
    /// Keep the first N components (then normalise again).
    pub dimensions: Option<i64>,
    /// The end user (recorded, not used).
    pub user: Option<String>,
    /// hearth: cut inputs longer than the context instead of refusing them.
    #[serde(default)]
    pub truncate: bool,
}

/// How vectors are written in the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// JSON numbers.
    Float,
    /// Base64 of the little-endian f32 bytes.
    Base64,
}

/// A checked request.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsRequest {
    /// The model named (`None`: the server's only embedder).
    pub model: Option<String>,
    /// The inputs, in order.
    pub inputs: Vec<OneInput>,
    /// How to write the vectors.
    pub encoding: Encoding,
    /// Components to keep, when asked.
    pub dimensions: Option<usize>,
    /// Cut over-long inputs instead of refusing them.
    pub truncate: bool,
    /// The end user, as sent (logged).
    pub user: Option<String>,
}

/// Parses and checks a body: unknown fields are ignored (as OpenAI-compatible servers do),
/// an empty input, an empty string, more than [`MAX_INPUTS`] inputs, an unknown encoding or
/// `dimensions < 1` is a 400 naming the parameter.
pub fn parse(body: &[u8]) -> Result<EmbeddingsRequest, ApiError> {
    let body: EmbeddingsBody = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(None, format!("the request body is not valid JSON for /v1/embeddings: {e}"))
    })?;
    let input =
        body.input.ok_or_else(|| ApiError::invalid(Some("input"), "'input' is a required property"))?;
    let input: EmbeddingInput = serde_json::from_value(input).map_err(|_| {
        ApiError::invalid(
            Some("input"),
            "'input' must be a string, an array of strings, an array of token ids or an array of arrays of token ids",
        )
    })?;
    let inputs: Vec<OneInput> = match input {
        EmbeddingInput::Text(t) => vec![OneInput::Text(t)],
        EmbeddingInput::Texts(ts) => ts.into_iter().map(OneInput::Text).collect(),
        EmbeddingInput::Tokens(ids) => vec![OneInput::Tokens(ids)],
        EmbeddingInput::TokenLists(lists) => lists.into_iter().map(OneInput::Tokens).collect(),
    };
    if inputs.is_empty() {
        return Err(ApiError::invalid(Some("input"), "'input' must not be an empty array"));
    }
    if inputs.len() > MAX_INPUTS {
        return Err(ApiError::invalid(
            Some("input"),
            format!("'input' holds {} items; at most {MAX_INPUTS} per request", inputs.len()),
        ));
    }
    for (i, one) in inputs.iter().enumerate() {
        let empty = match one {
            OneInput::Text(t) => t.is_empty(),
            OneInput::Tokens(ids) => ids.is_empty(),
        };
        if empty {
            return Err(ApiError::invalid(
                Some("input"),
                format!("input {i} is empty; every input needs some text"),
            ));
        }
    }
    let encoding = match body.encoding_format.as_deref() {
        None | Some("float") => Encoding::Float,
        Some("base64") => Encoding::Base64,
        Some(other) => {
            return Err(ApiError::invalid(
                Some("encoding_format"),
                format!("'encoding_format' must be 'float' or 'base64', not '{other}'"),
            ));
        }
    };
    let dimensions = match body.dimensions {
        None => None,
        Some(d) if d >= 1 => Some(usize::try_from(d).unwrap_or(usize::MAX)),
        Some(d) => {
            return Err(ApiError::invalid(
                Some("dimensions"),
                format!("'dimensions' must be at least 1, not {d}"),
            ));
        }
    };
    Ok(EmbeddingsRequest {
        model: body.model,
        inputs,
        encoding,
        dimensions,
        truncate: body.truncate,
        user: body.user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> EmbeddingsRequest {
        parse(body.as_bytes()).unwrap()
    }

    fn err(body: &str) -> ApiError {
        parse(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn every_input_shape() {
        let text = |s: &str| OneInput::Text(s.into());
        assert_eq!(ok(r#"{"model":"m","input":"hi"}"#).inputs, vec![text("hi")]);
        assert_eq!(ok(r#"{"model":"m","input":["a","b"]}"#).inputs, vec![text("a"), text("b")]);
        assert_eq!(ok(r#"{"input":[1,2,3]}"#).inputs, vec![OneInput::Tokens(vec![1, 2, 3])]);
        assert_eq!(
            ok(r#"{"input":[[1],[2,3]]}"#).inputs,
            vec![OneInput::Tokens(vec![1]), OneInput::Tokens(vec![2, 3])]
        );
    }

    #[test]
    fn encodings_and_dimensions() {
        let r = ok(r#"{"input":"x","encoding_format":"base64","dimensions":64,"truncate":true,"user":"u"}"#);
        assert_eq!((r.encoding, r.dimensions, r.truncate), (Encoding::Base64, Some(64), true));
        assert_eq!(ok(r#"{"input":"x"}"#).encoding, Encoding::Float);
        assert_eq!(
            err(r#"{"input":"x","encoding_format":"int8"}"#).param.as_deref(),
            Some("encoding_format")
        );
        assert_eq!(err(r#"{"input":"x","dimensions":0}"#).param.as_deref(), Some("dimensions"));
    }

    #[test]
    fn bad_inputs_are_400_naming_input() {
        for body in [
            r#"{"model":"m"}"#,
            r#"{"input":[]}"#,
            r#"{"input":""}"#,
            r#"{"input":["a",""]}"#,
            r#"{"input":[[]]}"#,
            r#"{"input":[1,"a"]}"#,
            r#"{"input":[-1]}"#,
            r#"{"input":{"text":"a"}}"#,
            r#"{"input":null}"#,
        ] {
            let e = err(body);
            assert_eq!(e.status.as_u16(), 400, "{body}");
            assert_eq!(e.param.as_deref(), Some("input"), "{body}");
        }
        let many = format!(r#"{{"input":[{}]}}"#, vec!["\"a\""; MAX_INPUTS + 1].join(","));
        assert!(err(&many).message.contains("at most 2048"));
        assert_eq!(err("not json").status.as_u16(), 400);
    }
}
