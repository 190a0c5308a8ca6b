//! `GET /v1/models` and `GET /v1/models/{id}`: the one model this server serves; or, with a
//! pool, every configured local model (loaded or not: `hearth.state` says which), with
//! routing every `[[remotes]]` entry (`hearth.kind` `remote`, its provider and upstream
//! model), every embedding model (`hearth.kind` `embedding`), and `auto`.

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
    /// `local` (a model of the pool), `remote` (a `[[remotes]]` entry), `embedding` (served
    /// on `/v1/embeddings`) or `router` (`auto`: hearth chooses).
    kind: &'static str,
    /// Of a local model: `unloaded`, `loading`, `loaded` or `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    /// Of a remote: `anthropic` or `openai`.
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<&'static str>,
    /// Of a remote: the model it is asked for upstream.
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_model: Option<String>,
}

impl Extension {
    fn new(kind: &'static str) -> Extension {
        Extension { kind, state: None, provider: None, upstream_model: None }
    }
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
    let embedders = state
        .embedders()
        .specs()
        .iter()
        .map(|s| model(state, s.name.clone(), Some(Extension::new("embedding"))));
    let Some(pool) = state.pool() else {
        let mut v = vec![model(state, state.model_id().to_owned(), None)];
        v.extend(embedders);
        return v;
    };
    let mut v: Vec<Model> = pool
        .status()
        .into_iter()
        .map(|m| {
            model(state, m.name, Some(Extension { state: Some(m.state.as_str()), ..Extension::new("local") }))
        })
        .collect();
    if let Some(routing) = &state.config().routing {
        for r in &routing.policy().config().remotes {
            let ext = Extension {
                provider: Some(r.provider.as_str()),
                upstream_model: Some(r.model.clone()),
                ..Extension::new("remote")
            };
            v.push(model(state, r.name.clone(), Some(ext)));
        }
    }
    v.extend(embedders);
    v.push(model(state, AUTO.to_owned(), Some(Extension::new("router"))));
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
