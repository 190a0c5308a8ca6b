//! `Embed`: what the cache needs from an embedder, and [`HashEmbedder`], a deterministic toy
//! one for tests.

use sha2::{Digest, Sha256};

/// An embedding model: texts in, one vector per text out. hearth's BERT embedders implement
/// it through a small adapter; the cache does not depend on the model code.
///
/// Vectors should be L2-normalised (the cache normalises them again if they are not, and
/// refuses a zero vector); every vector of one embedder has the same length.
pub trait Embed: Send + Sync {
    /// The embedder's id (catalog name and file hash, say). Part of every scope key: vectors
    /// of different embedders are never compared.
    fn model_id(&self) -> &str;

    /// One vector per text, in order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// An embedder's failure, with its message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EmbedError(pub Box<dyn std::error::Error + Send + Sync>);

impl EmbedError {
    /// Wraps any error or message.
    pub fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> EmbedError {
        EmbedError(e.into())
    }
}

/// `v` scaled to unit length; `None` for a zero or non-finite vector.
pub fn normalized(mut v: Vec<f32>) -> Option<Vec<f32>> {
    let norm = crate::index::dot(&v, &v).sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return None;
    }
    if (norm - 1.0).abs() > 1e-4 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    Some(v)
}

/// A deterministic toy embedder for tests: lowercased words and their character trigrams,
/// hashed into `dim` buckets with a hashed sign. Texts sharing words score high, so it
/// exercises the cache's plumbing; it knows nothing of meaning (no synonyms, no negation), so
/// nothing about the guards' quality may be concluded from it.
#[derive(Debug, Clone)]
pub struct HashEmbedder {
    dim: usize,
    id: String,
}

impl HashEmbedder {
    /// A toy embedder of `dim` dimensions (≥ 1).
    pub fn new(dim: usize) -> HashEmbedder {
        HashEmbedder { dim: dim.max(1), id: format!("toy-hash-{dim}") }
    }

    fn one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dim];
        let mut add = |feature: &str, weight: f32| {
            let h = Sha256::digest(feature.as_bytes());
            let bucket = u64::from_le_bytes(h[..8].try_into().unwrap_or_default()) as usize % self.dim;
            let sign = if h[8] & 1 == 0 { 1.0 } else { -1.0 };
            v[bucket] += sign * weight;
        };
        for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            let word = word.to_lowercase();
            add(&format!("w:{word}"), 1.0);
            let chars: Vec<char> = format!(" {word} ").chars().collect();
            for t in chars.windows(3) {
                add(&format!("t:{}", t.iter().collect::<String>()), 0.3);
            }
        }
        normalized(v).unwrap_or_else(|| {
            let mut unit = vec![0f32; self.dim];
            unit[0] = 1.0;
            unit
        })
    }
}

impl Embed for HashEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| self.one(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::dot;

    #[test]
    fn toy_vectors_are_unit_and_deterministic() {
        let e = HashEmbedder::new(64);
        let v = e.embed(&["How do I reverse a list?", "how do i reverse a list", "Bake a cake", ""]).unwrap();
        for x in &v {
            assert!((dot(x, x) - 1.0).abs() < 1e-5);
        }
        assert!((dot(&v[0], &v[1]) - 1.0).abs() < 1e-5, "case and punctuation do not count");
        assert!(dot(&v[0], &v[2]) < 0.5);
        assert_eq!(
            v,
            e.embed(&["How do I reverse a list?", "how do i reverse a list", "Bake a cake", ""]).unwrap()
        );
    }

    #[test]
    fn normalized_rescales_and_refuses_zero() {
        let v = normalized(vec![3.0, 4.0]).unwrap();
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert!(normalized(vec![0.0; 4]).is_none());
        assert!(normalized(vec![f32::NAN, 1.0]).is_none());
    }
}
