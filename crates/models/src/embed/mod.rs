//! Embedding models: BERT (all-MiniLM-L6-v2, bge-small) and nomic-bert (nomic-embed-text).
//!
//! [`Embedder`] is the whole loop: text → WordPiece ids (`[CLS] … [SEP]`, as llama.cpp's
//! `llama-embedding` tokenizes) → the encoder pass ([`bert`](self::bert), one `forward` for
//! both architectures) → pooling (`<arch>.pooling_type`: mean, cls or last) → L2
//! normalisation. GGUF has no key for normalisation; hearth normalises by default as
//! llama.cpp's `llama-embedding` (`--embd-normalize 2`) and `llama-server`'s
//! `/v1/embeddings` do, and as the sentence-transformers models these files come from do.
//!
//! Several texts go through one pass (each attends only to itself), and a text's vector
//! does not depend on the others in its batch: the kernels compute each (row, token) in the
//! same order at any batch size, and norms, attention and pooling are per token or per
//! sequence.
//!
//! **Prefixes are the caller's business.** Some models were trained with task prefixes and
//! give worse vectors without them: nomic-embed-text wants `search_query: ` on queries and
//! `search_document: ` on the texts searched (also `clustering: `, `classification: `);
//! bge-small-en-v1.5 suggests `Represent this sentence for searching relevant passages: `
//! on short queries; all-MiniLM-L6-v2 takes plain text. The embedder embeds exactly the
//! text it is given.
//!
//! ```no_run
//! let embedder = hearth_models::Embedder::open("all-minilm-l6-v2.gguf")?;
//! let v = embedder.embed(&["turn on dark mode", "enable the dark theme"])?;
//! assert_eq!(v[0].len(), embedder.dim());
//! let cosine: f32 = v[0].iter().zip(&v[1]).map(|(a, b)| a * b).sum(); // unit vectors
//! # let _ = cosine;
//! # Ok::<(), hearth_models::ModelError>(())
//! ```

mod bert;
mod config;
mod scratch;
mod weights;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use hearth_gguf::GgufFile;
use hearth_kernels::ThreadPool;
use hearth_kernels::ops::{RopeCache, RopeMode, RopeParams};
use hearth_tokenizer::{Specials, Tokenizer};

pub use config::{EmbedArch, EmbedConfig, Pooling};
pub use weights::{EmbedLayer, EmbedWeights, Ffn};

use crate::ModelError;
use scratch::EmbedScratch;

/// Most tokens one encoder pass takes; a batch with more is run in several passes (one
/// sequence longer than this still goes whole). Bounds the scratch: nomic-embed-text's FFN
/// buffers at 2048 tokens are ~75 MB.
const PASS_TOKENS: usize = 2048;
/// Most positions a RoPE table precomputes (nomic-bert: 2048 × 64 floats).
const ROPE_TABLE_FLOATS: usize = 8 << 20;

self_cell::self_cell!(
    /// The mapped file and the weights borrowed from it, kept together.
    struct Mapped {
        owner: Arc<GgufFile>,
        #[covariant]
        dependent: EmbedWeights,
    }
    impl {Debug}
);

/// What the encoder pass reads: the config, the weights, the RoPE table (nomic-bert).
pub(crate) struct Encoder<'a> {
    pub cfg: &'a EmbedConfig,
    pub weights: &'a EmbedWeights<'a>,
    pub rope: Option<&'a RopeCache>,
}

/// A loaded embedding model with its tokenizer, threads and scratch: `Send + Sync`; calls
/// from several threads take turns.
#[derive(Debug)]
pub struct Embedder {
    cfg: EmbedConfig,
    mapped: Mapped,
    /// NEOX RoPE of nomic-bert (llama.cpp's rope type for it); `None` for BERT.
    rope: Option<RopeCache>,
    tokenizer: Tokenizer,
    pool: Arc<ThreadPool>,
    normalize: bool,
    scratch: Mutex<EmbedScratch>,
}

