//! Escalation of a local `/v1/messages` answer, as `escalate.rs` does for chat completions:
//! the local model answers in full with token log-probabilities, the answer is judged with
//! [`should_escalate`] (mean and minimum log-probability, for classify/tag the label margin,
//! JSON cut by `max_tokens` when `output_config.format` asked for JSON, an empty or refused
//! answer), and when it falls short
//! the remote answers instead (reason `low_confidence` or `invalid_output`; the cost covers
//! both attempts, the local one being free). A streamed request reaches here only when its
//! route has `buffer_streams`: the chosen message is then replayed as events. When the remote
//! fails, the local answer is served.

use axum::response::Response;
use hearth_anthropic::types::{ContentBlock, Message as ApiMessage};
use hearth_engine::StopReason;
use hearth_router::{Decision, Evidence, Finish, label_margin, should_escalate, wants_label_margin};

use super::headers::RouteInfo;
use super::messages::{Failed, MessagesCtx, info, message_response, remote_message};
use super::messages_sse::replay;
use crate::generate::{self, Step};
use crate::messages::{Reply, anthropic_id, to_engine};
use crate::response::with_warnings;
use crate::{ApiError, anthropic_error};

/// Serves `decision` (local `target`, with `escalate_to`) for `ctx`.
pub(super) async fn serve(ctx: &MessagesCtx, decision: &Decision, target: &str) -> (Response, RouteInfo) {
    let local_info = info(decision, Some(target), 0.0);
    let route = decision.route.and_then(|i| ctx.routing.config().routes.get(i));
    let margin = route.is_some_and(|r| wants_label_margin(r, &decision.task.name));
    let local = match generate_local(ctx, target, margin).await {
        Ok(l) => l,
        Err(e) => return (anthropic_error::respond(&e, &ctx.request_id), local_info),
    };
    let json_expected = ctx.req.output_config.as_ref().is_some_and(|o| o.format.is_some());
    let logprobs: Vec<f32> = local.tokens.iter().map(|t| t.1 as f32).collect();
    let margin =
        margin.then(|| label_margin(local.tokens.iter().map(|(t, l, a)| (t.as_str(), *l, *a)))).flatten();
    let evidence = Evidence::of_answer(&local.message.text(), &logprobs, local.finish, json_expected, margin);
    let verdict = route.and_then(|r| should_escalate(r, &evidence));
    if let (Some(reason), Some(up)) = (verdict, decision.escalate_to.as_deref()) {
        tracing::info!(
            local = target,
            remote = up,
            reason = reason.as_str(),
            ?evidence,
            "escalating /v1/messages"
        );
        match remote_message(ctx, up).await {
            Ok((msg, request_id, cost_usd)) => {
                let resp = answer(ctx, &msg, request_id.as_deref());
                return (resp, RouteInfo { route: up.to_owned(), reason: reason.as_str(), cost_usd });
            }
            Err(Failed::Request(e) | Failed::Upstream(e)) => {
                // The local answer exists: serve it rather than fail the request.
                tracing::warn!(remote = up, error = %e.message, "escalation failed; serving the local answer");
            }
        }
    }
    (with_warnings(answer(ctx, &local.message, None), &local.warnings), local_info)
}

/// `msg` as JSON, or replayed as events when the client asked for a stream.
fn answer(ctx: &MessagesCtx, msg: &ApiMessage, request_id: Option<&str>) -> Response {
    if ctx.stream {
        let resp = replay(msg);
        match request_id {
            Some(id) => crate::messages::with_request_id(resp, id),
            None => resp,
        }
    } else {
        message_response(msg, request_id)
    }
}

/// A local answer with what escalation judges.
struct Local {
    message: ApiMessage,
    /// Each generated token with a finite log-probability: its text, its log-probability and
    /// the best alternative's (when alternatives were asked for).
    tokens: Vec<(String, f64, Option<f64>)>,
    finish: Finish,
    /// Ignored fields, for `X-Hearth-Warning`.
    warnings: Vec<String>,
}

/// The local model `target` answers `ctx.req` in full, with log-probabilities (and with
/// `alternatives`, the runner-up of each token, for the label margin).
async fn generate_local(ctx: &MessagesCtx, target: &str, alternatives: bool) -> Result<Local, ApiError> {
    let lease = ctx.state.acquire(Some(target)).await?;
    let mut local = to_engine(&ctx.req, lease.ready().model_shape())?;
    local.request.sampling.logprobs = true;
    if alternatives {
        local.request.sampling.n_logprobs = local.request.sampling.n_logprobs.max(2);
    }
    let mut live = generate::start(&ctx.state, lease, local.request, "messages", ctx.arrived).await?;
    let reply = Reply {
        id: anthropic_id(&ctx.state, "msg"),
        model: live.model().to_owned(),
        stops: local.stops,
        prompt_tokens: live.prompt_tokens(),
    };
    let mut tokens = Vec::new();
    loop {
        match live.next().await {
            Some(Step::Token(ev)) => {
                if ev.logprob.is_finite() {
                    let best_other = ev
                        .top
                        .iter()
                        .filter(|(id, _)| *id != ev.id)
                        .map(|(_, l)| f64::from(*l))
                        .reduce(f64::max);
                    let piece =
                        String::from_utf8_lossy(&live.tokenizer().token_to_piece(ev.id, false)).into_owned();
                    tokens.push((piece, f64::from(ev.logprob), best_other));
                }
            }
            Some(Step::Done(c)) => {
                let stop = reply.stop(live.tokenizer(), &c);
                let finish = if c.stop_reason == StopReason::Length { Finish::Length } else { Finish::Stop };
                let message =
                    reply.message(vec![ContentBlock::text(c.text.clone())], Some(stop), c.completion_tokens);
                return Ok(Local { message, tokens, finish, warnings: local.warnings });
            }
            Some(Step::Failed(e)) => return Err(e),
            None => return Err(ApiError::internal("the generation ended without a result")),
        }
    }
}
