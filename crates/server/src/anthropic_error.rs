//! Errors of the Anthropic-compatible routes (`/v1/messages`, `/v1/messages/count_tokens`) in
//! Anthropic's shape: `{"type": "error", "error": {"type": ..., "message": ...},
//! "request_id": ...}` with a `request-id` header, so that the `anthropic` SDKs raise their
//! own exception classes (`BadRequestError`, `AuthenticationError`, `NotFoundError`, ...).
//! The OpenAI routes keep OpenAI's shape ([`ApiError::into_response`]).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_anthropic::types::{ErrorBody, StreamEvent};

use crate::ApiError;

/// Whether `path` is one of the routes answered in Anthropic's shapes.
pub(crate) fn is_anthropic_path(path: &str) -> bool {
    path == "/v1/messages" || path.starts_with("/v1/messages/")
}

/// Anthropic's `error.type` for an error of this status and (OpenAI) code: the API's
/// documented mapping of statuses to types (400 `invalid_request_error`, 401
/// `authentication_error`, 403 `permission_error`, 404 `not_found_error`, 413
/// `request_too_large`, 429 `rate_limit_error`, 529 `overloaded_error`, other 5xx
/// `api_error`); hearth's own "busy" answers (a full queue or memory budget, a model still
/// loading: 503) are `overloaded_error`, which is what they mean.
pub(crate) fn error_type(status: StatusCode, code: Option<&str>) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        503 if matches!(code, Some("queue_full" | "memory_budget_full" | "model_loading")) => {
            "overloaded_error"
        }
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// The message of `e` with the parameter it names, as the API words it (`messages.0.content:
/// ...`), since Anthropic's error object has no `param` field.
fn message(e: &ApiError) -> String {
    match &e.param {
        Some(p) if !e.message.contains(p.as_str()) => format!("{p}: {}", e.message),
        _ => e.message.clone(),
    }
}

/// The body of `e` in Anthropic's shape, carrying `request_id`.
pub(crate) fn body(e: &ApiError, request_id: &str) -> ErrorBody {
    let mut b = ErrorBody::new(error_type(e.status, e.code), message(e));
    b.request_id = Some(request_id.to_owned());
    b
}

/// The `error` event that ends a stream that failed after its `200`.
pub(crate) fn stream_event(e: &ApiError) -> StreamEvent {
    StreamEvent::Error { error: body(e, "").error }
}

/// The response for `e`: its status, Anthropic's body, `request-id` (and `retry-after` when
/// `e` has one).
pub(crate) fn respond(e: &ApiError, request_id: &str) -> Response {
    let json = serde_json::to_string(&body(e, request_id)).unwrap_or_else(|_| {
        String::from(r#"{"type":"error","error":{"type":"api_error","message":"error"}}"#)
    });
    let mut resp = (e.status, json).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("request-id", v);
    }
    if let Some(s) = e.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_apis_error_types() {
        for (status, code, want) in [
            (400, None, "invalid_request_error"),
            (401, Some("invalid_api_key"), "authentication_error"),
            (404, Some("model_not_found"), "not_found_error"),
            (413, Some("request_too_large"), "request_too_large"),
            (429, None, "rate_limit_error"),
            (503, Some("queue_full"), "overloaded_error"),
            (503, Some("model_loading"), "overloaded_error"),
            (503, Some("model_load_failed"), "api_error"),
            (500, None, "api_error"),
        ] {
            assert_eq!(error_type(StatusCode::from_u16(status).unwrap(), code), want, "{status} {code:?}");
        }
    }

    #[test]
    fn the_body_names_the_parameter_and_the_request() {
        let e = ApiError::invalid(Some("max_tokens"), "must be at least 1");
        let v = serde_json::to_value(body(&e, "req_1")).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["message"], "max_tokens: must be at least 1");
        assert_eq!(v["request_id"], "req_1");
        let named = ApiError::invalid(Some("max_tokens"), "`max_tokens` is required");
        assert_eq!(body(&named, "r").error.message, "`max_tokens` is required");
    }

    #[test]
    fn only_the_messages_routes_are_anthropic_shaped() {
        assert!(is_anthropic_path("/v1/messages"));
        assert!(is_anthropic_path("/v1/messages/count_tokens"));
        assert!(!is_anthropic_path("/v1/messagesx"));
        assert!(!is_anthropic_path("/v1/chat/completions"));
    }
}