impl Embedder {
    /// Maps `path` and loads the embedder in it.
    pub fn open(path: impl AsRef<Path>) -> Result<Embedder, ModelError> {
        Self::load(Arc::new(GgufFile::open(path)?))
    }

    /// Loads the embedder of an opened file (weights stay in the mapping), with a thread
    /// pool of one thread per available core ([`with_pool`](Self::with_pool) shares another).
    pub fn load(file: Arc<GgufFile>) -> Result<Embedder, ModelError> {
        let cfg = EmbedConfig::from_gguf(&file)?;
        let tokenizer = Tokenizer::from_gguf(file.metadata())?;
        if tokenizer.n_vocab() != cfg.n_vocab {
            return Err(ModelError::Config(format!(
                "the tokenizer has {} tokens, the embedding table {} rows",
                tokenizer.n_vocab(),
                cfg.n_vocab
            )));
        }
        let mapped = Mapped::try_new(file, |file| EmbedWeights::load(file, &cfg))?;
        let rope = (cfg.arch == EmbedArch::NomicBert).then(|| {
            let positions = cfg.n_ctx_train.min(ROPE_TABLE_FLOATS / cfg.head_dim.max(1));
            RopeCache::new(RopeParams::new(RopeMode::Neox, cfg.head_dim, cfg.rope_base), None, positions)
        });
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pool = Arc::new(ThreadPool::try_new(threads).map_err(ModelError::Threads)?);
        tracing::debug!(
            arch = cfg.arch.prefix(),
            dim = cfg.n_embd,
            layers = cfg.n_layer,
            pooling = cfg.pooling.name(),
            "embedder loaded"
        );
        Ok(Embedder {
            cfg,
            mapped,
            rope,
            tokenizer,
            pool,
            normalize: true,
            scratch: Mutex::new(EmbedScratch::default()),
        })
    }

    /// Runs on `pool` instead of the embedder's own threads.
    pub fn with_pool(mut self, pool: Arc<ThreadPool>) -> Embedder {
        self.pool = pool;
        self
    }

    /// Pools with `pooling` instead of what the file says (for files without
    /// `<arch>.pooling_type`, or to experiment).
    pub fn with_pooling(mut self, pooling: Pooling) -> Embedder {
        self.cfg.pooling = pooling;
        self
    }

    /// Whether vectors are scaled to unit length (default: yes, as llama.cpp does).
    pub fn with_normalize(mut self, normalize: bool) -> Embedder {
        self.normalize = normalize;
        self
    }

    /// Hyper-parameters.
    pub fn config(&self) -> &EmbedConfig {
        &self.cfg
    }

