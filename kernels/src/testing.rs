//! Random but valid rows of every [`DType`], for tests and benchmarks.
//!
//! Quants and packed scale bytes are uniformly random (every bit pattern is a valid
//! quant), f16/f32 block scales are finite and drawn from `±[scale/4, scale]` (so no
//! block scale is zero unless `scale` is 0), and the activation formats Q8_1/Q8_K are
//! produced by quantizing random floats so that their redundant fields (`s`, `bsums`) are
//! consistent. Deterministic: the same `(dt, n, seed)` gives the same bytes on every
//! machine. Not cryptographic, not for production data.

use crate::blocks::*;
use crate::scalar;
use hearth_dtype::DType;

/// The default magnitude of block scales: typical of real weights (|w| ≲ 0.1).
pub const DEFAULT_SCALE: f32 = 0.01;

/// A tiny deterministic PRNG (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[-1, 1)`.
    pub fn signed_unit(&mut self) -> f32 {
        2.0 * self.unit() - 1.0
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let r = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
    }

    /// `±[scale/4, scale]`, random sign.
    fn scale(&mut self, scale: f32) -> f32 {
        let m = scale * (0.25 + 0.75 * self.unit());
        if self.next_u64() & 1 == 0 { m } else { -m }
    }

    /// A random f16 block scale (see [`Rng::scale`]), positive when `positive`, clamped to
    /// the finite f16 range.
    fn f16_scale(&mut self, scale: f32, positive: bool) -> F16Le {
        let s = self.scale(scale).clamp(-65504.0, 65504.0);
        F16Le::from_f32(if positive { s.abs() } else { s })
    }
}

/// `n` floats uniform in `[-amp, amp)`.
pub fn random_f32(n: usize, amp: f32, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| amp * rng.signed_unit()).collect()
}

/// A row of `n` elements of `dt` (see the module docs), with block scales of magnitude
/// [`DEFAULT_SCALE`].
///
/// # Panics
/// If `n` is not a multiple of `dt.block_size()`, or `dt` is not one of
/// [`Kernels::TYPES`](crate::Kernels::TYPES).
pub fn random_row(dt: DType, n: usize, seed: u64) -> Vec<u8> {
    random_row_scaled(dt, n, seed, DEFAULT_SCALE)
}

/// As [`random_row`] with block scales of magnitude `scale` (0 gives all-zero scales;
/// float types get values in `±scale`).
pub fn random_row_scaled(dt: DType, n: usize, seed: u64, scale: f32) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut bytes = vec![0u8; dt.row_bytes(n)];
    rng.fill(&mut bytes);
    match dt {
        DType::F32 => {
            for b in as_blocks_mut::<F32Le>(&mut bytes) {
                *b = F32Le::new(scale * rng.signed_unit());
            }
        }
        DType::F16 => {
            for b in as_blocks_mut::<F16Le>(&mut bytes) {
                *b = F16Le::from_f32(scale * rng.signed_unit());
            }
        }
        DType::BF16 => {
            for b in as_blocks_mut::<Bf16Le>(&mut bytes) {
                *b = Bf16Le::from_f32(scale * rng.signed_unit());
            }
        }
        DType::Q4_0 => {
            as_blocks_mut::<BlockQ4_0>(&mut bytes).iter_mut().for_each(|b| b.d = rng.f16_scale(scale, false))
        }
        DType::Q5_0 => {
            as_blocks_mut::<BlockQ5_0>(&mut bytes).iter_mut().for_each(|b| b.d = rng.f16_scale(scale, false))
        }
        DType::Q8_0 => {
            as_blocks_mut::<BlockQ8_0>(&mut bytes).iter_mut().for_each(|b| b.d = rng.f16_scale(scale, false))
        }
        DType::Q4_1 => as_blocks_mut::<BlockQ4_1>(&mut bytes).iter_mut().for_each(|b| {
            b.d = rng.f16_scale(scale, true);
            b.m = rng.f16_scale(8.0 * scale, false);
        }),
        DType::Q5_1 => as_blocks_mut::<BlockQ5_1>(&mut bytes).iter_mut().for_each(|b| {
            b.d = rng.f16_scale(scale, true);
            b.m = rng.f16_scale(16.0 * scale, false);
        }),
        DType::Q2_K => as_blocks_mut::<BlockQ2_K>(&mut bytes).iter_mut().for_each(|b| {
            b.d = rng.f16_scale(scale / 8.0, true);
            b.dmin = rng.f16_scale(scale / 8.0, true);
        }),
        DType::Q3_K => as_blocks_mut::<BlockQ3_K>(&mut bytes)
            .iter_mut()
            .for_each(|b| b.d = rng.f16_scale(scale / 16.0, false)),
        DType::Q4_K => as_blocks_mut::<BlockQ4_K>(&mut bytes).iter_mut().for_each(|b| {
            b.d = rng.f16_scale(scale / 32.0, true);
            b.dmin = rng.f16_scale(scale / 32.0, true);
        }),
        DType::Q5_K => as_blocks_mut::<BlockQ5_K>(&mut bytes).iter_mut().for_each(|b| {
            b.d = rng.f16_scale(scale / 64.0, true);
            b.dmin = rng.f16_scale(scale / 32.0, true);
        }),
        DType::Q6_K => as_blocks_mut::<BlockQ6_K>(&mut bytes)
            .iter_mut()
            .for_each(|b| b.d = rng.f16_scale(scale / 256.0, false)),
        DType::Q8_1 => {
            let x = random_f32(n, 127.0 * scale, rng.next_u64());
            scalar::quantize_q8_1(&x, as_blocks_mut(&mut bytes));
        }
        DType::Q8_K => {
            let x = random_f32(n, 127.0 * scale, rng.next_u64());
            scalar::quantize_q8_k(&x, as_blocks_mut(&mut bytes));
        }
        other => panic!("no random rows of {other}: the kernels do not handle it"),
    }
    bytes
}
