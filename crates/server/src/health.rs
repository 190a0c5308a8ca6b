//! `GET /health`: 503 while the model loads, 200 once it serves, 500 if loading failed.
//! Open without an API key (load balancers and systemd checks need no secret), but only the
//! status is shown then: the model, slot counts and a load failure's cause need the key.
//! With a pool of models the server is healthy once it listens (models load on first use);
//! with the key, `models` lists each one's state.

use std::sync::atomic::Ordering;

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::Authenticated;
use crate::response::json_response;
use crate::{ApiError, AppState, ModelPool};

#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    #[serde(flatten)]
    details: Option<Details<'a>>,
}

#[derive(Serialize)]
struct Details<'a> {
    model: &'a str,
    slots_total: usize,
    slots_busy: usize,
    queued: usize,
}

/// `/health` of a pool.
#[derive(Serialize)]
struct PoolHealth {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    models: Option<Vec<ModelHealth>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_budget_bytes: Option<u64>,
}

#[derive(Serialize)]
struct ModelHealth {
    name: String,
    /// `unloaded`, `loading`, `loaded` or `failed`.
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    slots_total: usize,
    slots_busy: usize,
    queued: usize,
    /// Requests holding the model (preparing, queued or generating).
    in_use: usize,
    resident_bytes: u64,
    loads: u64,
    unloads: u64,
    idle_unload_secs: Option<f64>,
}

fn pool_health(pool: &ModelPool, authenticated: bool) -> Response {
    let models = authenticated.then(|| {
        pool.status()
            .into_iter()
            .map(|m| {
                let (slots_total, slots_busy, queued) = m.ready.as_ref().map_or((0, 0, 0), |r| {
                    let stats = r.scheduler.stats();
                    (
                        r.scheduler.slots(),
                        stats.active.load(Ordering::Relaxed),
                        stats.queued.load(Ordering::Relaxed),
                    )
                });
                ModelHealth {
                    name: m.name,
                    state: m.state.as_str(),
                    error: m.error,
                    slots_total,
                    slots_busy,
                    queued,
                    in_use: m.in_use,
                    resident_bytes: m.resident_bytes,
                    loads: m.loads,
                    unloads: m.unloads,
                    idle_unload_secs: m.idle_unload.map(|d| d.as_secs_f64()),
                }
            })
            .collect()
    });
    let memory_budget_bytes = if authenticated { pool.budget() } else { None };
    json_response(&PoolHealth { status: "ok", models, memory_budget_bytes })
}

/// The handler.
pub(crate) async fn handler(
    State(state): State<AppState>,
    auth: Option<Extension<Authenticated>>,
) -> Response {
    let authenticated = auth.is_some_and(|Extension(Authenticated(a))| a);
    if let Some(pool) = state.pool() {
        return pool_health(pool, authenticated);
    }
    match state.ready() {
        Ok(r) => {
            let details = authenticated.then(|| {
                let stats = r.scheduler.stats();
                Details {
                    model: state.model_id(),
                    slots_total: r.scheduler.slots(),
                    slots_busy: stats.active.load(Ordering::Relaxed),
                    queued: stats.queued.load(Ordering::Relaxed),
                }
            });
            json_response(&Health { status: "ok", details })
        }
        Err(e) if !authenticated && e.code == Some("model_load_failed") => ApiError::internal(
            "the model failed to load (the server's log, or /health with the API key, says why)",
        )
        .with_code("model_load_failed")
        .into_response(),
        Err(e) => e.into_response(),
    }
}
