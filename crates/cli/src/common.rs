//! Arguments shared by the generating subcommands.

use anyhow::{Context, Result};
use hearth_engine::{Engine, EngineOptions, SamplingParams};

/// Which model and how to run it.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// A .gguf file or a catalog name (downloaded on first use). Default: the catalog's
    /// default model (see `hearth pull --list`).
    #[arg(long, short)]
    pub model: Option<String>,
    /// Threads for inference (default: all cores).
    #[arg(long, short = 't', default_value_t = 0)]
    pub threads: usize,
    /// Context size in tokens (default: the model's, capped at 4096).
    #[arg(long, short = 'c', default_value_t = 0)]
    pub ctx_size: usize,
    /// Prompt tokens per forward pass during prefill.
    #[arg(long, default_value_t = 512)]
    pub batch_size: usize,
}

impl ModelArgs {
    /// Resolves the model (pulling it if needed) and loads it.
    pub fn load(&self) -> Result<Engine> {
        let name = match &self.model {
            Some(m) => m.clone(),
            None => hearth_hub::Catalog::builtin()?.default_model().name.clone(),
        };
        let path = crate::progress::resolve_model(&name)?;
        let opts = EngineOptions { threads: self.threads, n_ctx: self.ctx_size, n_batch: self.batch_size };
        Engine::load(&path, opts).with_context(|| format!("loading {}", path.display()))
    }
}

/// How to pick tokens.
#[derive(clap::Args, Debug, Clone)]
pub struct SamplingArgs {
    /// Most tokens to generate.
    #[arg(long, short = 'n', default_value_t = 256)]
    pub max_tokens: usize,
    /// Sampling temperature; 0 is greedy (always the most likely token).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f32,
    /// Keep only the K most likely tokens (0 = off).
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    /// Keep the smallest set of likely tokens whose probability reaches P (1 = off).
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f32,
    /// Drop tokens less likely than P times the most likely one (0 = off).
    #[arg(long, default_value_t = 0.05)]
    pub min_p: f32,
    /// Penalise repeating tokens of the last 64 (1 = off; 1.1 is mild).
    #[arg(long, default_value_t = 1.0)]
    pub repeat_penalty: f32,
    /// OpenAI-style presence penalty.
    #[arg(long, default_value_t = 0.0)]
    pub presence_penalty: f32,
    /// OpenAI-style frequency penalty.
    #[arg(long, default_value_t = 0.0)]
    pub frequency_penalty: f32,
    /// Random seed, for reproducible sampling.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop when this text is generated (repeatable; never printed).
    #[arg(long)]
    pub stop: Vec<String>,
    /// Do not stop at end-of-generation tokens.
    #[arg(long)]
    pub ignore_eos: bool,
}

impl SamplingArgs {
    /// The sampler parameters.
    pub fn params(&self) -> SamplingParams {
        SamplingParams {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repetition_penalty: self.repeat_penalty,
            presence_penalty: self.presence_penalty,
            frequency_penalty: self.frequency_penalty,
            seed: self.seed,
            ..SamplingParams::default()
        }
    }

    /// A request for `prompt`.
    pub fn request(&self, prompt: hearth_engine::Prompt) -> hearth_engine::Request {
        let mut r = hearth_engine::Request::new(prompt);
        r.sampling = self.params();
        r.max_tokens = self.max_tokens;
        r.stop = self.stop.clone();
        r.ignore_eos = self.ignore_eos;
        r
    }
}
