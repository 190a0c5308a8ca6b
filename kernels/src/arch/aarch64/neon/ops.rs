//! NEON versions of the f32 ops (aarch64), where they are simple; the f16 helpers and GELU
//! use the scalar twins (f16 arithmetic intrinsics are not stable in Rust).
//!
//! The safe wrappers, named as their scalar twins in `arch/scalar/ops.rs`, are reachable
//! only through [`OPS`], which only the NEON kernel tables hold ([`crate::Kernels::neon`],
//! [`crate::Kernels::neon_dotprod`] hand them out after detecting NEON).

use std::arch::aarch64::*;

use crate::arch::scalar::ops as scalar;
use crate::ops::Ops;

/// The NEON f32 ops.
pub(crate) static OPS: Ops = Ops {
    name: "neon",
    scale_mul,
    cvar,
    exp_sum,
    silu,
    swiglu,
    gelu: scalar::gelu,
    geglu: scalar::geglu,
    add,
    mul,
    scale,
    f32_to_f16: scalar::f32_to_f16,
    f16_to_f32: scalar::f16_to_f32,
    dot_f32_f16: scalar::dot_f32_f16,
    dot_f16: scalar::dot_f16,
    axpy_f16: scalar::axpy_f16,
    weighted_sum_f16: scalar::weighted_sum_f16,
    scores_f16_widened: scalar::scores_f16_widened,
    weighted_sum_f16_widened: scalar::weighted_sum_f16_widened,
};

/// Defines the safe table entry `$name` calling the `#[target_feature]` kernel `$imp`.
macro_rules! safe_entry {
    ($name:ident => $imp:ident ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)?) => {
        fn $name($($arg: $ty),*) $(-> $ret)? {
            // SAFETY: this wrapper is only reachable through `OPS`, held only by the NEON
            // kernel tables, which `Kernels::neon()` / `Kernels::neon_dotprod()` hand out
            // only after `is_aarch64_feature_detected!("neon")`.
            unsafe { $imp($($arg),*) }
        }
    };
}

safe_entry!(scale_mul => scale_mul_neon(x: &[f32], s: f32, w: &[f32], out: &mut [f32]));
safe_entry!(cvar => cvar_neon(x: &[f32], mean: f32, out: &mut [f32]) -> f64);
safe_entry!(exp_sum => exp_sum_neon(x: &mut [f32], max: f32) -> f64);
safe_entry!(silu => silu_neon(x: &[f32], out: &mut [f32]));
safe_entry!(swiglu => swiglu_neon(gate: &[f32], up: &[f32], out: &mut [f32]));
safe_entry!(add => add_neon(x: &mut [f32], y: &[f32]));
safe_entry!(mul => mul_neon(x: &mut [f32], y: &[f32]));
safe_entry!(scale => scale_neon(x: &mut [f32], s: f32));

/// ggml's NEON `ggml_v_expf` (≤ 1.5 ulp).
#[inline]
#[target_feature(enable = "neon")]
fn expf4(x: float32x4_t) -> float32x4_t {
    let c = |bits: u32| vdupq_n_f32(f32::from_bits(bits));
    let r = c(0x4b40_0000); // 0x1.8p23
    let z = vfmaq_f32(r, x, c(0x3fb8_aa3b));
    let n = vsubq_f32(z, r);
    let b = vfmsq_f32(vfmsq_f32(x, n, c(0x3f31_7200)), n, c(0x35bf_be8e));
    let e = vshlq_n_u32::<23>(vreinterpretq_u32_f32(z));
    let k = vreinterpretq_f32_u32(vaddq_u32(e, vreinterpretq_u32_f32(vdupq_n_f32(1.0))));
    let cm = vcagtq_f32(n, vdupq_n_f32(126.0));
    let u = vmulq_f32(b, b);
    let j = vfmaq_f32(
        vmulq_f32(c(0x3f7f_fff6), b),
        vfmaq_f32(
            vfmaq_f32(c(0x3eff_fedb), c(0x3e2a_af33), b),
            vfmaq_f32(c(0x3d2b_9f17), c(0x3c07_2010), b),
            u,
        ),
        u,
    );
    if vmaxvq_u32(cm) == 0 {
        return vfmaq_f32(k, j, k);
    }
    let d = vandq_u32(vclezq_f32(n), vdupq_n_u32(0x8200_0000));
    let s1 = vreinterpretq_f32_u32(vaddq_u32(d, vdupq_n_u32(0x7f00_0000)));
    let s2 = vreinterpretq_f32_u32(vsubq_u32(e, d));
    vbslq_f32(
        vcagtq_f32(n, vdupq_n_f32(192.0)),
        vmulq_f32(s1, s1),
        vbslq_f32(cm, vmulq_f32(vfmaq_f32(s2, s2, j), s1), vfmaq_f32(k, k, j)),
    )
}

