//! Judge calls to a remote over hearth's own clients (the thin HTTP adapter behind a
//! [`crate::Judge`]): the sampled request, replayed greedily, its schema enforced by the
//! provider's structured output — Anthropic's `output_config.format` (`json_schema`), an
//! OpenAI-compatible API's `response_format` (`json_schema`, strict).

use hearth_router::{Remote, SampledRequest, Usage};
use serde_json::{Value, json};

use crate::judge::{JudgeError, JudgeReply};

/// A remote's client, by provider.
#[derive(Debug, Clone)]
pub enum RemoteClient {
    /// The Claude Messages API.
    Anthropic(hearth_anthropic::Client),
    /// An OpenAI-compatible chat-completions API.
    OpenAi(hearth_openai::Client),
}

/// `remote` answers `request` through `client`.
pub async fn ask(
    client: &RemoteClient,
    remote: &Remote,
    request: &SampledRequest,
) -> Result<JudgeReply, JudgeError> {
    match client {
        RemoteClient::Anthropic(c) => ask_anthropic(c, remote, request).await,
        RemoteClient::OpenAi(c) => ask_openai(c, remote, request).await,
    }
}

/// The Messages API request for `request`.
pub fn anthropic_request(
    remote: &Remote,
    request: &SampledRequest,
) -> hearth_anthropic::types::MessagesRequest {
    use hearth_anthropic::types::{MessageParam, OutputConfig, OutputFormat, SystemPrompt};
    let messages = request
        .messages
        .iter()
        .map(|t| {
            if t.role == "assistant" {
                MessageParam::assistant(t.text.clone())
            } else {
                MessageParam::user(t.text.clone())
            }
        })
        .collect();
    let mut req = hearth_anthropic::types::MessagesRequest::new(
        remote.model.clone(),
        request.max_tokens.unwrap_or(remote.max_tokens),
        messages,
    );
    req.system = request.system.clone().map(SystemPrompt::Text);
    req.temperature = Some(0.0);
    if let Some(schema) = &request.schema {
        req.output_config = Some(OutputConfig {
            format: Some(OutputFormat::JsonSchema { schema: schema.clone() }),
            effort: None,
            extra: Default::default(),
        });
    }
    req
}

async fn ask_anthropic(
    client: &hearth_anthropic::Client,
    remote: &Remote,
    request: &SampledRequest,
) -> Result<JudgeReply, JudgeError> {
    let req = anthropic_request(remote, request);
    let response = client.messages(&req).await.map_err(|e| JudgeError::new(e.to_string()))?;
    let u = &response.body.usage;
    Ok(JudgeReply {
        text: response.body.text(),
        usage: Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_read_tokens: u.cache_read_input_tokens.unwrap_or(0),
            cache_write_tokens: u.cache_creation_input_tokens.unwrap_or(0),
        },
        upstream_id: response.request_id.or(Some(response.body.id.clone())),
        model: Some(response.body.model.clone()),
        batch: false,
    })
}

/// The chat-completions body for `request`.
pub fn openai_body(remote: &Remote, request: &SampledRequest) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = &request.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    for t in &request.messages {
        messages.push(json!({"role": t.role, "content": t.text}));
    }
    let mut body = json!({"model": remote.model, "messages": messages, "temperature": 0});
    if let Some(max) = request.max_tokens {
        body["max_tokens"] = json!(max);
    }
    if let Some(schema) = &request.schema {
        body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": true}});
    }
    body
}

async fn ask_openai(
    client: &hearth_openai::Client,
    remote: &Remote,
    request: &SampledRequest,
) -> Result<JudgeReply, JudgeError> {
    let body = openai_body(remote, request);
    let response = client.chat_completions(&body).await.map_err(|e| JudgeError::new(e.to_string()))?;
    let text = response.body["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_owned();
    let u = hearth_openai::Usage::of(&response.body).unwrap_or_default();
    Ok(JudgeReply {
        text,
        usage: Usage {
            input_tokens: u.uncached_prompt_tokens(),
            output_tokens: u.completion_tokens,
            cache_read_tokens: u.cached_tokens,
            cache_write_tokens: 0,
        },
        upstream_id: response.request_id.or_else(|| response.body["id"].as_str().map(str::to_owned)),
        model: response.body["model"].as_str().map(str::to_owned),
        batch: false,
    })
}
