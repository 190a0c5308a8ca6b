//! The embedding models a server serves ([`EmbedderSpec`]: `hearth serve --embedding-model`,
//! `[server] embedding_models`, the `[cache] embedder`), each loaded on first use and kept;
//! [`Embedders::run`] embeds on a blocking thread, one batch at a time per server (the
//! embedder uses every core; two at once would only take turns).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use hearth_models::Embedder;
use tokio::sync::{OnceCell, Semaphore};

use crate::ApiError;

/// An embedding model to serve: the name clients use (`model`) and its GGUF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedderSpec {
    /// The name in requests and `/v1/models` (e.g. `all-minilm`).
    pub name: String,
    /// The GGUF file.
    pub path: PathBuf,
}

type Slot = Arc<OnceCell<Result<Arc<Embedder>, String>>>;

/// The served embedders, loaded on first use.
#[derive(Debug)]
pub struct Embedders {
    specs: Vec<EmbedderSpec>,
    loaded: Mutex<HashMap<String, Slot>>,
    running: Semaphore,
}

impl Embedders {
    /// The embedders of `specs` (none loaded yet).
    pub fn new(specs: Vec<EmbedderSpec>) -> Embedders {
        Embedders { specs, loaded: Mutex::new(HashMap::new()), running: Semaphore::new(1) }
    }

    /// The configured embedders.
    pub fn specs(&self) -> &[EmbedderSpec] {
        &self.specs
    }

    /// The spec `requested` names: by name, or by the file's name without `.gguf`. With no
    /// name and exactly one embedder, that one.
    pub fn find(&self, requested: Option<&str>) -> Result<&EmbedderSpec, ApiError> {
        if self.specs.is_empty() {
            return Err(ApiError::not_found(
                "this server serves no embedding model; start it with `hearth serve --embedding-model all-minilm` (or list them in the config's `[server] embedding_models`)",
                "model_not_found",
            ));
        }
        let found = match requested {
            None if self.specs.len() == 1 => self.specs.first(),
            None => None,
            Some(name) => self.specs.iter().find(|s| {
                s.name == name || s.path.file_stem().is_some_and(|stem| stem.to_string_lossy() == name)
            }),
        };
        found.ok_or_else(|| {
            let names: Vec<&str> = self.specs.iter().map(|s| s.name.as_str()).collect();
            let asked = requested.map_or_else(|| "no model".to_owned(), |n| format!("model '{n}'"));
            ApiError::not_found(
                format!(
                    "{asked} is not an embedding model this server serves; it serves: {}",
                    names.join(", ")
                ),
                "model_not_found",
            )
        })
    }

    /// The loaded embedder of `spec`, loading it (on a blocking thread) the first time. A
    /// failed load is remembered and answered 500 with its reason.
    pub async fn get(&self, spec: &EmbedderSpec) -> Result<Arc<Embedder>, ApiError> {
        let slot: Slot = {
            let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(loaded.entry(spec.name.clone()).or_default())
        };
        let result = slot
            .get_or_init(|| async {
                let path = spec.path.clone();
                let name = spec.name.clone();
                let loaded = tokio::task::spawn_blocking(move || Embedder::open(&path))
                    .await
                    .map_err(|e| format!("loading embedder {name}: {e}"))
                    .and_then(|r| r.map_err(|e| format!("loading embedder {name}: {e}")));
                match &loaded {
                    Ok(e) => tracing::info!(model = %spec.name, dim = e.dim(), "embedder loaded"),
                    Err(e) => tracing::error!(error = %e, "embedder failed to load"),
                }
                loaded.map(Arc::new)
            })
            .await;
        result.clone().map_err(ApiError::internal)
    }

    /// Runs `f` with `embedder` on a blocking thread, one call at a time.
    pub async fn run<T: Send + 'static>(
        &self,
        embedder: Arc<Embedder>,
        f: impl FnOnce(&Embedder) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _turn = self.running.acquire().await.map_err(|_| ApiError::internal("the server is stopping"))?;
        tokio::task::spawn_blocking(move || f(&embedder))
            .await
            .map_err(|e| ApiError::internal(format!("the embedding thread failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, file: &str) -> EmbedderSpec {
        EmbedderSpec { name: name.into(), path: PathBuf::from(format!("/models/{file}")) }
    }

    #[test]
    fn find_by_name_or_file_stem() {
        let e = Embedders::new(vec![spec("all-minilm", "all-minilm-l6-v2.gguf"), spec("nomic", "n.gguf")]);
        assert_eq!(e.find(Some("all-minilm")).unwrap().name, "all-minilm");
        assert_eq!(e.find(Some("all-minilm-l6-v2")).unwrap().name, "all-minilm");
        let err = e.find(Some("text-embedding-3-small")).unwrap_err();
        assert_eq!(err.status.as_u16(), 404);
        assert!(err.message.contains("all-minilm, nomic"), "{}", err.message);
        assert!(e.find(None).is_err());
        let one = Embedders::new(vec![spec("all-minilm", "a.gguf")]);
        assert_eq!(one.find(None).unwrap().name, "all-minilm");
        let none = Embedders::new(Vec::new()).find(Some("x")).unwrap_err();
        assert!(none.message.contains("--embedding-model"), "{}", none.message);
    }
}
