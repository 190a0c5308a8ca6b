//! Activation quantization against numpy ports of llama.cpp's CPU routines, and weight
//! quantization round trips.

use hearth_kernels::blocks::{BlockQ8_K, as_blocks};
use hearth_kernels::{DType, testing};

use crate::common::{data, dequantize, quantize, read_f32, tables};

#[test]
fn activations_quantize_byte_for_byte_as_llama_cpp_x86() {
    let x = read_f32(&data("quant/input.f32"));
    assert_eq!(x.len(), 4096);
    for (dt, file) in [
        (DType::Q8_0, "quant/input.q8_0"),
        (DType::Q8_1, "quant/input.q8_1"),
        (DType::Q8_K, "quant/input.q8_K"),
    ] {
        let want = std::fs::read(data(file)).expect("expected bytes");
        for k in tables() {
            let got = quantize(k, dt, &x);
            assert_eq!(got.len(), want.len());
            let bs = dt.type_size();
            for (b, (g, w)) in got.chunks_exact(bs).zip(want.chunks_exact(bs)).enumerate() {
                assert_eq!(g, w, "{dt} block {b} ({} kernels)", k.name());
            }
        }
    }
}

#[test]
fn q8_0_rounds_ties_to_even() {
    // amax 127 makes the multiplier exactly 1, so 0.5, 1.5, 2.5 are ties.
    let mut x = vec![0f32; 32];
    x[0] = 127.0;
    x[1..6].copy_from_slice(&[0.5, 1.5, 2.5, -0.5, -2.5]);
    for k in tables() {
        for dt in [DType::Q8_0, DType::Q8_1] {
            let q = quantize(k, dt, &x);
            let qs = &q[dt.type_size() - 32..];
            assert_eq!(&qs[..6], &[127, 0, 2, 2, 0, (-2i8) as u8], "{dt} ({})", k.name());
        }
    }
}

#[test]
fn q8_k_keeps_first_max_sign_and_zero_block() {
    let mut x = vec![0f32; 512];
    x[3] = -2.0;
    x[7] = 2.0; // same magnitude later: the first one (negative) sets the scale's sign
    x[8] = 1.0;
    for k in tables() {
        let q = quantize(k, DType::Q8_K, &x);
        let b: &[BlockQ8_K] = as_blocks(&q);
        assert_eq!(b[0].d.get(), 1.0 / (-127.0 / -2.0));
        assert_eq!((b[0].qs[3], b[0].qs[7], b[0].qs[8]), (-127, 127, 64));
        assert_eq!(b[0].bsums[0].get(), 64);
        assert_eq!(b[1].d.get(), 0.0);
        assert!(b[1].qs.iter().all(|&q| q == 0) && b[1].bsums.iter().all(|s| s.get() == 0));
    }
}

#[test]
fn activation_round_trip_error_is_within_half_a_step() {
    let x = testing::random_f32(8192, 4.0, 3);
    for k in tables() {
        for dt in [DType::Q8_0, DType::Q8_1, DType::Q8_K, DType::F16, DType::BF16, DType::F32] {
            let y = dequantize(k, dt, &quantize(k, dt, &x), x.len());
            for (blk, (xs, ys)) in
                x.chunks(dt.block_size().max(32)).zip(y.chunks(dt.block_size().max(32))).enumerate()
            {
                let amax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
                let step = match dt {
                    DType::F32 => 0.0,
                    DType::F16 => amax / 1024.0,
                    DType::BF16 => amax / 128.0,
                    // half a step of 1/127, plus f16 rounding of the scale
                    _ => amax / 127.0 * (0.5 + 127.0 / 2048.0),
                };
                for (a, b) in xs.iter().zip(ys) {
                    assert!((a - b).abs() <= step + 1e-6, "{dt} block {blk} ({}): {a} vs {b}", k.name());
                }
            }
        }
    }
}

#[test]
fn weights_quantize_byte_for_byte_as_ggml_reference() {
    let x = read_f32(&data("quant/weights.f32"));
    use DType::*;
    for dt in [Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K] {
        let want = std::fs::read(data(&format!("quant/weights.{}", dt.name()))).expect("expected bytes");
        for k in tables() {
            let got = quantize(k, dt, &x);
            assert_eq!(got.len(), want.len(), "{dt}");
            let bs = dt.type_size();
            for (b, (g, w)) in got.chunks_exact(bs).zip(want.chunks_exact(bs)).enumerate() {
                assert_eq!(g, w, "{dt} block {b} ({} kernels)", k.name());
            }
        }
    }
}

#[test]
fn k_quant_weights_round_trip_close() {
    // RMS error relative to the RMS of the block, generous bounds per type (test-quantize-fns
    // style): 2 bits ≈ 0.35, 3 ≈ 0.2, 4 ≈ 0.1, 5 ≈ 0.05, 6 ≈ 0.025.
    let x = testing::random_f32(16 * 256, 1.0, 21);
    for (dt, max_rel) in [
        (DType::Q2_K, 0.45),
        (DType::Q3_K, 0.25),
        (DType::Q4_K, 0.12),
        (DType::Q5_K, 0.06),
        (DType::Q6_K, 0.03),
    ] {
        let y = dequantize(
            hearth_kernels::Kernels::scalar(),
            dt,
            &quantize(hearth_kernels::Kernels::scalar(), dt, &x),
            x.len(),
        );
        for (xs, ys) in x.chunks(256).zip(y.chunks(256)) {
            let rms = (xs.iter().map(|v| v * v).sum::<f32>() / 256.0).sqrt();
            let err = (xs.iter().zip(ys).map(|(a, b)| (a - b) * (a - b)).sum::<f32>() / 256.0).sqrt();
            assert!(err <= max_rel * rms, "{dt}: rms error {err} vs rms {rms}");
        }
    }
}

#[test]
fn weight_quantizers_round_trip_within_a_step() {
    let x = testing::random_f32(4096, 1.0, 9);
    for k in tables() {
        for (dt, levels) in [
            (DType::Q4_0, 8.0),
            (DType::Q4_1, 15.0),
            (DType::Q5_0, 16.0),
            (DType::Q5_1, 31.0),
            (DType::Q8_0, 127.0),
        ] {
            let y = dequantize(k, dt, &quantize(k, dt, &x), x.len());
            for (xs, ys) in x.chunks(32).zip(y.chunks(32)) {
                let (lo, hi) = xs.iter().fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
                let range =
                    if matches!(dt, DType::Q4_1 | DType::Q5_1) { hi - lo } else { lo.abs().max(hi.abs()) };
                // one quantization step, and f16 rounding of scale and min
                let tol = range / levels * (1.0 + 16.0 / 1024.0) + range / 512.0;
                for (a, b) in xs.iter().zip(ys) {
                    assert!((a - b).abs() <= tol, "{dt} ({}): {a} vs {b}, tol {tol}", k.name());
                }
            }
        }
    }
}

#[test]
#[should_panic(expected = "quantize")]
fn quantize_rejects_a_partial_block() {
    let x = vec![1f32; 40];
    let mut out = vec![0u8; 68];
    hearth_kernels::quantize_row(DType::Q8_0, &x, &mut out);
}
