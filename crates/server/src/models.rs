//! `GET /v1/models` and `GET /v1/models/{id}`: the one model this server serves; or, with a
//! pool, every configured local model (loaded or not: `hearth.state` says which) and `auto`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::pool::{AUTO, PoolError};
use crate::response::json_response;
use crate::{ApiError, AppState};

#[derive(Serialize)]
struct Model {
    id: String,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
    /// hearth's extension (pool only).
    #[serde(skip_serializing_if = "Option::is_none")]
    hearth: Option<Extension>,
}

/// What hearth adds to a model object.
#[derive(Serialize)]
struct Extension {
    /// `local` (a model of the pool) or `router` (`auto`: hearth chooses).
    kind: &'static str,
    /// Of a local model: `unloaded`, `loading`, `loaded` or `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
}

#[derive(Serialize)]
struct List {
    object: &'static str,
    data: Vec<Model>,
}

fn model(state: &AppState, id: String, hearth: Option<Extension>) -> Model {
    Model { id, object: "model", created: state.started(), owned_by: "hearth", hearth }
}

/// Every model served.
fn all(state: &AppState) -> Vec<Model> {
    let Some(pool) = state.pool() else {
        return vec![model(state, state.model_id().to_owned(), None)];
    };
    let mut v: Vec<Model> = pool
        .status()
        .into_iter()
        .map(|m| model(state, m.name, Some(Extension { kind: "local", state: Some(m.state.as_str()) })))
        .collect();
    v.push(model(state, AUTO.to_owned(), Some(Extension { kind: "router", state: None })));
    v
}

/// `GET /v1/models` (listed while loading too: the id is known before the weights are).
pub(crate) async fn list(State(state): State<AppState>) -> Response {
    json_response(&List { object: "list", data: all(&state) })
}

/// `GET /v1/models/{id}`.
pub(crate) async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let models = all(&state);
    match models.into_iter().find(|m| m.id == id) {
        Some(m) => json_response(&m),
        None if state.pool().is_some() => {
            let available = all(&state).into_iter().map(|m| m.id).collect();
            ApiError::from_pool(PoolError::Unknown { name: id, available }).into_response()
        }
        None => {
            let msg = format!("the model {id:?} does not exist; this server serves {:?}", state.model_id());
            ApiError::not_found(msg, "model_not_found").into_response()
        }
    }
}
