//! Causal self-attention over the KV cache, parallel over (token, head).
//!
//! The cache holds f16 keys and values, and llama.cpp multiplies them by the query rounded to
//! f16. A decode step (one row per sequence) converts each key and value as it reads it. When
//! a sequence has several rows in the batch (a prefill chunk, draft tokens to verify), every
//! row and head would convert the same cached positions again, so the layer's keys and values
//! of that sequence are first widened to f32 once ([`widen`]) and the rows scored against
//! those. The widened ops are bit for bit the f16 ones (`Ops::scores_f16_widened`,
//! `Ops::weighted_sum_f16_widened`), so both paths give the same output.

use hearth_kernels::ThreadPool;
use hearth_kernels::ops::{Ops, ops};

use crate::SeqInput;
use crate::scratch::{AttnLocal, AttnScratch, Row, WideSpan};

/// Rows a sequence needs in the batch before its keys and values are widened.
const WIDEN_MIN_ROWS: usize = 2;

/// Most f32 values (keys and values of all widened sequences) one layer widens: 64 MiB.
/// Sequences past it take the per-row f16 path.
const WIDEN_MAX_VALUES: usize = 16 << 20;

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

impl AttnParams {
    /// First position row `row` attends to.
    fn start(&self, row: Row) -> usize {
        if self.window > 0 { (row.pos + 1).saturating_sub(self.window) } else { 0 }
    }
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
    scratch: &mut AttnScratch,
) {
    let ops = ops();
    let hd = p.head_dim;
    let q_dim = p.n_head * hd;
    let max_pos = rows.iter().map(|r| r.pos).max().unwrap_or(0);
    widen(ops, p, rows, seqs, scratch);
    let AttnScratch { locals, wide, spans, .. } = scratch;
    let (wide, spans) = (&wide[..], &spans[..]);
    // Every row widened: one work item per (row, kv head), whose query heads share each key
    // and value load. Otherwise one per (row, head), widened or not per sequence.
    let grouped = rows.iter().all(|r| spans[r.seq].is_some());
    let per_item = if grouped { p.gqa } else { 1 };
    locals.resize_with(pool.n_threads(), AttnLocal::default);
    for l in locals.iter_mut() {
        l.scores.resize(per_item * (max_pos + 1), 0.0);
        l.q16.resize(per_item * hd, 0);
        l.q_wide.resize(per_item * hd, 0.0);
    }
    pool.for_each_chunk(&mut out[..rows.len() * q_dim], per_item * hd, locals, &|i, o, local| {
        // Item i: row t, query heads h..h + per_item (one kv head's when grouped).
        let (t, h) = (i * per_item / p.n_head, i * per_item % p.n_head);
        let row = rows[t];
        let cache = &*seqs[row.seq].cache;
        let kv_dim = cache.kv_dim();
        let off = (h / p.gqa) * hd;
        let start = p.start(row);
        let n_pos = row.pos + 1 - start;

        ops.f32_to_f16_row(&q[t * q_dim + h * hd..][..per_item * hd], &mut local.q16);
        let scores = &mut local.scores[..per_item * n_pos];
        if let Some(span) = spans[row.seq] {
            // Widened: the span covers every position this sequence's rows attend to.
            ops.f16_to_f32_row(&local.q16, &mut local.q_wide);
            let first = (start - span.first) * kv_dim + off;
            ops.scores_f16_widened(
                &local.q_wide,
                per_item,
                &wide[span.k + first..],
                kv_dim,
                p.kq_scale,
                scores,
            );
            for head in scores.chunks_exact_mut(n_pos) {
                ops.softmax(head);
            }
            ops.weighted_sum_f16_widened(o, per_item, scores, &wide[span.v + first..], kv_dim);
        } else {
            let (keys, values) = (cache.keys(p.layer), cache.values(p.layer));
            for (s, j) in scores.iter_mut().zip(start..) {
                *s = ops.dot_f16(&local.q16, &keys[j * kv_dim + off..][..hd]) * p.kq_scale;
            }
            ops.softmax(scores);
            ops.weighted_sum_f16(o, scores, &values[start * kv_dim + off..], kv_dim);
        }
    });
}

