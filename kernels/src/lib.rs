//! `hearth-kernels`: the CPU compute of hearth — ggml's quantized block formats, their
//! dequantization (bit-identical to ggml) and quantization (activations byte-identical to
//! ggml's x86 CPU path, weights to ggml's reference quantizers), and weight-row × activation
//! dot products in scalar, AVX2 and NEON versions chosen at run time.
//!
//! Key types:
//! - [`DType`] (re-exported from `hearth-dtype`, the same enum `hearth-gguf` reads tensor
//!   types into): element types with ggml's ids and block geometry; [`DType::vec_dot_type`]
//!   says which activation format a weight type is dotted with (Q4_K → Q8_K, Q4_0 → Q8_0).
//! - [`blocks`]: `#[repr(C)]` alignment-1 block structs cast from mmapped bytes.
//! - [`Kernels`]: one table per instruction set — the quantized kernels and the f32
//!   [`ops`] of that instruction set — built in `src/arch/<isa>/`; [`kernels()`] is the one
//!   chosen for this CPU (override with
//!   `HEARTH_KERNELS=scalar|avx2|avx2-vnni|avx512|neon|neon-dotprod`).
//! - [`scalar`]: the portable reference every SIMD kernel is tested against (its twin is the
//!   scalar kernel of the same name).
//! - [`matmul`], [`ThreadPool`]: the weight × activations product over a thread pool, on
//!   the chosen table's batch kernels.
//! - [`testing`]: random valid blocks for tests and benchmarks.
//! - [`probe`]: the CPU's int8 multiply-add peak, measured (prefill's compute limit).
//!
//! The usage loop of a matrix-vector product (decode):
//!
//! ```
//! use hearth_kernels::{DType, kernels, quantize_row};
//!
//! let (rows, n) = (4, 256);
//! let wt = DType::Q4_K;
//! let weights = hearth_kernels::testing::random_row(wt, rows * n, 7); // rows of Q4_K blocks
//! let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
//!
//! // once per token and input: quantize the activation to the weight type's partner format
//! let xt = wt.vec_dot_type();
//! let mut xq = vec![0u8; xt.row_bytes(n)];
//! quantize_row(xt, &x, &mut xq);
//!
//! // once per matmul: fetch the fn pointer; then one call per row, no dispatch
//! let dot = kernels().vec_dot_fn(wt).expect("Q4_K has a dot product");
//! let row_bytes = wt.row_bytes(n);
//! let y: Vec<f32> = weights.chunks_exact(row_bytes).map(|w| dot(n, w, &xq)).collect();
//! assert_eq!(y.len(), rows);
//! ```
#![deny(missing_docs)]

#[macro_use]
mod macros;

mod arch;
pub mod blocks;
mod dispatch;
mod error;
mod matmul;
pub mod ops;
mod out_tile;
mod parallel;
pub mod pool;
pub mod probe;
pub mod testing;

pub use arch::scalar;

pub use dispatch::{
    DequantizeFn, Kernels, QuantizeFn, TypeKernels, VecDotFn, dequantize_row, kernels, quantize_row, vec_dot,
};
pub use error::KernelError;
pub use hearth_dtype::DType;
pub use hearth_dtype::{bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16};
pub use matmul::{
    Activations, MatrixError, QMatrix, matmul, matmul_many, matmul_many_with, matmul_with,
    supported_weight_types,
};
pub use pool::ThreadPool;
