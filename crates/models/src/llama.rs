//! The llama forward pass — also Mistral, SmolLM2 and Qwen2 (which adds Q/K/V biases and
//! rotates NEOX-style; both come from the weights and `Config`, not from branches here).
//!
//! `T` = tokens in the batch, `d` = n_embd, `q` = n_head·head_dim, `kv` = n_head_kv·head_dim.

use hearth_kernels::ops::ops;
use hearth_kernels::{ThreadPool, matmul, matmul_many};

use crate::attention::{AttnParams, attention};
use crate::model::{add_bias, rmsnorm_rows};
use crate::{Model, Scratch, SeqInput};

/// Appends the batch to the caches and leaves the wanted logits in `s.logits`.
pub(crate) fn forward(m: &Model, pool: &ThreadPool, seqs: &mut [SeqInput<'_>], s: &mut Scratch) {
    let c = m.config();
    let (d, qd, kvd, ff, hd) = (c.n_embd, c.q_dim(), c.kv_dim(), c.n_ff, c.head_dim);

    // embedding: x [T, d]
    m.embed(seqs, s);
    let n = s.rows.len();
    s.q.resize(n * qd, 0.0);
    s.k.resize(n * kvd, 0.0);
    s.v.resize(n * kvd, 0.0);
    s.proj.resize(n * d, 0.0);
    s.gate.resize(n * ff, 0.0);
    s.up.resize(n * ff, 0.0);

    for (il, l) in m.weights().layers.iter().enumerate() {
        // attention rmsnorm: xb [T, d]
        rmsnorm_rows(&s.x, &l.attn_norm, c.rms_eps, s.xb.fill(n, d));

        // qkv: q [T, q], k [T, kv], v [T, kv] (+ biases: qwen2)
        matmul_many(
            pool,
            &mut [(&l.wq, &mut s.q[..]), (&l.wk, &mut s.k[..]), (&l.wv, &mut s.v[..])],
            &mut s.xb,
        );
        if let (Some(bq), Some(bk), Some(bv)) = (&l.bq, &l.bk, &l.bv) {
            add_bias(&mut s.q, bq);
            add_bias(&mut s.k, bk);
            add_bias(&mut s.v, bv);
        }

        // rope: rotate each head of q and k by its position
        for (t, row) in s.rows.iter().enumerate() {
            m.rope.apply(&mut s.q[t * qd..(t + 1) * qd], hd, row.pos);
            m.rope.apply(&mut s.k[t * kvd..(t + 1) * kvd], hd, row.pos);
        }

        // attention: caches ← k, v; att [T, q] = softmax(q·kᵀ/√hd)·v
        m.store_kv(il, seqs, s);
        let p = AttnParams {
            layer: il,
            n_head: c.n_head,
            gqa: c.gqa(),
            head_dim: hd,
            kq_scale: c.attn_scale,
            window: if c.swa_layers[il] { c.sliding_window } else { 0 },
        };
        attention(pool, &p, &s.q, &s.rows, seqs, s.att.fill(n, qd), &mut s.attn);

        // output projection and residual: x += wo · att
        matmul(pool, &l.wo, &mut s.att, &mut s.proj);
        ops().add(&mut s.x, &s.proj);

        // ffn rmsnorm: xb [T, d]
        rmsnorm_rows(&s.x, &l.ffn_norm, c.rms_eps, s.xb.fill(n, d));

        // swiglu: hidden [T, ff] = silu(gate · xb) ⊙ (up · xb)
        matmul_many(pool, &mut [(&l.w_gate, &mut s.gate[..]), (&l.w_up, &mut s.up[..])], &mut s.xb);
        ops().swiglu(&s.gate, &s.up, s.hidden.fill(n, ff));

        // down projection and residual: x += down · hidden
        matmul(pool, &l.w_down, &mut s.hidden, &mut s.proj);
        ops().add(&mut s.x, &s.proj);
    }

    // final rmsnorm and logits
    m.logits(pool, seqs, s)
}
