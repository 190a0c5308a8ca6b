//! Routed requests to a `provider = "openai"` remote (OpenAI, vLLM, llama-server, another
//! hearth): the client's chat body goes upstream as it came, with `model` replaced by the
//! remote's `model`; the answer is relayed, JSON or SSE. The cost comes from the answer's
//! `usage` (`prompt_tokens_details.cached_tokens` priced as cache reads). For streams the
//! upstream is asked for `stream_options.include_usage` so the cost is known; the usage chunk
//! (and the `usage: null` member of the others) is stripped again when the client did not
//! ask for it. Success and failure are recorded as for Anthropic remotes. Tools, `tool_calls`
//! and `tool` messages pass through both ways untouched; an answer's tool calls are counted
//! for its ledger row.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::response::Response;
use futures_util::StreamExt;
use hearth_openai::{ChunkStream, Client, Usage};
use hearth_router::{Remote, RemoteAnswer};
use serde_json::{Value, json};

use super::{Ctx, LedgerSlot, RemoteResult, Routing, stream, upstream};

/// The body sent upstream: `raw` with `model` set to `model`; for a stream, `stream: true`
/// and `stream_options.include_usage: true` (other `stream_options` kept). Also whether the
/// client itself asked for the usage chunk.
pub(crate) fn upstream_body(raw: &Value, model: &str, stream: bool) -> (Value, bool) {
    let wants_usage = raw.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
    let mut body = if raw.is_object() { raw.clone() } else { json!({}) };
    body["model"] = json!(model);
    if stream {
        body["stream"] = json!(true);
        if !body.get("stream_options").is_some_and(Value::is_object) {
            body["stream_options"] = json!({});
        }
        body["stream_options"]["include_usage"] = json!(true);
    }
    (body, wants_usage)
}

/// The router's usage of an OpenAI usage: cached prompt tokens are cache reads, the rest of
/// the prompt ordinary input (OpenAI-compatible APIs report no cache writes).
pub(crate) fn router_usage(u: &Usage) -> hearth_router::Usage {
    hearth_router::Usage {
        input_tokens: u.uncached_prompt_tokens(),
        output_tokens: u.completion_tokens,
        cache_read_tokens: u.cached_tokens,
        cache_write_tokens: 0,
    }
}

/// Calls `client` (remote `target`) with the request, as JSON or (`stream`) SSE; the
/// response and its usage (`None` for a stream: its cost is recorded at its end).
pub(super) async fn call(
    ctx: &Ctx,
    target: &str,
    remote: &Remote,
    client: &Client,
    stream: bool,
) -> RemoteResult {
    let (body, wants_usage) = upstream_body(&ctx.raw, &remote.model, stream);
    if stream {
        return match client.chat_completions_stream(&body).await {
            Ok(chunks) => {
                let upstream_id = chunks.request_id().map(str::to_owned);
                let resp =
                    relay(Arc::clone(&ctx.routing), target.to_owned(), chunks, wants_usage, ctx.slot.clone());
                Ok(RemoteAnswer::new(resp, None).with_upstream_id(upstream_id))
            }
            Err(e) => Err(upstream(&e, e.request_id())),
        };
    }
    match client.chat_completions(&body).await {
        Ok(answer) => {
            let usage = Usage::of(&answer.body).unwrap_or_default();
            tracing::debug!(remote = target, request_id = ?answer.request_id, attempts = answer.attempts, "remote answered");
            let resp = crate::response::json_response(&answer.body);
            Ok(RemoteAnswer::new(resp, Some(router_usage(&usage)))
                .with_text(super::answer_text(&answer.body))
                .with_upstream_id(answer.request_id)
                .with_tool_calls(super::answer_tool_calls(&answer.body)))
        }
        Err(e) => Err(upstream(&e, e.request_id())),
    }
}

/// What [`relay`] carries from chunk to chunk.
struct Relay {
    routing: Arc<Routing>,
    target: String,
    chunks: ChunkStream,
    wants_usage: bool,
    usage: Option<Usage>,
    /// Tool calls seen so far (the highest `delta.tool_calls[].index` + 1).
    tool_calls: usize,
    pending: VecDeque<String>,
    done: bool,
    slot: LedgerSlot,
}

/// The SSE response relaying `chunks` from remote `target`: each chunk as it arrives (the
/// usage chunk only when `wants_usage`), the cost recorded after `[DONE]`; a failure after
/// the 200 becomes an SSE error object, then `[DONE]`.
fn relay(
    routing: Arc<Routing>,
    target: String,
    chunks: ChunkStream,
    wants_usage: bool,
    slot: LedgerSlot,
) -> Response {
    let st = Relay {
        routing,
        target,
        chunks,
        wants_usage,
        usage: None,
        tool_calls: 0,
        pending: VecDeque::new(),
        done: false,
        slot,
    };
    stream::sse(futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(data) = st.pending.pop_front() {
                return Some((data, st));
            }
            if st.done {
                return None;
            }
            match st.chunks.next().await {
                Some(Ok(mut chunk)) => {
                    if let Some(u) = Usage::of(&chunk) {
                        st.usage = Some(u);
                    } else {
                        st.slot.first_token();
                    }
                    st.tool_calls = st.tool_calls.max(tool_calls_in(&chunk));
                    if st.wants_usage || strip_usage(&mut chunk) {
                        st.pending.push_back(chunk.to_string());
                    }
                }
                Some(Err(e)) => {
                    let message = format!("remote {:?} failed mid-stream: {e}", st.target);
                    st.routing.record_failure(&st.target, &e.to_string());
                    st.slot.finish(st.usage.as_ref().map(router_usage).as_ref(), Some(&message));
                    st.pending.push_back(stream::error_object(&message, "upstream_error"));
                    st.pending.push_back("[DONE]".into());
                    st.done = true;
                }
                None => {
                    if st.usage.is_none() {
                        tracing::warn!(
                            remote = st.target,
                            "the stream reported no usage: its cost is counted as 0"
                        );
                    }
                    let usage = st.usage.as_ref().map(router_usage);
                    st.routing.record_success(&st.target, &usage.unwrap_or_default());
                    st.slot.tool_calls(st.tool_calls);
                    st.slot.finish(usage.as_ref(), None);
                    st.pending.push_back("[DONE]".into());
                    st.done = true;
                }
            }
        }
    }))
}

