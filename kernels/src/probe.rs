//! The CPU's int8 multiply-add peak, measured: the compute limit that prefill (many tokens
//! per weight load) is held to, as the read bandwidth is decode's.
//!
//! [`int8_peak`] runs independent chains of the widest `vpdpbusd` this CPU has (512-bit with
//! AVX512-VNNI, else 256-bit with AVX-VNNI) on every thread of a pool for a few milliseconds,
//! with nothing to load or store: no kernel that multiplies quantized weights with this
//! instruction can beat it. Other CPUs are not probed yet (`None`).

use std::time::Instant;

use crate::ThreadPool;

/// `vpdpbusd` instructions per call of a probe loop iteration (independent accumulators:
/// more than the instruction's latency × issue rate, so none waits on another).
const CHAINS: u64 = 12;

/// Loop iterations per measurement: about 2.5 ms at 2 instructions per cycle and 4 GHz.
const ITERS: u64 = 1_000_000;

/// Int8 multiply-adds per second (× 1e-9) on all threads of `pool` together: the best of
/// 3 runs of `ITERS` iterations on every thread at once; `None` where this CPU has no
/// `vpdpbusd`.
pub fn int8_peak(pool: &ThreadPool) -> Option<f64> {
    let (run, macs_per_instr): (unsafe fn(u64), u64) = probe_loop()?;
    let mut best = 0.0f64;
    for _ in 0..3 {
        let t0 = Instant::now();
        // SAFETY: `probe_loop` returns a loop only after detecting the features it is
        // compiled for.
        pool.run(&|_, _| unsafe { run(ITERS) });
        let macs = (pool.n_threads() as u64 * ITERS * CHAINS * macs_per_instr) as f64;
        best = best.max(macs / t0.elapsed().as_secs_f64() / 1e9);
    }
    Some(best)
}

/// The probe loop for this CPU and the multiply-adds of one of its instructions.
#[cfg(target_arch = "x86_64")]
fn probe_loop() -> Option<(unsafe fn(u64), u64)> {
    if std::arch::is_x86_feature_detected!("avx512vnni") && std::arch::is_x86_feature_detected!("avx512f") {
        return Some((x86::dpbusd_zmm, 64));
    }
    if std::arch::is_x86_feature_detected!("avxvnni") {
        return Some((x86::dpbusd_ymm, 32));
    }
    None
}

#[cfg(not(target_arch = "x86_64"))]
fn probe_loop() -> Option<(unsafe fn(u64), u64)> {
    None
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::asm;

    /// `n` iterations of 12 independent 512-bit `vpdpbusd`s.
    ///
    /// # Safety
    /// The CPU must support AVX512F and AVX512-VNNI.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub(super) unsafe fn dpbusd_zmm(n: u64) {
        if n == 0 {
            return;
        }
        // SAFETY: the caller guarantees AVX512F and AVX512-VNNI; the loop touches only the registers it declares clobbered and no memory, and `n > 0`
        // ends the loop after `n` iterations.
        unsafe {
            asm!(
                "vpternlogd zmm14, zmm14, zmm14, 0xff",
                "vpternlogd zmm15, zmm15, zmm15, 0xff",
                "2:",
                "vpdpbusd zmm0, zmm14, zmm15",
                "vpdpbusd zmm1, zmm14, zmm15",
                "vpdpbusd zmm2, zmm14, zmm15",
                "vpdpbusd zmm3, zmm14, zmm15",
                "vpdpbusd zmm4, zmm14, zmm15",
                "vpdpbusd zmm5, zmm14, zmm15",
                "vpdpbusd zmm6, zmm14, zmm15",
                "vpdpbusd zmm7, zmm14, zmm15",
                "vpdpbusd zmm8, zmm14, zmm15",
                "vpdpbusd zmm9, zmm14, zmm15",
                "vpdpbusd zmm10, zmm14, zmm15",
                "vpdpbusd zmm11, zmm14, zmm15",
                "dec {n}",
                "jnz 2b",
                n = inout(reg) n => _,
                out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _,
                out("zmm4") _, out("zmm5") _, out("zmm6") _, out("zmm7") _,
                out("zmm8") _, out("zmm9") _, out("zmm10") _, out("zmm11") _,
                out("zmm14") _, out("zmm15") _,
                options(nostack, nomem),
            );
        }
    }

    /// `n` iterations of 12 independent 256-bit (VEX) `vpdpbusd`s.
    ///
    /// # Safety
    /// The CPU must support AVX2 and AVX-VNNI.
    #[target_feature(enable = "avx2,avxvnni")]
    pub(super) unsafe fn dpbusd_ymm(n: u64) {
        if n == 0 {
            return;
        }
        // SAFETY: the caller guarantees AVX2 and AVX-VNNI; the loop touches only the
        // registers it declares clobbered and no memory, and `n > 0` ends the loop after
        // `n` iterations.
        unsafe {
            asm!(
                "vpcmpeqd ymm14, ymm14, ymm14",
                "vpcmpeqd ymm15, ymm15, ymm15",
                "2:",
                "{{vex}} vpdpbusd ymm0, ymm14, ymm15",
                "{{vex}} vpdpbusd ymm1, ymm14, ymm15",
                "{{vex}} vpdpbusd ymm2, ymm14, ymm15",
                "{{vex}} vpdpbusd ymm3, ymm14, ymm15",
                "{{vex}} vpdpbusd ymm4, ymm14, ymm15",
                "{{vex}} vpdpbusd ymm5, ymm14, ymm15",
                "{{vex}} vpdpbusd ymm6, ymm14, ymm15",
                "{{vex}} vpdpbusd ymm7, ymm14, ymm15",
                "{{vex}} vpdpbusd ymm8, ymm14, ymm15",
                "{{vex}} vpdpbusd ymm9, ymm14, ymm15",
                "{{vex}} vpdpbusd ymm10, ymm14, ymm15",
                "{{vex}} vpdpbusd ymm11, ymm14, ymm15",
                "dec {n}",
                "jnz 2b",
                n = inout(reg) n => _,
                out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
                out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
                out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
                out("ymm14") _, out("ymm15") _,
                options(nostack, nomem),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_is_measured_where_the_cpu_has_vpdpbusd() {
        let pool = ThreadPool::new(2);
        let peak = int8_peak(&pool);
        #[cfg(target_arch = "x86_64")]
        {
            let vnni = std::arch::is_x86_feature_detected!("avx512vnni")
                && std::arch::is_x86_feature_detected!("avx512f")
                || std::arch::is_x86_feature_detected!("avxvnni");
            assert_eq!(peak.is_some(), vnni);
        }
        if let Some(p) = peak {
            // Any CPU with the instruction does at least 1 G multiply-adds per second per thread
            // (a 1 GHz core issuing one a cycle does 32-64), and none does a million.
            assert!(p.is_finite() && p > 1.0 && p < 1e6, "{p}");
        }
    }
}
