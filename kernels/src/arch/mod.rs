//! The kernels of each instruction set, one folder each (as llama.cpp's
//! `ggml-cpu/arch/<isa>/`), every folder holding every kernel kind it specialises and the
//! table ([`crate::Kernels`]) that hands them out:
//!
//! ```text
//! arch/
//!   scalar/            the portable reference: dequantize, quantize, row dots, f32 ops
//!                      (ops.rs) and the scalar table; compiled everywhere, never cfg'd away
//!   x86_64/
//!     avx2/            AVX2 + FMA + F16C: row dots, multi-row decode kernels (mat*.rs),
//!                      the GEMM's inner dots (gemm.rs), activation quantizers, f32 ops,
//!                      and the `avx2` table
//!     avx2_vnni/       the GEMM's inner dots on VNNI, and the `avx2-vnni` table (the
//!                      `avx2` one with those GEMM entries)
//!     avx512/          512-bit K-quant partials (AVX512F/BW/VL/VNNI) and the `avx512`
//!                      table (the `avx2-vnni` one with those; results bit for bit AVX2's)
//!     gemm/            the prefill GEMM's packed layout and its one tile driver, generic
//!                      over an instruction set's inner dot (`TileDot`)
//!   aarch64/
//!     neon/            NEON with and without `sdot`: row dots, multi-row × multi-token
//!                      kernels (mat*.rs, which `matmul` also uses for prefill: no GEMM
//!                      here), activation quantizers, f32 ops, and the `neon` /
//!                      `neon-dotprod` tables
//! ```
//!
//! A SIMD table starts from the scalar one and overrides the entries it has, the f32 ops
//! included, so an entry it lacks falls back to scalar and a table can never pair its
//! kernels with another instruction set's ops.
//!
//! **Scalar twins.** A SIMD kernel's twin is the scalar kernel of the same name in
//! [`scalar`] (`avx2::mat::dot_q4_k_q8_k` ↔ `scalar::dot_q4_k_q8_k`, `neon::ops::silu` ↔
//! `scalar::ops::silu`), which fills the same slot of the scalar table; the twin tests
//! compare every table's slot with the scalar table's (`kernels/tests/kernels`: bit for bit
//! where ggml's arithmetic is exact, within named per-type budgets otherwise;
//! `kernels/tests/compute/ops.rs` for the f32 ops). The batch kernels (`mat_*`, `gemm_*`)
//! have their table's row dot of the same type as twin and equal it bit for bit
//! (`kernels/tests/compute/batch.rs`).

pub mod scalar;
pub(crate) mod tile;

#[cfg(target_arch = "aarch64")]
pub(crate) mod aarch64;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;
