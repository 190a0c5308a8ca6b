//! `hearth-models`: transformer forward passes over quantized GGUF weights.
//!
//! Three kinds of state, three types (after llama2.c):
//! - [`Config`]: hyper-parameters, parsed from GGUF metadata in one place ([`Config::from_gguf`]).
//! - [`Model`] (with [`Weights`]): immutable and shared; matrices stay in the mmap.
//! - [`KvCache`]: per sequence, owned by whoever runs the sequence; [`Scratch`]: per worker,
//!   so a forward pass allocates nothing once warm.
//!
//! One `forward` per architecture reads top to bottom: [`llama`](crate::llama) (also Mistral,
//! SmolLM2, Qwen2) and [`gemma3`](crate::gemma3). A forward pass takes new tokens of one or
//! more sequences ([`SeqInput`]) — a prefill chunk, one decode step, several sequences
//! decoding together, or draft tokens to verify — and returns their logits.
//!
//! Embedders (BERT, nomic-bert) are their own type, [`Embedder`]: text in, one pooled,
//! normalised vector per text out (see [`embed`](crate::embed)).
//!
//! ```no_run
//! use hearth_models::{Logits, Model, Scratch, SeqInput};
//! let model = Model::open("model.gguf")?;
//! let pool = hearth_kernels::ThreadPool::new(2);
//! let mut cache = model.new_cache(4096);
//! let mut scratch = Scratch::new();
//! let prompt = [1u32, 2, 3];
//! let logits = model.forward(&pool, &mut [SeqInput::new(&prompt, &mut cache, Logits::Last)], &mut scratch)?;
//! assert_eq!(logits.len(), model.config().n_vocab);
//! # Ok::<(), hearth_models::ModelError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod attention;
mod batch;
mod config;
pub mod embed;
mod error;
mod gemma3;
mod kv_cache;
mod llama;
mod model;
mod repacked;
mod scratch;
mod weights;

pub use batch::{Logits, SeqInput};
pub use config::{Arch, Config, RopeScaling};
pub use embed::{EmbedArch, EmbedConfig, Embedder, Pooling};
pub use error::ModelError;
pub use kv_cache::KvCache;
pub use model::Model;
pub use scratch::Scratch;
pub use weights::{Layer, Weights};
