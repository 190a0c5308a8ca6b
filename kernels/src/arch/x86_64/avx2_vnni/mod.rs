//! The AVX2 table with the prefill GEMM's inner dots on VNNI (`vpdpbusd` / `vpdpwssd` on
//! 256-bit registers, AVX512-VNNI + AVX512-VL). Every other entry, the f32 ops included, is
//! the AVX2 table's. Results are bit for bit those of [`super::AVX2`].
//!
//! The GEMM entries are `unsafe fn`s whose only precondition is that the CPU has these
//! features; [`AVX2_VNNI`] is handed out by [`crate::Kernels::avx2_vnni`] only after
//! detecting them.

mod gemm;

use crate::dispatch::Kernels;

/// The AVX2 table with the VNNI GEMM.
pub(crate) static AVX2_VNNI: Kernels = {
    let mut t = super::avx2::types();
    set_gemm_slots!(t, gemm);
    Kernels::new("avx2-vnni", t, &super::avx2::ops::OPS)
};
