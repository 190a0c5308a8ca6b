//! `POST /v1/messages/count_tokens` through the router: the tokens are counted by the target
//! the same decision as `/v1/messages` picks (`model` read the same way, the task from
//! `X-Hearth-Task`), so a count matches what would be billed or fit:
//! - a local model counts with its chat template;
//! - an Anthropic remote gets the count passed through (`model` replaced by the remote's;
//!   counting is free, so nothing goes to the spend, and a failure is not held against the
//!   remote's health); when it fails, the route's local fallback counts instead, else the
//!   upstream's error is answered as `/v1/messages` answers it;
//! - a refused decision (a spend cap, a cooldown) counts with the target it preferred, since
//!   a count costs nothing.
//!
//! Answers carry `x-hearth-route`, `x-hearth-reason` and `x-hearth-cost-usd: 0`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hearth_anthropic::types::CountTokensRequest;
use hearth_router::RouteInput;

use super::Routing;
use super::headers::{self, RouteInfo};
use super::messages::requested_model;
use crate::{ApiError, AppState, anthropic_error};

/// `POST /v1/messages/count_tokens` through the router.
pub(crate) async fn serve(
    state: AppState,
    routing: Arc<Routing>,
    req_headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    request_id: &str,
) -> Response {
    let req: CountTokensRequest =
        match crate::request::body_bytes(body).and_then(|b| crate::messages::parse(&b)) {
            Ok(r) => r,
            Err(e) => return anthropic_error::respond(&e, request_id),
        };
    let requested = requested_model(routing.config(), &req.model);
    let hint = req_headers.get("x-hearth-task").and_then(|v| v.to_str().ok());
    let text: Vec<String> =
        req.system.iter().map(|s| s.text()).chain(req.messages.iter().map(|m| m.content.text())).collect();
    let text = text.join("\n");
    let input = RouteInput { requested_model: &requested, task_hint: hint, text: &text, stream: false };
    let decision = match routing.decide(&input) {
        Ok(d) => d,
        Err(e) => {
            let e = ApiError::not_found(e.to_string(), "model_not_found");
            return anthropic_error::respond(&e, request_id);
        }
    };
    let target =
        decision.target().map(str::to_owned).or_else(|| decision.preferred.clone()).unwrap_or_default();
    let mut info = info(&decision, Some(&target), 0.0);
    let result = if routing.config().local(&target).is_some() {
        crate::messages::count_local(&state, &req, &target).await
    } else {
        match count_remote(&routing, &req, &target).await {
            Ok(resp) => Ok(resp),
            Err(e) => match routing.fallback(&decision) {
                Some(local) => {
                    tracing::warn!(remote = target, fallback = local, error = %e.message, "count_tokens upstream failed; counting locally");
                    info = RouteInfo {
                        route: local.clone(),
                        reason: hearth_router::Reason::RemoteUnavailable.as_str(),
                        cost_usd: 0.0,
                    };
                    crate::messages::count_local(&state, &req, &local).await
                }
                None => Err(e),
            },
        }
    };
    let mut resp = match result {
        Ok(resp) => crate::messages::with_request_id(resp, request_id),
        Err(e) => anthropic_error::respond(&e, request_id),
    };
    headers::apply(&mut resp, &info);
    resp
}

/// Remote `target` counts `req`.
async fn count_remote(
    routing: &Routing,
    req: &CountTokensRequest,
    target: &str,
) -> Result<Response, ApiError> {
    let config = routing.config();
    let (Some(remote), Some(client)) = (config.remote(target), routing.anthropic_client(target)) else {
        return Err(ApiError::invalid(
            Some("model"),
            format!(
                "the route chose {target:?}, which /v1/messages/count_tokens cannot count with: only local \
                 models and provider \"anthropic\" remotes are served here"
            ),
        ));
    };
    let mut up = req.clone();
    up.model = remote.model.clone();
    match client.count_tokens(&up).await {
        Ok(answer) => Ok(crate::response::json_response(&answer.body)),
        Err(e) => {
            let status = match &e {
                hearth_anthropic::Error::Api(api) if matches!(api.status, 400 | 404 | 413 | 422) => {
                    StatusCode::from_u16(api.status).unwrap_or(StatusCode::BAD_GATEWAY)
                }
                _ => StatusCode::BAD_GATEWAY,
            };
            let kind = if status.is_client_error() { "invalid_request_error" } else { "server_error" };
            Err(ApiError::new(status, kind, format!("remote {target:?} could not count the tokens: {e}")))
        }
    }
}

/// The routing headers' content: the target that answered (the preferred one for a refusal).
fn info(decision: &hearth_router::Decision, target: Option<&str>, cost_usd: f64) -> RouteInfo {
    let route = target.map(str::to_owned).or_else(|| decision.preferred.clone()).unwrap_or_default();
    RouteInfo { route, reason: decision.reason.as_str(), cost_usd }
}
