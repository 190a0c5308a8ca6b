//! The CPU's int8 multiply-add peak, measured: the compute limit that prefill (many tokens
//! per weight load) is held to, as the read bandwidth is decode's.
//!
//! [`int8_peak`] runs independent chains of the widest `vpdpbusd` this CPU has (512-bit with
//! AVX512-VNNI, else 256-bit with AVX-VNNI) on every thread of a pool for a few milliseconds,
//! with nothing to load or store: no kernel that multiplies quantized weights with this
//! instruction can beat it.
//!
//! On an AVX2 CPU without VNNI, the unit is the pair an AVX2 int8 kernel cannot do with less
//! of: `vpmaddubsw` (32 multiply-adds into i16 pairs) and the `vpaddw` that accumulates its
//! result (the kernels' `maddubs` + i16 sums; their `madd` to i32, once per 4–8 pairs, is
//! not counted, so the bound is a little above what any of them can reach). On an AMD Zen 3
//! VM at about 3 GHz it read 152–160 G/s per core: 1.6 pairs a cycle, where `vpmaddubsw`
//! alone issues twice a cycle. Other CPUs (aarch64) are not probed yet (`None`).

use std::time::Instant;

use crate::ThreadPool;

/// `vpdpbusd` instructions per call of a probe loop iteration (independent accumulators:
/// more than the instruction's latency × issue rate, so none waits on another).
const CHAINS: u64 = 12;

/// Loop iterations per measurement: about 1.6 ms on a core that issues 7.4 `vpdpbusd` per ns.
const ITERS: u64 = 1_000_000;

/// Int8 multiply-adds per second (× 1e-9) on all threads of `pool` together: the best of
/// 3 runs of `ITERS` iterations on every thread at once; `None` where this CPU has neither
/// `vpdpbusd` nor AVX2.
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

