//! [`ModelPool`]: several local models served at once, each loaded on first use and given its
//! own engine thread and slots ([`Ready`]), unloaded after its idle time, and — past the
//! memory budget — the least recently used idle one unloaded before another is loaded, as
//! Ollama does. A model in use (a [`Lease`] alive: the request is preparing, queued or
//! generating) is never unloaded.
//!
//! The decisions are pure functions in [`eviction`]; this file is the adapter: one mutex
//! over every model's state (held only for bookkeeping, never across an await), one async
//! gate per model so that concurrent first requests wait for the one load, loads on blocking
//! threads, and a reaper task that sleeps until the next keep-alive runs out.
//!
//! ```no_run
//! # async fn f(pool: hearth_server::ModelPool) -> Result<(), hearth_server::PoolError> {
//! let lease = pool.acquire("qwen2.5-coder:0.5b").await?; // loads it if needed
//! let scheduler = &lease.ready().scheduler; // its engine thread; the model stays loaded
//! # let _ = scheduler;
//! drop(lease); //                            until the lease is gone (then idle)
//! # Ok(()) }
//! ```

pub(crate) mod eviction;
pub mod memory;
mod spec;
mod status;

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use hearth_engine::Engine;
use tokio::sync::Notify;

use self::eviction::{Resident, Room, make_room};
use self::memory::{human, resident_estimate};
pub use self::spec::{AUTO, DEFAULT_IDLE_UNLOAD, ModelSpec};
pub(crate) use self::spec::{check_files, validate};
pub use self::status::{LoadState, ModelStatus, Totals};
use crate::Ready;

/// Why a model could not be handed out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// No model of that name.
    #[error("the model {name:?} does not exist; this server serves {}", list(available))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names it could have been.
        available: Vec<String>,
    },
    /// Loading it failed; the next request tries again.
    #[error("the model {name:?} failed to load: {cause}; the next request retries the load")]
    LoadFailed {
        /// The model.
        name: String,
        /// Why (the loader's error chain).
        cause: String,
    },
    /// It does not fit in the memory budget while the models in use hold the rest.
    #[error(
        "cannot load the model {name:?} ({}) now: the memory budget ({}) is held by models in use ({}); \
         retry when their requests finish, or raise the memory budget",
        human(*needed), human(*budget), list(in_use)
    )]
    NoRoom {
        /// The model.
        name: String,
        /// Its size.
        needed: u64,
        /// The budget.
        budget: u64,
        /// The models in use.
        in_use: Vec<String>,
    },
}

/// `"a", "b"`.
fn list(names: &[String]) -> String {
    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
}

/// A model handed out to one request: it stays loaded (not evicted, not idle) until this is
/// dropped. Cheap to hold; dropping it marks the model used now.
#[derive(Debug)]
pub struct Lease {
    name: String,
    ready: Arc<Ready>,
    _in_use: Option<InUse>,
}

impl Lease {
    /// A lease on a model outside any pool (the single-model server).
    pub(crate) fn unpooled(name: String, ready: Arc<Ready>) -> Lease {
        Lease { name, ready, _in_use: None }
    }

    /// The model's name, as reported to clients.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its engine and engine thread.
    pub fn ready(&self) -> &Arc<Ready> {
        &self.ready
    }
}

/// Counts a request on a model while alive.
#[derive(Debug)]
struct InUse {
    shared: Arc<Shared>,
    index: usize,
}

impl Drop for InUse {
    fn drop(&mut self) {
        let mut slots = self.shared.lock();
        let slot = &mut slots[self.index];
        slot.in_use = slot.in_use.saturating_sub(1);
        slot.last_used = Instant::now();
        drop(slots);
        self.shared.changed.notify_one();
    }
}

#[derive(Debug)]
enum State {
    Unloaded,
    Loading,
    Ready(Arc<Ready>),
    Failed(String),
}

#[derive(Debug)]
struct Slot {
    state: State,
    in_use: usize,
    last_used: Instant,
    /// Resident estimate while loading or loaded.
    bytes: u64,
    /// Loads attempted (finished), so that requests that waited on a failed load share its
    /// error instead of each trying again.
    attempts: u64,
    loads: u64,
    unloads: u64,
    /// Counters of the engine threads already stopped.
    retired: Totals,
}

