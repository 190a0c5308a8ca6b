//! K-quant weight quantizers: ggml's `quantize_row_q{2,3,4,5,6}_K_ref` (what
//! `llama-quantize` runs without an importance matrix), operation for operation, so the
//! bytes equal ggml's built without floating-point contraction. Used to make test and
//! benchmark weights from real-looking floats; not on any hot path.

use bytemuck::Zeroable;

use crate::blocks::*;

/// ggml's `GROUP_MAX_EPS`: groups below this magnitude quantize to zero.
const GROUP_MAX_EPS: f32 = 1e-15;

/// ggml's `nearest_int`: round half to even through the float adder (valid for
/// |x| ≤ 4194303, as in ggml).
#[inline]
fn nearest_int(fval: f32) -> i32 {
    let val = fval + 12_582_912.0;
    (val.to_bits() & 0x007f_ffff) as i32 - 0x0040_0000
}

fn check(n_blocks: usize, src: &[f32]) {
    assert_eq!(src.len(), n_blocks * QK_K, "quantize: {} floats into {n_blocks} blocks of {QK_K}", src.len());
}

/// ggml's `make_qx_quants`: symmetric `nmax`-level quants of `x` into `l` (offset by
/// `nmax`), with the scale refined for weighted RMSE (`rmse_type` 1: weights x²). Returns
/// the scale.
fn make_qx_quants(nmax: i32, x: &[f32], l_out: &mut [i8], rmse_type: i32) -> f32 {
    let (mut max, mut amax) = (0.0f32, 0.0f32);
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    if amax < GROUP_MAX_EPS {
        l_out.fill(0);
        return 0.0;
    }
    let weight = |v: f32| match rmse_type {
        1 => v * v,
        2 => 1.0,
        3 => v.abs(),
        _ => v.abs().sqrt(),
    };
    let nmaxf = nmax as f32;
    let mut iscale = -nmaxf / max;
    let (mut sumlx, mut suml2) = (0.0f32, 0.0f32);
    for (v, lo) in x.iter().zip(l_out.iter_mut()) {
        let l = nearest_int(iscale * v).clamp(-nmax, nmax - 1);
        *lo = (l + nmax) as i8;
        let w = weight(*v);
        sumlx += w * v * l as f32;
        suml2 += w * l as f32 * l as f32;
    }
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in -9..=9 {
        if is == 0 {
            continue;
        }
        iscale = -(nmaxf + 0.1 * is as f32) / max;
        sumlx = 0.0;
        suml2 = 0.0;
        for v in x {
            let l = nearest_int(iscale * v).clamp(-nmax, nmax - 1);
            let w = weight(*v);
            sumlx += w * v * l as f32;
            suml2 += w * l as f32 * l as f32;
        }
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            for (v, lo) in x.iter().zip(l_out.iter_mut()) {
                *lo = (nmax + nearest_int(iscale * v).clamp(-nmax, nmax - 1)) as i8;
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// ggml's `make_q3_quants` with `do_rmse`: quants in `0..2·nmax` into `l`, returns the scale.
fn make_q3_quants(nmax: i32, x: &[f32], l_out: &mut [i8]) -> f32 {
    let (mut max, mut amax) = (0.0f32, 0.0f32);
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    if amax < GROUP_MAX_EPS {
        l_out.fill(0);
        return 0.0;
    }
    let iscale = -(nmax as f32) / max;
    let (mut sumlx, mut suml2) = (0.0f32, 0.0f32);
    for (v, lo) in x.iter().zip(l_out.iter_mut()) {
        let l = nearest_int(iscale * v).clamp(-nmax, nmax - 1);
        *lo = l as i8;
        let w = v * v;
        sumlx += w * v * l as f32;
        suml2 += w * l as f32 * l as f32;
    }
    for _ in 0..5 {
        let mut n_changed = 0;
        for (i, &v) in x.iter().enumerate() {
            let w = v * v;
            let li = f32::from(l_out[i]);
            let mut slx = sumlx - w * v * li;
            if slx > 0.0 {
                let mut sl2 = suml2 - w * li * li;
                let new_l = nearest_int(v * sl2 / slx).clamp(-nmax, nmax - 1);
                if new_l != i32::from(l_out[i]) {
                    slx += w * v * new_l as f32;
                    sl2 += w * new_l as f32 * new_l as f32;
                    if sl2 > 0.0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                        l_out[i] = new_l as i8;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed += 1;
                    }
                }
            }
        }
        if n_changed == 0 {
            break;
        }
    }
    for l in l_out.iter_mut() {
        *l += nmax as i8;
    }
    if suml2 > 0.0 { sumlx / suml2 } else { 0.0 }
}

/// Parameters of ggml's `make_qkx2_quants` search.
struct Qkx2 {
    nmax: i32,
    rmin: f32,
    rdelta: f32,
    nstep: i32,
    use_mad: bool,
}

/// ggml's `make_qkx2_quants`: asymmetric quants `0..=nmax` with a min, weighted by
/// `weights`. Writes `l`, returns `(scale, -min)`.
fn make_qkx2_quants(p: &Qkx2, x: &[f32], weights: &[f32], l_out: &mut [u8]) -> (f32, f32) {
    let n = x.len();
    let (mut min, mut max) = (x[0], x[0]);
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..n {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        let w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        l_out.fill(0);
        return (0.0, -min);
    }
    let nmaxf = p.nmax as f32;
    let err = |diff: f32| if p.use_mad { diff.abs() } else { diff * diff };
    let mut iscale = nmaxf / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0.0f32;
    for i in 0..n {
        let l = nearest_int(iscale * (x[i] - min)).clamp(0, p.nmax);
        l_out[i] = l as u8;
        let diff = scale * l as f32 + min - x[i];
        best_error += weights[i] * err(diff);
    }
    if p.nstep < 1 {
        return (scale, -min);
    }
    let mut laux = [0u8; 32];
    for is in 0..=p.nstep {
        iscale = (p.rmin + p.rdelta * is as f32 + nmaxf) / (max - min);
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0.0f32, 0.0f32, 0.0f32);
        for i in 0..n {
            let l = nearest_int(iscale * (x[i] - min)).clamp(0, p.nmax);
            laux[i] = l as u8;
            let (w, lf) = (weights[i], l as f32);
            sum_l += w * lf;
            sum_l2 += w * lf * lf;
            sum_xl += w * lf * x[i];
        }
        let d = sum_w * sum_l2 - sum_l * sum_l;
        if d > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / d;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / d;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0.0f32;
            for i in 0..n {
                let diff = this_scale * f32::from(laux[i]) + this_min - x[i];
                cur_error += weights[i] * err(diff);
            }
            if cur_error < best_error {
                l_out[..n].copy_from_slice(&laux[..n]);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

/// Packs 2-bit values `l[0..256]` as Q2_K/Q3_K `qs`.
fn pack_2bit(l: &[u8; QK_K], qs: &mut [u8; QK_K / 4]) {
    for j in (0..QK_K).step_by(128) {
        for i in 0..32 {
            qs[j / 4 + i] = l[j + i] | (l[j + i + 32] << 2) | (l[j + i + 64] << 4) | (l[j + i + 96] << 6);
        }
    }
}

/// f32 → Q2_K weights (`quantize_row_q2_K_ref`).
pub fn quantize_q2_k(src: &[f32], dst: &mut [BlockQ2_K]) {
    check(dst.len(), src);
    let p = Qkx2 { nmax: 3, rmin: -0.5, rdelta: 0.1, nstep: 15, use_mad: true };
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK_K)) {
        let mut l = [0u8; QK_K];
        let mut scales = [0f32; 16];
        let mut mins = [0f32; 16];
        let (mut max_scale, mut max_min) = (0.0f32, 0.0f32);
        for j in 0..16 {
            let xs = &x[16 * j..16 * j + 16];
            let weights: [f32; 16] = std::array::from_fn(|i| xs[i].abs());
            (scales[j], mins[j]) = make_qkx2_quants(&p, xs, &weights, &mut l[16 * j..16 * j + 16]);
            max_scale = if scales[j] > max_scale { scales[j] } else { max_scale };
            max_min = if mins[j] > max_min { mins[j] } else { max_min };
        }
        if max_scale > 0.0 {
            let iscale = 15.0 / max_scale;
            for (q, s) in y.scales.iter_mut().zip(&scales) {
                *q = nearest_int(iscale * s) as u8;
            }
            y.d = F16Le::from_f32(max_scale / 15.0);
        } else {
            y.scales = [0; 16];
            y.d = F16Le::from_f32(0.0);
        }
        if max_min > 0.0 {
            let iscale = 15.0 / max_min;
            for (q, m) in y.scales.iter_mut().zip(&mins) {
                *q |= (nearest_int(iscale * m) << 4) as u8;
            }
            y.dmin = F16Le::from_f32(max_min / 15.0);
        } else {
            y.dmin = F16Le::from_f32(0.0);
        }
        for j in 0..16 {
            let d = y.d.to_f32() * f32::from(y.scales[j] & 0xf);
            if d == 0.0 {
                continue;
            }
            let dm = y.dmin.to_f32() * f32::from(y.scales[j] >> 4);
            for i in 0..16 {
                l[16 * j + i] = nearest_int((x[16 * j + i] + dm) / d).clamp(0, 3) as u8;
            }
        }
        pack_2bit(&l, &mut y.qs);
    }
}

/// f32 → Q3_K weights (`quantize_row_q3_K_ref`).
pub fn quantize_q3_k(src: &[f32], dst: &mut [BlockQ3_K]) {
    check(dst.len(), src);
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK_K)) {
        let mut l = [0i8; QK_K];
        let mut scales = [0f32; 16];
        let (mut max_scale, mut amax) = (0.0f32, 0.0f32);
        for j in 0..16 {
            scales[j] = make_q3_quants(4, &x[16 * j..16 * j + 16], &mut l[16 * j..16 * j + 16]);
            if scales[j].abs() > amax {
                amax = scales[j].abs();
                max_scale = scales[j];
            }
        }
        y.scales = [0; 12];
        if max_scale != 0.0 {
            let iscale = -32.0 / max_scale;
            for (j, s) in scales.iter().enumerate() {
                // ggml stores the rounded scale in an int8 before clamping
                let q = ((nearest_int(iscale * s) as i8).clamp(-32, 31) + 32) as u8;
                if j < 8 {
                    y.scales[j] = q & 0xf;
                } else {
                    y.scales[j - 8] |= (q & 0xf) << 4;
                }
                y.scales[j % 4 + 8] |= (q >> 4) << (2 * (j / 4));
            }
            y.d = F16Le::from_f32(1.0 / iscale);
        } else {
            y.d = F16Le::from_f32(0.0);
        }
        let sc = scales_q3_k(&y.scales);
        for j in 0..16 {
            let d = y.d.to_f32() * f32::from(sc[j]);
            if d == 0.0 {
                continue;
            }
            for i in 0..16 {
                l[16 * j + i] = (nearest_int(x[16 * j + i] / d).clamp(-4, 3) + 4) as i8;
            }
        }
        y.hmask = [0; 32];
        let mut lu = [0u8; QK_K];
        for (j, (&q, lu)) in l.iter().zip(lu.iter_mut()).enumerate() {
            let mut q = q as u8;
            if q > 3 {
                y.hmask[j % 32] |= 1 << (j / 32);
                q -= 4;
            }
            *lu = q;
        }
        pack_2bit(&lu, &mut y.qs);
    }
}

