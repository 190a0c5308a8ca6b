//! The router's configuration file (`hearth serve --config FILE.toml`): serde types, defaults,
//! and [`RouterConfig::validate`], which checks everything that can be checked before the first
//! request (names, references, ranges, API keys in the environment) and names the key at fault.
//!
//! Tables: `[server]`, `[[models]]` ([`LocalModel`]), `[[remotes]]` ([`Remote`]), `[[routes]]`
//! ([`Route`]), `[budget]` ([`Budget`]), `[complexity]` ([`ComplexityConfig`]). Every key is
//! documented in `deploy/hearth.example.toml`. Unknown keys are errors, so a typo
//! (`escalate_too`) stops the server at start-up instead of silently changing nothing.
//!
//! Key paths in errors are written `routes[1].escalate_to`: the second `[[routes]]` table
//! (counting from 0, in file order).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::validate::{Problem, Problems, process_env};

/// The name that asks the router to decide (`"model": "auto"`); no model or remote may use it.
pub const AUTO: &str = "auto";

/// The task list entry that matches every task no other route lists.
pub const ANY_TASK: &str = "*";

/// Anthropic's price of a 5-minute cache write, as a multiple of the input price.
pub const ANTHROPIC_CACHE_WRITE_MULTIPLIER: f64 = 1.25;
/// Anthropic's price of a cache read (hit), as a multiple of the input price.
pub const ANTHROPIC_CACHE_READ_MULTIPLIER: f64 = 0.1;
/// OpenAI bills cache writes as ordinary input.
pub const OPENAI_CACHE_WRITE_MULTIPLIER: f64 = 1.0;
/// OpenAI's cached-input discount for the gpt-4o family (newer models discount more: set
/// `cache_read_per_mtok` for yours).
pub const OPENAI_CACHE_READ_MULTIPLIER: f64 = 0.5;

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    /// `[server]`: listening address and the API key clients must send.
    #[serde(default)]
    pub server: ServerSection,
    /// `[[models]]`: local models, loaded on first use.
    #[serde(default)]
    pub models: Vec<LocalModel>,
    /// `[[remotes]]`: remote APIs (Claude, or any OpenAI-compatible server).
    #[serde(default)]
    pub remotes: Vec<Remote>,
    /// `[[routes]]`: which target serves which task, checked in file order.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// `[budget]`: remote spend caps.
    #[serde(default)]
    pub budget: Budget,
    /// `[complexity]`: weights and saturation points of the complexity score.
    #[serde(default)]
    pub complexity: ComplexityConfig,
    /// `[ledger]`: where every call's row is written (`hearth report` reads it).
    #[serde(default)]
    pub ledger: hearth_ledger::LedgerConfig,
    /// `[cache]`: the response cache (exact and semantic) in front of every route; absent:
    /// no cache.
    #[serde(default)]
    pub cache: Option<hearth_cache::CacheConfig>,
    /// `[monitor]`: the quality monitor (a remote judges a sample of local answers; a task
    /// type whose agreement drops moves up to its route's `escalate_to`); absent: no monitor.
    #[serde(default)]
    pub monitor: Option<crate::monitor_config::MonitorConfig>,
}

/// `[server]`: settings of the HTTP server that are not routing policy. Command-line flags of
/// `hearth serve` override them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on (`HOST`, `HOST:PORT`, `[IPV6]:PORT`); default 127.0.0.1.
    pub host: Option<String>,
    /// Port; default the one in `host`, else 8080.
    pub port: Option<u16>,
    /// Environment variable holding the API key clients must send (Bearer or `x-api-key`).
    /// When set, the variable must be set too.
    pub api_key_env: Option<String>,
    /// Memory the loaded local models may take together, in MiB (their file sizes plus KV
    /// caches); past it the least recently used idle model is unloaded. Default: 75% of RAM.
    pub memory_budget_mb: Option<u64>,
    /// Embedding models served on `/v1/embeddings` (catalog names such as `all-minilm`,
    /// `nomic-embed-text`, `bge-small`, or .gguf paths), each loaded on first use. The
    /// `[cache] embedder` is served too.
    #[serde(default)]
    pub embedding_models: Vec<String>,
}

