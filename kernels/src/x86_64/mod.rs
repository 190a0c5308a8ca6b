//! x86_64 kernels: AVX2 + FMA + F16C.

mod avx2;

pub(crate) use avx2::AVX2;

/// True when the CPU has everything the AVX2 table is compiled for.
pub(crate) fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
        && std::is_x86_feature_detected!("f16c")
}
