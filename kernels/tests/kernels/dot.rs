//! Dot products: every table against the scalar twin, against exact math on the
//! dequantized operands, and against plain f32 math with a per-type error budget.

use hearth_gguf::GgufFile;
use hearth_kernels::blocks::F16Le;
use hearth_kernels::{DType, Kernels, testing};

use crate::common::{DOT_TYPES, dequantize, quantize, tables};

/// Largest |kernel − Σ w·x| / (Σ|w| · max|x|) allowed when `x` is the f32 activation and
/// `w` the dequantized weights, named per weight type like llama.cpp's
/// `MAX_DOT_PRODUCT_ERROR`. Weights are exact (dequantized), so the error is the rounding
/// of the activation to `vec_dot_type()`: half a step of amax/127 (1/254) plus the f16
/// rounding of the block scale (2⁻¹¹), or the f16/bf16 rounding of each element.
pub fn max_dot_error(w: DType) -> f64 {
    const Q8_HALF_STEP: f64 = 1.0 / 254.0;
    const F16_ROUNDING: f64 = 1.0 / 2048.0;
    match w.vec_dot_type() {
        DType::F32 => 1e-6,
        DType::F16 => F16_ROUNDING + 1e-6,
        DType::BF16 => 1.0 / 256.0 + 1e-6,
        DType::Q8_K => Q8_HALF_STEP + 1e-6,
        // Q8_0 / Q8_1: f16 scale
        _ => Q8_HALF_STEP + F16_ROUNDING + 1e-6,
    }
}

/// What the kernels must agree on: the result, and Σ|w·x| of the exact products.
pub struct Exact {
    /// Σ ŵ·x̂ in f64 over the dequantized operands.
    pub value: f64,
    /// Σ |ŵ·x̂|.
    pub magnitude: f64,
}

/// Σ ŵ·x̂ over dequantized weights and dequantized activations.
pub fn exact(wt: DType, n: usize, w: &[u8], xq: &[u8]) -> Exact {
    let scalar = Kernels::scalar();
    let wf = dequantize(scalar, wt, w, n);
    let xf = dequantize(scalar, wt.vec_dot_type(), xq, n);
    let (mut value, mut magnitude) = (0f64, 0f64);
    for (a, b) in wf.iter().zip(&xf) {
        let p = f64::from(*a) * f64::from(*b);
        value += p;
        magnitude += p.abs();
    }
    Exact { value, magnitude }
}

/// The tolerance of a kernel against [`exact`]: f32 rounding of the per-block scaled sums
/// (and, for Q4_1/Q5_1, the f16 rounding of the activation's `s = d·Σq` in the min term).
pub fn exact_tolerance(wt: DType, n: usize, w: &[u8], xq: &[u8], e: &Exact) -> f64 {
    let terms = if wt.is_quantized() { n / wt.block_size() } else { n / 8 };
    let mut tol = e.magnitude * (1e-6 + 4.0 * terms as f64 / (1u64 << 24) as f64);
    if matches!(wt, DType::Q4_1 | DType::Q5_1) {
        // The min term m_w · s_x uses s_x = f16(d_x · Σq) with the unrounded f32 d_x, while x̂
        // uses f16(d_x): up to 2⁻¹¹ + 2⁻¹¹ relative per block.
        let xf = dequantize(Kernels::scalar(), wt.vec_dot_type(), xq, n);
        let mins = w.chunks_exact(wt.type_size()).map(|b| f64::from(F16Le([b[2], b[3]]).to_f32().abs()));
        let min_term: f64 = mins
            .zip(xf.chunks(32))
            .map(|(m, xs)| m * xs.iter().map(|v| f64::from(v.abs())).sum::<f64>())
            .sum();
        tol += min_term * 2.5 / 2048.0;
    }
    tol + 1e-30
}

pub fn check_all(wt: DType, n: usize, w: &[u8], x: &[f32], what: &str) {
    check(wt, n, w, x, what, true)
}

