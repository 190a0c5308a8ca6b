//! ggml's GELU: the tanh approximation, evaluated through a 64 K-entry f16 table.
//!
//! ggml-cpu defines `GGML_GELU_FP16`, so its f32 GELU rounds the input to f16, looks up
//! `f16(gelu_f32(x16))`, and widens the result; inputs ≤ -10 give 0, inputs ≥ 10 pass
//! through. We build the same table once (128 KiB) so every path matches llama.cpp bit for
//! bit.

use std::sync::OnceLock;

use hearth_dtype::{f16_to_f32 as h2f, f32_to_f16 as f2h};

const GELU_COEF_A: f32 = 0.044715;
const SQRT_2_OVER_PI: f32 = 0.797_884_6; // ggml: 0.79788456080286535587989211986876f (same f32)

/// Entries in the table: one per f16 bit pattern, plus one zero so that a 32-bit gather at
/// the last index stays in bounds.
pub(crate) const TABLE_LEN: usize = (1 << 16) + 1;

/// ggml's `ggml_gelu_f32`, evaluated in f32.
pub(crate) fn gelu_f32(x: f32) -> f32 {
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * x * (1.0 + GELU_COEF_A * x * x)).tanh())
}

/// The table: `table[h] = f16(gelu_f32(f32(h)))` for every f16 bit pattern `h`.
pub(crate) fn table() -> &'static [u16] {
    static TABLE: OnceLock<Box<[u16]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![0u16; TABLE_LEN];
        for (h, e) in t.iter_mut().take(1 << 16).enumerate() {
            *e = f2h(gelu_f32(h2f(h as u16)));
        }
        t.into_boxed_slice()
    })
}

/// GELU of one value with ggml's semantics.
#[inline]
pub(crate) fn lookup(table: &[u16], x: f32) -> f32 {
    if x <= -10.0 {
        0.0
    } else if x >= 10.0 {
        x
    } else {
        h2f(table[usize::from(f2h(x))])
    }
}

/// `gelu(x) * g` with ggml's `ggml_vec_geglu_f32` semantics.
#[inline]
pub(crate) fn lookup_mul(table: &[u16], x: f32, g: f32) -> f32 {
    if x <= -10.0 {
        0.0
    } else if x >= 10.0 {
        x * g
    } else {
        h2f(table[usize::from(f2h(x))]) * g
    }
}
