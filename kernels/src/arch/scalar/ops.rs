//! Scalar twins of the f32 ops: the reference, compiled on every target, and the ops of the
//! scalar table.
//!
//! Lengths are checked by the callers in `ops/mod.rs`; these zip and index within them.

use crate::ops::Ops;
use crate::ops::gelu::{lookup as gelu_lookup, lookup_mul as geglu_lookup, table as gelu_table};
use hearth_dtype::{f16_to_f32 as h2f, f32_to_f16 as f2h};

/// The scalar f32 ops (the reference every SIMD table's ops are tested against).
pub(crate) static OPS: Ops = Ops {
    name: "scalar",
    scale_mul,
    cvar,
    exp_sum,
    silu,
    swiglu,
    gelu,
    geglu,
    add,
    mul,
    scale,
    f32_to_f16,
    f16_to_f32,
    dot_f32_f16,
    dot_f16,
    axpy_f16,
    weighted_sum_f16,
    scores_f16_widened,
    weighted_sum_f16_widened,
};

/// ggml's scalar SiLU: `x / (1 + expf(-x))`.
#[inline]
pub(crate) fn silu1(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

pub(crate) fn scale_mul(x: &[f32], scale: f32, w: &[f32], out: &mut [f32]) {
    for ((o, &v), &g) in out.iter_mut().zip(x).zip(w) {
        *o = v * scale * g;
    }
}

pub(crate) fn cvar(x: &[f32], mean: f32, out: &mut [f32]) -> f64 {
    let mut sum = 0.0f64;
    for (o, &v) in out.iter_mut().zip(x) {
        let d = v - mean;
        *o = d;
        sum += f64::from(d * d);
    }
    sum / x.len() as f64
}

pub(crate) fn exp_sum(x: &mut [f32], max: f32) -> f64 {
    let mut sum = 0.0f64;
    for v in x.iter_mut() {
        let e = (*v - max).exp();
        sum += f64::from(e);
        *v = e;
    }
    sum
}

pub(crate) fn silu(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = silu1(v);
    }
}

pub(crate) fn swiglu(gate: &[f32], up: &[f32], out: &mut [f32]) {
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = silu1(g) * u;
    }
}

pub(crate) fn gelu(x: &[f32], out: &mut [f32]) {
    let table = gelu_table();
    for (o, &v) in out.iter_mut().zip(x) {
        *o = gelu_lookup(table, v);
    }
}

pub(crate) fn geglu(gate: &[f32], up: &[f32], out: &mut [f32]) {
    let table = gelu_table();
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = geglu_lookup(table, g, u);
    }
}

pub(crate) fn add(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

pub(crate) fn mul(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a *= b;
    }
}

pub(crate) fn scale(x: &mut [f32], s: f32) {
    for a in x.iter_mut() {
        *a *= s;
    }
}

pub(crate) fn f32_to_f16(src: &[f32], dst: &mut [u16]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = f2h(s);
    }
}

pub(crate) fn f16_to_f32(src: &[u16], dst: &mut [f32]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = h2f(s);
    }
}

pub(crate) fn dot_f32_f16(q: &[f32], k: &[u16]) -> f32 {
    // Eight partial sums, like the SIMD paths (and kinder to long rows than one).
    let mut acc = [0.0f32; 8];
    let chunks = q.len() / 8 * 8;
    for (qc, kc) in q[..chunks].chunks_exact(8).zip(k[..chunks].chunks_exact(8)) {
        for j in 0..8 {
            acc[j] += qc[j] * h2f(kc[j]);
        }
    }
    let mut sum = acc.iter().sum::<f32>();
    for (&a, &b) in q[chunks..].iter().zip(&k[chunks..]) {
        sum += a * h2f(b);
    }
    sum
}

pub(crate) fn dot_f16(a: &[u16], b: &[u16]) -> f32 {
    // ggml's generic `ggml_vec_dot_f16`: products in f32, summed in f64.
    let mut sum = 0.0f64;
    for (&x, &y) in a.iter().zip(b) {
        sum += f64::from(h2f(x) * h2f(y));
    }
    sum as f32
}

pub(crate) fn axpy_f16(acc: &mut [f32], a: f32, v: &[u16]) {
    for (o, &h) in acc.iter_mut().zip(v) {
        *o += a * h2f(h);
    }
}

/// [`crate::ops::Ops::weighted_sum_f16`] through `axpy` (a table's `axpy_f16`): the
/// definition, for tables without a register-blocked version.
pub(crate) fn weighted_sum_with(
    axpy: fn(&mut [f32], f32, &[u16]),
    out: &mut [f32],
    w: &[f32],
    rows: &[u16],
    stride: usize,
) {
    out.fill(0.0);
    let n = out.len();
    for (j, &wj) in w.iter().enumerate() {
        axpy(out, wj, &rows[j * stride..][..n]);
    }
}

pub(crate) fn weighted_sum_f16(out: &mut [f32], w: &[f32], rows: &[u16], stride: usize) {
    weighted_sum_with(axpy_f16, out, w, rows, stride);
}

/// [`dot_f16`] on f16 values already widened to f32: the same products, summed in f64 in
/// element order.
fn dot_f16_widened(a: &[f32], b: &[f32]) -> f32 {
    let mut sum = 0.0f64;
    for (&x, &y) in a.iter().zip(b) {
        sum += f64::from(x * y);
    }
    sum as f32
}

pub(crate) fn scores_f16_widened(
    q: &[f32],
    n_q: usize,
    keys: &[f32],
    stride: usize,
    scale: f32,
    out: &mut [f32],
) {
    if n_q == 0 {
        return;
    }
    let (hd, n) = (q.len() / n_q, out.len() / n_q);
    for r in 0..n_q {
        let qr = &q[r * hd..][..hd];
        for (j, s) in out[r * n..][..n].iter_mut().enumerate() {
            *s = dot_f16_widened(qr, &keys[j * stride..][..hd]) * scale;
        }
    }
}

/// [`axpy_f16`] on widened values.
pub(crate) fn axpy_f16_widened(acc: &mut [f32], a: f32, v: &[f32]) {
    for (o, &x) in acc.iter_mut().zip(v) {
        *o += a * x;
    }
}

pub(crate) fn weighted_sum_f16_widened(out: &mut [f32], n_q: usize, w: &[f32], rows: &[f32], stride: usize) {
    if n_q == 0 {
        return;
    }
    let (hd, n) = (out.len() / n_q, w.len() / n_q);
    for r in 0..n_q {
        weighted_sum_f16_widened_one(&mut out[r * hd..][..hd], &w[r * n..][..n], rows, stride);
    }
}

/// One query's [`weighted_sum_f16_widened`].
pub(crate) fn weighted_sum_f16_widened_one(out: &mut [f32], w: &[f32], rows: &[f32], stride: usize) {
    out.fill(0.0);
    let n = out.len();
    for (j, &wj) in w.iter().enumerate() {
        axpy_f16_widened(out, wj, &rows[j * stride..][..n]);
    }
}
