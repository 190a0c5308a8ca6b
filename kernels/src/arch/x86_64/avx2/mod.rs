//! AVX2 + FMA + F16C kernels (ggml-cpu/arch/x86/quants.c techniques) and their table:
//! row dots (`dot.rs`, `dot_k.rs`), the multi-row decode kernels and the row dots that share
//! their arithmetic (`mat.rs`, `mat_k.rs`), the Q4_K kernel of rows interleaved 8 to a block
//! (`mat_x8.rs`) and the Q5_0 and Q4_1 kernels of rows interleaved 16 to a block
//! (`mat_x16.rs`: decode and small batches on the layouts repacked at load), the prefill GEMM's inner dots (`gemm.rs`, for the
//! driver in `../gemm/`), activation quantizers (`quantize.rs`) and the f32 ops (`ops.rs`).
//!
//! Every kernel is an `unsafe fn` whose only precondition is that the CPU has these
//! features; [`AVX2`] is handed out by [`crate::Kernels::avx2`] only after detecting them.

mod dot;
pub(crate) mod dot_k;
mod gemm;
pub(crate) mod mat;
pub(crate) mod mat_k;
mod mat_x16;
pub(crate) mod mat_x8;
pub(crate) mod ops;
mod quantize;
pub(crate) mod util;

use crate::blocks::*;
use crate::dispatch::{Kernels, TypeKernels};
use hearth_dtype::DType;

/// The AVX2 table: the scalar entries, overridden where a kernel exists here.
pub(crate) static AVX2: Kernels = Kernels::new("avx2", types(), &ops::OPS);

/// The AVX2 entries over the scalar ones.
pub(crate) const fn types() -> [TypeKernels; DType::COUNT] {
    use DType::*;
    let mut t = crate::arch::scalar::types();
    t[F32.index()].vec_dot = Some(dot_entry!(unsafe F32Le, F32Le, dot::dot_f32));
    t[F16.index()].vec_dot = Some(dot_entry!(unsafe F16Le, F16Le, dot::dot_f16));
    t[F16.index()].quantize = Some(quantize_entry!(unsafe F16Le, quantize::quantize_f16));
    t[BF16.index()].vec_dot = Some(dot_entry!(unsafe Bf16Le, Bf16Le, dot::dot_bf16));
    t[Q4_0.index()].vec_dot = Some(dot_entry!(unsafe BlockQ4_0, BlockQ8_0, mat::dot_q4_0_q8_0));
    t[Q4_1.index()].vec_dot = Some(dot_entry!(unsafe BlockQ4_1, BlockQ8_1, mat::dot_q4_1_q8_1));
    t[Q5_0.index()].vec_dot = Some(dot_entry!(unsafe BlockQ5_0, BlockQ8_0, mat::dot_q5_0_q8_0));
    t[Q5_1.index()].vec_dot = Some(dot_entry!(unsafe BlockQ5_1, BlockQ8_1, mat::dot_q5_1_q8_1));
    t[Q8_0.index()].vec_dot = Some(dot_entry!(unsafe BlockQ8_0, BlockQ8_0, mat::dot_q8_0_q8_0));
    t[Q8_0.index()].quantize = Some(quantize_entry!(unsafe BlockQ8_0, quantize::quantize_q8_0));
    t[Q8_1.index()].quantize = Some(quantize_entry!(unsafe BlockQ8_1, quantize::quantize_q8_1));
    t[Q2_K.index()].vec_dot = Some(dot_entry!(unsafe BlockQ2_K, BlockQ8_K, dot_k::dot_q2_k_q8_k));
    t[Q3_K.index()].vec_dot = Some(dot_entry!(unsafe BlockQ3_K, BlockQ8_K, dot_k::dot_q3_k_q8_k));
    t[Q4_K.index()].vec_dot = Some(dot_entry!(unsafe BlockQ4_K, BlockQ8_K, mat_k::dot_q4_k_q8_k));
    t[Q5_K.index()].vec_dot = Some(dot_entry!(unsafe BlockQ5_K, BlockQ8_K, mat_k::dot_q5_k_q8_k));
    t[Q6_K.index()].vec_dot = Some(dot_entry!(unsafe BlockQ6_K, BlockQ8_K, mat_k::dot_q6_k_q8_k));
    t[Q8_K.index()].quantize = Some(quantize_entry!(unsafe BlockQ8_K, quantize::quantize_q8_k));
    t[Q4_0.index()].mat = Some(mat_entry!(unsafe BlockQ4_0, BlockQ8_0, mat::mat_q4_0));
    t[Q4_1.index()].mat = Some(mat_entry!(unsafe BlockQ4_1, BlockQ8_1, mat::mat_q4_1));
    t[Q5_0.index()].mat = Some(mat_entry!(unsafe BlockQ5_0, BlockQ8_0, mat::mat_q5_0));
    t[Q5_1.index()].mat = Some(mat_entry!(unsafe BlockQ5_1, BlockQ8_1, mat::mat_q5_1));
    t[Q8_0.index()].mat = Some(mat_entry!(unsafe BlockQ8_0, BlockQ8_0, mat::mat_q8_0));
    t[Q4_K.index()].mat = Some(mat_entry!(unsafe BlockQ4_K, BlockQ8_K, mat_k::mat_q4_k));
    t[Q5_K.index()].mat = Some(mat_entry!(unsafe BlockQ5_K, BlockQ8_K, mat_k::mat_q5_k));
    t[Q6_K.index()].mat = Some(mat_entry!(unsafe BlockQ6_K, BlockQ8_K, mat_k::mat_q6_k));
    t[Q4_K.index()].mat_x8 = Some(mat_x8_entry!(BlockQ4_K, BlockQ4_Kx8, BlockQ8_K, mat_x8::mat_q4_k_x8));
    t[Q5_0.index()].mat_x8 = Some(mat_x8_entry!(BlockQ5_0, BlockQ5_0x16, BlockQ8_0, mat_x16::mat_q5_0_x16));
    t[Q4_1.index()].mat_x8 = Some(mat_x8_entry!(BlockQ4_1, BlockQ4_1x16, BlockQ8_1, mat_x16::mat_q4_1_x16));
    set_gemm_slots!(t, gemm);
    t
}