/// Checks every table's dot of `w` with `x` against scalar and exact math, and when
/// `budget` also against f32 math (meaningless when the activation's f16 block scales
/// underflow, i.e. |x| ≲ 1e-5, or overflow, |x| ≳ 8e6).
pub fn check(wt: DType, n: usize, w: &[u8], x: &[f32], what: &str, budget: bool) {
    let scalar = Kernels::scalar();
    let xt = wt.vec_dot_type();
    for k in tables() {
        let xq = quantize(k, xt, x);
        assert_eq!(
            xq,
            quantize(scalar, xt, x),
            "{what}: {} activation quantizer differs from scalar",
            k.name()
        );
        let got = f64::from(k.vec_dot_fn(wt).expect("dot")(n, w, &xq));
        let want = f64::from(scalar.vec_dot_fn(wt).expect("dot")(n, w, &xq));
        let e = exact(wt, n, w, &xq);
        let tol = exact_tolerance(wt, n, w, &xq, &e);
        assert!((got - want).abs() <= tol, "{what}: {} {got} vs scalar {want} (tol {tol})", k.name());
        assert!((got - e.value).abs() <= tol, "{what}: {} {got} vs exact {} (tol {tol})", k.name(), e.value);

        // against plain f32 math on the unquantized activation
        let wf = dequantize(scalar, wt, w, n);
        let reference: f64 = wf.iter().zip(x).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
        let xmax = x.iter().fold(0f64, |m, v| m.max(f64::from(v.abs())));
        let norm = wf.iter().map(|v| f64::from(v.abs())).sum::<f64>() * xmax;
        if budget && norm > 0.0 {
            let err = (got - reference).abs() / norm;
            assert!(
                err <= max_dot_error(wt),
                "{what}: {} error {err:.3e} > budget {:.3e}",
                k.name(),
                max_dot_error(wt)
            );
        }
    }
}

#[test]
fn every_kernel_matches_scalar_and_exact_math() {
    for wt in DOT_TYPES {
        for blocks in [1, 2, 3, 7, 16] {
            let n = blocks * wt.block_size().max(32) * if wt.block_size() == 1 { 3 } else { 1 };
            let w = testing::random_row(wt, n, 100 + blocks as u64);
            let x = testing::random_f32(n, 2.0, 200 + blocks as u64);
            check_all(wt, n, &w, &x, &format!("{wt} n={n}"));
        }
    }
}

#[test]
fn float_dots_handle_ragged_lengths() {
    for wt in [DType::F32, DType::F16, DType::BF16] {
        for n in [1, 5, 8, 15, 31, 33, 64, 127, 1000] {
            let w = testing::random_row_scaled(wt, n, n as u64, 1.0);
            let x = testing::random_f32(n, 1.0, 7 * n as u64);
            check_all(wt, n, &w, &x, &format!("{wt} n={n}"));
        }
    }
}

#[test]
fn real_model_rows_dot_within_budget() {
    let cases = [
        (hearth_testkit::SMOLLM2_135M, "blk.0.ffn_down.weight"),
        (hearth_testkit::SMOLLM2_135M, "token_embd.weight"),
        (hearth_testkit::QWEN_05B, "blk.0.ffn_gate.weight"),
        (hearth_testkit::QWEN_05B, "blk.0.ffn_down.weight"),
        (hearth_testkit::QWEN_05B, "blk.11.ffn_down.weight"),
        (hearth_testkit::GEMMA3_270M, "blk.0.attn_output.weight"),
        (hearth_testkit::GEMMA3_270M, "blk.0.attn_v.weight"),
    ];
    for (model, tensor) in cases {
        let Some(path) = hearth_testkit::model(model) else { continue };
        let file = GgufFile::open(&path).expect("open");
        let (info, bytes) = file.tensor_data(tensor).expect("tensor");
        let wt = info.ty;
        let n = info.ne0() as usize;
        let rb = wt.row_bytes(n);
        let x = testing::random_f32(n, 1.0, 42);
        for r in [0, info.n_rows() as usize / 3, info.n_rows() as usize - 1] {
            check_all(wt, n, &bytes[r * rb..(r + 1) * rb], &x, &format!("{model} {tensor} row {r}"));
        }
    }
}

#[test]
#[should_panic(expected = "vec_dot activations")]
fn dot_rejects_mismatched_activation_length() {
    let w = testing::random_row(DType::Q4_0, 64, 1);
    let x = vec![0u8; DType::Q8_0.row_bytes(32)];
    hearth_kernels::vec_dot(DType::Q4_0, 64, &w, &x);
}

#[test]
#[should_panic(expected = "vec_dot weights")]
fn dot_rejects_partial_blocks() {
    let w = testing::random_row(DType::Q4_K, 256, 1);
    let x = vec![0u8; DType::Q8_K.row_bytes(256)];
    hearth_kernels::vec_dot(DType::Q4_K, 200, &w, &x);
}

#[test]
fn unsupported_dots_are_errors_not_panics() {
    for k in tables() {
        assert!(k.vec_dot_fn(DType::Q8_K).is_err());
        assert!(k.vec_dot_fn(DType::Q8_1).is_err());
    }
}
