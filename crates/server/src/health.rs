//! `GET /health`: 503 while the model loads, 200 once it serves, 500 if loading failed.
//! Open without an API key (load balancers and systemd checks need no secret), but only the
//! status is shown then: the model, slot counts and a load failure's cause need the key.

use std::sync::atomic::Ordering;

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::Authenticated;
use crate::response::json_response;
use crate::{ApiError, AppState};

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

/// The handler.
pub(crate) async fn handler(
    State(state): State<AppState>,
    auth: Option<Extension<Authenticated>>,
) -> Response {
    let authenticated = auth.is_some_and(|Extension(Authenticated(a))| a);
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