#[derive(Debug)]
struct Shared {
    specs: Vec<ModelSpec>,
    /// Held while a model loads: concurrent first requests wait here for the one load.
    gates: Vec<Arc<tokio::sync::Mutex<()>>>,
    slots: Mutex<Vec<Slot>>,
    budget: Option<u64>,
    /// Wakes the reaper: a lease ended, a model loaded, or the pool is gone.
    changed: Arc<Notify>,
    reaper: std::sync::Once,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.changed.notify_one();
    }
}

/// The local models of a server. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ModelPool(Arc<Shared>);

impl ModelPool {
    /// A pool of `specs`, none loaded; loaded models together stay within `budget` bytes
    /// (`None`: no limit). Names are not checked here (see `ServerConfig::validate`).
    pub fn new(specs: Vec<ModelSpec>, budget: Option<u64>) -> ModelPool {
        let now = Instant::now();
        let slots = specs
            .iter()
            .map(|_| Slot {
                state: State::Unloaded,
                in_use: 0,
                last_used: now,
                bytes: 0,
                attempts: 0,
                loads: 0,
                unloads: 0,
                retired: Totals::default(),
            })
            .collect();
        ModelPool(Arc::new(Shared {
            gates: specs.iter().map(|_| Arc::new(tokio::sync::Mutex::new(()))).collect(),
            specs,
            slots: Mutex::new(slots),
            budget,
            changed: Arc::new(Notify::new()),
            reaper: std::sync::Once::new(),
        }))
    }

    /// The models, in configuration order.
    pub fn specs(&self) -> &[ModelSpec] {
        &self.0.specs
    }

    /// The model names, in configuration order.
    pub fn names(&self) -> Vec<String> {
        self.0.specs.iter().map(|s| s.name.clone()).collect()
    }

    /// The memory budget in bytes, if any.
    pub fn budget(&self) -> Option<u64> {
        self.0.budget
    }

    /// The model called `name`, loaded if it is not (waiting for a load already under way),
    /// held until the lease is dropped.
    pub async fn acquire(&self, name: &str) -> Result<Lease, PoolError> {
        let Some(index) = self.0.specs.iter().position(|s| s.name == name) else {
            return Err(PoolError::Unknown { name: name.to_owned(), available: self.names() });
        };
        self.acquire_index(index).await
    }

    /// [`ModelPool::acquire`] by position in the configuration.
    pub async fn acquire_index(&self, index: usize) -> Result<Lease, PoolError> {
        let Some(spec) = self.0.specs.get(index) else {
            return Err(PoolError::Unknown { name: format!("#{index}"), available: self.names() });
        };
        self.start_reaper();
        if let Some(lease) = self.0.try_lease(index) {
            return Ok(lease);
        }
        let seen = self.0.lock()[index].attempts;
        let gate = Arc::clone(&self.0.gates[index]).lock_owned().await;
        {
            let mut slots = self.0.lock();
            if let Some(lease) = self.0.lease_locked(&mut slots, index) {
                return Ok(lease);
            }
            // A load this request waited for failed: share its answer.
            if let (State::Failed(cause), true) = (&slots[index].state, slots[index].attempts > seen) {
                return Err(PoolError::LoadFailed { name: spec.name.clone(), cause: cause.clone() });
            }
        }
        // The load runs to its end even if this request goes away meanwhile (its lease is
        // then dropped with the task's output).
        let shared = Arc::clone(&self.0);
        let name = spec.name.clone();
        tokio::spawn(async move {
            let result = shared.load(index).await;
            drop(gate);
            result
        })
        .await
        .unwrap_or_else(|e| Err(PoolError::LoadFailed { name, cause: format!("the load task failed: {e}") }))
    }

