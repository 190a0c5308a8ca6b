//! Property tests over block counts, scales and activation magnitudes.

use hearth_kernels::{DType, Kernels, testing};
use proptest::prelude::*;

use crate::common::{DOT_TYPES, quantize, tables};
use crate::dot::check;

fn weight_type() -> impl Strategy<Value = DType> {
    proptest::sample::select(DOT_TYPES.to_vec())
}

/// Block-scale magnitudes from zero to near f16's largest finite value.
fn weight_scale() -> impl Strategy<Value = f32> {
    prop_oneof![Just(0.0f32), Just(1e-6), Just(1e-2), Just(1.0), Just(100.0), Just(60000.0), 1e-4f32..10.0]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn dots_agree_across_tables_and_with_math(
        wt in weight_type(),
        blocks in 1usize..=12,
        scale in weight_scale(),
        amp in prop_oneof![Just(0.0f32), Just(1e-20), 1e-3f32..1e4, Just(1e6)],
        seed in any::<u64>(),
    ) {
        let n = blocks * wt.block_size().max(32);
        let w = testing::random_row_scaled(wt, n, seed, scale);
        // Formats with f16 fields overflow beyond 65504: F16 activations themselves, and
        // Q8_1's s = d·Σq (|Σx| over a block of 32), as in ggml.
        let amp = match wt {
            DType::F16 => amp.min(6e4),
            DType::Q4_1 | DType::Q5_1 => amp.min(2e3),
            _ => amp,
        };
        let x = testing::random_f32(n, amp, seed ^ 0x5eed);
        let in_range = amp == 0.0 || (1e-3..=1e6).contains(&amp);
        check(wt, n, &w, &x, &format!("{wt} n={n} scale={scale} amp={amp} seed={seed}"), in_range);
    }

    #[test]
    fn simd_quantizers_match_scalar_bytes(
        dt in proptest::sample::select(vec![DType::Q8_0, DType::Q8_1, DType::Q8_K, DType::F16, DType::BF16]),
        values in proptest::collection::vec(
            prop_oneof![
                -1e6f32..1e6,
                -2.0f32..2.0,
                (-254i32..=254).prop_map(|h| h as f32 * 0.5),
                Just(0.0f32),
                Just(-0.0f32),
            ],
            1..=4,
        ),
        blocks in 1usize..=3,
        seed in any::<u64>(),
    ) {
        let n = blocks * 256;
        let mut rng = testing::Rng::new(seed);
        let x: Vec<f32> = (0..n).map(|_| values[(rng.next_u64() % values.len() as u64) as usize]).collect();
        let want = quantize(Kernels::scalar(), dt, &x);
        for k in tables() {
            prop_assert_eq!(&quantize(k, dt, &x), &want, "{} {}", dt, k.name());
        }
    }
}
