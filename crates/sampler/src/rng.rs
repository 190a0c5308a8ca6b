//! The random number generator: MT19937 with libstdc++'s `uniform_real_distribution<double>`.
//!
//! llama.cpp's `dist` sampler draws one `std::uniform_real_distribution<double>(0, 1)` value
//! from a `std::mt19937` per token. Both are fully specified (MT19937 by the C++ standard,
//! the double by libstdc++'s and libc++'s `generate_canonical`: two 32-bit outputs,
//! `(lo + hi * 2^32) / 2^64`), so using the same pair makes seeded runs reproducible on every
//! platform and token-for-token identical to llama.cpp (GCC/Clang builds) given the same
//! logits and seed. Plain integer arithmetic: no platform dependence.

use std::hash::{BuildHasher, Hasher};

const N: usize = 624;
const M: usize = 397;

/// MT19937, the 32-bit Mersenne Twister (`std::mt19937`).
#[derive(Clone)]
pub(crate) struct Mt19937 {
    /// `[N]` state words.
    state: [u32; N],
    /// Next word of `state` to temper; `N` means "twist first".
    index: usize,
}

impl std::fmt::Debug for Mt19937 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mt19937").field("index", &self.index).finish_non_exhaustive()
    }
}

impl Mt19937 {
    /// Seeds as `std::mt19937::seed(seed)` does.
    pub(crate) fn new(seed: u32) -> Self {
        let mut state = [0u32; N];
        state[0] = seed;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        Self { state, index: N }
    }

    fn twist(&mut self) {
        for i in 0..N {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % N] & 0x7fff_ffff);
            let mut v = self.state[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= 0x9908_b0df;
            }
            self.state[i] = v;
        }
        self.index = 0;
    }

    /// The next 32-bit output.
    pub(crate) fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// A double in `[0, 1)`, as `std::uniform_real_distribution<double>(0, 1)` draws it.
    pub(crate) fn next_f64(&mut self) -> f64 {
        const TWO_32: f64 = 4_294_967_296.0;
        let lo = f64::from(self.next_u32());
        let hi = f64::from(self.next_u32());
        let r = (lo + hi * TWO_32) / (TWO_32 * TWO_32);
        // `std::nextafter(1.0, 0.0)` when rounding reached 1.
        if r >= 1.0 { 1.0 - f64::EPSILON / 2.0 } else { r }
    }
}

/// Folds a 64-bit seed to MT19937's 32 bits; seeds below 2^32 are kept as they are, so they
/// mean what they mean to llama.cpp.
pub(crate) fn fold_seed(seed: u64) -> u32 {
    (seed as u32) ^ ((seed >> 32) as u32)
}

/// A seed from the OS: std's `RandomState` keys are drawn from the OS's entropy source once
/// per process and advanced per call, so this differs between calls and runs.
pub(crate) fn entropy_seed() -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    fold_seed(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_thousandth_output_is_the_standards_value() {
        // C++ [rand.predef]: the 10000th consecutive invocation of a default-constructed
        // mt19937 (seed 5489) produces 4123659995.
        let mut rng = Mt19937::new(5489);
        let mut last = 0;
        for _ in 0..10_000 {
            last = rng.next_u32();
        }
        assert_eq!(last, 4_123_659_995);
    }

    #[test]
    fn doubles_match_libstdcxx_uniform_real_distribution() {
        // Bit patterns printed by g++ 12 / libstdc++ for
        // `std::uniform_real_distribution<double>(0.0f, 1.0f)(std::mt19937(seed))`, the
        // draw llama.cpp's `dist` sampler makes (see tests/data/README.md).
        let cases: [(u32, [u64; 5]); 3] = [
            (
                0,
                [
                    0x3fe2f89545f18fe1,
                    0x3feb04399816e2d5,
                    0x3feb744a5f7349d6,
                    0x3feb1cafacf16faf,
                    0x3fe3f43bda6d8e95,
                ],
            ),
            (
                42,
                [
                    0x3fe97d47b66bfc3c,
                    0x3fc77aca8779b102,
                    0x3fe8f33a88f76c7f,
                    0x3fe3196582932836,
                    0x3fdc88861e49fc36,
                ],
            ),
            (
                1234,
                [
                    0x3fdfd9b8b4cc41db,
                    0x3fea2bbb86b3e851,
                    0x3fe3966bae8e01de,
                    0x3fe8aefaff3921a8,
                    0x3feb8a9b5638f590,
                ],
            ),
        ];
        for (seed, want) in cases {
            let mut rng = Mt19937::new(seed);
            let got: Vec<u64> = (0..5).map(|_| rng.next_f64().to_bits()).collect();
            assert_eq!(got, want, "seed {seed}");
        }
    }

    #[test]
    fn doubles_are_in_unit_interval() {
        let mut rng = Mt19937::new(0);
        for _ in 0..10_000 {
            let r = rng.next_f64();
            assert!((0.0..1.0).contains(&r));
        }
    }

    #[test]
    fn fold_keeps_32_bit_seeds() {
        assert_eq!(fold_seed(42), 42);
        assert_eq!(fold_seed(u64::from(u32::MAX)), u32::MAX);
        assert_eq!(fold_seed(1 << 32), 1);
    }
}
