//! The BERT-family encoder pass — BERT (all-MiniLM, bge) and nomic-bert (nomic-embed-text),
//! after llama.cpp's `src/models/bert.cpp`. Post-norm blocks; every token attends to all
//! tokens of its own sequence (no causal mask) and to no other sequence's.
//!
//! What differs between the two comes from the weights, not from branches here: BERT has
//! a position table and biases; nomic-bert has neither, rotates Q and K (NEOX RoPE) and
//! gates its FFN (SwiGLU).
//!
//! `T` = tokens in the batch, `d` = n_embd, `ff` = n_ff, `hd` = head_dim.

use hearth_kernels::ops::{RopeCache, ops};
use hearth_kernels::{ThreadPool, matmul, matmul_many};

use crate::embed::scratch::{EmbedScratch, Tok};
use crate::embed::weights::{EmbedWeights, Ffn};
use crate::embed::{EmbedConfig, Encoder};

/// Runs the encoder over whole sequences `seqs` and leaves their token states in `s.x`
/// (`[T, d]`, sequences one after another) and each token's span in `s.toks`.
pub(crate) fn forward(e: &Encoder<'_>, pool: &ThreadPool, seqs: &[&[u32]], s: &mut EmbedScratch) {
    let (c, w) = (e.cfg, e.weights);
    let (d, ff) = (c.n_embd, c.n_ff);
    let ops = ops();

    // embedding: proj [T, d] = token + type 0 (+ position: bert)
    embed(w, seqs, s);
    let n = s.toks.len();
    for buf in [&mut s.q, &mut s.k, &mut s.v] {
        buf.resize(n * d, 0.0);
    }
    s.k16.resize(n * d, 0);
    s.v16.resize(n * d, 0);
    s.up.resize(n * ff, 0.0);
    s.gate.resize(n * ff, 0.0);

    // embedding layernorm: x [T, d]
    layernorm_rows(&s.proj, &w.embd_norm, &w.embd_norm_b, c.norm_eps, s.x.fill(n, d));

    for l in &w.layers {
        // qkv: q, k, v [T, d] (+ biases: bert)
        matmul_many(
            pool,
            &mut [(&l.wq, &mut s.q[..]), (&l.wk, &mut s.k[..]), (&l.wv, &mut s.v[..])],
            &mut s.x,
        );
        add_bias(&mut s.q, l.bq.as_deref());
        add_bias(&mut s.k, l.bk.as_deref());
        add_bias(&mut s.v, l.bv.as_deref());

        // rope (nomic-bert): rotate each head of q and k by the token's position in its sequence
        if let Some(rope) = e.rope {
            rotate(rope, c.head_dim, &s.toks, &mut s.q, &mut s.k);
        }

        // attention: att [T, d] = softmax(q·kᵀ/√hd)·v over each token's own sequence
        ops.f32_to_f16_row(&s.k, &mut s.k16);
        ops.f32_to_f16_row(&s.v, &mut s.v16);
        attention(pool, c, &s.q, &s.k16, &s.v16, &s.toks, s.att.fill(n, d), &mut s.attn);

        // output projection and residual: proj = wo · att (+ bo) + x
        matmul(pool, &l.wo, &mut s.att, &mut s.proj);
        add_bias(&mut s.proj, l.bo.as_deref());
        ops.add(&mut s.proj, s.x.data());

        // attention layernorm: h [T, d]
        layernorm_rows(&s.proj, &l.attn_norm, &l.attn_norm_b, c.norm_eps, s.h.fill(n, d));

        // ffn: hidden [T, ff] = gelu(up · h + b_up) (bert) or silu(gate · h) ⊙ (up · h) (nomic-bert)
        match &l.ffn {
            Ffn::Gelu { w_up, b_up } => {
                matmul(pool, w_up, &mut s.h, &mut s.up);
                add_bias(&mut s.up, b_up.as_deref());
                ops.gelu(&s.up, s.hidden.fill(n, ff));
            }
            Ffn::SwiGlu { w_gate, w_up } => {
                matmul_many(pool, &mut [(w_gate, &mut s.gate[..]), (w_up, &mut s.up[..])], &mut s.h);
                ops.swiglu(&s.gate, &s.up, s.hidden.fill(n, ff));
            }
        }

        // down projection and residual: proj = down · hidden (+ b_down) + h
        matmul(pool, &l.w_down, &mut s.hidden, &mut s.proj);
        add_bias(&mut s.proj, l.b_down.as_deref());
        ops.add(&mut s.proj, s.h.data());

        // output layernorm: x [T, d], the next block's input (after the last: the token states)
        layernorm_rows(&s.proj, &l.out_norm, &l.out_norm_b, c.norm_eps, s.x.fill(n, d));
    }
}

