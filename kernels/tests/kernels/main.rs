//! hearth-kernels integration tests, one binary:
//!
//! - `dequantize`: every dequantizer against llama.cpp's values for rows of the real
//!   fixture models (`tests/data/dequant`, made by gguf-py), bit for bit.
//! - `quantize`: activation quantizers against independent numpy ports of llama.cpp's CPU
//!   routines (`tests/data/quant`), byte for byte; round trips of the weight quantizers.
//! - `dot`: every table's dot products against the scalar twin (tight tolerance) and against
//!   f32 math on dequantized weights (per-type error budget).
//! - `props`: property tests over block counts and edge scales.
//!
//! Every test runs each kernel table this CPU supports ([`Kernels::available`]), so the
//! suite checks the SIMD paths even under `HEARTH_KERNELS=scalar` (which only changes
//! [`hearth_kernels::kernels()`]).

mod common;
mod dequantize;
mod dispatch;
mod dot;
mod props;
mod quantize;
