//! The routes and the layers around them, outermost first: CORS when configured; request
//! counting and logging; without an API key, the browser guard (loopback or allowed `Host`,
//! JSON bodies); the API key on every route but `/health` (unknown routes and wrong methods
//! included); the body reader (early 413, body timeout); OpenAI-shaped 404 and 405.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::{
    ApiError, AppState, ServerError, auth, body, browser, chat, completions, embeddings, health, messages,
    metrics, models,
};

/// The application: every endpoint with its layers, over `state`.
pub fn router(state: AppState) -> Result<Router, ServerError> {
    let cors = cors(&state.config().cors_origins)?;
    let mut app = Router::new()
        .route("/health", get(health::handler))
        .route("/v1/chat/completions", post(chat::handler))
        .route("/v1/completions", post(completions::handler))
        .route("/v1/embeddings", post(embeddings::handler))
        .route("/v1/messages", post(messages::handler))
        .route("/v1/messages/count_tokens", post(messages::count_tokens))
        .route("/v1/models", get(models::list))
        .route("/v1/models/{id}", get(models::get))
        .route("/metrics", get(metrics::handler))
        .route("/v1/hearth/routes", get(crate::route::monitor::routes))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config().max_body_bytes))
        .layer(from_fn_with_state(state.clone(), body::read_body))
        .layer(from_fn_with_state(state.clone(), auth::require_key))
        .layer(from_fn_with_state(state.clone(), browser::guard))
        .layer(from_fn_with_state(state.clone(), metrics::count_requests));
    if let Some(cors) = cors {
        app = app.layer(cors);
    }
    Ok(app.with_state(state))
}

/// The CORS layer for the allowed origins (`*`: any); `None` when there are none.
pub(crate) fn cors(origins: &[String]) -> Result<Option<CorsLayer>, ServerError> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let list = origins
            .iter()
            .map(|o| {
                let o = o.trim_end_matches('/');
                if !(o.starts_with("http://") || o.starts_with("https://")) {
                    return Err(ServerError::BadOrigin(o.to_owned()));
                }
                HeaderValue::from_str(o).map_err(|_| ServerError::BadOrigin(o.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(list)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::HeaderName::from_static("x-api-key"),
                header::HeaderName::from_static("anthropic-version"),
            ])
            .max_age(Duration::from_secs(3600)),
    ))
}

async fn not_found(method: Method, uri: Uri) -> Response {
    ApiError::not_found(format!("unknown request URL: {method} {}", uri.path()), "unknown_url")
        .into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let mut e = ApiError::invalid(None, format!("{method} is not allowed on {}", uri.path()));
    e.status = StatusCode::METHOD_NOT_ALLOWED;
    e.code = Some("method_not_allowed");
    e.into_response()
}
