//! Escalation on evidence from the local answer: when the decision carries `escalate_to`, the
//! local model answers in full with token log-probabilities (collected even when the client
//! did not ask for them), the answer is judged with [`should_escalate`] (mean and minimum
//! log-probability, a JSON answer cut by the token limit, an empty or refused answer), and
//! when it falls short the remote answers instead, with reason `low_confidence` or
//! `invalid_output`. A streamed request reaches here only when its route has
//! `buffer_streams`: the chosen answer is then replayed as chunks.

use axum::response::Response;
use hearth_router::{Decision, Evidence, Finish, should_escalate};
use serde_json::Value;

use super::headers::RouteInfo;
use super::{Ctx, RemoteFailed, Routing, call_remote, serve_local, stream};
use crate::request::{GenerationBody, LogprobsInput};

/// Serves `decision` (local `target`, with `escalate_to`) for `ctx`.
pub(super) async fn serve(
    routing: &Routing,
    ctx: &Ctx,
    mut parsed: GenerationBody,
    decision: &Decision,
    target: &str,
) -> (Response, RouteInfo) {
    let local_info = RouteInfo { route: target.to_owned(), reason: decision.reason.as_str(), cost_usd: 0.0 };
    let wants_logprobs = matches!(parsed.logprobs, Some(LogprobsInput::Flag(true)));
    parsed.logprobs = Some(LogprobsInput::Flag(true));
    parsed.stream = Some(false);
    let resp = serve_local(ctx, parsed, target).await;
    if !resp.status().is_success() {
        return (resp, local_info);
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return (
            axum::response::IntoResponse::into_response(crate::ApiError::internal(
                "could not read the local answer",
            )),
            local_info,
        );
    };
    let Ok(mut answer) = serde_json::from_slice::<Value>(&bytes) else {
        return (Response::from_parts(parts, axum::body::Body::from(bytes)), local_info);
    };

    let evidence = evidence(&answer, json_expected(&ctx.raw));
    let route = decision.route.and_then(|i| routing.policy.config().routes.get(i));
    let verdict = route.and_then(|r| should_escalate(r, &evidence));
    if let (Some(reason), Some(up)) = (verdict, decision.escalate_to.as_deref()) {
        tracing::info!(local = target, remote = up, reason = reason.as_str(), ?evidence, "escalating");
        match call_remote(routing, ctx, up, false).await {
            Ok((resp, cost_usd)) => {
                let info = RouteInfo { route: up.to_owned(), reason: reason.as_str(), cost_usd };
                return (buffered(ctx, resp).await, info);
            }
            Err(RemoteFailed::Request(e)) => {
                tracing::warn!(remote = up, error = %e.message, "escalation failed; serving the local answer");
            }
            Err(RemoteFailed::Upstream(e)) => {
                // The local answer exists: serve it rather than fail the request.
                tracing::warn!(remote = up, error = e, "escalation failed; serving the local answer");
            }
        }
    }
    if !wants_logprobs && let Some(choice) = answer.pointer_mut("/choices/0") {
        choice["logprobs"] = Value::Null;
    }
    let resp = if ctx.stream {
        stream::replay(&answer, include_usage(ctx))
    } else {
        let mut parts = parts;
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
        Response::from_parts(parts, axum::body::Body::from(answer.to_string()))
    };
    (resp, local_info)
}

fn include_usage(ctx: &Ctx) -> bool {
    ctx.raw.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true)
}

/// A remote JSON answer, replayed as chunks when the client asked for a stream.
async fn buffered(ctx: &Ctx, resp: Response) -> Response {
    if !ctx.stream {
        return resp;
    }
    let Ok(bytes) = axum::body::to_bytes(resp.into_body(), usize::MAX).await else {
        return axum::response::IntoResponse::into_response(crate::ApiError::internal(
            "could not read the remote answer",
        ));
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) => stream::replay(&v, include_usage(ctx)),
        Err(_) => axum::response::IntoResponse::into_response(crate::ApiError::internal(
            "the remote answer is not JSON",
        )),
    }
}

/// Whether the request asked for JSON (`response_format` `json_object` or `json_schema`).
fn json_expected(raw: &Value) -> bool {
    matches!(
        raw.pointer("/response_format/type").and_then(Value::as_str),
        Some("json_object" | "json_schema")
    )
}

/// The evidence of a `chat.completion` generated with logprobs.
fn evidence(answer: &Value, json_expected: bool) -> Evidence {
    let choice = &answer["choices"][0];
    let text = choice["message"]["content"].as_str().unwrap_or("");
    let logprobs: Vec<f32> = choice
        .pointer("/logprobs/content")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(|t| t["logprob"].as_f64()).map(|l| l as f32).collect())
        .unwrap_or_default();
    let finish = if choice["finish_reason"] == "length" { Finish::Length } else { Finish::Stop };
    Evidence::of_answer(text, &logprobs, finish, json_expected, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evidence_reads_logprobs_finish_and_open_json() {
        let answer = json!({"choices": [{
            "message": {"content": "{\"a\": \"bbb"},
            "finish_reason": "length",
            "logprobs": {"content": [{"logprob": -0.5}, {"logprob": -1.5}]},
        }]});
        let e = evidence(&answer, true);
        assert_eq!(e.mean_logprob, Some(-1.0));
        assert_eq!(e.min_logprob, Some(-1.5));
        assert_eq!(e.finish, Finish::Length);
        assert!(e.unfinished_json);
        assert!(!evidence(&answer, false).unfinished_json);
    }

    #[test]
    fn json_is_expected_for_json_formats_only() {
        assert!(json_expected(&json!({"response_format": {"type": "json_object"}})));
        assert!(json_expected(&json!({"response_format": {"type": "json_schema"}})));
        assert!(!json_expected(&json!({"response_format": {"type": "text"}})));
        assert!(!json_expected(&json!({})));
    }
}