/// The probe loop for this CPU and the multiply-adds of one of its units (an instruction,
/// or AVX2's pair).
#[cfg(target_arch = "x86_64")]
fn probe_loop() -> Option<(unsafe fn(u64), u64)> {
    if std::arch::is_x86_feature_detected!("avx512vnni") && std::arch::is_x86_feature_detected!("avx512f") {
        return Some((x86::dpbusd_zmm, 64));
    }
    if std::arch::is_x86_feature_detected!("avxvnni") {
        return Some((x86::dpbusd_ymm, 32));
    }
    if std::arch::is_x86_feature_detected!("avx2") {
        return Some((x86::maddubs_add_ymm, 32));
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

    /// `unsafe fn $name(n)`: `n` iterations of 12 independent `$op`s on registers of
    /// `$class`, after `$ones` sets their common sources `{x}` to all ones.
    macro_rules! dpbusd_loop {
        ($(#[$doc:meta])* $name:ident, $features:literal, $class:ident, $ones:literal, $op:literal) => {
            $(#[$doc])*
            ///
            /// # Safety
            #[doc = concat!("The CPU must support ", $features, ".")]
            #[target_feature(enable = $features)]
            pub(super) unsafe fn $name(n: u64) {
                if n == 0 {
                    return;
                }
                // SAFETY: the caller guarantees the features the instructions need; the loop
                // writes only the registers it declares as outputs, touches no memory, and
                // with `n > 0` ends after `n` iterations.
                unsafe {
                    asm!(
                        $ones,
                        "2:",
                        concat!($op, " {a0}, {x}, {x}"),
                        concat!($op, " {a1}, {x}, {x}"),
                        concat!($op, " {a2}, {x}, {x}"),
                        concat!($op, " {a3}, {x}, {x}"),
                        concat!($op, " {a4}, {x}, {x}"),
                        concat!($op, " {a5}, {x}, {x}"),
                        concat!($op, " {a6}, {x}, {x}"),
                        concat!($op, " {a7}, {x}, {x}"),
                        concat!($op, " {a8}, {x}, {x}"),
                        concat!($op, " {a9}, {x}, {x}"),
                        concat!($op, " {a10}, {x}, {x}"),
                        concat!($op, " {a11}, {x}, {x}"),
                        "dec {n}",
                        "jnz 2b",
                        n = inout(reg) n => _,
                        x = out($class) _,
                        a0 = out($class) _, a1 = out($class) _, a2 = out($class) _,
                        a3 = out($class) _, a4 = out($class) _, a5 = out($class) _,
                        a6 = out($class) _, a7 = out($class) _, a8 = out($class) _,
                        a9 = out($class) _, a10 = out($class) _, a11 = out($class) _,
                        options(nostack, nomem),
                    );
                }
            }
        };
    }

    dpbusd_loop!(
        /// `n` iterations of 12 independent 512-bit `vpdpbusd`s.
        dpbusd_zmm,
        "avx512f,avx512vnni",
        zmm_reg,
        "vpternlogd {x}, {x}, {x}, 0xff",
        "vpdpbusd"
    );
    dpbusd_loop!(
        /// `n` iterations of 12 independent 256-bit (VEX-encoded, AVX-VNNI) `vpdpbusd`s.
        dpbusd_ymm,
        "avx2,avxvnni",
        ymm_reg,
        "vpcmpeqd {x}, {x}, {x}",
        "{{vex}} vpdpbusd"
    );

    /// `n` iterations of 12 independent `vpmaddubsw` + `vpaddw` pairs (AVX2): each product
    /// (into one of 3 temporaries, renamed by the CPU) added to its own accumulator.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn maddubs_add_ymm(n: u64) {
        if n == 0 {
            return;
        }
        // SAFETY: the caller guarantees AVX2; the loop writes only the registers it declares
        // as outputs, touches no memory, and with `n > 0` ends after `n` iterations.
        unsafe {
            asm!(
                "vpcmpeqd {x}, {x}, {x}",
                "2:",
                "vpmaddubsw {t0}, {x}, {x}", "vpaddw {a0}, {a0}, {t0}",
                "vpmaddubsw {t1}, {x}, {x}", "vpaddw {a1}, {a1}, {t1}",
                "vpmaddubsw {t2}, {x}, {x}", "vpaddw {a2}, {a2}, {t2}",
                "vpmaddubsw {t0}, {x}, {x}", "vpaddw {a3}, {a3}, {t0}",
                "vpmaddubsw {t1}, {x}, {x}", "vpaddw {a4}, {a4}, {t1}",
                "vpmaddubsw {t2}, {x}, {x}", "vpaddw {a5}, {a5}, {t2}",
                "vpmaddubsw {t0}, {x}, {x}", "vpaddw {a6}, {a6}, {t0}",
                "vpmaddubsw {t1}, {x}, {x}", "vpaddw {a7}, {a7}, {t1}",
                "vpmaddubsw {t2}, {x}, {x}", "vpaddw {a8}, {a8}, {t2}",
                "vpmaddubsw {t0}, {x}, {x}", "vpaddw {a9}, {a9}, {t0}",
                "vpmaddubsw {t1}, {x}, {x}", "vpaddw {a10}, {a10}, {t1}",
                "vpmaddubsw {t2}, {x}, {x}", "vpaddw {a11}, {a11}, {t2}",
                "dec {n}",
                "jnz 2b",
                n = inout(reg) n => _,
                x = out(ymm_reg) _,
                t0 = out(ymm_reg) _, t1 = out(ymm_reg) _, t2 = out(ymm_reg) _,
                a0 = out(ymm_reg) _, a1 = out(ymm_reg) _, a2 = out(ymm_reg) _,
                a3 = out(ymm_reg) _, a4 = out(ymm_reg) _, a5 = out(ymm_reg) _,
                a6 = out(ymm_reg) _, a7 = out(ymm_reg) _, a8 = out(ymm_reg) _,
                a9 = out(ymm_reg) _, a10 = out(ymm_reg) _, a11 = out(ymm_reg) _,
                options(nostack, nomem),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_is_measured_where_the_cpu_has_vpdpbusd_or_avx2() {
        let pool = ThreadPool::new(2);
        let peak = int8_peak(&pool);
        #[cfg(target_arch = "x86_64")]
        {
            let vnni = std::arch::is_x86_feature_detected!("avx512vnni")
                && std::arch::is_x86_feature_detected!("avx512f")
                || std::arch::is_x86_feature_detected!("avxvnni");
            assert_eq!(peak.is_some(), vnni || std::arch::is_x86_feature_detected!("avx2"));
        }
        if let Some(p) = peak {
            // Any CPU with the instruction does at least 1 G multiply-adds per second per thread
            // (a 1 GHz core issuing one a cycle does 32-64), and none does a million.
            assert!(p.is_finite() && p > 1.0 && p < 1e6, "{p}");
        }
    }
}
