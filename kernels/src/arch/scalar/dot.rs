//! Dot products of float rows and of the 32-element block types.
//!
//! Each block's integer dot is exact (i32); it is scaled by `d_w * d_x` and summed in f32,
//! as ggml does.

use crate::blocks::*;

fn check<W, X>(w: &[W], x: &[X], ratio: usize) {
    assert_eq!(
        w.len() * ratio,
        x.len(),
        "dot: {} weight blocks against {} activation blocks",
        w.len(),
        x.len()
    );
}

/// F32 · F32 (f64 accumulation).
pub fn dot_f32(w: &[F32Le], x: &[F32Le]) -> f32 {
    check(w, x, 1);
    w.iter().zip(x).map(|(a, b)| f64::from(a.get()) * f64::from(b.get())).sum::<f64>() as f32
}

/// F16 · F16 (f64 accumulation).
pub fn dot_f16(w: &[F16Le], x: &[F16Le]) -> f32 {
    check(w, x, 1);
    w.iter().zip(x).map(|(a, b)| f64::from(a.to_f32()) * f64::from(b.to_f32())).sum::<f64>() as f32
}

/// BF16 · BF16 (f64 accumulation).
pub fn dot_bf16(w: &[Bf16Le], x: &[Bf16Le]) -> f32 {
    check(w, x, 1);
    w.iter().zip(x).map(|(a, b)| f64::from(a.to_f32()) * f64::from(b.to_f32())).sum::<f64>() as f32
}

/// Σ a·b over 32 pairs.
#[inline]
fn idot(a: &[i8; QK], b: &[i8; QK]) -> i32 {
    a.iter().zip(b).map(|(&a, &b)| i32::from(a) * i32::from(b)).sum()
}

/// Σ a·b over 16 + 16 pairs: `lo[j]` meets `x[j]`, `hi[j]` meets `x[j + 16]`.
#[inline]
fn idot_split(lo: impl Fn(usize) -> i32, hi: impl Fn(usize) -> i32, x: &[i8; QK]) -> i32 {
    (0..QK / 2).map(|j| lo(j) * i32::from(x[j]) + hi(j) * i32::from(x[j + QK / 2])).sum()
}

/// Q4_0 · Q8_0.
pub fn dot_q4_0_q8_0(w: &[BlockQ4_0], x: &[BlockQ8_0]) -> f32 {
    check(w, x, 1);
    let mut sum = 0.0f32;
    for (w, x) in w.iter().zip(x) {
        let sumi = idot_split(|j| i32::from(w.qs[j] & 0xf) - 8, |j| i32::from(w.qs[j] >> 4) - 8, &x.qs);
        sum += sumi as f32 * (w.d.to_f32() * x.d.to_f32());
    }
    sum
}

/// Q4_1 · Q8_1: `d_w d_x Σ q_w q_x + m_w s_x`.
pub fn dot_q4_1_q8_1(w: &[BlockQ4_1], x: &[BlockQ8_1]) -> f32 {
    check(w, x, 1);
    let mut sum = 0.0f32;
    for (w, x) in w.iter().zip(x) {
        let sumi = idot_split(|j| i32::from(w.qs[j] & 0xf), |j| i32::from(w.qs[j] >> 4), &x.qs);
        sum += sumi as f32 * (w.d.to_f32() * x.d.to_f32()) + w.m.to_f32() * x.s.to_f32();
    }
    sum
}

/// The 5-bit quants of a Q5 block, unsigned (0..32).
#[inline]
fn q5_quants(qh: [u8; 4], qs: &[u8; QK / 2]) -> [i8; QK] {
    let qh = u32::from_le_bytes(qh);
    let mut q = [0i8; QK];
    for j in 0..QK / 2 {
        q[j] = ((qs[j] & 0xf) | ((((qh >> j) & 1) as u8) << 4)) as i8;
        q[j + QK / 2] = ((qs[j] >> 4) | ((((qh >> (j + 16)) & 1) as u8) << 4)) as i8;
    }
    q
}

/// Q5_0 · Q8_0.
pub fn dot_q5_0_q8_0(w: &[BlockQ5_0], x: &[BlockQ8_0]) -> f32 {
    check(w, x, 1);
    let mut sum = 0.0f32;
    for (w, x) in w.iter().zip(x) {
        let mut q = q5_quants(w.qh, &w.qs);
        q.iter_mut().for_each(|q| *q -= 16);
        sum += idot(&q, &x.qs) as f32 * (w.d.to_f32() * x.d.to_f32());
    }
    sum
}

/// Q5_1 · Q8_1.
pub fn dot_q5_1_q8_1(w: &[BlockQ5_1], x: &[BlockQ8_1]) -> f32 {
    check(w, x, 1);
    let mut sum = 0.0f32;
    for (w, x) in w.iter().zip(x) {
        let q = q5_quants(w.qh, &w.qs);
        sum += idot(&q, &x.qs) as f32 * (w.d.to_f32() * x.d.to_f32()) + w.m.to_f32() * x.s.to_f32();
    }
    sum
}

/// Q8_0 · Q8_0.
pub fn dot_q8_0_q8_0(w: &[BlockQ8_0], x: &[BlockQ8_0]) -> f32 {
    check(w, x, 1);
    let mut sum = 0.0f32;
    for (w, x) in w.iter().zip(x) {
        sum += idot(&w.qs, &x.qs) as f32 * (w.d.to_f32() * x.d.to_f32());
    }
    sum
}
