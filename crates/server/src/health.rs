//! `GET /health`: 503 while the model loads, 200 once it serves, 500 if loading failed.
//! Open without an API key (load balancers and systemd checks need no secret).

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::AppState;
use crate::response::json_response;

#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    model: &'a str,
    slots_total: usize,
    slots_busy: usize,
    queued: usize,
}

/// The handler.
pub(crate) async fn handler(State(state): State<AppState>) -> Response {
    match state.ready() {
        Ok(r) => {
            let stats = r.scheduler.stats();
            json_response(&Health {
                status: "ok",
                model: state.model_id(),
                slots_total: r.scheduler.slots(),
                slots_busy: stats.active.load(Ordering::Relaxed),
                queued: stats.queued.load(Ordering::Relaxed),
            })
        }
        Err(e) => e.into_response(),
    }
}
