//! `Model`: config + weights + RoPE tables, loaded once and shared by every sequence, and the
//! steps every architecture's forward pass shares (embedding lookup, KV writes, logits).

use std::path::Path;
use std::sync::Arc;

use hearth_gguf::GgufFile;
use hearth_kernels::ops::{RopeCache, RopeParams, ops};
use hearth_kernels::{ThreadPool, matmul};

use crate::repacked::Repacked;
use crate::scratch::Row;
use crate::{Arch, Config, KvCache, Logits, ModelError, Scratch, SeqInput, Weights};

/// Positions whose RoPE rows are precomputed at load (later ones are computed on the fly).
const ROPE_TABLE_POSITIONS: usize = 8192;
/// Most floats a RoPE table holds (32 MB): real models (rotary dims ≤ 256) keep all 8192
/// positions; an absurd head size in a hostile file cannot make the table huge.
const ROPE_TABLE_FLOATS: usize = 8 << 20;

/// What the weights borrow from: the mapped file, and the matrices repacked at load.
#[derive(Debug)]
struct Store {
    file: Arc<GgufFile>,
    repacked: Repacked,
}

self_cell::self_cell!(
    /// The mapped file (and repacked matrices) and the weights borrowed from them, kept
    /// together (self-referential: the weights' matrix views point into what the cell owns).
    struct Mapped {
        owner: Store,
        #[covariant]
        dependent: Weights,
    }
    impl {Debug}
);

/// A loaded model: immutable, `Send + Sync`, shared across sequences and threads.
#[derive(Debug)]
pub struct Model {
    cfg: Config,
    mapped: Mapped,
    /// RoPE of global layers (and of all layers without a sliding window).
    pub(crate) rope: RopeCache,
    /// RoPE of sliding-window layers when their base differs (Gemma 3).
    pub(crate) rope_swa: RopeCache,
}

impl Model {
    /// Maps `path` and loads the model in it.
    pub fn open(path: impl AsRef<Path>) -> Result<Model, ModelError> {
        Self::load(Arc::new(GgufFile::open(path)?))
    }

    /// Loads the model of an opened file (weights stay in the mapping).
    pub fn load(file: Arc<GgufFile>) -> Result<Model, ModelError> {
        let cfg = Config::from_gguf(&file)?;
        let repacked = Repacked::build(&file);
        let mapped = Mapped::try_new(Store { file, repacked }, |s| {
            Weights::load_with(&s.file, Some(&s.repacked), &cfg)
        })?;
        let weights = mapped.borrow_dependent();
        let params = |base: f32| RopeParams {
            freq_scale: cfg.rope_scaling.freq_scale,
            ext_factor: cfg.rope_scaling.ext_factor,
            attn_factor: cfg.rope_scaling.attn_factor,
            n_ctx_orig: cfg.rope_scaling.n_ctx_orig,
            ..RopeParams::new(cfg.arch.rope_mode(), cfg.n_rot, base)
        };
        let positions =
            ROPE_TABLE_POSITIONS.min(cfg.n_ctx_train.max(1)).min(ROPE_TABLE_FLOATS / cfg.n_rot.max(1));
        let rope = RopeCache::new(params(cfg.rope_base), weights.rope_freqs.as_deref(), positions);
        let rope_swa = if cfg.arch == Arch::Gemma3 {
            // gemma3 local layers: own base, no scaling (llama.cpp's freq_scale_swa = 1).
            RopeCache::new(
                RopeParams::new(cfg.arch.rope_mode(), cfg.n_rot, cfg.rope_base_swa),
                None,
                positions,
            )
        } else {
            rope.clone()
        };
        Ok(Model { cfg, mapped, rope, rope_swa })
    }

