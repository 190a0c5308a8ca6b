//! `EmbedScratch`: every buffer an encoder pass writes, grown to the largest batch and
//! reused, so a warm embedder allocates only the vectors it returns.

use hearth_kernels::Activations;

use crate::scratch::AttnLocal;

/// One token of the batch: where its sequence starts and ends, and its position in it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tok {
    /// First row of the token's sequence.
    pub start: usize,
    /// Tokens in the sequence.
    pub len: usize,
    /// Position within the sequence.
    pub pos: usize,
}

/// Working memory of encoder passes. `T` below is the number of tokens in the batch.
#[derive(Debug, Default)]
pub(crate) struct EmbedScratch {
    /// `[T]` each token's sequence span and position.
    pub toks: Vec<Tok>,
    /// `[T, n_embd]` a layer's input (after the last layer: the token states).
    pub x: Activations,
    /// `[T, n_embd]` queries.
    pub q: Vec<f32>,
    /// `[T, n_embd]` keys.
    pub k: Vec<f32>,
    /// `[T, n_embd]` values.
    pub v: Vec<f32>,
    /// `[T, n_embd]` keys rounded to f16 (what llama.cpp's attention reads).
    pub k16: Vec<u16>,
    /// `[T, n_embd]` values rounded to f16.
    pub v16: Vec<u16>,
    /// `[T, n_embd]` attention output, input of the output projection.
    pub att: Activations,
    /// `[T, n_embd]` a projection's output plus the residual, before its LayerNorm.
    pub proj: Vec<f32>,
    /// `[T, n_embd]` the normed attention block output, input of the FFN.
    pub h: Activations,
    /// `[T, n_ff]` up projection.
    pub up: Vec<f32>,
    /// `[T, n_ff]` gate projection (nomic-bert).
    pub gate: Vec<f32>,
    /// `[T, n_ff]` activated FFN hidden state, input of the down projection.
    pub hidden: Activations,
    /// `[n_threads]` attention scratch.
    pub attn: Vec<AttnLocal>,
}
