//! Dequantization to f32, operation for operation as llama.cpp's `dequantize_row_*`.

use crate::blocks::*;

fn check(n_blocks: usize, block: usize, dst: &[f32]) {
    assert_eq!(
        dst.len(),
        n_blocks * block,
        "dequantize: {n_blocks} blocks of {block} into {} floats",
        dst.len()
    );
}

/// F32 bytes → f32.
pub fn dequantize_f32(src: &[F32Le], dst: &mut [f32]) {
    check(src.len(), 1, dst);
    for (y, x) in dst.iter_mut().zip(src) {
        *y = x.get();
    }
}

/// F16 → f32.
pub fn dequantize_f16(src: &[F16Le], dst: &mut [f32]) {
    check(src.len(), 1, dst);
    for (y, x) in dst.iter_mut().zip(src) {
        *y = x.to_f32();
    }
}

/// BF16 → f32.
pub fn dequantize_bf16(src: &[Bf16Le], dst: &mut [f32]) {
    check(src.len(), 1, dst);
    for (y, x) in dst.iter_mut().zip(src) {
        *y = x.to_f32();
    }
}

/// Q4_0 → f32.
pub fn dequantize_q4_0(src: &[BlockQ4_0], dst: &mut [f32]) {
    check(src.len(), QK, dst);
    for (b, y) in src.iter().zip(dst.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        for j in 0..QK / 2 {
            let x0 = i32::from(b.qs[j] & 0x0f) - 8;
            let x1 = i32::from(b.qs[j] >> 4) - 8;
            y[j] = x0 as f32 * d;
            y[j + QK / 2] = x1 as f32 * d;
        }
    }
}

/// Q4_1 → f32.
pub fn dequantize_q4_1(src: &[BlockQ4_1], dst: &mut [f32]) {
    check(src.len(), QK, dst);
    for (b, y) in src.iter().zip(dst.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        let m = b.m.to_f32();
        for j in 0..QK / 2 {
            y[j] = f32::from(b.qs[j] & 0x0f) * d + m;
            y[j + QK / 2] = f32::from(b.qs[j] >> 4) * d + m;
        }
    }
}

/// Q5_0 → f32.
pub fn dequantize_q5_0(src: &[BlockQ5_0], dst: &mut [f32]) {
    check(src.len(), QK, dst);
    for (b, y) in src.iter().zip(dst.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        let qh = u32::from_le_bytes(b.qh);
        for j in 0..QK / 2 {
            let h0 = ((qh >> j) << 4) & 0x10;
            let h1 = (qh >> (j + 12)) & 0x10;
            let x0 = ((u32::from(b.qs[j] & 0x0f) | h0) as i32) - 16;
            let x1 = ((u32::from(b.qs[j] >> 4) | h1) as i32) - 16;
            y[j] = x0 as f32 * d;
            y[j + QK / 2] = x1 as f32 * d;
        }
    }
}

/// Q5_1 → f32.
pub fn dequantize_q5_1(src: &[BlockQ5_1], dst: &mut [f32]) {
    check(src.len(), QK, dst);
    for (b, y) in src.iter().zip(dst.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        let m = b.m.to_f32();
        let qh = u32::from_le_bytes(b.qh);
        for j in 0..QK / 2 {
            let h0 = ((qh >> j) << 4) & 0x10;
            let h1 = (qh >> (j + 12)) & 0x10;
            let x0 = u32::from(b.qs[j] & 0x0f) | h0;
            let x1 = u32::from(b.qs[j] >> 4) | h1;
            y[j] = x0 as f32 * d + m;
            y[j + QK / 2] = x1 as f32 * d + m;
        }
    }
}

/// Q8_0 → f32.
pub fn dequantize_q8_0(src: &[BlockQ8_0], dst: &mut [f32]) {
    check(src.len(), QK, dst);
    for (b, y) in src.iter().zip(dst.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        for (y, &q) in y.iter_mut().zip(&b.qs) {
            *y = f32::from(q) * d;
        }
    }
}

/// Q8_1 → f32 (`d * q`; `s` is redundant).
pub fn dequantize_q8_1(src: &[BlockQ8_1], dst: &mut [f32]) {
    check(src.len(), QK, dst);
    for (b, y) in src.iter().zip(dst.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        for (y, &q) in y.iter_mut().zip(&b.qs) {
            *y = f32::from(q) * d;
        }
    }
}

/// Q2_K → f32.
pub fn dequantize_q2_k(src: &[BlockQ2_K], dst: &mut [f32]) {
    check(src.len(), QK_K, dst);
    for (b, y) in src.iter().zip(dst.chunks_exact_mut(QK_K)) {
        let d = b.d.to_f32();
        let min = b.dmin.to_f32();
        let mut out = y.iter_mut();
        let mut is = 0;
        for q in b.qs.chunks_exact(32) {
            for shift in [0, 2, 4, 6] {
                for half in [&q[..16], &q[16..]] {
                    let sc = b.scales[is];
                    is += 1;
                    let dl = d * f32::from(sc & 0xf);
                    let ml = min * f32::from(sc >> 4);
                    for &ql in half {
                        if let Some(o) = out.next() {
                            *o = dl * f32::from((ql >> shift) & 3) - ml;
                        }
                    }
                }
            }
        }
    }
}

