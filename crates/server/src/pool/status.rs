//! What the pool reports about each model ([`ModelStatus`]) for `/health`, `/v1/models` and
//! `/metrics`, and the token counters a model keeps across its unloads ([`Totals`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::Ready;

/// Where a model of the pool stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadState {
    /// Not in memory; the next request loads it.
    Unloaded,
    /// Being loaded; requests wait for it.
    Loading,
    /// Loaded and serving.
    Loaded,
    /// The last load failed; the next request tries again.
    Failed,
}

impl LoadState {
    /// `unloaded`, `loading`, `loaded` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadState::Unloaded => "unloaded",
            LoadState::Loading => "loading",
            LoadState::Loaded => "loaded",
            LoadState::Failed => "failed",
        }
    }
}

/// Token counters of one model, summed over every time it was loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Prompt tokens computed.
    pub prompt_tokens: u64,
    /// Prompt tokens reused from cached prefixes.
    pub cached_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Forward passes run.
    pub forward_passes: u64,
}

impl Totals {
    /// The counters of a running engine thread.
    pub fn of(ready: &Ready) -> Totals {
        let s = ready.scheduler.stats();
        Totals {
            prompt_tokens: s.prompt_tokens.load(Ordering::Relaxed),
            cached_tokens: s.cached_tokens.load(Ordering::Relaxed),
            completion_tokens: s.completion_tokens.load(Ordering::Relaxed),
            forward_passes: s.forward_passes.load(Ordering::Relaxed),
        }
    }

    /// Both added up.
    pub fn plus(self, o: Totals) -> Totals {
        Totals {
            prompt_tokens: self.prompt_tokens + o.prompt_tokens,
            cached_tokens: self.cached_tokens + o.cached_tokens,
            completion_tokens: self.completion_tokens + o.completion_tokens,
            forward_passes: self.forward_passes + o.forward_passes,
        }
    }
}

/// One model of the pool, as seen at one moment.
#[derive(Clone, Debug)]
pub struct ModelStatus {
    /// Its name.
    pub name: String,
    /// Loaded, unloaded, loading or failed.
    pub state: LoadState,
    /// Why the last load failed (while [`LoadState::Failed`]).
    pub error: Option<String>,
    /// The engine and its thread, while loaded.
    pub ready: Option<Arc<Ready>>,
    /// Requests holding it (preparing, queued or generating).
    pub in_use: usize,
    /// Memory it holds while loaded or loading (estimate), else 0.
    pub resident_bytes: u64,
    /// Times it was loaded.
    pub loads: u64,
    /// Times it was unloaded (idle, or to make room).
    pub unloads: u64,
    /// Its keep-alive.
    pub idle_unload: Option<Duration>,
    /// Token counters, every load included.
    pub totals: Totals,
}
