//! Arguments shared by the generating subcommands.

use anyhow::{Context, Result};
use hearth_engine::{Constraint, Engine, EngineOptions, SamplingParams};

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
    /// Let control-token text in chat messages (e.g. `<|im_start|>`) become control tokens,
    /// as llama.cpp does. By default message text stays text, so a message cannot open a
    /// turn or a role of its own; only for callers that trust every message.
    #[arg(long)]
    pub parse_special_in_messages: bool,
}

impl ModelArgs {
    /// Resolves the model (pulling it if needed) and loads it.
    pub fn load(&self) -> Result<Engine> {
        let name = match &self.model {
            Some(m) => m.clone(),
            None => hearth_hub::Catalog::builtin()?.default_model().name.clone(),
        };
        let path = crate::resolve::model_file(&name)?;
        Engine::load(&path, self.options()).with_context(|| format!("loading {}", path.display()))
    }

    /// The engine options these arguments ask for.
    pub fn options(&self) -> EngineOptions {
        EngineOptions {
            threads: self.threads,
            n_ctx: self.ctx_size,
            n_batch: self.batch_size,
            parse_special_in_messages: self.parse_special_in_messages,
        }
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

/// Structured output: what the generated text must be (at most one of these).
#[derive(clap::Args, Debug, Clone, Default)]
#[group(id = "constraint", multiple = false)]
pub struct ConstraintArgs {
    /// Generate a JSON object (any keys and values).
    #[arg(long)]
    pub json_object: bool,
    /// Generate JSON valid against the JSON Schema in FILE ("-" for stdin). Keywords that
    /// cannot be enforced are refused, naming the keyword.
    #[arg(long, value_name = "FILE")]
    pub json_schema: Option<String>,
    /// Generate text that matches the regular expression RE as a whole.
    #[arg(long, value_name = "RE")]
    pub regex: Option<String>,
    /// Generate text in the language of the Lark grammar in FILE ("-" for stdin; llguidance's
    /// dialect: `start: ...`).
    #[arg(long, value_name = "FILE.lark")]
    pub grammar: Option<String>,
}

impl ConstraintArgs {
    /// The constraint asked for, with its file read and (for a schema) parsed.
    pub fn constraint(&self) -> Result<Option<Constraint>> {
        Ok(if self.json_object {
            Some(Constraint::JsonObject)
        } else if let Some(f) = &self.json_schema {
            let text = read_text(f)?;
            let schema = serde_json::from_str(&text).with_context(|| format!("{f}: not valid JSON"))?;
            Some(Constraint::JsonSchema(schema))
        } else if let Some(rx) = &self.regex {
            Some(Constraint::Regex(rx.clone()))
        } else if let Some(f) = &self.grammar {
            Some(Constraint::Lark(read_text(f)?))
        } else {
            None
        })
    }
}

/// The contents of `path` ("-": stdin).
fn read_text(path: &str) -> Result<String> {
    if path == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).context("reading stdin")?;
        return Ok(s);
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))
}

/// Speculative decoding (the output is unchanged; only the speed).
#[derive(clap::Args, Debug, Clone)]
pub struct SpeculationArgs {
    /// Draft tokens by prompt lookup: guess that text seen earlier repeats (good for
    /// extraction and code edits).
    #[arg(long, conflicts_with = "draft_model")]
    pub lookup: bool,
    /// Draft tokens with a smaller model of the same vocabulary (path or catalog name).
    #[arg(long)]
    pub draft_model: Option<String>,
    /// Most draft tokens verified per forward pass. How many of them a pass carries adapts
    /// to the measured acceptance rate and the cost of a batched token (none while drafts
    /// lose time), unless --draft-fixed.
    #[arg(long, default_value_t = hearth_engine::Speculation::MAX_DRAFT)]
    pub draft_max: usize,
    /// Prompt lookup: the longest run of last tokens searched for earlier in the text (the
    /// most recent occurrence of the longest one found is followed).
    #[arg(long, default_value_t = hearth_engine::Speculation::NGRAM_MAX_MATCH as u16,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub lookup_max: u16,
    /// Prompt lookup: the shortest run of last tokens that may propose a draft. 1 lets a
    /// single token propose: its drafts are scored apart from longer matches', so they are
    /// only verified while they pay.
    #[arg(long, default_value_t = hearth_engine::Speculation::NGRAM_MIN_MATCH as u16,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub lookup_min: u16,
    /// Always verify as many drafts as are available (up to --draft-max) instead of adapting
    /// the draft length; for comparison.
    #[arg(long)]
    pub draft_fixed: bool,
}

impl SpeculationArgs {
    /// The draft length policy asked for.
    pub fn length(&self) -> hearth_engine::DraftLength {
        if self.draft_fixed {
            hearth_engine::DraftLength::Fixed
        } else {
            hearth_engine::DraftLength::Adaptive
        }
    }

    /// The speculation asked for, loading the draft model when there is one.
    pub fn speculation(&self, threads: usize, n_ctx: usize) -> Result<Option<hearth_engine::Speculation>> {
        use hearth_engine::Speculation;
        if self.lookup {
            if self.lookup_min > self.lookup_max {
                anyhow::bail!(
                    "--lookup-min {} is above --lookup-max {}: the shortest match cannot be longer than the longest",
                    self.lookup_min,
                    self.lookup_max
                );
            }
            return Ok(Some(Speculation::NGram {
                max_match: self.lookup_max.into(),
                min_match: self.lookup_min.into(),
                max_draft: self.draft_max,
            }));
        }
        let Some(m) = &self.draft_model else { return Ok(None) };
        let path = crate::resolve::model_file(m)?;
        let engine =
            Engine::load(&path, EngineOptions { threads, n_ctx, n_batch: 512, ..Default::default() })
                .with_context(|| format!("loading the draft model {}", path.display()))?;
        Ok(Some(Speculation::DraftModel { engine, max_draft: self.draft_max }))
    }
}