/// `[[models]]`: one local model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalModel {
    /// The name requests use: a catalog name (`qwen2.5-coder:0.5b`, pulled when the server starts) or a
    /// `.gguf` path; with `path` set, any name.
    pub name: String,
    /// The `.gguf` file to load, when `name` is not a catalog name or a path.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Inference threads (0: all cores).
    #[serde(default)]
    pub threads: usize,
    /// Context size per slot in tokens (0: the model's, capped at 4096).
    #[serde(default)]
    pub ctx_size: usize,
    /// Prompt tokens per forward pass during prefill.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Requests generating at the same time, each with its own KV cache.
    #[serde(default = "default_slots")]
    pub slots: usize,
    /// Requests waiting for a slot before new ones are refused (503).
    #[serde(default = "default_max_queue")]
    pub max_queue: usize,
    /// Seconds without a request after which the model is unloaded (0: never), as Ollama's
    /// keep-alive (default 5 minutes).
    #[serde(default = "default_idle_unload_secs")]
    pub idle_unload_secs: u64,
    /// Load at start-up instead of on first use.
    #[serde(default)]
    pub preload: bool,
    /// Let control-token text in messages become control tokens (trusted callers only).
    #[serde(default)]
    pub parse_special_in_messages: bool,
}

/// Which wire protocol a remote speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Anthropic's Messages API (`POST {base_url}/v1/messages`).
    Anthropic,
    /// Any OpenAI-compatible chat completions API (OpenAI, vLLM, llama-server, another hearth).
    Openai,
}

impl Provider {
    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::Openai => "openai",
        }
    }
}

/// `[[remotes]]`: one remote model behind an API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remote {
    /// The name requests and routes use.
    pub name: String,
    /// `"anthropic"` or `"openai"`.
    pub provider: Provider,
    /// The model id sent upstream (`claude-haiku-4-5`).
    pub model: String,
    /// API root; default `https://api.anthropic.com` (anthropic) or `https://api.openai.com`
    /// (openai); a trailing `/v1` is optional. Read it through [`Remote::base_url`].
    #[serde(default)]
    pub base_url: Option<String>,
    /// Environment variable holding the API key; default `ANTHROPIC_API_KEY` for anthropic,
    /// none (no key sent) for openai. Read it through [`Remote::api_key_env`].
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// USD per million input tokens.
    pub input_per_mtok: f64,
    /// USD per million output tokens.
    pub output_per_mtok: f64,
    /// USD per million tokens written to the prompt cache; default from the provider's
    /// multiplier of `input_per_mtok`. Read it through [`Remote::cache_write_per_mtok`].
    #[serde(default)]
    pub cache_write_per_mtok: Option<f64>,
    /// USD per million tokens read from the prompt cache; default from the provider's
    /// multiplier of `input_per_mtok`. Read it through [`Remote::cache_read_per_mtok`].
    #[serde(default)]
    pub cache_read_per_mtok: Option<f64>,
    /// Seconds one attempt may take (the official SDKs' default: 10 minutes).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Retries after the first attempt, as the official SDKs do (on connection errors, 408,
    /// 409, 429, 5xx, 529).
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// Consecutive failed calls (retries exhausted) after which the remote is cooled down.
    #[serde(default = "default_cooldown_after_failures")]
    pub cooldown_after_failures: u32,
    /// Seconds a cooled-down remote is skipped.
    #[serde(default = "default_cooldown_secs")]
    pub cooldown_secs: u64,
    /// Mark long system prompts (and tools) cacheable so repeats bill at the cache-read price
    /// (`anthropic` remotes; an `openai` remote gets the client's body as sent).
    #[serde(default = "yes")]
    pub prompt_caching: bool,
    /// `max_tokens` sent when the request gives none (Anthropic requires one; `anthropic`
    /// remotes only — an `openai` remote gets the client's body as sent).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
}

/// What a route does once a spend cap is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBudget {
    /// Serve the request locally (the route's `fallback`, else its target if local, else the
    /// first `[[models]]` entry), with reason `budget`.
    Local,
    /// Refuse it (HTTP 429 with a message naming the cap).
    Reject,
}