/// Q3_K → f32.
pub fn dequantize_q3_k(src: &[BlockQ3_K], dst: &mut [f32]) {
    check(src.len(), QK_K, dst);
    for (b, y) in src.iter().zip(dst.chunks_exact_mut(QK_K)) {
        let d_all = b.d.to_f32();
        let scales = scales_q3_k(&b.scales);
        let mut out = y.iter_mut();
        let mut is = 0;
        let mut m = 1u8;
        for q in b.qs.chunks_exact(32) {
            for shift in [0, 2, 4, 6] {
                for (q, hm) in [(&q[..16], &b.hmask[..16]), (&q[16..], &b.hmask[16..])] {
                    let dl = d_all * f32::from(scales[is]);
                    is += 1;
                    for (&ql, &h) in q.iter().zip(hm) {
                        let v = i32::from((ql >> shift) & 3) - if h & m != 0 { 0 } else { 4 };
                        if let Some(o) = out.next() {
                            *o = dl * v as f32;
                        }
                    }
                }
                m <<= 1;
            }
        }
    }
}

/// Q4_K → f32.
pub fn dequantize_q4_k(src: &[BlockQ4_K], dst: &mut [f32]) {
    check(src.len(), QK_K, dst);
    for (b, y) in src.iter().zip(dst.chunks_exact_mut(QK_K)) {
        let d = b.d.to_f32();
        let min = b.dmin.to_f32();
        for (j, (q, y)) in b.qs.chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
            let (sc1, m1) = scale_min_k4(2 * j, &b.scales);
            let (sc2, m2) = scale_min_k4(2 * j + 1, &b.scales);
            let (d1, m1) = (d * f32::from(sc1), min * f32::from(m1));
            let (d2, m2) = (d * f32::from(sc2), min * f32::from(m2));
            for l in 0..32 {
                y[l] = d1 * f32::from(q[l] & 0xf) - m1;
                y[l + 32] = d2 * f32::from(q[l] >> 4) - m2;
            }
        }
    }
}

/// Q5_K → f32.
pub fn dequantize_q5_k(src: &[BlockQ5_K], dst: &mut [f32]) {
    check(src.len(), QK_K, dst);
    for (b, y) in src.iter().zip(dst.chunks_exact_mut(QK_K)) {
        let d = b.d.to_f32();
        let min = b.dmin.to_f32();
        for (j, (q, y)) in b.qs.chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
            let (sc1, m1) = scale_min_k4(2 * j, &b.scales);
            let (sc2, m2) = scale_min_k4(2 * j + 1, &b.scales);
            let (d1, m1) = (d * f32::from(sc1), min * f32::from(m1));
            let (d2, m2) = (d * f32::from(sc2), min * f32::from(m2));
            let (u1, u2) = (1u8 << (2 * j), 2u8 << (2 * j));
            for l in 0..32 {
                let h1 = if b.qh[l] & u1 != 0 { 16 } else { 0 };
                let h2 = if b.qh[l] & u2 != 0 { 16 } else { 0 };
                y[l] = d1 * f32::from((q[l] & 0xf) + h1) - m1;
                y[l + 32] = d2 * f32::from((q[l] >> 4) + h2) - m2;
            }
        }
    }
}

/// Q6_K → f32.
pub fn dequantize_q6_k(src: &[BlockQ6_K], dst: &mut [f32]) {
    check(src.len(), QK_K, dst);
    for (b, y) in src.iter().zip(dst.chunks_exact_mut(QK_K)) {
        let d = b.d.to_f32();
        for (half, y) in y.chunks_exact_mut(128).enumerate() {
            let ql = &b.ql[64 * half..64 * half + 64];
            let qh = &b.qh[32 * half..32 * half + 32];
            let sc = &b.scales[8 * half..8 * half + 8];
            for l in 0..32 {
                let is = l / 16;
                let q1 = ((ql[l] & 0xf) | ((qh[l] & 3) << 4)) as i8 - 32;
                let q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) as i8 - 32;
                let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8 - 32;
                let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8 - 32;
                y[l] = d * f32::from(sc[is]) * f32::from(q1);
                y[l + 32] = d * f32::from(sc[is + 2]) * f32::from(q2);
                y[l + 64] = d * f32::from(sc[is + 4]) * f32::from(q3);
                y[l + 96] = d * f32::from(sc[is + 6]) * f32::from(q4);
            }
        }
    }
}

/// Q8_K → f32.
pub fn dequantize_q8_k(src: &[BlockQ8_K], dst: &mut [f32]) {
    check(src.len(), QK_K, dst);
    for (b, y) in src.iter().zip(dst.chunks_exact_mut(QK_K)) {
        let d = b.d.get();
        for (y, &q) in y.iter_mut().zip(&b.qs) {
            *y = d * f32::from(q);
        }
    }
}
