//! Reproducible randomness: per-tensor seeds, the SplitMix64 stream and the FNV-1a hash
//! (also the stamp's input hash).

use super::GENERATOR;

/// The seed of one tensor: a hash of the generator version, shape and tensor name.
pub(super) fn seed(shape: &str, tensor: &str) -> u64 {
    let mut h = Fnv::new();
    for part in [GENERATOR, shape, tensor] {
        h.write(part.as_bytes());
        h.write(b"/");
    }
    h.finish()
}

/// FNV-1a, 64-bit: seeds and the stamp's input hash (not cryptographic; it only has to
/// change when the inputs do).
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

/// SplitMix64: fast, and the same stream on every machine.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[-1, 1)`.
    pub(crate) fn signed_unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let r = self.next_u64().to_le_bytes();
            let n = rest.len();
            rest.copy_from_slice(&r[..n]);
        }
    }
}