/// ggml's NEON `ggml_v_silu`.
#[inline]
#[target_feature(enable = "neon")]
fn silu4(x: float32x4_t) -> float32x4_t {
    let neg = vsubq_f32(vdupq_n_f32(0.0), x);
    vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0), expf4(neg)))
}

/// # Safety
/// NEON required; `w` and `out` at least as long as `x`.
#[target_feature(enable = "neon")]
unsafe fn scale_mul_neon(x: &[f32], s: f32, w: &[f32], out: &mut [f32]) {
    let n = x.len();
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n and the three slices hold at least n elements.
        unsafe {
            let v = vmulq_f32(vmulq_n_f32(vld1q_f32(x.as_ptr().add(i)), s), vld1q_f32(w.as_ptr().add(i)));
            vst1q_f32(out.as_mut_ptr().add(i), v);
        }
        i += 4;
    }
    scalar::scale_mul(&x[i..], s, &w[i..n], &mut out[i..n]);
}

/// # Safety
/// NEON required; `out` at least as long as `x`.
#[target_feature(enable = "neon")]
unsafe fn cvar_neon(x: &[f32], mean: f32, out: &mut [f32]) -> f64 {
    let n = x.len();
    let vm = vdupq_n_f32(mean);
    let mut sum = 0.0f64;
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n and both slices hold at least n elements.
        let v = unsafe {
            let v = vsubq_f32(vld1q_f32(x.as_ptr().add(i)), vm);
            vst1q_f32(out.as_mut_ptr().add(i), v);
            v
        };
        sum += f64::from(vaddvq_f32(vmulq_f32(v, v)));
        i += 4;
    }
    for (o, &v) in out[i..n].iter_mut().zip(&x[i..]) {
        let d = v - mean;
        *o = d;
        sum += f64::from(d * d);
    }
    sum / n as f64
}

/// # Safety
/// NEON required.
#[target_feature(enable = "neon")]
unsafe fn exp_sum_neon(x: &mut [f32], max: f32) -> f64 {
    let n = x.len();
    let vm = vdupq_n_f32(max);
    let p = x.as_mut_ptr();
    let mut sum = 0.0f64;
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n = x.len().
        let v = unsafe {
            let v = expf4(vsubq_f32(vld1q_f32(p.add(i)), vm));
            vst1q_f32(p.add(i), v);
            v
        };
        sum += f64::from(vaddvq_f32(v));
        i += 4;
    }
    sum + scalar::exp_sum(&mut x[i..], max)
}

/// # Safety
/// NEON required; `out` at least as long as `x`.
#[target_feature(enable = "neon")]
unsafe fn silu_neon(x: &[f32], out: &mut [f32]) {
    let n = x.len();
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n and both slices hold at least n elements.
        unsafe { vst1q_f32(out.as_mut_ptr().add(i), silu4(vld1q_f32(x.as_ptr().add(i)))) };
        i += 4;
    }
    scalar::silu(&x[i..], &mut out[i..n]);
}

/// # Safety
/// NEON required; `up` and `out` at least as long as `gate`.
#[target_feature(enable = "neon")]
unsafe fn swiglu_neon(gate: &[f32], up: &[f32], out: &mut [f32]) {
    let n = gate.len();
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n and the three slices hold at least n elements.
        unsafe {
            let v = vmulq_f32(silu4(vld1q_f32(gate.as_ptr().add(i))), vld1q_f32(up.as_ptr().add(i)));
            vst1q_f32(out.as_mut_ptr().add(i), v);
        }
        i += 4;
    }
    scalar::swiglu(&gate[i..], &up[i..n], &mut out[i..n]);
}

/// Element-wise `x = op(x, y)` over 4 lanes, scalar tail.
macro_rules! binary_inplace {
    ($name:ident, $vop:ident, $op:tt) => {
        /// # Safety
        /// NEON required; `y` at least as long as `x`.
        #[target_feature(enable = "neon")]
        unsafe fn $name(x: &mut [f32], y: &[f32]) {
            let n = x.len();
            let p = x.as_mut_ptr();
            let mut i = 0;
            while i + 4 <= n {
                // SAFETY: i + 4 <= n and both slices hold at least n elements.
                unsafe { vst1q_f32(p.add(i), $vop(vld1q_f32(p.add(i)), vld1q_f32(y.as_ptr().add(i)))) };
                i += 4;
            }
            for (a, &b) in x[i..].iter_mut().zip(&y[i..n]) {
                *a $op b;
            }
        }
    };
}

binary_inplace!(add_neon, vaddq_f32, +=);
binary_inplace!(mul_neon, vmulq_f32, *=);

/// # Safety
/// NEON required.
#[target_feature(enable = "neon")]
unsafe fn scale_neon(x: &mut [f32], s: f32) {
    let n = x.len();
    let p = x.as_mut_ptr();
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n = x.len().
        unsafe { vst1q_f32(p.add(i), vmulq_n_f32(vld1q_f32(p.add(i)), s)) };
        i += 4;
    }
    scalar::scale(&mut x[i..], s);
}
