//! The answer of `POST /v1/embeddings` in OpenAI's shape:
//! `{"object": "list", "data": [{"object": "embedding", "index": i, "embedding": ..}],
//! "model": .., "usage": {"prompt_tokens": n, "total_tokens": n}}`, each vector as JSON
//! numbers or as base64 of its little-endian f32 bytes; and `dimensions` applied.

use base64::Engine as _;
use serde::Serialize;

use crate::ApiError;
use crate::embeddings_request::Encoding;

/// The response object.
#[derive(Debug, Serialize)]
pub struct EmbeddingList {
    object: &'static str,
    data: Vec<EmbeddingObject>,
    model: String,
    usage: EmbeddingUsage,
}

#[derive(Debug, Serialize)]
struct EmbeddingObject {
    object: &'static str,
    index: usize,
    embedding: Vector,
}

/// A vector as written.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Vector {
    Float(Vec<f32>),
    Base64(String),
}

/// Token counts: embeddings have no output tokens, so both are the input's.
#[derive(Debug, Serialize)]
struct EmbeddingUsage {
    prompt_tokens: usize,
    total_tokens: usize,
}

impl EmbeddingList {
    /// The answer for `vectors` (in input order) of `model`, written as `encoding`.
    pub fn new(
        model: String,
        vectors: Vec<Vec<f32>>,
        encoding: Encoding,
        prompt_tokens: usize,
    ) -> EmbeddingList {
        let data = vectors
            .into_iter()
            .enumerate()
            .map(|(index, v)| EmbeddingObject { object: "embedding", index, embedding: encode(v, encoding) })
            .collect();
        EmbeddingList {
            object: "list",
            data,
            model,
            usage: EmbeddingUsage { prompt_tokens, total_tokens: prompt_tokens },
        }
    }
}

fn encode(v: Vec<f32>, encoding: Encoding) -> Vector {
    match encoding {
        Encoding::Float => Vector::Float(v),
        Encoding::Base64 => {
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            Vector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
    }
}

/// Keeps the first `dims` components of `v` and scales them to unit length again (when `v`
/// was normalised; an unnormalised vector is only cut). More than the model has is a 400.
pub fn shorten(v: &mut Vec<f32>, dims: usize, normalised: bool, model: &str) -> Result<(), ApiError> {
    if dims > v.len() {
        return Err(ApiError::invalid(
            Some("dimensions"),
            format!("'dimensions' is {dims} but {model} has {}; ask for {} or fewer", v.len(), v.len()),
        ));
    }
    v.truncate(dims);
    if normalised {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_and_base64_carry_the_same_numbers() {
        let v = vec![0.5f32, -0.25, 1.0e-3];
        let f = serde_json::to_value(EmbeddingList::new("m".into(), vec![v.clone()], Encoding::Float, 3))
            .unwrap();
        assert_eq!(f["object"], "list");
        assert_eq!(f["data"][0]["object"], "embedding");
        assert_eq!(f["data"][0]["index"], 0);
        assert_eq!(f["usage"]["prompt_tokens"], 3);
        assert_eq!(f["usage"]["total_tokens"], 3);
        let back: Vec<f32> = serde_json::from_value(f["data"][0]["embedding"].clone()).unwrap();
        assert_eq!(back, v);

        let b = serde_json::to_value(EmbeddingList::new("m".into(), vec![v.clone()], Encoding::Base64, 3))
            .unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b["data"][0]["embedding"].as_str().unwrap())
            .unwrap();
        let decoded: Vec<f32> =
            bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        assert_eq!(decoded, v);
    }

    #[test]
    fn shorten_renormalises_and_refuses_too_many() {
        let mut v = vec![0.6f32, 0.0, 0.8, 0.0];
        shorten(&mut v, 2, true, "m").unwrap();
        assert_eq!(v, vec![1.0, 0.0]);
        let mut w = vec![3.0f32, 4.0];
        shorten(&mut w, 1, false, "m").unwrap();
        assert_eq!(w, vec![3.0]);
        let e = shorten(&mut vec![1.0; 4], 5, true, "m").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("dimensions"));
    }
}
