//! [`ModelSpec`]: one local model the pool may serve — its name, its file and how to run it —
//! and the checks made on a list of them before the server binds.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use hearth_engine::{EngineOptions, SchedulerOptions};

use crate::ServerError;
use crate::pool::memory::human;

/// How long an idle model stays loaded when not configured: 300 s, as Ollama's keep-alive.
pub const DEFAULT_IDLE_UNLOAD: Duration = Duration::from_secs(300);

/// The model name that asks hearth to choose (the router); no local model may take it.
pub const AUTO: &str = "auto";

/// One local model of the pool.
#[derive(Clone, Debug)]
pub struct ModelSpec {
    /// The name requests use in `model` (and `/v1/models` lists).
    pub name: String,
    /// The GGUF file (a catalog name is resolved to its file before the server starts).
    pub path: PathBuf,
    /// Threads, context size, batch size.
    pub engine: EngineOptions,
    /// Slots and queue of this model's engine thread.
    pub scheduler: SchedulerOptions,
    /// Unloaded after this long without requests; `None`: kept loaded once loaded.
    pub idle_unload: Option<Duration>,
    /// Loaded when the server starts ([`crate::Server::serve`]) instead of on first use.
    pub preload: bool,
}

impl ModelSpec {
    /// A spec for `path` under `name` with default options and keep-alive.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> ModelSpec {
        ModelSpec {
            name: name.into(),
            path: path.into(),
            engine: EngineOptions::default(),
            scheduler: SchedulerOptions::default(),
            idle_unload: Some(DEFAULT_IDLE_UNLOAD),
            preload: false,
        }
    }
}

/// Checks what needs no file: names present, unique and not `auto`; engine options valid.
pub(crate) fn validate(specs: &[ModelSpec]) -> Result<(), ServerError> {
    let mut seen = HashSet::new();
    for s in specs {
        if s.name.trim().is_empty() {
            return Err(ServerError::Invalid("a model has an empty name".into()));
        }
        if s.name == AUTO {
            return Err(ServerError::Invalid(format!(
                "a local model cannot be named {AUTO:?}: that name asks hearth to choose; rename it"
            )));
        }
        if !seen.insert(s.name.as_str()) {
            return Err(ServerError::Invalid(format!("the model name {:?} is used twice", s.name)));
        }
        s.engine.validate().map_err(|e| ServerError::Invalid(format!("model {:?}: {e}", s.name)))?;
    }
    Ok(())
}

/// Checks the files: each one exists and fits in `budget` on its own.
pub(crate) fn check_files(specs: &[ModelSpec], budget: Option<u64>) -> Result<(), ServerError> {
    for s in specs {
        let meta = std::fs::metadata(&s.path).map_err(|e| {
            ServerError::Invalid(format!("model {:?}: cannot read {}: {e}", s.name, s.path.display()))
        })?;
        if !meta.is_file() {
            return Err(ServerError::Invalid(format!(
                "model {:?}: {} is not a file",
                s.name,
                s.path.display()
            )));
        }
        if let Some(budget) = budget
            && meta.len() > budget
        {
            return Err(ServerError::Invalid(format!(
                "model {:?} ({}) is larger than the memory budget ({}): raise the budget \
                 (memory_budget) or serve a smaller quantization",
                s.name,
                human(meta.len()),
                human(budget)
            )));
        }
    }
    Ok(())
}
