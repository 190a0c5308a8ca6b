//! NEON kernels (ggml-cpu/arch/arm/quants.c techniques): row dots (`dot.rs`, `dot_k.rs`),
//! the multi-row × multi-token batch kernels and the row dots that share their arithmetic
//! (`mat.rs`, `mat_k.rs`), activation quantizers (`quantize.rs`) and f32 ops (`ops.rs`),
//! and their two tables: `neon`
//! (widening multiplies, any ARMv8) and `neon-dotprod` (`sdot`, ARMv8.2+ with dotprod).
//!
//! Every kernel is an `unsafe fn` whose only precondition is the CPU features its table
//! is named for; [`crate::Kernels::neon`] / [`crate::Kernels::neon_dotprod`] hand the
//! tables out only after detecting them.

mod dot;
mod dot_k;
mod mat;
mod mat_k;
mod ops;
mod quantize;
mod util;

use crate::blocks::*;
use crate::dispatch::Kernels;
use hearth_dtype::DType;

/// The scalar entries overridden by the kernels of this module, `sdot` when `$dp`.
/// (A macro, not a generic fn: the entry fns it defines cannot see outer generics.)
macro_rules! neon_types {
    ($dp:literal) => {{
    use DType::*;
    const DP: bool = $dp;
    let mut t = crate::arch::scalar::types();
    t[F32.index()].vec_dot = Some(dot_entry!(unsafe F32Le, F32Le, dot::dot_f32));
    t[F16.index()].vec_dot = Some(dot_entry!(unsafe F16Le, F16Le, dot::dot_f16));
    t[BF16.index()].vec_dot = Some(dot_entry!(unsafe Bf16Le, Bf16Le, dot::dot_bf16));
    t[Q4_0.index()].vec_dot = Some(dot_entry!(unsafe BlockQ4_0, BlockQ8_0, mat::dot_q4_0_q8_0::<DP>));
    t[Q4_1.index()].vec_dot = Some(dot_entry!(unsafe BlockQ4_1, BlockQ8_1, mat::dot_q4_1_q8_1::<DP>));
    t[Q5_0.index()].vec_dot = Some(dot_entry!(unsafe BlockQ5_0, BlockQ8_0, mat::dot_q5_0_q8_0::<DP>));
    t[Q5_1.index()].vec_dot = Some(dot_entry!(unsafe BlockQ5_1, BlockQ8_1, mat::dot_q5_1_q8_1::<DP>));
    t[Q8_0.index()].vec_dot = Some(dot_entry!(unsafe BlockQ8_0, BlockQ8_0, mat::dot_q8_0_q8_0::<DP>));
    t[Q8_0.index()].quantize = Some(quantize_entry!(unsafe BlockQ8_0, quantize::quantize_q8_0));
    t[Q8_1.index()].quantize = Some(quantize_entry!(unsafe BlockQ8_1, quantize::quantize_q8_1));
    t[Q2_K.index()].vec_dot = Some(dot_entry!(unsafe BlockQ2_K, BlockQ8_K, dot_k::dot_q2_k_q8_k::<DP>));
    t[Q3_K.index()].vec_dot = Some(dot_entry!(unsafe BlockQ3_K, BlockQ8_K, dot_k::dot_q3_k_q8_k::<DP>));
    t[Q4_K.index()].vec_dot = Some(dot_entry!(unsafe BlockQ4_K, BlockQ8_K, mat_k::dot_q4_k_q8_k::<DP>));
    t[Q5_K.index()].vec_dot = Some(dot_entry!(unsafe BlockQ5_K, BlockQ8_K, mat_k::dot_q5_k_q8_k::<DP>));
    t[Q6_K.index()].vec_dot = Some(dot_entry!(unsafe BlockQ6_K, BlockQ8_K, mat_k::dot_q6_k_q8_k::<DP>));
    t[Q8_K.index()].quantize = Some(quantize_entry!(unsafe BlockQ8_K, quantize::quantize_q8_k));
    t[Q4_0.index()].mat = Some(mat_entry!(unsafe BlockQ4_0, BlockQ8_0, mat::mat_q4_0::<DP>));
    t[Q4_1.index()].mat = Some(mat_entry!(unsafe BlockQ4_1, BlockQ8_1, mat::mat_q4_1::<DP>));
    t[Q5_0.index()].mat = Some(mat_entry!(unsafe BlockQ5_0, BlockQ8_0, mat::mat_q5_0::<DP>));
    t[Q5_1.index()].mat = Some(mat_entry!(unsafe BlockQ5_1, BlockQ8_1, mat::mat_q5_1::<DP>));
    t[Q8_0.index()].mat = Some(mat_entry!(unsafe BlockQ8_0, BlockQ8_0, mat::mat_q8_0::<DP>));
    t[Q4_K.index()].mat = Some(mat_entry!(unsafe BlockQ4_K, BlockQ8_K, mat_k::mat_q4_k::<DP>));
    t[Q5_K.index()].mat = Some(mat_entry!(unsafe BlockQ5_K, BlockQ8_K, mat_k::mat_q5_k::<DP>));
    t[Q6_K.index()].mat = Some(mat_entry!(unsafe BlockQ6_K, BlockQ8_K, mat_k::mat_q6_k::<DP>));
    t
    }};
}

/// NEON without dotprod.
pub(crate) static NEON: Kernels = Kernels::new("neon", neon_types!(false), &ops::OPS);
/// NEON with `sdot`.
pub(crate) static NEON_DOTPROD: Kernels = Kernels::new("neon-dotprod", neon_types!(true), &ops::OPS);