    /// Hyper-parameters.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The weights (matrix views into the mapped file).
    pub fn weights(&self) -> &Weights<'_> {
        self.mapped.borrow_dependent()
    }

    /// Bytes of weights repacked at load into the kernel table's layout (anonymous memory
    /// beside the mapping; 0 where the table reads the file's layout, or `HEARTH_REPACK=0`).
    pub fn repacked_bytes(&self) -> usize {
        self.mapped.borrow_owner().repacked.bytes()
    }

    /// The mapped file (metadata, tokenizer, template live there too).
    pub fn file(&self) -> &Arc<GgufFile> {
        &self.mapped.borrow_owner().file
    }

    /// An empty KV cache for up to `n_ctx` positions (clamped to the training context).
    pub fn new_cache(&self, n_ctx: usize) -> KvCache {
        KvCache::new(&self.cfg, n_ctx.min(self.cfg.n_ctx_train).max(1))
    }

    /// Bytes of weights read per decoded token (every matrix once; embeddings: one row).
    pub fn bytes_per_token(&self) -> usize {
        let w = self.weights();
        let layers: usize = w
            .layers
            .iter()
            .map(|l| {
                [&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down]
                    .iter()
                    .map(|m| m.n_bytes())
                    .sum::<usize>()
            })
            .sum();
        layers + w.output.n_bytes() + w.token_embd.n_bytes() / w.token_embd.rows().max(1)
    }

    /// Multiply-adds of the weight matrices per token: every matrix's rows × columns, the
    /// output head included, the embedding lookup not (what a prompt token costs apart from
    /// attention).
    pub fn macs_per_token(&self) -> u64 {
        let w = self.weights();
        let layers =
            w.layers.iter().flat_map(|l| [&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down]);
        layers.chain([&w.output]).map(|m| (m.rows() * m.cols()) as u64).sum()
    }

    /// Runs the model on new tokens of one or more sequences: appends their keys and values
    /// to each sequence's cache and returns the requested logits, `[rows, n_vocab]`, in
    /// batch order (per sequence: none, its last token's, or all its tokens').
    pub fn forward<'s>(
        &self,
        pool: &ThreadPool,
        seqs: &mut [SeqInput<'_>],
        scratch: &'s mut Scratch,
    ) -> Result<&'s [f32], ModelError> {
        self.check(seqs)?;
        match self.cfg.arch {
            Arch::Llama | Arch::Qwen2 => crate::llama::forward(self, pool, seqs, scratch),
            Arch::Gemma3 => crate::gemma3::forward(self, pool, seqs, scratch),
        }
        Ok(&scratch.logits)
    }

    fn check(&self, seqs: &[SeqInput<'_>]) -> Result<(), ModelError> {
        if seqs.iter().all(|s| s.tokens.is_empty()) {
            return Err(ModelError::EmptyBatch);
        }
        for s in seqs {
            s.cache.check_room(s.tokens.len())?;
            if let Some(&id) = s.tokens.iter().find(|&&t| t as usize >= self.cfg.n_vocab) {
                return Err(ModelError::BadToken { id, n_vocab: self.cfg.n_vocab });
            }
        }
        Ok(())
    }

    /// Embedding lookup into `scratch.x` (`[T, n_embd]`, times `embd_scale`), the row table,
    /// and room for the new positions in every cache.
    pub(crate) fn embed(&self, seqs: &mut [SeqInput<'_>], s: &mut Scratch) {
        let d = self.cfg.n_embd;
        let n: usize = seqs.iter().map(|q| q.tokens.len()).sum();
        s.rows.clear();
        s.x.resize(n * d, 0.0);
        let table = &self.weights().token_embd;
        for (si, seq) in seqs.iter_mut().enumerate() {
            let start = seq.cache.extend(seq.tokens.len());
            for (i, &tok) in seq.tokens.iter().enumerate() {
                let t = s.rows.len();
                table.dequantize_row(tok as usize, &mut s.x[t * d..(t + 1) * d]);
                s.rows.push(Row { seq: si, pos: start + i });
            }
        }
        if self.cfg.embd_scale != 1.0 {
            ops().scale(&mut s.x, self.cfg.embd_scale);
        }
    }

    /// Writes the batch's keys and values (`scratch.k`, `scratch.v`) into the caches as f16.
    pub(crate) fn store_kv(&self, layer: usize, seqs: &mut [SeqInput<'_>], s: &Scratch) {
        let kv = self.cfg.kv_dim();
        let ops = ops();
        for (t, row) in s.rows.iter().enumerate() {
            let cache = &mut *seqs[row.seq].cache;
            ops.f32_to_f16_row(&s.k[t * kv..(t + 1) * kv], cache.k_row_mut(layer, row.pos));
            ops.f32_to_f16_row(&s.v[t * kv..(t + 1) * kv], cache.v_row_mut(layer, row.pos));
        }
    }

    /// Final norm and LM head for the rows whose logits are wanted, into `scratch.logits`.
    pub(crate) fn logits(&self, pool: &ThreadPool, seqs: &[SeqInput<'_>], s: &mut Scratch) {
        let (d, nv) = (self.cfg.n_embd, self.cfg.n_vocab);
        let n_out: usize = seqs.iter().map(SeqInput::n_logits).sum();
        s.logits.resize(n_out * nv, 0.0);
        if n_out == 0 {
            return;
        }
        let ops = ops();
        let out_in = s.out_in.fill(n_out, d);
        let mut o = 0;
        let mut t0 = 0;
        for seq in seqs {
            let n = seq.tokens.len();
            let wanted = match seq.logits {
                Logits::None => t0..t0,
                Logits::Last => (t0 + n).saturating_sub(1).max(t0)..t0 + n,
                Logits::All => t0..t0 + n,
            };
            for t in wanted {
                ops.rmsnorm(
                    &s.x[t * d..(t + 1) * d],
                    &self.weights().output_norm,
                    self.cfg.rms_eps,
                    &mut out_in[o * d..(o + 1) * d],
                );
                o += 1;
            }
            t0 += n;
        }
        matmul(pool, &self.weights().output, &mut s.out_in, &mut s.logits);
        let cap = self.cfg.final_softcap;
        if cap > 0.0 {
            for l in s.logits.iter_mut() {
                *l = (*l / cap).tanh() * cap;
            }
        }
    }
}

/// RMSNorm of each `w.len()`-wide row of `out` from the same row of `x` (the rows `out`
/// holds; `x` may be longer).
pub(crate) fn rmsnorm_rows(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    ops().rmsnorm_rows(&x[..out.len()], w, eps, out);
}

/// Adds `bias` to each row of `x`.
pub(crate) fn add_bias(x: &mut [f32], bias: &[f32]) {
    let ops = ops();
    for r in x.chunks_exact_mut(bias.len()) {
        ops.add(r, bias);
    }
}
