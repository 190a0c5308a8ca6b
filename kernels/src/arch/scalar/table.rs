//! The scalar [`Kernels`] table: the fallback for every entry of the SIMD tables.

use crate::arch::scalar as s;
use crate::blocks::*;
use crate::dispatch::{Kernels, TypeKernels};
use hearth_dtype::DType;

/// Per-type entries of the portable kernels.
pub(crate) const fn types() -> [TypeKernels; DType::COUNT] {
    use DType::*;
    let mut t = [TypeKernels::EMPTY; DType::COUNT];
    t[F32.index()] = TypeKernels {
        dequantize: Some(dequantize_entry!(F32Le, s::dequantize_f32)),
        quantize: Some(quantize_entry!(F32Le, s::quantize_f32)),
        vec_dot: Some(dot_entry!(F32Le, F32Le, s::dot_f32)),
        ..TypeKernels::EMPTY
    };
    t[F16.index()] = TypeKernels {
        dequantize: Some(dequantize_entry!(F16Le, s::dequantize_f16)),
        quantize: Some(quantize_entry!(F16Le, s::quantize_f16)),
        vec_dot: Some(dot_entry!(F16Le, F16Le, s::dot_f16)),
        ..TypeKernels::EMPTY
    };
    t[BF16.index()] = TypeKernels {
        dequantize: Some(dequantize_entry!(Bf16Le, s::dequantize_bf16)),
        quantize: Some(quantize_entry!(Bf16Le, s::quantize_bf16)),
        vec_dot: Some(dot_entry!(Bf16Le, Bf16Le, s::dot_bf16)),
        ..TypeKernels::EMPTY
    };
    t[Q4_0.index()] = TypeKernels {
        dequantize: Some(dequantize_entry!(BlockQ4_0, s::dequantize_q4_0)),
        quantize: Some(quantize_entry!(BlockQ4_0, s::quantize_q4_0)),
        vec_dot: Some(dot_entry!(BlockQ4_0, BlockQ8_0, s::dot_q4_0_q8_0)),
        ..TypeKernels::EMPTY
    };
    t[Q4_1.index()] = TypeKernels {
        dequantize: Some(dequantize_entry!(BlockQ4_1, s::dequantize_q4_1)),
        quantize: Some(quantize_entry!(BlockQ4_1, s::quantize_q4_1)),
        vec_dot: Some(dot_entry!(BlockQ4_1, BlockQ8_1, s::dot_q4_1_q8_1)),
        ..TypeKernels::EMPTY
    };
    t[Q5_0.index()] = TypeKernels {
        dequantize: Some(dequantize_entry!(BlockQ5_0, s::dequantize_q5_0)),
        quantize: Some(quantize_entry!(BlockQ5_0, s::quantize_q5_0)),
        vec_dot: Some(dot_entry!(BlockQ5_0, BlockQ8_0, s::dot_q5_0_q8_0)),
        ..TypeKernels::EMPTY
    };
    t[Q5_1.index()] = TypeKernels {
        dequantize: Some(dequantize_entry!(BlockQ5_1, s::dequantize_q5_1)),
        quantize: Some(quantize_entry!(BlockQ5_1, s::quantize_q5_1)),
        vec_dot: Some(dot_entry!(BlockQ5_1, BlockQ8_1, s::dot_q5_1_q8_1)),
        ..TypeKernels::EMPTY
    };
    t[Q8_0.index()] = TypeKernels {
        dequantize: Some(dequantize_entry!(BlockQ8_0, s::dequantize_q8_0)),
        quantize: Some(quantize_entry!(BlockQ8_0, s::quantize_q8_0)),
        vec_dot: Some(dot_entry!(BlockQ8_0, BlockQ8_0, s::dot_q8_0_q8_0)),
        ..TypeKernels::EMPTY
    };
    t[Q8_1.index()] = TypeKernels {
        dequantize: Some(dequantize_entry!(BlockQ8_1, s::dequantize_q8_1)),
        quantize: Some(quantize_entry!(BlockQ8_1, s::quantize_q8_1)),
        vec_dot: None,
        ..TypeKernels::EMPTY
    };
    t[Q2_K.index()] = TypeKernels {
        dequantize: Some(dequantize_entry!(BlockQ2_K, s::dequantize_q2_k)),
        quantize: Some(quantize_entry!(BlockQ2_K, s::quantize_q2_k)),
        vec_dot: Some(dot_entry!(BlockQ2_K, BlockQ8_K, s::dot_q2_k_q8_k)),
        ..TypeKernels::EMPTY
    };
    t[Q3_K.index()] = TypeKernels {
        dequantize: Some(dequantize_entry!(BlockQ3_K, s::dequantize_q3_k)),
        quantize: Some(quantize_entry!(BlockQ3_K, s::quantize_q3_k)),
        vec_dot: Some(dot_entry!(BlockQ3_K, BlockQ8_K, s::dot_q3_k_q8_k)),
        ..TypeKernels::EMPTY
    };
    t[Q4_K.index()] = TypeKernels {
        dequantize: Some(dequantize_entry!(BlockQ4_K, s::dequantize_q4_k)),
        quantize: Some(quantize_entry!(BlockQ4_K, s::quantize_q4_k)),
        vec_dot: Some(dot_entry!(BlockQ4_K, BlockQ8_K, s::dot_q4_k_q8_k)),
        ..TypeKernels::EMPTY
    };
    t[Q5_K.index()] = TypeKernels {
        dequantize: Some(dequantize_entry!(BlockQ5_K, s::dequantize_q5_k)),
        quantize: Some(quantize_entry!(BlockQ5_K, s::quantize_q5_k)),
        vec_dot: Some(dot_entry!(BlockQ5_K, BlockQ8_K, s::dot_q5_k_q8_k)),
        ..TypeKernels::EMPTY
    };
    t[Q6_K.index()] = TypeKernels {
        dequantize: Some(dequantize_entry!(BlockQ6_K, s::dequantize_q6_k)),
        quantize: Some(quantize_entry!(BlockQ6_K, s::quantize_q6_k)),
        vec_dot: Some(dot_entry!(BlockQ6_K, BlockQ8_K, s::dot_q6_k_q8_k)),
        ..TypeKernels::EMPTY
    };
    t[Q8_K.index()] = TypeKernels {
        dequantize: Some(dequantize_entry!(BlockQ8_K, s::dequantize_q8_k)),
        quantize: Some(quantize_entry!(BlockQ8_K, s::quantize_q8_k)),
        vec_dot: None,
        ..TypeKernels::EMPTY
    };
    t
}

/// The portable table.
pub(crate) static SCALAR: Kernels = Kernels::new("scalar", types(), &s::ops::OPS);
