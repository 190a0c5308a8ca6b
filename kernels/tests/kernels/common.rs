//! Helpers shared by the test modules.

use std::path::PathBuf;

use hearth_kernels::{DType, Kernels};

/// `kernels/tests/data/<rel>`.
pub fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("data").join(rel)
}

/// Little-endian f32s of a file.
pub fn read_f32(path: &std::path::Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// Every kernel table this CPU runs, scalar first.
pub fn tables() -> Vec<&'static Kernels> {
    Kernels::available()
}

/// Weight types that have a dot product.
pub const DOT_TYPES: [DType; 13] = {
    use DType::*;
    [F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K]
};

/// Quantizes `x` to `dt` with table `k`.
pub fn quantize(k: &Kernels, dt: DType, x: &[f32]) -> Vec<u8> {
    let mut out = vec![0u8; dt.row_bytes(x.len())];
    k.quantize_fn(dt).expect("quantizer")(x, &mut out);
    out
}

/// Dequantizes a row of `n` elements of `dt` with table `k`.
pub fn dequantize(k: &Kernels, dt: DType, bytes: &[u8], n: usize) -> Vec<f32> {
    let mut out = vec![0f32; n];
    k.dequantize_fn(dt).expect("dequantizer")(bytes, &mut out);
    out
}