/// `[[routes]]`: which target serves a set of tasks, and when to escalate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Task types this route serves (`classify`, `extract`, …); `"*"` for every task no other
    /// route lists. A task may appear in one route only.
    pub tasks: Vec<String>,
    /// The model or remote that serves them.
    pub target: String,
    /// Requests scoring above this complexity (0..=1) go to `escalate_to` before generating.
    #[serde(default)]
    pub max_complexity: Option<f64>,
    /// Where hard or failed requests go (a remote, or a bigger local model).
    #[serde(default)]
    pub escalate_to: Option<String>,
    /// Escalate when the local answer's mean token log-probability is below this (≤ 0).
    #[serde(default)]
    pub min_mean_logprob: Option<f64>,
    /// Escalate when any content token's log-probability is below this (≤ 0).
    #[serde(default)]
    pub min_token_logprob: Option<f64>,
    /// Escalate when the chosen label token's probability leads the runner-up's by less than
    /// this (0..=1), for classify/tag answers.
    #[serde(default)]
    pub min_label_margin: Option<f64>,
    /// Escalate when generation stopped at the token limit inside a JSON structure.
    #[serde(default = "yes")]
    pub escalate_on_length_in_json: bool,
    /// Escalate an empty (or whitespace-only) answer.
    #[serde(default = "yes")]
    pub escalate_on_empty: bool,
    /// Escalate an answer that refuses the task (see `escalation::is_refusal`).
    #[serde(default = "yes")]
    pub escalate_on_refusal: bool,
    /// For streamed requests: generate locally in full before sending, so the answer can still
    /// be escalated (the client sees nothing until then). Off: local streams are never
    /// escalated.
    #[serde(default)]
    pub buffer_streams: bool,
    /// A local model that serves the route while its remote target is cooled down; without one
    /// the client gets 503 naming the upstream's error.
    #[serde(default)]
    pub fallback: Option<String>,
    /// `"local"` or `"reject"` once a spend cap is reached; default `"local"` when the config
    /// has a local model, else `"reject"`. Read it through [`RouterConfig::on_budget`].
    #[serde(default)]
    pub on_budget: Option<OnBudget>,
    /// The quality monitor only reports on this route's tasks: it never moves them up a tier
    /// (nor back).
    #[serde(default)]
    pub pinned: bool,
}

impl Route {
    /// A route of `tasks` to `target` with every optional key at its file default (no
    /// escalation; the answer checks on).
    pub fn new(tasks: Vec<String>, target: impl Into<String>) -> Route {
        Route {
            tasks,
            target: target.into(),
            max_complexity: None,
            escalate_to: None,
            min_mean_logprob: None,
            min_token_logprob: None,
            min_label_margin: None,
            escalate_on_length_in_json: yes(),
            escalate_on_empty: yes(),
            escalate_on_refusal: yes(),
            buffer_streams: false,
            fallback: None,
            on_budget: None,
            pinned: false,
        }
    }

    /// Whether this route lists `task` explicitly (case-insensitive; not the `"*"` wildcard).
    pub fn lists(&self, task: &str) -> bool {
        self.tasks.iter().any(|t| t != ANY_TASK && t.eq_ignore_ascii_case(task))
    }

    /// Whether this route is the catch-all (`"*"` among its tasks).
    pub fn is_catch_all(&self) -> bool {
        self.tasks.iter().any(|t| t == ANY_TASK)
    }

    /// Whether any answer-based escalation check is on (the local answer must be inspected).
    pub fn checks_answers(&self) -> bool {
        self.escalate_to.is_some()
            && (self.min_mean_logprob.is_some()
                || self.min_token_logprob.is_some()
                || self.min_label_margin.is_some()
                || self.escalate_on_length_in_json
                || self.escalate_on_empty
                || self.escalate_on_refusal)
    }
}

/// `[budget]`: remote spend caps in USD (UTC days and calendar months).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Remote spend allowed per UTC day.
    pub daily_usd: Option<f64>,
    /// Remote spend allowed per UTC calendar month.
    pub monthly_usd: Option<f64>,
    /// The remote whose prices value a local answer (`saved_usd`); default the first remote.
    pub compare_to: Option<String>,
    /// What the box running hearth costs per hour (USD): a local call's ledger cost is its
    /// wall time at this rate. Default 0.
    pub local_usd_per_hour: Option<f64>,
}

/// `[complexity]`: how the rule-based complexity score is computed. Each feature is in
/// [0, 1]; the score is their weighted mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplexityConfig {
    /// Input length (in characters) at which the length feature reaches 1.
    pub long_input_chars: usize,
    /// Code lines (inside ``` fences, or lines that look like code) at which the code feature
    /// reaches 1.
    pub many_code_lines: u32,
    /// Reasoning markers ("why", "prove", "trade-off", …) at which that feature reaches 1.
    pub many_reasoning_markers: u32,
    /// Multi-step markers ("first", "then", numbered steps, …) at which that feature reaches 1.
    pub many_steps: u32,
    /// Question marks at which the questions feature reaches 1.
    pub many_questions: u32,
    /// Distinct jargon terms at which the jargon feature reaches 1.
    pub many_jargon_terms: u32,
    /// Extra jargon terms (lowercase words) for your domain, added to the built-in list.
    pub jargon: Vec<String>,
    /// `[complexity.weights]`: each feature's weight (≥ 0; they need not sum to 1).
    pub weights: ComplexityWeights,
}

