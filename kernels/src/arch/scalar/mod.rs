//! Portable reference kernels: compiled on every target, never `cfg`'d away.
//!
//! Every SIMD kernel has a twin here, the function of the same name, and is tested against
//! it. Functions take typed block slices (see [`crate::blocks`]); the byte-level,
//! shape-checked entry points are in [`crate::Kernels`] tables. The scalar table (the
//! fallback of every entry of the SIMD tables) and the scalar f32 ops are here too.
//!
//! - `dequantize_*`: exactly llama.cpp's `dequantize_row_*` (same operations, same order,
//!   no fused multiply-add), so results are bit-identical.
//! - `quantize_*`: activations as llama.cpp's x86 CPU backend (see [`quantize_q8_0`]) and
//!   ggml's reference weight quantizers (`quantize_row_*_ref`) of the legacy and K types.
//! - `dot_*`: integer dot products per (sub-)block, scaled in f32; float dots accumulate in
//!   f64.

mod dequant;
mod dot;
mod dot_k;
pub(crate) mod ops;
mod quantize;
mod quantize_k;
mod table;

pub use dequant::*;
pub use dot::*;
pub use dot_k::*;
pub use quantize::*;
pub use quantize_k::*;
pub(crate) use table::{SCALAR, types};