    /// The weights (matrix views into the mapped file).
    pub fn weights(&self) -> &EmbedWeights<'_> {
        self.mapped.borrow_dependent()
    }

    /// The mapped file.
    pub fn file(&self) -> &Arc<GgufFile> {
        self.mapped.borrow_owner()
    }

    /// The model's WordPiece tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Length of the vectors.
    pub fn dim(&self) -> usize {
        self.cfg.n_embd
    }

    /// Longest input in tokens, `[CLS]` and `[SEP]` included (the training context).
    pub fn max_tokens(&self) -> usize {
        self.cfg.n_ctx_train
    }

    /// How token states are pooled.
    pub fn pooling(&self) -> Pooling {
        self.cfg.pooling
    }

    /// A text's token ids as [`embed`](Self::embed) feeds them: `[CLS] … [SEP]`, texts of
    /// control tokens (`[SEP]`, `[MASK]`) parsed as those tokens, as llama.cpp does.
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text, Specials::ALL)
    }

    /// One vector per text, in order. A text longer than [`max_tokens`](Self::max_tokens)
    /// is an error ([`ModelError::TooLong`]), never silently truncated.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        let ids: Vec<Vec<u32>> = texts.iter().map(|t| self.tokenize(t)).collect();
        self.embed_tokens(&ids)
    }

    /// One vector per token sequence (each as [`tokenize`](Self::tokenize) makes them, with
    /// `[CLS]` and `[SEP]`; nothing is added here).
    pub fn embed_tokens<S: AsRef<[u32]>>(&self, seqs: &[S]) -> Result<Vec<Vec<f32>>, ModelError> {
        let seqs: Vec<&[u32]> = seqs.iter().map(AsRef::as_ref).collect();
        for (index, seq) in seqs.iter().enumerate() {
            if seq.is_empty() {
                return Err(ModelError::EmptyInput { index });
            }
            if seq.len() > self.max_tokens() {
                return Err(ModelError::TooLong { index, tokens: seq.len(), max: self.max_tokens() });
            }
            if let Some(&id) = seq.iter().find(|&&t| t as usize >= self.cfg.n_vocab) {
                return Err(ModelError::BadToken { id, n_vocab: self.cfg.n_vocab });
            }
        }
        let mut scratch = self.scratch.lock().unwrap_or_else(PoisonError::into_inner);
        let encoder = Encoder { cfg: &self.cfg, weights: self.weights(), rope: self.rope.as_ref() };
        let mut out = Vec::with_capacity(seqs.len());
        let mut rest = &seqs[..];
        while !rest.is_empty() {
            let mut take = 1;
            let mut tokens = rest[0].len();
            while take < rest.len() && tokens + rest[take].len() <= PASS_TOKENS {
                tokens += rest[take].len();
                take += 1;
            }
            bert::forward(&encoder, &self.pool, &rest[..take], &mut scratch);
            let mut start = 0;
            for seq in &rest[..take] {
                let mut v = pool(self.cfg.pooling, scratch.x.data(), self.dim(), start, seq.len());
                if self.normalize {
                    l2_normalize(&mut v);
                }
                out.push(v);
                start += seq.len();
            }
            rest = &rest[take..];
        }
        Ok(out)
    }
}

/// The sequence `[start, start + len)` of the `[T, dim]` token states, pooled.
fn pool(pooling: Pooling, states: &[f32], dim: usize, start: usize, len: usize) -> Vec<f32> {
    let row = |t: usize| &states[t * dim..(t + 1) * dim];
    match pooling {
        Pooling::Cls => row(start).to_vec(),
        Pooling::Last => row(start + len - 1).to_vec(),
        Pooling::Mean => {
            // llama.cpp: Σ_t x[t] · (1/len), the weight rounded to f32 once.
            let w = 1.0 / len as f32;
            let mut v = vec![0.0f32; dim];
            for t in start..start + len {
                for (a, &x) in v.iter_mut().zip(row(t)) {
                    *a += x * w;
                }
            }
            v
        }
    }
}

/// Scales `v` to unit length as llama.cpp's `common_embd_normalize(.., 2)`: squares summed
/// in f64, `1/sqrt` in f64 rounded to f32 once; a zero vector stays zero.
fn l2_normalize(v: &mut [f32]) {
    let sum: f64 = v.iter().map(|&x| f64::from(x * x)).sum();
    let norm = sum.sqrt();
    let scale = if norm > 0.0 { (1.0 / norm) as f32 } else { 0.0 };
    for x in v {
        *x *= scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_takes_the_right_rows() {
        // three tokens of width 2: [1, 2], [3, 4], [5, 9]
        let states = [1.0, 2.0, 3.0, 4.0, 5.0, 9.0];
        assert_eq!(pool(Pooling::Cls, &states, 2, 1, 2), vec![3.0, 4.0]);
        assert_eq!(pool(Pooling::Last, &states, 2, 0, 3), vec![5.0, 9.0]);
        let mean = pool(Pooling::Mean, &states, 2, 0, 3);
        assert!((mean[0] - 3.0).abs() < 1e-6 && (mean[1] - 5.0).abs() < 1e-6, "{mean:?}");
    }

    #[test]
    fn l2_normalize_gives_unit_length_and_keeps_zero() {
        let mut v = vec![3.0, 4.0];
        l2_normalize(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
        let mut z = vec![0.0; 3];
        l2_normalize(&mut z);
        assert_eq!(z, vec![0.0; 3]);
    }
}
