//! Dot products of K-quant super-blocks with Q8_K activations.
//!
//! Per super-block everything is integer: `Σ_sub scale · Σ q_w q_x` and, for the types with
//! mins, `Σ_sub min · bsum` from the activation's precomputed partial sums; the two are
//! scaled by `d_x · d_w` and `d_x · dmin_w` in f32.

use crate::blocks::*;

fn check<W>(w: &[W], x: &[BlockQ8_K]) {
    assert_eq!(w.len(), x.len(), "dot: {} weight super-blocks against {} Q8_K blocks", w.len(), x.len());
}

/// Σ a·b over the pairs of two (16-element) slices.
#[inline]
fn idot16(q: &[i8], x: &[i8]) -> i32 {
    q.iter().zip(x).map(|(&a, &b)| i32::from(a) * i32::from(b)).sum()
}

/// Sum of bsums of 32-element sub-block `j` (two groups of 16).
#[inline]
fn bsum32(x: &BlockQ8_K, j: usize) -> i32 {
    i32::from(x.bsums[2 * j].get()) + i32::from(x.bsums[2 * j + 1].get())
}

/// Q2_K · Q8_K.
pub fn dot_q2_k_q8_k(w: &[BlockQ2_K], x: &[BlockQ8_K]) -> f32 {
    check(w, x);
    let mut sum = 0.0f32;
    for (w, x) in w.iter().zip(x) {
        let mut sumi = 0i32;
        let mut summ = 0i32;
        // quant index i: 128-half h, shift group g, 16-half k, lane l
        for (is, &sc) in w.scales.iter().enumerate() {
            let (h, g, k) = (is / 8, (is / 2) % 4, is % 2);
            let mut q = [0i8; 16];
            for (l, q) in q.iter_mut().enumerate() {
                *q = ((w.qs[32 * h + 16 * k + l] >> (2 * g)) & 3) as i8;
            }
            sumi += i32::from(sc & 0xf) * idot16(&q, &x.qs[16 * is..16 * is + 16]);
            summ += i32::from(sc >> 4) * i32::from(x.bsums[is].get());
        }
        let dx = x.d.get();
        sum += dx * w.d.to_f32() * sumi as f32 - dx * w.dmin.to_f32() * summ as f32;
    }
    sum
}

/// Q3_K · Q8_K.
pub fn dot_q3_k_q8_k(w: &[BlockQ3_K], x: &[BlockQ8_K]) -> f32 {
    check(w, x);
    let mut sum = 0.0f32;
    for (w, x) in w.iter().zip(x) {
        let scales = scales_q3_k(&w.scales);
        let mut sumi = 0i32;
        for (is, &sc) in scales.iter().enumerate() {
            let (h, g, k) = (is / 8, (is / 2) % 4, is % 2);
            let m = 1u8 << (4 * h + g);
            let mut q = [0i8; 16];
            for (l, q) in q.iter_mut().enumerate() {
                let lo = ((w.qs[32 * h + 16 * k + l] >> (2 * g)) & 3) as i8;
                *q = lo - if w.hmask[16 * k + l] & m != 0 { 0 } else { 4 };
            }
            sumi += i32::from(sc) * idot16(&q, &x.qs[16 * is..16 * is + 16]);
        }
        sum += x.d.get() * w.d.to_f32() * sumi as f32;
    }
    sum
}

/// Integer part of a Q4_K/Q5_K super-block: `(Σ sc·dot, Σ m·bsum)` given its 256 quants.
#[inline]
fn k4_sums(q: &[i8; QK_K], scales: &[u8; 12], x: &BlockQ8_K) -> (i32, i32) {
    let (sc, m) = scales_mins_k4(scales);
    let mut sumi = 0i32;
    let mut summ = 0i32;
    for j in 0..8 {
        let dot: i32 = q[32 * j..32 * j + 32]
            .iter()
            .zip(&x.qs[32 * j..32 * j + 32])
            .map(|(&a, &b)| i32::from(a) * i32::from(b))
            .sum();
        sumi += i32::from(sc[j]) * dot;
        summ += i32::from(m[j]) * bsum32(x, j);
    }
    (sumi, summ)
}

/// Q4_K · Q8_K.
pub fn dot_q4_k_q8_k(w: &[BlockQ4_K], x: &[BlockQ8_K]) -> f32 {
    check(w, x);
    let mut sum = 0.0f32;
    for (w, x) in w.iter().zip(x) {
        let mut q = [0i8; QK_K];
        for (j, qs) in w.qs.chunks_exact(32).enumerate() {
            for l in 0..32 {
                q[64 * j + l] = (qs[l] & 0xf) as i8;
                q[64 * j + 32 + l] = (qs[l] >> 4) as i8;
            }
        }
        let (sumi, summ) = k4_sums(&q, &w.scales, x);
        let dx = x.d.get();
        sum += dx * w.d.to_f32() * sumi as f32 - dx * w.dmin.to_f32() * summ as f32;
    }
    sum
}

/// Q5_K · Q8_K.
pub fn dot_q5_k_q8_k(w: &[BlockQ5_K], x: &[BlockQ8_K]) -> f32 {
    check(w, x);
    let mut sum = 0.0f32;
    for (w, x) in w.iter().zip(x) {
        let mut q = [0i8; QK_K];
        for (j, qs) in w.qs.chunks_exact(32).enumerate() {
            for l in 0..32 {
                let h0 = ((w.qh[l] >> (2 * j)) & 1) << 4;
                let h1 = ((w.qh[l] >> (2 * j + 1)) & 1) << 4;
                q[64 * j + l] = ((qs[l] & 0xf) | h0) as i8;
                q[64 * j + 32 + l] = ((qs[l] >> 4) | h1) as i8;
            }
        }
        let (sumi, summ) = k4_sums(&q, &w.scales, x);
        let dx = x.d.get();
        sum += dx * w.d.to_f32() * sumi as f32 - dx * w.dmin.to_f32() * summ as f32;
    }
    sum
}

/// Q6_K · Q8_K.
pub fn dot_q6_k_q8_k(w: &[BlockQ6_K], x: &[BlockQ8_K]) -> f32 {
    check(w, x);
    let mut sum = 0.0f32;
    for (w, x) in w.iter().zip(x) {
        let mut q = [0i8; QK_K];
        for half in 0..2 {
            let ql = &w.ql[64 * half..64 * half + 64];
            let qh = &w.qh[32 * half..32 * half + 32];
            let q = &mut q[128 * half..128 * half + 128];
            for l in 0..32 {
                q[l] = ((ql[l] & 0xf) | ((qh[l] & 3) << 4)) as i8 - 32;
                q[l + 32] = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) as i8 - 32;
                q[l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8 - 32;
                q[l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8 - 32;
            }
        }
        let mut sumi = 0i32;
        for (is, &sc) in w.scales.iter().enumerate() {
            sumi += i32::from(sc) * idot16(&q[16 * is..16 * is + 16], &x.qs[16 * is..16 * is + 16]);
        }
        sum += x.d.get() * w.d.to_f32() * sumi as f32;
    }
    sum
}