    /// Every model's state now.
    pub fn status(&self) -> Vec<ModelStatus> {
        let slots = self.0.lock();
        self.0
            .specs
            .iter()
            .zip(slots.iter())
            .map(|(spec, slot)| {
                let (state, error, ready) = match &slot.state {
                    State::Unloaded => (LoadState::Unloaded, None, None),
                    State::Loading => (LoadState::Loading, None, None),
                    State::Ready(r) => (LoadState::Loaded, None, Some(Arc::clone(r))),
                    State::Failed(e) => (LoadState::Failed, Some(e.clone()), None),
                };
                let live = ready.as_deref().map(Totals::of).unwrap_or_default();
                ModelStatus {
                    name: spec.name.clone(),
                    state,
                    error,
                    ready,
                    in_use: slot.in_use,
                    resident_bytes: if matches!(state, LoadState::Loaded | LoadState::Loading) {
                        slot.bytes
                    } else {
                        0
                    },
                    loads: slot.loads,
                    unloads: slot.unloads,
                    idle_unload: spec.idle_unload,
                    totals: slot.retired.plus(live),
                }
            })
            .collect()
    }

    /// Unloads every model (requests still running keep theirs until they end); for
    /// shutdown.
    pub async fn unload_all(&self) {
        let all: Vec<usize> = (0..self.0.specs.len()).collect();
        let taken = {
            let mut slots = self.0.lock();
            self.0.take(&mut slots, &all, "the server stops")
        };
        release(taken).await;
    }