/// How many tool calls a chunk shows: its highest `choices[].delta.tool_calls[].index` + 1.
fn tool_calls_in(chunk: &Value) -> usize {
    let choices = chunk.get("choices").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    choices
        .iter()
        .filter_map(|c| c.pointer("/delta/tool_calls").and_then(Value::as_array))
        .flatten()
        .filter_map(|call| call.get("index").and_then(Value::as_u64))
        .map(|i| usize::try_from(i).unwrap_or(usize::MAX).saturating_add(1))
        .max()
        .unwrap_or(0)
}

/// Takes the usage out of a chunk for a client that did not ask for it: `false` for the
/// usage chunk itself (no choices), which is dropped; otherwise the `usage` member is
/// removed and the chunk kept.
fn strip_usage(chunk: &mut Value) -> bool {
    let no_choices = chunk.get("choices").and_then(Value::as_array).is_some_and(Vec::is_empty);
    let has_usage = chunk.get("usage").is_some_and(|u| !u.is_null());
    if no_choices && has_usage {
        return false;
    }
    if let Some(obj) = chunk.as_object_mut() {
        obj.remove("usage");
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_keeps_every_field_but_the_model() {
        let raw = json!({"model": "auto", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2,
            "metadata": {"task": "reason"}, "response_format": {"type": "json_object"}, "stream": false});
        let (body, wants) = upstream_body(&raw, "gpt-4o-mini", false);
        let mut expected = raw.clone();
        expected["model"] = json!("gpt-4o-mini");
        assert_eq!(body, expected);
        assert!(!wants);
    }

    #[test]
    fn a_stream_asks_upstream_for_usage_and_remembers_whether_the_client_did() {
        let raw = json!({"model": "x", "messages": [], "stream": true});
        let (body, wants) = upstream_body(&raw, "m", true);
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
        assert!(!wants);
        let raw = json!({"model": "x", "messages": [], "stream": true,
            "stream_options": {"include_usage": true, "continuous_usage_stats": false}});
        let (body, wants) = upstream_body(&raw, "m", true);
        assert_eq!(body["stream_options"], json!({"include_usage": true, "continuous_usage_stats": false}));
        assert!(wants);
        let (body, _) = upstream_body(&json!({"stream_options": "odd", "stream": true}), "m", true);
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
    }

    #[test]
    fn the_usage_chunk_is_dropped_and_null_usage_removed_when_unasked() {
        let mut usage_chunk =
            json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}});
        assert!(!strip_usage(&mut usage_chunk));
        let mut content =
            json!({"id": "c", "choices": [{"index": 0, "delta": {"content": "x"}}], "usage": null});
        assert!(strip_usage(&mut content));
        assert_eq!(content, json!({"id": "c", "choices": [{"index": 0, "delta": {"content": "x"}}]}));
    }

    #[test]
    fn tools_pass_through_and_streamed_tool_calls_are_counted() {
        let raw = json!({"model": "auto", "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "ok"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "tool_choice": "required", "parallel_tool_calls": false});
        let (body, _) = upstream_body(&raw, "gpt-4o", true);
        for k in ["messages", "tools", "tool_choice", "parallel_tool_calls"] {
            assert_eq!(body[k], raw[k], "{k}");
        }
        let chunk = |calls: Value| json!({"choices": [{"index": 0, "delta": {"tool_calls": calls}}]});
        assert_eq!(tool_calls_in(&chunk(json!([{"index": 0, "id": "a"}, {"index": 1, "id": "b"}]))), 2);
        assert_eq!(tool_calls_in(&chunk(json!([{"index": 1, "function": {"arguments": "{"}}]))), 2);
        assert_eq!(tool_calls_in(&json!({"choices": [{"delta": {"content": "x"}}]})), 0);
    }

    #[test]
    fn cached_prompt_tokens_are_priced_as_cache_reads() {
        let u = Usage { prompt_tokens: 1000, completion_tokens: 10, cached_tokens: 600 };
        let r = router_usage(&u);
        assert_eq!(
            (r.input_tokens, r.cache_read_tokens, r.output_tokens, r.cache_write_tokens),
            (400, 600, 10, 0)
        );
        let remote = hearth_router::Remote::new("gpt", hearth_router::Provider::Openai, "gpt-4o", 2.0, 8.0);
        let cost = hearth_router::cost::remote_cost_usd(&remote, &r);
        // 400 × $2 + 600 × $1 (half price) + 10 × $8, per million.
        assert!((cost - (800.0 + 600.0 + 80.0) / 1e6).abs() < 1e-12, "{cost}");
    }
}
