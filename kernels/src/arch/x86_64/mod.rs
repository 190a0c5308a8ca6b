//! x86_64 kernels: AVX2 + FMA + F16C (`avx2/`), the same with the prefill GEMM's inner dots
//! on VNNI (AVX512-VNNI + AVX512-VL on 256-bit registers, `avx2_vnni/`), and the GEMM's
//! packed layout and tile driver they share (`gemm/`), and the AVX-512 table (`avx512/`:
//! 512-bit K-quant kernels over the `avx2-vnni` table).

#[macro_use]
pub(crate) mod gemm;
pub(crate) mod avx2;
mod avx2_vnni;
mod avx512;

pub(crate) use avx2::AVX2;
pub(crate) use avx2_vnni::AVX2_VNNI;
pub(crate) use avx512::AVX512;

/// True when the CPU has everything the AVX2 table is compiled for.
pub(crate) fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
        && std::is_x86_feature_detected!("f16c")
}

/// True when the CPU also has what the AVX2 + VNNI table needs.
pub(crate) fn has_avx2_vnni() -> bool {
    has_avx2() && std::is_x86_feature_detected!("avx512vnni") && std::is_x86_feature_detected!("avx512vl")
}

/// True when the CPU also has what the AVX-512 table needs (512-bit registers: F and BW).
pub(crate) fn has_avx512() -> bool {
    has_avx2_vnni() && std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw")
}
