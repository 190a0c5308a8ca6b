//! `GET /v1/models` and `GET /v1/models/{id}`: the one model this server serves.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::response::json_response;
use crate::{ApiError, AppState};

#[derive(Serialize)]
struct Model<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

#[derive(Serialize)]
struct List<'a> {
    object: &'static str,
    data: Vec<Model<'a>>,
}

fn model(state: &AppState) -> Model<'_> {
    Model { id: state.model_id(), object: "model", created: state.started(), owned_by: "hearth" }
}

/// `GET /v1/models` (listed while loading too: the id is known before the weights are).
pub(crate) async fn list(State(state): State<AppState>) -> Response {
    json_response(&List { object: "list", data: vec![model(&state)] })
}

/// `GET /v1/models/{id}`.
pub(crate) async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    if id != state.model_id() {
        let msg = format!("the model {id:?} does not exist; this server serves {:?}", state.model_id());
        return ApiError::not_found(msg, "model_not_found").into_response();
    }
    json_response(&model(&state))
}
