//! `hearth serve --config` with a `[cache]` section: its embedder loaded (and served on
//! `/v1/embeddings`), the cache opened over its store (SQLite beside the models by default,
//! Redis for several nodes), and a line saying so.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use hearth_cache::{Cache, CacheConfig, Embed};
use hearth_server::{EmbedderSpec, ModelEmbed};

/// An opened cache: the cache, its embedder (served on `/v1/embeddings` too) and a line
/// for the start-up message.
pub struct Opened {
    pub cache: Arc<Cache>,
    pub embedder: Option<EmbedderSpec>,
    pub note: String,
}

/// The cache the config asks for; `None` without a `[cache]` section or with
/// `enabled = false`.
pub fn open(config: Option<&CacheConfig>, base: &Path) -> Result<Option<Opened>> {
    let Some(config) = config.filter(|c| c.enabled) else { return Ok(None) };
    let mut spec = None;
    let embedder: Option<Arc<dyn Embed>> = if config.semantic {
        let arg = resolve_relative(&config.embedder, base);
        let path = crate::resolve::model_file(&arg)
            .with_context(|| format!("[cache] embedder {}", config.embedder))?;
        let sha = file_hash(&path);
        let model = hearth_models::Embedder::open(&path)
            .with_context(|| format!("[cache] embedder {}: loading {}", config.embedder, path.display()))?;
        let name = crate::serve::model_id(&config.embedder);
        spec = Some(EmbedderSpec { name: name.clone(), path });
        Some(Arc::new(ModelEmbed::new(format!("{name}@{sha}"), Arc::new(model))))
    } else {
        None
    };
    let models = hearth_hub::Store::default_dir();
    let cache = Cache::open(config, embedder, &models).context("opening the [cache]")?;
    let where_ = match config.store {
        hearth_cache::StoreKind::Sqlite => config.resolved_path(&models).display().to_string(),
        hearth_cache::StoreKind::Redis => {
            hearth_cache::redact_url(config.redis_url.as_deref().unwrap_or_default())
        }
        hearth_cache::StoreKind::Memory => "memory".to_owned(),
    };
    let note = format!(
        "cache {} ({}{}, {} entries)",
        where_,
        if config.exact { "exact" } else { "" },
        if config.semantic {
            format!(" + semantic ≥ {} with {}", config.threshold, config.embedder)
        } else {
            String::new()
        },
        cache.stats().entries
    );
    Ok(Some(Opened { cache: Arc::new(cache), embedder: spec, note }))
}

/// The first 16 hex digits of the file's sha256, part of the embedder's id (a new file starts a
/// fresh cache): from the stamp a verified download left (no rehashing hundreds of MB at
/// every start), else hashed now.
fn file_hash(path: &Path) -> String {
    let stamp = std::fs::read_to_string(hearth_hub::download::stamp_path(path)).ok();
    let sha = stamp
        .map(|s| s.trim().to_owned())
        .or_else(|| hearth_hub::download::sha256_file(path).ok())
        .unwrap_or_default();
    sha.get(..16).unwrap_or(&sha).to_owned()
}

/// A relative `.gguf` path in the config is relative to the config file.
fn resolve_relative(arg: &str, base: &Path) -> String {
    let p = Path::new(arg);
    if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")) && p.is_relative() {
        return base.join(p).display().to_string();
    }
    arg.to_owned()
}
