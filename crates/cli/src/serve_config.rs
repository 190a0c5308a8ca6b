//! `hearth serve --config FILE.toml`: the file (`hearth_router::RouterConfig`, read and
//! validated by `hearth-router`) becomes the server's settings. Its `[[models]]` become the
//! pool's [`ModelSpec`]s: every file is resolved before the port is bound (catalog names are
//! downloaded, with progress bars), so a typo fails at start-up, and loaded on first use.
//! A relative `path` is taken from the config file's folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use hearth_engine::{EngineOptions, SchedulerOptions};
use hearth_router::{LocalModel, RouterConfig};
use hearth_server::ModelSpec;

/// Reads and validates `path`; refuses a config without local models (what `hearth serve`
/// can serve today).
pub fn load(path: &Path) -> Result<RouterConfig> {
    let config = RouterConfig::load(path)?;
    if config.models.is_empty() {
        bail!(
            "{}: no [[models]] entry: hearth serve needs at least one local model (remote-only \
             configs are not served yet)",
            path.display()
        );
    }
    Ok(config)
}

/// The pool's models: each `[[models]]` entry with its file, resolved by `resolve` (a
/// catalog name or `.gguf` path to a file) unless `path` gives one (relative to `base`).
pub fn specs(
    config: &RouterConfig,
    base: &Path,
    resolve: impl Fn(&str) -> Result<PathBuf>,
) -> Result<Vec<ModelSpec>> {
    config
        .models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let file = match &m.path {
                Some(p) => base.join(p),
                None => resolve(&m.name).with_context(|| format!("models[{i}] ({:?})", m.name))?,
            };
            Ok(spec(m, file))
        })
        .collect()
}

/// One `[[models]]` entry as the server takes it.
fn spec(m: &LocalModel, path: PathBuf) -> ModelSpec {
    ModelSpec {
        name: m.name.clone(),
        path,
        engine: EngineOptions {
            threads: m.threads,
            n_ctx: m.ctx_size,
            n_batch: m.batch_size,
            parse_special_in_messages: m.parse_special_in_messages,
        },
        scheduler: SchedulerOptions { slots: m.slots.max(1), max_queue: m.max_queue },
        idle_unload: m.idle_unload(),
        preload: m.preload,
    }
}

/// `server.memory_budget_mb` in bytes (`None`: the server's default, 75% of the memory).
pub fn memory_budget(config: &RouterConfig) -> Result<Option<u64>> {
    config
        .server
        .memory_budget_mb
        .map(|mb| mb.checked_mul(1 << 20).context("server.memory_budget_mb is too large"))
        .transpose()
}

/// The API key named by `server.api_key_env`, if any (validation checked it is set).
pub fn api_key(config: &RouterConfig) -> Option<String> {
    let var = config.server.api_key_env.as_deref()?;
    std::env::var(var).ok().filter(|k| !k.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const FILE: &str = r#"
        [server]
        memory_budget_mb = 2048

        [[models]]
        name = "qwen2.5-coder:0.5b"

        [[models]]
        name = "mine"
        path = "models/mine.gguf"
        threads = 2
        ctx_size = 1024
        slots = 3
        max_queue = 9
        idle_unload_secs = 0
        preload = true
    "#;

    #[test]
    fn models_become_specs_with_their_options() {
        let config = RouterConfig::from_toml_str(FILE).unwrap();
        config.validate(&|_| true).unwrap();
        let specs = specs(&config, Path::new("/etc/hearth"), |name| {
            Ok(PathBuf::from(format!("/store/{}.gguf", name.replace(':', "-"))))
        })
        .unwrap();
        assert_eq!(specs.len(), 2);
        let (a, b) = (&specs[0], &specs[1]);
        assert_eq!(a.name, "qwen2.5-coder:0.5b");
        assert_eq!(a.path, Path::new("/store/qwen2.5-coder-0.5b.gguf"));
        assert_eq!(a.idle_unload, Some(Duration::from_secs(300)), "Ollama's keep-alive by default");
        assert_eq!((a.scheduler.slots, a.engine.threads, a.engine.n_ctx), (4, 0, 0));
        assert!(!a.preload);
        assert_eq!(b.path, Path::new("/etc/hearth/models/mine.gguf"), "relative to the config file");
        assert_eq!((b.engine.threads, b.engine.n_ctx), (2, 1024));
        assert_eq!((b.scheduler.slots, b.scheduler.max_queue), (3, 9));
        assert_eq!(b.idle_unload, None, "0 keeps it loaded");
        assert!(b.preload);
        assert_eq!(memory_budget(&config).unwrap(), Some(2048 << 20));
    }

    #[test]
    fn a_model_that_does_not_resolve_names_its_entry() {
        let config = RouterConfig::from_toml_str("[[models]]\nname = \"typo:7b\"\n").unwrap();
        let e = specs(&config, Path::new("."), |n| bail!("unknown model {n}")).unwrap_err();
        assert_eq!(format!("{e:#}"), "models[0] (\"typo:7b\"): unknown model typo:7b");
    }
}
