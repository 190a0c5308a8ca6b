//! The AVX-512 table (AVX512F + BW + VL + VNNI, 512-bit registers): the K-quant row dots and
//! multi-row kernels with 512-bit partials (`mat_k.rs`), the kernels of Q4_K/Q6_K rows
//! interleaved 8 to a block and Q4_1/Q5_0/Q8_0 rows 16 to a block (`mat_x8.rs`), over the
//! `avx2-vnni` table (its VNNI prefill GEMM, its other entries and f32 ops, the widened
//! attention kernels compiled for 32 registers: `avx2::ops::OPS_AVX512`). Results are bit for bit those of
//! [`super::AVX2`]: only the exact integer part of each kernel changes.
//!
//! The kernels are `unsafe fn`s whose only precondition is that the CPU has these features;
//! [`AVX512`] is handed out by [`crate::Kernels::avx512`] only after detecting them.

pub(super) mod attention;
mod mat_k;
mod mat_x8;

use crate::blocks::*;
use crate::dispatch::Kernels;
use hearth_dtype::DType;

/// The AVX-512 table.
pub(crate) static AVX512: Kernels = {
    use DType::*;
    let mut t = super::avx2_vnni::types();
    t[Q4_K.index()].vec_dot = Some(dot_entry!(unsafe BlockQ4_K, BlockQ8_K, mat_k::dot_q4_k_q8_k));
    t[Q5_K.index()].vec_dot = Some(dot_entry!(unsafe BlockQ5_K, BlockQ8_K, mat_k::dot_q5_k_q8_k));
    t[Q6_K.index()].vec_dot = Some(dot_entry!(unsafe BlockQ6_K, BlockQ8_K, mat_k::dot_q6_k_q8_k));
    t[Q4_K.index()].mat = Some(mat_entry!(unsafe BlockQ4_K, BlockQ8_K, mat_k::mat_q4_k));
    t[Q5_K.index()].mat = Some(mat_entry!(unsafe BlockQ5_K, BlockQ8_K, mat_k::mat_q5_k));
    t[Q6_K.index()].mat = Some(mat_entry!(unsafe BlockQ6_K, BlockQ8_K, mat_k::mat_q6_k));
    t[Q4_K.index()].mat_x8 = Some(mat_x8_entry!(BlockQ4_K, BlockQ4_Kx8, BlockQ8_K, mat_x8::mat_q4_k_x8));
    t[Q6_K.index()].mat_x8 = Some(mat_x8_entry!(BlockQ6_K, BlockQ6_Kx8, BlockQ8_K, mat_x8::mat_q6_k_x8));
    t[Q4_1.index()].mat_x8 = Some(mat_x8_entry!(BlockQ4_1, BlockQ4_1x16, BlockQ8_1, mat_x8::mat_q4_1_x16));
    t[Q5_0.index()].mat_x8 = Some(mat_x8_entry!(BlockQ5_0, BlockQ5_0x16, BlockQ8_0, mat_x8::mat_q5_0_x16));
    t[Q8_0.index()].mat_x8 = Some(mat_x8_entry!(BlockQ8_0, BlockQ8_0x16, BlockQ8_0, mat_x8::mat_q8_0_x16));
    Kernels::new("avx512", t, &super::avx2::ops::OPS_AVX512)
        .with_x8_gemm_min_tokens(crate::matmul::x8_gemm_min_tokens_avx512)
};