impl Default for ComplexityConfig {
    fn default() -> Self {
        ComplexityConfig {
            long_input_chars: 6000,
            many_code_lines: 20,
            many_reasoning_markers: 3,
            many_steps: 3,
            many_questions: 3,
            many_jargon_terms: 4,
            jargon: Vec::new(),
            weights: ComplexityWeights::default(),
        }
    }
}

/// `[complexity.weights]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplexityWeights {
    /// Weight of input length.
    pub length: f64,
    /// Weight of code in the input.
    pub code: f64,
    /// Weight of reasoning markers.
    pub reasoning: f64,
    /// Weight of multi-step markers.
    pub multi_step: f64,
    /// Weight of the number of questions.
    pub questions: f64,
    /// Weight of domain jargon.
    pub jargon: f64,
}

impl Default for ComplexityWeights {
    fn default() -> Self {
        ComplexityWeights {
            length: 0.15,
            code: 0.2,
            reasoning: 0.3,
            multi_step: 0.15,
            questions: 0.1,
            jargon: 0.1,
        }
    }
}

fn yes() -> bool {
    true
}
fn default_batch_size() -> usize {
    512
}
fn default_slots() -> usize {
    4
}
fn default_max_queue() -> usize {
    64
}
fn default_idle_unload_secs() -> u64 {
    300
}
fn default_timeout_secs() -> u64 {
    600
}
fn default_max_retries() -> u32 {
    2
}
fn default_cooldown_after_failures() -> u32 {
    3
}
fn default_cooldown_secs() -> u64 {
    30
}
fn default_max_tokens() -> u32 {
    4096
}

impl LocalModel {
    /// A local model with every optional key at its default.
    pub fn named(name: impl Into<String>) -> Self {
        LocalModel {
            name: name.into(),
            path: None,
            threads: 0,
            ctx_size: 0,
            batch_size: default_batch_size(),
            slots: default_slots(),
            max_queue: default_max_queue(),
            idle_unload_secs: default_idle_unload_secs(),
            preload: false,
            parse_special_in_messages: false,
        }
    }

    /// How long the model may sit idle before it is unloaded; `None`: never.
    pub fn idle_unload(&self) -> Option<Duration> {
        (self.idle_unload_secs > 0).then(|| Duration::from_secs(self.idle_unload_secs))
    }
}

impl Remote {
    /// A remote with every optional key at its default.
    pub fn new(
        name: impl Into<String>,
        provider: Provider,
        model: impl Into<String>,
        input_per_mtok: f64,
        output_per_mtok: f64,
    ) -> Self {
        Remote {
            name: name.into(),
            provider,
            model: model.into(),
            base_url: None,
            api_key_env: None,
            input_per_mtok,
            output_per_mtok,
            cache_write_per_mtok: None,
            cache_read_per_mtok: None,
            timeout_secs: default_timeout_secs(),
            max_retries: default_max_retries(),
            cooldown_after_failures: default_cooldown_after_failures(),
            cooldown_secs: default_cooldown_secs(),
            prompt_caching: true,
            max_tokens: default_max_tokens(),
        }
    }

    /// The API root, the provider's when `base_url` is not set, without a trailing `/` or
    /// `/v1` (clients append `/v1/messages` or `/v1/chat/completions`; OpenAI-style URLs
    /// ending in `/v1` are accepted as written).
    pub fn base_url(&self) -> &str {
        match &self.base_url {
            Some(u) => {
                let u = u.trim_end_matches('/');
                u.strip_suffix("/v1").unwrap_or(u)
            }
            None => match self.provider {
                Provider::Anthropic => "https://api.anthropic.com",
                Provider::Openai => "https://api.openai.com",
            },
        }
    }

    /// The environment variable holding the API key, if the remote needs one.
    pub fn api_key_env(&self) -> Option<&str> {
        match (&self.api_key_env, self.provider) {
            (Some(v), _) => Some(v),
            (None, Provider::Anthropic) => Some("ANTHROPIC_API_KEY"),
            (None, Provider::Openai) => None,
        }
    }

    /// USD per million cache-write tokens (configured, else the provider's multiplier).
    pub fn cache_write_per_mtok(&self) -> f64 {
        let multiplier = match self.provider {
            Provider::Anthropic => ANTHROPIC_CACHE_WRITE_MULTIPLIER,
            Provider::Openai => OPENAI_CACHE_WRITE_MULTIPLIER,
        };
        self.cache_write_per_mtok.unwrap_or(self.input_per_mtok * multiplier)
    }

