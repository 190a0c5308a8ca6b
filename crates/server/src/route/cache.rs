//! The response cache (`[cache]`, hearth-cache) in front of the router for
//! `/v1/chat/completions`: a thin adapter. The request's scope is what changes its answer
//! (the route's task and target as the policy decides them, system prompt, earlier turns,
//! `response_format`, tools, sampling settings, tenant = `user` or the API key); the text
//! compared is its non-system messages. A hit is answered without running a model
//! (`x-hearth-cache: exact|semantic`, `x-hearth-cache-similarity`, reason `cache`, a ledger
//! row with `semantic_cache_hit`); a miss is routed as usual (`x-hearth-cache: miss`) and its
//! answer stored when it finished cleanly (`finish_reason` `stop` or `tool_calls`, not an
//! invalid tool call), after the response is built. Streams and sampled requests
//! (`temperature > 0`, OpenAI's default of 1 included, unless `serve_sampled`) are not
//! looked up (`x-hearth-cache: bypass`).

use std::sync::Arc;
use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use hearth_cache::{Cache, Embed, EmbedError, Lookup, Miss, Query, Sampling, Scope};
use hearth_router::{Decision, Outcome, Request, RouteInput};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Routing;
use super::headers::RouteInfo;
use super::translate::content_text;
use crate::{ApiError, AppState};

/// The response header saying whether the cache answered: `exact`, `semantic`, `miss`, or
/// `bypass` (not looked up).
pub(crate) const CACHE_HEADER: &str = "x-hearth-cache";
/// A semantic hit's cosine similarity (4 decimals).
pub(crate) const SIMILARITY_HEADER: &str = "x-hearth-cache-similarity";

/// hearth's embedders as the cache's [`Embed`].
#[derive(Debug)]
pub struct ModelEmbed {
    id: String,
    embedder: Arc<hearth_models::Embedder>,
}

impl ModelEmbed {
    /// The embedder under `id` (its name and file hash: part of every scope key).
    pub fn new(id: String, embedder: Arc<hearth_models::Embedder>) -> ModelEmbed {
        ModelEmbed { id, embedder }
    }
}

impl Embed for ModelEmbed {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embedder.embed(texts).map_err(EmbedError::new)
    }
}

/// A request the cache looked up and missed: what to store its answer under.
pub(super) struct Pending {
    cache: Arc<Cache>,
    scope: Scope,
    prompt: String,
    miss: Miss,
}

/// What the lookup decided.
pub(super) enum Looked {
    /// Answered from the cache: the response, ready.
    Hit(Response),
    /// Route it; store its answer if clean.
    Miss(Box<Pending>),
    /// Route it; the cache is not used for it.
    Bypass,
}

/// Looks `raw` (a non-streamed chat request) up in the cache when its route serves it.
pub(super) async fn lookup<R: Request>(
    state: &AppState,
    routing: &Routing,
    cache: &Arc<Cache>,
    req: &R,
    raw: &Value,
    headers: &HeaderMap,
) -> Looked {
    let started = Instant::now();
    let text = req.routing_text();
    let input = RouteInput {
        requested_model: req.model(),
        task_hint: req.task_hint(),
        text: &text,
        stream: req.stream(),
    };
    let Ok(decision) = routing.decide(&input) else { return Looked::Bypass };
    let Outcome::Serve { target, .. } = &decision.outcome else { return Looked::Bypass };
    let target = target.clone();
    let scope = scope(raw, headers, &decision, &target);
    let prompt = prompt_text(raw);
    let (c, s, p) = (Arc::clone(cache), scope.clone(), prompt.clone());
    let looked = tokio::task::spawn_blocking(move || c.lookup(&Query { scope: &s, prompt: &p })).await;
    let lookup = match looked {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cache lookup failed; answering without the cache");
            return Looked::Bypass;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cache lookup thread failed");
            return Looked::Bypass;
        }
    };
    match lookup {
        Lookup::Hit(hit) => {
            let kind = hit.kind.as_str();
            let Some((resp, usage)) = answer(state, &hit.answer) else {
                return Looked::Bypass;
            };
            let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let cache_hit = hearth_router::CacheHit { kind, similarity: hit.similarity, usage, latency_ms };
            routing.router.record_cache_hit(req, &decision, &target, cache_hit);
            let saved = usage
                .map(|u| hearth_router::cost::local_call(routing.config().reference_remote(), &u).saved_usd)
                .unwrap_or(0.0);
            let task = routing.task_label(&decision.task.name);
            state.metrics().record_routed(task, &target, "cache", 0.0, saved);
            tracing::debug!(kind, similarity = hit.similarity, target = %target, "answered from the cache");
            let info = RouteInfo { route: target.clone(), reason: "cache", cost_usd: 0.0 };
            let mut resp = super::finish(resp, &info, &decision, false).await;
            mark(&mut resp, kind, Some(hit.similarity));
            Looked::Hit(resp)
        }
        Lookup::Miss(miss) if miss.reason == hearth_cache::MissReason::Sampled => Looked::Bypass,
        Lookup::Miss(miss) => {
            Looked::Miss(Box::new(Pending { cache: Arc::clone(cache), scope, prompt, miss }))
        }
    }
}

