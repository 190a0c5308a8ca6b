//! `Scratch`: every buffer a forward pass writes, allocated on first use and reused, so the
//! steady state (decode) allocates nothing.

use hearth_kernels::Activations;

/// Position of one row of the batch: which sequence, which position in it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row {
    /// Index into the batch's sequences.
    pub seq: usize,
    /// Absolute position.
    pub pos: usize,
}

/// Per-thread attention scratch.
#[derive(Clone, Debug, Default)]
pub(crate) struct AttnLocal {
    /// `[positions attended]` scores, then probabilities.
    pub scores: Vec<f32>,
    /// `[head_dim]` the query head rounded to f16 (llama.cpp multiplies f16 K by f16 Q).
    pub q16: Vec<u16>,
    /// `[head_dim]` `q16` widened back to f32, for the widened-cache path.
    pub q_wide: Vec<f32>,
}

/// Attention scratch of the decoder forward passes.
#[derive(Debug, Default)]
pub(crate) struct AttnScratch {
    /// `[n_threads]` per-thread buffers.
    pub locals: Vec<AttnLocal>,
    /// One layer's cached keys and values widened to f32, per sequence that has several rows
    /// in the batch (see `attention::widen`).
    pub wide: Vec<f32>,
    /// `[sequences]` where each sequence's widened rows are in `wide`, if they are.
    pub spans: Vec<Option<WideSpan>>,
    /// `[sequences]` rows in the batch, first attended position, last position.
    pub reach: Vec<(usize, usize, usize)>,
}

/// Where one sequence's widened keys and values are in [`AttnScratch::wide`]: positions
/// `first..first + len`, `kv_dim` values each, keys at `k`, values at `v`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WideSpan {
    pub first: usize,
    pub len: usize,
    pub k: usize,
    pub v: usize,
}

/// Working memory of forward passes. `T` below is the number of tokens in the batch.
#[derive(Debug, Default)]
pub struct Scratch {
    /// `[T]` sequence and position of each row.
    pub(crate) rows: Vec<Row>,
    /// `[T, n_embd]` the residual stream.
    pub(crate) x: Vec<f32>,
    /// `[T, n_embd]` normed input of the Q/K/V and gate/up projections.
    pub(crate) xb: Activations,
    /// `[T, n_head · head_dim]` queries.
    pub(crate) q: Vec<f32>,
    /// `[T, n_head_kv · head_dim]` keys of the new tokens.
    pub(crate) k: Vec<f32>,
    /// `[T, n_head_kv · head_dim]` values of the new tokens.
    pub(crate) v: Vec<f32>,
    /// `[T, n_head · head_dim]` attention output, input of the output projection.
    pub(crate) att: Activations,
    /// `[T, n_embd]` output of the attention or FFN projection before the residual add.
    pub(crate) proj: Vec<f32>,
    /// `[T, n_ff]` gate projection.
    pub(crate) gate: Vec<f32>,
    /// `[T, n_ff]` up projection.
    pub(crate) up: Vec<f32>,
    /// `[T, n_ff]` activated FFN hidden state, input of the down projection.
    pub(crate) hidden: Activations,
    /// `[n_out, n_embd]` final-normed rows whose logits are wanted.
    pub(crate) out_in: Activations,
    /// `[n_out, n_vocab]` logits.
    pub(crate) logits: Vec<f32>,
    /// `[max(n_embd, head_dim)]` copy buffer for in-place norms.
    pub(crate) tmp: Vec<f32>,
    /// Attention scratch.
    pub(crate) attn: AttnScratch,
}

impl Scratch {
    /// Empty scratch; buffers grow to the largest batch seen.
    pub fn new() -> Scratch {
        Scratch::default()
    }
}
