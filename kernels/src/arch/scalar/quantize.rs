//! Quantization from f32.
//!
//! Activation formats follow llama.cpp's CPU backend *as it runs on x86 with AVX2*, the
//! path hearth's parity targets, and every hearth kernel (scalar, AVX2, NEON) produces the
//! same bytes:
//!
//! - Q8_0 / Q8_1 ([`quantize_q8_0`], [`quantize_q8_1`]): ggml-cpu/arch/x86/quants.c
//!   `quantize_row_q8_0`: `d = amax / 127`, multiplier `127 / amax`, round half to even
//!   (`_mm256_round_ps(.., _MM_ROUND_NEAREST)`). This differs from `quantize_row_q8_0_ref`
//!   (multiplier `1 / d`, `roundf` = half away from zero) and from ggml's ARM path
//!   (`1 / d`, half to even) in rare last-bit cases; ggml's AVX2 path is the one that
//!   produced the parity goldens.
//! - Q8_K ([`quantize_q8_k`]): `quantize_row_q8_K_ref`, which every ggml CPU backend uses;
//!   an all-zero block also gets zero `bsums` (ggml leaves them stale; they are multiplied
//!   by `d = 0`).
//!
//! Like ggml's, these formats have f16 fields that overflow to infinity beyond 65504: the
//! Q8_0/Q8_1 scale (|x| > ~8.3e6) and Q8_1's `s` (|Σx| over a block > 65504).
//!
//! Weight formats Q4_0, Q4_1, Q5_0, Q5_1 follow ggml's `quantize_row_*_ref` (the K-quants
//! are in `quantize_k.rs`).

use bytemuck::Zeroable;

use crate::blocks::*;

fn check(n_blocks: usize, block: usize, src: &[f32]) {
    assert_eq!(
        src.len(),
        n_blocks * block,
        "quantize: {} floats into {n_blocks} blocks of {block}",
        src.len()
    );
}

/// f32 → F32 bytes.
pub fn quantize_f32(src: &[f32], dst: &mut [F32Le]) {
    check(dst.len(), 1, src);
    for (y, &x) in dst.iter_mut().zip(src) {
        *y = F32Le::new(x);
    }
}

/// f32 → F16 (round to nearest even).
pub fn quantize_f16(src: &[f32], dst: &mut [F16Le]) {
    check(dst.len(), 1, src);
    for (y, &x) in dst.iter_mut().zip(src) {
        *y = F16Le::from_f32(x);
    }
}

/// f32 → BF16 (ggml's rounding).
pub fn quantize_bf16(src: &[f32], dst: &mut [Bf16Le]) {
    check(dst.len(), 1, src);
    for (y, &x) in dst.iter_mut().zip(src) {
        *y = Bf16Le::from_f32(x);
    }
}

/// Largest magnitude in `x` (0 for an empty slice).
#[inline]
fn abs_max(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// One Q8_0 block as ggml's AVX2 path: fills `qs`, returns `(d, Σq)`.
#[inline]
fn q8_block(x: &[f32], qs: &mut [i8; QK]) -> (f32, i32) {
    let amax = abs_max(x);
    let d = amax / 127.0;
    let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
    let mut sum = 0;
    for (q, &v) in qs.iter_mut().zip(x) {
        let r = (v * id).round_ties_even() as i32;
        *q = r.clamp(-128, 127) as i8;
        sum += r.clamp(-128, 127);
    }
    (d, sum)
}

/// f32 → Q8_0 activations (ggml's x86 AVX2 semantics, see the module docs).
pub fn quantize_q8_0(src: &[f32], dst: &mut [BlockQ8_0]) {
    check(dst.len(), QK, src);
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK)) {
        let (d, _) = q8_block(x, &mut y.qs);
        y.d = F16Le::from_f32(d);
    }
}

/// f32 → Q8_1 activations (ggml's x86 AVX2 semantics; `s = f16(d * Σq)` with the f32 `d`).
pub fn quantize_q8_1(src: &[f32], dst: &mut [BlockQ8_1]) {
    check(dst.len(), QK, src);
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK)) {
        let (d, sum) = q8_block(x, &mut y.qs);
        y.d = F16Le::from_f32(d);
        y.s = F16Le::from_f32(d * sum as f32);
    }
}