    fn start_reaper(&self) {
        self.0.reaper.call_once(|| {
            tokio::spawn(reap(Arc::downgrade(&self.0), Arc::clone(&self.0.changed)));
        });
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<Slot>> {
        // The slots stay consistent at every unlock: recover them from a panicked holder.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn try_lease(self: &Arc<Self>, index: usize) -> Option<Lease> {
        let mut slots = self.lock();
        self.lease_locked(&mut slots, index)
    }

    fn lease_locked(self: &Arc<Self>, slots: &mut [Slot], index: usize) -> Option<Lease> {
        let slot = &mut slots[index];
        let State::Ready(ready) = &slot.state else { return None };
        slot.in_use += 1;
        slot.last_used = Instant::now();
        Some(Lease {
            name: self.specs[index].name.clone(),
            ready: Arc::clone(ready),
            _in_use: Some(InUse { shared: Arc::clone(self), index }),
        })
    }

    /// The models holding memory (loaded or loading), as the policy sees them.
    fn resident(&self, slots: &[Slot]) -> Vec<Resident> {
        slots
            .iter()
            .enumerate()
            .filter_map(|(index, s)| {
                let loading = matches!(s.state, State::Loading);
                (loading || matches!(s.state, State::Ready(_))).then(|| Resident {
                    index,
                    bytes: s.bytes,
                    last_used: s.last_used,
                    in_use: loading || s.in_use > 0,
                    idle_unload: self.specs[index].idle_unload,
                })
            })
            .collect()
    }

    /// Marks `indices` unloaded and hands back their engines, to be dropped off the async
    /// threads ([`release`]).
    fn take(&self, slots: &mut [Slot], indices: &[usize], why: &str) -> Vec<Arc<Ready>> {
        let mut taken = Vec::new();
        for &i in indices {
            let slot = &mut slots[i];
            if !matches!(slot.state, State::Ready(_)) {
                continue;
            }
            if let State::Ready(r) = std::mem::replace(&mut slot.state, State::Unloaded) {
                slot.retired = slot.retired.plus(Totals::of(&r));
                slot.unloads += 1;
                tracing::info!(model = %self.specs[i].name, reason = why, "unloading model");
                taken.push(r);
            }
        }
        taken
    }

    /// Loads model `index` (the caller holds its gate): makes room within the budget, maps
    /// the file and starts its engine thread on a blocking thread, and leases it.
    async fn load(self: Arc<Self>, index: usize) -> Result<Lease, PoolError> {
        let spec = self.specs[index].clone();
        let fail = |slot: &mut Slot, cause: String| {
            slot.attempts += 1;
            slot.state = State::Failed(cause.clone());
            tracing::warn!(model = %spec.name, error = %cause, "loading the model failed");
            PoolError::LoadFailed { name: spec.name.clone(), cause }
        };
        let file_bytes = match std::fs::metadata(&spec.path) {
            Ok(m) => m.len(),
            Err(e) => {
                let cause = format!("cannot read {}: {e}", spec.path.display());
                return Err(fail(&mut self.lock()[index], cause));
            }
        };
        let evicted = {
            let mut slots = self.lock();
            let evicted = self.make_room(&mut slots, index, file_bytes)?;
            let slot = &mut slots[index];
            slot.state = State::Loading;
            slot.bytes = file_bytes;
            evicted
        };
        release(evicted).await;

        tracing::info!(model = %spec.name, path = %spec.path.display(), "loading model");
        let t0 = Instant::now();
        let (path, opts, sched) = (spec.path.clone(), spec.engine.clone(), spec.scheduler.clone());
        let loaded = tokio::task::spawn_blocking(move || {
            Engine::load(&path, opts).map(|engine| {
                let bytes = resident_estimate(file_bytes, &engine, sched.slots.max(1));
                (Ready::start(engine, sched), bytes)
            })
        })
        .await;

        let mut slots = self.lock();
        let (ready, bytes) = match loaded {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(fail(&mut slots[index], error_chain(&e))),
            Err(e) => return Err(fail(&mut slots[index], format!("the loader panicked: {e}"))),
        };
        tracing::info!(
            model = %spec.name, seconds = t0.elapsed().as_secs_f64(), resident = %human(bytes),
            "model loaded"
        );
        let slot = &mut slots[index];
        slot.attempts += 1;
        slot.loads += 1;
        slot.bytes = bytes;
        slot.state = State::Ready(Arc::new(ready));
        let lease = self.lease_locked(&mut slots, index);
        // The estimate with KV caches may exceed what the file alone made room for.
        let more = self.make_room(&mut slots, index, 0).unwrap_or_default();
        drop(slots);
        self.changed.notify_one();
        if !more.is_empty() {
            tokio::spawn(release(more));
        }
        lease.ok_or_else(|| PoolError::LoadFailed {
            name: spec.name.clone(),
            cause: "the model was unloaded as soon as it loaded".into(),
        })
    }

    /// Unloads idle models, least recently used first, until `incoming` more bytes fit
    /// besides what is resident (model `index` excluded).
    fn make_room(
        &self,
        slots: &mut [Slot],
        index: usize,
        incoming: u64,
    ) -> Result<Vec<Arc<Ready>>, PoolError> {
        let Some(budget) = self.budget else { return Ok(Vec::new()) };
        let mut resident = self.resident(slots);
        let (mine, others): (Vec<_>, Vec<_>) = resident.drain(..).partition(|r| r.index == index);
        let incoming = incoming + mine.iter().map(|r| r.bytes).sum::<u64>();
        match make_room(&others, incoming, budget) {
            Room::Fits { evict } => Ok(self.take(slots, &evict, "memory budget")),
            Room::Full { in_use, .. } => Err(PoolError::NoRoom {
                name: self.specs[index].name.clone(),
                needed: incoming,
                budget,
                in_use: in_use.iter().map(|&i| self.specs[i].name.clone()).collect(),
            }),
        }
    }

    /// Unloads the models idle past their keep-alive; when the next one will be.
    fn take_expired(&self, now: Instant) -> (Vec<Arc<Ready>>, Option<Instant>) {
        let mut slots = self.lock();
        let resident = self.resident(&slots);
        let expired = eviction::expired(&resident, now);
        let taken = self.take(&mut slots, &expired, "idle");
        let rest: Vec<Resident> = resident.into_iter().filter(|r| !expired.contains(&r.index)).collect();
        (taken, eviction::next_expiry(&rest))
    }
}

/// Unloads idle models when their keep-alive runs out; ends with the pool.
async fn reap(pool: Weak<Shared>, changed: Arc<Notify>) {
    loop {
        let notified = changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let Some(shared) = pool.upgrade() else { return };
        let (expired, next) = shared.take_expired(Instant::now());
        drop(shared);
        release(expired).await;
        match next {
            Some(at) => {
                // Past the instant (a keep-alive of zero), loop at once via the sleep.
                let at = tokio::time::Instant::from_std(at.max(Instant::now()) + Duration::from_millis(1));
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = &mut notified => {}
                }
            }
            None => notified.await,
        }
    }
}

/// Drops engines on a blocking thread: each joins its engine thread.
async fn release(engines: Vec<Arc<Ready>>) {
    if engines.is_empty() {
        return;
    }
    let _ = tokio::task::spawn_blocking(move || drop(engines)).await;
}

/// `e: cause: cause`.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
