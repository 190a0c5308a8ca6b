//! `KvCache`: one sequence's keys and values, f16, owned by whoever owns the sequence.

use crate::{Config, ModelError};

/// Keys and values of one sequence for every layer, stored as f16 bits.
///
/// Layout per layer: `[position, n_head_kv · head_dim]`, positions appended in order. Memory
/// grows with the sequence (never beyond `capacity` positions), so an idle slot of a server
/// costs nothing until it is used.
#[derive(Clone, Debug)]
pub struct KvCache {
    kv_dim: usize,
    capacity: usize,
    len: usize,
    /// `[layer][position · kv_dim]`, f16 bits.
    k: Vec<Vec<u16>>,
    /// `[layer][position · kv_dim]`, f16 bits.
    v: Vec<Vec<u16>>,
}

impl KvCache {
    /// An empty cache for up to `capacity` positions of a model with `cfg`.
    pub fn new(cfg: &Config, capacity: usize) -> KvCache {
        KvCache {
            kv_dim: cfg.kv_dim(),
            capacity,
            len: 0,
            k: vec![Vec::new(); cfg.n_layer],
            v: vec![Vec::new(); cfg.n_layer],
        }
    }

    /// An empty cache of `n_layer` layers of `kv_dim` keys and values per position, without
    /// a model's config (unit tests).
    #[cfg(test)]
    pub(crate) fn for_test(n_layer: usize, kv_dim: usize, capacity: usize) -> KvCache {
        KvCache { kv_dim, capacity, len: 0, k: vec![Vec::new(); n_layer], v: vec![Vec::new(); n_layer] }
    }

    /// Positions filled (the position of the next token).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no position is filled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Most positions this cache can hold (the context size).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forgets positions `n..` (speculative rollback, prefix reuse); memory is kept.
    pub fn truncate(&mut self, n: usize) {
        if n < self.len {
            self.len = n;
            for l in self.k.iter_mut().chain(self.v.iter_mut()) {
                l.truncate(n * self.kv_dim);
            }
        }
    }

    /// Forgets everything; memory is kept.
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Bytes of key/value data in use.
    pub fn bytes(&self) -> usize {
        self.k.iter().chain(self.v.iter()).map(|l| l.len() * 2).sum()
    }

    /// Makes this cache hold the first `n` positions of `other` (a shared prompt prefix),
    /// copying only what differs from what it holds already up to `common` positions.
    pub fn copy_prefix(&mut self, other: &KvCache, common: usize, n: usize) {
        let n = n.min(other.len).min(self.capacity);
        let keep = common.min(self.len).min(n);
        self.truncate(keep);
        let (a, b) = (keep * self.kv_dim, n * self.kv_dim);
        for (dst, src) in self.k.iter_mut().zip(&other.k).chain(self.v.iter_mut().zip(&other.v)) {
            dst.extend_from_slice(&src[a..b]);
        }
        self.len = n;
    }

    /// Checks that `n` more positions fit.
    pub(crate) fn check_room(&self, n: usize) -> Result<(), ModelError> {
        let needed = self.len + n;
        if needed > self.capacity {
            return Err(ModelError::ContextFull { needed, capacity: self.capacity });
        }
        Ok(())
    }

    /// Grows every layer to `len + n` positions (contents of the new rows unspecified until
    /// written) and returns the first new position.
    pub(crate) fn extend(&mut self, n: usize) -> usize {
        let start = self.len;
        let size = (start + n) * self.kv_dim;
        for l in self.k.iter_mut().chain(self.v.iter_mut()) {
            if l.capacity() < size {
                // Grow in steps of 256 positions: amortised, and never past capacity.
                let want = (size + 256 * self.kv_dim).min(self.capacity * self.kv_dim).max(size);
                l.reserve_exact(want - l.len());
            }
            l.resize(size, 0);
        }
        self.len = start + n;
        start
    }

    /// Key row of `pos` in `layer`, for writing.
    pub(crate) fn k_row_mut(&mut self, layer: usize, pos: usize) -> &mut [u16] {
        &mut self.k[layer][pos * self.kv_dim..(pos + 1) * self.kv_dim]
    }

    /// Value row of `pos` in `layer`, for writing.
    pub(crate) fn v_row_mut(&mut self, layer: usize, pos: usize) -> &mut [u16] {
        &mut self.v[layer][pos * self.kv_dim..(pos + 1) * self.kv_dim]
    }

    /// All keys of `layer`: `[len, kv_dim]`.
    pub(crate) fn keys(&self, layer: usize) -> &[u16] {
        &self.k[layer]
    }

    /// All values of `layer`: `[len, kv_dim]`.
    pub(crate) fn values(&self, layer: usize) -> &[u16] {
        &self.v[layer]
    }

    /// Width of one position's keys.
    pub(crate) fn kv_dim(&self) -> usize {
        self.kv_dim
    }
}