/// Stores a routed answer when it finished cleanly (reading the body and putting it back),
/// in the background; marks the response `miss`.
pub(super) async fn store(pending: Box<Pending>, resp: Response) -> Response {
    let clean = resp.status().is_success()
        && !resp.headers().contains_key(crate::tools::INVALID_TOOL_CALL)
        && resp
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
    let mut resp = if clean {
        let (parts, body) = resp.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
            return ApiError::internal("could not read the answer").into_response();
        };
        if let Ok(mut v) = serde_json::from_slice::<Value>(&bytes)
            && finished_cleanly(&v)
        {
            if let Some(obj) = v.as_object_mut() {
                obj.remove("hearth");
            }
            let answer = v.to_string();
            let Pending { cache, scope, prompt, miss } = *pending;
            tokio::task::spawn_blocking(move || {
                if let Err(e) =
                    cache.insert(&Query { scope: &scope, prompt: &prompt }, &answer, miss.embedding)
                {
                    tracing::warn!(error = %e, "storing an answer in the cache failed");
                }
            });
        }
        Response::from_parts(parts, axum::body::Body::from(bytes))
    } else {
        resp
    };
    mark(&mut resp, "miss", None);
    resp
}

/// Marks a response that did not use the cache.
pub(super) fn bypass(mut resp: Response) -> Response {
    mark(&mut resp, "bypass", None);
    resp
}

fn mark(resp: &mut Response, kind: &'static str, similarity: Option<f32>) {
    resp.headers_mut().insert(CACHE_HEADER, HeaderValue::from_static(kind));
    if let Some(s) = similarity
        && let Ok(v) = HeaderValue::from_str(&format!("{s:.4}"))
    {
        resp.headers_mut().insert(SIMILARITY_HEADER, v);
    }
}

/// Whether a chat completion may be stored: every choice finished with `stop` or
/// `tool_calls` (not `length`, `content_filter` or an error).
fn finished_cleanly(v: &Value) -> bool {
    let Some(choices) = v.get("choices").and_then(Value::as_array) else { return false };
    !choices.is_empty()
        && choices
            .iter()
            .all(|c| matches!(c.get("finish_reason").and_then(Value::as_str), Some("stop" | "tool_calls")))
}

/// The cached answer as this request's response: a new `id` and `created`; and its usage.
fn answer(state: &AppState, stored: &str) -> Option<(Response, Option<hearth_router::Usage>)> {
    let mut v: Value = serde_json::from_str(stored).ok()?;
    let obj = v.as_object_mut()?;
    obj.insert("id".into(), Value::String(state.new_id("chatcmpl")));
    obj.insert("created".into(), Value::from(crate::state::unix_now()));
    let usage = obj.get("usage").and_then(|u| {
        Some(hearth_router::Usage {
            input_tokens: u.get("prompt_tokens")?.as_u64()?,
            output_tokens: u.get("completion_tokens")?.as_u64()?,
            ..hearth_router::Usage::default()
        })
    });
    Some((crate::response::json_response(&v), usage))
}