/// Q4_K/Q5_K: per-sub-block scales and mins, their 6-bit encoding, and final quants.
fn quantize_k4(
    x: &[f32],
    nmax: i32,
    p: &Qkx2,
    scales_out: &mut [u8; 12],
    d: &mut F16Le,
    dmin: &mut F16Le,
) -> [u8; QK_K] {
    let mut l = [0u8; QK_K];
    let mut scales = [0f32; 8];
    let mut mins = [0f32; 8];
    let (mut max_scale, mut max_min) = (0.0f32, 0.0f32);
    for j in 0..8 {
        let xs = &x[32 * j..32 * j + 32];
        let mut sum_x2 = 0.0f32;
        for v in xs {
            sum_x2 += v * v;
        }
        let av_x = (sum_x2 / 32.0).sqrt();
        let weights: [f32; 32] = std::array::from_fn(|i| av_x + xs[i].abs());
        (scales[j], mins[j]) = make_qkx2_quants(p, xs, &weights, &mut l[32 * j..32 * j + 32]);
        max_scale = if scales[j] > max_scale { scales[j] } else { max_scale };
        max_min = if mins[j] > max_min { mins[j] } else { max_min };
    }
    let inv_scale = if max_scale > 0.0 { 63.0 / max_scale } else { 0.0 };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    *scales_out = [0; 12];
    for j in 0..8 {
        let ls = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        let lm = (nearest_int(inv_min * mins[j]) as u8).min(63);
        if j < 4 {
            scales_out[j] = ls;
            scales_out[j + 4] = lm;
        } else {
            scales_out[j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
            scales_out[j - 4] |= (ls >> 4) << 6;
            scales_out[j] |= (lm >> 4) << 6;
        }
    }
    *d = F16Le::from_f32(max_scale / 63.0);
    *dmin = F16Le::from_f32(max_min / 63.0);
    for j in 0..8 {
        let (sc, m) = scale_min_k4(j, scales_out);
        let dj = d.to_f32() * f32::from(sc);
        if dj == 0.0 {
            continue;
        }
        let dm = dmin.to_f32() * f32::from(m);
        for i in 0..32 {
            l[32 * j + i] = nearest_int((x[32 * j + i] + dm) / dj).clamp(0, nmax) as u8;
        }
    }
    l
}

/// f32 → Q4_K weights (`quantize_row_q4_K_ref`).
pub fn quantize_q4_k(src: &[f32], dst: &mut [BlockQ4_K]) {
    check(dst.len(), src);
    let p = Qkx2 { nmax: 15, rmin: -1.0, rdelta: 0.1, nstep: 20, use_mad: false };
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK_K)) {
        let l = quantize_k4(x, 15, &p, &mut y.scales, &mut y.d, &mut y.dmin);
        for (j, q) in y.qs.chunks_exact_mut(32).enumerate() {
            for i in 0..32 {
                q[i] = l[64 * j + i] | (l[64 * j + i + 32] << 4);
            }
        }
    }
}

