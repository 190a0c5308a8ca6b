//! aarch64 kernels: NEON, with an `sdot` (dotprod) variant.

mod neon;

pub(crate) use neon::{NEON, NEON_DOTPROD};

/// True when the CPU has Advanced SIMD (always, on aarch64-linux; checked anyway).
pub(crate) fn has_neon() -> bool {
    std::arch::is_aarch64_feature_detected!("neon")
}

/// True when the CPU has the dot-product extension (`sdot`).
pub(crate) fn has_dotprod() -> bool {
    std::arch::is_aarch64_feature_detected!("dotprod")
}
