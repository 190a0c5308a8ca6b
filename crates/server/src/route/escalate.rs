//! The local side of escalation for chat completions: when the router probes a local answer
//! ([`Probe`]), the local model answers in full with token log-probabilities (collected even
//! when the client did not ask for them; two alternatives per token for the label margin),
//! and the [`Evidence`] is read from them (mean and minimum log-probability, the label margin,
//! a JSON answer cut by the token limit, an empty or refused answer) for
//! [`hearth_router::should_escalate`]. A streamed request is probed only when its route has
//! `buffer_streams`: the chosen answer (local, or the remote's: [`buffered`]) is then
//! replayed as chunks.

use axum::response::Response;
use hearth_router::{Evidence, Finish, LocalAnswer, Probe, Usage, label_margin};
use serde_json::Value;

use super::{Ctx, stream};
use crate::ApiError;
use crate::request::{GenerationBody, LogprobsInput};

/// Local model `target` answers `parsed` in full with log-probabilities (two alternatives per
/// token with `probe.label_margin`); the evidence is read from them, then the answer is cut
/// back to what the client asked for (its own logprobs, if any) and, for a streamed request,
/// replayed as chunks.
pub(super) async fn probed(
    ctx: &Ctx,
    mut parsed: GenerationBody,
    target: &str,
    probe: Probe,
) -> Result<LocalAnswer<Response>, ApiError> {
    let wants_logprobs = matches!(parsed.logprobs, Some(LogprobsInput::Flag(true)));
    let wanted_top = if wants_logprobs { parsed.top_logprobs.unwrap_or(0) } else { 0 };
    parsed.logprobs = Some(LogprobsInput::Flag(true));
    if probe.label_margin {
        parsed.top_logprobs = Some(wanted_top.max(2));
    }
    parsed.stream = Some(false);
    let resp = crate::chat::serve_local(ctx.state.clone(), parsed, Some(target), ctx.arrived).await?;
    if !resp.status().is_success() {
        return Ok(LocalAnswer::new(resp));
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Err(ApiError::internal("could not read the local answer"));
    };
    let Ok(mut answer) = serde_json::from_slice::<Value>(&bytes) else {
        return Ok(LocalAnswer::new(Response::from_parts(parts, axum::body::Body::from(bytes))));
    };
    let invalid_call = parts.headers.contains_key(crate::tools::INVALID_TOOL_CALL);
    let evidence =
        evidence(&answer, json_expected(&ctx.raw), probe.label_margin).with_invalid_tool_call(invalid_call);
    let usage = local_usage(&answer);
    let tool_calls = super::answer_tool_calls(&answer);
    let text = super::answer_text(&answer);
    if let Some(choice) = answer.pointer_mut("/choices/0") {
        if !wants_logprobs {
            choice["logprobs"] = Value::Null;
        } else if let Some(tokens) = choice.pointer_mut("/logprobs/content").and_then(Value::as_array_mut) {
            // As many alternatives as the client asked for, not the two the margin needed.
            for t in tokens {
                if let Some(top) = t.get_mut("top_logprobs").and_then(Value::as_array_mut) {
                    top.truncate(wanted_top as usize);
                }
            }
        }
    }
    let answer = if ctx.stream {
        stream::replay(&answer, include_usage(ctx))
    } else {
        let mut parts = parts;
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
        Response::from_parts(parts, axum::body::Body::from(answer.to_string()))
    };
    Ok(LocalAnswer::new(answer)
        .with_evidence(Some(evidence))
        .with_usage(usage)
        .with_tool_calls(tool_calls)
        .with_text(text))
}

fn include_usage(ctx: &Ctx) -> bool {
    ctx.raw.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true)
}

/// A remote JSON answer, replayed as chunks when the client asked for a stream.
pub(super) async fn buffered(ctx: &Ctx, resp: Response) -> Response {
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

/// The evidence of a `chat.completion` generated with logprobs (and with `margin`, its
/// label margin, from the tokens' `top_logprobs`): what the router's escalation checks read
/// (`hearth eval` reads its answers with it too, so its thresholds are the router's).
pub fn evidence(answer: &Value, json_expected: bool, margin: bool) -> Evidence {
    let choice = &answer["choices"][0];
    let text = choice["message"]["content"].as_str().unwrap_or("");
    let logprobs: Vec<f32> = choice
        .pointer("/logprobs/content")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(|t| t["logprob"].as_f64()).map(|l| l as f32).collect())
        .unwrap_or_default();
    let finish = if choice["finish_reason"] == "length" { Finish::Length } else { Finish::Stop };
    let margin = margin.then(|| label_margin_of(choice)).flatten();
    Evidence::of_answer(text, &logprobs, finish, json_expected, margin)
}

/// The label margin of a choice whose `logprobs.content` entries carry `top_logprobs`.
fn label_margin_of(choice: &Value) -> Option<f64> {
    let tokens = choice.pointer("/logprobs/content")?.as_array()?;
    label_margin(tokens.iter().filter_map(|t| {
        let token = t["token"].as_str()?;
        let best_other = t["top_logprobs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["token"].as_str() != Some(token))
            .filter_map(|a| a["logprob"].as_f64())
            .reduce(f64::max);
        Some((token, t["logprob"].as_f64()?, best_other))
    }))
}

/// The usage of a local `chat.completion`: prompt tokens as input (cached ones included),
/// completion tokens as output.
fn local_usage(answer: &Value) -> Option<Usage> {
    let u = answer.get("usage")?;
    Some(Usage {
        input_tokens: u.get("prompt_tokens")?.as_u64()?,
        output_tokens: u.get("completion_tokens")?.as_u64()?,
        ..Usage::default()
    })
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
        let e = evidence(&answer, true, false);
        assert_eq!(e.mean_logprob, Some(-1.0));
        assert_eq!(e.min_logprob, Some(-1.5));
        assert_eq!(e.finish, Finish::Length);
        assert!(e.unfinished_json);
        assert!(!evidence(&answer, false, false).unfinished_json);
        assert_eq!(e.label_margin, None);
    }

    #[test]
    fn the_label_margin_comes_from_the_first_word_tokens_alternatives() {
        let (p, q) = (0.7f64, 0.2f64);
        let answer = json!({"choices": [{
            "message": {"content": " spam"},
            "finish_reason": "stop",
            "logprobs": {"content": [
                {"token": " ", "logprob": -0.01, "top_logprobs": [{"token": " ", "logprob": -0.01}]},
                {"token": "spam", "logprob": p.ln(), "top_logprobs": [
                    {"token": "spam", "logprob": p.ln()}, {"token": "ham", "logprob": q.ln()}]},
            ]},
        }]});
        let m = evidence(&answer, false, true).label_margin.expect("measured");
        assert!((m - 0.5).abs() < 1e-9, "{m}");
        assert_eq!(evidence(&answer, false, false).label_margin, None, "not asked");
    }

    #[test]
    fn json_is_expected_for_json_formats_only() {
        assert!(json_expected(&json!({"response_format": {"type": "json_object"}})));
        assert!(json_expected(&json!({"response_format": {"type": "json_schema"}})));
        assert!(!json_expected(&json!({"response_format": {"type": "text"}})));
        assert!(!json_expected(&json!({})));
    }
}