/// Sums each token's embedding row, the type-0 row and (BERT) its position's row into
/// `s.proj`, in llama.cpp's order (`(token + type) + position`), and records the spans.
fn embed(w: &EmbedWeights<'_>, seqs: &[&[u32]], s: &mut EmbedScratch) {
    let d = w.embd_norm.len();
    let ops = ops();
    let n: usize = seqs.iter().map(|q| q.len()).sum();
    s.toks.clear();
    s.proj.resize(n * d, 0.0);
    s.q.resize(d.max(s.q.len()), 0.0);
    for seq in seqs {
        let start = s.toks.len();
        for (pos, &tok) in seq.iter().enumerate() {
            let t = s.toks.len();
            let row = &mut s.proj[t * d..(t + 1) * d];
            w.token_embd.dequantize_row(tok as usize, row);
            if let Some(type0) = &w.token_type0 {
                ops.add(row, type0);
            }
            if let Some(table) = &w.position_embd {
                // s.q is free until the first block: the position row lands there.
                let p = &mut s.q[..d];
                table.dequantize_row(pos, p);
                ops.add(row, p);
            }
            s.toks.push(Tok { start, len: seq.len(), pos });
        }
    }
}

/// `out[t, h] = Σ_j softmax_j(q[t, h] · k[j, h] / √hd) · v[j, h]` over the rows `j` of
/// token `t`'s sequence. Q is rounded to f16 and dotted with the f16 keys, as llama.cpp's
/// CPU flash attention does with its f16 copies of K and V.
#[allow(clippy::too_many_arguments)]
fn attention(
    pool: &ThreadPool,
    c: &EmbedConfig,
    q: &[f32],
    k16: &[u16],
    v16: &[u16],
    toks: &[Tok],
    out: &mut [f32],
    locals: &mut Vec<crate::scratch::AttnLocal>,
) {
    let ops = ops();
    let (d, hd, n_head) = (c.n_embd, c.head_dim, c.n_head);
    let longest = toks.iter().map(|t| t.len).max().unwrap_or(0);
    locals.resize_with(pool.n_threads(), Default::default);
    for l in locals.iter_mut() {
        l.scores.resize(longest, 0.0);
        l.q16.resize(hd, 0);
    }
    pool.for_each_chunk(&mut out[..toks.len() * d], hd, locals, &|i, o, local| {
        let (t, h) = (i / n_head, i % n_head);
        let tok = toks[t];
        let off = h * hd;
        ops.f32_to_f16_row(&q[t * d + off..][..hd], &mut local.q16);
        let scores = &mut local.scores[..tok.len];
        for (sc, j) in scores.iter_mut().zip(tok.start..) {
            *sc = ops.dot_f16(&local.q16, &k16[j * d + off..][..hd]) * c.attn_scale;
        }
        ops.softmax(scores);
        o.fill(0.0);
        for (&p, j) in scores.iter().zip(tok.start..) {
            ops.axpy_f16(o, p, &v16[j * d + off..][..hd]);
        }
    });
}

/// RoPE on every head of every token's query and key, by its position in its sequence.
fn rotate(rope: &RopeCache, hd: usize, toks: &[Tok], q: &mut [f32], k: &mut [f32]) {
    let d = q.len() / toks.len().max(1);
    for (t, tok) in toks.iter().enumerate() {
        rope.apply(&mut q[t * d..(t + 1) * d], hd, tok.pos);
        rope.apply(&mut k[t * d..(t + 1) * d], hd, tok.pos);
    }
}

/// LayerNorm of each `w.len()`-wide row of `x` into `out`.
fn layernorm_rows(x: &[f32], w: &[f32], b: &[f32], eps: f32, out: &mut [f32]) {
    let ops = ops();
    for (xr, or) in x.chunks_exact(w.len()).zip(out.chunks_exact_mut(w.len())) {
        ops.layernorm(xr, w, b, eps, or);
    }
}

/// Adds `bias` (when the file has one) to each row of `x`.
fn add_bias(x: &mut [f32], bias: Option<&[f32]>) {
    if let Some(b) = bias {
        let ops = ops();
        for r in x.chunks_exact_mut(b.len()) {
            ops.add(r, b);
        }
    }
}
