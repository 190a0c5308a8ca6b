//! Which tables exist and which one is chosen.

use hearth_kernels::{Kernels, kernels};

#[test]
fn simd_tables_are_available_where_the_cpu_has_them() {
    let names: Vec<&str> = Kernels::available().iter().map(|k| k.name()).collect();
    eprintln!("kernel tables on this CPU: {names:?}; chosen: {}", kernels().name());
    assert_eq!(names[0], "scalar");
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c");
        assert_eq!(names.contains(&"avx2"), avx2);
        let vnni =
            avx2 && std::is_x86_feature_detected!("avx512vnni") && std::is_x86_feature_detected!("avx512vl");
        assert_eq!(names.contains(&"avx2-vnni"), vnni);
        // never offered where the CPU lacks a feature its kernels are compiled for
        let avx512 =
            vnni && std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw");
        assert_eq!(names.contains(&"avx512"), avx512);
    }
    #[cfg(target_arch = "aarch64")]
    {
        assert!(names.contains(&"neon"));
        assert_eq!(names.contains(&"neon-dotprod"), std::arch::is_aarch64_feature_detected!("dotprod"));
    }
    assert_eq!(Kernels::best().name(), *names.last().expect("scalar at least"));
}

#[test]
fn the_env_override_is_honoured() {
    match std::env::var("HEARTH_KERNELS").ok().as_deref().map(str::trim) {
        Some(name @ ("scalar" | "avx2" | "avx2-vnni" | "avx512" | "neon-dotprod"))
            if Kernels::by_name(name).is_some() =>
        {
            assert_eq!(kernels().name(), name)
        }
        Some("neon") if Kernels::by_name("neon").is_some() => assert!(kernels().name().starts_with("neon")),
        _ => assert_eq!(kernels().name(), Kernels::best().name()),
    }
}
