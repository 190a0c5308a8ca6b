//! The Gemma 3 forward pass: scaled embeddings, per-head Q/K RMSNorm, norms after attention
//! and after the FFN, GeGLU, and five sliding-window layers (own RoPE base) per global layer.
//!
//! `T` = tokens in the batch, `d` = n_embd, `q` = n_head·head_dim, `kv` = n_head_kv·head_dim.

use hearth_kernels::ops::ops;
use hearth_kernels::{ThreadPool, matmul, matmul_many};

use crate::attention::{AttnParams, attention};
use crate::model::rmsnorm_rows;
use crate::{Model, Scratch, SeqInput};

/// Appends the batch to the caches and leaves the wanted logits in `s.logits`.
pub(crate) fn forward(m: &Model, pool: &ThreadPool, seqs: &mut [SeqInput<'_>], s: &mut Scratch) {
    let c = m.config();
    let (d, qd, kvd, ff, hd) = (c.n_embd, c.q_dim(), c.kv_dim(), c.n_ff, c.head_dim);

    // embedding: x [T, d] = embd · sqrt(d)
    m.embed(seqs, s);
    let n = s.rows.len();
    s.q.resize(n * qd, 0.0);
    s.k.resize(n * kvd, 0.0);
    s.v.resize(n * kvd, 0.0);
    s.proj.resize(n * d, 0.0);
    s.gate.resize(n * ff, 0.0);
    s.up.resize(n * ff, 0.0);

    for (il, l) in m.weights().layers.iter().enumerate() {
        let local = c.swa_layers[il];
        let rope = if local { &m.rope_swa } else { &m.rope };

        // attention rmsnorm: xb [T, d]
        rmsnorm_rows(&s.x, &l.attn_norm, c.rms_eps, s.xb.fill(n, d));

        // qkv: q [T, q], k [T, kv], v [T, kv]
        matmul_many(
            pool,
            &mut [(&l.wq, &mut s.q[..]), (&l.wk, &mut s.k[..]), (&l.wv, &mut s.v[..])],
            &mut s.xb,
        );

        // per-head q/k rmsnorm (every token's heads at once), then rope (local layers: their
        // own base), then q *= scale
        rmsnorm_in_place(&mut s.q, l.q_norm.as_deref(), c.rms_eps, &mut s.tmp);
        rmsnorm_in_place(&mut s.k, l.k_norm.as_deref(), c.rms_eps, &mut s.tmp);
        for (t, row) in s.rows.iter().enumerate() {
            let (qt, kt) = (&mut s.q[t * qd..(t + 1) * qd], &mut s.k[t * kvd..(t + 1) * kvd]);
            rope.apply(qt, hd, row.pos);
            rope.apply(kt, hd, row.pos);
            ops().scale(qt, c.attn_scale);
        }

        // attention: caches ← k, v; att [T, q] = softmax(q·kᵀ)·v (window on local layers)
        m.store_kv(il, seqs, s);
        let p = AttnParams {
            layer: il,
            n_head: c.n_head,
            gqa: c.gqa(),
            head_dim: hd,
            kq_scale: 1.0,
            window: if local { c.sliding_window } else { 0 },
        };
        attention(pool, &p, &s.q, &s.rows, seqs, s.att.fill(n, qd), &mut s.attn);

        // output projection, post-attention norm, residual: x += norm(wo · att)
        matmul(pool, &l.wo, &mut s.att, &mut s.proj);
        post_norm_add(&mut s.x, &mut s.proj, l.post_attn_norm.as_deref(), c.rms_eps, &mut s.tmp);

        // ffn rmsnorm: xb [T, d]
        rmsnorm_rows(&s.x, &l.ffn_norm, c.rms_eps, s.xb.fill(n, d));

        // geglu: hidden [T, ff] = gelu(gate · xb) ⊙ (up · xb)
        matmul_many(pool, &mut [(&l.w_gate, &mut s.gate[..]), (&l.w_up, &mut s.up[..])], &mut s.xb);
        ops().geglu(&s.gate, &s.up, s.hidden.fill(n, ff));

        // down projection, post-ffn norm, residual: x += norm(down · hidden)
        matmul(pool, &l.w_down, &mut s.hidden, &mut s.proj);
        post_norm_add(&mut s.x, &mut s.proj, l.post_ffn_norm.as_deref(), c.rms_eps, &mut s.tmp);
    }

    // final rmsnorm, logits (soft-capped when the model says so)
    m.logits(pool, seqs, s)
}

/// RMSNorm of every `w.len()`-wide piece of `x`, in place (`tmp` is a copy buffer). The
/// norms are optional in [`Layer`](crate::Layer) because other architectures lack them;
/// `Weights::load` requires every gemma3 block to have all four, so none is skipped here.
fn rmsnorm_in_place(x: &mut [f32], w: Option<&[f32]>, eps: f32, tmp: &mut Vec<f32>) {
    let Some(w) = w else { return };
    tmp.clear();
    tmp.extend_from_slice(x);
    ops().rmsnorm_rows(tmp, w, eps, x);
}

/// `x += rmsnorm(y) · w`, row by row (`y` is clobbered).
fn post_norm_add(x: &mut [f32], y: &mut [f32], w: Option<&[f32]>, eps: f32, tmp: &mut Vec<f32>) {
    rmsnorm_in_place(y, w, eps, tmp);
    ops().add(x, y);
}