    /// USD per million cache-read tokens (configured, else the provider's multiplier).
    pub fn cache_read_per_mtok(&self) -> f64 {
        let multiplier = match self.provider {
            Provider::Anthropic => ANTHROPIC_CACHE_READ_MULTIPLIER,
            Provider::Openai => OPENAI_CACHE_READ_MULTIPLIER,
        };
        self.cache_read_per_mtok.unwrap_or(self.input_per_mtok * multiplier)
    }

    /// The per-attempt timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// How long a cooled-down remote is skipped.
    pub fn cooldown(&self) -> Duration {
        Duration::from_secs(self.cooldown_secs)
    }
}

/// A configured target, local or remote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target<'a> {
    /// A `[[models]]` entry.
    Local(&'a LocalModel),
    /// A `[[remotes]]` entry.
    Remote(&'a Remote),
}

impl Target<'_> {
    /// The target's name.
    pub fn name(&self) -> &str {
        match self {
            Target::Local(m) => &m.name,
            Target::Remote(r) => &r.name,
        }
    }

    /// Whether it is a local model.
    pub fn is_local(&self) -> bool {
        matches!(self, Target::Local(_))
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key, or a value of the wrong type.
    #[error("{}{message}", origin.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    Parse {
        /// The file, when read from one.
        origin: Option<PathBuf>,
        /// The parser's message (it names the key and shows the line).
        message: String,
    },
    /// The file parsed but does not make sense; every problem found is listed.
    #[error("{}{problems}", origin.as_ref().map(|p| format!("invalid config {}:\n", p.display())).unwrap_or_else(|| "invalid config:\n".into()))]
    Invalid {
        /// The file, when read from one.
        origin: Option<PathBuf>,
        /// What is wrong, one entry per problem.
        problems: Problems,
    },
}

impl ConfigError {
    /// The validation problems, empty for read and parse errors.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems, .. } => &problems.0,
            _ => &[],
        }
    }
}

impl RouterConfig {
    /// Parses a config (no validation: see [`RouterConfig::validate`]).
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse { origin: None, message: e.to_string() })
    }

    /// Reads, parses and validates a config file against this process's environment (API key
    /// variables must be set). What `hearth serve --config` calls.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let config = Self::from_toml_str(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => {
                ConfigError::Parse { origin: Some(path.to_owned()), message }
            }
            other => other,
        })?;
        config.validate(&process_env).map_err(|e| match e {
            ConfigError::Invalid { problems, .. } => {
                ConfigError::Invalid { origin: Some(path.to_owned()), problems }
            }
            other => other,
        })?;
        Ok(config)
    }

    /// The model or remote called `name`.
    pub fn target(&self, name: &str) -> Option<Target<'_>> {
        if let Some(m) = self.models.iter().find(|m| m.name == name) {
            return Some(Target::Local(m));
        }
        self.remotes.iter().find(|r| r.name == name).map(Target::Remote)
    }

    /// The local model called `name`.
    pub fn local(&self, name: &str) -> Option<&LocalModel> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The remote called `name`.
    pub fn remote(&self, name: &str) -> Option<&Remote> {
        self.remotes.iter().find(|r| r.name == name)
    }

    /// The route serving `task`: the one listing it, else the catch-all (`"*"`), with its index.
    pub fn route_for(&self, task: &str) -> Option<(usize, &Route)> {
        self.routes
            .iter()
            .enumerate()
            .find(|(_, r)| r.lists(task))
            .or_else(|| self.routes.iter().enumerate().find(|(_, r)| r.is_catch_all()))
    }

    /// A route's behaviour past a spend cap: as configured, else `local` when there is a local
    /// model, else `reject`.
    pub fn on_budget(&self, route: &Route) -> OnBudget {
        route.on_budget.unwrap_or(if self.models.is_empty() { OnBudget::Reject } else { OnBudget::Local })
    }

    /// The remote whose prices value local answers (`saved_usd`): `budget.compare_to`, else
    /// the first remote.
    pub fn reference_remote(&self) -> Option<&Remote> {
        match &self.budget.compare_to {
            Some(name) => self.remote(name),
            None => self.remotes.first(),
        }
    }

    /// Every name a request may use: the local models, the remotes, then `auto`.
    pub fn model_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
        names.extend(self.remotes.iter().map(|r| r.name.as_str()));
        names.push(AUTO);
        names
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
