//! Causal self-attention over the KV cache, parallel over (token, head).

use hearth_kernels::ThreadPool;
use hearth_kernels::ops::ops;

use crate::SeqInput;
use crate::scratch::{AttnLocal, Row};

/// What one layer's attention needs besides the buffers.
pub(crate) struct AttnParams {
    /// Layer index (selects the cache rows).
    pub layer: usize,
    /// Query heads.
    pub n_head: usize,
    /// Query heads per kv head.
    pub gqa: usize,
    /// Head size.
    pub head_dim: usize,
    /// Multiplier of `q·k` before the softmax.
    pub kq_scale: f32,
    /// Sliding window (attend to positions `pos - window + 1 ..= pos`), 0 for none.
    pub window: usize,
}

/// `out[t, h] = Σ_j softmax_j(q[t, h] · k[j, h/gqa] · scale) · v[j, h/gqa]` over the cached
/// positions `j ≤ pos(t)` of row `t`'s sequence (within the window when set). The caches
/// already hold this batch's keys and values.
pub(crate) fn attention(
    pool: &ThreadPool,
    p: &AttnParams,
    q: &[f32],
    rows: &[Row],
    seqs: &[SeqInput<'_>],
    out: &mut [f32],
    locals: &mut Vec<AttnLocal>,
) {
    let ops = ops();
    let hd = p.head_dim;
    let q_dim = p.n_head * hd;
    let max_pos = rows.iter().map(|r| r.pos).max().unwrap_or(0);
    locals.resize_with(pool.n_threads(), AttnLocal::default);
    for l in locals.iter_mut() {
        l.scores.resize(max_pos + 1, 0.0);
        l.q16.resize(hd, 0);
    }
    pool.for_each_chunk(&mut out[..rows.len() * q_dim], hd, locals, &|i, o, local| {
        let (t, h) = (i / p.n_head, i % p.n_head);
        let row = rows[t];
        let cache = &*seqs[row.seq].cache;
        let kv_dim = cache.kv_dim();
        let off = (h / p.gqa) * hd;
        let start = if p.window > 0 { (row.pos + 1).saturating_sub(p.window) } else { 0 };
        let (keys, values) = (cache.keys(p.layer), cache.values(p.layer));

        ops.f32_to_f16_row(&q[t * q_dim + h * hd..][..hd], &mut local.q16);
        let scores = &mut local.scores[..row.pos + 1 - start];
        for (s, j) in scores.iter_mut().zip(start..) {
            *s = ops.dot_f16(&local.q16, &keys[j * kv_dim + off..][..hd]) * p.kq_scale;
        }
        ops.softmax(scores);
        ops.weighted_sum_f16(o, scores, &values[start * kv_dim + off..], kv_dim);
    });
}