/// The scope of a chat request routed by `decision` to `target`.
fn scope(raw: &Value, headers: &HeaderMap, decision: &Decision, target: &str) -> Scope {
    let messages = raw.get("messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let system: Vec<String> = messages
        .iter()
        .filter(|m| matches!(m.get("role").and_then(Value::as_str), Some("system" | "developer")))
        .map(|m| content_text(m.get("content")))
        .collect();
    let tools = ["tools", "tool_choice", "parallel_tool_calls"]
        .iter()
        .filter_map(|k| raw.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect::<serde_json::Map<_, _>>();
    let tenant = raw.get("user").and_then(Value::as_str).map(|u| format!("user:{u}")).or_else(|| {
        crate::auth::presented_key(headers)
            .map(|k| format!("key:{}", &hex(&Sha256::digest(k.as_bytes()))[..16]))
    });
    let mut extra = std::collections::BTreeMap::new();
    extra.insert("endpoint".to_owned(), Value::from("chat.completions"));
    Scope {
        task: Some(decision.task.name.clone()),
        target: target.to_owned(),
        system: (!system.is_empty()).then(|| system.join("\n")),
        response_format: raw.get("response_format").cloned(),
        tools: (!tools.is_empty()).then_some(Value::Object(tools)),
        sampling: sampling(raw),
        tenant,
        extra,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sampling settings as the request sets them (OpenAI's default temperature is 1).
fn sampling(raw: &Value) -> Sampling {
    let f = |k: &str| raw.get(k).and_then(Value::as_f64).map(|x| x as f32);
    let u = |k: &str| raw.get(k).and_then(Value::as_u64);
    let u32_of = |k: &str| u(k).map(|x| u32::try_from(x).unwrap_or(u32::MAX));
    let stop = match raw.get("stop") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let logprobs = (raw.get("logprobs").and_then(Value::as_bool) == Some(true))
        .then(|| u32_of("top_logprobs").unwrap_or(0));
    Sampling {
        temperature: f("temperature").unwrap_or(1.0),
        top_p: f("top_p"),
        top_k: u32_of("top_k"),
        min_p: f("min_p"),
        seed: u("seed"),
        max_tokens: u32_of("max_completion_tokens").or_else(|| u32_of("max_tokens")),
        stop,
        presence_penalty: f("presence_penalty"),
        frequency_penalty: f("frequency_penalty"),
        repetition_penalty: f("repetition_penalty").or_else(|| f("repeat_penalty")),
        logit_bias: raw.get("logit_bias").cloned(),
        n: u32_of("n"),
        logprobs,
    }
}

/// The text compared: the non-system messages, one `role: content` line each (a single
/// user message is just its content); assistant tool calls and tool results included.
fn prompt_text(raw: &Value) -> String {
    let messages = raw.get("messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let turns: Vec<&Value> = messages
        .iter()
        .filter(|m| !matches!(m.get("role").and_then(Value::as_str), Some("system" | "developer")))
        .collect();
    if let [only] = turns.as_slice()
        && only.get("role").and_then(Value::as_str) == Some("user")
    {
        return content_text(only.get("content"));
    }
    turns
        .iter()
        .map(|m| {
            let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
            let mut line = format!("{role}: {}", content_text(m.get("content")));
            if let Some(calls) = m.get("tool_calls") {
                line.push_str(&format!(" tool_calls: {calls}"));
            }
            if let Some(id) = m.get("tool_call_id").and_then(Value::as_str) {
                line.push_str(&format!(" (tool_call_id {id})"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prompt_is_the_user_text_or_the_turns() {
        let one = json!({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]});
        assert_eq!(prompt_text(&one), "Hi there");
        let turns = json!({"messages": [
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1"}]},
            {"role": "tool", "tool_call_id": "c1", "content": "18C"},
            {"role": "user", "content": [{"type": "text", "text": "and tomorrow?"}]}]});
        let p = prompt_text(&turns);
        assert!(p.starts_with("user: weather in Paris?\nassistant: "), "{p}");
        assert!(p.contains("tool: 18C (tool_call_id c1)") && p.ends_with("user: and tomorrow?"), "{p}");
    }

    #[test]
    fn sampling_defaults_to_openais_temperature_and_reads_every_knob() {
        assert!(sampling(&json!({})).is_sampled());
        let s =
            sampling(&json!({"temperature": 0, "max_tokens": 20, "stop": "\n", "seed": 7, "logprobs": true}));
        assert!(!s.is_sampled());
        assert_eq!(
            (s.max_tokens, s.stop.as_slice(), s.seed, s.logprobs),
            (Some(20), ["\n".to_owned()].as_slice(), Some(7), Some(0))
        );
        assert_eq!(sampling(&json!({"max_completion_tokens": 5, "max_tokens": 9})).max_tokens, Some(5));
    }

    #[test]
    fn only_clean_finishes_are_stored() {
        assert!(finished_cleanly(&json!({"choices": [{"finish_reason": "stop"}]})));
        assert!(finished_cleanly(&json!({"choices": [{"finish_reason": "tool_calls"}]})));
        assert!(!finished_cleanly(&json!({"choices": [{"finish_reason": "length"}]})));
        assert!(!finished_cleanly(&json!({"choices": []})));
        assert!(!finished_cleanly(&json!({"error": {}})));
    }
}
