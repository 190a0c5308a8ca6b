//! AVX2 + FMA + F16C kernels (ggml-cpu/arch/x86/quants.c techniques) and their table.
//!
//! Every kernel is an `unsafe fn` whose only precondition is that the CPU has these
//! features; [`AVX2`] is handed out by [`crate::Kernels::avx2`] only after detecting them.

mod dot;
mod dot_k;
mod gemm;
mod gemm_k;
mod mat;
mod mat_k;
mod quantize;
mod util;
mod vnni;

use crate::blocks::*;
use crate::dispatch::{Kernels, TypeKernels};
use hearth_dtype::DType;

/// The AVX2 table: the scalar entries, overridden where a kernel exists here.
pub(crate) static AVX2: Kernels = Kernels::new("avx2", avx2_types());

/// The AVX2 table with the VNNI GEMM (AVX512-VNNI + AVX512-VL, 256-bit registers): handed
/// out only when the CPU has those too. Bit-identical results to [`AVX2`].
pub(crate) static AVX2_VNNI: Kernels = {
    use DType::*;
    let mut t = avx2_types();
    t[Q4_0.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ4_0, BlockQ8_0, gemm::pack_q4_0, vnni::gemm_q4_0, gemm::packed_bytes_q4_0),
    );
    t[Q4_1.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ4_1, BlockQ8_1, gemm::pack_q4_1, vnni::gemm_q4_1, gemm::packed_bytes_q4_1),
    );
    t[Q5_0.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ5_0, BlockQ8_0, gemm::pack_q5_0, vnni::gemm_q5_0, gemm::packed_bytes_q5_0),
    );
    t[Q5_1.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ5_1, BlockQ8_1, gemm::pack_q5_1, vnni::gemm_q5_1, gemm::packed_bytes_q5_1),
    );
    t[Q8_0.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ8_0, BlockQ8_0, vnni::pack_q8_0, vnni::gemm_q8_0, gemm::packed_bytes_q8_0),
    );
    t[Q4_K.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ4_K, BlockQ8_K, gemm_k::pack_q4_k, vnni::gemm_q4_k, gemm_k::packed_bytes_q4_k),
    );
    t[Q5_K.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ5_K, BlockQ8_K, gemm_k::pack_q5_k, vnni::gemm_q5_k, gemm_k::packed_bytes_q5_k),
    );
    t[Q6_K.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ6_K, BlockQ8_K, gemm_k::pack_q6_k, vnni::gemm_q6_k, gemm_k::packed_bytes_q6_k),
    );
    Kernels::new("avx2-vnni", t)
};

/// The AVX2 entries over the scalar ones.
const fn avx2_types() -> [TypeKernels; DType::COUNT] {
    use DType::*;
    let mut t = crate::scalar_table::types();
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
    t[Q4_0.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ4_0, BlockQ8_0, gemm::pack_q4_0, gemm::gemm_q4_0, gemm::packed_bytes_q4_0),
    );
    t[Q4_1.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ4_1, BlockQ8_1, gemm::pack_q4_1, gemm::gemm_q4_1, gemm::packed_bytes_q4_1),
    );
    t[Q5_0.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ5_0, BlockQ8_0, gemm::pack_q5_0, gemm::gemm_q5_0, gemm::packed_bytes_q5_0),
    );
    t[Q5_1.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ5_1, BlockQ8_1, gemm::pack_q5_1, gemm::gemm_q5_1, gemm::packed_bytes_q5_1),
    );
    t[Q8_0.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ8_0, BlockQ8_0, gemm::pack_q8_0, gemm::gemm_q8_0, gemm::packed_bytes_q8_0),
    );
    t[Q4_K.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ4_K, BlockQ8_K, gemm_k::pack_q4_k, gemm_k::gemm_q4_k, gemm_k::packed_bytes_q4_k),
    );
    t[Q5_K.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ5_K, BlockQ8_K, gemm_k::pack_q5_k, gemm_k::gemm_q5_k, gemm_k::packed_bytes_q5_k),
    );
    t[Q6_K.index()].gemm = Some(
        gemm_entry!(unsafe BlockQ6_K, BlockQ8_K, gemm_k::pack_q6_k, gemm_k::gemm_q6_k, gemm_k::packed_bytes_q6_k),
    );
    t
}
