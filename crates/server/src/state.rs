//! [`AppState`]: what every handler shares — the configuration, the models (one loaded at
//! start, or a [`ModelPool`] of several loaded on first use), the metrics and the id counter;
//! and [`AppState::acquire`], which picks the model a request names.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use hearth_engine::{Engine, Scheduler, SchedulerOptions};

use crate::embedders::Embedders;
use crate::pool::{Lease, ModelPool, memory};
use crate::{ApiError, Metrics, ModelShape, ServerConfig, select};

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
    /// Starts serving `engine`: its engine thread with `opts`' slots and queue.
    pub fn start(engine: Engine, opts: SchedulerOptions) -> Ready {
        let scheduler = Scheduler::start(engine.clone(), opts);
        Ready { engine, scheduler, preparing: tokio::sync::Semaphore::new(prepare_permits()) }
    }

    /// What request validation needs to know about the model.
    pub fn model_shape(&self) -> ModelShape {
        ModelShape {
            n_ctx: self.engine.n_ctx(),
            n_vocab: self.engine.model().config().n_vocab,
            tool_syntax: hearth_tools::CallSyntax::detect(self.engine.template().tools_source()),
        }
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

/// What the server serves.
#[derive(Debug)]
enum Models {
    /// One model, loaded at start (`--model`): every request goes to it, whatever it names.
    Single(RwLock<ModelState>),
    /// Several, by name, loaded on first use (`--config`).
    Pool(ModelPool),
}

#[derive(Debug)]
struct Inner {
    config: ServerConfig,
    embedders: Embedders,
    models: Models,
    metrics: Metrics,
    next_id: AtomicU64,
    /// Unix time the server started (ids, `created` of the model).
    started: u64,
}

/// Shared state of the server. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// State for `config`: with no [`ServerConfig::models`], one model still loading
    /// (`/health` answers 503 until [`AppState::set_engine`]); else a pool of them, none
    /// loaded yet.
    pub fn new(config: ServerConfig) -> AppState {
        let models = if config.models.is_empty() {
            Models::Single(RwLock::new(ModelState::Loading))
        } else {
            let budget = config.memory_budget.or_else(memory::default_budget);
            Models::Pool(ModelPool::new(config.models.clone(), budget))
        };
        AppState(Arc::new(Inner {
            embedders: Embedders::new(config.embedders.clone()),
            config,
            models,
            metrics: Metrics::default(),
            next_id: AtomicU64::new(0),
            started: unix_now(),
        }))
    }

    /// Starts serving `engine` (the single-model server): starts its engine thread with the
    /// configured slots and queue. A pool loads its own models; there this does nothing.
    pub fn set_engine(&self, engine: Engine) {
        if matches!(self.0.models, Models::Pool(_)) {
            tracing::warn!("set_engine on a server with a model pool: ignored");
            return;
        }
        self.set(ModelState::Ready(Arc::new(Ready::start(engine, self.0.config.scheduler.clone()))));
    }

    /// Marks the model as failed to load (`/health` answers 500 with `message`).
    pub fn set_failed(&self, message: String) {
        self.set(ModelState::Failed(message));
    }

    /// Forgets the single model; the engine thread stops once the last request holding it
    /// ends. (A pool unloads with [`ModelPool::unload_all`].)
    pub fn unload(&self) -> Option<Arc<Ready>> {
        let Models::Single(model) = &self.0.models else { return None };
        let old = match model.write() {
            Ok(mut m) => std::mem::replace(&mut *m, ModelState::Loading),
            Err(_) => return None,
        };
        match old {
            ModelState::Ready(r) => Some(r),
            _ => None,
        }
    }

    fn set(&self, state: ModelState) {
        if let Models::Single(model) = &self.0.models
            && let Ok(mut m) = model.write()
        {
            *m = state;
        }
    }

    /// The loaded model, or the error to answer while there is none (503 loading, 500
    /// failed). With a pool: its first model, if loaded.
    pub fn ready(&self) -> Result<Arc<Ready>, ApiError> {
        let model = match &self.0.models {
            Models::Single(model) => model,
            Models::Pool(pool) => {
                return pool.status().into_iter().next().and_then(|s| s.ready).ok_or_else(ApiError::loading);
            }
        };
        let m = model.read().map_err(|_| ApiError::internal("server state poisoned"))?;
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

    /// The model a request's `model` field names, held for the request: the single model
    /// whatever the name; from a pool, the model of that name (loaded if needed), the
    /// default one for `auto` or no name, 404 `model_not_found` for another name, 503 for a
    /// failed load or a full memory budget.
    pub async fn acquire(&self, requested: Option<&str>) -> Result<Lease, ApiError> {
        match &self.0.models {
            Models::Single(_) => Ok(Lease::unpooled(self.model_id().to_owned(), self.ready()?)),
            Models::Pool(pool) => {
                let index = select::local_model(requested, pool)?;
                Ok(pool.acquire_index(index).await?)
            }
        }
    }

    /// The model pool, when the server serves several models.
    pub fn pool(&self) -> Option<&ModelPool> {
        match &self.0.models {
            Models::Pool(p) => Some(p),
            Models::Single(_) => None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    /// The model name reported to clients by the single-model server.
    pub fn model_id(&self) -> &str {
        &self.0.config.model_id
    }

    /// The embedding models served on `/v1/embeddings`.
    pub fn embedders(&self) -> &Embedders {
        &self.0.embedders
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
