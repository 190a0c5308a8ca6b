//! [`AppState`]: what every handler shares — the configuration, the model once it is loaded
//! (engine + scheduler), the metrics and the id counter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use hearth_engine::{Engine, Scheduler};

use crate::{ApiError, Metrics, ModelShape, ServerConfig};

/// The loaded model: the engine (tokenizer, context size) and the engine thread serving it.
#[derive(Debug)]
pub struct Ready {
    /// The model.
    pub engine: Engine,
    /// The engine thread with its slots and queue.
    pub scheduler: Scheduler,
    /// Bounds how many requests are prepared (prompt tokenized, constraint compiled) at once,
    /// on blocking threads, so a burst of hostile schemas cannot take every core from the
    /// engine thread.
    pub preparing: tokio::sync::Semaphore,
}

impl Ready {
    /// What request validation needs to know about the model.
    pub fn model_shape(&self) -> ModelShape {
        ModelShape { n_ctx: self.engine.n_ctx(), n_vocab: self.engine.model().config().n_vocab }
    }
}

/// Requests prepared at once: half the cores, at least one, leaving the rest to the engine.
fn prepare_permits() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

#[derive(Debug)]
enum ModelState {
    Loading,
    Ready(Arc<Ready>),
    Failed(String),
}

#[derive(Debug)]
struct Inner {
    config: ServerConfig,
    model: RwLock<ModelState>,
    metrics: Metrics,
    next_id: AtomicU64,
    /// Unix time the server started (ids, `created` of the model).
    started: u64,
}

/// Shared state of the server. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// State for `config`, with the model still loading (`/health` answers 503).
    pub fn new(config: ServerConfig) -> AppState {
        AppState(Arc::new(Inner {
            config,
            model: RwLock::new(ModelState::Loading),
            metrics: Metrics::default(),
            next_id: AtomicU64::new(0),
            started: unix_now(),
        }))
    }

    /// Starts serving `engine`: starts its engine thread with the configured slots and queue.
    pub fn set_engine(&self, engine: Engine) {
        let scheduler = Scheduler::start(engine.clone(), self.0.config.scheduler.clone());
        self.set(ModelState::Ready(Arc::new(Ready {
            engine,
            scheduler,
            preparing: tokio::sync::Semaphore::new(prepare_permits()),
        })));
    }

    /// Marks the model as failed to load (`/health` answers 500 with `message`).
    pub fn set_failed(&self, message: String) {
        self.set(ModelState::Failed(message));
    }

    /// Forgets the model; the engine thread stops once the last request holding it ends.
    pub fn unload(&self) -> Option<Arc<Ready>> {
        let old = match self.0.model.write() {
            Ok(mut m) => std::mem::replace(&mut *m, ModelState::Loading),
            Err(_) => return None,
        };
        match old {
            ModelState::Ready(r) => Some(r),
            _ => None,
        }
    }

    fn set(&self, state: ModelState) {
        if let Ok(mut m) = self.0.model.write() {
            *m = state;
        }
    }

    /// The loaded model, or the error to answer while there is none (503 loading, 500 failed).
    pub fn ready(&self) -> Result<Arc<Ready>, ApiError> {
        let m = self.0.model.read().map_err(|_| ApiError::internal("server state poisoned"))?;
        match &*m {
            ModelState::Ready(r) => Ok(Arc::clone(r)),
            ModelState::Loading => Err(ApiError::loading()),
            ModelState::Failed(msg) => {
                Err(ApiError::internal(format!("the model failed to load: {msg}"))
                    .with_code("model_load_failed"))
            }
        }
    }

    /// The loaded model, if any.
    pub fn engine_state(&self) -> Option<Arc<Ready>> {
        self.ready().ok()
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    /// The model name reported to clients.
    pub fn model_id(&self) -> &str {
        &self.0.config.model_id
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// Unix time the server started.
    pub fn started(&self) -> u64 {
        self.0.started
    }

    /// A new response id, `{prefix}-...`, unique within this server's life.
    pub fn new_id(&self, prefix: &str) -> String {
        let n = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}-{:x}{n:06x}", self.0.started)
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
