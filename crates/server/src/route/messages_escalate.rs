//! The local side of escalation for `/v1/messages`, as `escalate.rs` is for chat completions:
//! when the router probes a local answer, the local model answers in full with token
//! log-probabilities and the [`Evidence`] is read from them (mean and minimum
//! log-probability, for classify/tag the label margin, JSON cut by `max_tokens` when
//! `output_config.format` asked for JSON, an empty or refused answer) for
//! [`hearth_router::should_escalate`]. A streamed request is probed only when its route has
//! `buffer_streams`: the chosen message (local, or the remote's) is then replayed as events.

use axum::response::Response;
use hearth_anthropic::types::{ContentBlock, Message as ApiMessage};
use hearth_engine::StopReason;
use hearth_router::{Evidence, Finish, LocalAnswer, Probe, Usage, label_margin};

use super::messages::{MessagesCtx, message_response};
use super::messages_sse::replay;
use crate::ApiError;
use crate::generate::{self, Step};
use crate::messages::{Reply, anthropic_id, to_engine};
use crate::response::with_warnings;

/// Local model `target` answers `ctx.req` in full with log-probabilities (and the runner-up
/// of each token with `probe.label_margin`); the [`Evidence`] is read from them; the message
/// goes out as JSON, or replayed as events for a streamed request.
pub(super) async fn probed(
    ctx: &MessagesCtx,
    target: &str,
    probe: Probe,
) -> Result<LocalAnswer<Response>, ApiError> {
    let local = generate_local(ctx, target, probe.label_margin).await?;
    let json_expected = ctx.req.output_config.as_ref().is_some_and(|o| o.format.is_some());
    let logprobs: Vec<f32> = local.tokens.iter().map(|t| t.1 as f32).collect();
    let margin = probe
        .label_margin
        .then(|| label_margin(local.tokens.iter().map(|(t, l, a)| (t.as_str(), *l, *a))))
        .flatten();
    let evidence = Evidence::of_answer(&local.message.text(), &logprobs, local.finish, json_expected, margin)
        .with_invalid_tool_call(local.invalid_tool_call);
    let answer = with_warnings(answer(ctx, &local.message, None), &local.warnings);
    let u = &local.message.usage;
    let usage = Usage { input_tokens: u.input_tokens, output_tokens: u.output_tokens, ..Usage::default() };
    let tool_calls = super::tool_use_count(&local.message);
    Ok(LocalAnswer::new(answer)
        .with_evidence(Some(evidence))
        .with_usage(Some(usage))
        .with_tool_calls(tool_calls))
}

/// `msg` as JSON, or replayed as events when the client asked for a stream.
pub(super) fn answer(ctx: &MessagesCtx, msg: &ApiMessage, request_id: Option<&str>) -> Response {
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
    /// The request offered tools and the output is not a valid call.
    invalid_tool_call: bool,
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
        tools: local.tools,
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
                let mut stop = reply.stop(live.tokenizer(), &c);
                let finish = if c.stop_reason == StopReason::Length { Finish::Length } else { Finish::Stop };
                let (content, invalid) = reply.content(c.text.clone(), c.stop_reason == StopReason::Length);
                if content.iter().any(|b| matches!(b, ContentBlock::ToolUse(_))) {
                    stop = (hearth_anthropic::types::StopReason::ToolUse, None);
                }
                let message = reply.message(content, Some(stop), c.completion_tokens);
                return Ok(Local {
                    message,
                    tokens,
                    finish,
                    warnings: local.warnings,
                    invalid_tool_call: invalid.is_some(),
                });
            }
            Some(Step::Failed(e)) => return Err(e),
            None => return Err(ApiError::internal("the generation ended without a result")),
        }
    }
}