/// Widens layer `p.layer`'s cached keys and values to f32 for each sequence with at least
/// [`WIDEN_MIN_ROWS`] rows in the batch, over the positions its rows attend to, while the
/// total stays within [`WIDEN_MAX_VALUES`]; records where in `scratch.spans`.
fn widen(ops: &Ops, p: &AttnParams, rows: &[Row], seqs: &[SeqInput<'_>], scratch: &mut AttnScratch) {
    // Per sequence: rows, first attended position, last position (in the scratch, so that a
    // warm forward pass allocates nothing).
    let reach = &mut scratch.reach;
    reach.clear();
    reach.resize(seqs.len(), (0, usize::MAX, 0));
    for &row in rows {
        let r = &mut reach[row.seq];
        *r = (r.0 + 1, r.1.min(p.start(row)), r.2.max(row.pos));
    }
    scratch.spans.clear();
    let mut used = 0;
    for (seq, &(n_rows, first, last)) in seqs.iter().zip(&scratch.reach) {
        let kv_dim = seq.cache.kv_dim();
        let span = (n_rows >= WIDEN_MIN_ROWS).then(|| (last + 1 - first) * kv_dim);
        let span = span.filter(|&values| used + 2 * values <= WIDEN_MAX_VALUES).map(|values| {
            let span = WideSpan { first, len: last + 1 - first, k: used, v: used + values };
            used += 2 * values;
            span
        });
        scratch.spans.push(span);
    }
    if scratch.wide.len() < used {
        scratch.wide.resize(used, 0.0);
    }
    for (seq, span) in seqs.iter().zip(&scratch.spans) {
        let Some(span) = span else { continue };
        let cache = &*seq.cache;
        let range = span.first * cache.kv_dim()..(span.first + span.len) * cache.kv_dim();
        let values = range.len();
        ops.f16_to_f32_row(&cache.keys(p.layer)[range.clone()], &mut scratch.wide[span.k..][..values]);
        ops.f16_to_f32_row(&cache.values(p.layer)[range], &mut scratch.wide[span.v..][..values]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KvCache, Logits};
    use hearth_kernels::testing::random_f32;

    /// A cache of `len` positions of random keys and values in layer 1 (of 2).
    fn cache(kv_dim: usize, len: usize, seed: u64) -> KvCache {
        let mut c = KvCache::for_test(2, kv_dim, 64);
        c.extend(len);
        for pos in 0..len {
            let k = random_f32(kv_dim, 2.0, seed + 2 * pos as u64);
            let v = random_f32(kv_dim, 2.0, seed + 2 * pos as u64 + 1);
            ops().f32_to_f16_row(&k, c.k_row_mut(1, pos));
            ops().f32_to_f16_row(&v, c.v_row_mut(1, pos));
        }
        c
    }

    #[track_caller]
    fn assert_bits(what: &str, got: &[f32], want: &[f32]) {
        for (i, (a, b)) in got.iter().zip(want).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "{what} [{i}]: {a} vs {b}");
        }
    }

    #[test]
    fn widened_rows_match_the_per_row_f16_path_bit_for_bit() {
        // Sequence 0 has 7 rows (widened), sequence 1 one (not); every row must come out as
        // when it is attended alone, which takes the f16 path, and sequence 0's rows as when
        // they are the whole batch (widened and grouped by kv head).
        let pool = ThreadPool::new(2);
        for (hd, window) in [(64, 0), (64, 5), (72, 0), (32, 3), (7, 0)] {
            let (n_kv, gqa) = (2, 3);
            let n_head = n_kv * gqa;
            let kv_dim = n_kv * hd;
            let p = AttnParams { layer: 1, n_head, gqa, head_dim: hd, kq_scale: 0.3, window };
            let (mut c0, mut c1) = (cache(kv_dim, 27, 1), cache(kv_dim, 10, 1000));
            let toks = [0u32; 7];
            let seqs = [
                SeqInput::new(&toks, &mut c0, Logits::None),
                SeqInput::new(&toks[..1], &mut c1, Logits::None),
            ];
            let rows: Vec<Row> =
                (20..27).map(|pos| Row { seq: 0, pos }).chain([Row { seq: 1, pos: 9 }]).collect();
            let q = random_f32(rows.len() * n_head * hd, 3.0, 7);
            let mut scratch = AttnScratch::default();
            let mut out = vec![f32::NAN; q.len()];
            attention(&pool, &p, &q, &rows, &seqs, &mut out, &mut scratch);
            assert!(
                scratch.spans[0].is_some() && scratch.spans[1].is_none(),
                "hd {hd}: spans {:?}",
                scratch.spans
            );
            // Sequence 0's rows alone: all widened, so grouped by kv head.
            let q_dim = n_head * hd;
            let mut grouped = vec![f32::NAN; 7 * q_dim];
            attention(&pool, &p, &q[..7 * q_dim], &rows[..7], &seqs, &mut grouped, &mut scratch);
            assert!(scratch.spans[0].is_some());
            assert_bits(&format!("hd {hd} window {window} grouped"), &grouped, &out[..7 * q_dim]);

            for (t, &row) in rows.iter().enumerate() {
                let mut alone = vec![f32::NAN; q_dim];
                attention(&pool, &p, &q[t * q_dim..][..q_dim], &[row], &seqs, &mut alone, &mut scratch);
                assert!(scratch.spans.iter().all(Option::is_none));
                assert_bits(&format!("hd {hd} window {window} row {t}"), &out[t * q_dim..][..q_dim], &alone);
            }
        }
    }

    #[test]
    fn widening_stays_within_its_budget() {
        // Past WIDEN_MAX_VALUES a sequence keeps the f16 path instead of growing the buffer.
        let kv_dim = 8;
        let positions = WIDEN_MAX_VALUES / (2 * kv_dim) + 1;
        let mut c = KvCache::for_test(1, kv_dim, positions);
        c.extend(positions);
        let toks = [0u32; 2];
        let seqs = [SeqInput::new(&toks, &mut c, Logits::None)];
        let rows = [Row { seq: 0, pos: positions - 2 }, Row { seq: 0, pos: positions - 1 }];
        let p = AttnParams { layer: 0, n_head: 1, gqa: 1, head_dim: kv_dim, kq_scale: 1.0, window: 0 };
        let mut scratch = AttnScratch::default();
        widen(ops(), &p, &rows, &seqs, &mut scratch);
        assert!(scratch.spans[0].is_none() && scratch.wide.is_empty());
        let p = AttnParams { window: positions / 2, ..p };
        widen(ops(), &p, &rows, &seqs, &mut scratch);
        assert!(scratch.spans[0].is_some());
    }
}
