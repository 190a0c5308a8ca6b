//! The AVX2 table with the prefill GEMM's inner dots on VNNI (`vpdpbusd` / `vpdpwssd` on
//! 256-bit registers, AVX512-VNNI + AVX512-VL). Every other entry, the f32 ops included, is
//! the AVX2 table's. Results are bit for bit those of [`super::AVX2`].
//!
//! The GEMM entries are `unsafe fn`s whose only precondition is that the CPU has these
//! features; [`AVX2_VNNI`] is handed out by [`crate::Kernels::avx2_vnni`] only after
//! detecting them.

mod gemm;

use crate::dispatch::{Kernels, TypeKernels};
use hearth_dtype::DType;

/// The AVX2 table with the VNNI GEMM.
pub(crate) static AVX2_VNNI: Kernels = Kernels::new("avx2-vnni", types(), &super::avx2::ops::OPS);

/// The AVX2 entries with the VNNI GEMM (also the base of the AVX-512 table).
pub(crate) const fn types() -> [TypeKernels; DType::COUNT] {
    let mut t = super::avx2::types();
    set_gemm_slots!(t, gemm);
    t
}