/// f32 → Q5_K weights (`quantize_row_q5_K_ref`).
pub fn quantize_q5_k(src: &[f32], dst: &mut [BlockQ5_K]) {
    check(dst.len(), src);
    let p = Qkx2 { nmax: 31, rmin: -0.5, rdelta: 0.1, nstep: 15, use_mad: false };
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK_K)) {
        let l = quantize_k4(x, 31, &p, &mut y.scales, &mut y.d, &mut y.dmin);
        y.qh = [0; 32];
        for (j, q) in y.qs.chunks_exact_mut(32).enumerate() {
            let (m1, m2) = (1u8 << (2 * j), 2u8 << (2 * j));
            for i in 0..32 {
                let (mut l1, mut l2) = (l[64 * j + i], l[64 * j + i + 32]);
                if l1 > 15 {
                    l1 -= 16;
                    y.qh[i] |= m1;
                }
                if l2 > 15 {
                    l2 -= 16;
                    y.qh[i] |= m2;
                }
                q[i] = l1 | (l2 << 4);
            }
        }
    }
}

/// f32 → Q6_K weights (`quantize_row_q6_K_ref`).
pub fn quantize_q6_k(src: &[f32], dst: &mut [BlockQ6_K]) {
    check(dst.len(), src);
    for (y, x) in dst.iter_mut().zip(src.chunks_exact(QK_K)) {
        let mut l = [0i8; QK_K];
        let mut scales = [0f32; 16];
        let (mut max_scale, mut max_abs_scale) = (0.0f32, 0.0f32);
        for ib in 0..16 {
            scales[ib] = make_qx_quants(32, &x[16 * ib..16 * ib + 16], &mut l[16 * ib..16 * ib + 16], 1);
            if scales[ib].abs() > max_abs_scale {
                max_abs_scale = scales[ib].abs();
                max_scale = scales[ib];
            }
        }
        if max_abs_scale < GROUP_MAX_EPS {
            *y = BlockQ6_K::zeroed();
            continue;
        }
        let iscale = -128.0 / max_scale;
        y.d = F16Le::from_f32(1.0 / iscale);
        for (q, s) in y.scales.iter_mut().zip(&scales) {
            *q = nearest_int(iscale * s).min(127) as i8;
        }
        for j in 0..16 {
            let d = y.d.to_f32() * f32::from(y.scales[j]);
            if d == 0.0 {
                continue;
            }
            for i in 0..16 {
                l[16 * j + i] = (nearest_int(x[16 * j + i] / d).clamp(-32, 31) + 32) as i8;
            }
        }
        for half in 0..2 {
            let (lh, ql, qh) = (
                &l[128 * half..],
                &mut y.ql[64 * half..64 * half + 64],
                &mut y.qh[32 * half..32 * half + 32],
            );
            for i in 0..32 {
                let q = [lh[i] as u8, lh[i + 32] as u8, lh[i + 64] as u8, lh[i + 96] as u8];
                ql[i] = (q[0] & 0xf) | ((q[2] & 0xf) << 4);
                ql[i + 32] = (q[1] & 0xf) | ((q[3] & 0xf) << 4);
                qh[i] = (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6);
            }
        }
    }
}