/// f32 → Q8_K activations (`quantize_row_q8_K_ref`).
pub fn quantize_q8_k(src: &[f32], dst: &mut [BlockQ8_K]) {
    check(dst.len(), QK_K, src);
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK_K)) {
        // `max` is the first element of largest magnitude, sign kept.
        let mut amax = 0.0f32;
        let mut max = 0.0f32;
        for &v in x {
            if v.abs() > amax {
                amax = v.abs();
                max = v;
            }
        }
        if amax == 0.0 {
            *y = BlockQ8_K::zeroed();
            continue;
        }
        let iscale = -127.0 / max;
        for (q, &v) in y.qs.iter_mut().zip(x) {
            // ggml's nearest_int (round half to even), then MIN(127, q); |iscale·v| ≤ 127 so
            // the lower clamp never acts (it keeps SIMD saturation identical regardless).
            *q = ((iscale * v).round_ties_even() as i32).clamp(-128, 127) as i8;
        }
        for (s, q) in y.bsums.iter_mut().zip(y.qs.chunks_exact(16)) {
            *s = I16Le::new(q.iter().map(|&q| i16::from(q)).sum());
        }
        y.d = F32Le::new(1.0 / iscale);
    }
}

/// Where the largest magnitude of `x` is (first one) and its signed value.
#[inline]
fn signed_abs_max(x: &[f32]) -> f32 {
    let mut amax = 0.0f32;
    let mut max = 0.0f32;
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    max
}

/// f32 → Q4_0 weights (`quantize_row_q4_0_ref`).
pub fn quantize_q4_0(src: &[f32], dst: &mut [BlockQ4_0]) {
    check(dst.len(), QK, src);
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK)) {
        let d = signed_abs_max(x) / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        y.d = F16Le::from_f32(d);
        for j in 0..QK / 2 {
            let x0 = ((x[j] * id + 8.5) as i8).min(15) as u8;
            let x1 = ((x[j + QK / 2] * id + 8.5) as i8).min(15) as u8;
            y.qs[j] = x0 | (x1 << 4);
        }
    }
}

/// Min and max of `x`.
#[inline]
fn min_max(x: &[f32]) -> (f32, f32) {
    x.iter().fold((f32::MAX, -f32::MAX), |(lo, hi), &v| {
        (if v < lo { v } else { lo }, if v > hi { v } else { hi })
    })
}

/// f32 → Q4_1 weights (`quantize_row_q4_1_ref`).
pub fn quantize_q4_1(src: &[f32], dst: &mut [BlockQ4_1]) {
    check(dst.len(), QK, src);
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK)) {
        let (min, max) = min_max(x);
        let d = (max - min) / 15.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        y.d = F16Le::from_f32(d);
        y.m = F16Le::from_f32(min);
        for j in 0..QK / 2 {
            let x0 = (((x[j] - min) * id + 0.5) as i8).min(15) as u8;
            let x1 = (((x[j + QK / 2] - min) * id + 0.5) as i8).min(15) as u8;
            y.qs[j] = x0 | (x1 << 4);
        }
    }
}

/// f32 → Q5_0 weights (`quantize_row_q5_0_ref`).
pub fn quantize_q5_0(src: &[f32], dst: &mut [BlockQ5_0]) {
    check(dst.len(), QK, src);
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK)) {
        let d = signed_abs_max(x) / -16.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        y.d = F16Le::from_f32(d);
        let mut qh = 0u32;
        for j in 0..QK / 2 {
            let x0 = ((x[j] * id + 16.5) as i8).min(31) as u8;
            let x1 = ((x[j + QK / 2] * id + 16.5) as i8).min(31) as u8;
            y.qs[j] = (x0 & 0x0f) | ((x1 & 0x0f) << 4);
            qh |= u32::from(x0 >> 4) << j;
            qh |= u32::from(x1 >> 4) << (j + QK / 2);
        }
        y.qh = qh.to_le_bytes();
    }
}

/// f32 → Q5_1 weights (`quantize_row_q5_1_ref`).
pub fn quantize_q5_1(src: &[f32], dst: &mut [BlockQ5_1]) {
    check(dst.len(), QK, src);
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK)) {
        let (min, max) = min_max(x);
        let d = (max - min) / 31.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        y.d = F16Le::from_f32(d);
        y.m = F16Le::from_f32(min);
        let mut qh = 0u32;
        for j in 0..QK / 2 {
            let x0 = (((x[j] - min) * id + 0.5) as u8).min(31);
            let x1 = (((x[j + QK / 2] - min) * id + 0.5) as u8).min(31);
            y.qs[j] = (x0 & 0x0f) | ((x1 & 0x0f) << 4);
            qh |= u32::from(x0 >> 4) << j;
            qh |= u32::from(x1 >> 4) << (j + QK / 2);
        }
        y.qh = qh.to_le_bytes();
    }
}
