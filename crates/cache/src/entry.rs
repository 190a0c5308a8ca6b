//! `Entry`: one cached answer, as stores keep it.

use crate::scope::ScopeKey;

/// One cached answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The exact key ([`crate::scope::exact_key`]): the scope and the normalised prompt.
    pub key: String,
    /// The scope it was stored under.
    pub scope: ScopeKey,
    /// The prompt as the caller gave it (the guards read it).
    pub prompt: String,
    /// The answer, opaque to the cache (e.g. the response's JSON body).
    pub answer: String,
    /// The prompt's unit vector; `None` when the semantic cache is off.
    pub embedding: Option<Vec<f32>>,
    /// When it was stored (Unix ms).
    pub created_ms: i64,
    /// When it stops being served (Unix ms).
    pub expires_ms: i64,
}

/// Bytes an entry is counted as against `max_bytes`, besides its strings and vector (5 bytes a
/// dimension: the f32 vector and its 8-bit codes in the index): the bookkeeping around it.
pub const ENTRY_OVERHEAD: u64 = 256;

impl Entry {
    /// Its size against `max_bytes`.
    pub fn bytes(&self) -> u64 {
        let strings = self.key.len() + self.scope.0.len() + self.prompt.len() + self.answer.len();
        let vector = self.embedding.as_ref().map_or(0, |v| v.len() * 5);
        (strings + vector) as u64 + ENTRY_OVERHEAD
    }

    /// The vector as stored: little-endian f32s.
    pub fn embedding_bytes(&self) -> Option<Vec<u8>> {
        self.embedding.as_ref().map(|v| v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }
}

/// A vector from its stored bytes (little-endian f32s); `None` when the length is not a
/// multiple of 4.
pub fn embedding_from_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    let (chunks, rest) = bytes.as_chunks::<4>();
    rest.is_empty().then(|| chunks.iter().map(|c| f32::from_le_bytes(*c)).collect())
}

/// Now, in Unix ms.
pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
